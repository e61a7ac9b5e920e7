r"""Parser and serializer throughput: stomp_enterprise vs stomp.py vs stompest.

Run::

    python -m benchmarks.bench_parser [--quick] [--runs N] [--json PATH]

Parsing: each workload is ONE byte stream of MESSAGE frames (produced by our serializer for STOMP
1.2, so ``message-id``/``ack`` colons are escaped as ``\c``), cut into 64 KiB chunks and fed to
each library's real receive path (see :mod:`benchmarks.peers`). Both peers implement 1.2 header
unescaping, so no colon-free variant is needed; a peer that could not would be reported WRONG.
The same stream is used for every parser. What is timed is the library delivering its *own*
frame objects; converting them to comparable tuples happens outside the timed region.

Throughput is frames in the stream per second of parsing (for a parser that drops frames this is
still the rate it consumes the stream at; its correctness column says WRONG). Every parser is
checked on every workload: frame count, command, body, and all headers (``message-id`` and
``destination`` in particular) against the frames the stream was built from. A peer raising on
the input is reported as ERROR and not timed.

Serializing: frames/s for building the wire bytes of the same MESSAGE frames from
``(command, headers dict, body)`` with each library's send path (ours: ``protocol.serialize``,
which escapes and validates the values; a user-built ``Frame(...).to_bytes()`` adds about 2 µs of
constructor type checks per frame); the output is checked by parsing it back with our parser
(header order may differ: both peers sort headers by name).

Each measurement is the median of ``--runs`` runs; a run repeats whole passes until at least
``min_time`` seconds have elapsed (0.3 s, or 0.05 s with ``--quick``; CPU time of this process
by default, ``--clock wall`` for elapsed time), so every run lasts about
0.3-1 s however fast the library is. Runs of the libraries alternate (ours, stomp.py, stompest,
ours, ...) so that drifting machine load hits all of them alike; the JSON keeps every run.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.peers import (
    PARSERS,
    SERIALIZERS,
    ParsedFrame,
    parse_native_ours_full,
    parse_stream_ours,
    serialize_ours_frame,
)
from stomp_enterprise.protocol import parser as parser_module
from stomp_enterprise.protocol.frames import Frame

CHUNK_SIZE = 64 * 1024
Clock = Callable[[], float]
#: ``cpu`` counts only this process's CPU time, so other processes competing for the cores (a
#: shared CI box, brokers running next to the benchmark) distort the rates far less than with
#: ``wall``; the parsers are single-threaded and CPU-bound, so on an idle machine both agree.
CLOCKS: dict[str, Clock] = {"cpu": time.process_time, "wall": time.perf_counter}
PEERS: tuple[str, ...] = ("ours", "stomp.py", "stompest")
_ROOT = Path(__file__).resolve().parents[1]
_LOREM = (
    b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    b"ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation. "
)


# --------------------------------------------------------------------------------------------
# workloads
# --------------------------------------------------------------------------------------------


@dataclass
class Workload:
    """One benchmark input.

    Attributes:
        name: short identifier used in tables and JSON.
        description: what the stream contains.
        frames: the frames the stream encodes, as ``(command, headers, body)``.
        stream: the wire bytes (frames plus any heart-beats between them).
        chunks: ``stream`` cut into ``CHUNK_SIZE`` pieces, as a socket would deliver it.
        heartbeats: EOLs between frames in ``stream``.
    """

    name: str
    description: str
    frames: list[ParsedFrame]
    stream: bytes = b""
    chunks: list[bytes] = field(default_factory=list)
    heartbeats: int = 0


def message_headers(i: int, body: bytes, content_type: str) -> dict[str, str]:
    """The 9 headers an ActiveMQ-like broker puts on a MESSAGE, plus ``content-length``.

    Args:
        i: the message sequence number (makes ids and timestamps unique).
        body: the body, for ``content-length``.
        content_type: the ``content-type`` value.

    Returns:
        The headers in wire order.
    """
    message_id = f"ID:host-41234-1700000000000-1:1:1:1:{i}"
    return {
        "destination": "/queue/orders.eu-west.incoming",
        "message-id": message_id,
        "subscription": "sub-0",
        "ack": message_id,
        "content-type": content_type,
        "persistent": "true",
        "priority": "4",
        "timestamp": str(1700000000000 + i),
        "expires": "0",
        "content-length": str(len(body)),
    }


def _text_body(i: int, size: int) -> bytes:
    prefix = f"message {i:08d} ".encode()
    filler = _LOREM * (size // len(_LOREM) + 1)
    return (prefix + filler)[:size]


def _binary_body(i: int, size: int) -> bytes:
    body = bytearray(random.Random(i).randbytes(size))
    body[::128] = bytes(len(body[::128]))  # at least one NUL every 128 bytes
    body[5:9] = b"\n\n\r\n"  # EOLs that must not be mistaken for the end of the headers
    return bytes(body)


def _mixed_heartbeat(i: int) -> bytes:
    """1-4 EOLs after frame ``i``, LF or CRLF in a fixed pattern (covers LF+CRLF, CRLF+LF...)."""
    return b"".join(b"\r\n" if (i + j) % 3 == 0 else b"\n" for j in range(1 + i % 4))


def _lf_heartbeat(i: int) -> bytes:
    return b"\n" * (1 + i % 4)


def _build(
    name: str,
    description: str,
    count: int,
    body: Callable[[int], bytes],
    content_type: str = "text/plain;charset=utf-8",
    separator: Callable[[int], bytes] | None = None,
) -> Workload:
    frames: list[ParsedFrame] = []
    parts: list[bytes] = []
    heartbeats = 0
    for i in range(count):
        payload = body(i)
        headers = message_headers(i, payload, content_type)
        frames.append(("MESSAGE", headers, payload))
        parts.append(Frame("MESSAGE", headers, payload).to_bytes("1.2"))
        if separator is not None:
            eols = separator(i)
            heartbeats += eols.count(b"\n")
            parts.append(eols)
    stream = b"".join(parts)
    chunks = [stream[pos : pos + CHUNK_SIZE] for pos in range(0, len(stream), CHUNK_SIZE)]
    return Workload(name, description, frames, stream, chunks, heartbeats)


def build_workloads(quick: bool) -> list[Workload]:
    """The parse workloads; ``quick`` makes the streams 10x shorter.

    Args:
        quick: smaller streams for a fast smoke run.

    Returns:
        The workloads, in table order.
    """
    scale = 10 if quick else 1
    return [
        _build(
            "16B",
            "16 B text body",
            10000 // scale,
            lambda i: f"payload-{i:08d}".encode(),
        ),
        _build("1KiB", "1 KiB text body", 6000 // scale, lambda i: _text_body(i, 1024)),
        _build("64KiB", "64 KiB text body", 300 // scale, lambda i: _text_body(i, 65536)),
        _build(
            "1KiB-binary",
            "1 KiB binary body with NULs (content-length)",
            6000 // scale,
            lambda i: _binary_body(i, 1024),
            content_type="application/octet-stream",
        ),
        _build(
            "1KiB-hb-mixed",
            "1 KiB text body, 1-4 LF/CRLF heart-beats (mixed) between frames",
            6000 // scale,
            lambda i: _text_body(i, 1024),
            separator=_mixed_heartbeat,
        ),
        _build(
            "1KiB-hb-lf",
            "1 KiB text body, 1-4 LF-only heart-beats between frames (extra)",
            6000 // scale,
            lambda i: _text_body(i, 1024),
            separator=_lf_heartbeat,
        ),
    ]


# --------------------------------------------------------------------------------------------
# correctness
# --------------------------------------------------------------------------------------------


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_frames(expected: Sequence[ParsedFrame], got: Sequence[ParsedFrame]) -> str:
    """Compare parsed frames with the expected ones.

    Args:
        expected: the frames the stream was built from.
        got: what a parser returned.

    Returns:
        ``"OK"``, or ``"WRONG: <n>/<m> frames, first mismatch ..."``.
    """
    index_of = {frame[1]["message-id"]: n for n, frame in enumerate(expected)}
    problem = ""
    for n, ((command, headers, body), (e_command, e_headers, e_body)) in enumerate(
        zip(got, expected, strict=False)
    ):
        if command != e_command:
            problem = f"frame #{n} command {_short(command)} != {e_command!r}"
        elif headers.get("message-id") != e_headers["message-id"]:
            where = index_of.get(headers.get("message-id", ""))
            problem = f"frame #{n} message-id {_short(headers.get('message-id'))}" + (
                f" is expected frame #{where} (frames dropped/reordered)"
                if where is not None
                else ""
            )
        elif headers.get("destination") != e_headers["destination"]:
            problem = f"frame #{n} destination {_short(headers.get('destination'))}"
        elif body != e_body:
            problem = f"frame #{n} body {len(body)} B {_short(body[:24])}, expected {len(e_body)} B"
        elif dict(headers) != e_headers:
            diff = sorted(set(headers.items()) ^ set(e_headers.items()))
            problem = f"frame #{n} headers differ: {_short(diff)}"
        if problem:
            break
    if not problem and len(got) != len(expected):
        problem = f"{'missing' if len(got) < len(expected) else 'extra'} frames at the end"
    if problem:
        return f"WRONG: {len(got)}/{len(expected)} frames, first mismatch: {problem}"
    return "OK"


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------


def time_run(
    work: Callable[[], object], items: int, min_time: float, clock: Clock = time.process_time
) -> float:
    """Items per second of ``work`` (one full pass over ``items`` items) over one run.

    Args:
        work: one full pass over the input.
        items: how many items (frames) one pass processes.
        min_time: the run repeats passes until this many seconds have elapsed.
        clock: ``time.process_time`` (CPU seconds of this process) or ``time.perf_counter``.

    Returns:
        The rate of the run.
    """
    gc.collect()
    passes = 0
    start = clock()
    while True:
        work()
        passes += 1
        elapsed = clock() - start
        if elapsed >= min_time:
            return passes * items / elapsed


def time_interleaved(
    works: Mapping[str, Callable[[], object]],
    items: int,
    runs: int,
    min_time: float,
    clock: Clock = time.process_time,
) -> dict[str, list[float]]:
    """Time several libraries on the same input, alternating between them run by run.

    Interleaving spreads any drift in machine load (other processes, CPU frequency) over all
    libraries instead of penalising whichever happens to run during a busy moment.

    Args:
        works: library name -> one full pass over the input.
        items: how many items (frames) one pass processes.
        runs: runs per library.
        min_time: minimum seconds per run.
        clock: see :func:`time_run`.

    Returns:
        Library name -> the rate of each of its runs.
    """
    rates: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(runs):
        for name, work in works.items():
            rates[name].append(time_run(work, items, min_time, clock))
    return rates


class _LogCounter(logging.Handler):
    """Counts (and swallows) stomp.py's log records, e.g. its dropped-frame warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.last = record.getMessage()


