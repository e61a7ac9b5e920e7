"""STOMP over WebSocket: ours over ws:// vs ours over tcp:// (same broker) vs stomp.py's
WebSocket transport, produce and consume, same run.

Run::

    python -m benchmarks.ws --broker rabbitmq [--count 20000] [--size 1024] [--runs 3]
                            [--json PATH]
    python -m benchmarks.ws --tcp tcp://127.0.0.1:61730 --ws ws://127.0.0.1:61730/

``--broker rabbitmq`` starts a private RabbitMQ with Web STOMP
(:mod:`integration.websocket_brokers`) and stops it at the end; ``--broker artemis`` uses
the shared Artemis (its STOMP port speaks both); ``--broker embedded`` starts
:class:`stomp_enterprise.testing.Broker` twice in this process (TCP and WebSocket): a smoke
run, its broker is the bottleneck. ``--tcp``/``--ws`` name any pair of URLs of one broker.

Like :mod:`benchmarks.e2e` (whose per-client runner, :mod:`benchmarks.e2e_peers`, does every
measurement in a fresh process), each case uses a fresh destination, pre-loaded (consume) and
checked afterwards over raw TCP sockets; the three clients alternate within each run, the
order rotating from run to run, so drifting load hits all alike. Reported: the median
msgs/s of the runs, the client CPU µs/msg, and the ratios the issue asks for (ours ws / ours
tcp >= 0.8, ours ws / stomp.py ws >= 1.5).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.e2e import BrokerSpec, Settings, run_peer
from benchmarks.e2e_peers import raw_drain, raw_produce

#: (label, client of benchmarks.e2e_peers, which URL)
PEERS = (("ours tcp", "ours", "tcp"), ("ours ws", "ours", "ws"), ("stomp.py ws", "stomp.py", "ws"))
CASES = ("produce", "consume")
TARGETS = {"ws/tcp": 0.8, "ws/stomp.py ws": 1.5}


@dataclass(frozen=True)
class Pair:
    """One broker reached two ways."""

    name: str
    tcp: str
    ws: str
    vhost: str = "/"


@contextlib.contextmanager
def broker_pair(args: argparse.Namespace) -> Iterator[Pair]:
    """The broker to measure, started (and stopped) here when it is private."""
    if args.tcp and args.ws:
        yield Pair("given", args.tcp, args.ws)
    elif args.broker == "artemis":
        yield Pair("artemis", "tcp://127.0.0.1:61730", "ws://127.0.0.1:61730/")
    elif args.broker == "embedded":
        from stomp_enterprise.testing import Broker

        with Broker() as tcp, Broker(websocket=True) as ws:
            # two brokers: the pre-load/check goes to the one each client uses (see run)
            yield Pair("embedded", tcp.url, ws.url)
    elif args.broker == "rabbitmq":
        from integration.websocket_brokers import private_web_rabbitmq

        with (
            tempfile.TemporaryDirectory(prefix="stomp-ws-bench-") as root,
            private_web_rabbitmq(Path(root)) as broker,
        ):
            yield Pair("rabbitmq", broker.url, broker.ws_url)
    else:
        raise SystemExit("give --broker rabbitmq|artemis|embedded, or --tcp and --ws")


def measure(
    pair: Pair, case: str, label: str, client: str, via: str, cfg: Settings
) -> dict[str, Any]:
    """One measurement: pre-load (consume), run the client in its own process, check."""
    url = pair.tcp if via == "tcp" else pair.ws
    # Queues are filled and checked with raw TCP sockets; the embedded pair is two brokers,
    # so the WebSocket one is filled and checked through our client over WebSocket.
    fill, drain = (_raw_fill, _raw_drain) if pair.name != "embedded" else (_ours_fill, _ours_drain)
    check_url = pair.ws if pair.name == "embedded" and via == "ws" else pair.tcp
    name = label.replace(" ", "-").replace(".", "")
    dest = f"/queue/ws-bench-{case}-{name}-{uuid.uuid4().hex[:8]}"
    if case == "consume":
        fill(check_url, pair.vhost, dest, cfg.count, cfg.size)
    spec = BrokerSpec(pair.name, url, pair.vhost)
    result = run_peer(spec, client, case, dest, cfg.count, cfg)
    result["client"] = label
    if "error" in result:
        return result
    expected = cfg.count if case == "produce" else 0
    left = drain(check_url, pair.vhost, dest, expected)
    if left != expected:
        result["error"] = f"WRONG: {left} messages on the queue afterwards, expected {expected}"
    return result


def _raw_fill(url: str, vhost: str, dest: str, count: int, size: int) -> None:
    raw_produce(url, vhost, dest, count, b"c" * size)


def _raw_drain(url: str, vhost: str, dest: str, expected: int) -> int:
    return raw_drain(url, vhost, dest, expected)


def _ours_fill(url: str, vhost: str, dest: str, count: int, size: int) -> None:
    from stomp_enterprise import Client

    with Client(url, vhost=vhost, heart_beats=(0, 0)) as client:
        for _ in range(count - 1):
            client.send(dest, b"c" * size)
        client.send(dest, b"c" * size, receipt=True)


def _ours_drain(url: str, vhost: str, dest: str, expected: int) -> int:
    from stomp_enterprise import Client

    got = 0
    with Client(url, vhost=vhost, heart_beats=(0, 0)) as client:
        sub = client.subscribe(dest)
        with contextlib.suppress(queue.Empty):
            while True:
                sub.get(timeout=1.0 if got >= expected else 10.0)
                got += 1
    return got


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every case, every peer, ``args.runs`` interleaved runs; medians and ratios."""
    cfg = Settings(
        count=args.count,
        size=args.size,
        runs=args.runs,
        window=1000,
        threads=16,
        rate=2000.0,
        latency_count=0,
        rss_count=0,
        rss_runs=0,
        warmup=0,
        rss_max_seconds=0.0,
        drain_idle=1.0,
        warmup_rounds=0,
    )
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with broker_pair(args) as pair:
        for run_index in range(args.runs):
            for case in CASES:
                shift = run_index % len(PEERS)
                for label, client, via in PEERS[shift:] + PEERS[:shift]:
                    result = measure(pair, case, label, client, via, cfg)
                    results.setdefault(case, {}).setdefault(label, []).append(result)
                    rate = result.get("msgs_per_s")
                    shown = (
                        f"{rate:,.0f} msg/s" if rate else result.get("error") or result.get("na")
                    )
                    print(f"run {run_index + 1} {case:8} {label:12} {shown}", flush=True)
        broker = pair.name
    return {
        "broker": broker,
        "count": args.count,
        "size": args.size,
        "runs": args.runs,
        "summary": summarize(results),
        "raw": results,
    }


