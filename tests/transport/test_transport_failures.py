"""Failure paths of the socket transport over a socketpair (no broker): the back-pressure
wait times out on its own even while the writer is stuck in a long socket write, a write
after close is refused, a pending loss fails the sender."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from stomp_enterprise.errors import ConnectFailed, ConnectionLost, ConnectTimeout
from stomp_enterprise.protocol.failover import BrokerAddress
from stomp_enterprise.transport import socket as transport_module
from stomp_enterprise.transport.socket import SocketTransport, map_socket_errors, socket_error

ADDRESS = BrokerAddress(scheme="tcp", host="127.0.0.1", port=1)


@pytest.fixture
def stuck(monkeypatch) -> Iterator[tuple[SocketTransport, list[ConnectionLost]]]:
    """A transport whose peer never reads, and whose socket writes block for 10 minutes (far
    past the per-test timeout): only the transport's own write_timeout can end a wait. Every
    frame goes through the writer thread (no direct write by the sender)."""
    monkeypatch.setattr(transport_module, "DIRECT_WRITE_GAP", 1e12)
    ours, theirs = socket.socketpair()
    ours.settimeout(600.0)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    transport = SocketTransport(ours, ADDRESS, max_buffer=64 * 1024, write_timeout=0.3)
    lost: list[ConnectionLost] = []
    transport.start_writer("test-writer", lost.append)
    yield transport, lost
    transport.close(5.0)
    theirs.close()


def test_back_pressure_wait_times_out_while_the_writer_is_stuck(stuck) -> None:
    transport, _ = stuck
    chunk = b"x" * 16384 + b"\0"

    def fill() -> None:
        for _ in range(10_000):  # bounded: far past the socket buffers and max_buffer
            transport.write(chunk)

    with pytest.raises(ConnectionLost, match=r"still queued after 0\.3s \(the broker does not"):
        fill()


def test_a_write_after_close_is_refused() -> None:
    ours, theirs = socket.socketpair()
    transport = SocketTransport(ours, ADDRESS)
    transport.start_writer("test-writer", lambda exc: None)
    transport.close(5.0)
    with pytest.raises(ConnectionLost, match="is closed"):
        transport.enqueue(b"SEND\n\n\0")
    with pytest.raises(ConnectionLost, match="is closed"):
        transport.write(b"SEND\n\n\0")
    theirs.close()


def test_a_read_after_close_is_the_end_of_the_stream() -> None:
    """close() from another thread may come just before the reader's next read: that read
    reports EOF (b""), not the ValueError select() raises for a closed socket's -1."""
    ours, theirs = socket.socketpair()
    transport = SocketTransport(ours, ADDRESS)
    transport.start_writer("test-writer", lambda exc: None)
    transport.close(5.0)
    assert transport.read(0.5) == b""
    assert transport.read_now() in (b"", None)
    theirs.close()


def test_a_peer_that_closes_fails_the_writer_and_reports_the_loss_once() -> None:
    ours, theirs = socket.socketpair()
    transport = SocketTransport(ours, ADDRESS)
    reported = threading.Event()
    losses: list[ConnectionLost] = []

    def on_error(exc: ConnectionLost) -> None:
        losses.append(exc)
        reported.set()

    transport.start_writer("test-writer", on_error)
    theirs.close()

    def flood() -> None:
        for _ in range(10_000):  # the first writes may still land in the kernel buffer
            transport.write(b"x" * 65536)

    with pytest.raises(ConnectionLost):
        flood()
    assert reported.wait(10)
    assert len(losses) == 1
    transport.close(5.0)


def test_read_now_takes_what_arrived_without_waiting() -> None:
    """``read_now`` (the reader's read after a coalescing pause): None when nothing came,
    the bytes when something did (liveness stamped), b"" at EOF. A socketpair hands what
    one end sent to the other at once."""
    ours, theirs = socket.socketpair()
    transport = SocketTransport(ours, ADDRESS)
    try:
        assert transport.read_now() is None
        transport.last_read = 0.0
        theirs.sendall(b"MESSAGE\n\n\0")
        assert transport.read_now() == b"MESSAGE\n\n\0"
        assert transport.last_read > 0.0
        assert transport.read_now() is None
        theirs.close()
        assert transport.read_now() == b""
    finally:
        transport.close(5.0)
        theirs.close()


def test_read_now_is_none_where_it_cannot_read_without_waiting() -> None:
    """Over a WebSocket (or TLS: no non-blocking handle) ``read_now`` says None: the caller
    reads with ``read``."""
    ours, theirs = socket.socketpair()
    transport = SocketTransport(ours, ADDRESS)
    handle, transport._nb = transport._nb, None  # as on TLS: only the waiting path reads
    try:
        theirs.sendall(b"\n")
        assert transport.read_now() is None
        assert transport.read(5.0) == b"\n"
    finally:
        transport.close(5.0)
        theirs.close()
        assert handle is not None
        handle.close()


@pytest.mark.parametrize(
    ("error", "connecting", "expected", "text"),
    [
        (TimeoutError("t"), False, ConnectionLost, "read from x: timed out"),
        (TimeoutError("t"), True, ConnectTimeout, "connect to x: timed out"),
        (
            ConnectionResetError(104, "Connection reset by peer"),
            False,
            ConnectionLost,
            "read from x: Connection reset by peer",
        ),
        (
            ConnectionRefusedError(111, "Connection refused"),
            True,
            ConnectFailed,
            "connect to x: Connection refused",
        ),
        (ssl.SSLError("bad record"), False, ConnectionLost, "read from x: "),
    ],
)
def test_socket_error_is_the_one_mapping(error, connecting, expected, text) -> None:
    what = "connect to x" if connecting else "read from x"
    mapped = socket_error(error, what, connecting=connecting)
    assert type(mapped) is expected
    assert str(mapped).startswith(text)
    with pytest.raises(expected) as raised, map_socket_errors(what, connecting=connecting):
        raise error
    assert str(raised.value) == str(mapped)
    assert raised.value.__cause__ is error
