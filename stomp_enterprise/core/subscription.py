"""What a subscription is, apart from how its messages are delivered: its options, their
validation, and the decisions of its error policy (sans-I/O, shared by both shells).

A shell asks :func:`failure_action` (a handler raised) or :func:`oversize_action` (a MESSAGE
beyond ``max_frame_size`` arrived without its body) what to do, and carries the answer out
with its own blocking or awaitable calls; a forward goes with the headers of
:func:`forward_headers`. So the policy table is written, and tested, once.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

from stomp_enterprise.errors import AckError, ConfigError, FrameTooLarge

if TYPE_CHECKING:
    from stomp_enterprise.core.codecs import Codec

__all__ = [
    "FAILURE_HEADER",
    "ORIGINAL_DESTINATION_HEADER",
    "POLICIES",
    "Delivery",
    "ErrorPolicy",
    "PolicyAction",
    "RetiredRoutes",
    "SubscriptionBase",
    "ack_refusal",
    "delivery",
    "failure_action",
    "forward_headers",
    "oversize_action",
    "oversize_error",
]

log = logging.getLogger("stomp_enterprise.client.connection")

#: What to do when a handler raises: ``"disconnect"`` (graceful disconnect, stompest's
#: poison-pill default), ``"nack"``, ``"ack"`` (drop it), ``"ignore"`` (leave it unacked), or a
#: callable ``(message, error)``. ``error_destination=`` on subscribe forwards then acks.
ErrorPolicy = Literal["disconnect", "nack", "ack", "ignore"] | Callable[[Any, BaseException], Any]

POLICIES: Final = ("disconnect", "nack", "ack", "ignore")

#: Header a forwarded message carries: the failure, ``"Type: text"`` (at most 1000 chars).
FAILURE_HEADER: Final = "x-stomp-enterprise-error"
#: Header a forwarded message carries: where it was delivered from.
ORIGINAL_DESTINATION_HEADER: Final = "x-original-destination"

#: MESSAGE headers that must not be copied onto a forwarded SEND.
_NOT_FORWARDED = frozenset(
    {"subscription", "ack", "message-id", "destination", "content-length", "receipt", "transaction"}
)


class PolicyAction(enum.Enum):
    """What a shell does with a message its handler failed on (or that was too large)."""

    FORWARD = "forward"  #: send it to ``error_destination`` (receipted), then ack it
    CALL = "call"  #: call the ``on_error`` callable with ``(message, error)``
    NACK = "nack"
    ACK = "ack"
    DISCONNECT = "disconnect"  #: disconnect the client gracefully
    NOTHING = "nothing"  #: leave it (auto ack, ``"ignore"``)


class SubscriptionBase:
    """The options of one subscription, validated; each shell subclasses it with delivery.

    Attributes:
        id: the subscription id (the routing key for its messages; kept across reconnects).
        destination: what was subscribed to.
        ack: the ack mode.
        headers: extra SUBSCRIBE headers.
        handler: the callable messages go to, or None (then the subscription is a queue).
        on_error: the error policy (see :data:`ErrorPolicy`).
        error_destination: where a failed message is forwarded (overrides ``on_error``).
        model: what ``message.model`` validates the body as (``None``: the codec's plain
            objects); see :mod:`stomp_enterprise.core.codecs`.
        codec: the codec that decodes ``message.model`` (``None``: chosen by content type).

    Raises:
        ConfigError: a handler or policy that is not callable, an unknown policy name, an
            empty ``error_destination``.
    """

    def __init__(
        self,
        id: str,  # noqa: A002 - the STOMP header name
        destination: str,
        ack: str,
        headers: tuple[tuple[str, str], ...],
        handler: Callable[..., Any] | None,
        on_error: ErrorPolicy,
        error_destination: str | None,
    ) -> None:
        if handler is not None and not callable(handler):
            raise ConfigError(f"handler must be callable, got {handler!r}")
        if not (callable(on_error) or on_error in POLICIES):
            raise ConfigError(f"on_error must be one of {POLICIES} or a callable, got {on_error!r}")
        if error_destination is not None and not error_destination:
            raise ConfigError("error_destination must be a non-empty destination")
        self.id = id
        self.destination = destination
        self.ack = ack
        self.headers = headers
        self.handler = handler
        self.on_error = on_error
        self.error_destination = error_destination
        self.model: Any | None = None  # set by the shell from subscribe(model=)
        self.codec: Codec | None = None  # set by the shell from subscribe(codec=)
        self._cutoff = -1  # the connection's read count when UNSUBSCRIBE went out
        self._ended = False

    @property
    def active(self) -> bool:
        """False once unsubscribed or the client closed. Any thread."""
        return not self._ended

    def __repr__(self) -> str:
        return (
            f"Subscription(id={self.id!r}, destination={self.destination!r}, ack={self.ack!r}, "
            f"active={self.active})"
        )


class Delivery(enum.Enum):
    """Whether a message taken from a subscription's queue goes to its handler."""

    DELIVER = "deliver"
    SKIP = "skip"  #: a client-ack message that can no longer be acked: the broker redelivers
    DISCARD = "discard"  #: an auto-ack message the client closed before: report it


def handles_client_ack(sub: SubscriptionBase, alive: bool) -> bool:
    """Whether a client-ack message of ``sub``, arrived on a connection that is ``alive`` (or
    not), goes to the handler: only while ``sub`` is active and the connection alive, since
    otherwise it cannot be acked (the broker takes it back). :func:`delivery`'s rule for
    client acks, and the whole rule for a shell's per-message fast path."""
    return alive and not sub._ended


