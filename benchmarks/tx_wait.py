"""Where the CPU of a confirmed transaction goes: the wait, or the cache the wait lets go cold
(issue 14).

A transaction of ``--size`` SENDs through the threaded client, three ways, interleaved:

* ``confirmed``: ``with client.transaction()`` (the default: the COMMIT waits for its
  RECEIPT);
* ``unconfirmed``: ``client.transaction(receipt=False)`` (what stomp.py does);
* ``unconfirmed+sleep``: the same, then the calling thread sleeps as long as ``confirmed``'s
  COMMIT took in wall time (its median, measured first): no receipt, no extra frame, no
  extra code; only the idle time.

For each phase (BEGIN, the SENDs, COMMIT) it prints the median CPU of the calling thread
(``time.thread_time()``) and, for the whole transaction, the median CPU of the process. If
``unconfirmed+sleep``'s SENDs cost what ``confirmed``'s do, the SENDs are not slower
because of anything the receipt does: the thread comes back to a cold cache (and a core that
may have slowed down) after the broker's work. Transactions go to a topic nobody subscribes
to, so the broker keeps nothing. Usage::

    python -m benchmarks.tx_wait --url tcp://127.0.0.1:61710 --transactions 300 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.e2e_peers import LOGIN, PASSCODE
from stomp_enterprise import Client  # imported here: never inside a timed region

STYLES = ("confirmed", "unconfirmed", "unconfirmed+sleep")
PHASES = ("begin", "sends", "commit", "process")
#: every figure of a style: the CPU phases and the COMMIT's wall time
MEASURES = (*PHASES, "commit_wall")


def one_style(
    client: Client, style: str, transactions: int, size: int, body: bytes, idle: float
) -> dict[str, float]:
    """``transactions`` transactions in ``style``; the median µs of each phase."""
    thread, process, wall = time.thread_time, time.process_time, time.perf_counter
    receipt = style == "confirmed"
    dest = "/topic/bench-tx-wait"
    phases: dict[str, list[float]] = {measure: [] for measure in MEASURES}
    for _ in range(transactions):
        started_process = process()
        started = thread()
        tx = client.transaction(receipt=receipt)
        tx.__enter__()
        began = thread()
        send = tx.send
        for _ in range(size):
            send(dest, body)
        sent = thread()
        commit_started = wall()
        tx.__exit__(None, None, None)
        committed = thread()
        phases["commit_wall"].append(wall() - commit_started)
        phases["process"].append(process() - started_process)
        phases["begin"].append(began - started)
        phases["sends"].append(sent - began)
        phases["commit"].append(committed - sent)
        if idle:
            time.sleep(idle)
    if not receipt:
        client.send(dest, b"", receipt=True)  # every transaction written and read
    return {phase: statistics.median(values) * 1e6 for phase, values in phases.items()}


def run_all(
    url: str, vhost: str | None, transactions: int, size: int, runs: int, body_size: int = 1024
) -> list[dict[str, Any]]:
    """Every style ``runs`` times, interleaved (the order reversed every other run)."""
    body = b"x" * body_size
    results: list[dict[str, Any]] = []
    with Client(url, login=LOGIN, passcode=PASSCODE, vhost=vhost, heart_beats=(0, 0)) as client:
        one_style(client, "confirmed", min(transactions, 20), size, body, 0.0)  # warm-up
        idle = one_style(client, "confirmed", transactions, size, body, 0.0)["commit_wall"] / 1e6
        for run in range(runs):
            order = STYLES if run % 2 == 0 else STYLES[::-1]
            for style in order:
                measured = one_style(
                    client, style, transactions, size, body, idle if style.endswith("sleep") else 0
                )
                results.append({"style": style, "run": run, "idle_us": idle * 1e6, **measured})
    return results


def summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per style, the median over runs of each phase's median."""
    rows = []
    for style in STYLES:
        mine = [r for r in results if r["style"] == style]
        if mine:
            rows.append(
                {"style": style}
                | {measure: statistics.median(r[measure] for r in mine) for measure in MEASURES}
            )
    return rows


def _table(rows: list[dict[str, Any]], idle: float, size: int, out: Callable[[str], Any]) -> None:
    out(f"{size} SENDs per transaction; unconfirmed+sleep idles {idle:.0f} µs after each")
    out("| style | BEGIN µs | SENDs µs | COMMIT µs | process µs/tx | COMMIT wall µs |")
    out("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        out(
            f"| {row['style']} | {row['begin']:.1f} | {row['sends']:.1f} | {row['commit']:.1f}"
            f" | {row['process']:.1f} | {row['commit_wall']:.1f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="e.g. tcp://127.0.0.1:61710")
    parser.add_argument("--vhost", default=None, help="RabbitMQ: /")
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--size", type=int, default=100, help="SENDs per transaction")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args(argv)
    results = run_all(args.url, args.vhost, args.transactions, args.size, args.runs)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
    _table(summary(results), results[0]["idle_us"], args.size, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
