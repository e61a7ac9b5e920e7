"""Smoke test of benchmarks/request_reply.py on the in-process broker: every case runs and
every request gets its own reply. Correctness only, no timing assertion; the harness runs
in a subprocess, so nothing is left behind here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.request_reply import (
    CASES,
    FLOOR_CASES,
    OBSERVER_CASES,
    PRODUCE_CASES,
    RR_CASES,
    tracing_split,
)

ROOT = Path(__file__).resolve().parents[1]
COMMAND = (sys.executable, "-m", "benchmarks.request_reply", "--brokers", "embedded", "--quick")


def test_the_cases_compare_what_the_brief_asks() -> None:
    assert set(RR_CASES) == {
        "rr-ours",
        "rr-stomp.py",
        "rr-observed",
        "rr-otel-metrics",
        "rr-otel",
        "rr-otel-full",
        "rr-otel-10%",
        "rr-otel-1%",
        "rr-otel-0%",
    }
    assert set(FLOOR_CASES) == {
        "sdk-floor-2",
        "sdk-floor-4",
        "sdk-floor-2-10%",
        "sdk-floor-2-1%",
        "sdk-floor-2-0%",
    }
    assert set(PRODUCE_CASES) == {"produce", "produce-observed", "produce-otel"}
    assert set(OBSERVER_CASES.values()) == set(RR_CASES) - {"rr-ours", "rr-stomp.py"}
    assert RR_CASES + tuple(FLOOR_CASES) + tuple(OBSERVER_CASES) + PRODUCE_CASES == CASES


def test_the_tracing_split_is_on_vs_off_minus_the_sdk_floor() -> None:
    def runs(cpu_us: float) -> list[dict[str, float]]:
        return [{"cpu_us": cpu_us}]

    results = {
        "rr-ours": runs(100.0),
        "rr-otel-metrics": runs(110.0),
        "rr-otel-10%": runs(121.0),
        "sdk-floor-2-10%": runs(4.0),
    }
    assert (
        tracing_split(results)[2] == "| rr-otel-10% | 1.10x | 1.21x | 11.0 | 4.0 | 7.0 |  |  |  |"
    )
    results |= {"obs-metrics": runs(20.0), "obs-otel-10%": runs(28.0)}  # the observers alone
    assert tracing_split(results)[2] == (
        "| rr-otel-10% | 1.10x | 1.21x | 11.0 | 4.0 | 7.0 | 8.0 | 4.0 | 1.07x |"
    )
    assert tracing_split({"rr-ours": runs(100.0)}) == []


@pytest.mark.slow
def test_every_case_runs_on_the_embedded_broker(tmp_path: Path) -> None:
    out = tmp_path / "rr.json"
    proc = subprocess.run(
        [*COMMAND, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a guard, not a speed check
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())["embedded"]
    assert set(results) == set(CASES)
    for case, runs in results.items():
        assert len(runs) == 1
        (result,) = runs
        assert "error" not in result, result
        assert result["count"] == (200 if case in PRODUCE_CASES else 64)
        assert result["cpu_us"] > 0
        if case in RR_CASES:
            assert result["p50_ms"] <= result["p99_ms"]
    for case in set(RR_CASES) - {"rr-stomp.py"}:  # ours: the CPU by thread kind too
        assert set(results[case][0]["threads_us"]) >= {
            "requesters",
            "stomp-reader",
            "stomp-writer",
            "stomp-dispatch",
        }
    assert "| rr-stomp.py |" in proc.stdout
    assert "| produce-otel |" in proc.stdout
    assert "| rr-otel-1% |" in proc.stdout.split("| tracing |")[1]  # the split table


@pytest.mark.parametrize("case", ["rr-ours", "rr-stomp.py"])
def test_an_open_loop_run_keeps_to_its_rate(case: str) -> None:
    """``--rate``: request ``k`` is not sent before ``k / rate`` seconds, so 64 round trips
    at 200/s take at least 63/200 s, whatever the machine."""
    from stomp_enterprise.testing import Broker

    with Broker() as broker:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.request_reply", "--peer", case, "--url",
             broker.url, "--count", "64", "--threads", "4", "--rate", "200"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["count"] == 64
    assert result["per_s"] <= 64 / (63 / 200)