@dataclass
class Result:
    """One library on one workload."""

    status: str
    rates: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float | None:
        """Median rate over the runs, ``None`` when not timed."""
        return statistics.median(self.rates) if self.rates else None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "status": self.status,
            "median_frames_per_s": self.median,
            "runs_frames_per_s": self.rates,
            "note": self.note,
        }


def _parse_pass(
    native: Callable[[list[bytes]], object], chunks: list[bytes]
) -> Callable[[], object]:
    return lambda: native(chunks)


def bench_parse(
    workload: Workload,
    runs: int,
    min_time: float,
    log: _LogCounter,
    clock: Clock,
    ours: Callable[[list[bytes]], object] | None = None,
) -> dict[str, Result]:
    """Check and time every parser on one workload.

    Args:
        workload: the input.
        runs: runs per parser.
        min_time: minimum seconds per run.
        log: the counter attached to stomp.py's logger.
        clock: see :func:`time_run`.
        ours: time this instead of our client's parse (e.g. every header materialized).

    Returns:
        Result per parser name.
    """
    results: dict[str, Result] = {}
    works: dict[str, Callable[[], object]] = {}
    for name in PEERS:
        native, normalized = PARSERS[name]
        log.count, log.last = 0, ""
        try:
            got = normalized(workload.chunks)
        except Exception as exc:  # a peer failing on the input is a result, not a crash
            results[name] = Result(f"ERROR: {type(exc).__name__}: {exc}")
            continue
        note = f"stomp.py logged {log.count} warnings, last: {log.last!r}" if log.count else ""
        results[name] = Result(check_frames(workload.frames, got), note=note)
        works[name] = _parse_pass(
            ours if ours is not None and name == "ours" else native, workload.chunks
        )
    for name, rates in time_interleaved(works, len(workload.frames), runs, min_time, clock).items():
        results[name].rates = rates
    return results


