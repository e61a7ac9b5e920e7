"""Instructions and system calls per message on the paths of issues 14 and 17, counted:
repeatable where CPU time on a shared machine is not.

Each client (``ours``, ``stomp.py``) runs each case in a fresh process under ``valgrind
--tool=callgrind`` (user-space instructions, every thread) and, separately, under ``strace
-f -c`` (system calls), twice: with ``--small`` and with ``--large`` messages. The
difference between the two counts, divided by the difference in messages, is what one more
message costs; the imports, the CONNECT and everything else a run does once cancel out. The
clients are the adapters of ``benchmarks.e2e_peers`` (the code the timed benchmarks run);
the broker is the in-process one, in a process of its own that is not counted.

Cases (1 KiB bodies):

* ``produce``: bare SENDs;
* ``produce-headers``: ``content-type: application/json`` and 3 application headers;
* ``produce-tx``: transactions of 100, BEGIN and COMMIT included (ours: ``with
  client.transaction()``, whose COMMIT waits for its RECEIPT; stomp.py: unreceipted
  COMMITs);
* ``produce-tx-confirmed``: the same with every COMMIT's RECEIPT awaited by every client;
* ``rr-otel-metrics``, ``rr-otel-1%``, ``rr-otel-0%`` (ours only): the request/reply round
  trips of ``benchmarks.request_reply`` (16 threads, both clients in the process), with
  OpenTelemetry metrics and tracing off, tracing at 1 %, and tracing on with nothing
  sampled; a "message" is a round trip.

Instructions leave out the kernel's work and the time a thread waits: a confirmed COMMIT
costs a round trip that shows as system calls here and as idle time and a colder cache in
CPU time (``benchmarks.tx_wait``). Usage::

    python -m benchmarks.instructions [--clients ours,stomp.py] [--cases produce,...]
                                      [--small 200] [--large 2200] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator

CLIENTS = ("ours", "stomp.py")
SEND_CASES = ("produce", "produce-headers", "produce-tx", "produce-tx-confirmed")
RR_CASES = ("rr-otel-metrics", "rr-otel-1%", "rr-otel-0%")
CASES = SEND_CASES + RR_CASES
RR_THREADS = 16
TOOLS = ("valgrind", "strace")
SIZE = 1024
_COLLECTED = re.compile(r"Collected : (\d+)")
#: the ``total`` line of ``strace -c``: % time, seconds, usecs/call, calls, [errors,] total
_STRACE_TOTAL = re.compile(r"^\s*\S+\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total$", re.MULTILINE)
#: the targets of issues 14 and 17 on these paths: (case, against, bound): ours' count on
#: ``case`` at most ``bound`` times ``against`` (a case of ours, or ``stomp.py:case``)
TARGETS = (
    ("produce-headers", "produce", 1.3),
    ("produce-headers", "stomp.py:produce-headers", 0.35),
    ("produce-tx", "produce", 1.5),
    ("produce-tx", "stomp.py:produce-tx", 0.4),
    ("produce-tx-confirmed", "stomp.py:produce-tx-confirmed", 0.4),
    ("rr-otel-1%", "rr-otel-metrics", 1.15),
    ("rr-otel-0%", "rr-otel-metrics", 1.15),
)


def applies(client: str, case: str) -> bool:
    """Whether ``client`` runs ``case`` (the round trips are ours only)."""
    return client == "ours" or case in SEND_CASES


# --------------------------------------------------------------------------------------------
# one run (the process valgrind or strace watches)
# --------------------------------------------------------------------------------------------


def run_case(client: str, case: str, url: str, count: int) -> int:
    """``count`` messages of ``case`` through ``client``'s adapter (a round trip case:
    ``count`` round trips); the messages sent."""
    from benchmarks.e2e_peers import ADAPTERS, Meter

    if case in RR_CASES:
        from benchmarks.request_reply import rr_ours

        dest = f"/queue/instructions-rr-{uuid.uuid4().hex[:8]}"
        return len(rr_ours(url, "/", dest, count, RR_THREADS, case))

    adapter = ADAPTERS[client](url, None)
    dest = f"/queue/instructions-{uuid.uuid4().hex[:8]}"
    body = b"x" * SIZE
    try:
        if case == "produce":
            return int(adapter.produce(dest, count, body, Meter()))
        if case == "produce-headers":
            return int(adapter.produce_headers(dest, count, body, Meter()))
        confirmed = case == "produce-tx-confirmed"
        return int(adapter.produce_tx(dest, count, body, Meter(), confirmed=confirmed))
    finally:
        adapter.close()


# --------------------------------------------------------------------------------------------
# counting
# --------------------------------------------------------------------------------------------


def _command(client: str, case: str, url: str, count: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--one",
        client,
        case,
        url,
        str(count),
    ]


def count_once(tool: str, client: str, case: str, url: str, count: int) -> int:
    """The instructions (``valgrind``) or system calls (``strace``) of one run.

    Raises:
        RuntimeError: the run failed, or the tool's report has no total.
    """
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "report")
        if tool == "valgrind":
            prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={report}"]
        else:
            prefix = ["strace", "-f", "-c", "-o", report]
        done = subprocess.run(
            [*prefix, *_command(client, case, url, count)],
            capture_output=True,
            check=False,
            text=True,
            timeout=900,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {client} {case} {count}: {done.stderr[-2000:]}")
        if tool == "valgrind":
            found = _COLLECTED.search(done.stderr)
        else:
            with open(report) as summary:
                found = _STRACE_TOTAL.search(summary.read())
        if found is None:
            raise RuntimeError(f"{tool} {client} {case}: no total in its report")
        return int(found[1])


def per_message(tool: str, client: str, case: str, url: str, small: int, large: int) -> float:
    """What one more message costs: the difference of two runs' counts over their
    difference in messages."""
    low = count_once(tool, client, case, url, small)
    high = count_once(tool, client, case, url, large)
    return (high - low) / (large - small)


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """The in-process broker in a process of its own (not counted); yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stomp_enterprise", "broker", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("tcp://"):
            raise RuntimeError(f"the broker did not start: {url!r}")
        yield url
    finally:
        process.terminate()
        process.wait(30)


