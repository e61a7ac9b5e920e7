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

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from stomp_enterprise.core.telemetry import Observer
from stomp_enterprise.errors import ConfigError, ConnectionLost

__all__ = [
    "CORRELATION_HEADER",
    "check_request",
    "closed_error",
    "lost_error",
    "reply_for",
    "REPLY_TO_HEADER",
    "PendingRequests",
    "RequestBook",
    "Waiter",
    "Reply",
    "ReplyEndpoint",
    "reply_endpoint",
    "reply_headers",
    "reply_parts",
]

log = logging.getLogger("stomp_enterprise.requests")

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


def reply_for(
    request: Mapping[str, str], result: object
) -> tuple[str, bytes | str, dict[str, str], str | None] | None:
    """The reply a :meth:`serve` handler's ``result`` makes to ``request`` (a MESSAGE's
    headers): ``(reply_to, body, headers, content_type)``; ``None`` when the request has no
    ``reply-to`` (nothing to answer).

    Raises:
        ConfigError: ``result`` is of a type a reply cannot be made of.
    """
    body, extra, content_type = reply_parts(result)
    target = reply_headers(request, extra)
    if target is None:
        return None
    return target[0], body, target[1], content_type


def check_request(
    timeout: object, headers: Mapping[str, str] | None, options: Mapping[str, object] = {}
) -> None:
    """Validate the arguments of ``request()``.

    Raises:
        ConfigError: ``timeout`` is not a positive number, or ``headers`` set
            ``correlation-id`` or ``reply-to``, or the typed ``options`` set
            ``correlation_id`` or ``reply_to`` (the client's own).
    """
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise ConfigError(f"request timeout must be a positive number, got {timeout!r}")
    if headers and (CORRELATION_HEADER in headers or REPLY_TO_HEADER in headers):
        raise ConfigError(
            "request() sets correlation-id and reply-to itself; do not pass them in headers"
        )
    refused = sorted(name for name in ("correlation_id", "reply_to") if name in options)
    if refused:
        raise ConfigError(
            f"request() sets correlation-id and reply-to itself; do not pass "
            f"{' or '.join(name + '=' for name in refused)}"
        )


def lost_error(correlation_id: str, error: BaseException) -> ConnectionLost:
    """What a request waiting on a lost connection fails with."""
    return ConnectionLost(
        f"request {correlation_id!r} got no reply before its connection was lost ({error}); "
        "it may or may not have been processed"
    )


def closed_error(correlation_id: str) -> ConnectionLost:
    """What a request still waiting when the client closes fails with."""
    return ConnectionLost(f"request {correlation_id!r}: the client was closed")


