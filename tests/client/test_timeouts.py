"""Timeouts that hold (issue 13, items 8-10): CONNECT over TLS, disconnect() when the broker
sends no RECEIPT, and disconnect() with a handler stuck in user code."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from stomp_enterprise import Client, ConnectionLost
from stomp_enterprise.client.client import JOIN_ALLOWANCE
from stomp_enterprise.testing import Broker


def test_disconnect_with_a_stuck_handler_is_bounded(
    stomp_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """drain=0.3 and disconnect=0.5 took 5.3 s with a stuck handler (a fixed 5 s join after
    the drain). Now the call takes at most drain + disconnect + JOIN_ALLOWANCE, and the
    stuck dispatcher thread is left running, named in a WARNING."""
    caplog.set_level(logging.WARNING)
    entered, release = threading.Event(), threading.Event()

    def stuck(message: object) -> None:
        entered.set()
        release.wait(60)

    timeouts = {"drain": 0.3, "disconnect": 0.5}
    client = Client(stomp_broker.url, heart_beats=(0, 0), timeouts=timeouts)
    try:
        client.connect()
        client.subscribe("/queue/stuck", stuck)
        client.send("/queue/stuck", b"x")
        assert entered.wait(10)
        started = time.monotonic()
        client.disconnect()
        elapsed = time.monotonic() - started
        budget = timeouts["drain"] + timeouts["disconnect"] + JOIN_ALLOWANCE
        assert elapsed >= timeouts["drain"] * 0.95
        assert elapsed < budget + 1.5, elapsed  # 5.3 s before
        busy = [t for t in threading.enumerate() if t.name.startswith("stomp-dispatch")]
        assert busy
        assert all(t.is_alive() for t in busy)
        assert any(t.name in caplog.text for t in busy)
        assert "still busy" in caplog.text
        assert not client.is_connected
    finally:
        release.set()


def test_disconnect_fails_pending_receipts(stomp_broker: Broker) -> None:
    """A send_async still waiting for its RECEIPT when disconnect() gives up on the broker
    fails with ConnectionLost: close() leaves no future unresolved."""
    client = Client(stomp_broker.url, heart_beats=(0, 0), timeouts={"disconnect": 0.2})
    client.connect()
    stomp_broker.delay_frames(30.0)  # nothing the broker writes now arrives in time
    future = client.send_async("/queue/pending", b"x")
    client.disconnect()
    stomp_broker.delay_frames(0)
    with pytest.raises(ConnectionLost, match="closed"):
        future.result(timeout=0)
