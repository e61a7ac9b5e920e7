"""What a ``trackMessages`` confirmation point costs the *broker* (issue 13).

``trackMessages=true`` asks the broker for a receipt now and then; on RabbitMQ 3.10 the first
receipted SEND switches the connection into publisher-confirm mode for good. This measures,
on one raw connection (no client library in the way), the broker's CPU per message for:

* ``none``: SENDs without receipt (the last one receipted, to know when the broker is done);
* ``send:N``: a receipt on every N-th SEND (what the tracker does: a confirm on RabbitMQ);
* ``noop:N``: after every N-th SEND a ``BEGIN`` and a receipted ``ABORT`` of a scratch
  transaction: a receipt on a frame that is not a SEND (answered once read, before the SENDs
  are stored: not a confirmation the tracker may use, measured for comparison);
* ``ours:failover`` / ``ours:tracked``: our client through ``failover:(URL)`` without/with
  ``trackMessages=true``.

The broker's CPU comes from ``/proc/<pid>/stat`` (user + system time of the whole broker
process, so measure a broker nobody else uses: ``--private rabbitmq`` starts one, see
``integration/chaos.py``). Styles run interleaved, in reversed order every other run, each on a
fresh queue that is drained afterwards. Usage::

    python -m benchmarks.marker_cost --private rabbitmq --count 30000 --runs 3
    python -m benchmarks.marker_cost --url tcp://127.0.0.1:61720 --pid 1234
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.e2e_peers import LOGIN, PASSCODE, RawConnection, raw_drain, send_frame
from stomp_enterprise import Client  # imported here: never inside a timed region

STYLES = ("none", "send:1024", "noop:1024", "ours:failover", "ours:tracked")
_BATCH = 64


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_frames(style: str, dest: str, count: int, body: bytes) -> Iterator[bytes]:
    """The wire bytes one raw run writes, in batches; the last SEND asks receipt ``done``."""
    kind, _, every_text = style.partition(":")
    every = int(every_text or 0)
    plain = send_frame(dest, body)
    batch: list[bytes] = []
    for number in range(1, count):
        marked = kind != "none" and number % every == 0
        if marked and kind == "send":
            batch.append(send_frame(dest, body, f"m{number}"))
        else:
            batch.append(plain)
        if marked and kind == "noop":
            tx = b"m%d" % number
            batch.append(
                b"BEGIN\ntransaction:%s\n\n\0ABORT\ntransaction:%s\nreceipt:%s\n\n\0" % (tx, tx, tx)
            )
        if len(batch) >= _BATCH:
            yield b"".join(batch)
            batch.clear()
    batch.append(send_frame(dest, body, "done"))
    yield b"".join(batch)


def run_raw(url: str, vhost: str, style: str, dest: str, count: int, body: bytes) -> int:
    """Write one raw run and wait for the receipt of its last SEND; returns receipts seen."""
    conn = RawConnection(url, vhost)
    receipts = [0]
    done = threading.Event()

    def read() -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while not done.is_set():
                for command, head, _body in conn.frames():
                    if command == b"RECEIPT":
                        receipts[0] += 1
                        if b"receipt-id:done" in head:
                            done.set()
                    elif command == b"ERROR":
                        done.set()

    reader = threading.Thread(target=read, name="marker-cost-reader")
    reader.start()
    try:
        for chunk in raw_frames(style, dest, count, body):
            conn.sock.sendall(chunk)
        done.wait(300)
    finally:
        conn.close()
        reader.join(10)
    return receipts[0]


def run_ours(url: str, vhost: str, tracked: bool, dest: str, count: int, body: bytes) -> int:
    """Produce ``count`` messages with our client through a failover URI."""
    failover = f"failover:({url})" + ("?trackMessages=true" if tracked else "")
    with Client(failover, vhost=vhost, login=LOGIN, passcode=PASSCODE) as client:
        for _ in range(count - 1):
            client.send(dest, body)
        client.send(dest, body, receipt=True)
    return 1


def measure(url: str, vhost: str, pid: int, style: str, dest: str, count: int) -> dict[str, Any]:
    """One run of ``style``: msg/s, broker and client CPU µs per message."""
    body = b"b" * 1024
    broker0, client0, wall0 = process_cpu(pid), time.process_time(), time.perf_counter()
    if style.startswith("ours:"):
        receipts = run_ours(url, vhost, style == "ours:tracked", dest, count, body)
    else:
        receipts = run_raw(url, vhost, style, dest, count, body)
    wall = time.perf_counter() - wall0
    return {
        "style": style,
        "msg_s": count / wall,
        "broker_us": (process_cpu(pid) - broker0) / count * 1e6,
        "client_us": (time.process_time() - client0) / count * 1e6,
        "receipts": receipts,
    }


def run_all(
    url: str, vhost: str, pid: int, styles: list[str], count: int, runs: int
) -> list[dict[str, Any]]:
    """Every style ``runs`` times, interleaved; each on a fresh queue, drained afterwards."""
    results = []
    for run in range(runs):
        for style in styles if run % 2 == 0 else styles[::-1]:
            dest = f"/queue/marker-cost-{os.getpid()}-{run}-{style.replace(':', '-')}"
            result = measure(url, vhost, pid, style, dest, count)
            result["drained"] = raw_drain(url, vhost, dest, count, idle=0.5)
            print(json.dumps(result), file=sys.stderr, flush=True)
            results.append(result)
    return results


def summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per style: the median and range of each measure."""
    rows = []
    for style in dict.fromkeys(r["style"] for r in results):
        mine = [r for r in results if r["style"] == style]
        row: dict[str, Any] = {"style": style, "runs": len(mine)}
        for key in ("msg_s", "broker_us", "client_us"):
            values = [r[key] for r in mine]
            row[key] = (statistics.median(values), min(values), max(values))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="tcp://host:port of a running broker (with --pid)")
    parser.add_argument("--pid", type=int, help="the broker's PID (its CPU is measured)")
    parser.add_argument("--private", choices=("rabbitmq", "activemq"), help="start one")
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--styles", default=",".join(STYLES))
    args = parser.parse_args(argv)
    styles = args.styles.split(",")
    if args.private:
        from integration.chaos import private_broker

        with private_broker(args.private) as broker:
            assert broker.pid is not None
            results = run_all(broker.url, args.vhost, broker.pid, styles, args.count, args.runs)
    elif args.url and args.pid:
        results = run_all(args.url, args.vhost, args.pid, styles, args.count, args.runs)
    else:
        parser.error("give --private, or --url and --pid")
    print("| style | runs | msg/s median (range) | broker CPU µs/msg | client CPU µs/msg |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in summary(results):
        cells = [
            f"{m:,.0f} ({lo:,.0f}-{hi:,.0f})" if key == "msg_s" else f"{m:.1f} ({lo:.1f}-{hi:.1f})"
            for key in ("msg_s", "broker_us", "client_us")
            for m, lo, hi in [row[key]]
        ]
        print(f"| {row['style']} | {row['runs']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