def delivery(sub: SubscriptionBase, *, alive: bool, closing: bool) -> Delivery:
    """Whether to run the handler for a message of ``sub`` that arrived on a connection
    that is ``alive`` (or not). A client-ack message is skipped once ``sub`` ended or its
    connection is gone (it cannot be acked; the broker takes it back). An auto-ack message
    is the broker's no more: it is delivered even after an unsubscribe (it was read before
    the UNSUBSCRIBE went out), unless the client is closing and gave up waiting for its
    handlers (then it is discarded, and reported)."""
    if sub.ack != "auto":
        return Delivery.DELIVER if handles_client_ack(sub, alive) else Delivery.SKIP
    if not sub.active and closing:
        return Delivery.DISCARD
    return Delivery.DELIVER


def failure_action(sub: SubscriptionBase) -> PolicyAction:
    """What to do after ``sub``'s handler raised: its ``error_destination`` wins, then the
    ``on_error`` policy. ``"ack"`` on an auto-ack subscription is nothing to do."""
    if sub.error_destination is not None:
        return PolicyAction.FORWARD
    on_error = sub.on_error
    if callable(on_error):
        return PolicyAction.CALL
    if on_error == "nack":
        return PolicyAction.NACK
    if on_error == "ack":
        return PolicyAction.ACK if sub.ack != "auto" else PolicyAction.NOTHING
    if on_error == "disconnect":
        return PolicyAction.DISCONNECT
    return PolicyAction.NOTHING


def oversize_action(sub: SubscriptionBase, version: str, *, alive: bool) -> PolicyAction:
    """What to do with a MESSAGE beyond ``max_frame_size`` whose body was skipped (its
    connection survives): the broker must not redeliver it for ever, so forward its headers
    to ``error_destination`` and ack, nack it with ``on_error="nack"`` (STOMP 1.1+), or ack
    it (client acks). Nothing with auto acks, or when its connection is gone (it cannot be
    acked; the broker redelivers it and it is skipped again)."""
    if sub.ack != "auto" and not alive:
        return PolicyAction.NOTHING
    if sub.error_destination is not None:
        return PolicyAction.FORWARD
    if sub.on_error == "nack" and sub.ack != "auto" and version != "1.0":
        return PolicyAction.NACK
    if sub.ack != "auto":
        return PolicyAction.ACK
    return PolicyAction.NOTHING


def oversize_error(
    message_id: str | None, size: int, sub: SubscriptionBase, max_frame_size: int
) -> FrameTooLarge:
    """The error the ``handler_error`` listeners get for an oversize MESSAGE."""
    return FrameTooLarge(
        f"MESSAGE {message_id!r} of {size} bytes on subscription {sub.id} "
        f"exceeds max_frame_size={max_frame_size}; body skipped"
    )


def forward_headers(
    headers: Mapping[str, str], exc: BaseException, destination: str | None, subscribed: str
) -> dict[str, str]:
    """The headers of the SEND that forwards a failed message: its own (less the ones that
    belong to the delivery), plus :data:`FAILURE_HEADER` and
    :data:`ORIGINAL_DESTINATION_HEADER` (``destination``, or what was ``subscribed``)."""
    forwarded = {k: v for k, v in headers.items() if k not in _NOT_FORWARDED}
    forwarded[FAILURE_HEADER] = f"{type(exc).__name__}: {exc}"[:1000]
    forwarded[ORIGINAL_DESTINATION_HEADER] = destination or subscribed
    return forwarded


def ack_refusal(message: Any, connection: object, *, alive: bool, verb: str) -> AckError | None:
    """Why ``message`` cannot be acked (``verb``: ack/nack) on ``connection`` (``alive``
    or not), or None: it came on another connection, its subscription is auto-ack, or its
    connection is lost (the broker redelivers it)."""
    if message._connection is not connection:
        return AckError(f"cannot {verb} {message!r}: it came on another connection")
    if message.subscription.ack == "auto":
        return AckError(f"cannot {verb} {message!r}: its subscription is auto-ack")
    if not alive:
        return AckError(
            f"cannot {verb} {message!r}: the connection it arrived on is lost; the broker "
            "will redeliver it"
        )
    return None


class RetiredRoutes:
    """The subscriptions unsubscribed on one connection, still routed for the reads made
    before their UNSUBSCRIBE went out (bounded: the oldest get no more messages).

    A MESSAGE read after the UNSUBSCRIBE is dropped: the broker redelivers it when it is
    unacked; an auto-ack one is counted in :attr:`dropped` for the shell to report
    (``discarded`` event). Not thread-safe: the connection's reader owns routing.
    """

    def __init__(self, kept: int = 256) -> None:
        self._kept = kept
        self._subs: dict[str, SubscriptionBase] = {}
        self.dropped: dict[str, int] = {}  #: subscription id -> auto-ack messages dropped

    def retire(self, sub: SubscriptionBase, cutoff: int) -> None:
        """``sub`` left the routing table: deliver the messages of reads up to ``cutoff``."""
        sub._cutoff = cutoff
        self._subs[sub.id] = sub
        while len(self._subs) > self._kept:
            del self._subs[next(iter(self._subs))]

    def route(self, name: str | None, message_id: str | None, reads: int) -> Any:
        """The retired subscription a MESSAGE of read number ``reads`` still goes to, or
        None (dropped, counted or logged)."""
        sub = self._subs.get(name or "")
        if sub is None:
            log.warning(
                "MESSAGE for unknown subscription %r dropped (message-id %r)", name, message_id
            )
            return None
        if sub._cutoff >= reads:
            return sub
        if sub.ack == "auto":
            self.dropped[sub.id] = self.dropped.get(sub.id, 0) + 1
        else:
            log.debug("MESSAGE for unsubscribed %s: the broker redelivers it", sub.id)
        return None

    def take_dropped(self) -> dict[str, int]:
        """The counts of :attr:`dropped` since the last call."""
        dropped, self.dropped = self.dropped, {}
        return dropped
