"""The confirmed-transaction benchmark (benchmarks/tx_wait.py) on the in-process broker: every
style runs its transactions and reports every phase. No timing assertions."""

from __future__ import annotations

from benchmarks.tx_wait import PHASES, STYLES, _table, run_all, summary
from stomp_enterprise.testing import Broker


def test_every_style_runs_and_reports_each_phase() -> None:
    with Broker() as broker:
        results = run_all(broker.url, None, 5, 10, 2, body_size=16)
        bodies = [m.body for m in broker.sent_messages("/topic/bench-tx-wait")]
    assert [r["style"] for r in results] == [*STYLES, *reversed(STYLES)]
    assert all(r[phase] > 0 for r in results for phase in PHASES)
    assert results[0]["idle_us"] > 0  # the confirmed COMMIT's wall time, slept by the third
    rows = summary(results)
    assert [row["style"] for row in rows] == list(STYLES)
    lines: list[str] = []
    _table(rows, results[0]["idle_us"], 10, lines.append)
    assert len(lines) == 3 + len(STYLES)
    # every SEND committed: warm-up, the idle measure, 2 runs x 3 styles, 5 x 10 each; and
    # one empty receipted SEND after each unconfirmed run
    assert bodies.count(b"x" * 16) == (5 + 5 + 2 * 3 * 5) * 10
    assert bodies.count(b"") == 2 * 2
