"""The broker matrix (integration/report.py) has one row per scenario and client."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from integration.report import MatrixReporter, merge_results


def _report(nodeid: str, outcome: str = "passed") -> Any:
    return SimpleNamespace(
        nodeid=nodeid, outcome=outcome, duration=0.5, when="call", longreprtext="E  boom"
    )


def test_the_matrix_has_transport_and_client_columns() -> None:
    reporter = MatrixReporter(["activemq", "rabbitmq"], {"activemq": "5.17.2"}, "local")
    for nodeid, outcome in [
        ("integration/test_messaging.py::test_text_queue[activemq-threaded]", "passed"),
        ("integration/test_messaging.py::test_text_queue[rabbitmq-threaded]", "passed"),
        ("integration/test_messaging.py::test_text_queue[activemq-asyncio]", "passed"),
        ("integration/test_messaging.py::test_text_queue[rabbitmq-asyncio]", "failed"),
        ("integration/test_messaging.py::test_text_queue[rabbitmq-ws-asyncio]", "passed"),
        ("integration/test_messaging.py::test_binary_queue[rabbitmq-ws-threaded-1MiB]", "passed"),
        ("integration/test_connect.py::test_negotiate_version[activemq-asyncio-1.2]", "passed"),
        ("integration/test_connect.py::test_receipts[activemq]", "passed"),  # threaded only
    ]:
        reporter.pytest_runtest_logreport(_report(nodeid, outcome))
    data = {"generated": "now", "machine": "here", "runtime_seconds": 1.0, "provision": "local"}
    table = reporter.markdown(data)
    assert "| scenario | transport | client | activemq | rabbitmq |" in table
    assert "| text_queue | tcp | threaded | pass | pass |" in table
    assert "| text_queue | tcp | asyncio | pass | **FAIL** |" in table
    assert "| text_queue | ws | asyncio | n/a | pass |" in table
    assert "| binary_queue (1MiB) | ws | threaded | n/a | pass |" in table
    assert "| negotiate_version (1.2) | tcp | asyncio | pass | n/a |" in table
    assert "| receipts | tcp | threaded | pass | n/a |" in table
    assert table.index("| text_queue | tcp |") < table.index("| text_queue | ws |")
    assert "`text_queue[rabbitmq-tcp-asyncio]` failed: boom" in table


def test_the_matrix_can_be_rendered_again_from_results_json() -> None:
    """python -m integration.report renders a CI run's results.json as the run itself did."""
    reporter = MatrixReporter(["activemq", "rabbitmq"], {"activemq": "5.17.2"}, "ci")
    for nodeid, outcome in [
        ("integration/test_messaging.py::test_text_queue[activemq-threaded]", "passed"),
        ("integration/test_messaging.py::test_text_queue[rabbitmq-ws-asyncio]", "failed"),
    ]:
        reporter.pytest_runtest_logreport(_report(nodeid, outcome))
    data = reporter.data(1)
    again = MatrixReporter.from_results(data)
    assert again.markdown(data) == reporter.markdown(data)
    assert "| text_queue | ws | asyncio | n/a | **FAIL** |" in again.markdown(data)


def test_a_later_run_replaces_the_brokers_it_covers() -> None:
    """python -m integration.report A.json B.json: B's brokers (every transport and client)
    replace A's; the others keep A's outcomes; each run is named under the header."""
    first = MatrixReporter(["activemq", "rabbitmq"], {"activemq": "5.17.2"}, "ci")
    for nodeid, outcome in [
        ("integration/test_messaging.py::test_text_queue[activemq-threaded]", "failed"),
        ("integration/test_messaging.py::test_text_queue[rabbitmq-ws-asyncio]", "passed"),
    ]:
        first.pytest_runtest_logreport(_report(nodeid, outcome))
    later = MatrixReporter(["activemq"], {"activemq": "5.18.3"}, "local")
    for nodeid in (
        "integration/test_messaging.py::test_text_queue[activemq-threaded]",
        "integration/test_messaging.py::test_text_queue[activemq-ws-asyncio]",
    ):
        later.pytest_runtest_logreport(_report(nodeid))
    chaos = MatrixReporter(["activemq"], {"activemq": "5.18.3"}, "local")
    chaos.pytest_runtest_logreport(
        _report("integration/test_chaos.py::test_tracked_sends_survive_sigkill[activemq]")
    )
    a, b, c = first.data(1), later.data(0), chaos.data(0)
    merged = merge_results([a, b, c])
    assert merged["brokers"] == {"activemq": "5.18.3", "rabbitmq": "unknown"}
    assert merged["exit_status"] == 1
    assert [s["brokers"] for s in merged["sources"]] == [
        ["activemq", "rabbitmq"],
        ["activemq"],
        ["activemq"],
    ]
    table = MatrixReporter.from_results(merged).markdown(merged)
    assert "| tracked_sends_survive_sigkill | tcp | threaded | pass |" in table
    assert "| text_queue | tcp | threaded | pass | n/a |" in table
    assert "| text_queue | ws | asyncio | pass | pass |" in table
    assert "| activemq | 5.18.3 |" in table
    assert f"- activemq: from the run of {b['generated']}" in table
    assert "**FAIL**" not in table


def test_the_command_refuses_a_missing_results_file_with_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from integration import report

    with pytest.raises(SystemExit) as exit_info:
        report.main([str(tmp_path / "missing.json")])
    assert exit_info.value.code == 2
    assert "missing.json: not a readable results.json" in capsys.readouterr().err
