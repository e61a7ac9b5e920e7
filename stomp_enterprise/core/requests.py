"""Request/reply bookkeeping shared by the threaded and the asyncio client.

Sans-I/O: no socket, thread, asyncio or clock. Two pieces:

* :func:`reply_endpoint` chooses, from the CONNECTED ``server`` header, how a client gets
  its replies: which destination it puts in ``reply-to``, whether it must SUBSCRIBE to it
  first, and the ``subscription`` header the replies arrive with.
* :class:`PendingRequests` is the table of requests waiting for their reply, keyed by
  ``correlation-id`` and generic over the waiter (a ``concurrent.futures.Future`` in the
  threaded client, an ``asyncio.Future`` in the asyncio one). It counts replies that found
  no waiter (late: after the request's timeout, or after its connection was lost).

Which reply destination, per broker (each verified on the real broker, see
``integration/test_request_reply.py``):

===================== ====================================== ============================
broker                ``reply-to`` the client sends           how replies reach it
===================== ====================================== ============================
RabbitMQ              ``/temp-queue/<name>``                 no SUBSCRIBE: the broker
                                                             creates a private queue on
                                                             the first SEND with it,
                                                             rewrites ``reply-to`` to
                                                             ``/reply-queue/...`` and
                                                             delivers with
                                                             ``subscription:/temp-queue/
                                                             <name>``
ActiveMQ Classic,     ``/temp-queue/<name>``                 SUBSCRIBE to
Apollo, the testing                                          ``/temp-queue/<name>``; the
broker                                                       broker maps both to one
                                                             temporary queue of the
                                                             connection and rewrites
                                                             ``reply-to``
Artemis, unknown      ``/queue/<prefix>.<name>``             SUBSCRIBE to that private
                                                             queue (a unique name per
                                                             client; Artemis deletes an
                                                             auto-created queue when its
                                                             last consumer leaves)
===================== ====================================== ============================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from stomp_enterprise.errors import ConfigError, RequestTimeout

__all__ = [
    "CORRELATION_HEADER",
    "REPLY_TO_HEADER",
    "PendingRequests",
    "Reply",
    "ReplyEndpoint",
    "RequestTimeout",
    "reply_endpoint",
    "reply_headers",
    "reply_parts",
]

CORRELATION_HEADER = "correlation-id"
REPLY_TO_HEADER = "reply-to"

W = TypeVar("W")


@dataclass(frozen=True)
class ReplyEndpoint:
    """How a client receives its replies on one broker.

    Attributes:
        reply_to: the ``reply-to`` header value requests carry.
        subscribe: the destination to SUBSCRIBE to before the first request, or ``None``
            when the broker subscribes the connection itself (RabbitMQ's temp queues).
        subscription_id: the ``subscription`` header the replies arrive with.
        headers: extra SUBSCRIBE headers.
    """

    reply_to: str
    subscribe: str | None
    subscription_id: str
    headers: tuple[tuple[str, str], ...] = ()


def reply_endpoint(server: str | None, name: str) -> ReplyEndpoint:
    """The reply destination of a client named ``name`` (unique per client: it names a
    private queue on brokers without temporary queues) on the broker whose CONNECTED
    ``server`` header is ``server``.

    Raises:
        ConfigError: ``name`` is empty or holds a character outside ``[A-Za-z0-9._-]``.
    """
    if not name or any(not (c.isascii() and (c.isalnum() or c in "._-")) for c in name):
        raise ConfigError(f"reply destination name must match [A-Za-z0-9._-]+, got {name!r}")
    temp = f"/temp-queue/{name}"
    server = server or ""
    if server.startswith("RabbitMQ"):
        return ReplyEndpoint(temp, None, temp)
    if server.startswith("ActiveMQ-Artemis") or not server.startswith(
        ("ActiveMQ", "apache-apollo", "stomp-enterprise-testing")
    ):
        queue = f"/queue/stomp-reply.{name}"
        return ReplyEndpoint(queue, queue, f"reply-{name}")
    return ReplyEndpoint(temp, temp, f"reply-{name}")


@dataclass
class _Entry(Generic[W]):
    waiter: W
    owner: object  # what the request went out on (the connection): lost together


@dataclass
class PendingRequests(Generic[W]):
    """Requests waiting for their reply, by ``correlation-id``.

    Not thread-safe: the threaded client calls it under its own lock; the asyncio client
    from its event loop.

    Attributes:
        started: requests registered so far.
        replied: replies that found their waiter.
        late: replies that found none (after a timeout or a loss) and were dropped.
        timed_out: requests given up by their caller (:meth:`cancel`).
        lost: requests failed because their connection was lost (:meth:`lose`).
    """

    prefix: str
    started: int = 0
    replied: int = 0
    late: int = 0
    timed_out: int = 0
    lost: int = 0
    _entries: dict[str, _Entry[W]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.prefix:
            raise ConfigError("the correlation-id prefix must not be empty")

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, waiter: W, owner: object) -> str:
        """Register ``waiter`` for a new request going out on ``owner``; returns its
        ``correlation-id`` (``<prefix>-<n>``, unique for this table)."""
        self.started += 1
        correlation_id = f"{self.prefix}-{self.started}"
        self._entries[correlation_id] = _Entry(waiter, owner)
        return correlation_id

    def resolve(self, headers: Mapping[str, str]) -> W | None:
        """The waiter of the reply with these headers, removed from the table; ``None`` (and
        counted as late) when no request waits for it."""
        entry = self._entries.pop(headers.get(CORRELATION_HEADER) or "", None)
        if entry is None:
            self.late += 1
            return None
        self.replied += 1
        return entry.waiter

    def forget(self, correlation_id: str) -> None:
        """The request could not be sent: forget it (not counted as anything)."""
        self._entries.pop(correlation_id, None)

    def cancel(self, correlation_id: str) -> bool:
        """The caller gave up (timeout): forget the request. False when it was already
        resolved or lost (a reply or a loss raced the timeout)."""
        if self._entries.pop(correlation_id, None) is None:
            return False
        self.timed_out += 1
        return True

    def lose(self, owner: object) -> list[tuple[str, W]]:
        """``owner`` (a connection) is lost: its requests can get no reply any more (their
        reply destination went with it). Returns them, removed, for the caller to fail."""
        gone = [(cid, e.waiter) for cid, e in self._entries.items() if e.owner is owner]
        for cid, _ in gone:
            del self._entries[cid]
        self.lost += len(gone)
        return gone

    def take_all(self) -> list[tuple[str, W]]:
        """Every waiting request, removed (the client closes)."""
        gone = [(cid, e.waiter) for cid, e in self._entries.items()]
        self._entries.clear()
        self.lost += len(gone)
        return gone


@dataclass(frozen=True)
class Reply:
    """What a :meth:`serve` handler may return instead of a plain body, to set headers or
    the content type of its reply.

    Attributes:
        body: the reply body (``str`` is encoded by ``content_type``'s charset).
        headers: extra headers of the reply SEND.
        content_type: its ``content-type``.
    """

    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None


def reply_headers(
    request: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> tuple[str, dict[str, str]] | None:
    """Where and with which headers the reply to ``request`` (a MESSAGE's headers) goes:
    ``(reply_to, headers)`` with the request's ``correlation-id``; ``None`` when the
    request has no ``reply-to``."""
    reply_to = request.get(REPLY_TO_HEADER)
    if not reply_to:
        return None
    headers = dict(extra or {})
    correlation_id = request.get(CORRELATION_HEADER)
    if correlation_id is not None:
        headers[CORRELATION_HEADER] = correlation_id
    return reply_to, headers


def reply_parts(result: object) -> tuple[bytes | str, Mapping[str, str], str | None]:
    """A :meth:`serve` handler's return value as ``(body, headers, content_type)``:
    ``bytes``/``bytearray``/``memoryview``/``str`` is the body, ``None`` an empty body, a
    :class:`Reply` sets headers and content type too.

    Raises:
        ConfigError: any other type (the handler's error policy then applies).
    """
    if result is None:
        return b"", {}, None
    if isinstance(result, bytes | str):
        return result, {}, None
    if isinstance(result, bytearray | memoryview):
        return bytes(result), {}, None
    if isinstance(result, Reply):
        return result.body, result.headers, result.content_type
    raise ConfigError(
        f"a serve() handler must return bytes, str, None or a Reply, got {type(result).__name__}"
    )