def summarize(results: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Median msgs/s and CPU µs/msg per case and peer, and the target ratios (the ratio of
    medians, and each run's ratio so the spread shows)."""
    summary: dict[str, Any] = {}
    for case, peers in results.items():
        row: dict[str, Any] = {}
        for label, runs in peers.items():
            rates = [r["msgs_per_s"] for r in runs if "msgs_per_s" in r and "error" not in r]
            cpus = [r["cpu_us_per_msg"] for r in runs if "cpu_us_per_msg" in r and "error" not in r]
            row[label] = {
                "msgs_per_s": statistics.median(rates) if rates else None,
                "cpu_us_per_msg": statistics.median(cpus) if cpus else None,
                "runs": rates,
                "errors": [r["error"] for r in runs if "error" in r],
            }
        ours_ws = row.get("ours ws", {}).get("msgs_per_s")
        for ratio, other in (("ws/tcp", "ours tcp"), ("ws/stomp.py ws", "stomp.py ws")):
            base = row.get(other, {}).get("msgs_per_s")
            if ours_ws and base:
                per_run = [
                    a / b
                    for a, b in zip(row["ours ws"]["runs"], row[other]["runs"], strict=False)
                    if b
                ]
                row[ratio] = {
                    "median_ratio": ours_ws / base,
                    "per_run": per_run,
                    "target": TARGETS[ratio],
                    "pass": ours_ws / base >= TARGETS[ratio],
                }
        summary[case] = row
    return summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=("rabbitmq", "artemis", "embedded"))
    parser.add_argument("--tcp", help="the broker's tcp:// URL (with --ws)")
    parser.add_argument("--ws", help="the same broker's ws:// URL (with --tcp)")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    text = json.dumps(report["summary"], indent=2)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
