"""The asyncio byte stream of one connection: ``loop.create_connection`` and a Protocol.

:class:`Stream` is the one place where bytes go in and out of the asyncio client:
:meth:`Stream.write` hands bytes to the event loop's transport, and every chunk that arrives
is passed, as it is, to the receiver set with :meth:`Stream.receive` (the connection feeds
it to the incremental parser there, in ``data_received``: no reader coroutine, no copy). A
WebSocket codec wraps a :class:`Stream` by framing in :meth:`write` and unframing before the
receiver. Socket and TLS errors become :mod:`stomp_enterprise.errors` exceptions through
:func:`~stomp_enterprise.transport.socket.map_socket_errors`, as for the threaded client.

Write flow control: ``pause_writing``/``resume_writing`` of the event loop's transport (its
buffer above/below its high/low water marks) clear/set :attr:`Stream.writable`; the
connection stops handing bytes over while it is clear. A write that stays paused without
the socket taking a byte for ``write_timeout`` seconds (a broker that stopped reading)
ends the connection with ConnectionLost, as a stuck write of the threaded transport does.
Read flow control: :meth:`Stream.pause_reading` stops ``data_received`` (TCP pushes back
on the broker).

Unwritten frames: the event loop's transport buffers what the socket did not take yet and
drops that buffer on :meth:`Stream.abort` (or a socket error). :meth:`Stream.write` keeps
the frames of each write while they may still sit in that buffer (the buffer is FIFO:
its size says how many of the last bytes handed over are not written), and
:meth:`Stream.take_unwritten` gives back, after the end, the frames not completely
written (a frame cut in the middle counts whole), as the threaded transport's
``take_unsent``: nothing handed over is lost without a word.

Everything here runs on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from stomp_enterprise.errors import ConnectionLost, ConnectTimeout
from stomp_enterprise.protocol.constants import VERSIONS
from stomp_enterprise.protocol.failover import BrokerAddress
from stomp_enterprise.transport.socket import map_socket_errors, websocket_client
from stomp_enterprise.transport.wsconfig import WebSocketOptions

if TYPE_CHECKING:
    from stomp_enterprise.transport.websocket import WebSocketClient

__all__ = ["Stream", "open_stream"]

Receiver = Callable[[bytes], None]
Closed = Callable[[BaseException], None]


def _ignore_writable() -> None:
    """The writable callback before one is set."""


class Stream(asyncio.Protocol):
    """One TCP or TLS connection as an asyncio Protocol (see the module docstring).

    Attributes:
        address: the broker.
        last_read: ``time.monotonic()`` of the last bytes received (liveness on every byte).
        last_write: ``time.monotonic()`` of the last bytes handed to the transport.
        writable: set while the event loop's transport accepts more bytes.
        closed: a future resolved when the connection is gone (with None: it was closed).
    """

    def __init__(self, address: BrokerAddress, write_timeout: float | None = None) -> None:
        self.address = address
        self.write_timeout = write_timeout
        self._watchdog: asyncio.TimerHandle | None = None
        self._watched = 0  # bytes the socket had taken when the watchdog was armed
        self._stuck: ConnectionLost | None = None  # why the watchdog aborted
        self._transport: asyncio.Transport | None = None
        # before a receiver is set, what arrives (a peer may greet first: not STOMP) and
        # the end are kept for it
        self._early: list[bytes] = []
        self._receiver: Receiver = self._early.append
        self._lost: BaseException | None = None
        self._on_close: Closed = self._keep_close
        self._on_writable: Callable[[], None] = _ignore_writable
        self.last_read = self.last_write = time.monotonic()
        self.writable = asyncio.Event()
        self.writable.set()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.written = 0  #: bytes handed to the transport
        self.reading_paused = False
        #: STOMP over WebSocket: the codec (after its handshake) that frames every write and
        #: unwraps every chunk received; None for plain STOMP over TCP/TLS.
        self.websocket: WebSocketClient | None = None
        self._ws_closed: ConnectionLost | None = None  # the broker's close frame
        # (offset in ``written`` where the write ends, its frames, each frame's wire bytes) of
        # the writes that may still be in the transport's buffer, oldest first
        self._buffered: deque[tuple[int, Sequence[bytes], list[int]]] = deque()
        self._unwritten: list[bytes] | None = None  # set once, at the end

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The loop: the socket is connected (and TLS done)."""
        # uvloop's transports implement asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        """The loop: bytes arrived; they go to the receiver at once (over WebSocket: the
        STOMP payload they carry; pongs and the reply to a close are written here)."""
        self.last_read = time.monotonic()  # liveness: every byte, control frames too
        websocket = self.websocket
        if websocket is None:
            self._receiver(data)
            return
        received = websocket.receive(data)
        transport = self._transport
        if received.to_send and transport is not None and not transport.is_closing():
            transport.write(received.to_send)
        if received.payload:
            self._receiver(received.payload)
        if received.closed is not None and self._ws_closed is None:
            self._ws_closed = ConnectionLost(
                f"{self.address.url} closed the WebSocket: {received.closed.describe()}"
            )
            if transport is not None:
                transport.close()  # after our reply: connection_lost reports the close

    def eof_received(self) -> bool:
        """The loop: the broker closed its side; close ours too."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The loop: the connection is gone (``exc`` None: closed by EOF or by us)."""
        if exc is None and self._unwritten is None:
            self._unwritten = []  # a graceful close wrote the whole buffer first
        self._end_buffer(None)  # a socket error: what was not seen written is unwritten
        self._transport = None
        self._disarm()
        self.writable.set()  # wake writers: they then see the loss
        if not self.closed.done():
            self.closed.set_result(None)
        if self._ws_closed is not None:
            error = self._ws_closed
        elif self._stuck is not None:
            error = self._stuck
        elif exc is None:
            error = ConnectionLost(f"{self.address.url} closed the connection")
        else:
            error = ConnectionLost(f"connection to {self.address.url} lost: {exc}")
            error.__cause__ = exc
        self._on_close(error)

    def _keep_close(self, error: BaseException) -> None:
        """The close callback before one is set: :meth:`receive` passes it on."""
        self._lost = error

    def pause_writing(self) -> None:
        """The loop: its write buffer is above the high-water mark (the watchdog starts)."""
        self.writable.clear()
        if self.write_timeout is not None and self._watchdog is None:
            self._arm()

    def resume_writing(self) -> None:
        """The loop: its write buffer drained below the low-water mark."""
        self._trim()
        self._disarm()
        self.writable.set()
        self._on_writable()

    # ------------------------------------------------------------ the write watchdog

    def _taken(self) -> int:
        """Bytes the socket took so far (handed over minus what the transport buffers)."""
        transport = self._transport
        return self.written - (transport.get_write_buffer_size() if transport else 0)

    def _arm(self) -> None:
        assert self.write_timeout is not None
        self._watched = self._taken()
        self._watchdog = asyncio.get_running_loop().call_later(
            self.write_timeout, self._check_writes
        )

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _check_writes(self) -> None:
        """``write_timeout`` after the pause (or the last progress): end the connection
        when the socket took nothing meanwhile; watch on otherwise."""
        self._watchdog = None
        if self._transport is None or self.writable.is_set():
            return
        if self._taken() > self._watched:  # slow, not stuck
            self._arm()
            return
        self._stuck = ConnectionLost(
            f"write to {self.address.url} timed out: no room to write for "
            f"{self.write_timeout:g}s (the broker stopped reading)"
        )
        self.abort()

    # ------------------------------------------------------------ the connection's side

    @property
    def is_open(self) -> bool:
        """Whether bytes can still be written."""
        transport = self._transport
        return transport is not None and not transport.is_closing()

    def receive(
        self, receiver: Receiver, on_close: Closed, on_writable: Callable[[], None]
    ) -> None:
        """Send every received chunk to ``receiver``; ``on_close(error)`` when it ends;
        ``on_writable()`` when writing may go on after a pause. What arrived before (and
        the end, if it came) is passed on at once, in order."""
        self._receiver = receiver
        self._on_close = on_close
        self._on_writable = on_writable
        early, self._early = self._early, []
        for chunk in early:
            receiver(chunk)
        lost, self._lost = self._lost, None
        if lost is not None:
            on_close(lost)

    def write(self, data: bytes, frames: Sequence[bytes] = ()) -> None:
        """Hand ``data`` to the event loop's transport (never blocks); over WebSocket as one
        message.

        Args:
            data: the bytes.
            frames: the frames ``data`` joins, in order (kept while they may be in the
                transport's buffer, for :meth:`take_unwritten`); empty for bytes nobody
                must hear about (a heart-beat, CONNECT).

        Raises:
            ConnectionLost: the connection is closed.
        """
        if self.websocket is None:
            self._hand(data, frames, None)
            return
        wire = b"".join(self.websocket.encode_many([data]))
        # one message: none of its frames is written before all of it is
        self._hand(wire, frames, [len(wire)] + [0] * (len(frames) - 1) if frames else None)

    def write_frames(self, frames: list[bytes]) -> None:
        """Hand whole STOMP ``frames`` over at once (kept for :meth:`take_unwritten` while
        they may be in the transport's buffer): joined over TCP; over WebSocket one message
        each (or packed, see ``WebSocketOptions.pack``).

        Raises:
            ConnectionLost: the connection is closed.
        """
        websocket = self.websocket
        if websocket is None:
            self._hand(b"".join(frames), frames, None)
            return
        wire = websocket.wire(frames)  # parallel to frames; a packed message at its first
        self._hand(b"".join(wire), frames, [len(message) for message in wire])

    def _hand(self, data: bytes, frames: Sequence[bytes], sizes: Sequence[int] | None) -> None:
        """Write ``data`` (the wire bytes of ``frames``; ``sizes``: each frame's share of
        them, None when ``data`` is the frames joined) and keep the frames while the
        transport may still buffer them."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionLost(f"connection to {self.address.url} is closed")
        transport.write(data)
        self.written += len(data)
        self.last_write = time.monotonic()
        if transport.get_write_buffer_size():
            if frames:
                wire_sizes = [len(f) for f in frames] if sizes is None else list(sizes)
                self._buffered.append((self.written, frames, wire_sizes))
            self._trim()
        elif self._buffered:
            self._buffered.clear()  # the socket took everything

    def _trim(self) -> None:
        """Forget the writes the socket took completely."""
        transport = self._transport
        buffered = self._buffered
        if transport is None or not buffered:
            return
        done = self.written - transport.get_write_buffer_size()
        while buffered and buffered[0][0] <= done:
            buffered.popleft()

    def _end_buffer(self, pending: int | None) -> None:
        """Record, once, the frames that did not reach the socket: the last ``pending``
        bytes handed over (None: every write not yet seen taken by the socket)."""
        if self._unwritten is not None:
            return
        buffered, self._buffered = self._buffered, deque()
        done = self.written - pending if pending is not None else -1
        unwritten: list[bytes] = []
        for end, frames, sizes in buffered:
            start = end - sum(sizes)
            for frame, size in zip(frames, sizes, strict=True):
                start += size
                if start > done:  # not completely written
                    unwritten.append(frame)
        self._unwritten = unwritten

    def take_unwritten(self) -> list[bytes]:
        """Once the stream ended: the frames handed to :meth:`write` that were not
        completely written, in order (afterwards: none)."""
        unwritten, self._unwritten = self._unwritten or [], []
        return unwritten

    def stomp_versions(self, versions: Sequence[str]) -> tuple[str, ...]:
        """The STOMP versions to offer in CONNECT (over WebSocket: those of the accepted
        subprotocol); see ``SocketTransport.stomp_versions``."""
        return tuple(versions) if self.websocket is None else self.websocket.stomp_versions()

    def pause_reading(self) -> None:
        """Stop reading the socket (the consume backlog is full). Idempotent."""
        transport = self._transport
        if transport is not None and not self.reading_paused:
            self.reading_paused = True
            transport.pause_reading()

    def resume_reading(self) -> None:
        """Read the socket again. Idempotent."""
        transport = self._transport
        if transport is not None and self.reading_paused:
            self.reading_paused = False
            transport.resume_reading()

    def close(self) -> None:
        """Close after what was handed over is written (``closed`` resolves then); over
        WebSocket a close frame (1000) goes first."""
        transport = self._transport
        if transport is not None:
            if (
                self.websocket is not None
                and self._ws_closed is None
                and not transport.is_closing()
            ):
                transport.write(self.websocket.close_frame(1000, ""))
            transport.close()

    def abort(self) -> None:
        """Close at once, dropping what the transport still buffers (see
        :meth:`take_unwritten`)."""
        transport = self._transport
        if transport is not None:
            self._end_buffer(transport.get_write_buffer_size())
            transport.abort()

    async def wait_closed(self, timeout: float) -> None:
        """Wait (bounded) for the connection to be gone; abort it when time is up."""
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), max(timeout, 0.0))
        except (asyncio.TimeoutError, TimeoutError):
            self.abort()


async def open_stream(
    address: BrokerAddress,
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    websocket: WebSocketOptions | None = None,
    versions: Sequence[str] = VERSIONS,
    write_timeout: float | None = None,
) -> Stream:
    """Connect to ``address`` (TCP, then TLS when the scheme asks for it, then the WebSocket
    upgrade for ``ws``/``wss`` offering the subprotocols of ``versions``), within
    ``timeout`` seconds for all together; ``write_timeout``: see :class:`Stream`. Call on the
    event loop.

    Raises:
        ConnectTimeout: the connect and handshakes took longer than ``timeout``.
        ConnectFailed: refused, unreachable, the TLS handshake/verification failed, or the
            WebSocket upgrade was refused (the message names the HTTP status).
    """
    deadline = time.monotonic() + timeout
    loop = asyncio.get_running_loop()
    what = f"connect to {address.url}"
    context: ssl.SSLContext | None = None
    if address.use_ssl:
        context = ssl_context if ssl_context is not None else ssl.create_default_context()
    with map_socket_errors(what, connecting=True):
        try:
            _, stream = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Stream(address, write_timeout),
                    address.host,
                    address.port,
                    ssl=context,
                    server_hostname=(server_hostname or address.host) if context else None,
                ),
                timeout,
            )
        except asyncio.TimeoutError as exc:  # TimeoutError itself on 3.11+
            raise ConnectTimeout(f"{what}: timed out") from exc
        if address.use_websocket:
            try:
                await _upgrade(stream, address, websocket, versions, deadline)
            except BaseException:
                stream.abort()
                raise
    return stream


async def _upgrade(
    stream: Stream,
    address: BrokerAddress,
    options: WebSocketOptions | None,
    versions: Sequence[str],
    deadline: float,
) -> None:
    """The WebSocket handshake on the connected stream, bounded by ``deadline``; the
    stream then frames and unframes through the codec (the same one the threaded client
    uses)."""
    codec = websocket_client(address, options, versions)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def answer(data: bytes) -> None:
        if done.done():
            return
        try:
            if codec.receive_handshake(data):
                done.set_result(None)
        except Exception as exc:  # ConnectFailed: refused, not WebSocket, closed
            done.set_exception(exc)

    def gone(error: BaseException) -> None:
        answer(b"")  # the end of the stream: the codec says why

    stream.receive(answer, gone, _ignore_writable)
    stream.write(codec.handshake_request())
    try:
        await asyncio.wait_for(done, max(0.0, deadline - time.monotonic()))
    except asyncio.TimeoutError as exc:
        raise ConnectTimeout(
            f"connect to {address.url}: no WebSocket handshake answer in time"
        ) from exc
    stream.websocket = codec
    early = codec.take_early()  # frames behind the 101: none before CONNECT, in practice
    if early.payload or early.closed is not None:
        raise ConnectionLost(f"{address.url}: unexpected WebSocket data before CONNECT")
