"""Interoperability with stomp.py: bodies and headers byte-identical in both directions."""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from typing import Any

import pytest
import stomp

from integration.conftest import ClientFactory
from integration.helpers import expect_nothing
from integration.settings import Broker
from stomp_enterprise import ConnectionLost

# header values that need STOMP 1.2 escaping (':' '\\' and non-ASCII), on both sides
CUSTOM = {"x-trace": "a:b\\c", "x-unicode": "żółć ☃", "x-plain": "value 1"}
BODIES = {
    "text": "plain text — ünïcödé".encode(),
    "binary": b"\x00\x01\x02\xff\x00" + os.urandom(4096) + b"\x00",
}


class _Collector(stomp.ConnectionListener):
    def __init__(self) -> None:
        self.messages: queue.Queue[Any] = queue.Queue()
        self.errors: list[Any] = []
        self.receipts: queue.Queue[str] = queue.Queue()

    def on_message(self, frame: Any) -> None:
        self.messages.put(frame)

    def on_receipt(self, frame: Any) -> None:
        self.receipts.put(frame.headers.get("receipt-id", ""))

    def on_error(self, frame: Any) -> None:
        self.errors.append(frame)


@pytest.fixture
def stomppy(broker: Broker) -> Iterator[tuple[stomp.Connection12, _Collector]]:
    """A stomp.py 1.2 connection (bytes bodies, no heart-beats), always disconnected."""
    conn = stomp.Connection12(
        [(broker.host, broker.port)],
        vhost=broker.vhost,
        auto_decode=False,
        reconnect_attempts_max=1,
        timeout=10,
    )
    collector = _Collector()
    conn.set_listener("collector", collector)
    conn.connect(broker.login, broker.passcode, wait=True)
    try:
        yield conn, collector
    finally:
        if conn.is_connected():
            conn.disconnect(receipt="bye")
        conn.transport.stop()


def _sent_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: headers[k] for k in CUSTOM if k in headers}


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_stomppy_to_us(
    broker: Broker, stomppy, make_client: ClientFactory, names, kind: str
) -> None:
    """stomp.py sends, we receive the same body bytes and header values (over a text-only
    WebSocket, ActiveMQ's, a binary body never reaches us: that is asserted instead)."""
    conn, _collector = stomppy
    client = make_client()
    queue_name = names("queue")
    sub = client.subscribe(queue_name, receipt=True)
    body = BODIES[kind]
    conn.send(queue_name, body, headers=dict(CUSTOM), content_type="application/x-test")
    if broker.text_only and kind == "binary":
        expect_nothing(sub, within=3.0)
        return
    message = sub.get(timeout=15)
    assert message.body == body
    assert _sent_headers(dict(message.headers)) == CUSTOM
    assert message.content_type == "application/x-test"


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_us_to_stomppy(
    broker: Broker, stomppy, make_client: ClientFactory, names, kind: str
) -> None:
    """We send, stomp.py receives the same body bytes and header values (over a text-only
    WebSocket, ActiveMQ's, the broker refuses a binary body with 1007: asserted instead)."""
    conn, collector = stomppy
    client = make_client()
    queue_name = names("queue")
    conn.subscribe(queue_name, id="interop", ack="auto", headers={"receipt": "subscribed"})
    assert collector.receipts.get(timeout=10) == "subscribed"
    body = BODIES[kind]
    if broker.text_only and kind == "binary":
        with pytest.raises(ConnectionLost, match=r"code 1007 \(invalid data\)"):
            client.send(
                queue_name, body, dict(CUSTOM), content_type="application/x-test", receipt=True
            )
        return
    client.send(queue_name, body, dict(CUSTOM), content_type="application/x-test", receipt=True)
    frame = collector.messages.get(timeout=15)
    assert frame.body == body
    assert _sent_headers(frame.headers) == CUSTOM
    assert frame.headers.get("content-type") == "application/x-test"
    assert collector.errors == []
