"""The client side of a STOMP connection as a pure state machine (the h11 model).

The session turns calls into bytes to write and received bytes into events. It owns the
parser, negotiates version and heart-beats, and tracks subscriptions, open transactions and
pending receipts. It never touches a socket, a thread or a clock.

Every legal ``(state, command)`` pair is in :data:`TRANSITIONS`; anything else raises
:class:`~stomp_enterprise.errors.LocalProtocolError` (our call) or
:class:`~stomp_enterprise.errors.RemoteProtocolError` (the broker's frame). After a
receive-side protocol error the session is in ``ERROR`` and every later call raises.

State diagram (``EOF`` is ``receive_data(b"")``; every state goes to DISCONNECTED on it)::

    DISCONNECTED --CONNECT/STOMP--> CONNECTING --CONNECTED--> CONNECTED
    CONNECTING --ERROR--> ERROR
    CONNECTED --SEND/SUBSCRIBE/.../MESSAGE/RECEIPT/ERROR--> CONNECTED
    CONNECTED --DISCONNECT--> DISCONNECTING --MESSAGE/RECEIPT/ERROR--> DISCONNECTING
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Final, NamedTuple

from stomp_enterprise.errors import (
    FrameTooLarge,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
)
from stomp_enterprise.protocol import commands
from stomp_enterprise.protocol.constants import VERSIONS
from stomp_enterprise.protocol.frames import Frame, HeaderInput
from stomp_enterprise.protocol.parser import DEFAULT_MAX_FRAME_SIZE, FrameParser, OversizeFrame
from stomp_enterprise.protocol.serializer import MARKER, compile_send_head, send_frame

__all__ = [
    "TRANSITIONS",
    "ConnectionClosed",
    "Connected",
    "ErrorReceived",
    "Event",
    "HeartbeatReceived",
    "MessageReceived",
    "MessageTooLarge",
    "ReceiptReceived",
    "Session",
    "State",
    "SubscriptionState",
]


def _plain_bytes(value: object) -> bytes | None:
    """``value``'s UTF-8 bytes for a header value the fast paths write as is: a non-empty
    ``str`` that needs no escaping in any version, holds no NUL (which no version can carry
    in a header) and encodes (no lone surrogate). None otherwise: the general path decides,
    and refuses what it refuses."""
    if (
        type(value) is not str
        or not value
        or "\\" in value
        or ":" in value
        or "\n" in value
        or "\r" in value
        or "\0" in value
    ):
        return None
    try:
        return value.encode()
    except UnicodeEncodeError:
        return None


class State(Enum):
    """Connection states."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"
    ERROR = "error"


_CLIENT_IN_SESSION: Final = (
    "SEND",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "ACK",
    "NACK",
    "BEGIN",
    "COMMIT",
    "ABORT",
)

_STAY_CONNECTED: Final = frozenset(_CLIENT_IN_SESSION)

#: ``(state, command) -> next state``: client commands are ours to send, server commands are
#: received. One table, so docs can draw it and tests can walk it.
TRANSITIONS: Final[Mapping[tuple[State, str], State]] = MappingProxyType(
    {
        (State.DISCONNECTED, "CONNECT"): State.CONNECTING,
        (State.DISCONNECTED, "STOMP"): State.CONNECTING,
        (State.CONNECTING, "CONNECTED"): State.CONNECTED,
        (State.CONNECTING, "ERROR"): State.ERROR,
        **{(State.CONNECTED, c): State.CONNECTED for c in _CLIENT_IN_SESSION},
        (State.CONNECTED, "MESSAGE"): State.CONNECTED,
        (State.CONNECTED, "RECEIPT"): State.CONNECTED,
        (State.CONNECTED, "ERROR"): State.CONNECTED,
        (State.CONNECTED, "DISCONNECT"): State.DISCONNECTING,
        (State.DISCONNECTING, "MESSAGE"): State.DISCONNECTING,
        (State.DISCONNECTING, "RECEIPT"): State.DISCONNECTING,
        (State.DISCONNECTING, "ERROR"): State.DISCONNECTING,
    }
)


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Connected:
    """CONNECTED arrived: version and heart-beats are settled.

    Attributes:
        version: the negotiated STOMP version.
        heart_beat: the broker's CONNECTED ``(sx, sy)`` in ms.
        send_interval: send a heart-beat every this many ms when idle (0: never).
        receive_interval: the broker promises data every this many ms (0: no promise).
    """

    frame: Frame
    version: str
    heart_beat: tuple[int, int]
    send_interval: int
    receive_interval: int
    server: str | None
    session_id: str | None


