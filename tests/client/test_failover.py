"""Failover and automatic reconnect against in-process brokers with fault injection."""

from __future__ import annotations

import pytest

from stomp_enterprise import (
    Client,
    ConnectionLost,
)
from tests.parity.test_failover import failover


def test_pending_receipted_send_is_sent_again_after_reconnect(stomp_broker) -> None:
    """Issue 13 item 2: on a failover URI a receipted send whose connection is lost before
    its RECEIPT is written again on the next connection; its future then succeeds."""
    with Client(failover(stomp_broker), heart_beats=(0, 0)) as client:
        stomp_broker.delay_frames(2.0)
        future = client.send_async("/queue/x", b"x")
        stomp_broker.wait_for(lambda: len(stomp_broker.received_frames("SEND")) == 1)
        stomp_broker.drop_connections()
        stomp_broker.delay_frames(0)
        receipt = future.result(5)
        assert receipt.command == "RECEIPT"
        sends = stomp_broker.received_frames("SEND")
        assert len(sends) == 2  # the broker had it already: a duplicate, counted
        assert sends[0].headers["receipt"] == sends[1].headers["receipt"]
        assert client.resent == 1
        assert client.undelivered == 0


def test_pending_receipts_fail_with_connection_lost_on_a_plain_uri(stomp_broker) -> None:
    with Client(stomp_broker.url, heart_beats=(0, 0)) as client:
        stomp_broker.delay_frames(2.0)
        future = client.send_async("/queue/x", b"x")
        stomp_broker.wait_for(lambda: len(stomp_broker.received_frames("SEND")) == 1)
        stomp_broker.drop_connections()
        with pytest.raises(ConnectionLost):
            future.result(5)
        stomp_broker.delay_frames(0)
        assert client.undelivered == 0  # told by the exception, not counted
