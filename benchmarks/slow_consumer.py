"""Slow-consumer figure: client memory while a large backlog waits at a real broker.

Run::

    python -m benchmarks.slow_consumer [--brokers activemq,rabbitmq] [--count 20000]
                                       [--size 10240] [--seconds 20] [--handler-ms 10]
                                       [--fast-count 20000] [--json PATH]

Per broker: preload ``count`` x ``size`` bytes (200 MB by default) on a fresh queue with the
raw client, then, in a fresh process, consume it with an auto-ack handler that sleeps
``handler-ms`` for ``seconds`` (bounded) and report that process's RSS growth over its
baseline after connecting (sampled every 50 ms; the peak), and how many messages it handled.
The rest is drained with the raw client. Then the fast-handler throughput: ``fast-count``
x 1 KiB preloaded, consumed by a no-op auto-ack handler, messages per second from the first
message to the last (also in a fresh process). Everything is bounded in time and size.

Works with any version of the client that has ``Client.subscribe`` (so the same script
measures the code before and after a change).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

from benchmarks.e2e import real_brokers
from benchmarks.e2e_peers import LOGIN, PASSCODE, raw_drain, raw_produce

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """This process's resident set size in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def consume(
    url: str, vhost: str, dest: str, seconds: float, handler_ms: float, expect: int
) -> dict[str, Any]:
    """In this (fresh) process: consume ``dest`` with an auto-ack handler for at most
    ``seconds``; stop early once ``expect`` messages were handled."""
    from stomp_enterprise import Client

    handled = 0
    first = last = 0.0
    done = threading.Event()
    delay = handler_ms / 1000.0

    def handler(message: Any) -> None:
        nonlocal handled, first, last
        if delay:
            time.sleep(delay)
        handled += 1
        last = time.monotonic()
        if handled == 1:
            first = last
        if handled >= expect:
            done.set()

    client = Client(url, login=LOGIN, passcode=PASSCODE, vhost=vhost, heart_beats=(10_000, 10_000))
    client.connect(timeout=10)
    base = rss()
    peak = base
    cpu = time.process_time()
    started = time.monotonic()
    client.subscribe(dest, handler)
    while not done.wait(0.05):
        peak = max(peak, rss())
        if time.monotonic() - started > seconds:
            break
    peak = max(peak, rss())
    elapsed = time.monotonic() - started
    count = handled
    cpu = time.process_time() - cpu
    backlog = getattr(client, "backlog", None)
    client.disconnect(timeout=5)  # (its drain may run more handlers: not counted)
    return {
        "handled": count,
        "rss_base_mb": base / 1e6,
        "rss_growth_mb": (peak - base) / 1e6,
        "seconds": elapsed,
        "rate": (handled - 1) / (last - first) if handled > 1 and last > first else 0.0,
        "pauses": getattr(backlog, "pauses", None),
        "cpu_us_per_msg": cpu / count * 1e6 if count else 0.0,
    }


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.slow_consumer", "--child", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--brokers", default="activemq,rabbitmq")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=10_240)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--handler-ms", type=float, default=10.0)
    parser.add_argument("--fast-count", type=int, default=20_000)
    parser.add_argument("--fast-only", action="store_true", help="only the fast-handler rate")
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", nargs=6, default=None, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        url, vhost, dest, seconds, handler_ms, expect = options.child
        print(json.dumps(consume(url, vhost, dest, float(seconds), float(handler_ms), int(expect))))
        return
    brokers = real_brokers()
    results: dict[str, Any] = {}
    for name in options.brokers.split(","):
        spec = brokers[name]
        if options.fast_only:
            fast_dest = f"/queue/bench-fast-{uuid.uuid4().hex[:10]}"
            raw_produce(spec.url, spec.vhost, fast_dest, options.fast_count, b"f" * 1024)
            fast = _child(
                [spec.url, spec.vhost or "/", fast_dest, "120", "0", str(options.fast_count)]
            )
            results[name] = {"fast": fast}
            print(
                f"{name}: fast handler {fast['rate']:,.0f} msg/s, "
                f"{fast['cpu_us_per_msg']:.1f} CPU us/msg, pauses {fast['pauses']}",
                flush=True,
            )
            continue
        slow_dest = f"/queue/bench-slow-{uuid.uuid4().hex[:10]}"
        raw_produce(spec.url, spec.vhost, slow_dest, options.count, b"s" * options.size)
        slow = _child(
            [
                spec.url,
                spec.vhost or "/",
                slow_dest,
                str(options.seconds),
                str(options.handler_ms),
                str(options.count),
            ]
        )
        slow["left_drained"] = raw_drain(spec.url, spec.vhost, slow_dest, 0)
        fast_dest = f"/queue/bench-fast-{uuid.uuid4().hex[:10]}"
        raw_produce(spec.url, spec.vhost, fast_dest, options.fast_count, b"f" * 1024)
        fast = _child([spec.url, spec.vhost or "/", fast_dest, "120", "0", str(options.fast_count)])
        results[name] = {"slow": slow, "fast": fast}
        print(
            f"{name}: {options.count} x {options.size} B waiting, {options.handler_ms:g} ms "
            f"handler for {slow['seconds']:.1f}s: handled {slow['handled']}, "
            f"RSS +{slow['rss_growth_mb']:.1f} MB (base {slow['rss_base_mb']:.1f} MB, "
            f"pauses {slow['pauses']}); fast handler: {fast['handled']} x 1 KiB at "
            f"{fast['rate']:,.0f} msg/s, RSS +{fast['rss_growth_mb']:.1f} MB",
            flush=True,
        )
    if options.json:
        with open(options.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
