"""A real STOMP 1.0/1.1/1.2 broker over loopback sockets, in threads, with fault injection.

Threads (all joined by :meth:`Broker.stop`):

* ``stomp-testing-broker-acceptor``: accepts connections (polling, so it stops promptly);
* per connection ``stomp-testing-broker-conn-<n>`` (reads and handles frames) and
  ``stomp-testing-broker-conn-<n>-writer`` (writes its outbound queue and heart-beats).

Locks: one state lock (``Broker._lock``) guards the router (queues, topics, subscriptions,
transactions), the connection table and the inspection logs. Handling a frame computes the
deliveries under it and appends them to the target connections' outbound queues, which never
blocks; only writer threads touch sockets for writing. So a consumer that stops reading
stalls nothing but its own writer, and is dropped after ``slow_consumer_timeout``.

Queues (stored messages) survive :meth:`Broker.stop` / :meth:`Broker.start` and
:meth:`Broker.restart` unless ``keep_messages=False``; subscriptions, unacked deliveries (they
go back to their queue, marked redelivered) and transactions do not, as with a broker that
keeps a persistent store.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Final, TypeVar

from stomp_enterprise.errors import FrameTooLarge, ProtocolError
from stomp_enterprise.protocol.constants import SERVER_COMMANDS, VERSIONS
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.testing._connection import BrokerConnection, FaultState
from stomp_enterprise.testing._destinations import (
    BrokerMessage,
    Delivery,
    Outbound,
    Router,
    RouterError,
)
from stomp_enterprise.testing._handshake import HandshakeError, accept_connect

if TYPE_CHECKING:
    from stomp_enterprise.transport.websocket import WebSocketServer

__all__ = ["Broker", "ReceivedFrame"]

logger = logging.getLogger("stomp_enterprise.testing")

_T = TypeVar("_T")
_POLL: Final = 0.05
_JOIN_TIMEOUT: Final = 5.0
_STOP_DRAIN: Final = 0.1  # seconds a stopping broker waits for clients to close after the flush


@dataclass(frozen=True)
class ReceivedFrame:
    """A frame the broker received.

    Attributes:
        connection: the connection number (1, 2, ... over the broker's lifetime).
        frame: the frame as parsed.
        time: ``time.monotonic()`` when it was handled.
    """

    connection: int
    frame: Frame
    time: float

    @property
    def command(self) -> str:
        """The frame's command."""
        return self.frame.command


class Broker:
    """An in-process STOMP broker for tests.

    Args:
        host: the interface to listen on.
        port: the port; 0 picks a free one (then :attr:`port` holds it, and a restart reuses it).
        users: ``{login: passcode}``; ``None`` accepts anyone. A mismatch is answered with
            ERROR ``message:Authentication failed`` and the connection is closed.
        versions: the STOMP versions the broker speaks.
        heart_beat: the CONNECTED ``heart-beat`` ``(sx, sy)`` in ms: what the broker can send
            and what it wants. ``None`` (default) mirrors each client's request
            (``sx = cy, sy = cx``), so any heart-beat a client asks for is honoured.
        max_frame_size: the largest frame accepted; a larger one gets ERROR and a close.
        ssl_context: a server-side ``ssl.SSLContext`` to speak TLS (:attr:`url` is then
            ``ssl://...``).
        name: the ``server`` header of CONNECTED and the prefix of session ids. A name
            starting with ``RabbitMQ`` gives RabbitMQ's ``/temp-queue/`` semantics (see
            :mod:`stomp_enterprise.testing._destinations`), any other ActiveMQ's.
        max_redeliveries: a message returned (NACK, unsubscribe, disconnect) more often goes
            to ``dead_letter`` instead; ``None`` redelivers forever.
        dead_letter: the dead-letter destination.
        slow_consumer_timeout: a connection that accepts no byte for this many seconds while
            the broker has data for it is dropped.
        heart_beat_grace: a client silent for this many times its promised heart-beat
            interval is disconnected.
        websocket: speak STOMP over WebSocket (:attr:`url` is then ``ws://host:port/ws``,
            or ``wss://`` with ``ssl_context``): the upgrade is answered with the
            subprotocol of the highest STOMP version both sides offer (``v12.stomp``...),
            or none when the client offers none of them (as ActiveMQ does).
        websocket_path: the request path accepted; any other is answered ``404``.
        websocket_subprotocols: the subprotocols accepted, preferred first; ``None``: those
            of ``versions``, highest first; ``()`` accepts the upgrade without one.
        websocket_text: send text WebSocket messages (binary by default).
        websocket_ignore_binary: ignore binary WebSocket messages from clients, as ActiveMQ
            Classic does (a client sending binary then never gets CONNECTED).

    Every public method may be called from any thread, including a test's main thread and
    a handler running on a client's thread.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: Mapping[str, str] | None = None,
        versions: Sequence[str] = ("1.0", "1.1", "1.2"),
        heart_beat: tuple[int, int] | None = None,
        max_frame_size: int = 16 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "stomp-enterprise-testing",
        max_redeliveries: int | None = None,
        dead_letter: str = "/queue/DLQ",
        slow_consumer_timeout: float = 10.0,
        heart_beat_grace: float = 2.0,
        websocket: bool = False,
        websocket_path: str = "/ws",
        websocket_subprotocols: Sequence[str] | None = None,
        websocket_text: bool = False,
        websocket_ignore_binary: bool = False,
    ) -> None:
        if not versions or any(v not in VERSIONS for v in versions):
            raise ValueError(f"versions must be a non-empty subset of {sorted(VERSIONS)}")
        if heart_beat is not None and (
            len(heart_beat) != 2 or any(not isinstance(v, int) or v < 0 for v in heart_beat)
        ):
            raise ValueError(f"heart_beat must be (sx, sy) ints >= 0 or None, got {heart_beat!r}")
        if max_frame_size < 1:
            raise ValueError("max_frame_size must be positive")
        self.host = host
        self.port = port
        self.users = dict(users) if users is not None else None
        self.versions = tuple(versions)
        self.heart_beat = heart_beat
        self.max_frame_size = max_frame_size
        self.ssl_context = ssl_context
        self.name = name
        self.slow_consumer_timeout = slow_consumer_timeout
        self.heart_beat_grace = heart_beat_grace
        self.websocket = websocket
        self.websocket_path = websocket_path
        if websocket_subprotocols is None:
            websocket_subprotocols = [
                f"v{version.replace('.', '')}.stomp" for version in sorted(versions, reverse=True)
            ]
        self.websocket_subprotocols = tuple(websocket_subprotocols)
        self.websocket_text = websocket_text
        self.websocket_ignore_binary = websocket_ignore_binary
        self._ws_reject: int | None = None
        self._router = Router(
            max_redeliveries=max_redeliveries,
            dead_letter=dead_letter,
            # a broker named like RabbitMQ's server header behaves like it for temp queues
            temp_queues="rabbitmq" if name.startswith("RabbitMQ") else "activemq",
        )
        self._lock = threading.Lock()  # broker state: router, connections, logs, switches
        self._lifecycle = threading.Lock()  # start/stop
        self._connections: dict[int, BrokerConnection] = {}
        self._numbers = itertools.count(1)
        self._received: list[ReceivedFrame] = []
        self._faults = FaultState()
        self._refuse: str | None = None  # None, "close" or "ignore"
        self._fail_connects: list[str] = []
        self._close_after_connect: float | None = None
        self._disconnect_receipts = True
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """``tcp://host:port`` (``ssl://`` with TLS; ``ws://host:port/ws`` or ``wss://...``
        with ``websocket``), with the actual port once started."""
        tls = self.ssl_context is not None
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.websocket:
            return f"{'wss' if tls else 'ws'}://{host}:{self.port}{self.websocket_path}"
        return f"{'ssl' if tls else 'tcp'}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._acceptor is not None

    def start(self) -> Broker:
        """Bind, listen and start accepting; returns once listening. Any thread.

        Raises:
            RuntimeError: already running.
            OSError: the port cannot be bound.
        """
        with self._lifecycle:
            if self._acceptor is not None:
                raise RuntimeError("broker already running")
            listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((self.host, self.port))
                listener.listen(64)
                listener.setblocking(False)
            except OSError:
                listener.close()
                raise
            self.port = listener.getsockname()[1]
            self._listener = listener
            self._stopping.clear()
            self._acceptor = threading.Thread(
                target=self._accept_loop, name="stomp-testing-broker-acceptor", daemon=True
            )
            self._acceptor.start()
            logger.info("testing broker listening on %s", self.url)
            return self

    def stop(self, timeout: float = _JOIN_TIMEOUT, *, graceful: bool = True) -> None:
        """Close every connection and join every thread (bounded by ``timeout``). Idempotent;
        any thread except the broker's own.

        Graceful (the default, like an orderly broker shutdown): input stops, a frame being
        handled is finished, and what is already queued for each client (RECEIPTs,
        MESSAGEs) is written before the connection closes, so a client never misses the
        receipt of a frame the broker applied. ``graceful=False``, or a silent broker
        (:meth:`go_silent`), closes at once like a crash; so does any connection that
        cannot be flushed before ``timeout``.
        """
        with self._lifecycle:
            acceptor, listener = self._acceptor, self._listener
            if acceptor is None:
                return
            deadline = time.monotonic() + timeout
            self._stopping.set()
            if listener is not None:
                with contextlib.suppress(OSError):  # wakes the acceptor's select on Linux
                    listener.shutdown(socket.SHUT_RDWR)
            acceptor.join(timeout)
            if listener is not None:
                listener.close()
            with self._lock:
                connections = list(self._connections.values())
            graceful = graceful and not self._faults.silent.is_set()
            for conn in connections:
                if graceful:
                    conn.close_after_flush(drain=_STOP_DRAIN)
                else:
                    conn.abort()
            for conn in connections:
                if not conn.join(max(0.0, deadline - time.monotonic())):
                    conn.abort()
                    if not conn.join(1.0):
                        logger.warning("%r did not stop within %.1fs", conn, timeout)
            self._acceptor = self._listener = None
            logger.info("testing broker on %s stopped", self.url)

    def restart(
        self, *, downtime: float = 0.0, keep_messages: bool = True, graceful: bool = True
    ) -> None:
        """Stop (see :meth:`stop`), wait ``downtime`` seconds, start again on the same port.
        Stored queue messages survive unless ``keep_messages`` is False; fault switches
        (silence, delay, refusal) stay as they are.
        Any thread except the broker's own (it joins them)."""
        self.stop(graceful=graceful)
        if not keep_messages:
            self.purge()
        if downtime > 0:
            time.sleep(downtime)
        self.start()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Broker {self.url} {state}>"

    # ------------------------------------------------------------ inspection

    @property
    def received(self) -> list[ReceivedFrame]:
        """A snapshot of every frame received so far, in order (heart-beats excluded)."""
        with self._lock:
            return list(self._received)

    def received_frames(self, command: str | None = None) -> list[Frame]:
        """The frames received so far, optionally only those with ``command``.

        Any thread (the broker's state lock).
        """
        return [r.frame for r in self.received if command is None or r.frame.command == command]

    def sent_messages(self, destination: str | None = None) -> list[BrokerMessage]:
        """Every message accepted (committed SENDs), optionally only for ``destination``.

        Any thread (the broker's state lock).
        """
        with self._lock:
            return [m for m in self._router.sent if destination in (None, m.destination)]

    def deliveries(self, destination: str | None = None) -> list[Delivery]:
        """Every MESSAGE handed to a subscriber, optionally only for ``destination``.

        Any thread (the broker's state lock).
        """
        with self._lock:
            return [d for d in self._router.deliveries if destination in (None, d.destination)]

    def queue_depth(self, destination: str) -> int:
        """Messages stored in ``destination`` waiting for a consumer.

        Any thread (the broker's state lock).
        """
        with self._lock:
            return self._router.queue_depth(destination)

    def unacked(self, destination: str | None = None) -> int:
        """Messages delivered but not acknowledged (to ``destination``, or anywhere).

        Any thread (the broker's state lock).
        """
        with self._lock:
            return self._router.unacked(destination)

    def subscriber_count(self, destination: str) -> int:
        """Active subscriptions on ``destination``. Any thread (the broker's state lock)."""
        with self._lock:
            return self._router.subscriber_count(destination)

    def durable_subscriptions(self) -> list[tuple[str, str]]:
        """``(client-id, name)`` of every durable topic subscription, attached or not.

        Any thread but the broker's own.
        """
        with self._lock:
            return self._router.durable_subscriptions()

    def expired(self, destination: str | None = None) -> list[BrokerMessage]:
        """Messages dropped because their ``expires`` time had passed (to ``destination``,
        or anywhere).

        Any thread but the broker's own.
        """
        with self._lock:
            return [m for m in self._router.expired if destination in (None, m.destination)]

    def unsent_bytes(self) -> int:
        """Bytes queued for clients that their sockets have not taken yet: grows while a
        client stops reading (back-pressure). Any thread (the broker's state lock)."""
        with self._lock:
            connections = list(self._connections.values())
        return sum(conn.unsent for conn in connections)

    @property
    def connections(self) -> int:
        """Client connections currently open (whether or not they sent CONNECT)."""
        with self._lock:
            return len(self._connections)

    @property
    def sessions(self) -> int:
        """Client connections that completed CONNECT and are still open."""
        with self._lock:
            return sum(1 for c in self._connections.values() if c.connected)

    def wait_for(
        self, predicate: Callable[[], _T], timeout: float = 5.0, *, interval: float = 0.01
    ) -> _T:
        """Poll ``predicate`` until it returns something truthy; return that.

        Any thread except the broker's own; ``predicate`` runs on the calling thread.

        Raises:
            TimeoutError: still falsy after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s: {predicate!r}")
            time.sleep(interval)

    def purge(self) -> None:
        """Drop every stored queue message. Any thread (the broker's state lock)."""
        with self._lock:
            self._router.purge()

    def publish(
        self,
        destination: str,
        body: bytes = b"",
        headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    ) -> None:
        """Inject a message as if a client had sent it. Any thread (the broker's state lock)."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        with self._lock:
            self._deliver(self._router.send(destination, pairs, body))

    # ------------------------------------------------------------ fault injection

    def drop_connections(self, *, reset: bool = False, timeout: float = 2.0) -> None:
        """Close every client socket abruptly (a FIN, or a RST with ``reset``) and wait
        until the broker has cleaned them up (their unacked messages are redelivered).
        Any thread (the broker's state lock)."""
        with self._lock:
            connections = list(self._connections.values())
        for conn in connections:
            conn.abort(reset=reset)
        deadline = time.monotonic() + timeout
        for conn in connections:
            while not conn.closed and time.monotonic() < deadline:
                time.sleep(0.005)

    def go_silent(self) -> None:
        """Keep sockets open but stop reading and writing, heart-beats included: a half-open
        broker. New connections are accepted by the kernel and stay silent too.
        Any thread (the broker's state lock)."""
        self._faults.silent.set()

    def resume(self) -> None:
        """Undo :meth:`go_silent`: queued frames are written, input is read again.

        Any thread (the broker's state lock).
        """
        self._faults.silent.clear()

    def delay_frames(self, seconds: float) -> None:
        """Hold every outbound frame ``seconds`` before writing it (0 turns it off).

        Any thread (the broker's state lock).
        """
        self._faults.delay = max(0.0, float(seconds))

    def refuse_connects(self, refuse: bool = True, *, accept: bool = True) -> None:
        """Refuse new connections: accept then close at once (``accept=True``), or leave them
        un-accepted in the listen backlog (``accept=False``, the client hangs). ``False``
        turns it off. Any thread (the broker's state lock)."""
        with self._lock:
            self._refuse = None if not refuse else ("close" if accept else "ignore")

    def fail_next_connect(
        self, error_message: str = "Connection refused by test", count: int = 1
    ) -> None:
        """Answer the next ``count`` CONNECT frames with ERROR ``error_message`` (then close).

        Any thread (the broker's state lock).
        """
        with self._lock:
            self._fail_connects.extend([error_message] * count)

    def close_after_connect(self, seconds: float | None) -> None:
        """Answer CONNECT normally, then close each new session ``seconds`` after its
        CONNECTED (a flapping broker, or one that drops every consumer at once). ``None``
        turns it off; sessions already open are not affected. Any thread.

        Raises:
            ValueError: ``seconds`` is negative or not a number.
        """
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0
        ):
            raise ValueError(f"seconds must be a number >= 0 or None, got {seconds!r}")
        with self._lock:
            self._close_after_connect = None if seconds is None else float(seconds)

    def disconnect_without_receipt(self, enabled: bool = True) -> None:
        """Close the connection on DISCONNECT without sending the RECEIPT it asked for, as
        RabbitMQ does since 3.8.8. ``False`` turns it off. Any thread."""
        with self._lock:
            self._disconnect_receipts = not enabled

    def send_error(self, message: str, *, close: bool = True, body: bytes = b"") -> None:
        """Send ERROR ``message`` to every connection; then close them unless ``close`` is
        False. Any thread (the broker's state lock)."""
        with self._lock:
            connections = list(self._connections.values())
        for conn in connections:
            self._send_error(conn, message, body=body, close=close)

    def reject_websocket(self, status: int | None = 401) -> None:
        """Answer new WebSocket upgrade requests with HTTP ``status`` instead of 101 (a
        proxy's 502, a 401 without the right ``Authorization``); ``None`` turns it off.
        Any thread."""
        with self._lock:
            self._ws_reject = status

    def ping_websocket(self, data: bytes = b"ping") -> None:
        """Send a WebSocket ping to every WebSocket connection (the client must answer with
        a pong: see :meth:`websocket_pongs`). Any thread."""
        for conn, codec in self._websocket_connections():
            conn.send_websocket_control(codec.ping_frame(data))

    def websocket_pongs(self) -> int:
        """Pongs received so far on the current WebSocket connections. Any thread."""
        return sum(codec.pongs_received for _, codec in self._websocket_connections())

    def websocket_requests(self) -> list[dict[str, str]]:
        """The upgrade request headers (lower-case names) of the current WebSocket
        connections, oldest first. Any thread."""
        return [
            {name.lower(): value for name, value in codec.request.headers.raw_items()}
            for _, codec in self._websocket_connections()
            if codec.request is not None
        ]

    def websocket_messages(self) -> tuple[int, int]:
        """``(text, binary)``: data messages received so far on the current WebSocket
        connections. Any thread."""
        codecs = [codec for _, codec in self._websocket_connections()]
        return sum(c.text_messages for c in codecs), sum(c.binary_messages for c in codecs)

    def close_websocket(self, code: int = 1001, reason: str = "going away") -> None:
        """Send a WebSocket close frame with ``code`` and ``reason`` to every WebSocket
        connection, then close them. Any thread."""
        for conn, codec in self._websocket_connections():
            conn.send_websocket_control(codec.close_frame(code, reason))
            conn.close_after_flush()

    def _websocket_connections(self) -> list[tuple[BrokerConnection, WebSocketServer]]:
        with self._lock:
            connections = list(self._connections.values())
        return [(c, c.websocket) for c in connections if c.websocket is not None]

    # ------------------------------------------------------------ acceptor thread

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([listener], [], [], _POLL)
                if not readable:
                    continue
                with self._lock:  # read after the wait: a switch flipped meanwhile counts
                    refuse = self._refuse
                if refuse == "ignore":
                    self._stopping.wait(_POLL)
                    continue
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                if not self._stopping.is_set():
                    logger.exception("accept failed")
                return
            if refuse == "close":
                logger.info("refusing connection from %s:%d", *address[:2])
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                number = next(self._numbers)
                codec = None
                if self.websocket:
                    from stomp_enterprise.transport.websocket import WebSocketServer

                    codec = WebSocketServer(
                        self.websocket_subprotocols,
                        text=self.websocket_text,
                        reject=self._ws_reject,
                        ignore_binary=self.websocket_ignore_binary,
                    )
                conn = BrokerConnection(
                    number,
                    sock,
                    (address[0], address[1]),
                    handler=self,
                    faults=self._faults,
                    max_frame_size=self.max_frame_size,
                    ssl_context=self.ssl_context,
                    slow_consumer_timeout=self.slow_consumer_timeout,
                    heart_beat_grace=self.heart_beat_grace,
                    websocket=codec,
                    websocket_path=self.websocket_path,
                )
                self._connections[number] = conn
            logger.info("conn-%d: accepted from %s:%d", number, *address[:2])
            conn.start()

    # ------------------------------------------------------------ connection callbacks

    def _on_frame(self, conn: BrokerConnection, frame: Frame) -> None:
        """Handle one frame (the connection's reader thread)."""
        command = frame.command
        with self._lock:
            self._received.append(ReceivedFrame(conn.number, frame, time.monotonic()))
        if not conn.connected:
            if command in ("CONNECT", "STOMP"):
                self._connect(conn, frame)
            else:
                self._send_error(conn, f"{command} frame received before CONNECT", frame=frame)
            return
        if command in ("CONNECT", "STOMP"):
            self._send_error(conn, f"{command} frame received on a connected session", frame=frame)
            return
        if command in SERVER_COMMANDS:
            self._send_error(
                conn, f"unexpected {command} frame: only a broker sends it", frame=frame
            )
            return
        if command == "NACK" and conn.version == "1.0":
            self._send_error(conn, "NACK is not supported in STOMP 1.0", frame=frame)
            return
        receipt = frame.get("receipt")
        if command == "DISCONNECT":
            with self._lock:
                answer = self._disconnect_receipts
            if receipt is not None and answer:
                conn.send_frame(Frame("RECEIPT", [("receipt-id", receipt)]))
            conn.close_after_flush()
            return
        with self._lock:
            try:
                out = self._router.handle(conn.number, conn.version, frame)
            except RouterError as exc:
                error: str | None = str(exc)
            else:
                error = None
                self._deliver(out)
                if receipt is not None:
                    conn.send_frame(Frame("RECEIPT", [("receipt-id", receipt)]))
        if error is not None:
            self._send_error(conn, error, frame=frame)

    def _on_protocol_error(self, conn: BrokerConnection, exc: ProtocolError) -> None:
        """The client sent bytes that are not valid STOMP (reader thread)."""
        kind = "frame too large" if isinstance(exc, FrameTooLarge) else "malformed frame"
        self._send_error(conn, f"{kind}: {exc}")

    def _on_closed(self, conn: BrokerConnection) -> None:
        """The connection is gone: end its subscriptions and transactions (reader thread)."""
        with self._lock:
            self._connections.pop(conn.number, None)
            self._deliver(self._router.disconnect(conn.number))
        logger.info("conn-%d: closed", conn.number)

    # ------------------------------------------------------------ internals

    def _connect(self, conn: BrokerConnection, frame: Frame) -> None:
        with self._lock:
            failure = self._fail_connects.pop(0) if self._fail_connects else None
        if failure is not None:
            self._send_error(conn, failure, frame=frame)
            return
        try:
            handshake = accept_connect(
                frame,
                versions=self.versions,
                users=self.users,
                heart_beat=self.heart_beat,
                session=f"{self.name}-{conn.number}",
                server=self.name,
            )
        except HandshakeError as exc:
            logger.info("conn-%d: CONNECT refused: %s", conn.number, exc.message)
            self._send_error(conn, exc.message, frame=frame, headers=exc.headers)
            return
        with self._lock:
            try:
                self._router.connected(conn.number, frame.get("client-id"))
            except RouterError as exc:
                refused: str | None = str(exc)
            else:
                refused = None
        if refused is not None:
            self._send_error(conn, refused, frame=frame)
            return
        conn.login = handshake.login
        conn.set_session(handshake.version, handshake.send_interval, handshake.expect_interval)
        conn.send_frame(handshake.connected)
        with self._lock:
            close_after = self._close_after_connect
        if close_after is not None:
            conn.close_later(close_after)
        logger.info(
            "conn-%d: connected, STOMP %s, heart-beats out %dms / in %dms",
            conn.number,
            handshake.version,
            handshake.send_interval,
            handshake.expect_interval,
        )

    def _deliver(self, out: list[Outbound]) -> None:
        """Queue deliveries (called under ``_lock`` so per-destination order is kept;
        ``send_frame`` never blocks)."""
        for number, frame in out:
            conn = self._connections.get(number)
            if conn is not None:
                conn.send_frame(frame)

    def _send_error(
        self,
        conn: BrokerConnection,
        message: str,
        *,
        frame: Frame | None = None,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        close: bool = True,
    ) -> None:
        pairs = [("message", " ".join(message.split()))]
        pairs.extend(headers)
        receipt = frame.get("receipt") if frame is not None else None
        if receipt is not None:
            pairs.append(("receipt-id", receipt))
        if not body and frame is not None:
            body = f"The offending frame was {frame.command}.\n{message}\n".encode()
        if body:
            pairs.append(("content-type", "text/plain"))
        conn.send_frame(Frame("ERROR", pairs, body))
        if close:
            conn.close_after_flush()
