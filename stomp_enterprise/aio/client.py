"""The asyncio STOMP client.

Same URLs, failover URIs, options, timeouts and events as :class:`stomp_enterprise.Client`,
over the same sans-I/O core (:mod:`stomp_enterprise.protocol`, :mod:`stomp_enterprise.core`);
only the I/O differs. Per connection: a Protocol fed by the event loop (the reader: parses in
``data_received``, never runs user code) and a heart-beat task; per handler subscription one
task (see :mod:`stomp_enterprise.aio.subscription`); per client one event task that runs the
listeners in order, and, while reconnecting, a reconnect task. No thread is started.

Every method must be called on the event loop the client connected on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from stomp_enterprise.aio.connection import Connection
from stomp_enterprise.aio.message import Message
from stomp_enterprise.aio.subscription import Handler, Subscription
from stomp_enterprise.aio.transaction import Transaction
from stomp_enterprise.aio.transport import open_stream
from stomp_enterprise.config import ClientConfig, Timeouts
from stomp_enterprise.core.backlog import BacklogInfo, with_prefetch
from stomp_enterprise.core.listeners import ConnectedInfo, ListenerRegistry
from stomp_enterprise.core.message import Body, encode_body
from stomp_enterprise.core.outbox import Outbox, SendTracker, plan_resend
from stomp_enterprise.core.reconnect import (
    AttemptFeed,
    connect_failed,
    connect_headers,
    reconnect_wait,
    retryable,
)
from stomp_enterprise.core.subscription import ErrorPolicy
from stomp_enterprise.errors import (
    BrokerError,
    ConfigError,
    ConnectFailed,
    ConnectionLost,
    HeartbeatTimeout,
    LocalProtocolError,
    NotConnected,
    ReceiptTimeout,
    StompTimeout,
    redact_uri_secrets,
)
from stomp_enterprise.protocol.failover import BrokerAddress, ReconnectSchedule
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.session import Session
from stomp_enterprise.transport.tls import client_ssl_context, server_hostname_of

__all__ = ["JOIN_ALLOWANCE", "Client"]

log = logging.getLogger("stomp_enterprise.aio")

#: Seconds ``disconnect()`` allows, after the drain and the DISCONNECT receipt waits, for the
#: client's own tasks to end (as the threaded client's join allowance).
JOIN_ALLOWANCE = 1.0
_EVENT_QUEUE = 10_000  # listener calls waiting for the event task before the oldest wait


class Client:
    """An asyncio STOMP client.

    Args:
        url: ``tcp://host:port``, ``ssl://...``, ``stomp://...``, ``stomp+ssl://...`` or an
            ActiveMQ failover URI ``failover:(tcp://a:61613,tcp://b:61613)?randomize=false``.
        login: user name.
        passcode: password (never logged or shown in a repr).
        vhost: CONNECT ``host`` header (RabbitMQ vhost, Apollo host name); ``/`` by default.
        versions: versions to offer; the highest common one is used.
        heart_beats: ``(cx, cy)`` ms: we send every cx, we want data every cy; 0 disables.
        ssl: TLS for ``ssl://`` brokers: ``None``/``True`` verify with the system CAs, a
            :class:`~stomp_enterprise.transport.TlsOptions` or an ``ssl.SSLContext``.
        timeouts: a :class:`~stomp_enterprise.config.Timeouts` or a dict of its fields.
        **options: any other :class:`~stomp_enterprise.config.ClientConfig` field
            (``max_backlog_messages``, ``max_backlog_bytes``, ``backlog_low_water``,
            ``max_frame_size``, ``content_length``, ``client_id``, ``connect_headers``,
            ``heartbeat_tolerance``, ``queue_size``, ``seed``; ``dispatch_workers`` and
            ``read_coalescing`` are the threaded client's and have no effect here).

    Every method is called on the event loop's thread (from any task, including handlers
    and listeners); the client is bound to the loop it connected on.
    """

    _message_class = Message

    def __init__(
        self,
        url: str,
        *,
        login: str | None = None,
        passcode: str | None = None,
        vhost: str | None = None,
        versions: Sequence[str] = ("1.2", "1.1", "1.0"),
        heart_beats: tuple[int, int] = (10_000, 10_000),
        ssl: Any = None,
        timeouts: Timeouts | Mapping[str, float | None] | None = None,
        **options: Any,
    ) -> None:
        if isinstance(timeouts, Mapping):
            try:
                timeouts = Timeouts(**timeouts)
            except Exception as exc:
                raise ConfigError(f"invalid timeouts: {exc}") from None
        self.config = ClientConfig.build(
            url=url,
            login=login,
            passcode=passcode,
            vhost=vhost,
            versions=tuple(versions),
            heart_beats=tuple(heart_beats),
            ssl=ssl,
            timeouts=timeouts or Timeouts(),
            **options,
        )
        config = self.config
        self.listeners = ListenerRegistry()
        self._session_ids = itertools.count(1)
        self._marker_ids = itertools.count(1)
        self._session = self._new_session()
        self._outbox = Outbox()
        self._carried: dict[str, asyncio.Future[Frame]] = {}
        self._carried_data: dict[str, bytes] = {}
        self._connection: Connection | None = None
        self._subscriptions: dict[str, Subscription] = {}
        self._schedule = ReconnectSchedule(config.failover, seed=config.seed)
        self._ssl_context = client_ssl_context(
            config.ssl, any(b.use_ssl for b in config.failover.brokers)
        )
        self._ids = itertools.count(1)
        self.closing = False
        self._started = False
        self._reconnecting = False
        self._gave_up = False
        self._changed: asyncio.Event | None = None
        self._closed_event: asyncio.Event | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[tuple[str, tuple[Any, ...]] | None] | None = None
        self._event_task: asyncio.Task[None] | None = None
        self._disconnecting: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.discarded = 0
        self._lost_at: float | None = None
        self._disconnected_total = 0.0

    def _new_session(self) -> Session:
        config = self.config
        return Session(
            config.versions,
            config.heart_beats,
            max_frame_size=config.max_frame_size,
            content_length=config.content_length,
            skip_oversize=True,
            ids=self._session_ids,
        )

    # ------------------------------------------------------------ properties

    @property
    def is_connected(self) -> bool:
        """True while a connection is established."""
        connection = self._connection
        return connection is not None and connection.alive

    @property
    def version(self) -> str | None:
        """The negotiated STOMP version of the current connection (None when not connected)."""
        connection = self._connection
        if connection is None or connection.info is None or not connection.alive:
            return None
        return connection.info.version

    @property
    def server(self) -> str | None:
        """The broker's CONNECTED ``server`` header."""
        connection = self._connection
        return connection.info.server if connection and connection.info else None

    @property
    def broker(self) -> str | None:
        """URL of the broker currently connected to."""
        connection = self._connection
        return connection.url if connection is not None and connection.alive else None

    @property
    def heart_beats(self) -> tuple[int, int]:
        """Negotiated ``(send_every_ms, expect_every_ms)`` of the current connection."""
        connection = self._connection
        if connection is None or connection.info is None:
            return (0, 0)
        return (connection.info.send_interval, connection.info.receive_interval)

    @property
    def pending_receipts(self) -> int:
        """How many RECEIPTs the current connection still waits for (a leak check)."""
        connection = self._connection
        return 0 if connection is None else len(connection.receipts)

    @property
    def resent(self) -> int:
        """Frames written again on a new connection after a loss (counter)."""
        return self._outbox.resent

    @property
    def undelivered(self) -> int:
        """Fire-and-forget SENDs given up and reported with the ``undelivered`` event."""
        return self._outbox.undelivered

    @property
    def unconfirmed_bytes(self) -> int:
        """With ``trackMessages=true``: bytes of SENDs not yet confirmed by the broker."""
        connection = self._connection
        tracker = connection.tracker if connection is not None else None
        return tracker.bytes if tracker is not None else 0

    @property
    def backlog(self) -> BacklogInfo:
        """The current connection's consume backlog (all zero when not connected)."""
        connection = self._connection
        return BacklogInfo(0, 0, False, 0) if connection is None else connection.backlog_info()

    @property
    def disconnected_seconds(self) -> float:
        """Total time spent disconnected after connection losses (observability)."""
        total = self._disconnected_total
        if self._lost_at is not None:
            total += time.monotonic() - self._lost_at
        return total

    @property
    def subscriptions(self) -> list[Subscription]:
        """The active subscriptions."""
        return list(self._subscriptions.values())

    # ------------------------------------------------------------ connect

    async def connect(self, timeout: float | None = None) -> Client:
        """Connect, trying the failover brokers as the URI's policy says (startup limits).

        Cancelling the awaiting task closes whatever connection was being made and leaves
        the client disconnected (``connect()`` may be called again).

        Args:
            timeout: overall bound in seconds on the whole startup loop; ``None`` follows
                the policy alone.

        Raises:
            BrokerError: the broker refused the CONNECT (bad credentials, unknown vhost).
            ConnectFailed: no broker could be reached; ``.attempts`` lists each one tried.
        """
        if self.is_connected:
            return self
        if self._started:
            raise LocalProtocolError("connect() while a connection is being established")
        self._started = True
        self.closing = False
        self._gave_up = False
        self._closed_event = asyncio.Event()
        self._changed = asyncio.Event()
        self._schedule.reset()
        self._start_events()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            connection = await self._connect_loop(startup=True, deadline=deadline)
        except BaseException:
            self._started = False
            await self._stop_events(JOIN_ALLOWANCE)
            raise
        self._installed(connection, reconnect=False)
        return self

    async def _connect_loop(self, *, startup: bool, deadline: float | None) -> Connection:
        """Run the schedule's passes (tenacity's ``AsyncRetrying`` fed by the pure schedule,
        with a back-off sleep that ``disconnect()`` interrupts) until a connection is made."""
        attempts = AttemptFeed(self._schedule.attempts(startup), lambda: self.closing)
        if attempts.current is None:
            raise ConnectFailed("reconnect is disabled (maxReconnectAttempts=0)")
        errors = retryable(startup=startup)
        closed = self._closed_event
        assert closed is not None

        async def sleep(seconds: float) -> None:
            if deadline is not None:
                seconds = min(seconds, max(0.0, deadline - time.monotonic()))
            if seconds > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(closed.wait(), seconds)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s (%s); next: %s in %.3fs", *attempts.describe_retry(exc))

        async def one_try() -> Connection:
            attempt = attempts.current
            assert attempt is not None
            if self.closing:
                raise NotConnected("client is closing")
            if deadline is not None and time.monotonic() >= deadline:
                raise StompTimeout("connect timeout reached")
            try:
                return await self._open(attempt.broker, deadline)
            except errors as exc:
                attempts.tried.append((attempt.broker.url, exc))
                raise

        retrying = AsyncRetrying(
            stop=lambda state: (
                attempts.stop(state) or (deadline is not None and time.monotonic() >= deadline)
            ),
            wait=attempts.wait,
            sleep=sleep,
            retry=retry_if_exception_type(errors),
            before_sleep=before_sleep,
            reraise=True,
        )
        first = attempts.current
        if first.delay > 0:  # the last connection died young: its back-off still applies
            log.warning("reconnecting to %s in %.3fs", first.broker.url, first.delay)
            await sleep(first.delay)
        try:
            return await retrying(one_try)
        except errors as exc:
            if self.closing:
                raise NotConnected("client closed while connecting") from exc
            raise connect_failed(attempts.tried) from exc

    async def _open(self, broker: BrokerAddress, deadline: float | None) -> Connection:
        config = self.config
        timeouts = config.timeouts

        def bounded(value: float) -> float:
            if deadline is None:
                return value
            return max(0.001, min(value, deadline - time.monotonic()))

        log.info("connecting to %s", broker.url)
        stream = await open_stream(
            broker,
            timeout=bounded(timeouts.connect),
            ssl_context=self._ssl_context if broker.use_ssl else None,
            server_hostname=server_hostname_of(config.ssl),
        )
        policy = config.failover.policy
        tracker = (
            SendTracker(policy.max_cache_size, ids=self._marker_ids)
            if policy.track_messages
            else None
        )
        connection = Connection(self, stream, self._new_session(), tracker)
        try:
            await connection.handshake(
                host=config.vhost,
                login=config.login,
                passcode=config.passcode.get_secret_value() if config.passcode else None,
                headers=connect_headers(config.connect_headers, config.client_id),
                timeout=bounded(timeouts.connected),
            )
        except BaseException:
            stream.abort()
            await stream.wait_closed(JOIN_ALLOWANCE)
            raise
        return connection

    def _installed(self, connection: Connection, *, reconnect: bool) -> None:
        """Make ``connection`` current: replay subscriptions and carried sends ahead of
        everything else, start it, tell listeners."""
        info = connection.info
        assert info is not None
        if reconnect:
            connection.session.subscriptions.update(self._session.subscriptions)
            frames = list(connection.session.replay())
            carried = self._outbox.take()
            if carried:
                log.info("writing %d send(s) carried over to %s", len(carried), connection.url)
            connection.adopt(self._carried, self._carried_data)
            self._carried, self._carried_data = {}, {}
            connection.preload(frames + carried)
        self._connection = connection
        self._session = connection.session
        self._started = False
        self._reconnecting = False
        self._gave_up = False
        if self._lost_at is not None:
            self._disconnected_total += time.monotonic() - self._lost_at
            self._lost_at = None
        self._schedule.connected(time.monotonic())
        connection.start()
        self._notify()
        log.info(
            "connected to %s (STOMP %s, heart-beats %s)%s",
            connection.url,
            info.version,
            (info.send_interval, info.receive_interval),
            " after reconnect" if reconnect else "",
        )
        self._fire(
            "connected",
            ConnectedInfo(
                connection.url,
                info.version,
                info.server,
                info.session_id,
                (info.send_interval, info.receive_interval),
                reconnect,
            ),
        )

    def _notify(self) -> None:
        """Wake every task waiting for a change of connection."""
        changed = self._changed
        if changed is not None:
            changed.set()
            self._changed = asyncio.Event()

    # ------------------------------------------------------------ loss and reconnect

    def _carry_over(
        self,
        connection: Connection,
        cached: list[bytes],
        unsent: list[bytes],
        receipts: dict[str, asyncio.Future[Frame]],
        data: dict[str, bytes],
        error: ConnectionLost,
    ) -> list[asyncio.Future[Frame]]:
        """``connection`` was lost: keep what must be written again on the next connection,
        or report it when none will come. Returns the receipt futures to fail."""
        carried = {rid: f for rid, f in receipts.items() if rid in data and not f.done()}
        frames = plan_resend(cached, unsent, [data[rid] for rid in carried])
        if (
            self._connection is connection
            and not self.closing
            and self.config.failover.policy.max_reconnect_attempts != 0
        ):
            self._outbox.carry(frames)
            self._carried.update(carried)
            self._carried_data.update({rid: data[rid] for rid in carried})
            return [f for rid, f in receipts.items() if rid not in carried]
        self._report_undelivered(frames, error, receipted={id(data[rid]) for rid in carried})
        return list(receipts.values())

    def _report_undelivered(
        self, frames: list[bytes], error: BaseException, *, receipted: set[int] | None = None
    ) -> None:
        """Give up ``frames`` and whatever waits for the next connection: receipted sends
        fail with ConnectionLost; the other frames are counted, logged and reported."""
        dropped = self._outbox.drop(frames)
        told = set(receipted or ()) | {id(d) for d in self._carried_data.values()}
        waiting = list(self._carried.values())
        self._carried, self._carried_data = {}, {}
        for future in waiting:
            if not future.done():
                future.set_exception(ConnectionLost(f"send not delivered: {error}"))
        count = sum(1 for frame in dropped if id(frame) not in told)
        if not count:
            return
        self._outbox.report(count)
        log.warning("%d send(s) not delivered: %s", count, error)
        self._fire("undelivered", count, error)

    def _connection_lost(self, connection: Connection, error: ConnectionLost) -> None:
        """Called once per lost connection, on the loop."""
        if isinstance(error, HeartbeatTimeout):
            self._fire("heartbeat_timeout", error)
        self._fire("disconnected", error)
        if self._connection is not connection:
            return
        self._lost_at = time.monotonic()
        self._schedule.failed(connection.stream.address)
        healthy = self._schedule.lost(self._lost_at)
        if self.closing or self.config.failover.policy.max_reconnect_attempts == 0:
            self._notify()
            return
        if not healthy:
            log.warning(
                "connection to %s died young (within %.3gs of CONNECTED): the reconnect "
                "back-off continues",
                connection.url,
                self._schedule.healthy_after(),
            )
        self._reconnecting = True
        self._reconnect_task = asyncio.get_running_loop().create_task(
            self._reconnect(), name="stomp-reconnect"
        )
        self._notify()

    async def _reconnect(self) -> None:
        try:
            connection = await self._connect_loop(startup=False, deadline=None)
        except Exception as exc:
            self._reconnecting = False
            self._gave_up = True
            self._notify()
            if self.closing:
                return
            log.error("reconnect gave up: %s", exc)  # noqa: TRY400 - the cause is in the message
            self._report_undelivered([], exc)
            for sub in list(self._subscriptions.values()):
                sub._end()  # a waiting get() raises NotConnected instead of waiting forever
            self._fire("reconnect_failed", exc)
            return
        if self.closing:
            await connection.close(JOIN_ALLOWANCE)
            self._reconnecting = False
            self._notify()
            return
        self.reconnects += 1
        self._installed(connection, reconnect=True)

    def _may_reconnect(self) -> bool:
        """Whether a connection may still come: connecting, reconnecting, or a loss whose
        reconnect has not started yet."""
        if self.closing:
            return False
        if self._reconnecting or self._started:
            return True
        connection = self._connection
        return (
            connection is not None
            and not connection.alive
            and not self._gave_up
            and self.config.failover.policy.max_reconnect_attempts != 0
        )

    async def _current_connection(self, timeout: float | None = None) -> Connection:
        """The live connection, waiting (bounded) for a reconnect."""
        connection = self._connection
        if connection is not None and connection.alive:
            return connection
        wait = reconnect_wait(
            timeout, self.config.timeouts.send, self.config.failover.policy.timeout
        )
        deadline = time.monotonic() + wait
        while True:
            connection = self._connection
            if connection is not None and connection.alive:
                return connection
            if not self._may_reconnect():
                raise NotConnected(
                    "not connected"
                    + (
                        f" (last error: {connection.lost_error})"
                        if connection and connection.lost_error
                        else ""
                    )
                )
            remaining = deadline - time.monotonic()
            changed = self._changed
            if remaining <= 0 or changed is None:
                raise NotConnected(f"not connected; waited {wait:g}s for a reconnect")
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except asyncio.TimeoutError:
                continue

    async def wait_receipt(
        self, future: asyncio.Future[Frame], timeout: float | None, what: str
    ) -> Frame:
        """Wait (bounded; ``None``: ``timeouts.receipt``) for a receipt future. On timeout or
        cancellation the receipt is forgotten wherever it waits, so nothing leaks.

        Raises:
            ReceiptTimeout: no RECEIPT in time.
            BrokerError: the broker answered with an ERROR.
            ConnectionLost: the connection broke first (or, with failover, reconnecting
                gave up).
        """
        if timeout is None:
            timeout = self.config.timeouts.receipt
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            self._forget_receipt(future)
            raise ReceiptTimeout(f"no RECEIPT for {what} within {timeout:g}s") from None
        except asyncio.CancelledError:
            self._forget_receipt(future)
            raise

    def _forget_receipt(self, future: asyncio.Future[Frame]) -> None:
        for key, value in list(self._carried.items()):
            if value is future:
                del self._carried[key]
                self._carried_data.pop(key, None)
        connection = self._connection
        if connection is not None:
            connection.forget(future)

    # ------------------------------------------------------------ listeners

    def _start_events(self) -> None:
        if self._event_task is None or self._event_task.done():
            self._events = asyncio.Queue(_EVENT_QUEUE)
            self._event_task = asyncio.get_running_loop().create_task(
                self._run_events(self._events), name="stomp-events"
            )

    def _fire(self, event: str, *args: Any) -> None:
        """Queue a listener event for the event task (in order; never runs user code here)."""
        events = self._events
        if events is None or not self.listeners.has(event):
            return
        if events.full():  # bounded: the oldest waiting event is logged and dropped
            dropped = events.get_nowait()
            log.error(
                "listener event %r dropped: the event task is %d behind", dropped, events.qsize()
            )
        events.put_nowait((event, args))

    async def _run_events(self, events: asyncio.Queue[tuple[str, tuple[Any, ...]] | None]) -> None:
        while True:
            item = await events.get()
            if item is None:
                return
            event, args = item
            for callback in self.listeners.callbacks(event):
                try:
                    result = callback(*args)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("listener %r for %r failed", callback, event)

    async def _stop_events(self, timeout: float) -> None:
        """Let the event task run what is queued (bounded), then end it."""
        task, events = self._event_task, self._events
        self._event_task = self._events = None
        if task is None or events is None or task is asyncio.current_task():
            if events is not None and task is not None:
                events.put_nowait(None)
            return
        if events.full():
            events.get_nowait()
        events.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.TimeoutError:
            log.warning("listeners still running after %.1fs; cancelled", timeout)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _discarded(self, subscription_id: str, count: int, reason: str) -> None:
        """Auto-ack messages received and never delivered: a WARNING and the event."""
        self.discarded += count
        log.warning(
            "%d auto-ack message(s) of subscription %s discarded: %s",
            count,
            subscription_id,
            reason,
        )
        self._fire("discarded", subscription_id, count, reason)

    # ------------------------------------------------------------ disconnect

    def _disconnect_soon(self) -> None:
        """The ``"disconnect"`` error policy: disconnect in a task of its own (the handler's
        task is one of those ``disconnect()`` drains)."""
        if self._disconnecting is None and not self.closing:
            self._disconnecting = asyncio.get_running_loop().create_task(
                self.disconnect(), name="stomp-disconnect"
            )

    async def disconnect(self, timeout: float | None = None) -> None:
        """Graceful shutdown: stop delivering, wait (bounded by ``timeouts.drain``) for the
        handlers in flight and the messages already queued, cancel what still runs, send
        DISCONNECT and wait (bounded by ``timeout``, default ``timeouts.disconnect``) for its
        receipt, close the connection, end the client's tasks.

        Idempotent; safe when the connection is already dead; may be awaited from a handler
        or a listener (that task is then neither waited for nor cancelled).
        """
        timeouts = self.config.timeouts
        self.closing = True
        closed = self._closed_event
        if closed is not None:
            closed.set()
        self._notify()
        connection = self._connection
        current = asyncio.current_task()
        subs = list(self._subscriptions.values())
        drains = [s._drain() for s in subs if s._task is not None and s._task is not current]
        if drains:
            try:
                await asyncio.wait_for(asyncio.gather(*drains), timeouts.drain)
            except asyncio.TimeoutError:
                log.warning(
                    "handlers still running after %.1fs; disconnecting anyway", timeouts.drain
                )
        for sub in subs:
            sub._end()
        for sub in subs:
            undelivered = await sub._stop()
            if undelivered:
                self._discarded(sub.id, undelivered, "the client was closed first")
        if connection is not None and connection.alive:
            connection.closing = True
            try:
                await connection.call(
                    lambda rid: connection.session.disconnect(receipt=rid),
                    receipt=True,
                    timeout=timeouts.disconnect if timeout is None else timeout,
                    what="DISCONNECT",
                )
            except ReceiptTimeout:
                log.info("no DISCONNECT receipt from %s (RabbitMQ sends none)", connection.url)
            except (ConnectionLost, BrokerError, LocalProtocolError) as exc:
                log.info("DISCONNECT on %s: %s", connection.url, exc)
        ends = time.monotonic() + JOIN_ALLOWANCE

        def left() -> float:
            return max(0.0, ends - time.monotonic())

        if connection is not None:
            unsent = await connection.close(left())
            if unsent:
                self._report_undelivered(
                    unsent, ConnectionLost(f"connection to {connection.url} closed")
                )
        task = self._reconnect_task
        if task is not None and task is not current and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._subscriptions.clear()
        self._session.subscriptions.clear()
        if self._outbox or self._carried:
            self._report_undelivered([], NotConnected("the client was closed"))
        lost_already = connection is not None and connection.lost_error is not None
        self._connection = None
        self._started = self._reconnecting = False
        self._notify()
        if connection is not None and not lost_already:
            self._fire("disconnected", None)
        await self._stop_events(left())
        disconnecting = self._disconnecting
        self._disconnecting = None
        if disconnecting is not None and disconnecting is not current:
            await asyncio.gather(disconnecting, return_exceptions=True)
        if connection is not None:
            log.info("disconnected from %s", connection.url)

    close = disconnect

    async def __aenter__(self) -> Client:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    # ------------------------------------------------------------ sending

    async def send(
        self,
        destination: str,
        body: Body = b"",
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        *,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Send ``body`` to ``destination``.

        A ``str`` body is encoded with the charset of ``content_type`` (UTF-8 and
        ``text/plain;charset=utf-8`` when none is given). Without a receipt this returns
        once the frame is queued (it is written at the end of this loop iteration); the
        frame is then delivered, carried to the next connection (failover URI), or
        reported with the ``undelivered`` event — never dropped in silence.

        Cancelling a task awaiting ``send(receipt=True)`` forgets its receipt (the frame
        may still reach the broker).

        Args:
            receipt: wait for the broker's RECEIPT (bounded by ``timeout`` or
                ``timeouts.receipt``); across a failover it is written again and waited for
                on the next connection.
            timeout: the receipt wait; also how long to wait for a reconnect when
                disconnected (default: ``timeouts.send``, else the failover ``timeout``).

        Raises:
            ReceiptTimeout: no RECEIPT in time (the message may or may not have arrived).
            BrokerError: the broker answered this frame with an ERROR.
            ConnectionLost: the connection broke before the RECEIPT (plain URI), or
                reconnecting gave up; or the outbound queue stayed full for
                ``timeouts.write``.
            NotConnected: not connected and no reconnect came within the wait.
            EncodingError: a ``str`` body the charset cannot encode.
        """
        payload, content_type = encode_body(body, content_type)
        connection = self._connection
        if connection is None or not connection.alive:
            connection = await self._current_connection(timeout)
        await connection.wait_room(self.config.timeouts.write)
        if not connection.alive:
            connection = await self._current_connection(timeout)
        session = connection.session
        routed = connection.routed(destination, headers, subscribe=False)
        if not receipt:
            connection.write(session.send(destination, payload, routed, content_type))
            return
        future = connection.request(
            lambda rid: session.send(destination, payload, routed, content_type, receipt=rid),
            receipt=True,
        )
        assert future is not None
        await self.wait_receipt(future, timeout, "SEND")

    # ------------------------------------------------------------ subscribing

    async def subscribe(
        self,
        destination: str,
        handler: Handler | None = None,
        *,
        ack: str = "auto",
        headers: Mapping[str, str] | None = None,
        id: str | None = None,  # noqa: A002 - the STOMP header name
        on_error: ErrorPolicy = "disconnect",
        error_destination: str | None = None,
        max_concurrent_handlers: int = 1,
        receipt: bool = False,
        timeout: float | None = None,
    ) -> Subscription:
        """Subscribe to ``destination``.

        Args:
            handler: a coroutine function or a plain function, called with each
                :class:`~stomp_enterprise.aio.Message` in the subscription's own task (a
                plain one inline there: keep it short, it blocks the loop while it runs).
                Without one, the subscription is an async iterator with ``await get()``.
            ack: ``auto``, ``client`` or ``client-individual``.
            headers: extra SUBSCRIBE headers. With client acks and no prefetch header of its
                own, the broker's prefetch header is added, sized to the backlog bounds.
            id: subscription id (generated when omitted); kept across reconnects.
            on_error: when ``handler`` raises: ``"disconnect"`` (default), ``"nack"``,
                ``"ack"``, ``"ignore"`` or a callable ``(message, error)`` (may be a
                coroutine function).
            error_destination: forward a failed message there, then ack it.
            max_concurrent_handlers: handlers of this subscription running at once (1 keeps
                the order of messages).
            receipt: wait for the broker to confirm the subscription.
            timeout: the receipt wait, and how long to wait for a reconnect.
        """
        connection = await self._current_connection(timeout)
        headers = connection.routed(destination, headers, subscribe=True)
        if ack != "auto":
            config = self.config
            info = connection.info
            headers = with_prefetch(
                headers,
                info.server if info else None,
                max_messages=config.max_backlog_messages,
                max_bytes=config.max_backlog_bytes,
                queue_size=config.queue_size,
                pull=handler is None,
            )
        sub_id = id if id is not None else f"sub-{next(self._ids)}"
        if sub_id in self._subscriptions:
            raise ConfigError(f"subscription id {sub_id!r} is already in use")
        sub = Subscription(
            self,
            sub_id,
            destination,
            ack,
            tuple((headers or {}).items()),
            handler,
            on_error,
            error_destination,
            max_concurrent_handlers,
        )
        self._subscriptions[sub_id] = sub
        try:
            await connection.call(
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
            connection.session.subscriptions.pop(sub_id, None)
            raise
        sub._start()
        return sub

    async def _unsubscribe(
        self, sub: Subscription, *, receipt: bool, timeout: float | None
    ) -> None:
        if self._subscriptions.pop(sub.id, None) is not sub:
            return
        sub._end()
        connection = self._connection
        if connection is not None and connection.alive:

            def build(rid: str | None) -> bytes:
                data = connection.session.unsubscribe(sub.id, receipt=rid)
                connection.retire(sub)
                return data

            try:
                await connection.call(
                    build, receipt=receipt, timeout=timeout, what=f"UNSUBSCRIBE {sub.id}"
                )
                return
            except (ConnectionLost, LocalProtocolError):
                pass  # gone with the connection: nothing left to unsubscribe at the broker
        self._session.subscriptions.pop(sub.id, None)

    async def unsubscribe(self, subscription: Subscription | str, *, receipt: bool = False) -> None:
        """Unsubscribe a :class:`Subscription` or a subscription id."""
        sub = (
            self._subscriptions.get(subscription) if isinstance(subscription, str) else subscription
        )
        if sub is not None:
            await sub.unsubscribe(receipt=receipt)

    # ------------------------------------------------------------ transactions

    def transaction(self, *, receipt: bool = True, timeout: float | None = None) -> Transaction:
        """A transaction for ``async with client.transaction() as tx:`` (BEGIN on enter,
        COMMIT when the block ends normally, ABORT when it raises)."""
        return Transaction(self, receipt=receipt, timeout=timeout)

    def __repr__(self) -> str:
        return (
            f"<aio.Client {redact_uri_secrets(self.config.failover.to_uri())} "
            f"login={self.config.login!r} connected={self.is_connected}>"
        )
