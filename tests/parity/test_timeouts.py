"""Timeouts that hold (issue 13, items 8-10): CONNECT over TLS, disconnect() when the broker
sends no RECEIPT, and disconnect() with a handler stuck in user code."""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import trustme

from stomp_enterprise import ConnectFailed, ConnectTimeout
from stomp_enterprise.testing import Broker


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@contextmanager
def mute_server(server_context: ssl.SSLContext | None) -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections and never says a STOMP word. With a
    context it completes the TLS handshake first (then reads and discards); without one
    it never answers the TLS ClientHello. Yields its ``ssl://`` URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            if not select.select([listener], [], [], 0.05)[0]:
                continue
            sock, _ = listener.accept()
            accepted.append(sock)
            if server_context is not None:
                try:
                    tls = server_context.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    continue
                accepted.append(tls)
                tls.settimeout(0.05)
                while not stop.is_set():
                    try:
                        if not tls.recv(4096):
                            break
                    except TimeoutError:
                        continue
                    except (OSError, ssl.SSLError):
                        break

    thread = threading.Thread(target=serve, name="mute-tls-server")
    thread.start()
    try:
        yield f"ssl://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(10)
        for sock in accepted:
            sock.close()
        listener.close()


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.mark.parametrize(
    ("handshake", "timeouts", "connect_timeout", "says"),
    [
        # TLS handshake done, CONNECT sent, no CONNECTED: `timeouts.connected` holds (it took
        # 20-30 s before: a blocking TLS recv after select() waited the write timeout)
        pytest.param(True, {"connected": 0.5}, None, "no CONNECTED", id="connected"),
        # the same server, bounded by connect(timeout=...) alone
        pytest.param(True, {}, 0.5, "no CONNECTED", id="connect-argument"),
        # TCP accepted, the ClientHello never answered: `timeouts.connect` bounds the TCP
        # connect and the TLS handshake together
        pytest.param(False, {"connect": 0.5}, None, "timed out", id="handshake"),
    ],
)
def test_tls_server_that_does_not_answer_times_out(
    new_client,
    ca: trustme.CA,
    client_context: ssl.SSLContext,
    handshake: bool,
    timeouts: dict[str, float],
    connect_timeout: float | None,
    says: str,
) -> None:
    server_context = _server_context(ca) if handshake else None
    with mute_server(server_context) as url:
        client = new_client(url, ssl=client_context, heart_beats=(0, 0), timeouts=timeouts)
        started = time.monotonic()
        with pytest.raises(ConnectFailed) as info:
            client.connect(timeout=connect_timeout)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.5 * 0.95  # the configured timeout was waited...
    assert elapsed < 0.5 * 10  # ...and not the 30 s write timeout (generous on purpose)
    [(_, cause)] = info.value.attempts
    assert isinstance(cause, ConnectTimeout)
    assert says in str(cause)


def test_disconnect_ends_at_once_when_the_broker_closes_without_receipt(
    new_client, stomp_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """RabbitMQ (since 3.8.8) closes on DISCONNECT without the RECEIPT: the closed socket
    ends the wait, instead of waiting the whole disconnect timeout."""
    caplog.set_level(logging.INFO, logger="stomp_enterprise")
    stomp_broker.disconnect_without_receipt()
    client = new_client(stomp_broker.url, heart_beats=(0, 0), timeouts={"disconnect": 30})
    client.connect()
    started = time.monotonic()
    client.disconnect()
    assert time.monotonic() - started < 10  # 30 s if the receipt had been waited for
    assert "closed the connection while disconnecting" in caplog.text
    assert "no DISCONNECT receipt" not in caplog.text
    assert len(stomp_broker.received_frames("DISCONNECT")) == 1
    assert not client.is_connected
