"""The transport's outbound queue: batching by the writer thread, and holding (``hold``/
``release``) frames of the thread that runs a batch of handlers. Over a socketpair: no
broker."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from stomp_enterprise.errors import ConnectionLost
from stomp_enterprise.protocol.failover import BrokerAddress
from stomp_enterprise.transport.socket import (
    HOLD_BYTES,
    MAX_BUFFER,
    WRITE_CHUNK,
    GateClosed,
    SocketTransport,
)


class Peer:
    """The far end of the socketpair: collects what the transport wrote."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = bytearray()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            with self._cond:
                self.data += chunk
                self._cond.notify_all()

    def wait_for(self, expected: bytes, timeout: float = 5.0) -> bytes:
        with self._cond:
            if not self._cond.wait_for(lambda: bytes(self.data) == expected, timeout):
                raise AssertionError(f"peer got {bytes(self.data)[:200]!r}, wanted {expected!r}")
            return bytes(self.data)

    def snapshot(self) -> bytes:
        with self._cond:
            return bytes(self.data)


@contextlib.contextmanager
def _transport_pair(max_buffer: int = MAX_BUFFER) -> Iterator[tuple[SocketTransport, Peer]]:
    ours, theirs = socket.socketpair()
    transport = SocketTransport(
        ours, BrokerAddress(scheme="tcp", host="127.0.0.1", port=1), max_buffer=max_buffer
    )
    lost: list[ConnectionLost] = []
    transport.start_writer("test-writer", lost.append)
    peer = Peer(theirs)
    try:
        yield transport, peer
    finally:
        transport.close(2.0)
        theirs.close()
    assert not lost


@pytest.fixture
def pair() -> Iterator[tuple[SocketTransport, Peer]]:
    with _transport_pair() as opened:
        yield opened


def _queue(transport: SocketTransport, data: bytes, *, hold: bool = False) -> None:
    if transport.enqueue(data, hold=hold):
        transport.write_queued()


def test_held_frames_wait_for_release_and_go_in_one_write(pair, monkeypatch) -> None:
    transport, peer = pair
    writes: list[int] = []
    real = transport._send_batch
    monkeypatch.setattr(
        transport, "_send_batch", lambda b, size: (writes.append(len(b)), real(b, size))[1]
    )
    transport.hold()
    for n in range(5):
        _queue(transport, b"ACK\nid:%d\n\n\0" % n, hold=True)
    time.sleep(0.05)
    assert peer.snapshot() == b""  # held: the writer was not woken
    transport.release()
    peer.wait_for(b"".join(b"ACK\nid:%d\n\n\0" % n for n in range(5)))
    assert writes == [5]  # one system call, on the releasing thread


def test_an_unheld_frame_takes_the_held_ones_with_it(pair) -> None:
    transport, peer = pair
    transport.hold()
    _queue(transport, b"held\0", hold=True)
    _queue(transport, b"send\0")  # a send from a handler is never held
    peer.wait_for(b"held\0send\0")
    transport.release()  # nothing left: no second write, no error


def test_other_threads_never_hold(pair) -> None:
    transport, peer = pair
    transport.hold()  # this thread holds; another thread's frames go at once
    thread = threading.Thread(target=_queue, args=(transport, b"other\0"), kwargs={"hold": True})
    thread.start()
    thread.join(5)
    peer.wait_for(b"other\0")
    transport.release()


def test_flush_and_a_due_heart_beat_write_held_frames(pair, monkeypatch) -> None:
    from stomp_enterprise.transport import socket as transport_module

    # the writer's idle wake-up (which also writes held frames) past every wait below
    monkeypatch.setattr(transport_module, "IDLE_WAIT", 600.0)
    transport, peer = pair
    transport.hold()
    _queue(transport, b"a\0", hold=True)
    assert transport.flush(30)
    peer.wait_for(b"a\0")
    _queue(transport, b"b\0", hold=True)
    assert not transport.try_write(b"\n")  # not queued: the held frame proves liveness
    peer.wait_for(b"a\0b\0")
    transport.release()


def test_a_blocked_holder_delays_its_frames_at_most_the_writers_idle_timeout(
    pair, monkeypatch
) -> None:
    from stomp_enterprise.transport import socket as transport_module

    monkeypatch.setattr(transport_module, "IDLE_WAIT", 0.05)  # our own knob, not the stdlib's
    transport, peer = pair
    transport.hold()
    _queue(transport, b"a\0", hold=True)
    peer.wait_for(b"a\0", timeout=30.0)  # the holder never releases: the writer's wake-up


def test_holding_is_bounded_in_bytes(pair) -> None:
    transport, peer = pair
    transport.hold()
    frame = b"x" * 4096 + b"\0"
    count = HOLD_BYTES // len(frame) + 2
    for _ in range(count):
        _queue(transport, frame, hold=True)
    # past HOLD_BYTES the writer is woken: everything arrives without release()
    peer.wait_for(frame * count)
    transport.release()


def test_a_failed_release_reports_the_loss_once_and_raises() -> None:
    ours, theirs = socket.socketpair()
    transport = SocketTransport(ours, BrokerAddress(scheme="tcp", host="127.0.0.1", port=1))
    lost: list[ConnectionLost] = []
    transport.start_writer("test-writer", lost.append)
    try:
        transport.hold()
        _queue(transport, b"a\0", hold=True)
        ours.shutdown(socket.SHUT_WR)  # the held frame cannot be written
        with pytest.raises(ConnectionLost):
            transport.release()
        assert len(lost) == 1
        with pytest.raises(ConnectionLost):  # and nothing is accepted afterwards
            _queue(transport, b"b\0")
    finally:
        transport.close(2.0)
        theirs.close()


