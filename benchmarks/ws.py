"""STOMP over WebSocket: ours over ws:// vs ours over tcp:// (same broker) vs stomp.py's
WebSocket transport, produce and consume, same run.

Run::

    python -m benchmarks.ws --broker rabbitmq [--count 20000] [--size 1024] [--runs 3]
                            [--warmup 1] [--pack N] [--json PATH] [--write-docs]
    python -m benchmarks.ws --tcp tcp://127.0.0.1:61730 --ws ws://127.0.0.1:61730/ \
                            --name artemis --broker-pid PID

``--broker rabbitmq`` starts a private RabbitMQ with Web STOMP
(:mod:`integration.websocket_brokers`) and stops it at the end; ``--broker activemq`` the
same with an Apache ActiveMQ 5.18 distribution (``--activemq-home``; ours then sends text
messages); ``--broker artemis`` uses the shared Artemis (its STOMP port speaks both);
``--broker embedded`` starts :class:`stomp_enterprise.testing.Broker` twice in this process
(TCP and WebSocket): a smoke run, its broker is the bottleneck. ``--tcp``/``--ws`` name any
pair of URLs of one broker (``--name`` it for the docs). The broker's CPU per message is
measured too when its PID is known (private brokers, the shared Artemis' PID file,
``--broker-pid``). ``--warmup N`` runs N unrecorded rounds first (a fresh JVM compiles).
``--write-docs`` keeps the run's broker in ``docs/bench/ws.json`` (other brokers' entries,
from their own runs, stay), redraws its charts (:mod:`benchmarks.charts`) and regenerates
the WebSocket section of ``docs/benchmarks.md``, keeping its hand-written notes.

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
import dataclasses
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import charts
from benchmarks.e2e import WS_BEGIN, WS_END, BrokerSpec, Settings, replace_section, run_peer
from benchmarks.e2e_peers import LOGIN, PASSCODE, raw_drain, raw_produce
from benchmarks.marker_cost import process_cpu
from stomp_enterprise.core.flavour import Flavour, flavour_of

#: (label, client of benchmarks.e2e_peers, which URL)
PEERS = (("ours tcp", "ours", "tcp"), ("ours ws", "ours", "ws"), ("stomp.py ws", "stomp.py", "ws"))
CASES = ("produce", "consume")
TARGETS = {"ws/tcp": 0.8, "ws/stomp.py ws": 1.5}
ROOT = Path(__file__).resolve().parents[1]
#: ``--write-docs``: the section of this page between the WS_BEGIN/WS_END markers, from the
#: JSON kept beside its charts (one entry per broker: each run replaces its broker's)
DOCS = ROOT / "docs" / "benchmarks.md"
CHART_DATA = ROOT / "docs" / "bench" / "ws.json"
#: hand-written reading inside the section, kept by ``--write-docs``
NOTES_BEGIN, NOTES_END = "<!-- websocket-notes:begin -->", "<!-- websocket-notes:end -->"
#: peer label -> client name in the charts' JSON (:mod:`benchmarks.charts` colours them)
CHART_CLIENTS = {"ours tcp": "ours-tcp", "ours ws": "ours-ws", "stomp.py ws": "stomp.py-ws"}


@dataclass(frozen=True)
class Pair:
    """One broker reached two ways."""

    name: str
    tcp: str
    ws: str
    vhost: str = "/"
    pid: int | None = None  # the broker's process, for its CPU per message
    text: bool = False  # ours sends text messages (ActiveMQ Classic ignores binary ones)


def _shared_pid(name: str) -> int | None:
    """The PID of a shared integration broker (``integration/brokers/start.sh``'s PID file)."""
    root = Path(os.environ.get("STOMP_BROKERS_DIR", "/tmp/stomp-enterprise-brokers"))
    with contextlib.suppress(OSError, ValueError):
        pid = int((root / name / f"{name}.pid").read_text().strip())
        return pid if Path(f"/proc/{pid}/stat").exists() else None
    return None


@contextlib.contextmanager
def broker_pair(args: argparse.Namespace) -> Iterator[Pair]:
    """The broker to measure, started (and stopped) here when it is private."""
    if args.tcp and args.ws:
        yield Pair(args.name or "given", args.tcp, args.ws, pid=args.broker_pid)
    elif args.broker == "artemis":
        pid = args.broker_pid or _shared_pid("artemis")
        yield Pair("artemis", "tcp://127.0.0.1:61730", "ws://127.0.0.1:61730/", pid=pid)
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
            yield Pair("rabbitmq", broker.url, broker.ws_url, pid=broker.pid)
    elif args.broker == "activemq":
        from integration.websocket_brokers import PrivateWebActiveMQ

        home = Path(args.activemq_home or os.environ.get("ACTIVEMQ_WS_HOME", ""))
        with tempfile.TemporaryDirectory(prefix="stomp-ws-bench-") as root:
            amq = PrivateWebActiveMQ(Path(root), home)
            if not amq.installed():
                raise SystemExit(
                    f"--broker activemq needs an Apache ActiveMQ 5.18 home (--activemq-home or "
                    f"ACTIVEMQ_WS_HOME; Debian's package has no ws transport): {home}"
                )
            amq.start(clean=True)
            try:
                yield Pair("activemq", amq.url, amq.ws_url, pid=amq.pid, text=True)
            finally:
                amq.stop()
    else:
        raise SystemExit("give --broker rabbitmq|artemis|activemq|embedded, or --tcp and --ws")


def measure(
    pair: Pair,
    case: str,
    label: str,
    client: str,
    via: str,
    cfg: Settings,
    broker_pid: int | None = None,
) -> dict[str, Any]:
    """One measurement: pre-load (consume), run the client in its own process, check; with
    ``broker_pid``, the broker's CPU (``/proc``) over the client's whole run (connect to
    disconnect) per message too."""
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
    before = process_cpu(broker_pid) if broker_pid else 0.0
    result = run_peer(spec, client, case, dest, cfg.count, cfg)
    if broker_pid:
        result["broker_cpu_us_per_msg"] = (process_cpu(broker_pid) - before) / cfg.count * 1e6
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
        ws_pack=args.pack,
    )
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_start = list(os.getloadavg())
    with broker_pair(args) as pair:
        cfg = dataclasses.replace(cfg, ws_text=pair.text)
        server = broker_server(pair)
        for round_index in range(args.warmup):  # not recorded: a fresh JVM compiles first
            for case in CASES:
                for label, client, via in PEERS:
                    result = measure(pair, case, label, client, via, cfg, pair.pid)
                    print(f"warm-up {round_index + 1} {case:8} {label:12} {_shown(result)}")
        for run_index in range(args.runs):
            for case in CASES:
                shift = run_index % len(PEERS)
                for label, client, via in PEERS[shift:] + PEERS[:shift]:
                    result = measure(pair, case, label, client, via, cfg, pair.pid)
                    results.setdefault(case, {}).setdefault(label, []).append(result)
                    shown = _shown(result)
                    print(f"run {run_index + 1} {case:8} {label:12} {shown}", flush=True)
    return {
        "broker": pair.name,
        "server": server,
        "tcp": pair.tcp,
        "ws": pair.ws,
        "count": args.count,
        "size": args.size,
        "runs": args.runs,
        "pack": "automatic" if args.pack is None else args.pack,
        "text": pair.text,
        "date": started,
        "loadavg": [load_start, list(os.getloadavg())],
        "summary": summarize(results),
        "raw": results,
    }


