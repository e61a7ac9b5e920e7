"""The sans-I/O flow-control decisions: backlog hysteresis, heart-beat liveness with an
injected clock (no sleeping), and the broker prefetch headers."""

from __future__ import annotations

import pytest

from stomp_enterprise.core.backlog import Backlog, BacklogInfo, prefetch_header
from stomp_enterprise.core.liveness import Liveness


def test_backlog_pauses_above_either_bound_and_resumes_at_low_water() -> None:
    backlog = Backlog(10, 1000, low_water=0.5)
    assert not backlog.add(10, 100)  # at the bound: still reading
    assert backlog.add(1, 10)  # above it: pause
    assert not backlog.done(5, 50)  # 6 left > low water 5
    assert backlog.done(1, 10)  # 5 left: resume, once
    assert not backlog.done(1, 10)
    assert backlog.add(1, 2000)  # bytes alone pause too
    assert not backlog.done(1, 1000)  # 4 messages but 1050 bytes > 500
    assert backlog.done(0, 600)
    assert backlog.info() == BacklogInfo(4, 440, False, 2)


def test_backlog_rejects_nonsense_bounds() -> None:
    with pytest.raises(ValueError):
        Backlog(0, 10)
    with pytest.raises(ValueError):
        Backlog(10, 10, low_water=1.0)


def test_liveness_heartbeats_are_due_half_an_interval_after_our_last_write() -> None:
    live = Liveness(send_every=1.0, expect_within=0.0, tolerance=1.5, connected_at=100.0)
    assert live.tick == 0.25
    assert not live.heartbeat_due(100.49, last_write=100.0)
    assert live.heartbeat_due(100.5, last_write=100.0)
    live.pause()  # a paused reader keeps sending ours
    assert live.heartbeat_due(200.0, last_write=100.0)
    assert live.silence(200.0, last_read=100.0) is None  # no promise from the broker


def test_liveness_silence_with_first_byte_grace() -> None:
    live = Liveness(send_every=0.0, expect_within=1.0, tolerance=1.5, connected_at=100.0)
    # before the first byte after CONNECTED one more interval is allowed: 2.5 s
    assert live.silence(102.5, last_read=100.0) is None
    assert live.silence(102.6, last_read=100.0) == pytest.approx(2.6)
    # after it, tolerance x interval: 1.5 s
    assert live.silence(102.0, last_read=100.6) is None
    assert live.silence(102.2, last_read=100.6) == pytest.approx(1.6)


def test_liveness_never_blames_the_broker_while_paused_and_counts_from_resume() -> None:
    live = Liveness(send_every=0.1, expect_within=0.1, tolerance=1.5, connected_at=0.0)
    live.pause()
    assert live.paused
    assert live.silence(50.0, last_read=1.0) is None  # we did not read: we cannot know
    live.resume(50.0)
    assert not live.paused
    assert live.silence(50.14, last_read=1.0) is None  # silence counts from the resume
    assert live.silence(50.2, last_read=1.0) == pytest.approx(0.2)
    live.resume(60.0)  # idempotent: not paused, nothing moves
    assert live.silence(50.2, last_read=1.0) == pytest.approx(0.2)


def test_liveness_with_nothing_negotiated_is_inactive() -> None:
    live = Liveness(0.0, 0.0, 1.5, 0.0)
    assert not live.active
    assert live.tick == 1.0
    with pytest.raises(ValueError):
        Liveness(-1.0, 0.0, 1.5, 0.0)


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("ActiveMQ/5.17.2", ("activemq.prefetchSize", "500")),
        ("RabbitMQ/3.10.8", ("prefetch-count", "500")),
        (
            "ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine",
            ("consumer-window-size", "8388608"),
        ),
        ("apache-apollo/1.7.1", ("credit", "500,0")),
        ("stomp-enterprise-testing", None),
        (None, None),
    ],
)
def test_prefetch_header_by_server(server: str | None, expected: tuple[str, str] | None) -> None:
    assert prefetch_header(server, 500, 8 * 1024 * 1024) == expected


@pytest.mark.parametrize("module", ["backlog", "liveness"])
def test_flow_decisions_are_sans_io(module: str) -> None:
    """They import no layer above them and nothing that does I/O or reads a clock."""
    import ast
    import pathlib

    import stomp_enterprise.core

    path = pathlib.Path(stomp_enterprise.core.__file__).parent / f"{module}.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    banned = {"socket", "ssl", "threading", "time", "select", "selectors", "asyncio"}
    assert not {m for m in imported if m.split(".")[0] in banned}
    assert not {
        m
        for m in imported
        if m.startswith(("stomp_enterprise.client", "stomp_enterprise.transport"))
    }


def test_activemq_classic_may_be_silent_two_intervals_after_any_frame() -> None:
    """ActiveMQ Classic's inactivity monitor writes a heart-beat only when it wrote nothing
    during the last interval: after a frame it may stay silent almost two intervals."""
    classic = Liveness(0.0, 1.0, 1.5, connected_at=0.0, server="ActiveMQ/5.17.2")
    assert classic.silence(2.4, last_read=0.1) is None  # 2.3 s silent, 2.5 s allowed
    assert classic.silence(2.7, last_read=0.1) == pytest.approx(2.6)
    for server in ("RabbitMQ/3.10.8", "ActiveMQ-Artemis/2.40.0", None):
        other = Liveness(0.0, 1.0, 1.5, connected_at=0.0, server=server)
        assert other.silence(2.4, last_read=0.1) == pytest.approx(2.3)
