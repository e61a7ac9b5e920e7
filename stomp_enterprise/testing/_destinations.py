"""Queues, topics, subscriptions, acknowledgements and transactions of the testing broker.

Pure logic: no socket, thread or clock. :class:`Router` takes the client frames of a
connected session and answers with the MESSAGE frames to deliver, as ``(connection, frame)``
pairs. It is not thread-safe: the broker calls it under its state lock.

Semantics:

* ``/topic/...``: every current subscriber gets a copy; dropped when nobody listens.
* anything else (``/queue/...``, ``/exchange/...``, ``/amq/queue/...``, plain names): a queue.
  Each message goes to exactly one subscriber, round robin in subscription order; stored while
  nobody consumes.
* ``ack:client``: an ACK (or NACK) covers that message and every earlier unacked message of
  the subscription; ``client-individual``: just that message; ``auto``: nothing to ack.
* Unacked queue messages go back to the head of their queue, marked ``redelivered:true``, when
  their subscription ends (UNSUBSCRIBE, disconnect) or they are NACKed, and are dispatched to
  the next consumer. Unacked topic messages are dropped when the subscription ends; a NACKed
  topic message is redelivered to the same subscription.
* ``max_redeliveries``: a message NACKed or returned more often than that goes to the
  dead-letter queue instead (header ``original-destination`` added).
* Expiry: a message whose ``expires`` header (epoch ms, ActiveMQ's spelling; ``0``: never)
  has passed by the router's clock is dropped instead of delivered (counted in ``expired``).
* Durable topic subscriptions, ActiveMQ's spelling: SUBSCRIBE to a ``/topic/`` with
  ``activemq.subscriptionName`` on a connection whose CONNECT had ``client-id``; keyed by
  (client-id, name). While no consumer is attached the topic's messages are stored for it,
  and delivered when a consumer attaches again. An UNSUBSCRIBE with
  ``activemq.subscriptionName`` (once the consumer is detached) deletes it.
* ``selector`` is refused with an ERROR (this broker evaluates no selectors; silently
  ignoring one would deliver what the application filtered out).
* ``/temp-queue/<name>``: a queue private to the connection that names it, deleted (with its
  messages) when the connection ends; a SEND's ``reply-to:/temp-queue/<name>`` is rewritten
  to the queue's public name, which anyone may send to. ``temp_queues="activemq"``
  (default; also Apollo's way): the connection SUBSCRIBEs to ``/temp-queue/<name>`` and the
  public name is ``/remote-temp-queue/<connection>.<name>``. ``temp_queues="rabbitmq"``: a
  SUBSCRIBE to it is refused; the first SEND with that ``reply-to`` subscribes the
  connection itself (id ``/temp-queue/<name>``, auto ack) and the public name is
  ``/reply-queue/<connection>.<name>``.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from stomp_enterprise.protocol.frames import Frame

__all__ = [
    "PROTOCOL_HEADERS",
    "BrokerMessage",
    "Delivery",
    "Outbound",
    "Router",
    "RouterError",
    "is_topic",
]

#: Headers of a SEND that are about the SEND itself and are not copied into the MESSAGE.
PROTOCOL_HEADERS: Final = frozenset(
    {"destination", "transaction", "receipt", "message-id", "subscription", "ack", "redelivered"}
)
ACK_MODES: Final = ("auto", "client", "client-individual")
#: The SUBSCRIBE/UNSUBSCRIBE header naming a durable subscription (ActiveMQ's spelling).
DURABLE_NAME: Final = "activemq.subscriptionName"
TEMP_QUEUE_STYLES: Final = ("activemq", "rabbitmq")
_TEMP: Final = "/temp-queue/"

#: A frame to deliver: ``(connection number, frame)``.
Outbound = tuple[int, Frame]


class RouterError(Exception):
    """A client frame the broker must refuse; the message goes into the ERROR frame."""


def is_topic(destination: str) -> bool:
    """True for ``/topic/...`` destinations (fan-out); everything else is a queue.

    Any thread (a pure function).
    """
    return destination.startswith("/topic/")


@dataclass(frozen=True)
class BrokerMessage:
    """A message the broker accepted (a committed SEND).

    Attributes:
        message_id: the ``message-id`` every delivery of it carries.
        destination: where it was sent.
        headers: the SEND's headers that are copied into MESSAGE frames, in wire order
            (``content-length`` included, corrected for the body, when the SEND had one).
        body: the body.
        connection: the number of the connection that sent it (``None``: the broker itself).
    """

    message_id: str
    destination: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    connection: int | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name``. Any thread."""
        for key, value in self.headers:
            if key == name:
                return value
        return default


