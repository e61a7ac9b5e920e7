"""pytest plugin: the broker x scenario matrix, written from the suite's own results.

At session end it writes ``integration/results.json`` (every test's outcome and duration) and
``docs/broker-matrix.md`` (one row per scenario, one column per broker). Nothing in the table
is typed by hand: it is whatever ``pytest_runtest_logreport`` saw.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "integration" / "results.json"
MATRIX_MD = ROOT / "docs" / "broker-matrix.md"

_NODE = re.compile(r"^(?P<file>[^:]+)::(?P<func>[A-Za-z0-9_]+)\[(?P<param>[^\]]+)\]$")
_SYMBOL = {"passed": "pass", "failed": "**FAIL**", "skipped": "skip", "xfailed": "xfail"}


@dataclass
class _Outcome:
    file: str
    scenario: str
    broker: str
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
        transport = (
            "ws" if "ws" in parts[parts.index(broker) + 1 : parts.index(broker) + 2] else "tcp"
        )
        rest = "-".join(
            p
            for i, p in enumerate(parts)
            if p != broker and not (p == "ws" and parts[i - 1] == broker)
        )
        scenario = match["func"].removeprefix("test_") + (f" ({rest})" if rest else "")
        entry = self.results.setdefault(
            report.nodeid, _Outcome(match["file"], scenario, broker, transport)
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

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.results:
            return
        finished = _dt.datetime.now(_dt.timezone.utc)
        runtime = (finished - self.started).total_seconds()
        data = {
            "generated": finished.isoformat(timespec="seconds"),
            "machine": _machine(),
            "provision": self.provision,
            "brokers": {b: self.versions.get(b, "unknown") for b in self.brokers},
            "runtime_seconds": round(runtime, 1),
            "exit_status": int(exitstatus),
            "tests": [
                {
                    "nodeid": nodeid,
                    "scenario": r.scenario,
                    "broker": r.broker,
                    "transport": r.transport,
                    "outcome": r.outcome,
                    "duration": round(r.duration, 3),
                    "reason": r.reason,
                }
                for nodeid, r in self.results.items()
            ],
        }
        RESULTS_JSON.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        if self.write_docs:  # the published table: only from a run meant to publish it
            MATRIX_MD.parent.mkdir(parents=True, exist_ok=True)
            MATRIX_MD.write_text(self.markdown(data), encoding="utf-8")

    def markdown(self, data: dict[str, Any]) -> str:
        brokers = [b for b in self.brokers if any(r.broker == b for r in self.results.values())]
        # one row per (scenario, transport): the transport column; n/a where a broker has
        # no such transport (or the scenario did not run there)
        scenarios: dict[tuple[str, str], dict[str, _Outcome]] = {}
        for r in self.results.values():
            scenarios.setdefault((r.scenario, r.transport), {})[r.broker] = r
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
            "| broker | version |",
            "| --- | --- |",
            *(f"| {b} | {self.versions.get(b, 'unknown')} |" for b in brokers),
            "",
            "| scenario | transport | " + " | ".join(brokers) + " |",
            "| --- | --- |" + " --- |" * len(brokers),
        ]
        for (scenario, transport), per_broker in rows:
            cells = []
            for b in brokers:
                r = per_broker.get(b)
                cells.append("n/a" if r is None else _SYMBOL.get(r.outcome, r.outcome))
            lines.append(f"| {scenario} | {transport} | " + " | ".join(cells) + " |")
        notes = [r for r in self.results.values() if r.outcome in ("failed", "skipped")]
        if notes:
            lines += ["", "## Failures and skips", ""]
            lines += [
                f"- `{r.scenario}[{r.broker}, {r.transport}]` {r.outcome}: {r.reason}"
                for r in notes
            ]
        lines += ["", "Regenerate: `python -m pytest integration -p no:cacheprovider`.", ""]
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