class MessageReceived(NamedTuple):
    """A MESSAGE; ``subscription`` is the routing key (never the destination).

    A named tuple rather than a frozen dataclass: one is made per message on the hot path.
    """

    frame: Frame
    subscription: str | None


_new_tuple = tuple.__new__


class MessageTooLarge(NamedTuple):
    """A MESSAGE larger than ``max_frame_size`` (with ``skip_oversize``): its body was
    skipped, never buffered. ``frame`` holds its headers and an empty body; ``size`` is the
    body's length in bytes. The connection goes on; the client applies the subscription's
    error policy (ack, nack or forward the headers) so the broker does not redeliver it
    for ever."""

    frame: Frame
    subscription: str | None
    size: int


class ReceiptReceived(NamedTuple):
    """A RECEIPT for a frame we sent with ``receipt``; ``command`` is that frame's command.
    (A named tuple: pipelined receipts make one per frame.)"""

    frame: Frame
    receipt_id: str
    command: str | None


@dataclass(frozen=True, slots=True)
class ErrorReceived:
    """An ERROR frame. ``receipt_id`` names the receipted frame it answers, if any."""

    frame: Frame
    message: str
    receipt_id: str | None
    command: str | None


@dataclass(frozen=True, slots=True)
class HeartbeatReceived:
    """``count`` heart-beat EOLs arrived."""

    count: int


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the stream (``receive_data(b"")``). ``lost_receipts`` and
    ``lost_transactions`` are what was pending then."""

    lost_receipts: tuple[str, ...]
    lost_transactions: tuple[str, ...]
    clean: bool


Event = (
    Connected
    | MessageReceived
    | MessageTooLarge
    | ReceiptReceived
    | ErrorReceived
    | HeartbeatReceived
    | ConnectionClosed
)


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """What the session remembers of a subscription, enough to replay it."""

    id: str
    destination: str
    ack: str
    headers: tuple[tuple[str, str], ...] = field(default=())


class Session:
    """Client-side STOMP session.

    Args:
        versions: versions to offer, any order; the highest the broker accepts wins.
        heart_beat: ``(cx, cy)`` in ms: we can send every cx, we want data every cy.
        max_frame_size: the largest frame (command, headers and body, without the final NUL)
            accepted from the broker, and sent to it: a larger outgoing frame is refused with
            :class:`~stomp_enterprise.errors.FrameTooLarge` before any byte of it is returned.
        content_length: add ``content-length`` to every body (else only to bodies with NUL).
        skip_oversize: a MESSAGE beyond ``max_frame_size`` becomes a
            :class:`MessageTooLarge` event (its body skipped, never buffered) instead of a
            :class:`~stomp_enterprise.errors.FrameTooLarge` error that ends the session.
        ids: the counter behind :meth:`new_id`. A client that carries receipted frames over
            to the next connection's session shares one counter between its sessions, so
            that receipt ids stay unique across connections.

    Not thread-safe: the threaded client serializes calls with its own lock.
    """

    def __init__(
        self,
        versions: Sequence[str] = VERSIONS,
        heart_beat: tuple[int, int] = (0, 0),
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        content_length: bool = True,
        skip_oversize: bool = False,
        ids: Iterator[int] | None = None,
    ) -> None:
        if not versions:
            raise LocalProtocolError("offer at least one STOMP version")
        for version in versions:
            if version not in VERSIONS:
                raise LocalProtocolError(f"unknown STOMP version {version!r}")
        self.offered: tuple[str, ...] = tuple(v for v in VERSIONS if v in versions)
        commands.connect(host="/", heart_beat=heart_beat)  # validates heart_beat early
        self.client_heart_beat = heart_beat
        self.content_length = content_length
        self.parser = FrameParser(
            self.offered[0], max_frame_size=max_frame_size, skip_oversize=skip_oversize
        )
        self.max_frame_size = max_frame_size
        self._fast_room = max_frame_size - 40  # see _send_head
        self.state = State.DISCONNECTED
        self.version: str = self.offered[0]
        self.server_heart_beat: tuple[int, int] = (0, 0)
        self.send_interval = 0
        self.receive_interval = 0
        self.subscriptions: dict[str, SubscriptionState] = {}
        self.transactions: set[str] = set()
        self.pending_receipts: dict[str, str] = {}
        self._error: ProtocolError | None = None
        self._ids = ids if ids is not None else itertools.count(1)
        self._send_heads: dict[str | tuple[str, str], bytes] = {}
        self._heads: dict[tuple[str | bool | None, ...], object] = {}
        self._tails: dict[int, bytes] = {}
        self._tx_ends: dict[str, bytes] = {}

    # ------------------------------------------------------------ helpers

    def new_id(self, prefix: str) -> str:
        """A fresh id unique within this session (for receipts, subscriptions, transactions).

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        return f"{prefix}-{next(self._ids)}"

    def _check_alive(self) -> None:
        if self._error is not None:
            raise LocalProtocolError(f"session failed earlier: {self._error}")

    def _transition(self, command: str, *, local: bool) -> None:
        if self.state is State.CONNECTED and command in _STAY_CONNECTED:
            return  # the hot path: SEND/ACK/... while connected (no Enum hashing)
        self._check_alive()
        try:
            self.state = TRANSITIONS[(self.state, command)]
        except KeyError:
            if local:
                raise LocalProtocolError(
                    f"cannot send {command} while {self.state.value}"
                ) from None
            exc = RemoteProtocolError(f"unexpected {command} frame while {self.state.value}")
            self._fail(exc)
            raise exc from None

    def _fail(self, exc: ProtocolError) -> None:
        self._error = exc
        self.state = State.ERROR

    def _serialize(self, frame: Frame, version: str) -> bytes:
        """Transition for ``frame`` and serialize it; if it cannot be serialized (or is larger
        than ``max_frame_size``) nothing is sent, so the state does not move."""
        if len(frame.body) > self.max_frame_size:  # refused before a copy of it is made
            raise self._too_large(frame.command, len(frame.body))
        before = self.state
        self._transition(frame.command, local=True)
        try:
            data = frame.to_bytes(version, content_length=self.content_length)
        except LocalProtocolError:
            self.state = before
            raise
        if len(data) > self.max_frame_size + 1:  # the parser's measure: without the NUL
            self.state = before
            raise self._too_large(frame.command, len(data) - 1)
        return data

    def _too_large(self, command: str, size: int) -> FrameTooLarge:
        return FrameTooLarge(
            f"{command} frame of {size} bytes or more exceeds max_frame_size="
            f"{self.max_frame_size}; nothing was sent"
        )

    def _emit(self, frame: Frame, receipt: str | None = None) -> bytes:
        """Serialize ``frame`` (built with ``receipt``, when given) and track its receipt."""
        data = self._serialize(frame, self.version)
        if receipt is not None:
            self.pending_receipts[receipt] = frame.command
        return data

    # ------------------------------------------------------------ outgoing

    def connect(
        self,
        host: str | None = None,
        *,
        login: str | None = None,
        passcode: str | None = None,
        headers: HeaderInput | None = None,
        command: str = "CONNECT",
    ) -> bytes:
        """Bytes of the CONNECT (or STOMP) frame. ``host`` is the virtual host ("/" if None
        for 1.1+; RabbitMQ reads it as the vhost).
        Not thread-safe: the caller serializes calls (one thread or task at a time)."""
        if command not in ("CONNECT", "STOMP"):
            raise LocalProtocolError(f"command must be CONNECT or STOMP, got {command!r}")
        frame = commands.connect(
            host=host,
            versions=self.offered,
            login=login,
            passcode=passcode,
            heart_beat=self.client_heart_beat,
            headers=headers,
            command="STOMP" if command == "STOMP" else "CONNECT",
        )
        return self._serialize(frame, "1.0")  # CONNECT is never escaped

    def send(
        self,
        destination: str,
        body: bytes = b"",
        headers: HeaderInput | None = None,
        content_type: str | None = None,
        *,
        transaction: str | None = None,
        receipt: str | None = None,
    ) -> bytes:
        """Bytes of a SEND frame; ``transaction`` must be open.

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        if type(body) is bytes and self.state is State.CONNECTED:
            if not headers and transaction is None:
                # Hot path: the frame's head depends only on destination and content type, so
                # it is serialized once (by the one serializer) and reused; only the receipt
                # and content-length lines differ from frame to frame.
                prefix = self._send_heads.get(
                    destination if content_type is None else (destination, content_type)
                )
                if prefix is None:
                    prefix = self._send_head(destination, content_type)
                size = len(body)
                if size > self._fast_room:  # near max_frame_size: checked exactly
                    return self._send_frame(destination, body, None, content_type, None, receipt)
                tail = self._tails.get(size)
                if tail is None:
                    tail = self._tail(body)
                if receipt is not None:
                    encoded = _plain_bytes(receipt)
                    if encoded is None or size + len(encoded) > self._fast_room - 9:
                        return self._send_frame(
                            destination, body, None, content_type, None, receipt
                        )
                    self.pending_receipts[receipt] = "SEND"
                    return b"".join((prefix, b"receipt:", encoded, b"\n", tail, body, b"\0"))
                return b"".join((prefix, tail, body, b"\0"))
            elif (
                (headers is None or type(headers) is dict)
                and len(body) <= self.max_frame_size
                and (transaction is None or transaction in self.transactions)
            ):
                # Headers and/or a transaction: the head, its names validated and escaped once
                # by the one serializer, is cached per (destination, content type,
                # transaction?, receipt?, names) cut where the values go; one call joins the
                # values, the content-length line, the body and the NUL (C when built).
                if receipt is None:
                    lead: tuple[str, ...] | None = () if transaction is None else (transaction,)
                elif type(receipt) is str and receipt:
                    lead = (receipt,) if transaction is None else (transaction, receipt)
                else:
                    lead = None  # an empty or non-str receipt: the general path refuses it
                if lead is not None:
                    key = (
                        (destination, content_type, transaction is None, receipt is None, *headers)
                        if headers
                        else (destination, content_type, transaction is None, receipt is None)
                    )
                    head = self._heads.get(key)
                    if head is None:
                        head = self._send_head_of(key, len(lead))
                    if head is not None:
                        data = send_frame(head, lead, headers, body, self.content_length)
                        # None: a value to escape or refuse; too large: refused below
                        if data is not None and len(data) <= self.max_frame_size + 1:
                            if receipt is not None:
                                self.pending_receipts[receipt] = "SEND"
                            return data
        return self._send_frame(destination, body, headers, content_type, transaction, receipt)

    def _send_head_of(self, key: tuple[str | bool | None, ...], leading: int) -> object | None:
        """The head of a SEND for ``key`` (see :meth:`send`) cut where the values go
        (:data:`~stomp_enterprise.protocol.serializer.compile_send_head`):
        serialized by the general path with a marker for every value, so that names are
        validated and escaped exactly as there (a refused name raises here as it would
        there). ``None``: not cacheable (``content-length``, which must match each body, or a
        text holding the marker)."""
        destination, content_type, no_transaction, no_receipt, *names = key
        if "content-length" in names:
            return None
        frame = commands.send(  # validates every text as the general path does
            destination,  # type: ignore[arg-type]
            b"",
            dict.fromkeys(names, MARKER),  # type: ignore[arg-type]
            content_type=content_type,  # type: ignore[arg-type]
            transaction=None if no_transaction else MARKER,
            receipt=None if no_receipt else MARKER,
        )
        head = frame.to_bytes(self.version)[:-2].decode()  # without the blank line and NUL
        compiled: object | None = compile_send_head(head, leading + len(names))
        if compiled is not None:
            if len(self._heads) >= 256:  # bounded: names come from the application
                self._heads.clear()
            self._heads[key] = compiled
        return compiled

    def _tail(self, body: bytes) -> bytes:
        """The ``content-length`` line and blank line that end the head of a SEND of
        ``body`` (just the blank line when no content-length is due); cached by size."""
        size = len(body)
        if not size:
            tail = b"\n"
        elif not self.content_length:
            return b"\n" if b"\0" not in body else b"content-length:%d\n\n" % size
        else:
            tail = b"content-length:%d\n\n" % size
        if len(self._tails) < 4096:  # bounded: sizes come from the application
            self._tails[size] = tail
        return tail

    def _send_head(self, destination: str, content_type: str | None) -> bytes:
        """The cached head of a header-less SEND: ``SEND``, ``destination`` and
        ``content-type`` lines, each ending in LF (validated and escaped by the serializer)."""
        frame = commands.send(destination, b"", None, content_type=content_type)
        head = frame.to_bytes(self.version)[:-2]  # drop the blank line's LF and the NUL
        if len(self._send_heads) >= 256:  # bounded: destinations come from the application
            self._send_heads.clear()
            self._fast_room = self.max_frame_size - 40
        self._send_heads[destination if content_type is None else (destination, content_type)] = (
            head
        )
        # a cached head plus a body up to _fast_room bytes fits in max_frame_size whatever
        # the content-length line (at most 36 bytes) adds; beyond it the general path checks
        self._fast_room = min(self._fast_room, self.max_frame_size - 40 - len(head))
        return head

    def _send_frame(
        self,
        destination: str,
        body: bytes,
        headers: HeaderInput | None,
        content_type: str | None,
        transaction: str | None,
        receipt: str | None,
    ) -> bytes:
        if transaction is not None and transaction not in self.transactions:
            raise LocalProtocolError(f"transaction {transaction!r} is not open")
        frame = commands.send(
            destination,
            body,
            headers,
            content_type=content_type,
            transaction=transaction,
            receipt=receipt,
        )
        return self._emit(frame, receipt)

    def subscribe(
        self,
        destination: str,
        id: str,  # noqa: A002 - the STOMP header name
        *,
        ack: str = "auto",
        headers: HeaderInput | None = None,
        receipt: str | None = None,
    ) -> bytes:
        """Bytes of a SUBSCRIBE frame; remembers the subscription for :meth:`replay`.

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        if id in self.subscriptions:
            raise LocalProtocolError(f"subscription id {id!r} is already in use")
        frame = commands.subscribe(
            destination, id, ack=ack, headers=headers, receipt=receipt, version=self.version
        )
        data = self._emit(frame, receipt)
        extra = tuple(
            (k, v) for k, v in frame.raw_headers if k not in ("destination", "id", "ack", "receipt")
        )
        self.subscriptions[id] = SubscriptionState(id, destination, ack, extra)
        return data

    def unsubscribe(
        self,
        id: str,  # noqa: A002
        *,
        receipt: str | None = None,
        headers: HeaderInput | None = None,
    ) -> bytes:
        """Bytes of an UNSUBSCRIBE frame; forgets the subscription. ``headers`` carries
        broker extras (e.g. the ones that remove a durable subscription).

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        sub = self.subscriptions.get(id)
        if sub is None:
            raise LocalProtocolError(f"no subscription with id {id!r}")
        frame = commands.unsubscribe(
            id, destination=sub.destination, receipt=receipt, version=self.version, headers=headers
        )
        data = self._emit(frame, receipt)
        del self.subscriptions[id]
        return data

    def remove_subscription(
        self,
        id: str,  # noqa: A002
        headers: HeaderInput,
        *,
        destination: str | None = None,
        receipt: str | None = None,
    ) -> bytes:
        """Bytes of an UNSUBSCRIBE that removes broker-side state of a subscription this
        session does not hold (an inactive durable subscription: ActiveMQ's
        ``activemq.subscriptionName``). Nothing is remembered or forgotten.

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        if id in self.subscriptions:
            raise LocalProtocolError(f"subscription {id!r} is active: unsubscribe it first")
        frame = commands.unsubscribe(
            id, destination=destination, receipt=receipt, version=self.version, headers=headers
        )
        return self._emit(frame, receipt)

    def ack(
        self, message: Frame, *, transaction: str | None = None, receipt: str | None = None
    ) -> bytes:
        """Bytes of the version-correct ACK for ``message``.

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        if (
            receipt is None
            and self.version == "1.2"
            and self.state is State.CONNECTED
            and message.command == "MESSAGE"
        ):
            # Hot path: echo the MESSAGE's ``ack`` value as received. It was validated as
            # 1.2-escaped by the parser (1.1 escapes are a subset); a raw colon would need
            # escaping, so such a value takes the general path.
            parsed = message._headers  # built: a parsed frame without escapes can use it
            if parsed is not None and message._escaped is None and message._head is not None:
                raw = parsed.get("ack")
            else:
                raw = message.wire_value("ack")
            if (
                raw is not None
                and ":" not in raw
                and "\0" not in raw  # a hostile broker's NUL: refused by the general path
                and ("\\" not in raw or message._escaped is not None)  # not a 1.0 parse
            ):
                if transaction is None:
                    return b"ACK\nid:" + raw.encode() + b"\n\n\0"
                end = self._tx_ends.get(transaction)  # an open transaction with a plain id
                if end is not None and transaction in self.transactions:
                    return b"ACK\nid:" + raw.encode() + end
        if transaction is not None and transaction not in self.transactions:
            raise LocalProtocolError(f"transaction {transaction!r} is not open")
        return self._emit(
            commands.ack(message, self.version, transaction=transaction, receipt=receipt),
            receipt,
        )

    def nack(
        self,
        message: Frame,
        *,
        transaction: str | None = None,
        receipt: str | None = None,
        headers: HeaderInput | None = None,
    ) -> bytes:
        """Bytes of the version-correct NACK for ``message`` (1.1+).

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        if transaction is not None and transaction not in self.transactions:
            raise LocalProtocolError(f"transaction {transaction!r} is not open")
        return self._emit(
            commands.nack(
                message, self.version, transaction=transaction, receipt=receipt, headers=headers
            ),
            receipt,
        )

    def begin(self, transaction: str, *, receipt: str | None = None) -> bytes:
        """Bytes of BEGIN; the transaction is open from now on.

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        if transaction in self.transactions:
            raise LocalProtocolError(f"transaction {transaction!r} is already open")
        # the end of its frames on the fast paths (ACK, control): a plain id
        encoded = _plain_bytes(transaction)
        end = None if encoded is None else b"\ntransaction:" + encoded + b"\n\n\0"
        data = self._control("BEGIN", end, receipt)
        if data is None:
            data = self._emit(commands.begin(transaction, receipt=receipt), receipt)
        self.transactions.add(transaction)
        if end is not None:
            self._tx_ends[transaction] = end
        return data

    def commit(self, transaction: str, *, receipt: str | None = None) -> bytes:
        """Bytes of COMMIT; the transaction is closed.

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        return self._end("COMMIT", commands.commit, transaction, receipt)

    def abort(self, transaction: str, *, receipt: str | None = None) -> bytes:
        """Bytes of ABORT; the transaction is closed.

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        return self._end("ABORT", commands.abort, transaction, receipt)

    def _end(
        self, command: str, build: Callable[..., Frame], transaction: str, receipt: str | None
    ) -> bytes:
        if transaction not in self.transactions:
            raise LocalProtocolError(f"transaction {transaction!r} is not open")
        data = self._control(command, self._tx_ends.get(transaction), receipt)
        if data is None:
            data = self._emit(build(transaction, receipt=receipt), receipt)
        self.transactions.discard(transaction)
        self._tx_ends.pop(transaction, None)
        return data

    def _control(self, command: str, end: bytes | None, receipt: str | None) -> bytes | None:
        """The bytes of a ``BEGIN``, ``COMMIT`` or ``ABORT`` joined directly, for a
        transaction with a plain id and a plain ``receipt`` (``end``: the transaction's
        end of frame, see :meth:`begin`; None when its id is not plain): byte for byte what
        the general path writes, without building a :class:`Frame` (a transaction costs one
        of each). None: the general path decides (and refuses what it refuses)."""
        if end is None or self.state is not State.CONNECTED:
            return None
        if receipt is None:
            data = command.encode() + end
        else:
            encoded = _plain_bytes(receipt)
            if encoded is None:
                return None
            data = b"".join((command.encode(), end[:-2], b"receipt:", encoded, b"\n\n\0"))
        if len(data) > self.max_frame_size + 1:
            return None
        if receipt is not None:
            self.pending_receipts[receipt] = command
        return data

    def disconnect(self, *, receipt: str | None = None) -> bytes:
        """Bytes of DISCONNECT (ask for a receipt to know the broker processed everything).

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        return self._emit(commands.disconnect(receipt=receipt), receipt)

    def heartbeat(self) -> bytes:
        """One heart-beat EOL (only meaningful while connected).

        Not thread-safe: the caller serializes calls (one thread or task at a time).
        """
        if self.state not in (State.CONNECTED, State.DISCONNECTING):
            raise LocalProtocolError(f"cannot send a heart-beat while {self.state.value}")
        return b"\n"

    def replay(self) -> Iterator[bytes]:
        """After a reconnect (CONNECTED again): the SUBSCRIBE frames that restore every
        subscription with the same id, destination, ack mode and headers.
        Not thread-safe: the caller serializes calls (one thread or task at a time)."""
        if self.state is not State.CONNECTED:
            raise LocalProtocolError(f"cannot replay subscriptions while {self.state.value}")
        for sub in list(self.subscriptions.values()):
            frame = commands.subscribe(
                sub.destination, sub.id, ack=sub.ack, headers=sub.headers, version=self.version
            )
            yield self._emit(frame)

    def reset(self) -> ConnectionClosed:
        """Forget the connection (before reconnecting): pending receipts and open transactions
        are lost and returned; subscriptions are kept for :meth:`replay`.
        Not thread-safe: the caller serializes calls (one thread or task at a time)."""
        lost = ConnectionClosed(
            tuple(self.pending_receipts), tuple(sorted(self.transactions)), clean=False
        )
        self.pending_receipts.clear()
        self.transactions.clear()
        self._tx_ends.clear()
        self.state = State.DISCONNECTED
        self._error = None
        self.version = self.offered[0]
        self.parser = FrameParser(
            self.offered[0],
            max_frame_size=self.parser.max_frame_size,
            max_header_count=self.parser.max_header_count,
            max_header_length=self.parser.max_header_length,
            skip_oversize=self.parser.skip_oversize,
        )
        self.send_interval = self.receive_interval = 0
        return lost

    # ------------------------------------------------------------ incoming

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed received bytes; ``b""`` means the peer closed the stream.

        Not thread-safe: one thread at a time (in the client, the connecting thread during CONNECT).

        Raises:
            RemoteProtocolError: malformed bytes or an out-of-place frame; the session is then
                in ERROR and refuses every later call.
        """
        self._check_alive()
        if not data:
            clean = self.state is State.DISCONNECTING
            closed = self.reset()
            return [ConnectionClosed(closed.lost_receipts, closed.lost_transactions, clean)]
        parser = self.parser
        before = parser.heartbeats
        try:
            frames = parser.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            raise
        return self.receive_frames(frames, parser.heartbeats - before)

    def receive_frames(self, frames: list[Frame], heartbeats: int = 0) -> list[Event]:
        """The second half of :meth:`receive_data`: the events for ``frames`` that this
        session's :attr:`parser` produced (with ``heartbeats`` EOLs among them: a
        :class:`HeartbeatReceived` comes first), moving the state. A threaded client's one
        reader feeds the parser itself, holding no lock, and calls only this under the
        lock that guards the session.

        Not thread-safe: one thread at a time (in the client, its reader thread holding the
        session's lock).

        Raises:
            RemoteProtocolError: an out-of-place frame; the session is then in ERROR.
        """
        self._check_alive()
        events: list[Event] = [HeartbeatReceived(heartbeats)] if heartbeats else []
        receive = self._receive_frame
        for frame in frames:
            events.append(receive(frame))
        return events

    def _receive_frame(self, frame: Frame) -> Event:
        command = frame.command
        if self.state is State.CONNECTED:  # hot paths: the state stays CONNECTED
            if command == "MESSAGE":
                if type(frame) is OversizeFrame:
                    return MessageTooLarge(frame, frame.get("subscription"), frame.size)
                # built in C: a named tuple's own __new__ is a Python function (per MESSAGE)
                return _new_tuple(MessageReceived, (frame, frame.get("subscription")))
            if command == "RECEIPT":
                rid = frame.get("receipt-id")
                if rid is not None:
                    return ReceiptReceived(frame, rid, self.pending_receipts.pop(rid, None))
        self._transition(command, local=False)
        if command == "CONNECTED":
            return self._connected(frame)
        if command == "MESSAGE":
            if type(frame) is OversizeFrame:
                return MessageTooLarge(frame, frame.get("subscription"), frame.size)
            return MessageReceived(frame, frame.get("subscription"))
        if command == "RECEIPT":
            try:
                rid = commands.receipt_id(frame)
            except RemoteProtocolError as exc:
                self._fail(exc)
                raise
            return ReceiptReceived(frame, rid, self.pending_receipts.pop(rid, None))
        if command == "ERROR":
            error_rid = frame.get("receipt-id")
            answered = self.pending_receipts.pop(error_rid, None) if error_rid is not None else None
            return ErrorReceived(frame, commands.error_message(frame), error_rid, answered)
        unexpected = RemoteProtocolError(f"a broker may not send {command}")
        self._fail(unexpected)
        raise unexpected

    def _connected(self, frame: Frame) -> Connected:
        try:
            version = commands.negotiate_version(frame, self.offered)
            server_hb = commands.heart_beat(frame)
        except RemoteProtocolError as exc:
            self._fail(exc)
            raise
        self.version = version
        self.parser.version = version
        self._send_heads.clear()  # cached heads were escaped for the offered version
        self._heads.clear()
        self._fast_room = self.max_frame_size - 40
        self.server_heart_beat = server_hb
        self.send_interval, self.receive_interval = commands.negotiate_heart_beat(
            self.client_heart_beat, server_hb
        )
        return Connected(
            frame,
            version,
            server_hb,
            self.send_interval,
            self.receive_interval,
            frame.get("server"),
            frame.get("session"),
        )
