"""Connecting: version negotiation, refused logins, heart-beats, receipts."""

from __future__ import annotations

import threading
import time

import pytest

from integration.conftest import ClientFactory
from integration.helpers import raw_connected_heart_beat, wait_until
from integration.settings import Broker
from stomp_enterprise import BrokerError, Client
from stomp_enterprise.protocol.commands import negotiate_heart_beat


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_negotiate_version(broker: Broker, make_client: ClientFactory, names, version: str) -> None:
    """Offer one version only: the broker must settle on it, and a client-ack round trip
    (whose ACK headers differ per version) must work on it."""
    client = make_client(versions=[version])
    assert client.version == version
    assert client.is_connected
    queue_name = names("queue")
    sub = client.subscribe(queue_name, ack="client", receipt=True)
    client.send(queue_name, f"hello {version}", receipt=True)
    message = sub.get(timeout=10)
    assert message.text == f"hello {version}"
    message.ack(receipt=True)


def test_login_failure(broker: Broker, make_client: ClientFactory) -> None:
    """A wrong passcode is a BrokerError carrying the broker's own words, not a retry loop."""
    client = make_client(passcode=broker.passcode + "-wrong", connect=False)
    started = time.monotonic()
    with pytest.raises(BrokerError) as info:
        client.connect()
    assert time.monotonic() - started < 15
    error = info.value
    assert broker.login_error.lower() in str(error).lower(), str(error)
    assert error.frame is not None
    assert error.frame.command == "ERROR"
    assert not client.is_connected


def test_heart_beats(broker: Broker, make_clients, names) -> None:
    """Ask 1000,1000; the negotiated values follow the broker's CONNECTED (which may clamp or
    ignore what was asked); the connection survives more than three intervals of idleness,
    and a receipted send works afterwards. Both clients share the idle wait."""
    asked = (1000, 1000)
    server = raw_connected_heart_beat(broker, asked)
    expected = negotiate_heart_beat(asked, server)
    clients = make_clients(heart_beats=asked)
    lost: dict[str, list[BaseException | None]] = {kind: [] for kind in clients}
    for kind, client in clients.items():
        client.listeners.on("disconnected", lost[kind].append)
        client.listeners.on("heartbeat_timeout", lost[kind].append)
        assert client.heart_beats == expected, (kind, server, client.heart_beats)
    assert expected[1] > 0, f"{broker.name} promised no heart-beats: {server}"
    intervals = [v for v in expected if v > 0]
    idle = min(40.0, max(4.0, 3.5 * max(intervals) / 1000.0))
    time.sleep(idle)
    for kind, client in clients.items():
        assert client.is_connected, (kind, lost[kind])
        assert lost[kind] == [], kind
        client.send(names("queue"), b"still alive", receipt=True, timeout=10)


@pytest.mark.threaded_only  # send_async: the threaded client's pipelined receipts
def test_receipts(broker: Broker, make_client: ClientFactory, names) -> None:
    """RECEIPTs for SEND, SUBSCRIBE, UNSUBSCRIBE (blocking and pipelined) and a bounded
    DISCONNECT whether or not the broker answers its receipt."""
    client = make_client()
    seen: list[str] = []
    seen_lock = threading.Lock()

    def on_receipt(receipt_id: str) -> None:
        with seen_lock:
            seen.append(receipt_id)

    client.listeners.on("receipt", on_receipt)
    queue_name = names("queue")
    sub = client.subscribe(queue_name, receipt=True)
    client.send(queue_name, b"one", receipt=True)
    futures = [client.send_async(queue_name, f"p{i}".encode()) for i in range(20)]
    frames = [f.result(timeout=20) for f in futures]
    assert all(f.command == "RECEIPT" for f in frames)
    assert len({f.get("receipt-id") for f in frames}) == 20
    bodies = [sub.get(timeout=10).body for _ in range(21)]
    assert bodies == [b"one"] + [f"p{i}".encode() for i in range(20)]
    sub.unsubscribe(receipt=True)
    assert wait_until(lambda: len(seen) >= 23, 5), seen
    started = time.monotonic()
    client.disconnect()
    took = time.monotonic() - started
    limit = 3.0 if broker.disconnect_receipt else client.config.timeouts.disconnect + 3.0
    assert took < limit, f"disconnect took {took:.2f}s"
    assert not client.is_connected


def test_reconnect_after_disconnect(broker: Broker, make_client: ClientFactory) -> None:
    """The same Client can connect again after a clean disconnect."""
    client: Client = make_client()
    client.disconnect()
    client.connect()
    assert client.is_connected