def _serialize_pass(
    serialize: Callable[[str, Mapping[str, str], bytes], bytes], frames: list[ParsedFrame]
) -> Callable[[], None]:
    def work() -> None:
        for command, headers, body in frames:
            serialize(command, headers, body)

    return work


def bench_serialize(
    workload: Workload,
    runs: int,
    min_time: float,
    clock: Clock,
    ours: Callable[[str, Mapping[str, str], bytes], bytes] | None = None,
) -> dict[str, Result]:
    """Check and time every serializer on the frames of one workload.

    Args:
        workload: its frames are serialized (heart-beats play no part).
        runs: runs per serializer.
        min_time: minimum seconds per run.
        clock: see :func:`time_run`.
        ours: our serializer to use instead of ``protocol.serialize`` (e.g. through a
            user-built ``Frame``).

    Returns:
        Result per serializer name.
    """
    results: dict[str, Result] = {}
    works: dict[str, Callable[[], object]] = {}
    frames = workload.frames
    for name in PEERS:
        serialize = ours if ours is not None and name == "ours" else SERIALIZERS[name]
        try:
            wire = b"".join(serialize(c, h, b) for c, h, b in frames)
            status = check_frames(frames, parse_stream_ours([wire]))
        except Exception as exc:
            results[name] = Result(f"ERROR: {type(exc).__name__}: {exc}")
            continue
        results[name] = Result(status)
        works[name] = _serialize_pass(serialize, frames)
    for name, rates in time_interleaved(works, len(frames), runs, min_time, clock).items():
        results[name].rates = rates
    return results


