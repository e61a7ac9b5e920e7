"""The counted benchmark (benchmarks/instructions.py): its runs send what they say, its
tools' reports are read right, and the targets are computed from the counts. No timing.

The counting tests need valgrind and strace (Debian packages). ``.ci/run`` installs them;
elsewhere a missing tool skips those tests with the reason, and fails them when ``CI`` is
set (as the docs site check does for its browser)."""

from __future__ import annotations

import os
import shutil

import pytest

from benchmarks import instructions
from benchmarks.instructions import TARGETS, count_once, per_message, report, run_case, targets
from stomp_enterprise.testing import Broker

STRACE_REPORT = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 61.10    0.004035           3      1203           sendto
 38.90    0.002569           2       981        12 recvfrom
------ ----------- ----------- --------- --------- ----------------
100.00    0.006604           3      2184        12 total
"""


@pytest.mark.parametrize("case", instructions.SEND_CASES)
@pytest.mark.parametrize("client", instructions.CLIENTS)
def test_each_run_sends_its_messages_to_the_broker(client, case) -> None:
    with Broker() as broker:
        assert run_case(client, case, broker.url, 200) == 200
        messages = broker.sent_messages()
    assert len({m.destination for m in messages}) == 1
    assert messages[0].destination.startswith("/queue/instructions-")
    assert [m.body for m in messages] == [b"x" * instructions.SIZE] * 200


@pytest.mark.parametrize("case", instructions.RR_CASES)
def test_each_round_trip_run_makes_its_round_trips(case) -> None:
    assert not instructions.applies("stomp.py", case)
    with Broker() as broker:
        assert run_case("ours", case, broker.url, 40) == 40
        requests = [m for m in broker.sent_messages() if m.header("reply-to")]
        replies = [m for m in broker.sent_messages() if not m.header("reply-to")]
    assert len(requests) == len(replies) == 41  # the warm-up request too
    traced = [m for m in requests if m.header("traceparent")]
    assert len(traced) == (0 if case == "rr-otel-metrics" else 41)
    if case == "rr-otel-0%":  # tracing on, no trace sampled
        assert all(int(m.header("traceparent", "")[-2:], 16) & 1 == 0 for m in traced)


def test_the_strace_total_is_the_calls_column() -> None:
    found = instructions._STRACE_TOTAL.search(STRACE_REPORT)
    assert found is not None
    assert found[1] == "2184"
    without_errors = STRACE_REPORT.replace("        12 total", " total")
    found = instructions._STRACE_TOTAL.search(without_errors)
    assert found is not None
    assert found[1] == "2184"


def needs(tool: str) -> None:
    if shutil.which(tool) is not None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is not installed: the counted benchmark cannot run in CI")
    pytest.skip(f"{tool} is not installed (apt-get install {tool}; CI=1 makes this a failure)")


def test_system_calls_per_message_are_counted_by_difference() -> None:
    needs("strace")
    with Broker() as broker:
        calls = [count_once("strace", "stomp.py", "produce", broker.url, n) for n in (100, 300)]
        assert calls[1] - calls[0] >= 180  # stomp.py writes each SEND with its own call
        theirs = per_message("strace", "stomp.py", "produce", broker.url, 100, 300)
        ours = per_message("strace", "ours", "produce", broker.url, 100, 300)
    assert 0.9 <= theirs <= 1.2
    assert ours < 0.5  # ours batches its writes


def test_instructions_are_counted_under_callgrind() -> None:
    needs("valgrind")
    with Broker() as broker:
        assert count_once("valgrind", "ours", "produce", broker.url, 100) > 10_000_000


def test_a_failed_run_is_an_error_naming_it() -> None:
    needs("strace")
    with pytest.raises(RuntimeError, match="strace ours produce 100"):
        count_once("strace", "ours", "produce", "tcp://127.0.0.1:1", 100)


def test_targets_and_report_come_from_the_counts() -> None:
    counts = {
        "ours": {"produce": 100.0, "produce-headers": 120.0, "produce-tx": 160.0},
        "stomp.py": {"produce-headers": 400.0, "produce-tx": 390.0},
    }
    rows = targets(counts)
    assert [(name, round(ratio, 3), ok) for name, ratio, _, ok in rows] == [
        ("ours produce-headers / ours produce", 1.2, True),
        ("ours produce-headers / stomp.py produce-headers", 0.3, True),
        ("ours produce-tx / ours produce", 1.6, False),
        ("ours produce-tx / stomp.py produce-tx", 0.41, False),
    ]
    assert len(TARGETS) == len(rows) + 3  # produce-tx-confirmed and rr-* were not counted
    counts["ours"] |= {"rr-otel-metrics": 1000.0, "rr-otel-1%": 1100.0, "rr-otel-0%": 1160.0}
    assert [(round(ratio, 2), ok) for _, ratio, _, ok in targets(counts)[4:]] == [
        (1.1, True),
        (1.16, False),
    ]
    lines = report({"valgrind": counts})
    assert "| produce-headers | 120 | 400 |" in lines
    assert "| ours produce-tx / ours produce | 1.60x | 1.5x | no |" in lines
    assert not any("/" in line for line in report({"strace": counts}))  # counts, no targets


def test_the_command_line_refuses_what_it_cannot_count(capsys) -> None:
    with pytest.raises(SystemExit):
        instructions.main(["--cases", "consume"])
    assert "unknown: consume" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        instructions.main(["--small", "150"])
    assert "multiples of 100" in capsys.readouterr().err
