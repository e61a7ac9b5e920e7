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
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tenacity import AsyncRetrying

from stomp_enterprise._shell import ConnectPlan, ShellBase
from stomp_enterprise.aio.connection import Connection
from stomp_enterprise.aio.message import Message
from stomp_enterprise.aio.requests import Requester
from stomp_enterprise.aio.subscription import Handler, Subscription
from stomp_enterprise.aio.transaction import Transaction
from stomp_enterprise.aio.transport import open_stream
from stomp_enterprise.core.backlog import BacklogInfo
from stomp_enterprise.core.codecs import Codec
from stomp_enterprise.core.lifecycle import AfterLoss, undelivered_count
from stomp_enterprise.core.listeners import ListenerRegistry
from stomp_enterprise.core.message import Body, encode_body
from stomp_enterprise.core.receipts import Receipts
from stomp_enterprise.core.reconnect import priority_return_delays, reconnect_wait
from stomp_enterprise.core.requests import reply_for
from stomp_enterprise.core.subscribe_options import SubscribeOptions
from stomp_enterprise.core.subscription import ErrorPolicy
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

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from stomp_enterprise.core.options import SendOptionArgs

__all__ = ["JOIN_ALLOWANCE", "Client"]

log = logging.getLogger("stomp_enterprise.aio")

#: Seconds ``disconnect()`` allows, after the drain and the DISCONNECT receipt waits, for the
#: client's own tasks to end (as the threaded client's join allowance).
JOIN_ALLOWANCE = 1.0
_EVENT_QUEUE = 10_000  # listener calls waiting for the event task before the oldest wait
_EVENT_END_MIN = 0.1  # seconds the event task always gets to run what is queued at the end