# --------------------------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------------------------


def _rate(result: Result) -> str:
    median = result.median
    return "—" if median is None else f"{median:,.0f}"


def _ratio(ours: Result, peer: Result) -> str:
    if ours.median is None or peer.median is None:
        return "n/a"
    mark = "" if peer.status == "OK" else "*"
    return f"{ours.median / peer.median:.2f}x{mark}"


def _status(result: Result, footnotes: list[str]) -> str:
    if result.status == "OK":
        return "OK"
    footnotes.append(result.status + (f" ({result.note})" if result.note else ""))
    word = result.status.split(":", 1)[0]
    return f"{word} [{len(footnotes)}]"


def render_table(title: str, rows: Iterable[tuple[Workload, dict[str, Result]]], unit: str) -> str:
    """A markdown table of rates, ratios and correctness, with footnotes for failures.

    Args:
        title: heading line.
        rows: (workload, result per library).
        unit: rate unit for the header.

    Returns:
        The table text.
    """
    footnotes: list[str] = []
    lines = [
        f"### {title}",
        "",
        f"| workload | ours {unit} | stomp.py | stompest | ours/stomp.py | ours/stompest "
        "| ours | stomp.py | stompest |",
        "|---|--:|--:|--:|--:|--:|---|---|---|",
    ]
    for workload, res in rows:
        ours, spy, sst = res["ours"], res["stomp.py"], res["stompest"]
        statuses = " | ".join(_status(res[name], footnotes) for name in PEERS)
        lines.append(
            f"| {workload.name} | {_rate(ours)} | {_rate(spy)} | {_rate(sst)} "
            f"| {_ratio(ours, spy)} | {_ratio(ours, sst)} | {statuses} |"
        )
    lines.append("")
    if footnotes:
        lines.append(
            "`*` ratio against a parser whose output was WRONG (it consumed the stream "
            "at that rate but delivered wrong/missing frames)."
        )
        lines.extend(f"[{n}] {text}" for n, text in enumerate(footnotes, start=1))
        lines.append("")
    return "\n".join(lines)