def test_a_frame_bigger_than_the_socket_buffer_arrives_whole(pair) -> None:
    """The writer's non-blocking send writes what fits; the rest waits for room."""
    transport, peer = pair
    big = bytes(range(256)) * (8 * 1024 * 1024 // 256)  # 8 MiB, far past the kernel buffer
    _queue(transport, big)
    _queue(transport, b"after\0")
    peer.wait_for(big + b"after\0", timeout=10)


def test_reads_return_their_own_bytes_although_the_buffer_is_reused() -> None:
    ours, theirs = socket.socketpair()
    transport = SocketTransport(ours, BrokerAddress(scheme="tcp", host="127.0.0.1", port=1))
    try:
        theirs.sendall(b"first")
        first = transport.read(2.0)
        theirs.sendall(b"SECOND")
        second = transport.read(2.0)
        assert (first, second) == (b"first", b"SECOND")  # the first is not overwritten
        assert transport.read(0.05) is None  # nothing more: timed out
        theirs.close()
        assert transport.read(2.0) == b""  # EOF
    finally:
        transport.close(2.0)


def test_a_closed_gate_queues_nothing(pair) -> None:
    transport, peer = pair
    with pytest.raises(GateClosed):
        transport.enqueue(b"refused\0", gate=lambda: False)
    _queue(transport, b"accepted\0")
    peer.wait_for(b"accepted\0")  # the refused frame never reached the queue


def test_a_batch_past_the_write_chunk_is_written_in_order_in_pieces(pair, monkeypatch) -> None:
    transport, peer = pair
    frames = [bytes([n % 251]) * (1000 + 37 * n) + b"\0" for n in range(300)]  # ~1.9 MiB
    size = sum(map(len, frames))
    assert size > 4 * WRITE_CHUNK
    writes: list[int] = []
    real = transport._write
    monkeypatch.setattr(transport, "_write", lambda data: (writes.append(len(data)), real(data)))
    assert transport._send_batch(frames, size) is None
    peer.wait_for(b"".join(frames), timeout=10)
    assert sum(writes) == size
    assert len(writes) > 4  # joined in pieces, not all at once
    assert max(writes) < WRITE_CHUNK + max(map(len, frames))


def test_a_lazy_frame_waits_for_the_next_one_and_goes_in_its_write(pair, monkeypatch) -> None:
    """``enqueue(lazy=True)`` (a transaction's BEGIN) neither writes nor wakes the writer:
    the next frame takes it along in one write, and flush() writes it as well."""
    from stomp_enterprise.transport import socket as transport_module

    monkeypatch.setattr(transport_module, "IDLE_WAIT", 600.0)  # no idle wake-up meanwhile
    monkeypatch.setattr(transport_module, "DIRECT_WRITE_GAP", 0.0)  # others: written at once
    transport, peer = pair
    writes: list[int] = []
    real = transport._send_batch
    monkeypatch.setattr(
        transport, "_send_batch", lambda b, size: (writes.append(len(b)), real(b, size))[1]
    )
    wakeups = transport.writer_wakeups
    assert transport.enqueue(b"BEGIN\0", lazy=True) is False
    time.sleep(0.05)
    assert peer.snapshot() == b""  # not written, the writer not woken
    assert transport.writer_wakeups == wakeups
    _queue(transport, b"SEND\0")
    peer.wait_for(b"BEGIN\0SEND\0")
    assert writes == [2]  # one system call for both
    assert transport.enqueue(b"BEGIN2\0", lazy=True) is False
    assert transport.flush(30)
    peer.wait_for(b"BEGIN\0SEND\0BEGIN2\0")


@pytest.mark.parametrize("max_buffer", [MAX_BUFFER, 20_000])
def test_lazy_frames_wake_the_writer_once_a_chunk_or_the_limit_waits(
    monkeypatch, max_buffer
) -> None:
    """Lazy frames (a transaction's SENDs) wait without waking the writer only below
    ``WRITE_CHUNK`` bytes and the backpressure limit: the one that reaches either is queued
    as any frame (the writer takes them all), so senders held back by ``wait_writable``
    never wait for room that nobody makes."""
    from stomp_enterprise.transport import socket as transport_module

    monkeypatch.setattr(transport_module, "IDLE_WAIT", 600.0)  # no idle wake-up meanwhile
    monkeypatch.setattr(transport_module, "DIRECT_WRITE_GAP", 3600.0)  # no lone direct write
    with _transport_pair(max_buffer) as (transport, peer):
        bound = min(WRITE_CHUNK, max_buffer)
        _lazy_until_the_bound(transport, peer, bound)


def _lazy_until_the_bound(transport: SocketTransport, peer: Peer, bound: int) -> None:
    frame = b"SEND\n\n" + b"x" * 993 + b"\0"
    wakeups = transport.writer_wakeups
    sent = b""
    while len(sent) + len(frame) < bound:
        transport.wait_writable(5.0)
        assert transport.enqueue(frame, lazy=True) is False
        sent += frame
    time.sleep(0.05)
    assert peer.snapshot() == b""  # all waiting, no thread woken
    assert transport.writer_wakeups == wakeups
    transport.wait_writable(5.0)
    assert transport.enqueue(frame, lazy=True) is False  # reaches the bound: the writer
    sent += frame
    peer.wait_for(sent, timeout=10)
    assert transport.writer_wakeups == wakeups + 1
    transport.wait_writable(1.0)  # room again at once
