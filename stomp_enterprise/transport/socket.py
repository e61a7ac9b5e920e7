"""A connected TCP or TLS socket with one write lock, bounded waits, and error mapping.

:func:`socket_error` is the one place where ``OSError`` and ``ssl.SSLError`` become
:mod:`stomp_enterprise.errors` exceptions (:func:`map_socket_errors` applies it to a block).
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from threading import get_ident
from typing import TYPE_CHECKING

from stomp_enterprise.core.outbox import SendTracker
from stomp_enterprise.errors import (
    ConnectFailed,
    ConnectionLost,
    ConnectTimeout,
    StompConnectionError,
)
from stomp_enterprise.protocol.constants import VERSIONS
from stomp_enterprise.protocol.failover import BrokerAddress
from stomp_enterprise.transport.wsconfig import WebSocketOptions

if TYPE_CHECKING:
    from stomp_enterprise.transport.websocket import WebSocketClient, WebSocketInput

__all__ = [
    "GateClosed",
    "SocketTransport",
    "map_socket_errors",
    "open_transport",
    "socket_error",
    "websocket_client",
]

log = logging.getLogger(__name__)

RECV_SIZE = 256 * 1024
MAX_BUFFER = 4 * 1024 * 1024  # queued outbound bytes before senders wait (backpressure)
DIRECT_WRITE_GAP = 0.0003  # idle this long, a sender writes its frame itself (see enqueue)
IDLE_WAIT = 1.0  # the writer re-checks the queue this often (held frames wait no longer)
WRITE_CHUNK = 256 * 1024  # a bigger batch is joined and written in pieces of about this size
HOLD_BYTES = 64 * 1024  # a holding thread (see hold) hands a bigger queue to the writer at once


@contextmanager
def map_socket_errors(what: str, *, connecting: bool = False) -> Iterator[None]:
    """Turn socket and TLS errors raised inside the block into stomp_enterprise errors
    (see :func:`socket_error`).

    Any thread.

    Args:
        what: words for the message, e.g. ``"connect to tcp://h:61613"``.
        connecting: errors mean the connection could not be made (``ConnectFailed`` /
            ``ConnectTimeout``) rather than lost (``ConnectionLost``).
    """
    try:
        yield
    except StompConnectionError:
        raise
    except OSError as exc:  # ssl.SSLError and TimeoutError too
        raise socket_error(exc, what, connecting=connecting) from exc


def socket_error(
    exc: OSError, what: str, *, connecting: bool = False
) -> ConnectFailed | ConnectionLost | ConnectTimeout:
    """The stomp_enterprise error for a socket or TLS error ``exc`` raised while doing
    ``what`` (the caller raises it ``from exc``): the one mapping, used by
    :func:`map_socket_errors` and by the read and write hot paths, which catch ``OSError``
    themselves (a context manager per read costs more than the read's own Python code).

    Any thread.
    """
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        if connecting:
            return ConnectTimeout(f"{what}: timed out")
        return ConnectionLost(f"{what}: timed out")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectFailed(f"{what}: TLS certificate verification failed: {exc.verify_message}")
    detail = exc.strerror or str(exc)
    if connecting:
        return ConnectFailed(f"{what}: {detail}")
    return ConnectionLost(f"{what}: {detail}")


def open_transport(
    address: BrokerAddress,
    *,
    connect_timeout: float,
    write_timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    websocket: WebSocketOptions | None = None,
    versions: Sequence[str] = VERSIONS,
) -> SocketTransport:
    """Connect to ``address`` (TCP, then TLS when the scheme asks for it, then the
    WebSocket upgrade for ``ws``/``wss``, offering the subprotocols of ``versions``).

    ``connect_timeout`` bounds the TCP connect, the TLS handshake and the WebSocket
    upgrade *together*: a server that accepts the TCP connection and never completes a
    handshake (or trickles it) is given up at the deadline. Call from the connecting
    thread.

    Raises:
        ConnectTimeout: the connect and handshakes took longer than ``connect_timeout``.
        ConnectFailed: refused, unreachable, the TLS handshake/verification failed, or the
            WebSocket upgrade was refused (the message names the HTTP status).
    """
    deadline = time.monotonic() + connect_timeout
    with map_socket_errors(f"connect to {address.url}", connecting=True):
        sock = socket.create_connection((address.host, address.port), timeout=connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if address.use_ssl:
                if ssl_context is None:
                    ssl_context = ssl.create_default_context()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no time left for the TLS handshake")
                # The whole handshake is bounded by the socket timeout (Python >= 3.5 does
                # not restart it on each record received): what the TCP connect left over.
                sock.settimeout(remaining)
                sock = ssl_context.wrap_socket(
                    sock, server_hostname=server_hostname or address.host
                )
            codec = None
            if address.use_websocket:
                codec = _upgrade(sock, address, websocket, versions, deadline)
            sock.settimeout(write_timeout)
        except BaseException:
            sock.close()
            raise
    return SocketTransport(sock, address, write_timeout=write_timeout, websocket=codec)


def websocket_client(
    address: BrokerAddress, options: WebSocketOptions | None, versions: Sequence[str]
) -> WebSocketClient:
    """The client codec for a ``ws``/``wss`` broker (both clients' transports use it)."""
    from stomp_enterprise.transport.websocket import WebSocketClient

    options = options or WebSocketOptions()
    return WebSocketClient(
        address.host,
        address.port,
        secure=address.use_ssl,
        resource=address.resource,
        versions=versions,
        extra_headers=options.plain_headers(),
        text=options.text,
        pack=options.pack,
        url=address.url,
    )


def _upgrade(
    sock: socket.socket,
    address: BrokerAddress,
    options: WebSocketOptions | None,
    versions: Sequence[str],
    deadline: float,
) -> WebSocketClient:
    """The WebSocket handshake on the connected (blocking) socket, bounded by ``deadline``."""
    codec = websocket_client(address, options, versions)
    sock.sendall(codec.handshake_request())
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no WebSocket handshake answer in time")
        sock.settimeout(remaining)
        if codec.receive_handshake(sock.recv(RECV_SIZE)):
            log.debug("%s: WebSocket subprotocol %s", address.url, codec.subprotocol)
            return codec


class GateClosed(Exception):
    """:meth:`SocketTransport.enqueue` refused a frame: its ``gate`` returned False."""


class SocketTransport:
    """One connected socket.

    Writing: during the handshake :meth:`write` sends at once; after :meth:`start_writer` a
    writer thread owns all socket writes. Any thread queues whole frames (:meth:`enqueue`,
    never blocking), and the writer sends everything queued since its last write with one
    ``sendall``, so a burst of sends or acks costs one system call. The queue is bounded
    (:meth:`wait_writable`); :meth:`flush` waits until it is empty.

    Reading belongs to the connection's reader thread (:meth:`read`). ``last_read`` and
    ``last_write`` are ``time.monotonic()`` stamps of the last byte received/sent.
    """

    def __init__(
        self,
        sock: socket.socket,
        address: BrokerAddress,
        *,
        max_buffer: int = MAX_BUFFER,
        write_timeout: float = 30.0,
        websocket: WebSocketClient | None = None,
    ) -> None:
        self._sock = sock
        self.address = address
        #: STOMP over WebSocket: the codec (after its handshake) that frames every write and
        #: unwraps every read; None for plain STOMP over TCP/TLS.
        self.websocket = websocket
        self._control: list[bytes] = []  # WebSocket control frames (pongs) for the next write
        self._ws_payload = b""  # STOMP bytes decoded before a close, for the next read()
        self._ws_closed: ConnectionLost | None = None  # the peer's close, raised after them
        self.last_read = self.last_write = time.monotonic()
        self._closed = False
        self._tls = isinstance(sock, ssl.SSLSocket)
        self.max_buffer = max_buffer
        self.write_timeout = write_timeout
        # the outbound queue: frames in call order, written in batches by the writer thread
        self._out: list[bytes] = []
        self._out_size = 0
        self._writing = False
        self._queue_lock = threading.Lock()
        self._cond = threading.Condition(self._queue_lock)  # the writer waits here for work
        self._idle = threading.Condition(self._queue_lock)  # senders wait here for room/empty
        self._idle_waiters = 0  # threads in _idle.wait: the hot paths notify only when any
        self._writer: threading.Thread | None = None
        self._error: ConnectionLost | None = None
        self._on_error: Callable[[ConnectionLost], None] | None = None
        # TLS: non-blocking from the start, every recv/send under the I/O lock. A TLS socket
        # with a timeout can block in recv() after select() said readable (a TLS 1.3 session
        # ticket is readable but no application data): for up to its whole timeout, which
        # held the handshake's CONNECTED wait far beyond `timeouts.connected`.
        self._io_lock: threading.Lock | None = None
        if self._tls:
            self._io_lock = threading.Lock()
            sock.setblocking(False)
        # Plain TCP: a second handle on the socket in non-blocking mode. A socket with a
        # timeout polls before every recv/send; the reader has already waited in select(),
        # and the writer tries a non-blocking send first, so each saves a system call. Reads
        # land in one reused buffer (a fresh 256 KiB bytes per recv costs mmap/munmap).
        self._nb: socket.socket | None = None
        if not self._tls:
            if sock.gettimeout() is None:  # the handles share O_NONBLOCK: time writes out
                sock.settimeout(write_timeout)
            self._nb = sock.dup()
            self._nb.settimeout(0.0)
        self._rbuf = bytearray(RECV_SIZE)
        self._rview = memoryview(self._rbuf)
        self._last_enqueue = 0.0
        self._woken = False  # the writer was notified since it last began to wait
        self._holder: int | None = None  # the thread whose frames wait for release()
        #: Test and diagnostic hooks (documented in docs/testing.md): how many times a sender
        #: woke the writer thread, and an optional callable run on the writing thread with
        #: each batch just before it is written (it must not block or raise).
        self.writer_wakeups = 0
        self.write_observer: Callable[[list[bytes]], None] | None = None
        # After a loss: the frames not completely written, handed back by take_unsent().
        self._unsent: list[bytes] = []
        # trackMessages (see track()): written SENDs kept until the broker confirms them.
        self._tracker: SendTracker | None = None
        self._stalled = False  # the tracking cache is full: writer and senders wait
        # queued bytes above which senders wait (wait_writable): max_buffer, or with tracking
        # the room left in the cache (queued frames are on their way into it)
        self._limit = max_buffer
        self._progress = 0  # bytes of the piece being written that got out (see _write)
        if websocket is not None:  # frames that came with the handshake response
            self._ws_input(websocket.take_early())

    def stomp_versions(self, versions: Sequence[str]) -> tuple[str, ...]:
        """The STOMP versions to offer in CONNECT on this connection: over WebSocket the
        one of the subprotocol the server accepted (all of ``versions`` when it accepted
        none); otherwise ``versions``. Any thread."""
        if self.websocket is None:
            return tuple(versions)
        return self.websocket.stomp_versions()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    # ------------------------------------------------------------ loss and tracking

    def track(self, tracker: SendTracker) -> None:
        """Keep every SEND written through the queue in ``tracker`` until the broker
        confirms it (``trackMessages``); call before :meth:`start_writer`. Marker receipts
        are added by the writer; :meth:`confirmed` (the reader) hands RECEIPTs to it. While
        the cache is full the writer writes no SEND and senders wait in
        :meth:`wait_writable`. The connecting thread, before the writer starts."""
        self._tracker = tracker
        self._update_limit()

    def _update_limit(self) -> None:
        """With tracking, senders wait while the queue holds more than the cache has room
        for (call holding the queue lock, or before the writer starts)."""
        tracker = self._tracker
        if tracker is not None:
            self._limit = min(self.max_buffer, max(0, tracker.max_bytes - tracker.bytes))

    @property
    def queued_bytes(self) -> int:
        """Bytes queued and not yet (completely) written. Any thread."""
        return self._out_size + sum(map(len, self._unsent))

    @property
    def stalled(self) -> bool:
        """The tracking cache is full: the writer waits for a confirmation."""
        return self._stalled

    @property
    def tracker(self) -> SendTracker | None:
        """The tracking cache, if any (see :meth:`track`)."""
        return self._tracker

    def confirmed(self, receipt_id: str) -> bool:
        """A RECEIPT arrived (reader thread): confirm the tracked frames up to it. Returns
        whether it was one of the tracker's confirmation points (a marker)."""
        tracker = self._tracker
        if tracker is None or not tracker.is_marker(receipt_id):
            return False
        with self._queue_lock:
            if self._closed or not tracker.confirm(receipt_id):
                return False
            self._update_limit()
            if self._stalled:
                self._stalled = False
                self._cond.notify()
            self._idle.notify_all()
        return True

    def take_unsent(self, timeout: float = 5.0) -> list[bytes]:
        """After the connection failed or closed: every frame that was queued but not
        completely written, in order, whole (a frame cut in the middle is returned whole,
        never its remainder). Waits (bounded) for a write in progress to end. The queue is
        empty afterwards. Any thread (the queue's lock), once the connection failed or closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._writing and self._writer is not threading.current_thread():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wait_idle(remaining)
            frames = [frame for frame in (*self._unsent, *self._out) if frame]
            self._unsent = []
            self._out = []
            self._out_size = 0
        return frames

    def take_cached(self) -> list[bytes]:
        """After the connection failed or closed: the tracked frames the broker has not
        confirmed, oldest first (empty without tracking).
        Any thread (the queue's lock), once the connection failed or closed."""
        tracker = self._tracker
        if tracker is None:
            return []
        with self._queue_lock:
            return tracker.take()

    def preload(self, frames: list[bytes]) -> None:
        """Before :meth:`start_writer`, with nobody else using this transport yet: queue
        ``frames`` (a reconnect's subscription replay and carried-over sends) ahead of
        everything senders queue later. The writer writes them first.
        The connecting thread, before the writer starts."""
        with self._queue_lock:
            self._out[:0] = frames
            self._out_size += sum(map(len, frames))

    def _take_batch(self) -> tuple[list[bytes], int]:
        """Take what the next write sends (call holding the queue lock): everything queued,
        or with tracking what fits in the cache (nothing while it is full: stalled)."""
        batch, size = self._out, self._out_size
        tracker = self._tracker
        if tracker is not None and tracker.bytes + size > tracker.max_bytes:
            count = tracker.admit(batch, size)
            if count < len(batch):
                self._stalled = True
                if not count:
                    return [], 0
                batch, rest = batch[:count], batch[count:]
                size = sum(map(len, batch))
                self._out, self._out_size = rest, self._out_size - size
                return batch, size
        self._out = []
        self._out_size = 0
        return batch, size

    # ------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        """Send ``data``. Before :meth:`start_writer` (the handshake) it is written at once;
        afterwards it is queued (see :meth:`enqueue`). Thread-safe.

        Raises:
            ConnectionLost: the socket failed (the stream may be cut mid-frame).
        """
        if self._writer is None:
            self._send_now(data)
        else:
            self.wait_writable()
            if self.enqueue(data):
                self.write_queued()

    def _send_now(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionLost(f"connection to {self.address.url} is closed")
        try:
            with map_socket_errors(f"write to {self.address.url}"):
                # TLS: bounded by the write timeout (see _send_tls)
                self._write(data if self.websocket is None else b"".join(self._framed([data])))
        except ConnectionLost:
            self.close()  # a partial write leaves a cut frame: the stream is unusable
            raise
        self.last_write = time.monotonic()

    def start_writer(self, name: str, on_error: Callable[[ConnectionLost], None]) -> None:
        """Start the writer thread; from now on frames are queued and written in batches, so
        many frames cost one system call. ``on_error`` is called (on the writer thread) when
        the socket fails."""
        self._on_error = on_error
        self._writer = threading.Thread(target=self._write_loop, name=name, daemon=True)
        self._writer.start()

    def wait_writable(self, timeout: float | None = None) -> None:
        """Backpressure: wait (bounded) while more than ``max_buffer`` bytes are queued (with
        tracking: more than the tracking cache has room for, or it is full). Call it holding
        no other lock.

        Any sending thread.

        Raises:
            ConnectionLost: the connection failed, or the queue did not drain in time.
        """
        if self._out_size <= self._limit and not self._stalled:
            return
        deadline = time.monotonic() + (self.write_timeout if timeout is None else timeout)
        with self._cond:
            while (
                (self._out_size > self._limit or self._stalled)
                and self._error is None
                and not self._closed
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if self._tracker is None:
                        raise ConnectionLost(
                            f"write to {self.address.url}: {self._out_size} bytes still "
                            f"queued after {self.write_timeout:g}s (the broker does not read)"
                        )
                    tracker = self._tracker
                    held = tracker.bytes if tracker is not None else 0
                    raise ConnectionLost(
                        f"write to {self.address.url}: no room in the tracking cache "
                        f"(maxCacheSize; {held} bytes unconfirmed, {self._out_size} queued) "
                        f"and the broker confirmed none of it within {self.write_timeout:g}s"
                    )
                self._wait_idle(remaining)

    def enqueue(
        self,
        data: bytes,
        *,
        direct: bool = False,
        hold: bool = False,
        lazy: bool = False,
        gate: Callable[[], bool] | None = None,
    ) -> bool:
        """Queue ``data`` (never blocks; call :meth:`wait_writable` first to bound the queue).
        Frames keep the order of the calls.

        Args:
            direct: the caller is about to wait for an answer anyway (a receipt): when no
                write is in progress it writes the queue itself, sparing the hand-off to the
                writer thread. The same happens without ``direct`` when nothing was queued
                for ``DIRECT_WRITE_GAP`` seconds (low-rate traffic: lowest latency). Then
                this returns True and the caller MUST call :meth:`write_queued` (after
                releasing its own locks).
            hold: the frame may wait for :meth:`release` when the calling thread holds (see
                :meth:`hold`).
            lazy: queue it without writing it or waking the writer: the next frame queued
                (or a flush, a heart-beat, the writer's next check) takes it along. For a
                frame nothing at the broker depends on before the frames that follow it (a
                transaction's BEGIN and SENDs, applied at its COMMIT): no system call, and no
                broker or writer wake-up, of its own. Bounded: a lazy frame that brings the
                queue to ``WRITE_CHUNK`` bytes (or to the backpressure limit) is queued as
                any other, so lazy frames never wait for room that nobody makes.
            gate: called under the queue lock; the frame is queued only if it returns True
                (a caller that does not hold the lock its state is guarded by checks it
                here, where the order of frames is decided).

        Raises:
            ConnectionLost: the connection failed or is closed.
            GateClosed: ``gate`` returned False (nothing was queued).
        """
        with self._queue_lock:  # the condition's lock, taken without its Python wrapper
            if self._error is not None:
                raise ConnectionLost(str(self._error))
            if self._closed:
                raise ConnectionLost(f"connection to {self.address.url} is closed")
            if gate is not None and not gate():
                raise GateClosed
            self._out.append(data)
            self._out_size += len(data)
            now = time.monotonic()
            lone = now - self._last_enqueue > DIRECT_WRITE_GAP
            self._last_enqueue = now
            if self._writing or (lazy and self._out_size < min(self._limit, WRITE_CHUNK)):
                return False  # the thread writing now takes it with its next batch
            if hold and self._holder == get_ident() and self._out_size < HOLD_BYTES:
                return False  # held: release() writes it with the rest of the batch
            if direct or lone:
                # nothing was written lately: a lone frame goes out at once on this thread
                # (no hand-off latency); frames in quick succession are batched by the writer
                self._writing = True
                return True
            if not self._woken:  # one notify per wait: the writer takes all that is queued
                self._woken = True
                self.writer_wakeups += 1
                self._cond.notify()
            return False

    def hold(self) -> None:
        """Until :meth:`release`, frames the calling thread queues with ``hold=True`` wait in
        the queue (up to ``HOLD_BYTES``) instead of waking the writer: the dispatcher holds
        while it runs the handlers of one read, then writes their ACKs with one system call
        on its own thread. Any other frame, :meth:`flush` and a due heart-beat still write
        everything queued."""
        self._holder = get_ident()

    def release(self) -> None:
        """End :meth:`hold`: write what is queued on the calling thread, unless a write is
        in progress (that one takes it).

        Raises:
            ConnectionLost: the write failed (the connection is then reported lost).
        """
        with self._queue_lock:
            self._holder = None
            if not self._out or self._writing or self._closed or self._error is not None:
                return
            self._writing = True
        self.write_queued()

    def write_queued(self) -> None:
        """Write the queue on the calling thread, batch after batch, until it is empty (only
        after :meth:`enqueue` returned True).

        Raises:
            ConnectionLost: the write failed (the connection is then reported lost).
        """
        lock = self._queue_lock  # the conditions' lock, taken without their Python wrapper
        while True:
            with lock:
                batch, size = self._take_batch() if self._out and not self._closed else ([], 0)
                if not batch:
                    self._writing = False
                if self._idle_waiters:
                    self._idle.notify_all()
                if not batch:
                    return
            error = self._send_batch(batch, size)
            if error is not None:
                raise error

    def _wait_idle(self, timeout: float) -> None:
        """Wait on ``_idle`` (holding the queue lock), counted in ``_idle_waiters``."""
        self._idle_waiters += 1
        try:
            self._idle.wait(timeout)
        finally:
            self._idle_waiters -= 1

    def try_write(self, data: bytes) -> bool:
        """Queue ``data`` only when nothing is queued or being written (heart-beats: a busy
        writer already proves liveness). Returns whether it queued.
        Any thread (the queue's lock); the client's reader sends heart-beats with it."""
        with self._cond:
            if self._out or self._writing or self._error is not None or self._closed:
                if self._out and not self._writing and not self._woken:
                    self._woken = True  # held frames (see hold): they prove liveness as well
                    self._cond.notify()
                return False
            self._out.append(data)
            self._out_size += len(data)
            self._cond.notify()
            return True

    def flush(self, timeout: float) -> bool:
        """Wait (bounded) until everything queued has been written. Returns False on timeout
        or when the connection failed first. Any thread but the writer."""
        if self._writer is None:
            return True
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._out and not self._writing and not self._woken:
                self._woken = True  # held frames (see hold) go now
                self._cond.notify()
            while (self._out or self._writing) and self._error is None and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wait_idle(remaining)
            return not (self._out or self._writing)

    def _write_loop(self) -> None:
        cond = self._cond
        while True:
            with cond:
                # another thread may be writing directly (see enqueue): never write at once
                while (not self._out or self._writing or self._stalled) and not self._closed:
                    self._woken = False
                    cond.wait(IDLE_WAIT)
                if not self._out or self._writing or self._closed:
                    return  # closed: what is left stays for take_unsent()
                batch, size = self._take_batch()
                if not batch:  # the tracking cache is full: wait for a confirmation
                    continue
                self._writing = True
                if self._idle_waiters:  # room for senders held back by wait_writable
                    self._idle.notify_all()
            if self._send_batch(batch, size) is not None:
                return
            with cond:
                self._writing = False
                if self._out:
                    continue
                if self._idle_waiters:  # flush() waiters
                    self._idle.notify_all()

    def _send_batch(self, batch: list[bytes], size: int) -> ConnectionLost | None:
        """Write one batch of ``size`` bytes; on failure record the error, keep the frames
        not completely written (see :meth:`take_unsent`), report the loss (once) and
        return the error."""
        if self.write_observer is not None:
            self.write_observer(batch)
        tracker = self._tracker
        mark = None
        if tracker is not None:
            with self._queue_lock:  # the reader confirms (under this lock) at any time
                mark = tracker.prepare(batch, size, time.monotonic())
        start = 0  # the first frame of the piece being written
        wire = batch
        if self.websocket is not None:  # whole frames per message: a cut one delivers none
            wire = self._framed(batch)
            size = sum(map(len, wire))
        try:
            try:
                if len(wire) == 1:
                    self._write(wire[0])
                elif size <= WRITE_CHUNK:
                    self._write(b"".join(wire))
                else:
                    # Joined in bounded pieces: a multi-megabyte join is freshly mapped
                    # memory (a page fault per 4 KiB) and holds the GIL for the whole copy;
                    # a reused 256 KiB piece is neither.
                    total = 0
                    for index, frame in enumerate(wire, 1):
                        total += len(frame)
                        if total >= WRITE_CHUNK:
                            self._write(b"".join(wire[start:index]))
                            start, total = index, 0
                    if start < len(wire):
                        self._write(b"".join(wire[start:]))
            except OSError as os_exc:  # see socket_error
                raise socket_error(os_exc, f"write to {self.address.url}") from os_exc
        except ConnectionLost as exc:
            # frames written completely: the pieces before, and those of the failed piece
            # that fit in the bytes it got out (a frame cut in the middle is not)
            done, written = start, self._progress
            while done < len(wire) and len(wire[done]) <= written:
                written -= len(wire[done])
                done += 1
            with self._cond:
                first = self._error is None
                self._error = exc
                self._writing = False
                self._stalled = False
                self._unsent = batch[done:]  # whole frames: a cut one is sent again whole
                if tracker is not None and done:
                    tracker.written(batch[:done], mark)
                self._cond.notify_all()
                self._idle.notify_all()
            if first and not self._closed and self._on_error is not None:
                self._on_error(exc)
            return exc
        if tracker is not None:
            with self._queue_lock:
                tracker.written(batch, mark)
                self._update_limit()
        self.last_write = time.monotonic()
        return None

    def _write(self, data: bytes) -> None:
        """Write all of ``data``; ``_progress`` counts the bytes that got out (so that after
        a failure the frames written completely are known).

        Over WebSocket ``data`` is already framed (see :meth:`_framed`)."""
        self._progress = 0
        nb = self._nb
        if nb is not None:  # a kernel socket may be read and written at once
            try:
                sent = nb.send(data)  # usually all of it, without the poll
            except BlockingIOError:
                sent = 0
            self._progress = sent
            if sent < len(data):  # the rest waits for room, bounded by the timeout
                view = memoryview(data)
                sock = self._sock
                deadline = time.monotonic() + self.write_timeout
                while sent < len(data):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no room to write for {self.write_timeout:g}s")
                    sent += sock.send(view[sent:])  # waits for room (the socket's timeout)
                    self._progress = sent
        elif self._io_lock is None:
            self._sock.sendall(data)
        else:
            self._send_tls(data)

    def _send_tls(self, data: bytes) -> None:
        """Write on the non-blocking TLS socket. OpenSSL must not read and write one
        connection from two threads at once, so each ``send`` holds the I/O lock; waiting for
        room happens outside it, so the reader is never blocked by a full socket."""
        sock = self._sock
        lock = self._io_lock
        assert lock is not None
        deadline = time.monotonic() + self.write_timeout
        while data:
            with lock:
                try:
                    sent = sock.send(data)
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    sent = 0  # OpenSSL keeps the partial record: retry with the same data
            if sent:
                data = data[sent:]
                self._progress += sent
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no room to write for {self.write_timeout:g}s")
            select.select([], [sock], [], min(remaining, 0.05))

    # ------------------------------------------------------------ reading

    def read(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds for data.

        One thread at a time: the connection's reader thread (the connecting thread before
        the reader starts).

        Returns:
            The bytes received, ``b""`` at EOF, or ``None`` when nothing came in time.

        Raises:
            ConnectionLost: the socket failed.
        """
        if self._ws_payload or self._ws_closed is not None:
            return self._ws_pending()
        sock = self._sock
        lock = self._io_lock
        try:
            if not (self._tls and sock.pending()):  # type: ignore[attr-defined]
                try:
                    readable, _, _ = select.select([sock], [], [], timeout)
                except ValueError:  # closed under us: its descriptor is -1
                    if self._closed:
                        return b""
                    raise ConnectionLost(f"read from {self.address.url}: socket closed") from None
                if not readable:
                    return None
            try:
                nb = self._nb
                if nb is not None:
                    size = nb.recv_into(self._rbuf)
                    data = bytes(self._rview[:size]) if size else b""
                elif lock is None:
                    data = sock.recv(RECV_SIZE)
                else:
                    with lock:  # see _send_tls
                        data = sock.recv(RECV_SIZE)
            except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return None  # an incomplete TLS record, or a spurious wake-up
            except OSError:
                if self._closed:
                    return b""
                raise
        except OSError as exc:  # see socket_error
            raise socket_error(exc, f"read from {self.address.url}") from exc
        if data:
            self.last_read = time.monotonic()  # liveness: every byte, control frames too
        if self.websocket is None or not data:
            return data  # EOF: a close frame before it was reported by an earlier read
        self._ws_input(self.websocket.receive(data))
        if self._ws_payload or self._ws_closed is not None:
            return self._ws_pending()
        return None

    def read_now(self) -> bytes | None:
        """What has already arrived, without waiting: one non-blocking ``recv`` and no
        ``select()`` (plain TCP only). For a reader that expects data (a stream: see
        ``ClientConfig.read_coalescing``), this spares the ``select()`` system call.

        The connection's reader thread only.

        Returns:
            As :meth:`read`; ``None`` also when the transport cannot read without waiting
            (TLS, WebSocket): then call :meth:`read`.

        Raises:
            ConnectionLost: the socket failed.
        """
        nb = self._nb
        if nb is None or self.websocket is not None:
            return None
        try:
            size = nb.recv_into(self._rbuf)
        except BlockingIOError:
            return None
        except OSError as exc:
            if self._closed:
                return b""
            raise socket_error(exc, f"read from {self.address.url}") from exc
        if not size:
            return b""
        self.last_read = time.monotonic()  # liveness: every byte
        return bytes(self._rview[:size])

    # ------------------------------------------------------------ WebSocket

    def _framed(self, frames: list[bytes]) -> list[bytes]:
        """WebSocket: the frames as messages (see :meth:`WebSocketClient.wire`), pending
        control frames (pongs) ahead of the first."""
        assert self.websocket is not None
        wire = self.websocket.wire(frames)
        if self._control:
            with self._queue_lock:
                control, self._control = self._control, []
            wire[0] = b"".join((*control, wire[0]))
        return wire

    def _ws_input(self, received: WebSocketInput) -> None:
        """Keep what the codec decoded (reader thread); queue its control frames."""
        if received.payload:
            self._ws_payload += received.payload
        if received.to_send:
            self.send_control(received.to_send)
        closed = received.closed
        if closed is not None and self._ws_closed is None:
            self._ws_closed = ConnectionLost(
                f"{self.address.url} closed the WebSocket: {closed.describe()}"
            )

    def _ws_pending(self) -> bytes:
        """The STOMP bytes decoded so far; once they are handed out, the peer's close."""
        payload = self._ws_payload
        if payload:
            self._ws_payload = b""
            return payload
        assert self._ws_closed is not None
        raise self._ws_closed

    def send_control(self, wire: bytes) -> None:
        """Write WebSocket control frame bytes (a pong, a close) ahead of the next data
        (any thread; never blocks the caller on the socket): before :meth:`start_writer`
        at once, afterwards by whichever thread writes next, which an empty entry in the
        queue guarantees."""
        with self._cond:
            if self._closed or self._error is not None:
                return
            self._control.append(wire)
            if self._writer is not None:
                self._out.append(b"")
                if not self._writing and not self._woken:
                    self._woken = True
                    self._cond.notify()
                return
        self._send_now(b"")

    def close(self, join_timeout: float = 5.0) -> None:
        """Shut the socket down, close it and join the writer (idempotent, never raises;
        does not join when called from the writer itself). Queued frames are not written:
        call :meth:`flush` first for a graceful close, :meth:`take_unsent` after it.
        Any thread, the writer included (it is then not joined)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stalled = False
            self._cond.notify_all()
            self._idle.notify_all()
            goodbye = self.websocket is not None and self._error is None and not self._writing
        if goodbye:
            self._say_goodbye()
        self._close_socket()
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(join_timeout)

    def _say_goodbye(self) -> None:
        """WebSocket: write a close frame (code 1000) if the socket takes it at once."""
        assert self.websocket is not None
        wire = self.websocket.close_frame(1000, "")
        handle = self._nb or self._sock  # both non-blocking here (see __init__)
        guard: AbstractContextManager[object] = self._io_lock or nullcontext()
        with suppress(OSError, ssl.SSLError), guard:
            handle.send(wire)

    def _close_socket(self) -> None:
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        for handle in (self._sock, self._nb):
            if handle is None:
                continue
            try:
                handle.close()
            except OSError:
                log.debug("error closing socket to %s", self.address.url, exc_info=True)

    def fileno(self) -> int:
        """The socket's file descriptor (-1 once closed). Any thread."""
        return self._sock.fileno()