def _code_hash() -> str:
    digest = hashlib.sha256()
    for rel in ("parser.py", "frames.py", "serializer.py", "escaping.py", "_speedups.c"):
        path = _ROOT / "stomp_enterprise" / "protocol" / rel
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def environment() -> dict[str, str]:
    """Python, machine, library versions, date and a hash of our protocol code."""
    return {
        "python": sys.version.split()[0] + f" ({platform.python_implementation()})",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_1m": f"{os.getloadavg()[0]:.2f}",
        "stomp.py": importlib.metadata.version("stomp.py"),
        "stompest": importlib.metadata.version("stompest"),
        "ours_protocol_sha256": _code_hash(),
        "ours_parser": "C accelerator (_speedups)"
        if parser_module.ACCELERATED
        else "pure Python (accelerator not built, or STOMP_ENTERPRISE_PURE_PYTHON set)",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        Process exit status.
    """
    cli = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    cli.add_argument("--quick", action="store_true", help="short streams and runs (smoke run)")
    cli.add_argument(
        "--runs", type=int, default=None, help="runs per measurement (default 5, 3 quick)"
    )
    cli.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: CPU seconds of this process (default; steadier on a shared machine), "
        "wall: elapsed time",
    )
    cli.add_argument("--json", type=Path, default=None, metavar="PATH", help="write results here")
    args = cli.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    min_time = 0.05 if args.quick else 0.3
    clock = CLOCKS[args.clock]

    log = _LogCounter()
    stomp_logger = logging.getLogger("stomp.py")
    stomp_logger.addHandler(log)
    stomp_logger.propagate = False

    env = environment()
    print("# STOMP parser/serializer benchmark" + (" (--quick)" if args.quick else ""))
    print()
    for key, value in env.items():
        print(f"- {key}: {value}")
    print(
        f"- chunk size: {CHUNK_SIZE} B; median of {runs} runs, each >= {min_time} s "
        f"({args.clock} time), libraries alternating run by run"
    )
    print()

    workloads = build_workloads(args.quick)
    parse_rows: list[tuple[Workload, dict[str, Result]]] = []
    for workload in workloads:
        print(f"parsing {workload.name} ...", file=sys.stderr, flush=True)
        parse_rows.append((workload, bench_parse(workload, runs, min_time, log, clock)))
    full_rows: list[tuple[Workload, dict[str, Result]]] = []
    for workload in workloads:
        print(f"parsing {workload.name}, every header read ...", file=sys.stderr, flush=True)
        full_rows.append(
            (
                workload,
                bench_parse(workload, runs, min_time, log, clock, ours=parse_native_ours_full),
            )
        )
    serialize_rows: list[tuple[Workload, dict[str, Result]]] = []
    frame_rows: list[tuple[Workload, dict[str, Result]]] = []
    for workload in workloads:
        if workload.heartbeats:
            continue  # same frames as 1KiB
        print(f"serializing {workload.name} ...", file=sys.stderr, flush=True)
        serialize_rows.append((workload, bench_serialize(workload, runs, min_time, clock)))
        frame_rows.append(
            (workload, bench_serialize(workload, runs, min_time, clock, serialize_ours_frame))
        )

    print("Workloads (MESSAGE frames, 9 headers + content-length, 1.2 escaping):")
    for workload in workloads:
        print(
            f"- {workload.name}: {workload.description}; {len(workload.frames)} frames, "
            f"{len(workload.stream):,} B, {len(workload.chunks)} chunks, "
            f"{workload.heartbeats} heart-beat EOLs"
        )
    print()
    print(render_table("Parse (frames/s, higher is better)", parse_rows, "frames/s"))
    print(
        render_table(
            "Parse, every header materialized (ours: `frame.headers` built for every frame)",
            full_rows,
            "frames/s",
        )
    )
    print(render_table("Serialize (frames/s, higher is better)", serialize_rows, "frames/s"))
    print(
        render_table(
            "Serialize a user-built frame (ours: `Frame(command, headers, body).to_bytes()`)",
            frame_rows,
            "frames/s",
        )
    )

    if args.json is not None:
        payload = {
            "environment": env,
            "chunk_size": CHUNK_SIZE,
            "runs": runs,
            "min_time_s": min_time,
            "clock": args.clock,
            "quick": args.quick,
            **{
                section: [
                    {
                        "workload": w.name,
                        "description": w.description,
                        "frames": len(w.frames),
                        "stream_bytes": len(w.stream),
                        "heartbeats": w.heartbeats,
                        "results": {name: r.as_json() for name, r in res.items()},
                    }
                    for w, res in rows
                ]
                for section, rows in (
                    ("parse", parse_rows),
                    ("parse_full_headers", full_rows),
                    ("serialize", serialize_rows),
                    ("serialize_user_frame", frame_rows),
                )
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