def broker_server(pair: Pair) -> str:
    """The broker's CONNECTED ``server`` header (e.g. ``ActiveMQ-Artemis/2.40.0``), over TCP."""
    from stomp_enterprise import Client

    with Client(
        pair.tcp, login=LOGIN, passcode=PASSCODE, vhost=pair.vhost, heart_beats=(0, 0)
    ) as client:
        return client.server or "?"


def _shown(result: dict[str, Any]) -> str:
    """One measurement as a progress line: msg/s, client and broker CPU µs/msg."""
    rate = result.get("msgs_per_s")
    if not rate:
        return str(result.get("error") or result.get("na"))
    text = f"{rate:,.0f} msg/s, client {result['cpu_us_per_msg']:.1f} µs/msg"
    if "broker_cpu_us_per_msg" in result:
        text += f", broker {result['broker_cpu_us_per_msg']:.1f} µs/msg"
    return text


def summarize(results: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Median msgs/s and CPU µs/msg per case and peer, and the target ratios (the ratio of
    medians, and each run's ratio so the spread shows)."""
    summary: dict[str, Any] = {}
    for case, peers in results.items():
        row: dict[str, Any] = {}
        for label, runs in peers.items():
            rates = [r["msgs_per_s"] for r in runs if "msgs_per_s" in r and "error" not in r]
            cpus = [r["cpu_us_per_msg"] for r in runs if "cpu_us_per_msg" in r and "error" not in r]
            brokers = [
                r["broker_cpu_us_per_msg"]
                for r in runs
                if "broker_cpu_us_per_msg" in r and "error" not in r
            ]
            row[label] = {
                "msgs_per_s": statistics.median(rates) if rates else None,
                "cpu_us_per_msg": statistics.median(cpus) if cpus else None,
                "broker_cpu_us_per_msg": statistics.median(brokers) if brokers else None,
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


# --------------------------------------------------------------------------------------------
# the docs: JSON for the charts, the page's section
# --------------------------------------------------------------------------------------------


def _revision() -> str:
    """The library's git commit (short), ``?`` outside a checkout."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout.strip() or "?"
    return "?"


def chart_broker(report: dict[str, Any], command: str) -> dict[str, Any]:
    """One run's report (:func:`run`) as a broker entry of the charts' JSON: the summary as
    case -> client -> entry (``status`` ok only when every run moved every message), the
    ratios, and what the page says about the run."""
    server = str(report.get("server") or "?")
    version = server.split("/", 1)[1].split(maxsplit=1)[0] if "/" in server else server
    summary: dict[str, dict[str, Any]] = {}
    ratios: dict[str, dict[str, Any]] = {}
    for case, row in report["summary"].items():
        summary[case] = {}
        for label, client in CHART_CLIENTS.items():
            if label not in row:
                continue
            entry = row[label]
            ok = entry["msgs_per_s"] is not None and not entry["errors"]
            summary[case][client] = {
                "status": "ok" if ok else "ERROR",
                "msgs_per_s": entry["msgs_per_s"],
                "cpu_us_per_msg": entry["cpu_us_per_msg"],
                "broker_cpu_us_per_msg": entry.get("broker_cpu_us_per_msg"),
                "runs": entry["runs"],
                "errors": entry["errors"],
            }
        ratios[case] = {name: row[name] for name in TARGETS if name in row}
    return {
        "url": report["tcp"],
        "ws_url": report["ws"],
        "server": server,
        "version": version,
        "date": report.get("date"),
        "loadavg": report.get("loadavg"),
        "library": _revision(),
        "command": command,
        "pack": report.get("pack"),
        "text": bool(report.get("text")),
        "count": report["count"],
        "size": report["size"],
        "runs": report["runs"],
        "summary": summary,
        "ratios": ratios,
    }


def save_for_docs(report: dict[str, Any], command: str, path: Path = CHART_DATA) -> dict[str, Any]:
    """Put this run's broker into the charts' JSON at ``path`` (the other brokers' entries,
    from their own runs, are kept) and redraw the charts beside it; the whole JSON."""
    data: dict[str, Any] = (
        json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"brokers": {}}
    )
    data["label"] = "over WebSocket"
    data["settings"] = {"count": report["count"], "size": report["size"]}
    data["brokers"][report["broker"]] = chart_broker(report, command)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for old in path.parent.glob(f"{path.stem}-{report['broker']}-*.svg"):
        old.unlink()  # a case no longer measured leaves no stale chart
    charts.render(path)
    return data


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "n/a"
    if entry["status"] != "ok":
        return "ERROR: " + "; ".join(entry.get("errors") or ["no rate"])[:120]
    text = f"{entry['msgs_per_s']:,.0f} ({entry['cpu_us_per_msg']:.1f}"
    broker = entry.get("broker_cpu_us_per_msg")
    return text + (f"; {broker:.1f})" if broker is not None else ")")


def _ratio(ratio: dict[str, Any] | None) -> str:
    if not ratio:
        return "n/a"
    runs = ", ".join(f"{r:.2f}" for r in ratio["per_run"])
    verdict = "pass" if ratio["pass"] else "**FAIL**"
    return f"{ratio['median_ratio']:.2f} [{runs}] {verdict}"


def broker_lines(name: str, info: dict[str, Any]) -> list[str]:
    """The page's part for one broker: when, how, and its table."""
    load = info.get("loadavg") or [[], []]
    shown_load = " → ".join(", ".join(f"{v:.1f}" for v in each) for each in load)
    pack = info.get("pack")
    packed = flavour_of(info.get("server")) in (Flavour.ARTEMIS, Flavour.RABBITMQ)
    automatic = f"automatic (the client's default: {'up to 16 KiB' if packed else 'none here'})"
    packing = (
        automatic
        if pack in (None, "automatic")
        else "one STOMP frame per message"
        if pack == 0
        else f"{pack} bytes"
    )
    if info.get("text"):
        packing += "; text messages (ActiveMQ Classic ignores binary ones)"
    lines = [
        f"### {name} {info['version']} (`{info['url']}`, `{info['ws_url']}`)",
        "",
        f"- {info['date']}, library `{info['library']}`, N = {info['count']:,} x "
        f"{info['size']} B, {info['runs']} runs; load average (1, 5, 15 min) {shown_load}",
        f"- ours ws packing: {packing}; command: `{info['command']}`",
        "",
        "| case | ours tcp msg/s (client CPU; broker CPU µs/msg) | ours ws | stomp.py ws "
        "| ws / tcp (target ≥ 0.8) | ws / stomp.py ws (target ≥ 1.5) |",
        "|---|---|---|---|---|---|",
    ]
    summary = info["summary"]
    for case in [c for c in CASES if c in summary] + [c for c in summary if c not in CASES]:
        row = summary[case]
        ratios = info["ratios"].get(case, {})
        cells = [_cell(row.get(client)) for client in CHART_CLIENTS.values()]
        lines.append(
            f"| {case} | {' | '.join(cells)} | {_ratio(ratios.get('ws/tcp'))} "
            f"| {_ratio(ratios.get('ws/stomp.py ws'))} |"
        )
    return lines


SECTION_HEAD = """## STOMP over WebSocket

Generated by `python -m benchmarks.ws --write-docs` (one broker per run; a run replaces its
broker's part and the charts: rerun it rather than editing by hand). Three peers against
**the same broker**, in the same run, the order rotating from run to run: **ours tcp**
(`tcp://`), **ours ws** (`ws://`, binary messages; whole STOMP frames packed into messages
of up to 16 KiB for Artemis and RabbitMQ, the client's automatic default, see
[WebSocket](websocket.md#messages-heart-beats-pings-close)) and **stomp.py ws** (stomp.py's
`WSStompConnection` on websocket-client, which offers no subprotocol). produce: N-1 SENDs
then one receipted; consume: client-individual, ACK each. Every measurement is a fresh
process on a fresh queue, checked afterwards (WRONG otherwise). Medians of the runs; the
ratio columns are ratios of the medians, each run's own ratio in brackets. Client CPU is the
client process's; broker CPU is the broker process's user + system time (`/proc/<pid>/stat`)
over the client's whole run, connect to disconnect, per message.
"""


def docs_section(data: dict[str, Any], docs_dir: Path, data_path: Path = CHART_DATA) -> str:
    """The page's WebSocket section (markers included) from the charts' JSON."""
    lines = [WS_BEGIN, SECTION_HEAD]
    lines += charts.markdown(data_path, docs_dir, level=3)
    for name, info in data["brokers"].items():
        lines += [*broker_lines(name, info), ""]
    lines += [NOTES_BEGIN, NOTES_END, WS_END]
    return "\n".join(lines)


def write_docs(data: dict[str, Any], path: Path = DOCS, data_path: Path = CHART_DATA) -> None:
    """Replace the WebSocket section of ``path`` (appended when it has none), keeping the
    hand-written notes inside it."""
    block = docs_section(data, path.parent, data_path)
    replace_section(path, block, WS_BEGIN, WS_END, (NOTES_BEGIN, NOTES_END))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=("rabbitmq", "artemis", "activemq", "embedded"))
    parser.add_argument(
        "--activemq-home",
        help="--broker activemq: an Apache ActiveMQ 5.18 distribution (env ACTIVEMQ_WS_HOME)",
    )
    parser.add_argument("--tcp", help="the broker's tcp:// URL (with --ws)")
    parser.add_argument("--ws", help="the same broker's ws:// URL (with --tcp)")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--pack",
        type=int,
        default=None,
        help="ours over ws://: WebSocketOptions(pack=N) (0: one STOMP frame per message; "
        "default: automatic, as the client decides by broker)",
    )
    parser.add_argument("--name", help="the broker's name with --tcp/--ws (e.g. artemis)")
    parser.add_argument(
        "--warmup", type=int, default=0, help="unrecorded rounds first (a fresh JVM compiles)"
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"keep the run in {CHART_DATA.relative_to(ROOT)}, redraw its charts and the "
        f"WebSocket section of {DOCS.relative_to(ROOT)}",
    )
    parser.add_argument(
        "--broker-pid",
        type=int,
        help="the broker's PID: its CPU per message (from /proc) is measured too",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    text = json.dumps(report["summary"], indent=2)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.write_docs:
        command = "python -m benchmarks.ws " + " ".join(argv if argv is not None else sys.argv[1:])
        write_docs(save_for_docs(report, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
