"""The thread-safe STOMP client.

One :class:`Client` is meant to be shared by every thread of a process (a web app's request
threads, a worker pool). It owns one connection at a time, a reader thread per connection, a
dispatcher for user code, and, with a failover URI, a background reconnect thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tenacity import Retrying

from stomp_enterprise._shell import ConnectPlan, ShellBase
from stomp_enterprise.client.connection import Connection, ReceiptFuture, Waiter, settled
from stomp_enterprise.client.dispatcher import Dispatcher
from stomp_enterprise.client.listeners import Listeners
from stomp_enterprise.client.message import Message
from stomp_enterprise.client.requests import Requester
from stomp_enterprise.client.subscription import ErrorPolicy, Handler, Subscription
from stomp_enterprise.client.transaction import Transaction
from stomp_enterprise.core.backlog import BacklogInfo
from stomp_enterprise.core.codecs import Codec
from stomp_enterprise.core.lifecycle import AfterLoss, undelivered_count
from stomp_enterprise.core.message import Body, encode_body
from stomp_enterprise.core.options import SendOptionArgs
from stomp_enterprise.core.receipts import Receipts
from stomp_enterprise.core.reconnect import (
    priority_return_delays,
    reconnect_wait,
)
from stomp_enterprise.core.requests import reply_for
from stomp_enterprise.core.subscribe_options import SubscribeOptions
from stomp_enterprise.core.telemetry import observed_body
from stomp_enterprise.errors import (
    BrokerError,
    ConfigError,
    ConnectionLost,
    HeartbeatTimeout,
    LocalProtocolError,
    NotConnected,
    ReceiptTimeout,
    StompConnectionError,
    StompTimeout,
)
from stomp_enterprise.protocol.failover import BrokerAddress
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.session import Session
from stomp_enterprise.transport.socket import open_transport

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Body", "Client"]

log = logging.getLogger("stomp_enterprise.client")

_JOIN = 5.0
#: Seconds ``disconnect()`` allows, after the drain and the DISCONNECT receipt waits, for the
#: client's own threads to end (writer, reader, reconnect, dispatcher). A thread still busy
#: then (a handler stuck in user code) is left running, named in a WARNING.
JOIN_ALLOWANCE = 1.0


class Client(ShellBase):
    """A thread-safe STOMP client.

    Args:
        url: ``tcp://host:port``, ``ssl://...``, ``stomp://...``, ``stomp+ssl://...``,
            ``ws://host:port/path``, ``wss://...`` (STOMP over WebSocket) or an ActiveMQ
            failover URI ``failover:(tcp://a:61613,ws://b:15674/ws)?randomize=false``.
        login: user name.
        passcode: password (never logged or shown in a repr).
        vhost: CONNECT ``host`` header (RabbitMQ vhost, Apollo host name); ``/`` by default.
        versions: versions to offer; the highest common one is used.
        heart_beats: ``(cx, cy)`` ms: we send every cx, we want data every cy; 0 disables.
        ssl: TLS for ``ssl://`` brokers: ``None``/``True`` verify with the system CAs, a
            :class:`~stomp_enterprise.transport.TlsOptions` (CA file, client cert, ...) or an
            ``ssl.SSLContext``.
        timeouts: a :class:`~stomp_enterprise.config.Timeouts` or a dict of its fields.
        **options: any other :class:`~stomp_enterprise.config.ClientConfig` field
            (``dispatch_workers``, ``queue_size``, ``max_backlog_messages``,
            ``max_backlog_bytes``, ``backlog_low_water``, ``max_frame_size``, ``content_length``,
            ``client_id``, ``connect_headers``, ``heartbeat_tolerance``, ``websocket``,
            ``seed``).

    Every public method may be called from any thread, including from inside a message
    handler or listener, unless its docstring says otherwise.
    """

    _message_class = Message

    def _setup(self) -> None:
        self.listeners = Listeners()
        self._lock = threading.Lock()  # guards the session (see connection.py)
        # guards the connection, the lifecycle (ShellBase._life) and the fields below
        self._state = threading.Condition(threading.Lock())
        # receipted sends' futures waiting for the next connection
        self._carried_receipts: Receipts[Waiter] = Receipts()
        self._connection: Connection | None = None
        self._subscriptions: dict[str, Subscription] = {}
        self._dispatcher: Dispatcher = _idle_dispatcher()
        self._closing = threading.Event()
        self._forked = False
        _ALL_CLIENTS.add(self)
        self._reconnect_thread: threading.Thread | None = None
        self._priority_thread: threading.Thread | None = None
        self._disconnect_lock = threading.Lock()
        self._requester: Requester | None = None  # made by the first request()

    # ------------------------------------------------------------ properties

    @property
    def pending_receipts(self) -> int:
        """How many RECEIPTs the current connection still waits for (0 when not connected).

        A diagnostic and test hook: every receipted call that returned (with its receipt, a
        ``ReceiptTimeout``, an ERROR or a loss) no longer counts, so a steady non-zero value
        under no load is a leak. Any thread.
        """
        connection = self._connection
        return 0 if connection is None else len(connection._receipts)

    @property
    def disconnected_seconds(self) -> float:
        """Total time spent disconnected after connection losses (observability)."""
        return self._life.disconnected_seconds(time.monotonic())

    @property
    def pending_bytes(self) -> int:
        """Bytes of frames accepted (``send()`` returned) and not yet written to the socket:
        the current connection's outbound queue plus frames waiting for the next connection
        after a loss. Any thread."""
        connection = self._connection
        queued = connection.transport.queued_bytes if connection is not None else 0
        with self._state:
            return queued + self._outbox.size

    @property
    def unconfirmed_bytes(self) -> int:
        """With ``trackMessages=true``: bytes of SENDs written on the current connection and
        not yet confirmed by the broker (never more than ``maxCacheSize``); 0 otherwise.
        Any thread."""
        connection = self._connection
        tracker = connection.transport.tracker if connection is not None else None
        return tracker.bytes if tracker is not None else 0

    @property
    def backlog(self) -> BacklogInfo:
        """The current connection's consume backlog: messages handed to handlers or pull
        queues and not yet finished, and whether the reader paused because of them (all
        zero when not connected). Any thread."""
        connection = self._connection
        if connection is None:
            return BacklogInfo(0, 0, False, 0)
        return connection.backlog_info()

    # ------------------------------------------------------------ connect / disconnect

    def connect(self, timeout: float | None = None) -> Client:
        """Connect, trying the failover brokers as the URI's policy says (startup limits).

        Any thread (a handler or listener of this client included).

        Args:
            timeout: overall bound in seconds on the whole startup loop; ``None`` follows
                the policy alone (a plain URI makes one try bounded by the connect and
                CONNECTED timeouts).

        Raises:
            BrokerError: the broker refused the CONNECT (bad credentials, unknown vhost);
                not retried.
            ConnectFailed: no broker could be reached; ``.attempts`` lists each one tried.
        """
        with self._state:
            if self._connection is not None and self._connection.alive:
                return self
            self._life.starting()  # a new start: no back-off left from earlier connections
            self._closing.clear()
            if not self._dispatcher.alive:
                self._dispatcher = Dispatcher(
                    f"stomp-dispatch-{id(self):x}", self.config.dispatch_workers
                )
        try:
            connection = self._connect_loop(startup=True, deadline=_deadline(timeout))
        except BaseException:
            with self._state:
                self._life.started = False
            self._dispatcher.stop(_JOIN)
            self._dispatcher = _idle_dispatcher()
            raise
        self._installed(connection, reconnect=False)
        return self

    def _connect_loop(self, *, startup: bool, deadline: float | None) -> Connection:
        """Run the schedule's passes until a connection is made.

        On startup an ERROR in reply to CONNECT (bad credentials) raises ``BrokerError`` at
        once. During a background reconnect it is retried with the back-off like any failed
        try (RabbitMQ answers so while a vhost is still starting) and counts as one.
        """
        plan = ConnectPlan(
            self._schedule, startup=startup, closing=self._closing.is_set, deadline=deadline
        )

        def sleep(seconds: float) -> None:
            self._closing.wait(plan.sleep_time(seconds))

        def one_try() -> Connection:
            broker = plan.next_broker()
            try:
                return self._open(broker, plan)
            except plan.errors as exc:
                plan.failed(broker, exc)
                raise

        retrying = Retrying(**plan.options(sleep))
        sleep(plan.first_delay())
        try:
            return retrying(one_try)
        except plan.errors as exc:
            raise plan.final_error() from exc

    def _open(self, broker: BrokerAddress, plan: ConnectPlan | None) -> Connection:
        config = self.config
        timeouts = config.timeouts
        bounded = plan.bounded if plan is not None else float

        log.info("connecting to %s", broker.url)
        transport = open_transport(
            broker,
            connect_timeout=bounded(timeouts.connect),
            write_timeout=timeouts.write,
            **self._transport_options(broker),
        )
        session = self._new_session(transport.stomp_versions(config.versions))
        tracker = self._new_tracker()
        if tracker is not None:
            transport.track(tracker)
        connection = Connection(
            self,
            transport,
            session,
            self._lock,
            tolerance=config.heartbeat_tolerance,
            coalesce=config.read_coalescing,
        )
        try:
            connection.handshake(**self._handshake_options(bounded(timeouts.connected)))
        except BaseException:
            transport.close()
            raise
        return connection

    def _installed(self, connection: Connection, *, reconnect: bool) -> None:
        """Make ``connection`` current: replay subscriptions, start its reader, tell listeners.

        The connection becomes current *before* its reader starts, so a loss noticed at once
        is handled like any other (``_connection_lost`` only acts on the current one)."""
        info = connection.info
        assert info is not None
        if reconnect:
            # Queued before anyone else can use the connection (it is not current yet):
            # the subscription replay, then the sends carried over from the lost one, in
            # their original order, ahead of every new send. A loss while they are being
            # written carries them over again.
            with self._lock:
                # the new session takes over the subscriptions; same ids, same headers
                connection.session.subscriptions.update(self._session.subscriptions)
                frames = list(connection.session.replay())
            with self._state:
                carried = self._outbox.take()
                receipts = self._carried_receipts.take()
            if carried:
                log.info("writing %d send(s) carried over to %s", len(carried), connection.url)
            connection.adopt_receipts(receipts)
            connection.transport.preload(frames + carried)
        with self._state:
            self._connection = connection
            self._session = connection.session
            self._life.installed(time.monotonic())
            self._state.notify_all()
        connection.start_reader()
        observer = self._observer
        if observer is not None:
            self._observe_connection(observer, connection, connection.transport.address)
            if reconnect:
                self._dispatcher.submit(None, observer.count, "reconnects", 1)
        if self._schedule.should_return_to_priority(connection.transport.address):
            self._start_priority_return(connection)
        self._dispatcher.submit(
            None,
            self.listeners.fire,
            "connected",
            self._announce(connection.url, info, reconnect=reconnect),
        )

    def _carry_over(
        self,
        connection: Connection,
        cached: list[bytes],
        unsent: list[bytes],
        receipts: Receipts[Waiter],
        error: ConnectionLost,
    ) -> list[Waiter]:
        """``connection`` was lost (called once, before :meth:`_connection_lost`): keep what
        must be written again on the next connection, or report it when none will come.
        Returns the receipt futures the caller fails with ``error``."""
        carried, frames, rest = receipts.plan_loss(settled, cached, unsent)
        with self._state:
            if self._life.carries(self._connection is connection, self._closing.is_set()):
                self._outbox.carry(frames)
                self._carried_receipts.update(carried)
                return rest
        self._report_undelivered(frames, error, receipted=receipts)
        return receipts.waiters()

    def _report_undelivered(
        self,
        frames: list[bytes],
        error: BaseException,
        *,
        receipted: Receipts[Waiter] | None = None,
    ) -> None:
        """Give up ``frames`` and whatever waits for the next connection: receipted sends
        fail with ConnectionLost (their callers learn it so); the other frames are counted,
        logged and reported with the ``undelivered`` event."""
        with self._state:
            dropped = self._outbox.drop(frames)
            waiting = self._carried_receipts.take()
        told = waiting.frame_ids() | (receipted.frame_ids() if receipted is not None else set())
        count = undelivered_count(dropped, told)
        for future in waiting.waiters():
            if not future.done():
                future.set_exception(ConnectionLost(f"send not delivered: {error}"))
        if not count:
            return
        with self._state:
            self._outbox.report(count)
        log.warning("%d send(s) not delivered: %s", count, error)
        self._dispatcher.submit(None, self.listeners.fire, "undelivered", count, error)

    def _forget_receipt(self, future: Waiter) -> None:
        """A receipted send timed out: stop waiting for its RECEIPT wherever it waits."""
        with self._state:
            self._carried_receipts.forget(future)
            connection = self._connection
        if connection is not None:
            connection.forget_receipt(future)

    def _connection_lost(self, connection: Connection, error: ConnectionLost) -> None:
        """Called once per lost connection (from the thread that noticed)."""
        requester = self._requester
        if requester is not None:
            requester.lost(connection, error)
        if isinstance(error, HeartbeatTimeout):
            self._dispatcher.submit(None, self.listeners.fire, "heartbeat_timeout", error)
        self._dispatcher.submit(None, self.listeners.fire, "disconnected", error)
        with self._state:
            if self._connection is not connection:
                return
            after = self._life.lost(
                connection.transport.address, time.monotonic(), closing=self._closing.is_set()
            )
            if after is AfterLoss.STAY_DOWN:
                self._state.notify_all()
                return
            if after is AfterLoss.RECONNECT_YOUNG:
                log.warning(
                    "connection to %s died young (within %.3gs of CONNECTED): the reconnect "
                    "back-off continues",
                    connection.url,
                    self._schedule.healthy_after(),
                )
            old = self._reconnect_thread
            self._reconnect_thread = threading.Thread(
                target=self._reconnect, args=(connection, old), name="stomp-reconnect", daemon=True
            )
            self._reconnect_thread.start()
            self._state.notify_all()

    def _reconnect(self, lost: Connection, previous: threading.Thread | None) -> None:
        lost.join(_JOIN)
        if previous is not None:
            previous.join(_JOIN)
        try:
            connection = self._connect_loop(startup=False, deadline=None)
        except BaseException as exc:
            with self._state:
                self._life.reconnect_ended(gave_up=True)
                self._state.notify_all()
            if self._closing.is_set():
                return
            log.error("reconnect gave up: %s", exc)  # noqa: TRY400 - the cause is in the message
            self._report_undelivered([], exc)
            for sub in list(self._subscriptions.values()):
                sub._end()  # a waiting get() raises NotConnected instead of waiting forever
            self._dispatcher.submit(None, self.listeners.fire, "reconnect_failed", exc)
            return
        if self._closing.is_set():
            connection.close(_JOIN)
            with self._state:
                self._life.reconnect_ended(gave_up=False)
                self._state.notify_all()
            return
        self._life.reconnects += 1
        self._installed(connection, reconnect=True)

    def _start_priority_return(self, current: Connection) -> None:
        with self._state:
            previous = self._priority_thread
            if previous is not None and previous.is_alive():
                return
            self._priority_thread = threading.Thread(
                target=self._return_to_priority,
                args=(current,),
                name="stomp-priority-return",
                daemon=True,
            )
            self._priority_thread.start()

    def _return_to_priority(self, current: Connection) -> None:
        """priorityBackup: while connected to a backup broker, keep trying the priority ones
        (with the policy's back-off) and move over as soon as one answers."""
        priority = [b for b in self.config.failover.brokers if self._schedule.is_priority(b)]
        for delay in priority_return_delays(self.config.failover.policy):
            if self._closing.wait(delay):
                return
            if self._connection is not current or not current.alive:
                return
            for broker in priority:
                try:
                    connection = self._open(broker, None)
                except (StompConnectionError, StompTimeout, BrokerError) as exc:
                    log.debug("priority broker %s still unavailable: %s", broker.url, exc)
                    continue
                log.warning("returning to priority broker %s from %s", broker.url, current.url)
                self._switch(current, connection)
                return

    def _switch(self, old: Connection, new: Connection) -> None:
        """Move from ``old`` to the freshly handshaken ``new``: replay, then close ``old``."""
        old.closing = True
        with self._lock:
            old.alive = False  # senders now wait for the new connection
        requester = self._requester
        if requester is not None:  # its requests' reply destination goes with it
            requester.lost(old, ConnectionLost(f"left {old.url} for a priority broker"))
        self._life.reconnects += 1
        self._installed(new, reconnect=True)
        old.close(_JOIN)

    def _may_reconnect(self) -> bool:
        """Whether a connection may still come (call with ``_state`` held): connecting,
        reconnecting, or a loss that ``_connection_lost`` has not picked up yet."""
        connection = self._connection
        return self._life.may_reconnect(
            connection is not None and not connection.alive, closing=self._closing.is_set()
        )

    def _current_connection(self, timeout: float | None = None) -> Connection:
        """The live connection, waiting for a reconnect up to the send timeout."""
        connection = self._connection
        if connection is not None and connection.alive:
            return connection
        if self._forked:
            raise NotConnected(
                "this client was connected in the parent process; after fork() create (or "
                "connect) a client in the child (e.g. in gunicorn's post_fork hook)"
            )
        wait = reconnect_wait(
            timeout, self.config.timeouts.send, self.config.failover.policy.timeout
        )
        deadline = time.monotonic() + wait
        with self._state:
            while True:
                connection = self._connection
                if connection is not None and connection.alive:
                    return connection
                if not self._may_reconnect():
                    raise self._not_connected()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NotConnected(f"not connected; waited {wait:g}s for a reconnect")
                self._state.wait(remaining)

    def disconnect(self, timeout: float | None = None) -> None:
        """Graceful shutdown: stop delivering, wait (bounded) for in-flight handlers,
        DISCONNECT with a receipt waited for a bounded time, close the socket, join threads.

        The whole call is bounded: at most ``timeouts.drain`` for handlers, then at most
        ``timeout`` for the DISCONNECT receipt (over at once when the broker closes the
        socket without one, as RabbitMQ does), then :data:`JOIN_ALLOWANCE` seconds for the
        client's threads to end. A handler still stuck in user code is not waited for
        further: its dispatcher thread is left running and named in a WARNING.

        Idempotent; safe when the connection is already dead. May be called from any thread,
        including a handler or listener (that thread is then not joined).

        Args:
            timeout: bound for the DISCONNECT receipt (default ``timeouts.disconnect``).
        """
        timeouts = self.config.timeouts
        with self._disconnect_lock:
            with self._state:
                self._closing.set()
                connection = self._connection
                self._state.notify_all()
            dispatcher = self._dispatcher
            if not dispatcher.drain(timeouts.drain):
                log.warning(
                    "handlers still running after %.1fs; disconnecting anyway", timeouts.drain
                )
            if connection is not None and connection.alive:
                connection.closing = True  # the broker's EOF after DISCONNECT is expected
                try:
                    future = connection.request(
                        lambda rid: connection.session.disconnect(receipt=rid),
                        receipt=True,
                        direct=True,
                    )
                    assert future is not None
                    connection.wait_receipt(
                        future, timeouts.disconnect if timeout is None else timeout, "DISCONNECT"
                    )
                except ReceiptTimeout:
                    log.info("no DISCONNECT receipt from %s (RabbitMQ sends none)", connection.url)
                except (ConnectionLost, BrokerError, LocalProtocolError) as exc:
                    log.info("DISCONNECT on %s: %s", connection.url, exc)
            ends = time.monotonic() + JOIN_ALLOWANCE

            def left() -> float:
                return max(0.0, ends - time.monotonic())

            if connection is not None:
                connection.close(left())
                was_current = True
            else:
                was_current = False
            for sub in list(self._subscriptions.values()):
                sub._end()
            self._subscriptions.clear()
            if self._requester is not None:
                self._requester.close()
            with self._lock:
                self._session.subscriptions.clear()
            for helper in (self._reconnect_thread, self._priority_thread):
                if helper is not None and helper is not threading.current_thread():
                    helper.join(left())
                    if helper.is_alive():
                        log.warning(
                            "thread %s still busy after disconnect; it ends on its own",
                            helper.name,
                        )
            if self._outbox or self._carried_receipts:  # closed while reconnecting
                self._report_undelivered([], NotConnected("the client was closed"))
            with self._state:
                lost_already = connection is not None and connection.lost_error is not None
                self._connection = None
                self._life.closed()
                self._state.notify_all()
            if was_current and not lost_already:
                dispatcher.submit(None, self.listeners.fire, "disconnected", None)
            dispatcher.stop(left())
            self._dispatcher = _idle_dispatcher()
            if connection is not None:
                log.info("disconnected from %s", connection.url)

    close = disconnect

    def __enter__(self) -> Client:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()

    # ------------------------------------------------------------ sending

    def _encode_body(
        self, body: Any, content_type: str | None, codec: Codec | None = None
    ) -> tuple[bytes, str | None]:
        return encode_body(body, content_type, codec)

    def send(
        self,
        destination: str,
        body: Body | Any = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str | None = None,
        receipt: bool = False,
        timeout: float | None = None,
        **options: Unpack[SendOptionArgs],
    ) -> None:
        """Send ``body`` to ``destination``.

        A ``str`` body is encoded with the charset of ``content_type`` (UTF-8 and
        ``text/plain;charset=utf-8`` when none is given). Any other object is a typed
        payload: ``codec`` (JSON by default: pydantic models, dataclasses, JSON-able
        objects) encodes it and names its ``content-type``.

        The message options are validated and written as the connected broker expects
        (see docs/patterns.md for the table); a header in ``headers`` that an option also
        writes raises :class:`ConfigError`.

        Args:
            receipt: block until the broker's RECEIPT (bounded by ``timeout`` or
                ``timeouts.receipt``).
            timeout: for ``receipt=True`` the receipt wait; also how long to wait for a
                reconnect when disconnected (default: the failover ``timeout`` option).
            **options: the typed message options (see
                :class:`~stomp_enterprise.core.options.SendOptionArgs`):
                ``persistent`` (store it durably; ActiveMQ's STOMP default is
                non-persistent), ``priority`` (0 lowest to 9), ``expires`` (a timezone-aware
                ``datetime`` after which the broker may drop it), ``ttl`` (seconds or a
                ``timedelta``; not with ``expires``), ``correlation_id``, ``reply_to``,
                ``message_type`` (the ``type`` header), and ``codec`` (encodes a typed
                payload, a :class:`~stomp_enterprise.core.codecs.Codec`).

        Raises:
            ReceiptTimeout: no RECEIPT in time (the message may or may not have arrived).
            BrokerError: the broker answered this frame with an ERROR.
            ConnectionLost: a plain URI: the connection broke before the frame was queued,
                or (``receipt=True``) before its RECEIPT; a failover URI: reconnecting gave
                up (or the client closed) first; or the queue stayed full for
                ``timeouts.write``. A send is never silently dropped: once ``send()`` has
                returned, a frame lost with its connection is written again on the next one
                (failover URI) or reported with the ``undelivered`` event (see
                docs/failover.md, "What happens to a send when the connection drops").
            NotConnected: not connected and no reconnect came within the wait.
            EncodingError: a ``str`` body and a charset that is unknown or cannot encode it
                (raised before anything is queued).
            ConfigError: an invalid option (named), or ``expires`` with ``ttl``.
            TypeError: an unknown keyword argument.
            PayloadError: the codec cannot encode ``body``.

        May be called from any thread, including handlers and listeners.
        """
        if options:  # typed options or a codec: off the fast path
            body, headers, content_type = self._send_parts(
                body, headers, content_type, options, self._current_connection(timeout).info
            )
        if receipt:
            connection, future = self._send(
                destination, body, headers, content_type, timeout, receipt=True, direct=True
            )
            assert future is not None
            connection.wait_receipt(future, timeout, "SEND")
            return
        # the hot path (no receipt): as few calls as possible, the frame built outside the lock
        if type(body) is not bytes:
            body, content_type = self._encode_body(body, content_type)
        current = self._connection
        connection = (
            current if current is not None and current.alive else self._current_connection(timeout)
        )
        try:
            connection.post(
                connection.session.send,
                destination,
                body,
                connection.routed(destination, headers, subscribe=False)
                if connection.artemis
                else headers,
                content_type,
            )
        except ConnectionLost:
            # not queued: lost just before. A failover client waits for the reconnect (once)
            if not self._next_connection_for(connection):
                raise
            connection = self._current_connection(timeout)
            connection.post(
                connection.session.send,
                destination,
                body,
                connection.routed(destination, headers, subscribe=False),
                content_type,
            )

    _send_unobserved = send

    def _send_observed(
        self,
        destination: str,
        body: Any = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str | None = None,
        **options: Any,
    ) -> None:
        """:meth:`send` once :meth:`observe` was called (it replaces ``send`` on this
        instance, so an unobserved client's send path does no work for observation):
        counted, and with OpenTelemetry traced and its context injected. Every other
        keyword of :meth:`send` is passed on unchanged."""
        observer = self._observer
        assert observer is not None
        payload, content_type, size, options = observed_body(body, content_type, options)
        if not observer.tracing:  # counters only: no span, no headers to add
            self._send_unobserved(
                destination, payload, headers, content_type=content_type, **options
            )
            observer.sent(None, destination, size)
            return
        observer.send(
            destination,
            headers,
            size,
            lambda traced: self._send_unobserved(
                destination, payload, traced, content_type=content_type, **options
            ),
        )

    def _next_connection_for(self, connection: Connection) -> bool:
        """After ``connection`` refused a frame with ConnectionLost: whether to try again
        on the next connection (it is lost and a failover URI will reconnect)."""
        return not connection.alive and self.config.failover.policy.max_reconnect_attempts != 0

    def _send(
        self,
        destination: str,
        body: Body | Any,
        headers: Mapping[str, str] | None,
        content_type: str | None,
        timeout: float | None,
        *,
        receipt: bool,
        direct: bool,
    ) -> tuple[Connection, Waiter | None]:
        payload, content_type = self._encode_body(body, content_type)
        for last in (False, True):
            connection = self._current_connection(timeout)
            session = connection.session
            routed = connection.routed(destination, headers, subscribe=False)
            try:
                future = connection.request(
                    _send_builder(session, destination, payload, routed, content_type),
                    receipt=receipt,
                    direct=direct,
                )
            except ConnectionLost:
                if last or not self._next_connection_for(connection):
                    raise
                continue  # lost before the frame was queued: the next connection takes it
            return connection, future
        raise AssertionError("unreachable")  # pragma: no cover

    def send_async(
        self,
        destination: str,
        body: Body = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str | None = None,
        timeout: float | None = None,
        **options: Unpack[SendOptionArgs],
    ) -> Future[Frame]:
        """Send with a receipt without waiting: the returned future resolves with the RECEIPT
        frame, or fails with BrokerError / ConnectionLost (on a failover URI a lost connection
        does not fail it: the frame is written again on the next one and the future waits
        on). Pipelining many of these is much faster than one receipted ``send`` at a time.
        Future callbacks run on the thread that reads the RECEIPT (the reader, or a thread
        waiting for a receipt of its own: see docs/design.md): keep them short and
        non-blocking.
        ``options`` are :meth:`send`'s typed message options and ``codec``. May be called
        from any thread."""
        if options:
            body, headers, content_type = self._send_parts(
                body, headers, content_type, options, self._current_connection(timeout).info
            )
        _, future = self._send(
            destination, body, headers, content_type, timeout, receipt=True, direct=False
        )
        assert isinstance(future, ReceiptFuture)
        return future

    # ------------------------------------------------------------ subscribing

    def subscribe(
        self,
        destination: str,
        handler: Handler | None = None,
        *,
        ack: str = "auto",
        headers: Mapping[str, str] | None = None,
        id: str | None = None,  # noqa: A002 - the STOMP header name
        on_error: ErrorPolicy = "disconnect",
        error_destination: str | None = None,
        receipt: bool = False,
        timeout: float | None = None,
        durable: str | None = None,
        selector: str | None = None,
        prefetch: int | None = None,
        model: Any | None = None,
        codec: Codec | None = None,
    ) -> Subscription:
        """Subscribe to ``destination``.

        May be called from any thread, including handlers and listeners.

        Args:
            handler: called with each :class:`Message` on the dispatcher thread. Without
                one, the returned subscription is a bounded queue (``get()``, iteration).
            ack: ``auto``, ``client`` or ``client-individual``.
            headers: extra SUBSCRIBE headers (``selector``, ``prefetch-count``, ...). With
                client acks and no prefetch header of its own, the broker's prefetch header
                is added, sized to the backlog bounds (see ``docs/acks.md``).
            id: subscription id (generated when omitted); kept across reconnects.
            on_error: what to do when ``handler`` raises: ``"disconnect"`` (default,
                stompest's poison-pill behaviour), ``"nack"``, ``"ack"``, ``"ignore"`` or a
                callable ``(message, error)``.
            error_destination: forward a failed message there (headers kept, plus
                ``x-stomp-enterprise-error``), then ack it. Overrides ``on_error``.
            receipt: wait for the broker to confirm the subscription.
            durable: the name of a durable topic subscription: it keeps the topic's
                messages while this client is away (ActiveMQ and Artemis also need
                ``Client(client_id=...)``); its id is the name. Remove it with
                :meth:`unsubscribe_durable`.
            selector: a JMS/SQL-92 selector (ActiveMQ, Artemis, Apollo); RabbitMQ has none
                and raises :class:`ConfigError`.
            prefetch: messages the broker may send ahead of acks, in its own header
                (Artemis counts bytes: ``prefetch`` times the backlog's bytes per message).
            model: what ``message.model`` validates the body as (a pydantic model or any
                type pydantic validates), lazily, once per message. A failure in the
                handler goes through ``on_error`` / ``error_destination``.
            codec: decodes ``message.model`` (default: the codec of its content type).

        Raises:
            ConfigError: an invalid option (named), an option the broker refuses by
                design, or a header that an option also writes.
        """
        connection = self._current_connection(timeout)
        options = SubscribeOptions(durable, selector, prefetch)
        headers = self._subscribe_headers(
            connection, destination, headers, ack=ack, pull=handler is None, options=options
        )
        id = options.subscription_id(id)  # noqa: A001 - a durable subscription's id is its name
        with self._lock:
            sub_id = self._subscription_id(id)
        sub = Subscription(
            self,
            sub_id,
            destination,
            ack,
            tuple((headers or {}).items()),
            handler,
            on_error,
            error_destination,
            model=model,
            codec=codec,
        )
        return self._subscribe_as(sub, destination, headers, timeout, receipt=receipt)

    def _subscribe_as(
        self,
        sub: Subscription,
        destination: str,
        headers: Mapping[str, str] | None,
        timeout: float | None,
        *,
        receipt: bool = False,
    ) -> Subscription:
        """SUBSCRIBE ``sub`` (built by the caller) to ``destination`` on the current
        connection; it is replayed after a reconnect."""
        connection = self._current_connection(timeout)
        headers = connection.routed(destination, headers, subscribe=True)
        sub_id = sub.id
        ack = sub.ack
        with self._lock:
            if sub_id in self._subscriptions:
                raise ConfigError(f"subscription id {sub_id!r} is already in use")
            self._subscriptions[sub_id] = sub
        try:
            connection.call(
                lambda rid: connection.session.subscribe(
                    destination, sub_id, ack=ack, headers=headers, receipt=rid
                ),
                receipt=receipt,
                timeout=timeout,
                what=f"SUBSCRIBE {destination}",
            )
        except BaseException:
            self._subscriptions.pop(sub_id, None)
            sub._end()
            with self._lock:
                connection.session.subscriptions.pop(sub_id, None)
            raise
        return sub

    def _unsubscribe(
        self,
        sub: Subscription,
        *,
        receipt: bool,
        timeout: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self._subscriptions.get(sub.id) is not sub:
            return
        connection = self._connection
        if connection is not None and connection.alive:
            # still routed while it leaves the routing table (a read may be under way)
            connection.retire(sub, until=sys.maxsize)
        if self._subscriptions.pop(sub.id, None) is None:
            return
        sub._end()
        if connection is not None and connection.alive:

            def build(rid: str | None) -> bytes:
                data = connection.session.unsubscribe(sub.id, receipt=rid, headers=headers)
                connection.retire(sub)  # what was read until now is still delivered
                return data

            try:
                connection.call(
                    build,
                    receipt=receipt,
                    timeout=timeout,
                    what=f"UNSUBSCRIBE {sub.id}",
                )
                return
            except (ConnectionLost, LocalProtocolError):
                pass  # gone with the connection: nothing left to unsubscribe at the broker
        with self._lock:  # not connected: just make sure it is not replayed
            self._session.subscriptions.pop(sub.id, None)

    def _discarded(self, subscription_id: str, count: int, reason: str) -> None:
        """Auto-ack messages received and never delivered: a WARNING and the ``discarded``
        event (any thread)."""
        with self._state:
            self._life.discarded += count
        log.warning(
            "%d auto-ack message(s) of subscription %s discarded: %s",
            count,
            subscription_id,
            reason,
        )
        dispatcher = self._dispatcher
        if dispatcher.in_worker():  # e.g. disconnect() is stopping it: run the listeners now
            self.listeners.fire("discarded", subscription_id, count, reason)
        else:
            dispatcher.submit(
                None, self.listeners.fire, "discarded", subscription_id, count, reason
            )

    def unsubscribe(self, subscription: Subscription | str, *, receipt: bool = False) -> None:
        """Unsubscribe a :class:`Subscription` or a subscription id.

        Any thread, including handlers and listeners.
        """
        sub = (
            self._subscriptions.get(subscription) if isinstance(subscription, str) else subscription
        )
        if sub is not None:
            sub.unsubscribe(receipt=receipt)

    def unsubscribe_durable(
        self,
        destination: str,
        name: str,
        *,
        receipt: bool = True,
        timeout: float | None = None,
    ) -> None:
        """Delete durable subscription ``name`` of topic ``destination`` at the broker, with
        the messages it holds.

        ActiveMQ, Artemis, Apollo: a live subscription of this client with that name is
        unsubscribed first, then an UNSUBSCRIBE with the broker's removal headers goes out
        (ActiveMQ ``activemq.subscriptionName``, Artemis ``durable-subscription-name``,
        Apollo ``persistent:true``; ActiveMQ and Artemis find it by this client's
        ``client_id``). RabbitMQ: the subscription is attached when it is not already (its
        stored messages may be delivered to it meanwhile; they are deleted with it) and
        unsubscribed with ``durable:true`` + ``x-queue-name``. May be called from any
        thread.

        Args:
            receipt: wait for the broker to confirm (default; bounded by ``timeout``).

        Raises:
            ConfigError: ``name`` is not a valid durable name.
            BrokerError: the broker refused (e.g. ActiveMQ: another client is attached).
            ReceiptTimeout: no confirmation in time.
        """
        connection = self._current_connection(timeout)
        attached, headers = self._durable_removal(connection, name)
        sub = self._subscriptions.get(name)
        if attached:
            if sub is None:
                sub = self.subscribe(
                    destination,
                    durable=name,
                    ack="client-individual",
                    receipt=True,
                    timeout=timeout,
                )
            self._unsubscribe(sub, receipt=receipt, timeout=timeout, headers=headers)
            return
        if sub is not None:
            sub.unsubscribe(receipt=True, timeout=timeout)
        connection.call(
            lambda rid: connection.session.remove_subscription(
                name, headers, destination=destination, receipt=rid
            ),
            receipt=receipt,
            timeout=timeout,
            what=f"UNSUBSCRIBE durable {name}",
        )

    # ------------------------------------------------------------ transactions

    def transaction(self, *, receipt: bool = True, timeout: float | None = None) -> Transaction:
        """A transaction for ``with client.transaction() as tx:`` (BEGIN on enter, COMMIT on
        normal exit, ABORT on an exception).
        Any thread; the transaction itself may then be used from several threads."""
        return Transaction(self, receipt=receipt, timeout=timeout)

    # ------------------------------------------------------------ request/reply

    def request(
        self,
        destination: str,
        body: Body = b"",
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        **options: Unpack[SendOptionArgs],
    ) -> Message:
        """Send a request to ``destination`` and wait for its reply.

        The request carries a fresh ``correlation-id`` and a ``reply-to`` naming this
        client's reply destination: a temporary queue where the broker has them (RabbitMQ,
        ActiveMQ, Apollo), a private queue otherwise (Artemis). It is subscribed to on the
        first request and shared by every later one, from any thread (see
        ``docs/request-reply.md``). A reply that comes after its request gave up is dropped
        and counted (``stats().late_replies``).

        Args:
            timeout: seconds to wait for the reply (required; also bounds waiting for a
                reconnect before sending).
            headers: extra SEND headers (not ``correlation-id`` or ``reply-to``: set here).
            content_type: as for :meth:`send`.
            **options: the typed message options of :meth:`send` (``persistent``,
                ``priority``, ``ttl``, ``codec``...), but ``correlation_id`` and ``reply_to``
                (the request's own).

        Returns:
            The reply :class:`Message` (``message.headers["correlation-id"]`` is the
            request's).

        Raises:
            RequestTimeout: no reply within ``timeout`` (names the destination and the
                correlation id; the request may still be processed).
            ConnectionLost: the connection was lost before the reply; the request is not
                sent again (it may or may not have been processed).
            ConfigError: a bad timeout, or ``correlation-id``/``reply-to`` in ``headers``,
                or the options ``correlation_id=``/``reply_to=`` (the request's own).

        Any thread, including handlers (replies are matched on the reader thread, so a
        handler waiting for a reply blocks no other delivery of the reply).
        """
        requester = self._requester
        if requester is None:
            with self._state:
                if self._requester is None:
                    self._requester = Requester(self)
                requester = self._requester
        return requester.request(
            destination,
            body,
            timeout=timeout,
            headers=headers,
            content_type=content_type,
            **options,
        )

    def serve(
        self,
        destination: str,
        handler: Callable[[Message], Any],
        *,
        ack: str = "auto",
        headers: Mapping[str, str] | None = None,
        id: str | None = None,  # noqa: A002 - the STOMP header name
        on_error: ErrorPolicy = "disconnect",
        error_destination: str | None = None,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> Subscription:
        """Answer requests sent to ``destination`` (a responder for :meth:`request`).

        ``handler(message)`` runs on the dispatcher like any handler; its return value is
        sent to the request's ``reply-to`` with its ``correlation-id``: ``bytes``/``str``
        as the body, ``None`` as an empty body, or a :class:`~stomp_enterprise.Reply` to
        set headers and the content type too. With client acks the request is acked after
        its reply was sent. A request without ``reply-to`` is handled and logged at
        WARNING (nothing to answer). An exception in ``handler`` (or a return value of
        another type) goes through the subscription's error policy (``on_error``,
        ``error_destination``), exactly as for :meth:`subscribe`: no reply is sent, so the
        requester times out unless the policy answers.

        Arguments are those of :meth:`subscribe`. Returns the :class:`Subscription`. Any
        thread.
        """
        if not callable(handler):
            raise ConfigError(f"handler must be callable, got {handler!r}")

        def respond(message: Message) -> None:
            reply = reply_for(message.headers, handler(message))
            if reply is None:
                log.warning("request %r has no reply-to header: no reply sent", message)
            else:
                if self._observer is not None:
                    self._observer.replying()
                self.send(reply[0], reply[1], reply[2], content_type=reply[3])
            if ack != "auto":
                message.ack()

        return self.subscribe(
            destination,
            respond,
            ack=ack,
            headers=headers,
            id=id,
            on_error=on_error,
            error_destination=error_destination,
            receipt=receipt,
            timeout=timeout,
        )

    # ------------------------------------------------------------ observability

    def _observed(self) -> None:
        self.send = self._send_observed  # type: ignore[method-assign]

    def _address_of(self, connection: Connection) -> BrokerAddress:
        return connection.transport.address


class _IdleDispatcher:
    """Stands in while no dispatcher runs (before connect/after disconnect)."""

    alive = False

    def submit(self, key: str | None, fn: Callable[..., Any], *args: Any) -> None:
        log.debug("dropping callback %r: client not started", fn)

    def drain(self, timeout: float) -> bool:
        return True

    def stop(self, timeout: float) -> None:
        return None

    def in_worker(self) -> bool:
        return False


def _idle_dispatcher() -> Any:
    return _IdleDispatcher()


_ALL_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """The child of a fork has none of the parent's threads and must not share its sockets:
    every client inherited from the parent becomes unusable, with a clear error."""
    for client in list(_ALL_CLIENTS):
        if client._connection is not None or client._life.started:
            # locks may have been held by parent threads that do not exist here
            client._lock = threading.Lock()
            client._state = threading.Condition(threading.Lock())
            client._disconnect_lock = threading.Lock()
            client._forked = True
            client._connection = None
            client._life.closed()
            client._closing.set()
            client._dispatcher = _idle_dispatcher()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _disconnect_at_exit() -> None:
    """At interpreter exit, every client still open is disconnected as ``disconnect()``
    does it: bounded, and what was accepted (queued sends, handlers in flight) is written
    and run first.

    The client's threads are daemon threads, so a program that ends without
    ``disconnect()`` (a forgotten call, an uncaught exception, ``sys.exit()`` in a
    gunicorn worker) is not kept alive by them forever; :mod:`atexit` runs this after
    every non-daemon thread of the program has ended (they may still send until then)
    and while the client's own threads still run."""
    for client in list(_ALL_CLIENTS):
        life = client._life
        if client._forked or not (
            client._connection is not None or life.started or life.reconnecting
        ):
            continue
        log.info("the program is exiting without disconnect(): disconnecting now")
        try:
            client.disconnect()
        except Exception:  # one client's failure must not keep the others open
            log.exception("disconnect at exit failed")


atexit.register(_disconnect_at_exit)


def _send_builder(
    session: Session,
    destination: str,
    payload: bytes,
    headers: Mapping[str, str] | None,
    content_type: str | None,
) -> Callable[[str | None], bytes]:
    """The ``build`` of a SEND for :meth:`Connection.request`."""

    def build(receipt_id: str | None) -> bytes:
        return session.send(
            destination, payload, headers, content_type=content_type, receipt=receipt_id
        )

    return build


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout
