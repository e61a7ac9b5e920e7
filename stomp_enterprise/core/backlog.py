"""The consume backlog of one connection as a pure counter with high and low water marks.

Messages handed from the reader to the application (a handler not yet finished, a pull
queue not yet read) are counted in messages and bytes. Above either bound the reader stops
reading the socket, so TCP pushes back on the broker; it reads again once both counts are at
or below the low-water marks. Not thread-safe: the threaded client guards it with a lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from stomp_enterprise.core.flavour import Flavour, flavour_of

__all__ = [
    "PREFETCH_HEADERS",
    "Backlog",
    "BacklogInfo",
    "prefetch_for",
    "prefetch_header",
    "with_prefetch",
]


@dataclass(frozen=True)
class BacklogInfo:
    """A snapshot of a connection's consume backlog (``Client.backlog``).

    Attributes:
        messages: messages handed to the application and not yet finished.
        bytes: their body bytes.
        paused: whether the reader has stopped reading the socket because of them.
        pauses: how often the bound was reached on this connection.
    """

    messages: int
    bytes: int
    paused: bool
    pauses: int


class Backlog:
    """Messages and bytes handed to the application and not yet finished.

    Args:
        max_messages: pause above this many messages.
        max_bytes: pause above this many body bytes.
        low_water: resume once both counts are at most this fraction of their bound.
    """

    __slots__ = (
        "bytes",
        "low_bytes",
        "low_messages",
        "max_bytes",
        "max_messages",
        "messages",
        "paused",
        "pauses",
    )

    def __init__(self, max_messages: int, max_bytes: int, low_water: float = 0.5) -> None:
        if max_messages < 1 or max_bytes < 1 or not 0.0 <= low_water < 1.0:
            raise ValueError("bounds must be >= 1 and 0 <= low_water < 1")
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.low_messages = int(max_messages * low_water)
        self.low_bytes = int(max_bytes * low_water)
        self.messages = 0
        self.bytes = 0
        self.paused = False
        self.pauses = 0  # how often the bound was reached (observability)

    def add(self, messages: int, size: int) -> bool:
        """Messages were handed over; returns True when the reader must pause now."""
        self.messages += messages
        self.bytes += size
        if not self.paused and (self.messages > self.max_messages or self.bytes > self.max_bytes):
            self.paused = True
            self.pauses += 1
        return self.paused

    def done(self, messages: int, size: int) -> bool:
        """Messages were finished; returns True when this lets a paused reader resume."""
        self.messages -= messages
        self.bytes -= size
        return self._may_resume()

    def info(self) -> BacklogInfo:
        """A snapshot of the counts."""
        return BacklogInfo(self.messages, self.bytes, self.paused, self.pauses)

    def _may_resume(self) -> bool:
        if self.paused and self.messages <= self.low_messages and self.bytes <= self.low_bytes:
            self.paused = False
            return True
        return False


#: SUBSCRIBE headers by which brokers bound what they send ahead of the client's acks.
PREFETCH_HEADERS: Final = (
    "activemq.prefetchSize",
    "prefetch-count",
    "consumer-window-size",
    "credit",
)


def prefetch_header(server: str | None, messages: int, size: int) -> tuple[str, str] | None:
    """The broker's own prefetch header for a client-ack subscription, chosen by the
    CONNECTED ``server`` header: ``messages`` for ActiveMQ Classic
    (``activemq.prefetchSize``) and RabbitMQ (``prefetch-count``), ``size`` bytes for
    Artemis (``consumer-window-size``), ``messages`` for Apollo (``credit:<messages>,0``:
    Apollo keeps sending while *either* credit lasts, measured on 1.7.1: ``credit:10,20000``
    let 19 messages of 1 KB through, ``credit:10,0`` ten).
    ``None`` for a broker we know no such header of."""
    return prefetch_for(flavour_of(server), messages, size)


def prefetch_for(flavour: Flavour, messages: int, size: int) -> tuple[str, str] | None:
    """:func:`prefetch_header` by :class:`~stomp_enterprise.core.flavour.Flavour`."""
    if flavour is Flavour.ARTEMIS:
        return ("consumer-window-size", str(size))
    if flavour is Flavour.ACTIVEMQ:
        return ("activemq.prefetchSize", str(messages))
    if flavour is Flavour.RABBITMQ:
        return ("prefetch-count", str(messages))
    if flavour is Flavour.APOLLO:
        return ("credit", f"{messages},0")
    return None


def with_prefetch(
    headers: Mapping[str, str] | None,
    server: str | None,
    *,
    max_messages: int,
    max_bytes: int,
    queue_size: int,
    pull: bool,
) -> Mapping[str, str] | None:
    """The SUBSCRIBE headers of a client-ack subscription: when they set no prefetch, the
    broker's own prefetch header is added (:func:`prefetch_header`), sized so two full
    subscriptions fit in the backlog: half its message bound (a pull one: at most
    ``queue_size``), and for Artemis, which counts bytes, half its byte bound."""
    if headers and any(name in headers for name in PREFETCH_HEADERS):
        return headers
    messages = max(1, max_messages // 2)
    if pull:
        messages = min(messages, queue_size)
    header = prefetch_header(server, messages, max(1, max_bytes // 2))
    if header is None:
        return headers
    return {**(headers or {}), header[0]: header[1]}
