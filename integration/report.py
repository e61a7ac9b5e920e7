"""pytest plugin: the broker x scenario matrix, written from the suite's own results.

At session end it writes ``integration/results.json`` (every test's outcome and duration) and
``docs/broker-matrix.md`` (one row per scenario and client, one column per broker). Nothing in
the table is typed by hand: it is whatever ``pytest_runtest_logreport`` saw. The client is the
``client_kind`` part of the test id (``threaded`` or ``asyncio``), or ``both`` for a scenario
that ran both clients at once (``make_clients``); any other scenario ran for the threaded
client alone.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import re
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "integration" / "results.json"
MATRIX_MD = ROOT / "docs" / "broker-matrix.md"

_NODE = re.compile(r"^(?P<file>[^:]+)::(?P<func>[A-Za-z0-9_]+)\[(?P<param>[^\]]+)\]$")
_SYMBOL = {
    "passed": "pass",
    "refused": "refused by design",
    "failed": "**FAIL**",
    "skipped": "skip",
    "xfailed": "xfail",
}
#: ``record_property(REFUSED, reason)`` in a passing test: the broker refuses the feature by
#: design and the test proved the client says so clearly (shown as "refused by design").
REFUSED = "refused_by_design"
_CLIENTS = ("threaded", "asyncio")  # the client_kind ids (integration/conftest.py)


@dataclass
class _Outcome:
    file: str
    scenario: str
    broker: str
    client: str = "threaded"
    transport: str = "tcp"
    outcome: str = "passed"
    duration: float = 0.0
    reason: str = ""
    phases: list[str] = field(default_factory=list)


class MatrixReporter:
    """Collects reports of parametrized integration tests (``test_x[broker]``)."""

    def __init__(
        self,
        brokers: list[str],
        versions: dict[str, str],
        provision: str,
        *,
        write_docs: bool = False,
    ) -> None:
        self.write_docs = write_docs
        self.brokers = brokers
        self.versions = versions
        self.provision = provision
        self.results: dict[str, _Outcome] = {}
        self.started = _dt.datetime.now(_dt.timezone.utc)

    @classmethod
    def from_results(cls, data: dict[str, Any]) -> MatrixReporter:
        """A reporter holding the outcomes of a run's ``results.json`` (to render its matrix
        later, e.g. from a CI run's clone)."""
        reporter = cls(list(data["brokers"]), dict(data["brokers"]), data["provision"])
        for test in data["tests"]:
            reporter.results[test["nodeid"]] = _Outcome(
                test["nodeid"].split("::", 1)[0],
                test["scenario"],
                test["broker"],
                test["client"],
                test["transport"],
                test["outcome"],
                test["duration"],
                test["reason"],
            )
        return reporter

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        match = _NODE.match(report.nodeid)
        if match is None or not match["file"].startswith("integration/"):
            return
        parts = match["param"].split("-")
        found = [p for p in parts if p in self.brokers]
        if not found:
            return
        broker = found[0]
        # the client_kind in the id; else what the test recorded (make_clients: "both")
        recorded = dict(getattr(report, "user_properties", ()))
        client = next((p for p in parts if p in _CLIENTS), recorded.get("client", "threaded"))
        # "-ws" right after the broker: the scenario ran over STOMP over WebSocket
        at = parts.index(broker)
        transport = "ws" if parts[at + 1 : at + 2] == ["ws"] else "tcp"
        rest = "-".join(
            p
            for i, p in enumerate(parts)
            if p not in (broker, client) and not (transport == "ws" and i == at + 1)
        )
        scenario = match["func"].removeprefix("test_") + (f" ({rest})" if rest else "")
        entry = self.results.setdefault(
            report.nodeid, _Outcome(match["file"], scenario, broker, client, transport)
        )
        entry.duration += report.duration
        entry.phases.append(f"{report.when}:{report.outcome}")
        if report.outcome == "failed":
            entry.outcome = "failed"
            entry.reason = _short(report.longreprtext)
        elif report.outcome == "skipped" and entry.outcome != "failed":
            entry.outcome = "skipped"
            longrepr = report.longrepr
            entry.reason = (
                str(longrepr[2]) if isinstance(longrepr, tuple) else _short(str(longrepr))
            )
        if hasattr(report, "wasxfail") and entry.outcome == "skipped":
            entry.outcome = "xfailed"
        refused = [v for k, v in getattr(report, "user_properties", ()) if k == REFUSED]
        if refused and report.when == "call" and report.outcome == "passed":
            entry.outcome = "refused"
            entry.reason = str(refused[0])

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.results:
            return
        data = self.data(int(exitstatus))
        RESULTS_JSON.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        if self.write_docs:  # the published table: only from a run meant to publish it
            MATRIX_MD.parent.mkdir(parents=True, exist_ok=True)
            MATRIX_MD.write_text(self.markdown(data), encoding="utf-8")

    def data(self, exitstatus: int) -> dict[str, Any]:
        """What ``results.json`` holds: the run and every test's outcome."""
        finished = _dt.datetime.now(_dt.timezone.utc)
        runtime = (finished - self.started).total_seconds()
        return {
            "generated": finished.isoformat(timespec="seconds"),
            "machine": _machine(),
            "provision": self.provision,
            "brokers": {b: self.versions.get(b, "unknown") for b in self.brokers},
            "runtime_seconds": round(runtime, 1),
            "exit_status": exitstatus,
            "tests": [
                {
                    "nodeid": nodeid,
                    "scenario": r.scenario,
                    "broker": r.broker,
                    "client": r.client,
                    "transport": r.transport,
                    "outcome": r.outcome,
                    "duration": round(r.duration, 3),
                    "reason": r.reason,
                }
                for nodeid, r in self.results.items()
            ],
        }

    def markdown(self, data: dict[str, Any]) -> str:
        brokers = [b for b in self.brokers if any(r.broker == b for r in self.results.values())]
        # one row per (scenario, transport, client): n/a where a broker has no such transport
        # (or the scenario did not run there); tcp rows first
        scenarios: dict[tuple[str, str, str], dict[str, _Outcome]] = {}
        for r in self.results.values():
            scenarios.setdefault((r.scenario, r.transport, r.client), {})[r.broker] = r
        order = {"tcp": 0, "ws": 1}
        rows = sorted(scenarios.items(), key=lambda item: order.get(item[0][1], 2))
        counts = {k: sum(1 for r in self.results.values() if r.outcome == k) for k in _SYMBOL}
        lines = [
            "# Broker matrix",
            "",
            "<!-- generated by integration/report.py from the integration suite's results;"
            " do not edit by hand -->",
            "",
            f"Generated {data['generated']} on {data['machine']}, provision `{data['provision']}`,"
            f" in {data['runtime_seconds']} s: "
            + ", ".join(f"{n} {k}" for k, n in counts.items() if n),
            "",
            *(
                f"- {', '.join(src['brokers'])}: from the run of {src['generated']}"
                f" ({src['runtime_seconds']} s)"
                for src in data.get("sources", ())
            ),
            *([""] if data.get("sources") else []),
            "| broker | version |",
            "| --- | --- |",
            *(f"| {b} | {self.versions.get(b, 'unknown')} |" for b in brokers),
            "",
            "| scenario | transport | client | " + " | ".join(brokers) + " |",
            "| --- | --- | --- |" + " --- |" * len(brokers),
        ]
        for (scenario, transport, client), per_broker in rows:
            cells = []
            for b in brokers:
                found = per_broker.get(b)
                cells.append("n/a" if found is None else _SYMBOL.get(found.outcome, found.outcome))
            lines.append(f"| {scenario} | {transport} | {client} | " + " | ".join(cells) + " |")
        notes = [r for r in self.results.values() if r.outcome in ("failed", "skipped")]
        if notes:
            lines += ["", "## Failures and skips", ""]
            lines += [
                f"- `{r.scenario}[{r.broker}-{r.transport}-{r.client}]` {r.outcome}: {r.reason}"
                for r in notes
            ]
        lines += [
            "",
            "Regenerate: `python -m pytest integration --write-matrix`, or from a run's results"
            " (a CI clone's): `python -m integration.report path/to/integration/results.json"
            " [LATER.json...]` (a later run's brokers replace the first run's).",
            "",
        ]
        return "\n".join(lines)


