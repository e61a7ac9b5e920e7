"""Smoke test of the end-to-end benchmark harness (benchmarks/e2e.py) on the in-process broker.

Correctness only: every client adapter must move every message in every case it supports.
No timing assertions. The harness (and the broker) run in a subprocess, so nothing is left
behind in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.e2e import (
    ALL_CASES,
    CONSUME_CASES,
    CONSUME_TRACKING_PAIR,
    OURS_ONLY,
    SENT_CASES,
    TRACKING_PAIR,
    case_clients,
    schedule,
)

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = {"raw", "ours", "stomp.py", "stompest"}
CASES = set(ALL_CASES)  # the new cases must each be listed there (checked below)
#: (case, client) pairs the harness reports as n/a on purpose
NOT_APPLICABLE = {("threads", "stompest"), ("rss", "raw"), ("rss", "stompest")} | {
    (case, client) for case in OURS_ONLY for client in ("raw", "stomp.py", "stompest")
}


def test_the_realistic_cases_are_run() -> None:
    assert {"produce-headers", "produce-tx", "consume-headers", "ack-tx"} <= CASES
    assert {"produce-headers", "produce-tx"} <= set(SENT_CASES)


def test_the_send_tracking_cases_are_run_and_interleaved() -> None:
    assert TRACKING_PAIR == ("produce-failover", "produce-tracked")
    assert set(TRACKING_PAIR) <= CASES
    assert set(TRACKING_PAIR) <= set(SENT_CASES)
    assert CONSUME_TRACKING_PAIR == ("consume-failover", "consume-tracked")
    assert set(CONSUME_TRACKING_PAIR) <= CASES
    assert set(CONSUME_TRACKING_PAIR) <= set(CONSUME_CASES)
    # asked together, their runs interleave as one group wherever either was listed
    assert schedule(["produce", "produce-tracked", "consume", "produce-failover"]) == [
        ("produce",),
        TRACKING_PAIR,
        ("consume",),
    ]
    assert schedule(["produce-tracked", "produce"]) == [("produce-tracked",), ("produce",)]
    assert schedule(["consume-tracked", "produce-failover", "consume-failover"]) == [
        CONSUME_TRACKING_PAIR,
        ("produce-failover",),
    ]
    # ours only: the other clients are asked once (run 0) to record their n/a
    assert case_clients("produce-tracked", 0) == ("raw", "ours", "stomp.py", "stompest")
    assert case_clients("produce-tracked", 3) == ("ours",)
    assert case_clients("produce", 3) == ("raw", "ours", "stomp.py", "stompest")


@pytest.mark.slow
def test_every_client_moves_every_message_on_the_embedded_broker(tmp_path: Path) -> None:
    out = tmp_path / "e2e.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.e2e",
            "--brokers",
            "embedded",
            "--quick",
            "--count",
            "200",
            "--json",
            str(out),
            "--docs-path",
            str(tmp_path / "benchmarks.md"),
            "--write-docs",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # a guard, not a speed check: 11 cases x 4 clients on a shared machine
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    results = data["brokers"]["embedded"]["results"]
    seen = {(r["case"], r["client"]) for r in results}
    expected = {(case, client) for case in CASES for client in CLIENTS} - {
        (case, client) for case, client in NOT_APPLICABLE if case == "rss"
    }
    assert seen == expected
    for result in results:
        key = (result["case"], result["client"])
        if key in NOT_APPLICABLE:
            assert "na" in result, result
            continue
        assert result.get("ok") is True, result
        assert result["moved"] == result["expected"], result
        if result["case"] in SENT_CASES:
            assert result["left_in_queue"] == result["expected"], result
        else:
            assert result["left_in_queue"] == 0, result
    # the report and the docs page carry the tables and the computed targets
    assert "| produce N" in proc.stdout
    assert "| p99 send" in proc.stdout
    assert "| produce N, content-type + 3 application headers" in proc.stdout
    assert "transactional SEND (100 per transaction)" in proc.stdout
    assert "| produce N through failover:(URL)?trackMessages=true | n/a | " in proc.stdout
    assert "| send tracking (trackMessages=true): produce ≥ 0.9x msg/s" in proc.stdout
    assert "| consume N through failover:(URL)?trackMessages=true, ACK each | n/a | " in proc.stdout
    assert "| send tracking (trackMessages=true): consume ≥ 0.9x msg/s" in proc.stdout
    docs = (tmp_path / "benchmarks.md").read_text()
    assert "## Results" in docs
    assert "| target (ours) | measured | the raw client, same measure | result |" in docs
    # the run's JSON and its charts are kept beside the page, which shows them
    assert json.loads((tmp_path / "bench" / "e2e.json").read_text())["brokers"]["embedded"]
    for kind in ("produce", "consume", "latency"):
        assert (tmp_path / "bench" / f"e2e-embedded-{kind}.svg").stat().st_size > 1000
        assert f"(bench/e2e-embedded-{kind}.svg)" in docs
