"""The client's counters, as one snapshot type and one set of names.

The same names are what a metrics hook receives (``hook(name, value, attributes)``) and what
:class:`ClientStats` holds, so a user without OpenTelemetry sees exactly the numbers the
OpenTelemetry instruments get (see :data:`INSTRUMENTS` in
:mod:`stomp_enterprise.core.telemetry`). Sans-I/O: no thread, lock or clock here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = ["COUNTERS", "ClientStats", "Counters"]

#: counter name -> what it counts. Every one is a sum since observation started.
COUNTERS: Final = {
    "sent": "messages sent (SEND frames accepted by send(), replies included)",
    "sent_bytes": "body bytes of those messages",
    "received": "messages handed to a handler or returned by get()",
    "received_bytes": "body bytes of those messages",
    "redelivered": "received messages the broker marked redelivered",
    "acked": "messages acknowledged (ACK frames)",
    "nacked": "messages negatively acknowledged (NACK frames)",
    "handler_calls": "handler calls finished (returned or raised)",
    "handler_errors": "handler calls that raised",
    "handler_seconds": "seconds spent in handlers (sum)",
    "reconnects": "connections made after a loss",
    "requests": "request() calls that sent their request",
    "replies": "replies matched to a waiting request",
    "late_replies": "replies that found no waiting request (after its timeout or loss) and "
    "were dropped",
    "request_timeouts": "requests that got no reply within their timeout",
    "requests_lost": "requests failed because their connection was lost before the reply",
}


@dataclass(frozen=True)
class ClientStats:
    """A snapshot of a client's counters (``client.stats()``): sums since
    ``client.observe()`` was called, plus the current consume backlog.

    Attributes:
        sent: messages sent (replies included).
        sent_bytes: their body bytes.
        received: messages handed to a handler or returned by ``get()``.
        received_bytes: their body bytes.
        redelivered: received messages marked ``redelivered``.
        acked: ACKs sent.
        nacked: NACKs sent.
        handler_calls: handler calls finished.
        handler_errors: handler calls that raised.
        handler_seconds: seconds spent in handlers.
        reconnects: connections made after a loss.
        requests: requests sent by ``request()``.
        replies: replies matched to their request.
        late_replies: replies dropped because no request waited for them any more.
        request_timeouts: requests that timed out.
        requests_lost: requests failed by a connection loss.
        backlog_messages: messages handed on and not yet finished (now).
        backlog_bytes: their body bytes (now).
    """

    sent: int = 0
    sent_bytes: int = 0
    received: int = 0
    received_bytes: int = 0
    redelivered: int = 0
    acked: int = 0
    nacked: int = 0
    handler_calls: int = 0
    handler_errors: int = 0
    handler_seconds: float = 0.0
    reconnects: int = 0
    requests: int = 0
    replies: int = 0
    late_replies: int = 0
    request_timeouts: int = 0
    requests_lost: int = 0
    backlog_messages: int = 0
    backlog_bytes: int = 0


class Counters:
    """The mutable sums behind :class:`ClientStats`. Not thread-safe: the caller holds a
    lock (the threaded client) or runs on one event loop (the asyncio client)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[str, float] = dict.fromkeys(COUNTERS, 0)

    def add(self, name: str, value: float) -> None:
        """Add ``value`` to counter ``name`` (one of :data:`COUNTERS`)."""
        self.values[name] += value

    def snapshot(self, backlog_messages: int = 0, backlog_bytes: int = 0) -> ClientStats:
        """The sums as a :class:`ClientStats`, with the given backlog."""
        values: dict[str, Any] = {
            name: value if name == "handler_seconds" else int(value)
            for name, value in self.values.items()
        }
        return ClientStats(**values, backlog_messages=backlog_messages, backlog_bytes=backlog_bytes)
