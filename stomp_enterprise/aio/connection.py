"""One established connection of the asyncio client: a :class:`~.transport.Stream`, its
session, its receipts, its consume backlog and its heart-beat task.

Reading happens in ``data_received`` (the event loop calls :meth:`Connection._data` with
every chunk): parse, record liveness, resolve receipts, and put messages into their
subscriptions' queues. No user code runs there: handlers run in each subscription's task,
listeners in the client's event task. When the consume backlog is full the stream stops
reading (:mod:`stomp_enterprise.core.backlog`), and reads again at its low-water mark.

Writing: frames are queued and handed to the stream once per event-loop iteration (a burst
of sends costs one ``transport.write``), and only while the stream is writable
(``pause_writing``): what was not handed over is still ours at a loss, so it can be carried
to the next connection (:mod:`stomp_enterprise.core.outbox`). Senders wait while more than
``MAX_QUEUED`` bytes are queued; with ``trackMessages``, while more is queued than the
tracking cache has room for, or while it is full (as the threaded transport's senders).

Everything here runs on the event loop's thread; there are no locks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from stomp_enterprise.aio.transport import Stream
from stomp_enterprise.core.backlog import Backlog, BacklogInfo
from stomp_enterprise.core.liveness import Liveness
from stomp_enterprise.core.outbox import (
    MARKER_PREFIX,
    SendTracker,
    carries_over,
    outbound_state,
)
from stomp_enterprise.core.receipts import Receipts
from stomp_enterprise.core.reconnect import connected_in, is_artemis, loss_error, routed
from stomp_enterprise.core.subscription import RetiredRoutes, ack_refusal
from stomp_enterprise.errors import (
    BrokerError,
    ConnectFailed,
    ConnectionLost,
    ConnectTimeout,
    HeartbeatTimeout,
    ProtocolError,
)
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.session import (
    Connected,
    ErrorReceived,
    Event,
    MessageReceived,
    MessageTooLarge,
    ReceiptReceived,
    Session,
)
from stomp_enterprise.transport.wsconfig import no_connected_hint

if TYPE_CHECKING:
    from stomp_enterprise.aio.client import Client
    from stomp_enterprise.aio.message import Message
    from stomp_enterprise.aio.subscription import Subscription

__all__ = ["MAX_QUEUED", "Connection"]

log = logging.getLogger("stomp_enterprise.aio")

MAX_QUEUED = 4 * 1024 * 1024  # queued outbound bytes before senders wait (backpressure)
#: what queued is handed to the stream in pieces of about this size (as the threaded writer's
#: ``WRITE_CHUNK``): a multi-megabyte join is freshly mapped memory, a page fault per 4 KiB
WRITE_CHUNK = 256 * 1024
_RETIRED_KEPT = 256  # unsubscribed subscriptions a connection still routes messages to

Build = Callable[[str | None], bytes]


def next_piece(frames: Sequence[bytes], limit: int) -> tuple[int, int]:
    """How many of ``frames``, from the first, make the next write, and their size in
    bytes: frames are taken until ``limit`` bytes are reached (at least one; a frame is
    never split)."""
    count = size = 0
    for frame in frames:
        count += 1
        size += len(frame)
        if size >= limit:
            break
    return count, size


class Connection:
    """One live connection of a :class:`~stomp_enterprise.aio.Client` (internal)."""

    def __init__(
        self,
        client: Client,
        stream: Stream,
        session: Session,
        tracker: SendTracker | None,
    ) -> None:
        self._client = client
        self.stream = stream
        self.session = session
        self.tracker = tracker
        self.alive = False
        self.closing = False
        self.info: Connected | None = None
        self.artemis = False
        self.lost_error: BaseException | None = None
        self.last_broker_error: BrokerError | None = None
        self._loop = asyncio.get_running_loop()
        self._handshake: asyncio.Future[Connected] | None = None
        self._not_stomp: ConnectFailed | None = None  # the peer's bytes were not STOMP
        self._early: list[Event] = []
        # receipt id -> the future its RECEIPT resolves; the bytes of receipted SENDs,
        # carried to the next connection with their future when this one is lost first
        self.receipts: Receipts[asyncio.Future[Frame]] = Receipts()
        #: the receipts failed by the close (their senders were told: not undelivered)
        self.ended: Receipts[asyncio.Future[Frame]] = Receipts()
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._flush_handle: asyncio.Handle | None = None
        self._room = asyncio.Event()
        self._room.set()
        # queued bytes above which senders wait: MAX_QUEUED, or with tracking the room left
        # in the cache (queued frames are on their way into it)
        self._limit = MAX_QUEUED if tracker is None else min(MAX_QUEUED, tracker.max_bytes)
        self._stalled = False  # the tracking cache is full: frames wait for a confirmation
        config = client.config
        self.backlog = Backlog(
            config.max_backlog_messages, config.max_backlog_bytes, config.backlog_low_water
        )
        self._liveness: Liveness | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.reads = 0
        self._retired = RetiredRoutes(_RETIRED_KEPT)
        stream.receive(self._data, self._closed, self._writable)

    @property
    def url(self) -> str:
        """The broker's URL."""
        return self.stream.address.url

    @property
    def queued_bytes(self) -> int:
        """Bytes queued and not yet handed to the stream."""
        return self._out_bytes

    def outbound_state(self) -> str:
        """What this connection still holds outbound, in words (see
        :func:`~stomp_enterprise.core.outbox.outbound_state`)."""
        return outbound_state(self.url, self.alive, self._out_bytes, self.tracker, self._stalled)

    # ------------------------------------------------------------ handshake

    async def handshake(
        self,
        *,
        host: str | None,
        login: str | None,
        passcode: str | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Connected:
        """Write CONNECT and wait (bounded) for CONNECTED; raises as the threaded
        connection's ``handshake`` (BrokerError, ConnectTimeout, ConnectFailed)."""
        if self._not_stomp is not None:  # it spoke first
            raise self._not_stomp
        self._handshake = self._loop.create_future()
        self.stream.write(
            self.session.connect(host, login=login, passcode=passcode, headers=headers)
        )
        try:
            return await asyncio.wait_for(self._handshake, timeout)
        except asyncio.TimeoutError:
            websocket = self.stream.websocket
            hint = no_connected_hint(None if websocket is None else websocket.text)
            raise ConnectTimeout(
                f"no CONNECTED from {self.url} within {timeout:g}s{hint}"
            ) from None

    def _handshake_events(self, events: list[Event]) -> None:
        waiter = self._handshake
        assert waiter is not None
        if waiter.done():  # timed out or cancelled meanwhile
            return
        try:
            connected, early = connected_in(events)
        except BrokerError as exc:
            waiter.set_exception(exc)
            return
        if connected is not None:
            self.info = connected
            self.artemis = is_artemis(connected.server)
            if self.stream.websocket is not None:  # automatic packing follows the broker
                self.stream.websocket.adopt_server(connected.server)
            self._early = early
            self.alive = True
            waiter.set_result(connected)

    def start(self) -> None:
        """After the handshake, once current: route what came with CONNECTED, start the
        heart-beat task."""
        info = self.info
        assert info is not None
        liveness = Liveness(
            info.send_interval / 1000.0,
            info.receive_interval / 1000.0,
            self._client.config.heartbeat_tolerance,
            self.stream.last_read,
            info.server,
        )
        self._liveness = liveness
        if self._early:
            early, self._early = self._early, []
            self._handle(early)
        if liveness.active:
            self._heartbeat_task = self._loop.create_task(
                self._heartbeats(liveness), name=f"stomp-heartbeat-{self.url}"
            )

    # ------------------------------------------------------------ broker quirks

    def routed(
        self, destination: str, headers: Mapping[str, str] | None, *, subscribe: bool
    ) -> Mapping[str, str] | None:
        """See :func:`stomp_enterprise.core.reconnect.routed`."""
        return routed(self.artemis, destination, headers, subscribe=subscribe)

    # ------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        """Queue ``data``; it is handed to the stream at the end of this loop iteration.

        Raises:
            ConnectionLost: the connection is gone.
        """
        if not self.alive:
            raise self.gone()
        self._out.append(data)
        self._out_bytes += len(data)
        if self._out_bytes > self._limit:
            self._room.clear()
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def preload(self, frames: list[bytes]) -> None:
        """Before this connection is current: frames written ahead of every later one (the
        subscription replay, then the sends carried over from the lost connection)."""
        for frame in frames:
            self.write(frame)

    async def wait_room(self, timeout: float) -> None:
        """Wait (bounded) while more than ``MAX_QUEUED`` bytes are queued (with tracking:
        more than the cache has room for, or the cache is full).

        Raises:
            ConnectionLost: still full after ``timeout`` (a broker that stopped reading, or
                that confirmed nothing).
        """
        if self._room.is_set():
            return
        try:
            await asyncio.wait_for(self._room.wait(), timeout)
        except asyncio.TimeoutError:
            tracker = self.tracker
            if tracker is None:
                raise ConnectionLost(
                    f"{self.url}: the outbound queue stayed full for {timeout:g}s"
                ) from None
            raise ConnectionLost(
                f"{self.url}: no room in the tracking cache (maxCacheSize; {tracker.bytes} "
                f"bytes unconfirmed, {self._out_bytes} queued) and the broker confirmed "
                f"none of it within {timeout:g}s"
            ) from None

    def _update_room(self) -> None:
        """The tracking cache changed: recompute the senders' limit and wake them."""
        tracker = self.tracker
        if tracker is not None:
            self._limit = min(MAX_QUEUED, max(0, tracker.max_bytes - tracker.bytes))
        if self._out_bytes <= self._limit and not self._stalled:
            self._room.set()
        else:
            self._room.clear()

    def _flush(self) -> None:
        """Hand what is queued to the stream while it is writable, in pieces of about
        ``WRITE_CHUNK`` bytes (a burst of sends that never yields queues up to
        ``MAX_QUEUED``; joined whole, that is megabytes of freshly mapped memory)."""
        self._flush_handle = None
        stream = self.stream
        tracker = self.tracker
        out = self._out
        while out and self.alive and stream.writable.is_set():
            count, size = next_piece(out, WRITE_CHUNK)
            batch = out[:count]
            del out[:count]
            self._out_bytes -= size
            mark = None
            if tracker is not None:
                admitted = tracker.admit(batch, size)
                if admitted < count:  # the cache is full: the rest waits for a confirmation
                    self._stalled = True
                    held = batch[admitted:]
                    held_size = sum(map(len, held))
                    out[:0] = held
                    self._out_bytes += held_size
                    size -= held_size
                    batch = batch[:admitted]
                    if not batch:
                        break
                mark = tracker.prepare(batch, size, time.monotonic())
            try:
                stream.write_frames(batch)
            except ConnectionLost as exc:
                out[:0] = batch
                self._out_bytes += size
                self.lost(exc)
                return
            if tracker is not None:
                tracker.written(batch, mark)
                if len(batch) < count:
                    break  # the rest waits for a confirmation (see _receipt)
        self._update_room()

    def _writable(self) -> None:
        """The stream drained below its low-water mark: hand over what waited."""
        if self._flush_handle is None and self._out:
            self._flush_handle = self._loop.call_soon(self._flush)

    # ------------------------------------------------------------ requests and receipts

    def request(self, build: Build, *, receipt: bool) -> asyncio.Future[Frame] | None:
        """Build a frame and queue it; with ``receipt`` return the future its RECEIPT
        resolves (an ERROR or the loss fails it).

        Raises:
            ConnectionLost: the connection is gone.
            LocalProtocolError: ``build`` refused (nothing was queued).
        """
        if not self.alive:
            raise self.gone()
        if not receipt:
            self.write(build(None))
            return None
        receipt_id = self.session.new_id("rcpt")
        data = build(receipt_id)
        future: asyncio.Future[Frame] = self._loop.create_future()
        self.receipts.add(receipt_id, future, data)
        self.write(data)
        return future

    async def call(self, build: Build, *, receipt: bool, timeout: float | None, what: str) -> None:
        """:meth:`request`, then wait for the receipt when asked (bounded)."""
        future = self.request(build, receipt=receipt)
        if future is not None:
            await self._client.wait_receipt(future, timeout, what)

    def adopt(self, receipts: Receipts[asyncio.Future[Frame]]) -> None:
        """Before this connection is current: wait here for the RECEIPTs of frames carried
        over from a lost connection (same receipt ids)."""
        self.receipts.update(receipts)

    def forget(self, future: asyncio.Future[Frame]) -> None:
        """Stop waiting for ``future``'s RECEIPT here (timed out or cancelled)."""
        for key in self.receipts.forget(future):
            self.session.pending_receipts.pop(key, None)

    # ------------------------------------------------------------ acks

    async def ack(
        self,
        message: Message,
        *,
        nack: bool = False,
        receipt: bool = False,
        timeout: float | None = None,
        transaction: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """ACK (or NACK) ``message`` on this connection.

        Raises:
            AckError: the message came on another (or a lost) connection, or is auto-ack.
        """
        verb = "nack" if nack else "ack"
        refusal = ack_refusal(message, self, alive=self.alive, verb=verb)
        if refusal is not None:
            raise refusal
        frame = message.frame
        session = self.session
        if not (receipt or nack or transaction):  # the hot path: a plain ACK
            self.write(session.ack(frame))
            return

        def build(rid: str | None) -> bytes:
            if nack:
                return session.nack(frame, transaction=transaction, receipt=rid, headers=headers)
            return session.ack(frame, transaction=transaction, receipt=rid)

        await self.call(build, receipt=receipt, timeout=timeout, what=verb.upper())

    # ------------------------------------------------------------ reading (in data_received)

    def _data(self, data: bytes) -> None:
        """The stream's receiver: parse, turn into events, route. Never runs user code."""
        try:
            events = self.session.receive_data(data)
        except ProtocolError as exc:
            waiter = self._handshake
            if waiter is None or not waiter.done():  # before or during CONNECT
                self._not_stomp = ConnectFailed(f"{self.url} is not a STOMP broker ({exc})")
                if waiter is not None:
                    waiter.set_exception(self._not_stomp)
                self.stream.abort()
                return
            self.lost(exc)
            return
        self.reads += 1
        if not self.alive or self._liveness is None:
            if self._handshake is not None and not self._handshake.done():
                self._handshake_events(events)
            elif self.alive:
                self._early.extend(events)
            return
        self._handle(events)

    def _handle(self, events: list[Event]) -> None:
        client = self._client
        subscriptions = client._subscriptions
        for event in events:
            kind = type(event)
            if kind is MessageReceived or kind is MessageTooLarge:
                assert isinstance(event, MessageReceived | MessageTooLarge)
                sub = subscriptions.get(event.subscription or "")
                if sub is None:
                    sub = self._retired.route(
                        event.subscription, event.frame.get("message-id"), self.reads
                    )
                    if sub is None:
                        continue
                message = client._message_class(event.frame, sub, self)
                if kind is MessageTooLarge:
                    assert isinstance(event, MessageTooLarge)
                    self.handed(1, 0)
                    sub._put(message, event.size)
                    continue
                self.handed(1, len(event.frame.body))
                sub._put(message)
            elif kind is ReceiptReceived:
                assert isinstance(event, ReceiptReceived)
                self._receipt(event.receipt_id, event.frame)
            elif kind is ErrorReceived:
                assert isinstance(event, ErrorReceived)
                error = BrokerError(event.message, event.frame)
                self.last_broker_error = error
                log.error("ERROR from %s: %s", self.url, event.message)
                if event.receipt_id is not None:
                    future = self.receipts.pop(event.receipt_id)
                    if future is not None and not future.done():
                        future.set_exception(error)
                client._fire("error", error)
        if self._retired.dropped:
            for sub_id, count in self._retired.take_dropped().items():
                client._discarded(sub_id, count, "arrived after UNSUBSCRIBE was sent")

    def _receipt(self, receipt_id: str, frame: Frame) -> None:
        future = self.receipts.pop(receipt_id)
        if future is not None and not future.done():
            future.set_result(frame)
        tracker = self.tracker
        if tracker is not None and tracker.confirm(receipt_id):
            self._stalled = False
            if self._out:
                self._flush()  # the cache has room again
            else:
                self._update_room()
        if receipt_id.startswith(MARKER_PREFIX):
            return  # a marker receipt: internal, not the application's
        client = self._client
        if client.listeners.has("receipt"):
            client._fire("receipt", receipt_id)

    def retire(self, sub: Subscription) -> None:
        """As its UNSUBSCRIBE is queued: messages already read for ``sub`` were delivered
        to its queue; later ones are reported (auto ack) or left to the broker."""
        self._retired.retire(sub, self.reads)

    # ------------------------------------------------------------ the consume backlog

    def handed(self, count: int, size: int) -> None:
        """Messages went to the application: stop reading when the backlog is full."""
        if self.backlog.add(count, size) and not self.stream.reading_paused:
            self.stream.pause_reading()
            if self._liveness is not None:
                self._liveness.pause()
            log.debug(
                "reading from %s paused: %d messages / %d bytes not yet finished",
                self.url,
                self.backlog.messages,
                self.backlog.bytes,
            )

    def finished(self, count: int, size: int) -> None:
        """The application is done with messages of this connection."""
        if self.backlog.done(count, size) and self.stream.reading_paused:
            self.stream.resume_reading()
            if self._liveness is not None:
                self._liveness.resume(time.monotonic())
            log.debug("reading from %s resumed", self.url)

    def backlog_info(self) -> BacklogInfo:
        """A snapshot of this connection's backlog."""
        return self.backlog.info()

    # ------------------------------------------------------------ heart-beats

    async def _heartbeats(self, liveness: Liveness) -> None:
        tick = liveness.tick
        stream = self.stream
        while self.alive:
            await asyncio.sleep(tick)
            if not self.alive:
                return
            now = time.monotonic()
            if liveness.heartbeat_due(now, stream.last_write) and stream.writable.is_set():
                try:
                    stream.write(b"\n")
                except ConnectionLost as exc:
                    self.lost(exc)
                    return
            silent = liveness.silence(now, stream.last_read)
            if silent is not None:
                self.lost(
                    HeartbeatTimeout(
                        f"nothing from {self.url} for {silent:.2f}s "
                        f"(heart-beat every {liveness.expect_within:g}s expected)"
                    )
                )
                self.stream.abort()
                return

    # ------------------------------------------------------------ loss and close

    def gone(self) -> ConnectionLost:
        """The error for a call on a lost connection."""
        return ConnectionLost(
            f"connection to {self.url} is lost"
            + (f": {self.lost_error}" if self.lost_error else "")
        )

    def _closed(self, error: BaseException) -> None:
        """The stream ended."""
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(
                self._not_stomp or ConnectFailed(f"{self.url} closed the connection during CONNECT")
            )
        if self.closing:
            self._end(ConnectionLost(f"{self.url} closed the connection while disconnecting"))
            return
        self.lost(error)

    def lost(self, exc: BaseException) -> None:
        """The connection broke: fail what waits on it, tell the client (once)."""
        if not self.alive:
            return
        self.alive = False
        self.session.reset()
        error = loss_error(self.url, exc, self.last_broker_error)
        self.lost_error = error
        log.warning("connection to %s lost: %s", self.url, error)
        self._stop_heartbeats()
        self.stream.abort()
        # the SENDs the transport still buffered (with tracking: in the cache already)
        unwritten = self.stream.take_unwritten() if self.tracker is None else []
        unsent, self._out = [*unwritten, *self._out], []
        self._out_bytes = 0
        self._room.set()
        cached = self.tracker.take() if self.tracker is not None else []
        pending = self._client._carry_over(self, cached, unsent, self.receipts.take(), error)
        for future in pending:
            if not future.done():
                future.set_exception(error)
        self._client._connection_lost(self, error)

    def _end(self, error: ConnectionLost) -> None:
        """Closing: fail every pending receipt with ``error`` at once (nothing more comes);
        they are kept in :attr:`ended` (their senders were told)."""
        self.alive = False
        self.session.reset()
        self._stop_heartbeats()
        receipts = self.receipts.take()
        self.ended.update(receipts)
        self._room.set()
        for future in receipts.waiters():
            if not future.done():
                future.set_exception(error)

    def _stop_heartbeats(self) -> None:
        task = self._heartbeat_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def close(self, timeout: float) -> list[bytes]:
        """Write what is queued, close the stream and wait (bounded) until it is gone.
        Returns the SENDs that could not be written, those the event loop's transport
        still buffered when it was aborted included (the caller reports them, but for
        the receipted ones in :attr:`ended`)."""
        self.closing = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush()
        unsent, self._out = self._out, []
        self._end(ConnectionLost(f"connection to {self.url} closed"))
        self.stream.close()
        await self.stream.wait_closed(timeout)
        task = self._heartbeat_task
        if task is not None and task is not asyncio.current_task():
            await asyncio.gather(task, return_exceptions=True)
        unsent[:0] = self.stream.take_unwritten()
        return [frame for frame in unsent if carries_over(frame)]

    def __repr__(self) -> str:
        return f"<aio.Connection {self.url} alive={self.alive}>"