@dataclass(frozen=True)
class Delivery:
    """One MESSAGE the broker handed to a subscriber.

    Attributes:
        message_id: the message delivered.
        destination: its destination.
        connection: the subscriber's connection number.
        subscription: the subscription id.
        ack: the delivery's ack id (``None`` for ``ack:auto``).
        redelivered: whether the MESSAGE carried ``redelivered:true``.
    """

    message_id: str
    destination: str
    connection: int
    subscription: str
    ack: str | None
    redelivered: bool


@dataclass(eq=False)
class _Pending:
    message: BrokerMessage
    redelivered: bool = False
    returns: int = 0  # times it came back (NACK, unsubscribe, disconnect)


@dataclass(eq=False)
class _Subscription:
    connection: int
    id: str
    destination: str
    ack: str
    version: str
    unacked: dict[str, _Pending] = field(default_factory=dict)  # ack id -> message, in order
    active: bool = True
    durable: _Durable | None = None


@dataclass(eq=False)
class _Durable:
    """A durable topic subscription: stores the topic's messages while detached."""

    destination: str
    waiting: deque[_Pending] = field(default_factory=deque)
    sub: _Subscription | None = None


@dataclass(eq=False)
class _Queue:
    waiting: deque[_Pending] = field(default_factory=deque)
    consumers: list[_Subscription] = field(default_factory=list)
    cursor: int = 0

    def remove(self, sub: _Subscription) -> None:
        index = self.consumers.index(sub)
        del self.consumers[index]
        if index < self.cursor:
            self.cursor -= 1
        if self.cursor >= len(self.consumers):
            self.cursor = 0


