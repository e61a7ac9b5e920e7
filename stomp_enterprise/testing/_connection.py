"""One client connection of the testing broker: a reader thread and a writer thread.

The socket is non-blocking after the (optional) TLS handshake. Every ``send``/``recv`` on it
happens under the connection's I/O lock (an ``SSLSocket`` must not be read and written at
the same time), and the lock is never held while waiting: readiness is awaited with
``select`` outside it. So:

* the **reader** (``stomp-testing-broker-conn-<n>``) polls the socket, parses, and hands each
  frame to the broker; it also enforces the client's heart-beat promise and owns the socket's
  lifetime (it closes it, joins the writer and reports the connection closed);
* the **writer** (``stomp-testing-broker-conn-<n>-writer``) drains an unbounded outbound
  queue, applies the injected delay, and sends heart-beats when idle.

Nobody else ever blocks on this socket: the broker only appends to the outbound queue. A
consumer that reads nothing only stalls its own writer; after ``slow_consumer_timeout``
seconds without a byte accepted by the kernel the connection is dropped (its unacked messages
are then redelivered to others).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Final, Protocol

from stomp_enterprise.errors import LocalProtocolError, ProtocolError
from stomp_enterprise.protocol.frames import Frame, redacted_headers
from stomp_enterprise.protocol.parser import (
    DEFAULT_MAX_HEADER_COUNT,
    DEFAULT_MAX_HEADER_LENGTH,
    FrameParser,
)

if TYPE_CHECKING:
    from stomp_enterprise.transport.websocket import WebSocketServer

__all__ = ["BrokerConnection", "ConnectionHandler", "FaultState"]

logger = logging.getLogger("stomp_enterprise.testing")

_POLL: Final = 0.05  # seconds between checks of the flags (stop, silence, heart-beats)
_RECV_SIZE: Final = 65536
_HEARTBEAT: Final = b"\n"
_FLUSH_TIMEOUT: Final = 2.0  # bound on flushing the last frames before a close
_DRAIN_TIME: Final = 0.3  # read (and discard) this long after the last frame, to avoid a RST
_HANDSHAKE_TIMEOUT: Final = 5.0  # the WebSocket upgrade request must arrive within this
_IO_ERRORS: Final = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class ConnectionHandler(Protocol):
    """What a connection calls back into (the broker), always from its reader thread."""

    def _on_frame(self, conn: BrokerConnection, frame: Frame) -> None: ...

    def _on_protocol_error(self, conn: BrokerConnection, exc: ProtocolError) -> None: ...

    def _on_closed(self, conn: BrokerConnection) -> None: ...


class FaultState:
    """Fault-injection switches shared by all connections of one broker.

    Attributes:
        silent: set while the broker neither reads nor writes (a half-open peer).
        delay: seconds every outbound frame is held before it is written.
    """

    def __init__(self) -> None:
        self.silent = threading.Event()
        self.delay = 0.0


class BrokerConnection:
    """A client connection; created by the acceptor, driven by its own two threads.

    Args:
        number: the broker-wide connection number (names the threads).
        sock: the accepted socket (plain; TLS is negotiated by the reader when
            ``ssl_context`` is given).
        handler: the broker.
        faults: the broker's fault switches.
        max_frame_size: the parser limit.
        slow_consumer_timeout: drop the connection when no byte could be written this long.
        heart_beat_grace: close when the client is silent for this many times its promised
            heart-beat interval.
        websocket: speak STOMP over WebSocket through this server codec (after TLS, if
            any): the reader answers the upgrade request first; every frame queued is
            framed as one WebSocket message.
        websocket_path: the only request path accepted (others get 404); None: any.
    """

    def __init__(
        self,
        number: int,
        sock: socket.socket,
        address: tuple[str, int],
        *,
        handler: ConnectionHandler,
        faults: FaultState,
        max_frame_size: int,
        ssl_context: ssl.SSLContext | None = None,
        slow_consumer_timeout: float = 10.0,
        heart_beat_grace: float = 2.0,
        websocket: WebSocketServer | None = None,
        websocket_path: str | None = None,
    ) -> None:
        self.number = number
        self.websocket = websocket
        self._ws_path = websocket_path
        self._heartbeat = websocket.encode(_HEARTBEAT) if websocket else _HEARTBEAT
        self.address = address
        self.version = "1.0"  # the escaping of what we send; set on CONNECTED
        self.connected = False
        self.login: str | None = None
        self._sock = sock
        self._handler = handler
        self._faults = faults
        self._ssl_context = ssl_context
        self._slow_consumer_timeout = slow_consumer_timeout
        self._grace = heart_beat_grace
        self._parser = FrameParser(
            "1.2",
            max_frame_size=max_frame_size,
            max_header_count=DEFAULT_MAX_HEADER_COUNT,
            max_header_length=min(DEFAULT_MAX_HEADER_LENGTH, max_frame_size),
        )
        self._io_lock = threading.Lock()
        self._handling = threading.RLock()  # held by the reader while the broker handles a frame
        self._drain_time = _DRAIN_TIME
        self._cond = threading.Condition(threading.Lock())
        self._outbound: deque[tuple[float, bytes]] = deque()
        self._send_interval = 0.0  # seconds
        self._expect_interval = 0.0
        self._last_received = time.monotonic()
        self._aborted = threading.Event()  # stop now
        self._finishing = False  # stop reading frames; flush, then close
        self._close_at: float | None = None  # close_later(): when to start finishing
        self._flushed = threading.Event()
        self._closed = threading.Event()  # the reader finished its cleanup
        self._early = b""  # STOMP bytes that came with the WebSocket upgrade request
        self._reader = threading.Thread(
            target=self._read_loop, name=f"stomp-testing-broker-conn-{number}", daemon=True
        )
        self._writer = threading.Thread(
            target=self._write_loop, name=f"stomp-testing-broker-conn-{number}-writer", daemon=True
        )

    def __repr__(self) -> str:
        return f"<BrokerConnection #{self.number} {self.address[0]}:{self.address[1]}>"

    # ------------------------------------------------------------ called by the broker

    def start(self) -> None:
        """Start the reader (which starts the writer once TLS is up). Any thread."""
        self._reader.start()

    @property
    def closed(self) -> bool:
        """True once the connection is fully closed and reported to the broker."""
        return self._closed.is_set()

    @property
    def finishing(self) -> bool:
        """True once a close was requested (its input is then ignored)."""
        return self._finishing or self._aborted.is_set()

    def set_session(self, version: str, send_interval_ms: int, expect_interval_ms: int) -> None:
        """Apply a negotiated CONNECT (reader thread, before CONNECTED is queued)."""
        self.version = version
        self._parser.version = version
        self.connected = True
        with self._cond:
            self._send_interval = send_interval_ms / 1000
            self._expect_interval = expect_interval_ms / 1000
            self._last_received = time.monotonic()
            self._cond.notify_all()

    @property
    def unsent(self) -> int:
        """Bytes queued for this client and not yet handed to the socket (any thread)."""
        with self._cond:
            return sum(len(data) for _, data in self._outbound)

    def send_frame(self, frame: Frame) -> None:
        """Queue ``frame`` for writing (never blocks; any thread)."""
        try:
            data = frame.to_bytes(self.version)
        except LocalProtocolError:  # a header this version cannot express: make it expressible
            data = _sanitized(frame, self.version).to_bytes(self.version)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "conn-%d <<< %s %s (%d bytes body)",
                self.number,
                frame.command,
                redacted_headers(frame.raw_headers),
                len(frame.body),
            )
        self.send_bytes(data)

    def send_bytes(self, data: bytes) -> None:
        """Queue raw STOMP bytes for writing (never blocks; any thread). Over WebSocket they
        become one message."""
        if self.websocket is not None:
            data = self.websocket.encode(data)
        self._send_wire(data)

    def _send_wire(self, data: bytes) -> None:
        with self._cond:
            if self._finishing or self._aborted.is_set():
                return
            self._outbound.append((time.monotonic(), data))
            self._cond.notify_all()

    def send_websocket_control(self, wire: bytes) -> None:
        """Queue a WebSocket control frame (from the connection's codec: ping, close);
        ignored on a plain connection. Any thread."""
        if self.websocket is not None:
            self._send_wire(wire)

    def close_after_flush(self, *, drain: float = _DRAIN_TIME) -> None:
        """Stop handling input, write what is queued (bounded), then close. Any thread, but
        never while holding the broker's state lock.

        A frame being handled on the reader thread is finished first, so whatever it queues
        (its RECEIPT, its deliveries) is still written. After the last byte the reader keeps
        reading, and discarding, for up to ``drain`` seconds or until the client closes, so
        unread client data does not turn the close into a RST.
        """
        with self._handling, self._cond:
            if not self._finishing:
                self._drain_time = drain
            self._finishing = True
            self._cond.notify_all()

    def close_later(self, delay: float) -> None:
        """Close (as :meth:`close_after_flush`) ``delay`` seconds from now. Any thread."""
        with self._cond:
            self._close_at = time.monotonic() + delay
            self._cond.notify_all()

    def abort(self, *, reset: bool = False) -> None:
        """Close abruptly (queued frames are dropped); ``reset`` sends a TCP RST. Any thread."""
        if self._aborted.is_set():
            return
        self._aborted.set()
        with self._cond:
            self._cond.notify_all()
        with contextlib.suppress(OSError):
            if reset:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                # socket.socket.shutdown, not SSLSocket.shutdown: that one drops the SSL object
                # under the reader's feet.
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def join(self, timeout: float) -> bool:
        """Wait for both threads (bounded); True when they are done. Not from its own threads."""
        deadline = time.monotonic() + timeout
        for thread in (self._reader, self._writer):
            if thread.ident is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        return not (self._reader.is_alive() or self._writer.is_alive())

    # ------------------------------------------------------------ reader thread

    def _read_loop(self) -> None:
        try:
            if self._tls_handshake() and self._ws_handshake():
                self._sock.setblocking(False)
                self._writer.start()
                self._read_frames()
        except Exception:
            logger.exception("conn-%d: reader failed", self.number)
        finally:
            self._cleanup()

    def _tls_handshake(self) -> bool:
        if self._ssl_context is None:
            return True
        try:
            self._sock = self._ssl_context.wrap_socket(
                self._sock, server_side=True, do_handshake_on_connect=False
            )
            self._sock.settimeout(5.0)
            self._sock.do_handshake()
            return True
        except (OSError, ValueError) as exc:
            if not self._aborted.is_set():
                logger.info("conn-%d: TLS handshake failed: %s", self.number, exc)
            return False

    def _ws_handshake(self) -> bool:
        """Answer the WebSocket upgrade request (blocking, bounded); True when accepted."""
        codec = self.websocket
        if codec is None:
            return True
        self._sock.settimeout(_POLL)
        deadline = time.monotonic() + _HANDSHAKE_TIMEOUT
        answer = None
        while answer is None:
            if self._aborted.is_set() or time.monotonic() > deadline:
                return False
            try:
                data = self._sock.recv(_RECV_SIZE)
            except TimeoutError:
                continue
            except OSError:
                return False
            answer = codec.receive_handshake(data, path=self._ws_path)
        response, accepted = answer
        with contextlib.suppress(OSError):
            self._sock.sendall(response)
        if not accepted:
            logger.info("conn-%d: WebSocket upgrade refused", self.number)
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            return False
        logger.debug("conn-%d: WebSocket subprotocol %s", self.number, codec.subprotocol)
        early = codec.take_early()
        self._early = early.payload
        return True

    def _read_frames(self) -> None:
        sock = self._sock
        pending = getattr(sock, "pending", None)  # SSLSocket: decrypted bytes already read
        flushed_at: float | None = None
        finish_deadline: float | None = None
        codec = self.websocket
        if self._early:
            self._take(self._early)
        while not self._aborted.is_set():
            now = time.monotonic()
            if self._finishing:
                if finish_deadline is None:
                    finish_deadline = now + _FLUSH_TIMEOUT
                if self._flushed.is_set():
                    flushed_at = flushed_at or now
                    if now - flushed_at >= self._drain_time:
                        return
                elif now > finish_deadline:
                    logger.info("conn-%d: could not flush before closing", self.number)
                    return
            elif self._faults.silent.is_set():
                self._aborted.wait(_POLL)
                self._last_received = time.monotonic()  # silence is ours, not the client's
                continue
            elif self._expect_interval and now - self._last_received > (
                self._grace * self._expect_interval
            ):
                logger.info(
                    "conn-%d: no heart-beat from the client for %.3fs, closing",
                    self.number,
                    now - self._last_received,
                )
                return
            if not (pending and pending()):
                try:
                    readable, _, _ = select.select([sock], [], [], _POLL)
                except (OSError, ValueError):
                    return
                if not readable:
                    continue
            try:
                with self._io_lock:
                    data = sock.recv(_RECV_SIZE)
            except _IO_ERRORS:
                continue
            except OSError:
                return
            if not data:
                logger.debug("conn-%d: end of stream", self.number)
                return
            self._last_received = time.monotonic()
            if self._finishing:
                continue  # draining what the client still sends
            if codec is not None:
                received = codec.receive(data)
                if received.to_send:
                    self._send_wire(received.to_send)  # a pong, the reply to a close
                if received.payload:
                    self._take(received.payload)
                if received.closed is not None:
                    logger.debug(
                        "conn-%d: WebSocket closed: %s", self.number, received.closed.describe()
                    )
                    self.close_after_flush(drain=0.0)
                continue
            self._take(data)

    def _take(self, data: bytes) -> None:
        """Parse STOMP bytes and hand the frames to the broker (reader thread)."""
        try:
            frames = self._parser.feed(data)
        except ProtocolError as exc:
            with self._handling:
                if not self.finishing:
                    self._handler._on_protocol_error(self, exc)
            return
        for frame in frames:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "conn-%d >>> %s %s",
                    self.number,
                    frame.command,
                    redacted_headers(frame.raw_headers),
                )
            with self._handling:
                if self.finishing:
                    break
                self._handler._on_frame(self, frame)

    def _cleanup(self) -> None:
        self._aborted.set()
        with self._cond:
            self._cond.notify_all()
        if self._writer.ident is not None:
            self._writer.join(_FLUSH_TIMEOUT + 1.0)
        with contextlib.suppress(OSError):
            self._sock.close()
        try:
            self._handler._on_closed(self)
        except Exception:
            logger.exception("conn-%d: close handler failed", self.number)
        finally:
            self._closed.set()

    # ------------------------------------------------------------ writer thread

    def _write_loop(self) -> None:
        last_write = time.monotonic()
        try:
            while True:
                data = self._next_write(last_write)
                if data is None:
                    return
                if not self._write(data):
                    return
                last_write = time.monotonic()
        except Exception:
            logger.exception("conn-%d: writer failed", self.number)
        finally:
            self._aborted.set()  # the reader notices within one poll and cleans up

    def _next_write(self, last_write: float) -> bytes | None:
        """The next bytes to write, after the injected delay; None when the writer must end."""
        silent = self._faults.silent
        with self._cond:
            while True:
                if self._aborted.is_set():
                    return None
                now = time.monotonic()
                if silent.is_set():
                    self._cond.wait(_POLL)
                    continue
                if self._outbound:
                    queued_at, data = self._outbound[0]
                    due = queued_at + self._faults.delay
                    if due <= now:
                        self._outbound.popleft()
                        return data
                    self._cond.wait(min(due - now, _POLL))
                    continue
                close_at = self._close_at
                if close_at is not None and close_at <= now:
                    self._finishing = True  # close_later(): flushed above, close now
                if self._finishing:
                    self._finish()
                    return None
                timeout = _POLL if close_at is None else min(_POLL, close_at - now)
                if self._send_interval:
                    due = last_write + self._send_interval
                    if due <= now:
                        return self._heartbeat
                    timeout = min(timeout, due - now)
                self._cond.wait(timeout)

    def _finish(self) -> None:
        with contextlib.suppress(OSError), self._io_lock:
            socket.socket.shutdown(self._sock, socket.SHUT_WR)
        self._flushed.set()

    def _write(self, data: bytes) -> bool:
        view = memoryview(data)
        stalled_since: float | None = None
        sock = self._sock
        while view:
            if self._aborted.is_set():
                return False
            try:
                with self._io_lock:
                    sent = sock.send(view)
            except _IO_ERRORS:
                sent = 0
            except OSError as exc:
                logger.debug("conn-%d: write failed: %s", self.number, exc)
                return False
            if sent:
                view = view[sent:]
                stalled_since = None
                continue
            now = time.monotonic()
            if stalled_since is None:
                stalled_since = now
            elif now - stalled_since > self._slow_consumer_timeout:
                logger.warning(
                    "conn-%d: slow consumer, nothing written for %.1fs, dropping it",
                    self.number,
                    now - stalled_since,
                )
                return False
            try:
                select.select([], [sock], [], _POLL)
            except (OSError, ValueError):
                return False
        return True


def _sanitized(frame: Frame, version: str) -> Frame:
    """``frame`` with line breaks (and, for 1.0, colons in names) replaced so ``version`` can
    express it; used when a 1.2 producer's headers reach a 1.0/1.1 consumer."""
    pairs = []
    for name, value in frame.raw_headers:
        name = name.replace("\r", " ").replace("\n", " ")
        value = value.replace("\r", " ").replace("\n", " ")
        if version == "1.0":
            name = name.replace(":", "_")
        pairs.append((name, value))
    return Frame(frame.command, pairs, frame.body)
