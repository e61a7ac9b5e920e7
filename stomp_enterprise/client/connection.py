"""One established connection: a transport, the client's session, and its reader thread.

Threads: a reader and a writer per connection. Locks, never held while calling user code:

1. ``lock`` (the client's session lock): guards the session, pending receipts and ``alive``.
   A frame is built AND queued on the transport under it, so frames reach the socket whole
   and in the order the session saw them. Queueing never blocks: backpressure
   (``wait_writable``) is applied before the lock is taken.
2. the transport's queue lock, taken inside ``lock`` or alone, for in-memory work only.

The writer thread sends everything queued since its last write in one ``sendall``: a burst
of sends from any number of threads, or of acks from a handler, costs one system call, and
a blocked socket never holds a lock anyone else needs.

The reader thread reads, parses, records liveness on every byte, queues heart-beats when
idle, detects a silent broker, resolves receipt futures, and hands messages and listener
calls to the dispatcher. It never runs user code. After it read the RECEIPT a thread was
waiting for, it stands aside for a moment: that thread's next RECEIPT is read by the thread
itself, one wake-up instead of two (leader/followers, see :meth:`Connection._await`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from stomp_enterprise.core.backlog import Backlog, BacklogInfo
from stomp_enterprise.core.coalescing import ReadCoalescing
from stomp_enterprise.core.liveness import Liveness
from stomp_enterprise.core.outbox import MARKER_PREFIX, carries_over, outbound_state
from stomp_enterprise.core.receipts import Receipts
from stomp_enterprise.core.reconnect import connected_in, is_artemis, loss_error, routed
from stomp_enterprise.core.subscription import RetiredRoutes, ack_refusal
from stomp_enterprise.errors import (
    AckError,
    BrokerError,
    ConnectFailed,
    ConnectionLost,
    ConnectTimeout,
    HeartbeatTimeout,
    LocalProtocolError,
    ProtocolError,
    ReceiptTimeout,
    StompError,
)
from stomp_enterprise.protocol.frames import Frame, redacted_headers
from stomp_enterprise.protocol.parser import FrameParser
from stomp_enterprise.protocol.session import (
    Connected,
    ErrorReceived,
    Event,
    HeartbeatReceived,
    MessageReceived,
    MessageTooLarge,
    ReceiptReceived,
    Session,
    State,
)
from stomp_enterprise.transport.socket import RECV_SIZE, GateClosed, SocketTransport
from stomp_enterprise.transport.wsconfig import no_connected_hint

if TYPE_CHECKING:
    from stomp_enterprise.client.client import Client
    from stomp_enterprise.client.message import Message
    from stomp_enterprise.client.subscription import Subscription

__all__ = ["Connection"]

log = logging.getLogger(__name__)
frame_log = logging.getLogger("stomp_enterprise.frames")

_MAX_TICK = 1.0
_RETIRED_KEPT = 256  # unsubscribed subscriptions a connection still routes messages to
_pause = time.sleep  # the read-coalescing pause (a name tests can watch)
_BODY_SHOWN = 64
#: How long the reader stays aside for threads that read their own RECEIPTs (see
#: Connection._await) before it looks again: ``_ASIDE`` at first, doubled each time threads
#: led meanwhile, up to ``_ASIDE_MAX``. Frames that arrive while none of them reads are read
#: this late at most.
_ASIDE = 0.002
_ASIDE_MAX = 0.016


def describe(data: bytes | Frame) -> str:
    """A frame for DEBUG logs: passcode redacted, body truncated."""
    if isinstance(data, bytes):
        head, _, body = data.partition(b"\n\n")
        lines = head.decode("utf-8", "replace").split("\n")
        pairs = [tuple(line.split(":", 1)) for line in lines[1:] if ":" in line]
        shown = redacted_headers([(p[0], p[1]) for p in pairs])
        return f"{lines[0]} {shown} body={body[:_BODY_SHOWN]!r}"
    return repr(data)


def _ack_in(session: Session, frame: Frame, transaction: str) -> bytes:
    """The builder :meth:`Connection.post` calls for an ACK inside ``transaction``."""
    return session.ack(frame, transaction=transaction)


def send_in(
    session: Session,
    destination: str,
    body: bytes,
    headers: Mapping[str, str] | None,
    content_type: str | None,
    transaction: str,
) -> bytes:
    """The builder :meth:`Connection.post` calls for a SEND inside ``transaction``."""
    return session.send(destination, body, headers, content_type, transaction=transaction)


class ReceiptFuture(Future[Frame]):
    """The future of a receipted frame (resolved by its RECEIPT, failed by an ERROR naming
    it or by the loss of the connection); kept in a
    :class:`~stomp_enterprise.core.receipts.Receipts` with the frame's bytes when it is a
    SEND a failover client writes again on the next connection. Handed to the application
    (:meth:`Client.send_async`); a thread that waits at once gets a :class:`ReceiptWaiter`."""


class ReceiptWaiter:
    """The waiter of a receipted frame whose sending thread waits for it at once (a
    receipted ``send``, COMMIT/ABORT, ACK, SUBSCRIBE, DISCONNECT...); never handed to the
    application. Settled as a :class:`ReceiptFuture` is (``set_result``,
    ``set_exception``; the first outcome wins, a later one is ignored) and waited for with
    :meth:`result`.

    One lock, taken when the waiter is made, is all the waiting: the waiting thread blocks
    acquiring it, the settling thread releases it. A ``Future`` costs more on both threads
    for the same wait: its ``result()`` builds a ``Condition`` waiter (a new lock, acquired
    twice) under the future's own condition, and settling it takes that condition and
    notifies through the Python-level ``Condition`` code.
    """

    __slots__ = ("_claim", "_error", "_frame", "_gate")

    def __init__(self) -> None:
        self._gate = threading.Lock()
        self._gate.acquire()
        self._claim = [True]  # popped by the one settling call: list.pop is atomic
        self._frame: Frame | None = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        """Whether the outcome is in (or being set)."""
        return not self._claim

    def set_result(self, frame: Frame) -> None:
        """The RECEIPT arrived (the thread reading)."""
        self._settle(frame, None)

    def set_exception(self, error: BaseException) -> None:
        """An ERROR named the receipt, or the connection is lost (any thread)."""
        self._settle(None, error)

    def _settle(self, frame: Frame | None, error: BaseException | None) -> None:
        try:
            self._claim.pop()
        except IndexError:
            return  # settled already
        self._frame = frame
        self._error = error
        self._gate.release()

    def result(self, timeout: float) -> Frame:
        """The RECEIPT frame, waiting up to ``timeout`` seconds for it.

        Raises:
            concurrent.futures.TimeoutError: nothing in time.
            BaseException: the error it was failed with.
        """
        gate = self._gate
        if not gate.acquire(True, min(max(timeout, 0.0), threading.TIMEOUT_MAX)):
            raise FutureTimeout
        gate.release()  # settled for good: a later result() returns at once
        if self._error is not None:
            raise self._error
        assert self._frame is not None
        return self._frame


#: What waits for a RECEIPT on a threaded connection.
Waiter = ReceiptFuture | ReceiptWaiter


def settled(waiter: Waiter) -> bool:
    """Whether ``waiter`` has its outcome (for :meth:`Receipts.plan_loss`)."""
    return waiter.done()


class Connection:
    """One live connection of a :class:`~stomp_enterprise.Client` (internal)."""

    def __init__(
        self,
        client: Client,
        transport: SocketTransport,
        session: Session,
        lock: threading.Lock,
        *,
        tolerance: float,
        coalesce: float = 0.0,
    ) -> None:
        self._client = client
        self.transport = transport
        self.session = session
        self.lock = lock
        self.alive = False
        self.closing = False
        self.info: Connected | None = None
        self.artemis = False  # the broker's CONNECTED says it is Artemis (see routed())
        self._tolerance = tolerance
        self._coalesce = coalesce
        self._receipts: Receipts[Waiter] = Receipts()
        self._ended: Receipts[Waiter] = Receipts()  # receipts failed by _end()
        self._early: list[Event] = []
        self._reader: threading.Thread | None = None
        self.lost_error: BaseException | None = None
        self.delivering: Message | None = None  # see Subscription._deliver_all
        self.last_broker_error: BrokerError | None = None
        config = client.config
        self.backlog = Backlog(
            config.max_backlog_messages, config.max_backlog_bytes, config.backlog_low_water
        )
        self._flow_lock = threading.Lock()  # guards backlog (taken without the condition)
        self._flow = threading.Condition(self._flow_lock)  # wakes the paused reader
        self.reads = 0  # reads turned into events (under ``lock``): see retire()
        # Reading: whoever holds ``_reading`` reads the socket, parses and routes the events
        # (the reader thread; while it stands ``_aside``, a thread waiting for its own
        # RECEIPT: see _await). ``_followers``: receipt waiters not reading themselves.
        self._reading = threading.Lock()
        self._aside = False
        self._led = 0  # reads led by waiting threads (the reader stays aside while it grows)
        self._aside_for = _ASIDE  # the reader's next wait while aside (see _stand_aside)
        self._handback = False  # the reader waits for the leading thread to hand back
        self._direct = False  # the read being routed settled a ReceiptWaiter
        self._followers: list[ReceiptWaiter] = []
        self._parser = session.parser
        self._retired = RetiredRoutes(_RETIRED_KEPT)  # reader: unsubscribed, still routed

    @property
    def url(self) -> str:
        """The broker's URL."""
        return self.transport.address.url

    # ------------------------------------------------------------ handshake

    def handshake(
        self,
        *,
        host: str | None,
        login: str | None,
        passcode: str | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Connected:
        """Send CONNECT and wait (bounded) for CONNECTED on the calling thread.

        Raises:
            BrokerError: the broker answered ERROR (bad credentials, unknown vhost...).
            ConnectTimeout: no CONNECTED within ``timeout``.
            ConnectFailed: the peer closed the connection or is not a STOMP broker.
        """
        with self.lock:
            data = self.session.connect(host, login=login, passcode=passcode, headers=headers)
        if frame_log.isEnabledFor(logging.DEBUG):
            frame_log.debug("-> %s %s", self.url, describe(data))
        self.transport.write(data)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                websocket = self.transport.websocket
                hint = no_connected_hint(None if websocket is None else websocket.text)
                raise ConnectTimeout(f"no CONNECTED from {self.url} within {timeout:g}s{hint}")
            try:
                chunk = self.transport.read(min(remaining, _MAX_TICK))
            except ConnectionLost as exc:  # e.g. a WebSocket close frame: code and reason
                raise ConnectFailed(f"{exc} (during CONNECT)") from exc
            if chunk is None:
                continue
            if not chunk:
                raise ConnectFailed(f"{self.url} closed the connection during CONNECT")
            try:
                with self.lock:
                    events = self.session.receive_data(chunk)
            except ProtocolError as exc:
                raise ConnectFailed(f"{self.url} is not a STOMP broker ({exc})") from exc
            connected, early = connected_in(events)
            if connected is not None:
                self.info = connected
                self.artemis = is_artemis(connected.server)
                if self.transport.websocket is not None:  # automatic packing follows the broker
                    self.transport.websocket.adopt_server(connected.server)
                self._early = early
                self.alive = True
                return connected

    def start_reader(self) -> None:
        """Start the writer and reader threads (after a successful handshake)."""
        address = self.transport.address
        self.transport.start_writer(f"stomp-writer-{address.host}:{address.port}", self._lost)
        self._reader = threading.Thread(
            target=self._run, name=f"stomp-reader-{address.host}:{address.port}", daemon=True
        )
        self._reader.start()

    # ------------------------------------------------------------ broker quirks

    def routed(
        self, destination: str, headers: Mapping[str, str] | None, *, subscribe: bool
    ) -> Mapping[str, str] | None:
        """Artemis without ``anycastPrefix``/``multicastPrefix`` on its acceptor auto-creates
        every address MULTICAST, so a ``/queue/`` SEND made before any consumer is dropped and
        two consumers of a queue each get every message. Name the routing type the
        destination prefix means (``destination-type``/``subscription-type``) unless the
        caller already did. Other brokers, and Artemis over 1.0 (no ``server`` header), are
        left alone."""
        return routed(self.artemis, destination, headers, subscribe=subscribe)

    # ------------------------------------------------------------ writing (any thread)

    def request(
        self,
        build: Callable[[str | None], bytes],
        *,
        receipt: bool,
        direct: bool = False,
        hold: bool = False,
        lazy: bool = False,
    ) -> Waiter | None:
        """Build a frame under the locks and write it; with ``receipt`` return a waiter that
        the RECEIPT resolves (or an ERROR / the connection's loss fails): a
        :class:`ReceiptWaiter` with ``direct``, else a :class:`ReceiptFuture`.

        ``build(receipt_id)`` runs with the session lock held and returns the bytes. With
        ``direct`` (the caller will wait for the receipt anyway) the calling thread writes the
        queue itself when no write is in progress, sparing a hand-off to the writer thread.
        ``hold``, ``lazy``: see :meth:`SocketTransport.enqueue` (a transaction's BEGIN).

        Raises:
            ConnectionLost: the connection is gone or the write failed.
            LocalProtocolError: ``build`` refused (nothing was written).
        """
        transport = self.transport
        transport.wait_writable()  # backpressure first, holding no lock
        future: Waiter | None = None
        failed: ConnectionLost | None = None
        write_now = False
        with self.lock:
            if not self.alive:
                raise self._gone()
            receipt_id = self.session.new_id("rcpt") if receipt else None
            data = build(receipt_id)
            if receipt_id is not None:
                future = ReceiptWaiter() if direct else ReceiptFuture()
                self._receipts.add(receipt_id, future, data)
            try:
                write_now = transport.enqueue(data, direct=direct, hold=hold, lazy=lazy)
            except ConnectionLost as exc:
                failed = exc
        try:
            self._queued(data, write_now, failed)
        except ConnectionLost:
            if future is None or future.done():
                raise
            # a failover client carries the frame and its future to the next connection
        return future

    def post(
        self,
        build: Callable[..., bytes],
        *args: object,
        hold: bool = False,
        gate: Callable[[], bool] | None = None,
        lazy: bool = False,
    ) -> None:
        """:meth:`request` for the hot path: a SEND or ACK without receipt (inside an open
        transaction with that transaction's ``gate``, see :meth:`transaction_gate`).
        Such a frame changes no session state, so it is built and queued without the session
        lock: under the transport's queue lock, where the order of frames is decided, the
        connection and the session state are checked (:meth:`_accepting`, or ``gate``). A
        frame built just before another thread's DISCONNECT, COMMIT/ABORT or a loss is
        therefore never queued behind it: it is built again under the session lock, which
        refuses it, or ConnectionLost is raised. ``hold``: see :meth:`SocketTransport.hold`;
        ``lazy`` (a SEND of a transaction): see :meth:`SocketTransport.enqueue`.

        Raises:
            ConnectionLost: the connection is gone or the write failed.
            LocalProtocolError: ``build`` refused (nothing was written).
        """
        try:
            data = build(*args)
        except LocalProtocolError:
            if self.alive:
                raise
            raise self._gone() from None
        transport = self.transport
        transport.wait_writable()  # backpressure first, holding no lock
        failed: ConnectionLost | None = None
        write_now = False
        try:
            write_now = transport.enqueue(data, hold=hold, gate=gate or self._accepting, lazy=lazy)
        except GateClosed:
            with self.lock:  # decide as request() would: refuse, or queue after all
                if not self.alive:
                    raise self._gone() from None
                data = build(*args)
                try:
                    write_now = transport.enqueue(data, hold=hold)
                except ConnectionLost as exc:
                    failed = exc
        except ConnectionLost as exc:
            failed = exc
        else:
            if not write_now and not frame_log.isEnabledFor(logging.DEBUG):
                return  # queued: the common case ends here
        self._queued(data, write_now, failed)

    def _accepting(self) -> bool:
        """The gate of :meth:`post`: this connection is alive and its session connected."""
        return self.alive and self.session.state is State.CONNECTED

    def transaction_gate(self, transaction: str) -> Callable[[], bool]:
        """The gate of :meth:`post` for frames of ``transaction`` (open on this connection):
        this connection is alive, its session connected and the transaction still open. A
        frame of a transaction is so never queued after its COMMIT/ABORT, nor once the
        connection is lost (it is never carried to another connection either: see
        :func:`~stomp_enterprise.core.carries_over`). Called from any thread."""
        session = self.session

        def gate() -> bool:
            return (
                self.alive
                and session.state is State.CONNECTED
                and transaction in session.transactions
            )

        return gate

    def _gone(self) -> ConnectionLost:
        return ConnectionLost(
            f"connection to {self.url} is lost"
            + (f": {self.lost_error}" if self.lost_error else "")
        )

    def _queued(self, data: bytes, write_now: bool, failed: ConnectionLost | None) -> None:
        """After queueing (outside the locks): report a failed queue, log, write it when
        :meth:`SocketTransport.enqueue` said this thread should."""
        if failed is not None:
            self._lost(failed)
            raise failed
        if frame_log.isEnabledFor(logging.DEBUG):
            frame_log.debug("-> %s %s", self.url, describe(data))
        if write_now:
            try:
                self.transport.write_queued()
            except ConnectionLost as exc:
                self._lost(exc)  # once (the writer may have reported it already)
                if not carries_over(data):
                    raise
                # queued, so accepted: carried over to the next connection, or reported
                # with the ``undelivered`` event

    def call(
        self,
        build: Callable[[str | None], bytes],
        *,
        receipt: bool,
        timeout: float | None,
        what: str,
    ) -> None:
        """:meth:`request`, then wait for the receipt when asked (bounded)."""
        future = self.request(build, receipt=receipt, direct=receipt)
        if future is not None:
            self.wait_receipt(future, timeout, what)

    def wait_receipt(self, future: Waiter, timeout: float | None, what: str) -> Frame:
        """Wait (bounded; ``None``: the receipt timeout) for a receipt future. On timeout
        the receipt is forgotten, so a RECEIPT that never comes leaks nothing.

        Raises:
            ReceiptTimeout: no RECEIPT in time.
            BrokerError: the broker answered with an ERROR.
            ConnectionLost: the connection broke first.
        """
        if timeout is None:
            timeout = self._client.config.timeouts.receipt
        try:
            if type(future) is ReceiptWaiter:
                return self._await(future, timeout)
            return future.result(timeout)
        except FutureTimeout:
            # a carried-over receipt may live on a later connection, or wait for one
            self._client._forget_receipt(future)
            self.forget_receipt(future)
            current = self._client._connection
            state = "not connected" if current is None else current.outbound_state()
            raise ReceiptTimeout(f"no RECEIPT for {what} within {timeout:g}s ({state})") from None

    def _await(self, waiter: ReceiptWaiter, timeout: float) -> Frame:
        """Wait for a receipt this thread asked for (bounded by ``timeout``).

        Leader/followers: when the reader thread stands aside (it read the last RECEIPT a
        waiting thread asked for, and no MESSAGE came with it, see :meth:`_run`), this
        thread reads the socket itself until its RECEIPT is in (:meth:`_lead`): one thread
        wakes when it arrives instead of two (the reader, then this one). Frames are still
        routed in order by one thread at a time, messages still go to the dispatcher: no
        user code runs here. Otherwise it waits, as a follower, for the reader.
        """
        if waiter.done():
            return waiter.result(0)
        deadline = time.monotonic() + timeout
        followers = self._followers
        followers.append(waiter)  # before looking at _aside: see _run
        try:
            if self._aside:
                self._lead(waiter, deadline)
            return waiter.result(deadline - time.monotonic())
        finally:
            followers.remove(waiter)

    def _lead(self, waiter: ReceiptWaiter, deadline: float) -> None:
        """Read and route frames on this thread until ``waiter`` is settled, the deadline
        passes, or the reader must take over (the connection is gone, the consume backlog
        is full). Does nothing when another thread reads."""
        reading = self._reading
        if not reading.acquire(False):
            return
        transport = self.transport
        backlog = self.backlog
        parser = self._parser
        debug = frame_log.isEnabledFor(logging.DEBUG)
        stream = False  # MESSAGEs came in: more follow, the reader takes them
        try:
            self._led += 1
            while (
                not stream
                and not waiter.done()
                and self._aside
                and self.alive
                and not backlog.paused
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                data = transport.read(min(remaining, _MAX_TICK))
                if data:
                    events = self._route_read(data, parser, debug)
                    if events is None:
                        break
                    stream = stream or any(type(event) is MessageReceived for event in events)
                elif data is not None:  # b"": EOF
                    self._at_eof()
                    break
        except Exception as exc:  # handled as the reader handles it
            self._read_failed(exc)
        finally:
            self._direct = False
            reading.release()
            if stream or not waiter.done() or any(not w.done() for w in self._followers):
                # messages are streaming in, others wait, or this one stopped early: the
                # reader reads
                self._take_over()
            elif self._handback:  # the reader waits for this (long) lead to end
                self._wake()

    def _take_over(self) -> None:
        """The reader thread reads again (wakes it when it stands aside)."""
        with self._flow:
            self._aside = False
            self._flow.notify_all()

    def outbound_state(self) -> str:
        """What this connection still holds outbound, in words (see
        :func:`~stomp_enterprise.core.outbox.outbound_state`). Any thread."""
        transport = self.transport
        return outbound_state(
            self.url, self.alive, transport.queued_bytes, transport.tracker, transport.stalled
        )

    def forget_receipt(self, future: Waiter) -> None:
        """Stop waiting for ``future``'s RECEIPT on this connection (it timed out)."""
        with self.lock:
            for key in self._receipts.forget(future):
                self.session.pending_receipts.pop(key, None)

    def adopt_receipts(self, receipts: Receipts[Waiter]) -> None:
        """Before this connection is installed: wait here for the RECEIPTs of frames carried
        over from a lost connection (same receipt ids)."""
        with self.lock:
            self._receipts.update(receipts)

    # ------------------------------------------------------------ acks

    def _check_ackable(self, message: Message, verb: str) -> None:
        refusal = ack_refusal(message, self, alive=self.alive, verb=verb)
        if refusal is not None:
            raise refusal

    def ack(
        self,
        message: Message,
        *,
        receipt: bool = False,
        timeout: float | None = None,
        transaction: str | None = None,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        """ACK ``message`` on this connection (``gate``: :meth:`transaction_gate` of
        ``transaction``, to queue it as :meth:`post` does)."""
        if not receipt and transaction is None:
            self.ack_now(message)
            return
        if message._connection is not self or not self.alive or message.subscription.ack == "auto":
            self._check_ackable(message, "ack")
        frame = message.frame
        session = self.session
        future: Waiter | None = None
        try:
            if receipt or (transaction is not None and gate is None):
                future = self.request(
                    lambda rid: session.ack(frame, transaction=transaction, receipt=rid),
                    receipt=receipt,
                    direct=receipt,
                )
            else:  # held as in ack_now(): COMMIT/ABORT write it at the latest
                self.post(
                    _ack_in, session, frame, transaction, hold=message is self.delivering, gate=gate
                )
        except ConnectionLost as exc:
            raise AckError(f"cannot ack {message!r}: {exc}") from exc
        if future is not None:
            self.wait_receipt(future, timeout, "ACK")

    def ack_now(self, message: Message) -> None:
        """:meth:`ack` without receipt or transaction: the path of every handler's
        ``message.ack()``, with no keyword arguments to sort out on the way. The ACK of the
        message a handler is running for waits for its return (see
        :meth:`SocketTransport.hold`). Any thread."""
        if message._connection is not self or not self.alive or message.subscription.ack == "auto":
            self._check_ackable(message, "ack")
        try:
            self.post(self.session.ack, message.frame, hold=message is self.delivering)
        except ConnectionLost as exc:
            raise AckError(f"cannot ack {message!r}: {exc}") from exc

    def nack(
        self,
        message: Message,
        *,
        receipt: bool = False,
        timeout: float | None = None,
        transaction: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """NACK ``message`` on this connection (STOMP 1.1+)."""
        self._check_ackable(message, "nack")
        frame = message.frame
        try:
            self.call(
                lambda rid: self.session.nack(
                    frame, transaction=transaction, receipt=rid, headers=headers
                ),
                receipt=receipt,
                timeout=timeout,
                what="NACK",
            )
        except ConnectionLost as exc:
            raise AckError(f"cannot nack {message!r}: {exc}") from exc

    # ------------------------------------------------------------ reader thread

    def _liveness(self) -> Liveness:
        info = self.info
        return Liveness(
            info.send_interval / 1000.0 if info else 0.0,
            info.receive_interval / 1000.0 if info else 0.0,
            self._tolerance,
            # the first byte after the handshake gets one more interval (see Liveness)
            self.transport.last_read,
            info.server if info else None,
        )

    def _run(self) -> None:
        transport = self.transport
        session = self.session
        reading = self._reading
        liveness = self._liveness()
        tick = liveness.tick
        active = liveness.active  # fixed for the connection: heart-beats in either direction
        backlog = self.backlog
        debug = frame_log.isEnabledFor(logging.DEBUG)
        monotonic = time.monotonic
        # this connection's parser: a reset gives the session a new one
        parser = self._parser = session.parser
        coalescing = ReadCoalescing(self._coalesce)
        eager = False  # after a coalescing pause: read what came without select() first
        try:
            if self._early:
                self._handle(self._early)
                self._early = []
            while True:
                if self._aside:
                    if not self._stand_aside(liveness):
                        return
                    continue
                if backlog.paused:
                    # the application holds as much as it may: stop reading, so TCP pushes
                    # back on the broker; keep ticking for our heart-beats
                    if not self._wait_for_room(liveness, tick):
                        return
                    self._check_liveness(liveness)
                    continue
                if not reading.acquire(True, tick):  # a waiting thread reads (see _await)
                    self._check_liveness(liveness)
                    continue
                try:
                    asked = monotonic()
                    data = transport.read_now() if eager else None
                    if data is None:
                        data = transport.read(tick)
                    eager = False
                    waited = monotonic() - asked
                    events = None
                    if data:
                        # Parse holding no session lock (see _route_read).
                        events = self._route_read(data, parser, debug)
                        if events is None:
                            return  # lost meanwhile
                    elif data is not None:  # b"": EOF
                        self._at_eof()
                        return
                    direct = self._direct
                    if direct:
                        self._direct = False
                finally:
                    reading.release()
                if events:
                    if direct and not any(type(event) is MessageReceived for event in events):
                        # it settled the receipt a thread waits for, and no stream is
                        # coming in: stand aside, that thread reads its next RECEIPT itself
                        self._aside = True
                        self._aside_for = _ASIDE
                        coalescing.reset()
                        if any(not w.done() for w in self._followers):
                            self._aside = False  # someone waits without reading: read on
                    else:
                        pause = coalescing.after_read(
                            len(events) - (type(events[0]) is HeartbeatReceived),
                            waited,
                            len(data or b"") >= RECV_SIZE,
                        )
                        if pause:
                            _pause(pause)  # a stream: let the next batch gather
                            eager = True
                if active:
                    self._check_liveness(liveness)
        except Exception as exc:  # see _read_failed
            self._read_failed(exc)

    def _route_read(self, data: bytes, parser: FrameParser, debug: bool) -> list[Event] | None:
        """Holding ``_reading``: parse one read and route its events (the reader, or a
        thread waiting for its RECEIPT). Returns None when the connection was lost
        meanwhile."""
        if debug:
            frame_log.debug("<- %s %d bytes: %r", self.url, len(data), data[:200])
        # Parse holding no lock: this connection's parser is fed only by the holder of
        # ``_reading``. Only turning frames into events moves the session, so only that
        # holds the lock senders (and handlers' ACKs) need.
        before = parser.heartbeats
        parsed = parser.feed(data)
        session = self.session
        with self.lock:
            if not self.alive or session.parser is not parser:
                return None  # lost meanwhile (a reconnect gives the session a new one)
            events = session.receive_frames(parsed, parser.heartbeats - before)
            self.reads += 1
        if events:
            self._handle(events)
        return events

    def _at_eof(self) -> None:
        """The thread reading (the reader or a leading waiter) read EOF: the connection
        ends quietly while closing (the broker closes after DISCONNECT).

        Raises:
            ConnectionLost: not closing: the broker closed the connection.
        """
        if not self.closing:
            raise ConnectionLost(f"{self.url} closed the connection")
        self._ended_while_closing("closed the connection")

    def _check_liveness(self, liveness: Liveness) -> None:
        """Reader: a heart-beat when one is due; HeartbeatTimeout on a silent broker."""
        if liveness.active:
            transport = self.transport
            now = time.monotonic()
            if liveness.heartbeat_due(now, transport.last_write):
                transport.try_write(b"\n")
            silent = liveness.silence(now, transport.last_read)
            if silent is not None:
                raise HeartbeatTimeout(
                    f"nothing from {self.url} for {silent:.2f}s "
                    f"(heart-beat every {liveness.expect_within:g}s expected)"
                )

    def _stand_aside(self, liveness: Liveness) -> bool:
        """Reader, aside, while threads waiting for their RECEIPTs read (see :meth:`_lead`).

        Wait ``_aside_for``; read again when nobody led meanwhile (frames nobody asked for
        may be waiting). While threads keep leading (a producer's transactions, one after
        the other), the wait doubles up to ``_ASIDE_MAX``: a frame nobody asked for is read
        by the next leader anyway. When one lead outlasts the wait (a COMMIT ActiveMQ syncs
        to disk first, ~50 ms), wait for that thread to hand back (one heart-beat tick at
        most) instead of looking again and again. Returns False when the connection is
        gone."""
        led = self._led
        reading = self._reading
        leading = reading.locked()

        def done() -> bool:  # reading again, or the connection is gone
            return not self._aside or not self.alive

        with self._flow:
            self._flow.wait_for(done, self._aside_for)
            if leading and not done() and self._led == led and reading.locked():
                self._handback = True  # the same lead as before the wait: a slow RECEIPT
                try:
                    self._flow.wait_for(lambda: done() or not reading.locked(), liveness.tick)
                finally:
                    self._handback = False
        if not self.alive:
            return False
        self._check_liveness(liveness)
        if self._aside:
            if self._led != led or reading.locked():  # threads lead: look less often
                self._aside_for = min(self._aside_for * 2, _ASIDE_MAX, liveness.tick)
            else:
                self._aside = False  # nobody read meanwhile: frames may be waiting
        return True

    def _read_failed(self, exc: Exception) -> None:
        """Reading (the reader or a leading waiter) failed: the connection is lost, or it
        ended while closing."""
        if isinstance(exc, StompError):
            if not self.closing:
                self._lost(exc)
            else:
                self._ended_while_closing(f"failed ({exc})")
        elif self.closing:  # close() shut the socket under a read: nothing is wrong
            log.debug("reader of %s ends on close: %r", self.url, exc)
            self._ended_while_closing("was closed")
        else:  # a bug must not leave the connection half dead
            log.error("reader thread of %s failed", self.url, exc_info=exc)
            self._lost(ConnectionLost(f"reader failed: {exc!r}"))

    def _wait_for_room(self, liveness: Liveness, tick: float) -> bool:
        """Reader, backlog full: wait (one tick at most) for the application to finish
        messages. Returns False when the connection is gone meanwhile."""
        if not liveness.paused:
            liveness.pause()
            log.debug(
                "reader of %s paused: %d messages / %d bytes not yet finished",
                self.url,
                self.backlog.messages,
                self.backlog.bytes,
            )
        with self._flow:
            self._flow.wait_for(lambda: not self.backlog.paused or not self.alive, tick)
        if not self.alive:
            return False
        if not self.backlog.paused:
            liveness.resume(time.monotonic())
            log.debug("reader of %s resumed", self.url)
        return True

    # ------------------------------------------------------------ the consume backlog

    def handed(self, count: int, size: int) -> None:
        """Reader: ``count`` messages of ``size`` body bytes go to the application."""
        with self._flow_lock:
            self.backlog.add(count, size)

    def finished(self, count: int, size: int) -> None:
        """Any thread: the application is done with messages of this connection (their
        handlers returned, or they were taken from a pull queue)."""
        with self._flow_lock:
            if self.backlog.done(count, size):
                self._flow.notify_all()

    def backlog_info(self) -> BacklogInfo:
        """Any thread: a snapshot of this connection's backlog."""
        with self._flow:
            return self.backlog.info()

    def retire(self, sub: Subscription, *, until: int | None = None) -> None:
        """Under the session lock, as its UNSUBSCRIBE is queued: messages already read for
        ``sub`` are still delivered, later ones reported (see :meth:`_route`). ``until``:
        deliver the messages of reads up to that number instead (before the UNSUBSCRIBE
        is built, so none is lost while the subscription leaves the routing table)."""
        self._retired.retire(sub, self.reads if until is None else until)

    def _route(self, name: str | None, frame: Frame) -> Subscription | None:
        """The subscription a MESSAGE goes to: an active one, or one unsubscribed after
        this read was parsed. A message that arrived after its UNSUBSCRIBE went out is
        dropped: the broker redelivers it when unacked; an auto-ack one is reported
        (``discarded`` event and a WARNING)."""
        sub: Subscription | None = self._retired.route(name, frame.get("message-id"), self.reads)
        return sub

    def _handle(self, events: list[Event]) -> None:
        """Route the events of one read. Consecutive messages of one subscription go on as
        one batch: to the dispatcher as one task (one queue hand-off per read, not per
        message), or straight into a pull subscription's queue (never through the
        dispatcher, so an unread queue blocks no handler or listener). Anything else is
        queued after them, so the order of events is kept."""
        client = self._client
        subscriptions = client._subscriptions
        message_class = client._message_class
        batch: list[Message] = []
        size = 0
        target: Subscription | None = None
        for event in events:
            if type(event) is MessageReceived:
                frame = event.frame
                if target is None or target.id != event.subscription:
                    if batch:
                        self._hand_on(batch, size)
                        batch = []
                        size = 0
                    target = subscriptions.get(event.subscription or "")
                    if target is None:
                        target = self._route(event.subscription, frame)
                        if target is None:
                            continue
                batch.append(message_class(frame, target, self))
                size += len(frame.body)
                continue
            if batch:
                self._hand_on(batch, size)
                batch = []
                size = 0
            target = None
            self._other(event)
        if batch:
            self._hand_on(batch, size)
        if self._retired.dropped:
            for sub_id, count in self._retired.take_dropped().items():
                client._discarded(sub_id, count, "arrived after UNSUBSCRIBE was sent")

    def _hand_on(self, batch: list[Message], size: int) -> None:
        """Messages of one subscription, in order, to their handler or pull queue."""
        self.handed(len(batch), size)
        sub = batch[0].subscription
        if sub.handler is None:
            sub._put(batch)
        else:
            self._client._dispatcher.submit(sub.id, sub._deliver_all, batch, size)

    def _other(self, event: Event) -> None:
        """A RECEIPT, an ERROR or an oversize MESSAGE (reader thread)."""
        client = self._client
        dispatcher = client._dispatcher
        if type(event) is MessageTooLarge:
            sub = client._subscriptions.get(event.subscription or "")
            if sub is None:
                sub = self._route(event.subscription, event.frame)
            if sub is not None:  # its policy runs in order with its other messages
                message = client._message_class(event.frame, sub, self)
                dispatcher.submit(sub.id, sub._too_large, message, event.size)
        elif type(event) is ReceiptReceived:
            future = self._receipts.pop(event.receipt_id)  # dict pops: no lock needed
            if future is not None:
                future.set_result(event.frame)
                if type(future) is ReceiptWaiter:
                    self._direct = True  # a thread waits for it: see _run
            self.transport.confirmed(event.receipt_id)  # trackMessages: frames confirmed
            if event.receipt_id.startswith(MARKER_PREFIX):
                return  # a marker receipt: internal, not the application's
            if client.listeners.has("receipt"):
                dispatcher.submit(None, client.listeners.fire, "receipt", event.receipt_id)
        elif isinstance(event, ErrorReceived):
            error = BrokerError(event.message, event.frame)
            self.last_broker_error = error  # most brokers close next: say why in the loss
            log.error("ERROR from %s: %s", self.url, event.message)
            if event.receipt_id is not None:
                with self.lock:
                    future = self._receipts.pop(event.receipt_id)
                if future is not None:
                    future.set_exception(error)
            dispatcher.submit(None, client.listeners.fire, "error", error)

    # ------------------------------------------------------------ loss and close

    def _lost(self, exc: BaseException) -> None:
        """The connection broke: fail what waits on it, tell the client (once)."""
        with self.lock:
            if not self.alive:
                return
            self.alive = False
            self.lost_error = exc
            self.session.reset()
            receipts = self._receipts.take()
        self._wake()
        self.transport.close()
        unsent = self.transport.take_unsent()
        cached = self.transport.take_cached()
        lost = loss_error(self.url, exc, self.last_broker_error)
        self.lost_error = lost
        log.warning("connection to %s lost: %s", self.url, lost)
        pending = self._client._carry_over(self, cached, unsent, receipts, lost)
        for future in pending:
            if not future.done():
                future.set_exception(lost)
        self._client._connection_lost(self, lost)

    def _ended_while_closing(self, how: str) -> None:
        """The reader ends while closing (the broker closed the socket after DISCONNECT, or
        close() shut it): nothing more can arrive, so what still waits for a receipt (the
        DISCONNECT's, when the broker sends none) fails now instead of at its timeout."""
        self._end(ConnectionLost(f"{self.url} {how} while disconnecting"))

    def _end(self, error: ConnectionLost) -> Receipts[Waiter]:
        """Mark the connection dead and fail every pending receipt with ``error``. Returns
        every receipt future this connection ever failed so (see :meth:`close`)."""
        with self.lock:
            if self.alive:
                self.alive = False
                self.session.reset()
            pending = self._receipts.take()
            self._ended.update(pending)
        self._wake()
        for future in pending.waiters():
            if not future.done():
                future.set_exception(error)
        return self._ended

    def close(self, join_timeout: float) -> None:
        """Write what is still queued, close the socket and join the writer and reader
        threads (not the calling one), all within ``join_timeout`` seconds in total. Frames
        that could not be written are reported (``undelivered``)."""
        deadline = time.monotonic() + join_timeout

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        self.closing = True
        self.transport.flush(min(left(), 2.0))
        closed = ConnectionLost(f"connection to {self.url} closed")
        failed = self._end(closed)
        self.transport.close(left())
        self._client._report_undelivered(
            [frame for frame in self.transport.take_unsent() if carries_over(frame)],
            closed,
            receipted=failed,
        )
        self.join(left())

    def _wake(self) -> None:
        """Wake a reader waiting on ``_flow``: paused on a full backlog (it then sees the
        connection is gone), or aside waiting for a long lead to hand back."""
        with self._flow:
            self._flow.notify_all()

    def join(self, timeout: float) -> None:
        """Wait for the reader thread to end (bounded; skipped from the reader itself)."""
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)
            if reader.is_alive():
                log.warning("reader thread %s did not stop within %.1fs", reader.name, timeout)

    def __repr__(self) -> str:
        return f"<Connection {self.url} alive={self.alive}>"