def measure(
    clients: list[str], cases: list[str], small: int, large: int, tools: list[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """``{tool: {"client:case": per message}}``."""
    results: dict[str, dict[str, dict[str, float]]] = {tool: {} for tool in tools}
    with broker() as url:
        for tool in tools:
            for client in clients:
                for case in (case for case in cases if applies(client, case)):
                    value = per_message(tool, client, case, url, small, large)
                    results[tool].setdefault(client, {})[case] = value
                    print(f"  {tool} {client} {case}: {value:,.3f}", file=sys.stderr)
    return results


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def targets(counts: dict[str, dict[str, float]]) -> list[tuple[str, float, float, bool]]:
    """Issue 14's targets on one tool's counts: ``(target, ratio, bound, met)`` for each
    whose cases were counted."""
    rows = []
    ours = counts.get("ours", {})
    for case, against, bound in TARGETS:
        client, _, other = against.rpartition(":")
        reference = counts.get(client or "ours", {}).get(other)
        if case not in ours or not reference:
            continue
        ratio = ours[case] / reference
        rows.append((f"ours {case} / {client or 'ours'} {other}", ratio, bound, ratio <= bound))
    return rows


def report(results: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Markdown: per message counts by client and case, per tool, and issue 14's targets
    on the instructions."""
    names = {"valgrind": "instructions per message", "strace": "system calls per message"}
    lines: list[str] = []
    for tool, counts in results.items():
        clients = list(counts)
        cases = list(dict.fromkeys(case for client in clients for case in counts[client]))
        lines += [f"#### {names[tool]}", "", "| case | " + " | ".join(clients) + " |"]
        lines.append("|---|" + "---:|" * len(clients))
        for case in cases:
            cells = [counts[client].get(case) for client in clients]
            digits = 0 if tool == "valgrind" else 3
            shown = ["" if v is None else f"{v:,.{digits}f}" for v in cells]
            lines.append(f"| {case} | " + " | ".join(shown) + " |")
        # the targets are on CPU: instructions stand for it; a handful of system calls per
        # thousand messages (batched writes) would give ratios of noise
        met = targets(counts) if tool == "valgrind" else []
        if met:
            lines += ["", "| target | ratio | bound | met |", "|---|---:|---:|---|"]
            lines += [
                f"| {name} | {ratio:.2f}x | {bound}x | {'yes' if ok else 'no'} |"
                for name, ratio, bound, ok in met
            ]
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--one"]:
        client, case, url, count = argv[1:5]
        run_case(client, case, url, int(count))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--tools", default=",".join(TOOLS), help="valgrind, strace")
    parser.add_argument("--small", type=int, default=200, help="messages of the short run")
    parser.add_argument("--large", type=int, default=2200, help="messages of the long run")
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args(argv)
    clients, cases = args.clients.split(","), args.cases.split(",")
    tools = args.tools.split(",")
    unknown = (set(clients) - set(CLIENTS)) | (set(cases) - set(CASES)) | (set(tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown: {', '.join(sorted(unknown))}")
    if args.large <= args.small or args.small % 100 or args.large % 100:
        parser.error("--small < --large, both multiples of 100 (the transactions' size)")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        parser.error(f"not installed: {', '.join(missing)}")
    results = measure(clients, cases, args.small, args.large, tools)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
