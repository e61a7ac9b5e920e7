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
connection stops handing bytes over while it is clear. Read flow control:
:meth:`Stream.pause_reading` stops ``data_received`` (TCP pushes back on the broker).

Everything here runs on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
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


def _ignore_data(data: bytes) -> None:
    """The receiver before one is set (nothing can arrive before CONNECT is written)."""


def _ignore_close(exc: BaseException) -> None:
    """The close callback before one is set."""


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

    def __init__(self, address: BrokerAddress) -> None:
        self.address = address
        self._transport: asyncio.Transport | None = None
        self._receiver: Receiver = _ignore_data
        self._on_close: Closed = _ignore_close
        self._on_writable: Callable[[], None] = _ignore_writable
        self.last_read = self.last_write = time.monotonic()
        self.writable = asyncio.Event()
        self.writable.set()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.written = 0  #: bytes handed to the transport (diagnostics)
        self.reading_paused = False
        #: STOMP over WebSocket: the codec (after its handshake) that frames every write and
        #: unwraps every chunk received; None for plain STOMP over TCP/TLS.
        self.websocket: WebSocketClient | None = None
        self._ws_closed: ConnectionLost | None = None  # the broker's close frame

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
        self._transport = None
        self.writable.set()  # wake writers: they then see the loss
        if not self.closed.done():
            self.closed.set_result(None)
        if self._ws_closed is not None:
            error = self._ws_closed
        elif exc is None:
            error = ConnectionLost(f"{self.address.url} closed the connection")
        else:
            error = ConnectionLost(f"connection to {self.address.url} lost: {exc}")
            error.__cause__ = exc
        self._on_close(error)

    def pause_writing(self) -> None:
        """The loop: its write buffer is above the high-water mark."""
        self.writable.clear()

    def resume_writing(self) -> None:
        """The loop: its write buffer drained below the low-water mark."""
        self.writable.set()
        self._on_writable()

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
        ``on_writable()`` when writing may go on after a pause."""
        self._receiver = receiver
        self._on_close = on_close
        self._on_writable = on_writable

    def write(self, data: bytes) -> None:
        """Hand ``data`` to the event loop's transport (never blocks).

        Raises:
            ConnectionLost: the connection is closed.
        """
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionLost(f"connection to {self.address.url} is closed")
        if self.websocket is not None:
            data = b"".join(self.websocket.encode_many([data]))
        transport.write(data)
        self.written += len(data)
        self.last_write = time.monotonic()

    def write_frames(self, frames: list[bytes]) -> None:
        """Hand whole STOMP ``frames`` over at once: joined over TCP; over WebSocket one
        message each (or packed, see ``WebSocketOptions.pack``).

        Raises:
            ConnectionLost: the connection is closed.
        """
        websocket = self.websocket
        if websocket is None:
            self.write(b"".join(frames))
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            raise ConnectionLost(f"connection to {self.address.url} is closed")
        data = b"".join(websocket.wire(frames))
        transport.write(data)
        self.written += len(data)
        self.last_write = time.monotonic()

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
        """Close at once, dropping what the transport still buffers."""
        transport = self._transport
        if transport is not None:
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
) -> Stream:
    """Connect to ``address`` (TCP, then TLS when the scheme asks for it, then the WebSocket
    upgrade for ``ws``/``wss`` offering the subprotocols of ``versions``), within
    ``timeout`` seconds for all together. Call on the event loop.

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
                    lambda: Stream(address),
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
