"""End-to-end performance against real brokers: stomp_enterprise vs stomp.py vs stompest vs raw.

Run::

    python -m benchmarks.e2e [--brokers activemq,rabbitmq] [--count 20000] [--size 1024]
                             [--runs 3] [--cases produce,consume,...] [--json PATH]
                             [--write-docs] [--profile DIR] [--quick]
                             [--asyncio [--loop asyncio|uvloop]]

``--asyncio`` runs the asyncio section instead (issue 15): ours-aio, stompman, aiostomp and a
raw asyncio client (see :mod:`benchmarks.e2e_aio`), with the threaded client as the reference,
on ``produce``, ``produce-headers``, ``consume`` and ``consume-headers``; its ``--write-docs``
replaces only the asyncio section of docs/benchmarks.md.

``--brokers`` takes any of ``activemq rabbitmq artemis apollo embedded`` (default: the four real
brokers of ``integration/brokers``, each probed with a real STOMP CONNECT and skipped when it does
not answer; ``embedded`` starts :class:`stomp_enterprise.testing.Broker` in this process). Every
measurement runs in a fresh ``python -m benchmarks.e2e_peers CLIENT CASE ...`` process (see that
module for what each case does), so CPU time (``time.process_time()`` of the timed region, all
threads) and RSS are per client. Clients of one case alternate within each run (the order rotates
from run to run) so that drifting load hits all alike. Every case uses a fresh destination; the
harness pre-loads queues with the raw client, and afterwards drains each queue with the raw client
to check that every message moved (sent cases: the queue holds exactly N; consume: nothing is
left, so every ACK reached the broker). A client that moved the wrong number is reported WRONG.

The brokers run on the same machine as the clients, so wall-clock rates include the broker's
share of the cores; the CPU µs/msg columns are the client process alone.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import charts
from benchmarks.e2e_peers import (
    AIO_CLIENTS,
    CASES,
    CLIENTS,
    TX_SIZE,
    RawConnection,
    raw_drain,
    raw_produce,
    text_message_headers,
)

_ROOT = Path(__file__).resolve().parents[1]
DOCS = _ROOT / "docs" / "benchmarks.md"
PEERS = ("ours", "stomp.py", "stompest")
#: ``--asyncio``: the asyncio clients and the threaded client (``ours``) as the reference,
#: on the cases of :data:`benchmarks.e2e_aio.AIO_CASES` (kept in step: a smoke test checks)
AIO_SECTION_CLIENTS: tuple[str, ...] = (*AIO_CLIENTS, "ours")
AIO_SECTION_CASES: tuple[str, ...] = ("produce", "produce-headers", "consume", "consume-headers")
#: the asyncio section's block in docs/benchmarks.md (the threaded ``--write-docs`` keeps it)
AIO_BEGIN, AIO_END = "<!-- asyncio-section:begin -->", "<!-- asyncio-section:end -->"
#: hand-written reading inside that block, kept by the asyncio ``--write-docs``
NOTES_BEGIN, NOTES_END = "<!-- asyncio-notes:begin -->", "<!-- asyncio-notes:end -->"
#: the WebSocket section's block (``benchmarks.ws --write-docs``; the threaded run keeps it)
WS_BEGIN, WS_END = "<!-- websocket-section:begin -->", "<!-- websocket-section:end -->"
#: hand-written sections after the threaded results (send tracking, request/reply, tracing):
#: ``--write-docs`` keeps them as they are
KEPT_BEGIN, KEPT_END = "<!-- threaded-notes:begin -->", "<!-- threaded-notes:end -->"
ALL_CASES = CASES  # one list: the case names the per-client runner knows
#: ours only (the others have no ``trackMessages``: n/a, asked once): ``produce`` / ``consume``
#: through ``failover:(URL)`` without and with ``?trackMessages=true``, each pair measured run
#: by run in alternating order so that drifting load hits both alike (their ratio is the figure)
TRACKING_PAIR = ("produce-failover", "produce-tracked")
CONSUME_TRACKING_PAIR = ("consume-failover", "consume-tracked")
TRACKING_PAIRS = (TRACKING_PAIR, CONSUME_TRACKING_PAIR)
OURS_ONLY = (*TRACKING_PAIR, *CONSUME_TRACKING_PAIR)
#: the cases that send N messages (the queue must hold exactly N afterwards)
SENT_CASES = (
    "produce",
    "receipt-single",
    "receipt-pipelined",
    "threads",
    "produce-headers",
    "produce-tx",
    "produce-tx-confirmed",
    *TRACKING_PAIR,
)
#: the cases that consume a pre-loaded queue (it must be empty afterwards)
CONSUME_CASES = ("consume", "consume-headers", "ack-tx", *CONSUME_TRACKING_PAIR)
CASE_TITLES = {
    "produce": "produce N, no receipts (+1 final receipt)",
    "consume": "consume N, client-individual ACK each",
    "receipt-single": "receipted produce, one at a time",
    "receipt-pipelined": "receipted produce, pipelined (window {window})",
    "threads": "produce, {threads} threads sharing one client",
    "latency": "send->receive latency at {rate:g} msg/s",
    "rss": "RSS through one auto-ack subscription",
    "produce-headers": "produce N, content-type + 3 application headers",
    "produce-tx": "produce N in transactions of {tx} (BEGIN/COMMIT included)",
    "produce-tx-confirmed": "produce N in transactions of {tx}, every COMMIT's RECEIPT awaited",
    "consume-headers": "consume N (content-type + 5 headers; handler reads 2 + text), ACK each",
    "ack-tx": "consume N, ACK each inside transactions of {tx}",
    "produce-failover": "produce N through failover:(URL), no tracking",
    "produce-tracked": "produce N through failover:(URL)?trackMessages=true",
    "consume-failover": "consume N through failover:(URL), no tracking, ACK each",
    "consume-tracked": "consume N through failover:(URL)?trackMessages=true, ACK each",
}


@dataclass
class BrokerSpec:
    name: str
    url: str
    vhost: str
    version: str = "?"


def _port(var: str, default: int) -> int:
    return int(os.environ.get(var, default))


def real_brokers() -> dict[str, BrokerSpec]:
    """The integration brokers (ports from ``integration/brokers/ports.env`` defaults, which
    the same environment variables override)."""
    host = os.environ.get("STOMP_BROKERS_HOST", "127.0.0.1")
    spec = {
        "activemq": (_port("ACTIVEMQ_STOMP_PORT", 61710), "/"),
        "rabbitmq": (_port("RABBITMQ_STOMP_PORT", 61720), os.environ.get("RABBITMQ_VHOST", "/")),
        "artemis": (_port("ARTEMIS_STOMP_PORT", 61730), "/"),
        "apollo": (_port("APOLLO_STOMP_PORT", 61740), "/"),
    }
    versions: dict[str, Any] = {}
    state = Path(os.environ.get("STOMP_BROKERS_DIR", "/tmp/stomp-enterprise-brokers"))
    with contextlib.suppress(OSError, ValueError):
        versions = json.loads((state / "versions.json").read_text())
    return {
        name: BrokerSpec(
            name, f"tcp://{host}:{port}", vhost, str(versions.get(name, {}).get("version", "?"))
        )
        for name, (port, vhost) in spec.items()
    }


def probe(spec: BrokerSpec) -> str | None:
    """None when a real STOMP CONNECT gets CONNECTED, else why not."""
    try:
        conn = RawConnection(spec.url, spec.vhost, timeout=5.0)
    except (OSError, ConnectionError) as exc:
        return f"{type(exc).__name__}: {exc}"
    conn.close()
    return None


@contextlib.contextmanager
def embedded_broker() -> Iterator[BrokerSpec]:
    from stomp_enterprise.testing import Broker

    with Broker(slow_consumer_timeout=60.0) as broker:
        yield BrokerSpec("embedded", broker.url, "/", "stomp_enterprise.testing.Broker")


# --------------------------------------------------------------------------------------------
# running measurements
# --------------------------------------------------------------------------------------------


@dataclass
class Settings:
    count: int
    size: int
    runs: int
    window: int
    threads: int
    rate: float
    latency_count: int
    rss_count: int
    rss_runs: int
    warmup: int
    rss_max_seconds: float
    drain_idle: float
    warmup_rounds: int
    asyncio: bool = False  # the asyncio section (``--asyncio``)
    loop: str = "asyncio"  # the event loop of the asyncio clients (``--loop``)
    ws_pack: int | None = None  # ours over ws://: WebSocketOptions(pack=...) (None: automatic)
    ws_text: bool = False  # ours over ws://: WebSocketOptions(text=True) (ActiveMQ Classic)


def run_peer(
    spec: BrokerSpec,
    client: str,
    case: str,
    dest: str,
    count: int,
    cfg: Settings,
    profile: str | None = None,
) -> dict[str, Any]:
    """One measurement in a fresh process; its JSON result (``error`` on failure)."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.e2e_peers",
        client,
        case,
        "--url",
        spec.url,
        "--vhost",
        spec.vhost,
        "--dest",
        dest,
        "--count",
        str(count),
        "--size",
        str(cfg.size),
        "--window",
        str(cfg.window),
        "--threads",
        str(cfg.threads),
        "--rate",
        str(cfg.rate),
        "--warmup",
        str(cfg.warmup),
        "--max-seconds",
        str(cfg.rss_max_seconds),
    ]
    if profile:
        cmd += ["--profile", profile]
    if client in AIO_CLIENTS:
        cmd += ["--loop", cfg.loop]
    if cfg.ws_pack is not None:
        cmd += ["--ws-pack", str(cfg.ws_pack)]
    if cfg.ws_text:
        cmd.append("--ws-text")
    timeout = 120.0 + count / 200.0 + (cfg.rss_max_seconds if case == "rss" else 0.0)
    env = dict(os.environ, PYTHONPATH=str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=_ROOT, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"client": client, "case": case, "error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (proc.stderr or proc.stdout)[-800:]
        return {"client": client, "case": case, "error": f"exit {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    if proc.returncode and "error" not in result:
        result["error"] = f"exit {proc.returncode}: {proc.stderr[-800:]}"
    return result


def measure_case(
    spec: BrokerSpec, case: str, client: str, run: int, cfg: Settings, profile: str | None = None
) -> dict[str, Any]:
    """Prepare the destination, run one client, verify what moved, clean up."""
    count = {"latency": cfg.latency_count, "rss": cfg.rss_count}.get(case, cfg.count)
    dest = f"/queue/e2e-{case}-{client.replace('.', '')}-{run}-{uuid.uuid4().hex[:8]}"
    if case in CONSUME_CASES and (client == "ours" or case not in OURS_ONLY):
        headers = text_message_headers() if case == "consume-headers" else None
        try:
            raw_produce(spec.url, spec.vhost, dest, count, b"c" * cfg.size, headers)
        except (OSError, ConnectionError) as exc:  # e.g. the broker was restarted under us
            with contextlib.suppress(OSError, ConnectionError):  # leave nothing behind
                raw_drain(spec.url, spec.vhost, dest, 0, cfg.drain_idle)
            return {
                "client": client,
                "case": case,
                "run": run,
                "expected": count,
                "ok": False,
                "error": f"pre-load failed: {type(exc).__name__}: {exc}",
            }
    result = run_peer(spec, client, case, dest, count, cfg, profile)
    result["run"] = run
    result["expected"] = count
    if "na" in result:
        result["ok"] = None
        return result
    sent_cases = SENT_CASES
    expect_left = count if case in sent_cases and "error" not in result else 0
    try:
        left = raw_drain(spec.url, spec.vhost, dest, expect_left, cfg.drain_idle)
    except (OSError, ConnectionError) as exc:
        left = -1
        result.setdefault("error", f"drain failed: {exc}")
    result["left_in_queue"] = left
    if "error" in result:
        result["ok"] = False
    elif case in sent_cases:
        result["ok"] = result.get("moved") == count and left == count
    elif case == "rss" and result.get("skipped"):
        result["ok"] = True
    else:
        result["ok"] = result.get("moved") == count and left == 0
    return result


def warm_up_broker(spec: BrokerSpec, cfg: Settings) -> None:
    """Let the broker's JIT/allocator settle before anything is timed: the raw client
    produces, consumes with ACKs and sends receipted messages for ``cfg.warmup_rounds``
    rounds of N messages (a JVM broker is several times slower on its first 20k)."""
    for round_ in range(cfg.warmup_rounds):
        dest = f"/queue/e2e-warmup-{round_}-{uuid.uuid4().hex[:8]}"
        raw_produce(spec.url, spec.vhost, dest, cfg.count, b"w" * cfg.size)
        run_peer(spec, "raw", "consume", dest, cfg.count, cfg)
        raw_drain(spec.url, spec.vhost, dest, 0, cfg.drain_idle)
        run_peer(spec, "raw", "receipt-pipelined", dest, cfg.count, cfg)
        raw_drain(spec.url, spec.vhost, dest, cfg.count, cfg.drain_idle)


def run_broker(
    spec: BrokerSpec, cases: list[str], cfg: Settings, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        warm_up_broker(spec, cfg)
    except (OSError, ConnectionError) as exc:
        log(f"  {spec.name}: warm-up failed: {exc}")
    log(f"  {spec.name}: warmed up in {time.perf_counter() - started:.1f} s")
    for group in schedule(cases):
        runs = cfg.rss_runs if group == ("rss",) else cfg.runs
        for run in range(runs):
            shift = run % len(group)
            for case in group[shift:] + group[:shift]:
                clients = case_clients(case, run, cfg.asyncio)
                shift = run % len(clients)
                for client in clients[shift:] + clients[:shift]:
                    started = time.perf_counter()
                    result = measure_case(spec, case, client, run, cfg)
                    result["broker"] = spec.name
                    results.append(result)
                    log(
                        f"  {spec.name} {case} run {run + 1}/{runs} {client}: {brief(result)}"
                        f" [{time.perf_counter() - started:.1f} s]"
                    )
    return results


def schedule(cases: list[str]) -> list[tuple[str, ...]]:
    """The cases in groups whose runs interleave: a tracking pair, when both are asked for,
    is one group; every other case is a group of its own."""
    out: list[tuple[str, ...]] = []
    for case in cases:
        group = next(
            (pair for pair in TRACKING_PAIRS if case in pair and set(pair) <= set(cases)),
            (case,),
        )
        if group not in out:
            out.append(group)
    return out


def case_clients(case: str, run: int, asyncio: bool = False) -> tuple[str, ...]:
    """The clients measured in one run of a case (an ours-only case asks the others once,
    to record their n/a); ``asyncio``: the asyncio section's clients."""
    if asyncio:
        return AIO_SECTION_CLIENTS
    if case == "rss":
        return ("ours", "stomp.py")
    if case in OURS_ONLY and run > 0:
        return ("ours",)
    return CLIENTS


def brief(result: dict[str, Any]) -> str:
    if "na" in result:
        return f"n/a ({result['na']})"
    if result.get("error"):
        return "ERROR " + str(result["error"]).splitlines()[-1][:200]
    parts = [f"moved {result.get('moved')}/{result.get('expected')}"]
    if not result.get("ok"):
        parts.append(f"WRONG (left in queue {result.get('left_in_queue')})")
    if "msgs_per_s" in result:
        parts.append(f"{result['msgs_per_s']:,.0f} msg/s")
    if "cpu_us_per_msg" in result:
        parts.append(f"{result['cpu_us_per_msg']:.1f} CPU µs/msg")
    if "p99_ms" in result:
        parts.append(f"p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms")
    if "rss_growth_mb" in result:
        parts.append(f"RSS {result['rss_start_mb']:.1f}->{result['rss_end_mb']:.1f} MB")
    if result.get("skipped"):
        parts.append(f"skipped: {result['skipped']}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# summaries and tables
# --------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """case -> client -> medians over the runs that moved every message."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for result in results:
        out.setdefault(result["case"], {}).setdefault(result["client"], {"runs": []})
        out[result["case"]][result["client"]]["runs"].append(result)
    for clients in out.values():
        for entry in clients.values():
            runs = entry["runs"]
            good = [r for r in runs if r.get("ok")]
            if any("na" in r for r in runs):
                entry["status"] = "n/a"
                entry["na"] = runs[0]["na"]
            elif len(good) < len(runs):
                bad = [r for r in runs if not r.get("ok")]
                if good and not any(r.get("error") is None for r in bad):
                    # runs that errored (e.g. broker restarted under us) are left out; a run
                    # that moved the wrong number of messages never is
                    entry["status"] = "ok"
                    entry["partial"] = f"{len(good)}/{len(runs)} runs"
                else:
                    entry["status"] = "ERROR" if any(r.get("error") for r in bad) else "WRONG"
                entry["problem"] = brief(bad[0])
            else:
                entry["status"] = "ok"
            for key in (
                "msgs_per_s",
                "cpu_us_per_msg",
                "p50_ms",
                "p99_ms",
                "max_ms",
                "rss_start_mb",
                "rss_end_mb",
                "rss_growth_mb",
                "max_rss_mb",
            ):
                entry[key] = _median([r[key] for r in good if r.get(key) is not None])
            skipped = [r["skipped"] for r in good if r.get("skipped")]
            if skipped:
                entry["skipped"] = skipped[0]
            entry["measured_messages"] = _median(
                [r.get("measured_messages", r.get("moved", 0)) for r in good]
            )
            entry.pop("runs")
    return out


def _get(summary: dict[str, Any], case: str, client: str, key: str) -> float | None:
    entry = summary.get(case, {}).get(client)
    if not entry or entry.get("status") != "ok" or entry.get("skipped"):
        return None
    value = entry.get(key)
    return float(value) if value is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _cell(summary: dict[str, Any], case: str, client: str, key: str, fmt: str) -> str:
    entry = summary.get(case, {}).get(client)
    if entry is None:
        return "-"
    if entry["status"] != "ok":
        return str(entry["status"])
    value = entry.get(key)
    if value is None:
        return "-"
    return format(value, fmt) + (f" ({entry['partial']})" if entry.get("partial") else "")


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def throughput_table(summary: dict[str, Any], cfg: Settings) -> list[str]:
    lines = [
        "| case | raw msg/s | ours msg/s | stomp.py msg/s | stompest msg/s | ours/raw "
        "| ours/stomp.py | CPU µs/msg ours | CPU µs/msg stomp.py | CPU µs/msg stompest "
        "| CPU µs/msg raw |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in (
        "produce",
        *TRACKING_PAIR,
        "produce-headers",
        "produce-tx",
        "produce-tx-confirmed",
        "consume",
        *CONSUME_TRACKING_PAIR,
        "consume-headers",
        "ack-tx",
        "receipt-single",
        "receipt-pipelined",
        "threads",
    ):
        if case not in summary:
            continue
        title = CASE_TITLES[case].format(
            window=cfg.window, threads=cfg.threads, rate=cfg.rate, tx=TX_SIZE
        )
        rates = [_cell(summary, case, c, "msgs_per_s", ",.0f") for c in CLIENTS]
        cpus = [_cell(summary, case, c, "cpu_us_per_msg", ".1f") for c in (*PEERS, "raw")]
        ours = _get(summary, case, "ours", "msgs_per_s")
        lines.append(
            f"| {title} | "
            + " | ".join(rates)
            + f" | {_fmt_ratio(_ratio(ours, _get(summary, case, 'raw', 'msgs_per_s')))}"
            + f" | {_fmt_ratio(_ratio(ours, _get(summary, case, 'stomp.py', 'msgs_per_s')))} | "
            + " | ".join(cpus)
            + " |"
        )
    return lines


def latency_table(summary: dict[str, Any]) -> list[str]:
    if "latency" not in summary:
        return []
    raw_p99 = _get(summary, "latency", "raw", "p99_ms")
    lines = [
        "| client | p50 ms | p99 ms | max ms | p99 / raw p99 | CPU µs/msg |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for client in CLIENTS:
        p99 = _get(summary, "latency", client, "p99_ms")
        lines.append(
            f"| {client} | {_cell(summary, 'latency', client, 'p50_ms', '.3f')} "
            f"| {_cell(summary, 'latency', client, 'p99_ms', '.3f')} "
            f"| {_cell(summary, 'latency', client, 'max_ms', '.3f')} "
            f"| {_fmt_ratio(_ratio(p99, raw_p99))} "
            f"| {_cell(summary, 'latency', client, 'cpu_us_per_msg', '.1f')} |"
        )
    return lines


def rss_table(summary: dict[str, Any], cfg: Settings) -> list[str]:
    if "rss" not in summary:
        return []
    lines = [
        "| client | messages | RSS after warm-up MB | RSS at end MB | growth MB | msg/s "
        "| CPU µs/msg | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for client, entry in summary["rss"].items():
        note = entry.get("skipped") or entry.get("problem") or ""
        lines.append(
            f"| {client} | {cfg.rss_count:,}"
            f" | {_cell(summary, 'rss', client, 'rss_start_mb', '.1f')}"
            f" | {_cell(summary, 'rss', client, 'rss_end_mb', '.1f')}"
            f" | {_cell(summary, 'rss', client, 'rss_growth_mb', '.1f')}"
            f" | {_cell(summary, 'rss', client, 'msgs_per_s', ',.0f')}"
            f" | {_cell(summary, 'rss', client, 'cpu_us_per_msg', '.1f')} | {note} |"
        )
    return lines


def targets(summary: dict[str, Any], cfg: Settings) -> list[tuple[str, str, str, bool | None]]:
    """(target, measured, the raw client's same measure, passed) for the issue's targets;
    passed is None when unmeasured. The raw column is the ceiling the broker itself sets
    (a raw client writes pre-built frames and does no other work)."""

    def g(case: str, client: str, key: str = "msgs_per_s") -> float | None:
        return _get(summary, case, client, key)

    out: list[tuple[str, str, str, bool | None]] = []

    prod_raw = _ratio(g("produce", "ours"), g("produce", "raw"))
    prod_cpu = _ratio(
        g("produce", "ours", "cpu_us_per_msg"), g("produce", "stomp.py", "cpu_us_per_msg")
    )
    out.append(
        (
            "produce ≥ 0.95x raw, client CPU ≤ 1/3 of stomp.py's",
            f"{_fmt_ratio(prod_raw)} raw, CPU {_fmt_ratio(prod_cpu)} stomp.py's",
            "CPU "
            + _fmt_ratio(
                _ratio(
                    g("produce", "raw", "cpu_us_per_msg"),
                    g("produce", "stomp.py", "cpu_us_per_msg"),
                )
            )
            + " stomp.py's",
            None
            if prod_raw is None or prod_cpu is None
            else prod_raw >= 0.95 and prod_cpu <= 1 / 3,
        )
    )
    con_raw = _ratio(g("consume", "ours"), g("consume", "raw"))
    con_sp = _ratio(g("consume", "ours"), g("consume", "stomp.py"))
    con_cpu = _ratio(
        g("consume", "ours", "cpu_us_per_msg"), g("consume", "stomp.py", "cpu_us_per_msg")
    )
    out.append(
        (
            "consume with per-message ACKs ≥ 0.9x raw and ≥ 1.4x stomp.py, CPU ≤ 1/3 of stomp.py's",
            f"{_fmt_ratio(con_raw)} raw, {_fmt_ratio(con_sp)} stomp.py, "
            f"CPU {_fmt_ratio(con_cpu)} stomp.py's",
            f"{_fmt_ratio(_ratio(g('consume', 'raw'), g('consume', 'stomp.py')))} stomp.py, CPU "
            + _fmt_ratio(
                _ratio(
                    g("consume", "raw", "cpu_us_per_msg"),
                    g("consume", "stomp.py", "cpu_us_per_msg"),
                )
            )
            + " stomp.py's",
            None
            if None in (con_raw, con_sp, con_cpu)
            else bool(con_raw >= 0.9 and con_sp >= 1.4 and con_cpu <= 1 / 3),  # type: ignore[operator]
        )
    )
    pipe = _ratio(g("receipt-pipelined", "ours"), g("produce", "ours"))
    out.append(
        (
            "pipelined receipted produce ≥ 0.8x unreceipted",
            f"{_fmt_ratio(pipe)}",
            _fmt_ratio(_ratio(g("receipt-pipelined", "raw"), g("produce", "raw"))),
            None if pipe is None else pipe >= 0.8,
        )
    )
    thr = _ratio(g("threads", "ours"), g("produce", "ours"))
    out.append(
        (
            f"{cfg.threads} threads on one client ≥ 0.9x single thread",
            f"{_fmt_ratio(thr)}",
            _fmt_ratio(_ratio(g("threads", "raw"), g("produce", "raw"))),
            None if thr is None else thr >= 0.9,
        )
    )
    growth = g("rss", "ours", "rss_growth_mb")
    entry = summary.get("rss", {}).get("ours", {})
    scaled = "" if cfg.rss_count >= 1_000_000 else f" (over {cfg.rss_count:,} messages, not 1M)"
    out.append(
        (
            "RSS growth < 20 MB over 1,000,000 messages",
            (f"{growth:+.1f} MB{scaled}" if growth is not None else entry.get("skipped", "-")),
            "n/a",
            None if growth is None else growth < 20,
        )
    )
    out += realistic_targets(g)
    out += [tracking_target(g, pair) for pair in TRACKING_PAIRS]
    lat = _ratio(g("latency", "ours", "p99_ms"), g("latency", "raw", "p99_ms"))
    out.append(
        (
            "p99 send→receive latency ≤ 1.5x raw",
            f"{_fmt_ratio(lat)}",
            "1.00x",
            None if lat is None else lat <= 1.5,
        )
    )
    return out


def realistic_targets(
    g: Callable[..., float | None],
) -> list[tuple[str, str, str, bool | None]]:
    """Issue 14's targets: the paths applications take (headers, transactions, headers read
    by the handler), against our bare path and stomp.py's same case (client CPU µs/msg)."""

    def cpu(case: str, client: str) -> float | None:
        return g(case, client, "cpu_us_per_msg")

    out: list[tuple[str, str, str, bool | None]] = []
    for case, own_limit, peer_limit, title in (
        ("produce-headers", 1.3, 0.35, "SEND with content type + 3 headers"),
        ("produce-tx", 1.5, 0.4, f"transactional SEND ({TX_SIZE} per transaction)"),
    ):
        own = _ratio(cpu(case, "ours"), cpu("produce", "ours"))
        peer = _ratio(cpu(case, "ours"), cpu(case, "stomp.py"))
        out.append(
            (
                f"{title}: CPU ≤ {own_limit}x our bare SEND and ≤ {peer_limit}x stomp.py's",
                f"{_fmt_ratio(own)} bare, {_fmt_ratio(peer)} stomp.py's",
                f"{_fmt_ratio(_ratio(cpu(case, 'raw'), cpu('produce', 'raw')))} bare, "
                f"{_fmt_ratio(_ratio(cpu(case, 'raw'), cpu(case, 'stomp.py')))} stomp.py's",
                None if own is None or peer is None else own <= own_limit and peer <= peer_limit,
            )
        )
    same = _ratio(cpu("produce-tx-confirmed", "ours"), cpu("produce-tx-confirmed", "stomp.py"))
    out.append(
        (
            "transactional SEND, every COMMIT's RECEIPT awaited by every client (the same "
            "guarantee; ours by default): CPU ≤ 0.4x stomp.py's",
            f"{_fmt_ratio(same)} stomp.py's",
            _fmt_ratio(
                _ratio(cpu("produce-tx-confirmed", "raw"), cpu("produce-tx-confirmed", "stomp.py"))
            )
            + " stomp.py's",
            None if same is None else same <= 0.4,
        )
    )
    ack = _ratio(cpu("ack-tx", "ours"), cpu("ack-tx", "stomp.py"))
    out.append(
        (
            f"consume with ACKs in transactions of {TX_SIZE}: CPU ≤ 0.4x stomp.py's",
            f"{_fmt_ratio(ack)} stomp.py's",
            f"{_fmt_ratio(_ratio(cpu('ack-tx', 'raw'), cpu('ack-tx', 'stomp.py')))} stomp.py's",
            None if ack is None else ack <= 0.4,
        )
    )
    con_cpu = _ratio(cpu("consume-headers", "ours"), cpu("consume-headers", "stomp.py"))
    con_raw = _ratio(g("consume-headers", "ours"), g("consume-headers", "raw"))
    out.append(
        (
            "consume with content type + 5 headers (2 read, text body): CPU ≤ 0.33x "
            "stomp.py's, ≥ 0.9x raw msg/s",
            f"CPU {_fmt_ratio(con_cpu)} stomp.py's, {_fmt_ratio(con_raw)} raw",
            "CPU "
            + _fmt_ratio(_ratio(cpu("consume-headers", "raw"), cpu("consume-headers", "stomp.py")))
            + " stomp.py's",
            None if con_cpu is None or con_raw is None else con_cpu <= 0.33 and con_raw >= 0.9,
        )
    )
    return out


def tracking_target(
    g: Callable[..., float | None], pair: tuple[str, str]
) -> tuple[str, str, str, bool | None]:
    """Issue 13: ``trackMessages=true`` against the same failover URI without it (ours), for
    one of :data:`TRACKING_PAIRS`."""
    untracked, tracked = pair
    plain_case = untracked.split("-")[0]  # produce / consume, on the plain URL
    rate = _ratio(g(tracked, "ours"), g(untracked, "ours"))
    cpu = _ratio(g(tracked, "ours", "cpu_us_per_msg"), g(untracked, "ours", "cpu_us_per_msg"))
    plain = _ratio(g(untracked, "ours"), g(plain_case, "ours"))
    return (
        f"send tracking (trackMessages=true): {plain_case} ≥ 0.9x msg/s of the same failover "
        "URI without tracking",
        f"{_fmt_ratio(rate)} msg/s, CPU µs/msg {_fmt_ratio(cpu)} "
        f"(failover untracked vs plain URL: {_fmt_ratio(plain)} msg/s)",
        "n/a (ours only)",
        None if rate is None else rate >= 0.9,
    )


def targets_table(summary: dict[str, Any], cfg: Settings) -> list[str]:
    lines = [
        "| target (ours) | measured | the raw client, same measure | result |",
        "| --- | --- | --- | --- |",
    ]
    for target, measured, raw, passed in targets(summary, cfg):
        verdict = "not measured" if passed is None else ("**pass**" if passed else "**FAIL**")
        lines.append(f"| {target} | {measured} | {raw} | {verdict} |")
    return lines


def broker_section(spec: BrokerSpec, summary: dict[str, Any], cfg: Settings) -> list[str]:
    lines = [
        f"### {spec.name} {spec.version} (`{spec.url}`)",
        "",
        f"Throughput: N = {cfg.count:,} messages of {cfg.size} bytes, median of {cfg.runs} "
        "run(s); msg/s is wall clock, CPU µs/msg is the client process only.",
        "",
        *throughput_table(summary, cfg),
    ]
    lat = latency_table(summary)
    if lat:
        lines += [
            "",
            f"Latency: {cfg.latency_count:,} timestamped messages at {cfg.rate:g} msg/s, one "
            "connection sending and consuming (stompest: two, see e2e_peers), auto ack; the "
            "first 10% (at most 200) are warm-up and not counted.",
            "",
            *lat,
        ]
    rss = rss_table(summary, cfg)
    if rss:
        lines += [
            "",
            f"RSS: {cfg.rss_count:,} messages through one auto-ack subscription, fed by a "
            f"raw-socket producer thread in the same process (at most {cfg.window:,} ahead); "
            f"RSS measured after {cfg.warmup:,} warm-up messages and at the end "
            f"({cfg.rss_runs} run(s)).",
            "",
            *rss,
        ]
    problems = [
        f"- {case} / {client}: {entry.get('problem') or entry.get('na')}"
        for case, clients in summary.items()
        for client, entry in clients.items()
        if entry["status"] in ("ERROR", "WRONG") or entry.get("partial")
    ]
    if problems:
        lines += ["", "Problems:", "", *problems]
    lines += [
        "",
        "Targets from the issue (computed from the numbers above). The raw client's column is "
        "the same measure for a client that writes pre-built frames and does nothing else: "
        "what the broker itself allows on this machine.",
        "",
    ]
    lines += targets_table(summary, cfg)
    return lines


# --------------------------------------------------------------------------------------------
# the asyncio section (``--asyncio``)
# --------------------------------------------------------------------------------------------

AIO_CASE_TITLES = {
    "produce": "produce N, no receipts (+1 final receipt)",
    "produce-headers": "produce N, content-type + 3 application headers",
    "consume": "consume N, client-individual ACK each",
    "consume-headers": "consume N (content-type + 5 headers; handler reads 2 + text), ACK each",
}


def aio_throughput_table(summary: dict[str, Any]) -> list[str]:
    """msg/s and client CPU µs/msg of every asyncio-section client, per case."""
    names = {"ours": "ours (threaded)"}
    head = " | ".join(f"{names.get(c, c)} msg/s" for c in AIO_SECTION_CLIENTS)
    cpu_head = " | ".join(f"CPU µs/msg {names.get(c, c)}" for c in AIO_SECTION_CLIENTS)
    lines = [
        f"| case | {head} | ours-aio/stompman | ours-aio/raw-aio | {cpu_head} |",
        "| --- |" + " ---: |" * (2 * len(AIO_SECTION_CLIENTS) + 2),
    ]
    for case in AIO_SECTION_CASES:
        if case not in summary:
            continue
        rate = _get(summary, case, "ours-aio", "msgs_per_s")
        lines.append(
            f"| {AIO_CASE_TITLES[case]} | "
            + " | ".join(_cell(summary, case, c, "msgs_per_s", ",.0f") for c in AIO_SECTION_CLIENTS)
            + f" | {_fmt_ratio(_ratio(rate, _get(summary, case, 'stompman', 'msgs_per_s')))}"
            + f" | {_fmt_ratio(_ratio(rate, _get(summary, case, 'raw-aio', 'msgs_per_s')))} | "
            + " | ".join(
                _cell(summary, case, c, "cpu_us_per_msg", ".1f") for c in AIO_SECTION_CLIENTS
            )
            + " |"
        )
    return lines


def aio_targets(
    summary: dict[str, Any], cfg: Settings | None = None
) -> list[tuple[str, str, str, bool | None]]:
    """Issue 15's targets for every case measured: ours-aio against stompman (msg/s ≥ 1.5x,
    client CPU µs/msg ≤ 0.5x) and against the threaded client (CPU µs/msg ≤ 1.2x); the raw
    column is raw-aio's same measure. (``cfg``: as :func:`targets` takes it; unused.)"""

    def g(case: str, client: str, key: str = "msgs_per_s") -> float | None:
        return _get(summary, case, client, key)

    def cpu(case: str, client: str) -> float | None:
        return g(case, client, "cpu_us_per_msg")

    out: list[tuple[str, str, str, bool | None]] = []
    for case in AIO_SECTION_CASES:
        if case not in summary:
            continue
        rate = _ratio(g(case, "ours-aio"), g(case, "stompman"))
        share = _ratio(cpu(case, "ours-aio"), cpu(case, "stompman"))
        out.append(
            (
                f"{case}: msg/s ≥ 1.5x stompman's, client CPU µs/msg ≤ 0.5x stompman's",
                f"{_fmt_ratio(rate)} msg/s, CPU {_fmt_ratio(share)}",
                f"{_fmt_ratio(_ratio(g(case, 'raw-aio'), g(case, 'stompman')))} msg/s, CPU "
                f"{_fmt_ratio(_ratio(cpu(case, 'raw-aio'), cpu(case, 'stompman')))}",
                None if rate is None or share is None else rate >= 1.5 and share <= 0.5,
            )
        )
        threaded = _ratio(cpu(case, "ours-aio"), cpu(case, "ours"))
        out.append(
            (
                f"{case}: client CPU µs/msg ≤ 1.2x the threaded client's",
                f"{_fmt_ratio(threaded)}",
                f"{_fmt_ratio(_ratio(cpu(case, 'raw-aio'), cpu(case, 'ours')))}",
                None if threaded is None else threaded <= 1.2,
            )
        )
    return out


def aio_broker_section(spec: BrokerSpec, summary: dict[str, Any], cfg: Settings) -> list[str]:
    lines = [
        f"### {spec.name} {spec.version} (`{spec.url}`), asyncio clients",
        "",
        f"N = {cfg.count:,} messages of {cfg.size} bytes, median of {cfg.runs} interleaved "
        f"run(s), event loop: {cfg.loop}; msg/s is wall clock, CPU µs/msg is the client "
        "process only.",
        "",
        *aio_throughput_table(summary),
    ]
    problems = [
        f"- {case} / {client}: {entry.get('problem') or entry.get('na')}"
        for case, clients in summary.items()
        for client, entry in clients.items()
        if entry["status"] in ("ERROR", "WRONG") or entry.get("partial")
    ]
    if problems:
        lines += ["", "Problems:", "", *problems]
    lines += [
        "",
        "Targets from issue 15 (computed from the numbers above; the raw column is the same "
        "measure for the raw asyncio client):",
        "",
        "| target (ours-aio) | measured | raw-aio, same measure | result |",
        "| --- | --- | --- | --- |",
    ]
    for target, measured, raw, passed in aio_targets(summary):
        verdict = "not measured" if passed is None else ("**pass**" if passed else "**FAIL**")
        lines.append(f"| {target} | {measured} | {raw} | {verdict} |")
    return lines


AIO_DOC_HEAD = """## asyncio clients (issue 15)

Generated by `python -m benchmarks.e2e --asyncio --write-docs`, which replaces this section
only (the threaded run keeps it). The clients are described in `benchmarks/e2e_aio.py`; in
short:

- Same harness as above: one fresh process per measurement, a fresh queue per case, the
  queue checked afterwards, CPU µs/msg = `time.process_time()` of the client process over
  the timed region, clients of a case alternating within each run (the order rotating).
- **raw-aio**: a hand-written STOMP 1.2 client over asyncio streams (SENDs batched 64 per
  `write()` + `drain()`, the ACKs of one `read()` in one `write()`): what the broker allows an
  asyncio client. **ours-aio**: `stomp_enterprise.aio.Client` (coroutine handler, `await
  message.ack()`). **stompman** 3.16 (`Client`, `send`, `subscribe_with_manual_ack`, `await
  frame.ack()`). **aiostomp** 1.7.3 (`AioStomp`, STOMP 1.1, its `auto_ack` path). **ours
  (threaded)**: `stomp_enterprise.Client`, the reference for the asyncio client's CPU.
- Heart-beats: off (`0,0`) for every client except stompman, which keeps its default
  `Heartbeat(1000, 1000)`: with `0,0` the broker answers `heart-beat:0,0` and stompman then
  writes heart-beats in a `sleep(0)` loop (it needs heart-beats). One heart-beat a second
  each way is noise next to thousands of frames a second.
- stompman always sends the TCP host name as the CONNECT `host` header, which RabbitMQ
  takes as the virtual host and refuses; the adapter passes `host="/"` (the vhost) and a
  `Connection` subclass that opens the socket to the real address. aiostomp has no receipts
  API, hides CONNECTED and ERROR, and sends no `host` header (STOMP 1.1 requires one; the
  in-process broker of the smoke test refuses the CONNECT without it): a `StompReader`
  subclass maps those three frames (to wait for CONNECTED before timing, to fail on ERROR,
  and for the final RECEIPT) and adds `host`. Neither touches the per-message path.
- produce: N-1 SENDs without receipt (every client awaits its send: stompman and ours-aio
  `await send()`, which drains; aiostomp's `send()` is synchronous and only buffers), then
  one receipted SEND, timed until its RECEIPT; the header variant adds
  `content-type: application/json` and 3 application headers. consume: the queue is
  pre-loaded with N; subscribe `client-individual`, ACK every message from the handler; timed
  until the N-th ACK is written; the header variant's messages carry
  `content-type: text/plain;charset=utf-8` and 5 headers, and the handler reads two of them
  and decodes the text body.
"""


def aio_doc_block(
    env: dict[str, Any],
    specs: list[BrokerSpec],
    summaries: dict[str, dict[str, Any]],
    cfg: Settings,
    command: str,
    skipped: dict[str, str],
) -> str:
    """The asyncio section of docs/benchmarks.md, with an empty notes block (see
    :func:`write_aio_docs`)."""
    lines = [AIO_BEGIN, AIO_DOC_HEAD, "### Environment", "", *environment_lines(env, specs), ""]
    lines += [f"Command: `{command}`", ""]
    lines += [f"- {name}: not measured ({why})" for name, why in skipped.items()]
    for spec in specs:
        lines += ["", *aio_broker_section(spec, summaries[spec.name], cfg)]
    lines += ["", NOTES_BEGIN, NOTES_END, AIO_END]
    return "\n".join(lines) + "\n"


def _block(text: str, begin: str, end: str) -> tuple[str, str, str]:
    """``text`` split around the block from ``begin`` to ``end`` (markers included):
    ``(before, block, after)``; ``(text, "", "")`` when it has no such block."""
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    if start < 0 or stop < 0:
        return text, "", ""
    stop += len(end)
    return text[:start], text[start:stop], text[stop:]


def replace_section(
    path: Path, block: str, begin: str, end: str, notes: tuple[str, str], empty: str = ""
) -> None:
    """Put ``block`` (from ``begin`` to ``end``) into ``path``, replacing the one there and
    keeping the hand-written text between its ``notes`` markers; appended to the page (or
    to ``empty`` when there is no page) when it has none."""
    text = path.read_text(encoding="utf-8") if path.exists() else empty
    before, old, after = _block(text, begin, end)
    _, kept, _ = _block(old, *notes)
    if kept:
        new_before, _, new_after = _block(block, *notes)
        block = new_before + kept + new_after
    if not old:
        before, after = text.rstrip("\n") + "\n\n", ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(before + block.rstrip("\n") + after.rstrip("\n") + "\n", encoding="utf-8")


def write_aio_docs(path: Path, block: str) -> None:
    """Put the asyncio section into ``path``, replacing the one there (and keeping its
    hand-written notes); appended when the page has none."""
    replace_section(path, block, AIO_BEGIN, AIO_END, (NOTES_BEGIN, NOTES_END), DOC_HEAD)


def environment() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("stomp-enterprise", "stomp.py", "stompest", "stompman", "aiostomp", "uvloop"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "?"
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": versions,
        "loadavg_start": list(os.getloadavg()),
    }


def environment_lines(env: dict[str, Any], specs: list[BrokerSpec]) -> list[str]:
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items())
    brokers = ", ".join(f"{s.name} {s.version}" for s in specs) or "none"
    return [
        f"- date: {env['date']}",
        f"- machine: {env['nproc']} CPUs ({env['cpu']}), {env['platform']}",
        f"- Python {env['python']}; {libs}",
        f"- brokers (same machine, loopback): {brokers}",
        "- load average (1, 5, 15 min) at start: "
        + ", ".join(f"{v:.1f}" for v in env.get("loadavg_start", []))
        + "; at end: "
        + ", ".join(f"{v:.1f}" for v in env.get("loadavg_end", []))
        + " (anything well above 1 means other work shared the CPUs: rates are noisy)",
    ]


DOC_HEAD = """# End-to-end benchmarks

Generated by `python -m benchmarks.e2e --write-docs` (do not edit by hand: rerun it). The
harness is described in `benchmarks/e2e.py` and `benchmarks/e2e_peers.py`; in short:

- Every measurement is a fresh Python process running one client: **raw** (plain sockets writing
  pre-built frames, SENDs batched 64 per `sendall`, all ACKs of one `recv` in one `sendall`: the
  broker's limit), **ours** (`stomp_enterprise.Client`), **stomp.py** (`Connection12`, listener
  on its receiver thread) and **stompest** (`stompest.sync.Stomp`).
- Every case uses a fresh queue; afterwards the harness drains it with the raw client and
  checks that every message moved (WRONG otherwise).
- CPU µs/msg = `time.process_time()` of the client process over the timed region / messages.
- produce: N-1 SENDs without receipt, then one receipted SEND; timed until its RECEIPT.
- consume: queue pre-loaded with N; subscribe `client-individual`, ACK every message; timed
  from SUBSCRIBE to the N-th ACK written.
- receipted produce: one at a time (wait for each RECEIPT), and pipelined with up to 1,000
  outstanding (ours: `send_async` futures; stomp.py: receipts counted by a listener; stompest:
  `receiveFrame()` when the window is full; raw: the same with sockets).
- threads: 16 threads share one client (stompest's sync client is not thread-safe: n/a).
- The paths applications take (issue 14): produce with `content-type: application/json` and 3
  application headers; produce in transactions of 100, BEGIN and COMMIT included (ours: `with
  client.transaction()`, whose COMMIT waits for a receipt by default; the others send them
  unreceipted, the last COMMIT receipted), and the same with every client waiting for each
  COMMIT's RECEIPT before the next transaction (`produce-tx-confirmed`: the same guarantee
  for all, that each transaction was applied); consume of messages carrying
  `content-type: text/plain;charset=utf-8` and 5 application headers, the handler reading two
  of them (ours: `message.headers[...]`) and the text body, client-individual ACK; consume
  with every ACK inside a transaction committed every 100 ACKs.
- Send tracking (issue 13, ours only): produce and consume through `failover:(URL)` without
  and with `?trackMessages=true`, each pair measured run by run in alternating order.
- The brokers share the machine with the clients: msg/s includes the broker's use of the cores.
"""


def write_docs(
    path: Path,
    env: dict[str, Any],
    specs: list[BrokerSpec],
    summaries: dict[str, dict[str, Any]],
    cfg: Settings,
    command: str,
    skipped: dict[str, str],
) -> None:
    # the page's tables are wide: no table of contents beside them (mkdocs-material)
    lines = ["---", "hide:", "  - toc", "---", "", DOC_HEAD, "## Environment", ""]
    lines += [*environment_lines(env, specs), ""]
    lines += [f"Command: `{command}`", ""]
    for name, why in skipped.items():
        lines.append(f"- {name}: not measured ({why})")
    if skipped:
        lines.append("")
    chart_data = path.parent / "bench" / "e2e.json"  # kept with its charts by save_for_charts
    if chart_data.exists():
        lines += charts.markdown(chart_data, path.parent)
    lines.append("## Results")
    for spec in specs:
        lines += ["", *broker_section(spec, summaries[spec.name], cfg)]
    if path.exists():  # hand-written notes, the asyncio and WebSocket sections: keep them
        text = path.read_text(encoding="utf-8")
        for begin, end in ((KEPT_BEGIN, KEPT_END), (AIO_BEGIN, AIO_END), (WS_BEGIN, WS_END)):
            _, block, _ = _block(text, begin, end)
            if block:
                lines += ["", block]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def save_for_charts(payload_text: str, docs_path: Path, name: str = "e2e") -> None:
    """Keep the run's JSON beside the docs page (``bench/e2e.json``) and draw its charts there
    (:mod:`benchmarks.charts`), so the page, the SVGs and their numbers are committed together."""
    target = docs_path.parent / "bench" / f"{name}.json"  # the asyncio run: aio-e2e.json
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(payload_text, encoding="utf-8")
    for old in target.parent.glob(f"{target.stem}-*.svg"):
        old.unlink()  # a broker or case no longer measured leaves no stale chart
    charts.render(target)


def chart_name(cfg: Settings) -> str:
    """The stem of the run's JSON and charts under docs/bench/ (one set per section)."""
    return "aio-e2e" if cfg.asyncio else "e2e"


def write_report_docs(
    path: Path,
    env: dict[str, Any],
    specs: list[BrokerSpec],
    summaries: dict[str, dict[str, Any]],
    cfg: Settings,
    command: str,
    skipped: dict[str, str],
) -> None:
    """``--write-docs``: the whole page (threaded run) or its asyncio section."""
    if cfg.asyncio:
        block = aio_doc_block(env, specs, summaries, cfg, command, skipped)
        chart_data = path.parent / "bench" / f"{chart_name(cfg)}.json"
        if chart_data.exists():  # the asyncio run's charts, above its tables
            shown = "\n".join(charts.markdown(chart_data, path.parent, level=3))
            block = block.replace("### Environment", f"{shown}\n### Environment", 1)
        write_aio_docs(path, block)
    else:
        write_docs(path, env, specs, summaries, cfg, command, skipped)


# --------------------------------------------------------------------------------------------
# profiling
# --------------------------------------------------------------------------------------------


def profile_ours(spec: BrokerSpec, cfg: Settings, directory: Path) -> dict[str, str]:
    """cProfile (every thread) of ours (``--asyncio``: ours-aio) in produce and consume;
    top 15 by own time."""
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    client = "ours-aio" if cfg.asyncio else "ours"
    for case in ("produce", "consume"):
        path = directory / f"{spec.name}-{client}-{case}.prof"
        result = measure_case(spec, case, client, 0, cfg, profile=str(path))
        if not path.exists():
            out[case] = f"no profile: {brief(result)}"
            continue
        buf = io.StringIO()
        stats = pstats.Stats(str(path), stream=buf)
        stats.sort_stats("tottime").print_stats(15)
        text = buf.getvalue()
        out[case] = f"{brief(result)} (under cProfile)\n" + text[text.find("   ncalls") :]
    return out


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default="activemq,rabbitmq,artemis,apollo")
    parser.add_argument("--count", type=int, default=None, help="messages per case (20000)")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=None, help="runs per case (3)")
    parser.add_argument("--cases", default=None, help="(every case; --asyncio: its four)")
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rate", type=float, default=2000.0, help="latency case msg/s")
    parser.add_argument("--latency-seconds", type=float, default=None, help="(3)")
    parser.add_argument("--rss-count", type=int, default=None, help="(1000000)")
    parser.add_argument("--rss-runs", type=int, default=1)
    parser.add_argument("--rss-max-seconds", type=float, default=300.0)
    parser.add_argument(
        "--warmup-rounds", type=int, default=None, help="untimed raw rounds per broker (3)"
    )
    parser.add_argument("--json", default=None, help="write every number here")
    parser.add_argument("--write-docs", action="store_true", help=f"write {DOCS}")
    parser.add_argument("--docs-path", default=str(DOCS))
    parser.add_argument("--profile", default=None, help="dir: cProfile ours (produce, consume)")
    parser.add_argument(
        "--render", default=None, help="re-render tables/docs from a --json file; run nothing"
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts, 1 run (smoke test)")
    parser.add_argument(
        "--asyncio",
        action="store_true",
        help="the asyncio section: ours-aio, stompman, aiostomp, raw-aio and the threaded "
        f"client on {','.join(AIO_SECTION_CASES)} (the default --cases then)",
    )
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default="asyncio", help="asyncio clients' loop"
    )
    return parser.parse_args(argv)


def settings(args: argparse.Namespace) -> Settings:
    quick = args.quick
    count = args.count or (200 if quick else 20_000)
    lat_seconds = args.latency_seconds or (0.25 if quick else 3.0)
    rss_count = args.rss_count or (max(2 * count, 1000) if quick else 1_000_000)
    return Settings(
        count=count,
        size=args.size,
        runs=args.runs or (1 if quick else 3),
        window=args.window,
        threads=args.threads,
        rate=args.rate,
        latency_count=max(20, int(args.rate * lat_seconds)),
        rss_count=rss_count,
        rss_runs=args.rss_runs,
        warmup=min(10_000, rss_count // 5),
        rss_max_seconds=args.rss_max_seconds,
        drain_idle=0.2 if quick else 0.5,
        warmup_rounds=args.warmup_rounds if args.warmup_rounds is not None else (0 if quick else 3),
        asyncio=args.asyncio,
        loop=args.loop,
    )


def render(path: Path, args: argparse.Namespace) -> int:
    """Print (and with ``--write-docs`` write) the report of a saved ``--json`` file."""
    data = json.loads(path.read_text())
    cfg = Settings(**data["settings"])
    specs, summaries = [], {}
    for name, info in data["brokers"].items():
        specs.append(BrokerSpec(name, info["url"], "/", info["version"]))
        summaries[name] = summarize(info["results"])
    env = data["environment"]
    print("\n".join(environment_lines(env, specs)))
    section = aio_broker_section if cfg.asyncio else broker_section
    for spec in specs:
        print()
        print("\n".join(section(spec, summaries[spec.name], cfg)))
        for case, text in data["brokers"][spec.name].get("profiles", {}).items():
            print(f"\ncProfile of ours, {case} ({spec.name}), top 15 by own time:\n\n{text}")
    if args.write_docs:
        save_for_charts(path.read_text(encoding="utf-8"), Path(args.docs_path), chart_name(cfg))
        write_report_docs(
            Path(args.docs_path), env, specs, summaries, cfg, data["command"], data["skipped"]
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = settings(args)
    known_cases = AIO_SECTION_CASES if args.asyncio else ALL_CASES
    cases = []
    for name in (args.cases or ",".join(known_cases)).split(","):
        name = name.strip()
        if name == "receipt" and not args.asyncio:
            cases += ["receipt-single", "receipt-pipelined"]
        elif name in known_cases:
            cases.append(name)
        elif name:
            raise SystemExit(f"unknown case {name!r}; choose from {', '.join(known_cases)}")
    env = environment()
    command = "python -m benchmarks.e2e " + " ".join(argv if argv is not None else sys.argv[1:])

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if args.render:
        return render(Path(args.render), args)
    known = real_brokers()
    wanted = [b.strip() for b in args.brokers.split(",") if b.strip()]
    specs: list[BrokerSpec] = []
    skipped: dict[str, str] = {}
    summaries: dict[str, dict[str, Any]] = {}
    all_results: dict[str, list[dict[str, Any]]] = {}
    profiles: dict[str, dict[str, str]] = {}
    with contextlib.ExitStack() as stack:
        for name in wanted:
            if name == "embedded":
                spec = stack.enter_context(embedded_broker())
            elif name in known:
                spec = known[name]
                why = probe(spec)
                if why is not None:
                    skipped[name] = f"no STOMP broker answering at {spec.url}: {why}"
                    log(f"skipping {name}: {skipped[name]}")
                    continue
            else:
                raise SystemExit(f"unknown broker {name!r}")
            specs.append(spec)
            log(f"{spec.name} {spec.version} at {spec.url}")
            results = run_broker(spec, cases, cfg, log)
            all_results[spec.name] = results
            summaries[spec.name] = summarize(results)
            if args.profile:
                try:
                    profiles[spec.name] = profile_ours(spec, cfg, Path(args.profile))
                except (OSError, ConnectionError) as exc:
                    log(f"  {spec.name}: profiling failed: {exc}")

    env["loadavg_end"] = list(os.getloadavg())
    print("# End-to-end benchmark\n")
    print("\n".join(environment_lines(env, specs)))
    for name, why in skipped.items():
        print(f"- {name}: not measured ({why})")
    section = aio_broker_section if cfg.asyncio else broker_section
    for spec in specs:
        print()
        print("\n".join(section(spec, summaries[spec.name], cfg)))
        for case, text in profiles.get(spec.name, {}).items():
            print(f"\ncProfile of ours, {case} ({spec.name}), top 15 by own time:\n\n{text}")

    if args.json or args.write_docs:
        payload = {
            "environment": env,
            "command": command,
            "settings": cfg.__dict__,
            "skipped": skipped,
            "brokers": {
                s.name: {
                    "url": s.url,
                    "version": s.version,
                    "summary": summaries[s.name],
                    "targets": [
                        {"target": t, "measured": m, "raw": r, "passed": p}
                        for t, m, r, p in (aio_targets if cfg.asyncio else targets)(
                            summaries[s.name], cfg
                        )
                    ],
                    "results": all_results[s.name],
                    "profiles": profiles.get(s.name, {}),
                }
                for s in specs
            },
        }
        payload_text = json.dumps(payload, indent=1, default=str) + "\n"
        if args.json:
            Path(args.json).write_text(payload_text)
    if args.write_docs:
        save_for_charts(payload_text, Path(args.docs_path), chart_name(cfg))
        write_report_docs(Path(args.docs_path), env, specs, summaries, cfg, command, skipped)
    failed = any(
        e["status"] in ("ERROR", "WRONG")
        for s in summaries.values()
        for c in s.values()
        for e in c.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