class Waiter(Protocol):
    """What a request waits on: a ``concurrent.futures.Future`` or an ``asyncio.Future``."""

    def done(self) -> bool: ...

    def set_result(self, result: Any, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...


class _Received(Protocol):  # a received reply: what the book reads of it
    @property
    def headers(self) -> Mapping[str, str]: ...


WaiterT = TypeVar("WaiterT", bound=Waiter)


class _Outcome:
    """What :meth:`RequestBook.observed` yields: the caller stores the reply in it."""

    reply: _Received | None = None


class RequestBook(Generic[WaiterT]):
    """The shell-independent half of a client's request/reply: the table of waiting
    requests, the reply endpoint chosen for the client, and what each outcome counts.

    Args:
        name: the client's reply name (a random id): its reply destination and the prefix
            of its correlation ids.
        lock: guards the table (a ``threading.Lock`` in the threaded client, whose reader
            resolves replies; ``contextlib.nullcontext()`` on an event loop).
        observer: returns the client's current :class:`~stomp_enterprise.core.telemetry.Observer`
            (or ``None``).
    """

    def __init__(
        self,
        name: str,
        lock: AbstractContextManager[Any],
        observer: Callable[[], Observer | None],
    ) -> None:
        self.name = name
        self.table: PendingRequests[WaiterT] = PendingRequests(name)
        self.endpoint: ReplyEndpoint | None = None
        self.subscription: Any = None  # the shell's reply subscription, once made
        self._lock = lock
        self._observer = observer

    def needs_setup(
        self, subscriptions: Mapping[str, Any], server: str | None
    ) -> ReplyEndpoint | None:
        """Before a request: ``None`` when the reply subscription is in place (it is replayed
        after a reconnect); else the endpoint to set up on the broker whose CONNECTED
        ``server`` is ``server`` (then call :meth:`ready`)."""
        sub = self.subscription
        if sub is not None and subscriptions.get(sub.id) is sub:
            return None
        return reply_endpoint(server, self.name)

    @staticmethod
    def subscription_args(endpoint: ReplyEndpoint) -> tuple[Any, ...]:
        """The shell's ``Subscription`` arguments after the client for the reply
        subscription: its id and destination, auto ack, no headers, no handler (replies
        resolve requests as they arrive), errors ignored, no error destination."""
        return (endpoint.subscription_id, endpoint.reply_to, "auto", (), None, "ignore", None)

    def ready(self, endpoint: ReplyEndpoint, subscription: Any) -> None:
        """The reply subscription for ``endpoint`` is made (subscribed, or registered for
        the broker's own subscription)."""
        self.endpoint = endpoint
        self.subscription = subscription
        log.debug("reply destination %s", endpoint)

    @contextlib.contextmanager
    def observed(
        self,
        destination: str,
        timeout: object,
        headers: Mapping[str, str] | None,
        options: Mapping[str, object] = {},
    ) -> Iterator[_Outcome]:
        """Bracket one ``request()``: its arguments checked, its ``request`` span (with
        OpenTelemetry) current, its outcome counted. The caller sets ``.reply`` on what
        this yields.

        Raises:
            ConfigError: see :func:`check_request`.
        """
        check_request(timeout, headers, options)
        observer = self._observer()
        span = observer.requesting(destination) if observer is not None else None
        outcome = _Outcome()
        error: BaseException | None = None
        try:
            yield outcome
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.outcome(destination, error)
            if observer is not None:
                reply = outcome.reply
                observer.requested(span, destination, error, reply.headers if reply else None)

    def headers(self, headers: Mapping[str, str] | None, correlation_id: str) -> dict[str, str]:
        """The request's SEND headers: the caller's plus ``correlation-id`` and ``reply-to``."""
        assert self.endpoint is not None
        return {
            **(headers or {}),
            CORRELATION_HEADER: correlation_id,
            REPLY_TO_HEADER: self.endpoint.reply_to,
        }

    def add(self, waiter: WaiterT, owner: object) -> str:
        """Register a request about to go out on ``owner``; its correlation id."""
        with self._lock:
            return self.table.add(waiter, owner)

    def unsent(self, correlation_id: str) -> None:
        """The request could not be sent: forget it."""
        with self._lock:
            self.table.forget(correlation_id)

    def sent(self, destination: str) -> None:
        """The request went out (counted)."""
        self._count("requests", destination)

    def timed_out(self, correlation_id: str, destination: str) -> bool:
        """The caller's wait ran out: forget the request (counted) and return True; False
        when a reply or a loss came first (the waiter is then done)."""
        with self._lock:
            gave_up = self.table.cancel(correlation_id)
        if gave_up:
            self._count("request_timeouts", destination)
        return gave_up

    def outcome(self, destination: str, error: BaseException | None) -> None:
        """A request ended with its reply (``error`` None) or ``error`` (counted)."""
        if error is None:
            self._count("replies", destination)
        elif isinstance(error, ConnectionLost):
            self._count("requests_lost", destination)

    def replies(self, messages: Sequence[_Received]) -> int:
        """Replies arrived: wake their requests; returns how many found none (late: dropped,
        the caller counts them where its hook may run)."""
        with self._lock:
            waiters = [(self.table.resolve(m.headers), m) for m in messages]
        late = 0
        for waiter, message in waiters:
            if waiter is None:
                late += 1
                log.debug(
                    "late reply dropped (correlation-id %r)",
                    message.headers.get(CORRELATION_HEADER),
                )
            elif not waiter.done():
                waiter.set_result(message)
        return late

    def lost(self, owner: object, error: BaseException) -> None:
        """``owner`` (a connection) is lost: the requests sent on it can get no reply any more
        (their reply destination was the connection's); they fail with ConnectionLost."""
        with self._lock:
            gone = self.table.lose(owner)
        for correlation_id, waiter in gone:
            if not waiter.done():
                waiter.set_exception(lost_error(correlation_id, error))

    def close(self) -> None:
        """The client disconnects: every waiting request fails."""
        with self._lock:
            gone = self.table.take_all()
        for correlation_id, waiter in gone:
            if not waiter.done():
                waiter.set_exception(closed_error(correlation_id))

    def _count(self, name: str, destination: str) -> None:
        observer = self._observer()
        if observer is not None:
            observer.count(name, 1, destination, "request")