class Client(ShellBase):
    """An asyncio STOMP client.

    The constructor takes the threaded client's arguments (``url``, ``login``, ``passcode``,
    ``vhost``, ``versions``, ``heart_beats``, ``ssl``, ``timeouts``, ``**options``: see
    :class:`stomp_enterprise.Client`), validated by the same
    :class:`~stomp_enterprise.config.ClientConfig`; ``dispatch_workers`` and
    ``read_coalescing`` belong to the threaded client and have no effect here. Per
    subscription, ``max_concurrent_handlers`` bounds the handlers in flight.

    Every method is called on the event loop's thread (from any task, including handlers
    and listeners); the client is bound to the loop it connected on.
    """

    _message_class = Message

    def _setup(self) -> None:
        self._requester: Requester | None = None  # made by the first request()
        self.listeners = ListenerRegistry()
        self._carried: Receipts[asyncio.Future[Frame]] = Receipts()
        self._connection: Connection | None = None
        self._subscriptions: dict[str, Subscription] = {}
        self.closing = False
        self._changed: asyncio.Event | None = None
        self._closed_event: asyncio.Event | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._priority_task: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[tuple[str, tuple[Any, ...]] | None] | None = None
        self._event_task: asyncio.Task[None] | None = None
        self._disconnecting: asyncio.Task[None] | None = None
        self._disconnect_lock = asyncio.Lock()

    # ------------------------------------------------------------ properties

    @property
    def pending_receipts(self) -> int:
        """How many RECEIPTs the current connection still waits for (a leak check)."""
        connection = self._connection
        return 0 if connection is None else len(connection.receipts)

    @property
    def pending_bytes(self) -> int:
        """Bytes of frames accepted (``send()`` returned) and not yet handed to the
        transport: the current connection's queue plus the frames waiting for the next
        connection after a loss."""
        connection = self._connection
        queued = connection.queued_bytes if connection is not None else 0
        return queued + self._outbox.size

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
        return self._life.disconnected_seconds(time.monotonic())

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
        self._life.starting()
        self.closing = False
        self._closed_event = asyncio.Event()
        self._changed = asyncio.Event()
        self._start_events()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            connection = await self._connect_loop(startup=True, deadline=deadline)
        except BaseException:
            self._life.started = False
            await self._stop_events(JOIN_ALLOWANCE)
            raise
        self._installed(connection, reconnect=False)
        return self

    async def _connect_loop(self, *, startup: bool, deadline: float | None) -> Connection:
        """Run the schedule's passes (tenacity's ``AsyncRetrying`` fed by the pure schedule,
        with a back-off sleep that ``disconnect()`` interrupts) until a connection is made."""
        plan = ConnectPlan(
            self._schedule, startup=startup, closing=lambda: self.closing, deadline=deadline
        )
        closed = self._closed_event
        assert closed is not None

        async def sleep(seconds: float) -> None:
            seconds = plan.sleep_time(seconds)
            if seconds > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(closed.wait(), seconds)

        async def one_try() -> Connection:
            broker = plan.next_broker()
            try:
                return await self._open(broker, plan)
            except plan.errors as exc:
                plan.failed(broker, exc)
                raise

        retrying = AsyncRetrying(**plan.options(sleep))
        await sleep(plan.first_delay())
        try:
            return await retrying(one_try)
        except plan.errors as exc:
            raise plan.final_error() from exc

    async def _open(self, broker: BrokerAddress, plan: ConnectPlan | None) -> Connection:
        timeouts = self.config.timeouts
        bounded = plan.bounded if plan is not None else float
        log.info("connecting to %s", broker.url)
        stream = await open_stream(
            broker,
            timeout=bounded(timeouts.connect),
            write_timeout=timeouts.write,
            **self._transport_options(broker),
        )
        session = self._new_session(stream.stomp_versions(self.config.versions))
        connection = Connection(self, stream, session, self._new_tracker())
        try:
            await connection.handshake(**self._handshake_options(bounded(timeouts.connected)))
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
            connection.adopt(self._carried.take())
            connection.preload(frames + carried)
        self._connection = connection
        self._session = connection.session
        self._life.installed(time.monotonic())
        connection.start()
        observer = self._observer
        if observer is not None:
            self._observe_connection(observer, connection, connection.stream.address)
            if reconnect:
                observer.count("reconnects", 1)
        self._notify()
        if self._schedule.should_return_to_priority(connection.stream.address):
            self._start_priority_return(connection)
        self._fire("connected", self._announce(connection.url, info, reconnect=reconnect))

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
        receipts: Receipts[asyncio.Future[Frame]],
        error: ConnectionLost,
    ) -> list[asyncio.Future[Frame]]:
        """``connection`` was lost: keep what must be written again on the next connection,
        or report it when none will come. Returns the receipt futures to fail."""
        carried, frames, rest = receipts.plan_loss(asyncio.Future.done, cached, unsent)
        if self._life.carries(self._connection is connection, self.closing):
            self._outbox.carry(frames)
            self._carried.update(carried)
            return rest
        self._report_undelivered(frames, error, receipted=receipts)
        return receipts.waiters()

    def _report_undelivered(
        self,
        frames: list[bytes],
        error: BaseException,
        *,
        receipted: Receipts[asyncio.Future[Frame]] | None = None,
    ) -> None:
        """Give up ``frames`` and whatever waits for the next connection: receipted sends
        fail with ConnectionLost; the other frames are counted, logged and reported."""
        dropped = self._outbox.drop(frames)
        waiting = self._carried.take()
        told = waiting.frame_ids() | (receipted.frame_ids() if receipted is not None else set())
        for future in waiting.waiters():
            if not future.done():
                future.set_exception(ConnectionLost(f"send not delivered: {error}"))
        count = undelivered_count(dropped, told)
        if not count:
            return
        self._outbox.report(count)
        log.warning("%d send(s) not delivered: %s", count, error)
        self._fire("undelivered", count, error)

    def _connection_lost(self, connection: Connection, error: ConnectionLost) -> None:
        """Called once per lost connection, on the loop."""
        if self._requester is not None:
            self._requester.lost(connection, error)
        if isinstance(error, HeartbeatTimeout):
            self._fire("heartbeat_timeout", error)
        self._fire("disconnected", error)
        if self._connection is not connection:
            return
        after = self._life.lost(connection.stream.address, time.monotonic(), closing=self.closing)
        if after is AfterLoss.STAY_DOWN:
            self._notify()
            return
        if after is AfterLoss.RECONNECT_YOUNG:
            log.warning(
                "connection to %s died young (within %.3gs of CONNECTED): the reconnect "
                "back-off continues",
                connection.url,
                self._schedule.healthy_after(),
            )
        self._reconnect_task = asyncio.get_running_loop().create_task(
            self._reconnect(), name="stomp-reconnect"
        )
        self._notify()

    async def _reconnect(self) -> None:
        try:
            connection = await self._connect_loop(startup=False, deadline=None)
        except Exception as exc:
            self._life.reconnect_ended(gave_up=True)
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
            self._life.reconnect_ended(gave_up=False)
            self._notify()
            return
        self._life.reconnects += 1
        self._installed(connection, reconnect=True)

    def _start_priority_return(self, current: Connection) -> None:
        task = self._priority_task
        if task is None or task.done():
            self._priority_task = asyncio.get_running_loop().create_task(
                self._return_to_priority(current), name="stomp-priority-return"
            )

    async def _return_to_priority(self, current: Connection) -> None:
        """priorityBackup: while connected to a backup broker, keep trying the priority ones
        (with the policy's back-off) and move over as soon as one answers."""
        priority = [b for b in self.config.failover.brokers if self._schedule.is_priority(b)]
        closed = self._closed_event
        assert closed is not None
        for delay in priority_return_delays(self.config.failover.policy):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(closed.wait(), delay)
            if self.closing or self._connection is not current or not current.alive:
                return
            for broker in priority:
                try:
                    connection = await self._open(broker, None)
                except (StompConnectionError, StompTimeout, BrokerError) as exc:
                    log.debug("priority broker %s still unavailable: %s", broker.url, exc)
                    continue
                if self.closing or self._connection is not current or not current.alive:
                    await connection.close(JOIN_ALLOWANCE)
                    return
                log.warning("returning to priority broker %s from %s", broker.url, current.url)
                current.closing = True
                current.alive = False  # senders now wait for the new connection
                if self._requester is not None:  # its requests' reply destination goes too
                    self._requester.lost(
                        current, ConnectionLost(f"left {current.url} for a priority broker")
                    )
                self._life.reconnects += 1
                self._installed(connection, reconnect=True)
                await current.close(JOIN_ALLOWANCE)
                return

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
            lost = connection is not None and not connection.alive
            if not self._life.may_reconnect(lost, closing=self.closing):
                raise self._not_connected()
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
        Await it from a task on the client's event loop.

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
            connection = self._connection
            state = "not connected" if connection is None else connection.outbound_state()
            raise ReceiptTimeout(f"no RECEIPT for {what} within {timeout:g}s ({state})") from None
        except asyncio.CancelledError:
            self._forget_receipt(future)
            raise

    def _forget_receipt(self, future: asyncio.Future[Frame]) -> None:
        self._carried.forget(future)
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
        """The event task: runs the listeners, in order. Cancelled while the client is open,
        the program is ending without ``disconnect()`` (``asyncio.run()`` cancels every task
        when its coroutine returns or raises): it disconnects first, so what was accepted
        is written (queued sends, the transport's buffer), then lets the cancellation go
        on. Only :meth:`_stop_events` ends this task otherwise, while closing."""
        try:
            await self._pump_events(events)
        except asyncio.CancelledError:
            if not self.closing and self._connection is not None:
                log.info("the event loop is ending without disconnect(): disconnecting now")
                await self.disconnect()
            raise

    async def _pump_events(self, events: asyncio.Queue[tuple[str, tuple[Any, ...]] | None]) -> None:
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
        if events is not None:
            if events.full():
                events.get_nowait()
            events.put_nowait(None)  # the task ends after what it runs now
        if task is None or events is None or task is asyncio.current_task():
            return
        # an idle event task ends within an iteration or two: give it that much at least
        timeout = max(timeout, _EVENT_END_MIN)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.TimeoutError:
            log.warning("listeners still running after %.1fs; cancelled", timeout)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _discarded(self, subscription_id: str, count: int, reason: str) -> None:
        """Auto-ack messages received and never delivered: a WARNING and the event."""
        self._life.discarded += count
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

        Idempotent (concurrent calls run one after the other); safe when the connection is
        already dead; may be awaited from a handler or a listener (that task is then neither
        waited for nor cancelled).
        """
        async with self._disconnect_lock:
            await self._disconnect(timeout)

    async def _disconnect(self, timeout: float | None) -> None:
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
                    unsent,
                    ConnectionLost(f"connection to {connection.url} closed"),
                    receipted=connection.ended,
                )
        for task in (self._reconnect_task, self._priority_task):
            if task is not None and task is not current and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._subscriptions.clear()
        self._session.subscriptions.clear()
        if self._requester is not None:
            self._requester.close()
        if self._outbox or self._carried:
            self._report_undelivered([], NotConnected("the client was closed"))
        lost_already = connection is not None and connection.lost_error is not None
        self._connection = None
        self._life.closed()
        self._notify()
        if connection is not None and not lost_already:
            self._fire("disconnected", None)
        await self._stop_events(left())
        disconnecting = self._disconnecting
        self._disconnecting = None
        if disconnecting is not None and disconnecting is not current:
            disconnecting.cancel()  # waiting for the lock we hold: this call did its work
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
        **options: Unpack[SendOptionArgs],
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
            ConfigError: an invalid option (named), or ``expires`` with ``ttl``.
            TypeError: an unknown keyword argument.
            PayloadError: the codec cannot encode ``body``.

        ``options`` are the typed message options of the threaded
        :meth:`stomp_enterprise.Client.send` (``persistent``, ``priority``, ``expires`` /
        ``ttl``, ``correlation_id``, ``reply_to``, ``message_type``) and ``codec``; any object
        that is not bytes or ``str`` is a typed payload (see docs/patterns.md).
        """
        connection = self._connection
        if connection is None or not connection.alive:
            connection = await self._current_connection(timeout)
        if options:
            payload, headers, content_type = self._send_parts(
                body, headers, content_type, options, connection.info
            )
        else:
            payload, content_type = encode_body(body, content_type)
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

    _send_unobserved = send

    async def _send_observed(
        self,
        destination: str,
        body: Any = b"",
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        **options: Any,
    ) -> None:
        """:meth:`send` once :meth:`observe` was called (it replaces ``send`` on this
        instance): counted, and with OpenTelemetry traced and its context injected. Every
        other keyword of :meth:`send` is passed on unchanged."""
        observer = self._observer
        assert observer is not None
        payload, content_type, size, options = observed_body(body, content_type, options)
        await observer.send_awaited(
            destination,
            headers,
            size,
            lambda traced: self._send_unobserved(
                destination, payload, traced, content_type, **options
            ),
        )

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
        durable: str | None = None,
        selector: str | None = None,
        prefetch: int | None = None,
        model: Any | None = None,
        codec: Codec | None = None,
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
            durable: as for the threaded :meth:`stomp_enterprise.Client.subscribe`
                (see docs/patterns.md), as are the four below.
            selector: a JMS/SQL-92 selector (ActiveMQ, Artemis, Apollo).
            prefetch: messages the broker may send ahead of acks.
            model: what ``message.model`` validates the body as.
            codec: decodes ``message.model`` (default: the codec of its content type).
        """
        connection = await self._current_connection(timeout)
        options = SubscribeOptions(durable, selector, prefetch)
        headers = self._subscribe_headers(
            connection, destination, headers, ack=ack, pull=handler is None, options=options
        )
        sub = Subscription(
            self,
            self._subscription_id(options.subscription_id(id)),
            destination,
            ack,
            tuple((headers or {}).items()),
            handler,
            on_error,
            error_destination,
            max_concurrent_handlers,
            model=model,
            codec=codec,
        )
        return await self._subscribe_as(sub, destination, headers, timeout, receipt=receipt)

    async def _subscribe_as(
        self,
        sub: Subscription,
        destination: str,
        headers: Mapping[str, str] | None,
        timeout: float | None,
        *,
        receipt: bool = False,
    ) -> Subscription:
        """SUBSCRIBE ``sub`` (built by the caller) to ``destination`` on the current
        connection, then start it; it is replayed after a reconnect."""
        connection = await self._current_connection(timeout)
        headers = connection.routed(destination, headers, subscribe=True)
        sub_id = self._subscription_id(sub.id)
        ack = sub.ack
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
        self,
        sub: Subscription,
        *,
        receipt: bool,
        timeout: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self._subscriptions.pop(sub.id, None) is not sub:
            return
        sub._end()
        connection = self._connection
        if connection is not None and connection.alive:

            def build(rid: str | None) -> bytes:
                data = connection.session.unsubscribe(sub.id, receipt=rid, headers=headers)
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

    async def unsubscribe_durable(
        self,
        destination: str,
        name: str,
        *,
        receipt: bool = True,
        timeout: float | None = None,
    ) -> None:
        """Delete durable subscription ``name`` of topic ``destination`` at the broker, with
        the messages it holds; as the threaded
        :meth:`stomp_enterprise.Client.unsubscribe_durable`.

        Await it from a task on the client's event loop.

        Raises:
            ConfigError: ``name`` is not a valid durable name.
            BrokerError: the broker refused.
            ReceiptTimeout: no confirmation in time.
        """
        connection = await self._current_connection(timeout)
        attached, headers = self._durable_removal(connection, name)
        sub = self._subscriptions.get(name)
        if attached:
            if sub is None:
                sub = await self.subscribe(
                    destination,
                    durable=name,
                    ack="client-individual",
                    receipt=True,
                    timeout=timeout,
                )
            await self._unsubscribe(sub, receipt=receipt, timeout=timeout, headers=headers)
            return
        if sub is not None:
            await sub.unsubscribe(receipt=True, timeout=timeout)
        await connection.call(
            lambda rid: connection.session.remove_subscription(
                name, headers, destination=destination, receipt=rid
            ),
            receipt=receipt,
            timeout=timeout,
            what=f"UNSUBSCRIBE durable {name}",
        )

    async def unsubscribe(self, subscription: Subscription | str, *, receipt: bool = False) -> None:
        """Unsubscribe a :class:`Subscription` or a subscription id.

        Await it from a task on the client's event loop.
        """
        sub = (
            self._subscriptions.get(subscription) if isinstance(subscription, str) else subscription
        )
        if sub is not None:
            await sub.unsubscribe(receipt=receipt)

    # ------------------------------------------------------------ transactions

    def transaction(self, *, receipt: bool = True, timeout: float | None = None) -> Transaction:
        """A transaction for ``async with client.transaction() as tx:`` (BEGIN on enter,
        COMMIT when the block ends normally, ABORT when it raises).

        Call it from a task on the client's event loop.
        """
        return Transaction(self, receipt=receipt, timeout=timeout)

    # ------------------------------------------------------------ request/reply

    async def request(
        self,
        destination: str,
        body: Body = b"",
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        **options: Unpack[SendOptionArgs],
    ) -> Message:
        """Send a request to ``destination`` and await its reply: the asyncio twin of
        :meth:`stomp_enterprise.Client.request` (same reply destination per broker, same
        correlation, same errors; see ``docs/request-reply.md``). Cancelling the awaiting
        task forgets the request (a reply that comes later is counted as late).

        Raises:
            RequestTimeout: no reply within ``timeout``.
            ConnectionLost: the connection was lost before the reply (not re-sent).
            ConfigError: a bad timeout, or ``correlation-id``/``reply-to`` in ``headers``,
                or the options ``correlation_id=``/``reply_to=`` (the request's own).

        On the event loop, from any task including handlers.
        """
        requester = self._requester
        if requester is None:
            requester = self._requester = Requester(self)
        return await requester.request(
            destination,
            body,
            timeout=timeout,
            headers=headers,
            content_type=content_type,
            **options,
        )

    async def serve(
        self,
        destination: str,
        handler: Callable[[Message], Any],
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
        """Answer requests sent to ``destination``: the asyncio twin of
        :meth:`stomp_enterprise.Client.serve`. ``handler`` may be a coroutine function;
        what it returns (``bytes``/``str``/``None``/a :class:`~stomp_enterprise.Reply`) is
        sent to the request's ``reply-to`` with its ``correlation-id``; an exception goes
        through the error policy. Arguments are those of :meth:`subscribe`.

        Await it from a task on the client's event loop.

        On the event loop.
        """
        if not callable(handler):
            raise ConfigError(f"handler must be callable, got {handler!r}")

        async def respond(message: Message) -> None:
            result = handler(message)
            if inspect.isawaitable(result):
                result = await result
            reply = reply_for(message.headers, result)
            if reply is None:
                log.warning("request %r has no reply-to header: no reply sent", message)
            else:
                if self._observer is not None:
                    self._observer.replying()
                await self.send(reply[0], reply[1], reply[2], reply[3])
            if ack != "auto":
                await message.ack()

        return await self.subscribe(
            destination,
            respond,
            ack=ack,
            headers=headers,
            id=id,
            on_error=on_error,
            error_destination=error_destination,
            max_concurrent_handlers=max_concurrent_handlers,
            receipt=receipt,
            timeout=timeout,
        )

    # ------------------------------------------------------------ observability

    def _observed(self) -> None:
        self.send = self._send_observed  # type: ignore[method-assign]

    def _address_of(self, connection: Connection) -> BrokerAddress:
        return connection.stream.address