def _short(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    picked = (errors[0][2:].strip() if errors else lines[-1]) if lines else ""
    picked = picked.replace("|", "\\|")
    return picked if len(picked) <= limit else picked[: limit - 1] + "…"


def _machine() -> str:
    return (
        f"{socket.gethostname()} ({platform.system()} {platform.release()}, "
        f"{platform.machine()}, Python {platform.python_version()})"
    )


def merge_results(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs' ``results.json`` as one: the first run, with every outcome (each
    transport and client) of the brokers the later runs cover replaced by theirs (e.g. the
    scenario suite and the chaos suite run again on a new version of one broker: both
    later runs together replace that broker's column; the same test in two later runs: the
    last wins); the versions follow. ``sources`` lists each run (when, which brokers, how
    long), shown under the matrix's header."""
    if not runs:
        raise ValueError("no results to merge")
    base, later = runs[0], runs[1:]
    covered = {test["broker"] for run in later for test in run["tests"]}
    tests = {t["nodeid"]: t for t in base["tests"] if t["broker"] not in covered}
    brokers = dict(base["brokers"])
    for run in later:
        tests.update({test["nodeid"]: test for test in run["tests"]})
        brokers.update({b: v for b, v in run["brokers"].items() if b in covered})
    merged = {**base, "brokers": brokers, "tests": list(tests.values())}
    merged["generated"] = max(run["generated"] for run in runs)
    merged["runtime_seconds"] = round(sum(run["runtime_seconds"] for run in runs), 1)
    merged["exit_status"] = max(run["exit_status"] for run in runs)
    merged["sources"] = [
        {
            "generated": run["generated"],
            "brokers": sorted({test["broker"] for test in run["tests"]}),
            "runtime_seconds": run["runtime_seconds"],
        }
        for run in runs
    ]
    return merged


def main(argv: list[str] | None = None) -> int:
    """``python -m integration.report [RESULTS_JSON...]``: write docs/broker-matrix.md from a
    run's results (default: this checkout's integration/results.json); given several, a
    later run's brokers replace the earlier runs' (:func:`merge_results`)."""
    parser = argparse.ArgumentParser(
        prog="python -m integration.report",
        description="Write docs/broker-matrix.md from the integration suite's results.json; "
        "given several, a later run's brokers replace the earlier runs'.",
    )
    parser.add_argument("results", nargs="*", type=Path, help=f"default: {RESULTS_JSON}")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    sources: list[Path] = options.results or [RESULTS_JSON]
    runs = []
    for source in sources:
        try:
            runs.append(json.loads(source.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            parser.error(f"{source}: not a readable results.json ({exc})")
    data = runs[0] if len(runs) == 1 else merge_results(runs)
    MATRIX_MD.write_text(MatrixReporter.from_results(data).markdown(data), encoding="utf-8")
    print(f"wrote {MATRIX_MD} from {', '.join(map(str, sources))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