class Router:
    """The broker's destinations and sessions as pure state.

    Args:
        max_redeliveries: after this many returns a message goes to ``dead_letter`` instead of
            being redelivered; ``None``: redeliver forever.
        dead_letter: the dead-letter destination.
    """

    def __init__(
        self,
        *,
        max_redeliveries: int | None = None,
        dead_letter: str = "/queue/DLQ",
        clock: Callable[[], float] = time.time,
        temp_queues: str = "activemq",
    ) -> None:
        if temp_queues not in TEMP_QUEUE_STYLES:
            raise ValueError(f"temp_queues must be one of {TEMP_QUEUE_STYLES}")
        self.max_redeliveries = max_redeliveries
        self.dead_letter = dead_letter
        self.clock = clock
        self.expired: list[BrokerMessage] = []
        self._client_ids: dict[int, str] = {}
        self._durables: dict[tuple[str, str], _Durable] = {}
        self.temp_queues = temp_queues
        self._temporary: dict[int, set[str]] = {}  # connection -> its temp queues' names
        self.sent: list[BrokerMessage] = []
        self.deliveries: list[Delivery] = []
        self._queues: dict[str, _Queue] = {}
        self._topics: dict[str, list[_Subscription]] = {}
        self._subs: dict[tuple[int, str], _Subscription] = {}
        self._transactions: dict[tuple[int, str], list[Frame]] = {}
        self._message_ids = itertools.count(1)
        self._ack_ids = itertools.count(1)

    # ------------------------------------------------------------ inspection

    def queue_depth(self, destination: str) -> int:
        """Messages stored in queue ``destination`` waiting for a consumer (unacked excluded)."""
        queue = self._queues.get(destination)
        return len(queue.waiting) if queue else 0

    def unacked(self, destination: str | None = None) -> int:
        """Messages delivered and not yet acknowledged (to ``destination``, or anywhere)."""
        return sum(
            len(sub.unacked)
            for sub in self._subs.values()
            if destination is None or sub.destination == destination
        )

    def subscriber_count(self, destination: str) -> int:
        """Active subscriptions on ``destination``."""
        return sum(1 for sub in self._subs.values() if sub.destination == destination)

    def durable_subscriptions(self) -> list[tuple[str, str]]:
        """``(client-id, name)`` of every durable subscription, attached or not."""
        return sorted(self._durables)

    def connected(self, connection: int, client_id: str | None) -> None:
        """A session began; remember its CONNECT ``client-id`` (durable subscriptions).

        Raises:
            RouterError: another open connection uses that client id (as ActiveMQ refuses).
        """
        if client_id is not None:
            if client_id in self._client_ids.values():
                raise RouterError(f"client-id {client_id!r} is already connected")
            self._client_ids[connection] = client_id

    def open_transactions(self, connection: int | None = None) -> list[str]:
        """Ids of open transactions (of ``connection``, or of every connection)."""
        return [tx for (conn, tx) in self._transactions if connection in (None, conn)]

    def purge(self) -> None:
        """Drop every stored message (subscriptions and unacked deliveries stay)."""
        for queue in self._queues.values():
            queue.waiting.clear()

    # ------------------------------------------------------------ frames

    def handle(self, connection: int, version: str, frame: Frame) -> list[Outbound]:
        """Apply one client frame of an established session; return the MESSAGEs to deliver.

        Handles SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT and ABORT. SEND, ACK and
        NACK with a ``transaction`` header are buffered until COMMIT.

        Raises:
            RouterError: the frame is invalid (missing header, unknown id or transaction).
        """
        command = frame.command
        if command in ("SEND", "ACK", "NACK"):
            transaction = frame.get("transaction")
            if transaction is not None:
                self._transaction(connection, transaction).append(frame)
                return []
            return self._apply(connection, version, frame)
        if command == "SUBSCRIBE":
            return self.subscribe(connection, version, frame)
        if command == "UNSUBSCRIBE":
            return self.unsubscribe(connection, version, frame)
        if command == "BEGIN":
            key = (connection, _required(frame, "transaction"))
            if key in self._transactions:
                raise RouterError(f"transaction {key[1]!r} is already open")
            self._transactions[key] = []
            return []
        if command == "COMMIT":
            frames = self._transactions.pop(
                (connection, self._known_transaction(connection, frame)), []
            )
            out: list[Outbound] = []
            for buffered in frames:
                out.extend(self._apply(connection, version, buffered))
            return out
        if command == "ABORT":
            del self._transactions[(connection, self._known_transaction(connection, frame))]
            return []
        raise RouterError(f"unexpected {command} frame")

    def _transaction(self, connection: int, transaction: str) -> list[Frame]:
        try:
            return self._transactions[(connection, transaction)]
        except KeyError:
            raise RouterError(f"unknown transaction {transaction!r}") from None

    def _known_transaction(self, connection: int, frame: Frame) -> str:
        transaction = _required(frame, "transaction")
        self._transaction(connection, transaction)
        return transaction

    def _apply(self, connection: int, version: str, frame: Frame) -> list[Outbound]:
        if frame.command == "SEND":
            headers = frame.raw_headers
            reply_to = frame.get("reply-to")
            out: list[Outbound] = []
            if reply_to is not None and reply_to.startswith(_TEMP):
                public = self._temp_queue(connection, reply_to)
                headers = tuple(
                    (name, public if name == "reply-to" else value) for name, value in headers
                )
                if self.temp_queues == "rabbitmq" and (connection, reply_to) not in self._subs:
                    sub = _Subscription(connection, reply_to, public, "auto", version)
                    self._subs[(connection, reply_to)] = sub
                    self._queue(public).consumers.append(sub)
            destination = _required(frame, "destination")
            if destination.startswith(_TEMP):
                destination = self._temp_queue(connection, destination)
            out.extend(self.send(destination, headers, frame.body, connection))
            return out
        return self.ack(connection, version, frame, nack=frame.command == "NACK")

    def send(
        self,
        destination: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        connection: int | None = None,
    ) -> list[Outbound]:
        """Accept a message for ``destination`` (SEND headers are filtered, see
        :data:`PROTOCOL_HEADERS`) and return its deliveries."""
        kept: list[tuple[str, str]] = []
        for name, value in headers:
            if name == "content-length":
                kept.append((name, str(len(body))))
            elif name not in PROTOCOL_HEADERS:
                kept.append((name, value))
        message = BrokerMessage(
            f"m-{next(self._message_ids)}", destination, tuple(kept), body, connection
        )
        self.sent.append(message)
        if is_topic(destination):
            for durable in self._durables.values():
                if durable.sub is None and durable.destination == destination:
                    durable.waiting.append(_Pending(message))
            return [
                self._deliver(sub, _Pending(message))
                for sub in self._topics.get(destination, ())
                if not self._is_expired(message)
            ]
        self._queue(destination).waiting.append(_Pending(message))
        return self._dispatch(destination)

    def _is_expired(self, message: BrokerMessage) -> bool:
        """Whether ``message`` is past its ``expires`` (recorded in ``expired`` once)."""
        value = message.header("expires")
        if not value or not value.isdigit() or int(value) == 0:
            return False
        if self.clock() * 1000.0 < int(value):
            return False
        if message not in self.expired:
            self.expired.append(message)
        return True

    def subscribe(self, connection: int, version: str, frame: Frame) -> list[Outbound]:
        """SUBSCRIBE: start delivering; stored queue messages are dispatched at once."""
        destination = _required(frame, "destination")
        if destination.startswith(_TEMP):
            if self.temp_queues == "rabbitmq":
                raise RouterError(f"SUBSCRIBE to {destination} is not allowed")
            destination = self._temp_queue(connection, destination)
        sub_id = frame.get("id")
        if sub_id is None:
            if version != "1.0":
                raise RouterError("SUBSCRIBE without an id header")
            sub_id = destination  # STOMP 1.0 made the id optional
        ack = frame.get("ack", "auto") or "auto"
        if ack not in ACK_MODES or (ack == "client-individual" and version == "1.0"):
            raise RouterError(f"unsupported ack mode {ack!r} in STOMP {version}")
        key = (connection, sub_id)
        if key in self._subs:
            raise RouterError(f"subscription id {sub_id!r} is already in use")
        if frame.get("selector") is not None:
            raise RouterError("selectors are not supported by the testing broker")
        durable = self._durable_for(connection, destination, frame.get(DURABLE_NAME))
        sub = _Subscription(connection, sub_id, destination, ack, version, durable=durable)
        self._subs[key] = sub
        if is_topic(destination):
            self._topics.setdefault(destination, []).append(sub)
            if durable is None:
                return []
            durable.sub = sub
            stored = list(durable.waiting)
            durable.waiting.clear()
            return [
                self._deliver(sub, pending)
                for pending in stored
                if not self._is_expired(pending.message)
            ]
        self._queue(destination).consumers.append(sub)
        return self._dispatch(destination)

    def _durable_for(self, connection: int, destination: str, name: str | None) -> _Durable | None:
        if name is None:
            return None
        client_id = self._client_ids.get(connection)
        if client_id is None or not is_topic(destination):
            raise RouterError("a durable subscription needs a client-id on CONNECT and a /topic/")
        durable = self._durables.get((client_id, name))
        if durable is None:
            durable = self._durables[(client_id, name)] = _Durable(destination)
        elif durable.sub is not None:
            raise RouterError(f"durable subscription {name!r} is in use")
        elif durable.destination != destination:  # a new topic: a new subscription
            durable.destination = destination
            durable.waiting.clear()
        return durable

    def _remove_durable(self, connection: int, name: str) -> list[Outbound]:
        key = (self._client_ids.get(connection, ""), name)
        durable = self._durables.get(key)
        if durable is None:
            raise RouterError(f"no durable subscription {name!r} for this client-id")
        if durable.sub is not None:
            raise RouterError(f"durable subscription {name!r} is in use: unsubscribe first")
        del self._durables[key]
        return []

    def unsubscribe(self, connection: int, version: str, frame: Frame) -> list[Outbound]:
        """UNSUBSCRIBE (by ``id``; STOMP 1.0 also by ``destination``): unacked queue messages
        are redelivered to the other consumers. With ``activemq.subscriptionName``: delete
        that (detached) durable subscription."""
        name = frame.get(DURABLE_NAME)
        if name is not None:
            return self._remove_durable(connection, name)
        sub_id = frame.get("id")
        if sub_id is None and version == "1.0":
            sub_id = frame.get("destination")
        if sub_id is None:
            raise RouterError("UNSUBSCRIBE without an id header")
        sub = self._subs.get((connection, sub_id))
        if sub is None:
            raise RouterError(f"unknown subscription {sub_id!r}")
        return self._end(sub)

    def disconnect(self, connection: int) -> list[Outbound]:
        """The connection is gone: abort its transactions, end its subscriptions (unacked queue
        messages are redelivered elsewhere)."""
        for key in [k for k in self._transactions if k[0] == connection]:
            del self._transactions[key]
        self._client_ids.pop(connection, None)
        out: list[Outbound] = []
        for sub in [s for s in self._subs.values() if s.connection == connection]:
            out.extend(self._end(sub))
        for name in self._temporary.pop(connection, ()):
            queue = self._queues.pop(name, None)
            if queue is not None:  # its messages go with it; other consumers are dropped
                for sub in queue.consumers:
                    sub.active = False
                    self._subs.pop((sub.connection, sub.id), None)
        return out

    def _temp_queue(self, connection: int, destination: str) -> str:
        """The public name of ``connection``'s temporary queue ``destination``."""
        prefix = "/reply-queue/" if self.temp_queues == "rabbitmq" else "/remote-temp-queue/"
        public = f"{prefix}{connection}.{destination[len(_TEMP) :]}"
        self._temporary.setdefault(connection, set()).add(public)
        return public

    def ack(self, connection: int, version: str, frame: Frame, *, nack: bool) -> list[Outbound]:
        """ACK or NACK (not in a transaction). A NACKed message is redelivered.

        Raises:
            RouterError: the ids do not name an unacked delivery of this connection.
        """
        sub, ack_id = self._resolve(connection, version, frame)
        if sub.ack == "client":  # cumulative
            keys: list[str] = []
            for key in sub.unacked:
                keys.append(key)
                if key == ack_id:
                    break
        else:
            keys = [ack_id]
        returned = [sub.unacked.pop(key) for key in keys]
        return self._return(sub, returned) if nack else []

    # ------------------------------------------------------------ internals

    def _queue(self, destination: str) -> _Queue:
        queue = self._queues.get(destination)
        if queue is None:
            queue = self._queues[destination] = _Queue()
        return queue

    def _dispatch(self, destination: str) -> list[Outbound]:
        queue = self._queue(destination)
        out: list[Outbound] = []
        while queue.waiting and queue.consumers:
            pending = queue.waiting.popleft()
            if self._is_expired(pending.message):
                continue
            sub = queue.consumers[queue.cursor]
            queue.cursor = (queue.cursor + 1) % len(queue.consumers)
            out.append(self._deliver(sub, pending))
        return out

    def _deliver(self, sub: _Subscription, pending: _Pending) -> Outbound:
        message = pending.message
        headers = [
            ("destination", message.destination),
            ("message-id", message.message_id),
            ("subscription", sub.id),
        ]
        ack_id = None
        if sub.ack != "auto":
            ack_id = f"a-{next(self._ack_ids)}"
            sub.unacked[ack_id] = pending
            if sub.version == "1.2":
                headers.append(("ack", ack_id))
        if pending.redelivered:
            headers.append(("redelivered", "true"))
        headers.extend(message.headers)
        self.deliveries.append(
            Delivery(
                message.message_id,
                message.destination,
                sub.connection,
                sub.id,
                ack_id,
                pending.redelivered,
            )
        )
        return (sub.connection, Frame("MESSAGE", headers, message.body))

    def _end(self, sub: _Subscription) -> list[Outbound]:
        sub.active = False
        del self._subs[(sub.connection, sub.id)]
        if is_topic(sub.destination):
            self._topics[sub.destination].remove(sub)
        else:
            self._queue(sub.destination).remove(sub)
        returned = list(sub.unacked.values())
        sub.unacked.clear()
        durable = sub.durable
        if durable is not None:  # detached: what it had not acked waits for the next consumer
            durable.sub = None
            for pending in returned:
                pending.redelivered = True
            durable.waiting.extendleft(reversed(returned))
            return []
        return self._return(sub, returned)

    def _return(self, sub: _Subscription, returned: list[_Pending]) -> list[Outbound]:
        """Messages come back unacknowledged: redeliver (or dead-letter) them."""
        out: list[Outbound] = []
        back: list[_Pending] = []
        for pending in returned:
            pending.redelivered = True
            pending.returns += 1
            if self.max_redeliveries is not None and pending.returns > self.max_redeliveries:
                message = pending.message
                headers = (*message.headers, ("original-destination", message.destination))
                out.extend(self.send(self.dead_letter, headers, message.body, message.connection))
            else:
                back.append(pending)
        if not back:
            return out
        if is_topic(sub.destination):
            if sub.active:  # a NACK: the same subscriber gets it again
                out.extend(self._deliver(sub, pending) for pending in back)
            return out
        queue = self._queue(sub.destination)
        queue.waiting.extendleft(reversed(back))
        out.extend(self._dispatch(sub.destination))
        return out

    def _resolve(self, connection: int, version: str, frame: Frame) -> tuple[_Subscription, str]:
        command = frame.command
        subs = [s for s in self._subs.values() if s.connection == connection]
        if version == "1.2":
            ack_id = _required(frame, "id")
            for sub in subs:
                if ack_id in sub.unacked:
                    return sub, ack_id
            raise RouterError(f"{command} for unknown ack id {ack_id!r}")
        message_id = _required(frame, "message-id")
        if version == "1.1":
            sub_id = _required(frame, "subscription")
            found = self._subs.get((connection, sub_id))
            subs = [found] if found is not None else []
        for sub in subs:
            for key, pending in sub.unacked.items():
                if pending.message.message_id == message_id:
                    return sub, key
        raise RouterError(f"{command} for unknown message-id {message_id!r}")


def _required(frame: Frame, name: str) -> str:
    value = frame.get(name)
    if not value:
        raise RouterError(f"{frame.command} frame without a {name} header")
    return value
