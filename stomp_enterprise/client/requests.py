"""Request/reply for the threaded client: the thread glue around
:mod:`stomp_enterprise.core.requests` (which decides everything that is not a thread).

One reply subscription per client, made on the first request: every request from every
thread shares it; replies are matched by ``correlation-id`` on the reader thread (setting a
future is all it does there, no user code), so a handler may make requests even with one
dispatcher thread.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from stomp_enterprise.client.subscription import Subscription
from stomp_enterprise.core.requests import (
    CORRELATION_HEADER,
    REPLY_TO_HEADER,
    PendingRequests,
    ReplyEndpoint,
    reply_endpoint,
)
from stomp_enterprise.errors import ConfigError, ConnectionLost, RequestTimeout

if TYPE_CHECKING:
    from stomp_enterprise.client.client import Body, Client
    from stomp_enterprise.client.connection import Connection
    from stomp_enterprise.client.message import Message

__all__ = ["Requester"]

log = logging.getLogger(__name__)


class _ReplySubscription(Subscription):
    """The client's reply subscription: its messages resolve waiting requests on the
    reader thread instead of going to a queue or a handler."""

    requester: Requester

    def _put(self, messages: list[Message]) -> None:
        self.requester.replies(messages)


class Requester:
    """The pending requests and the reply subscription of one :class:`Client`."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.name = uuid.uuid4().hex[:16]
        self._lock = threading.Lock()  # guards the table (the reader resolves under it)
        self._setup = threading.Lock()  # one thread sets the reply subscription up
        self.table: PendingRequests[Future[Message]] = PendingRequests(self.name)
        self._endpoint: ReplyEndpoint | None = None
        self._subscription: _ReplySubscription | None = None

    def request(
        self,
        destination: str,
        body: Body,
        *,
        timeout: float,
        headers: Mapping[str, str] | None,
        content_type: str | None,
    ) -> Message:
        """See :meth:`Client.request`."""
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ConfigError(f"request timeout must be a positive number, got {timeout!r}")
        if headers and (CORRELATION_HEADER in headers or REPLY_TO_HEADER in headers):
            raise ConfigError(
                "request() sets correlation-id and reply-to itself; do not pass them in headers"
            )
        observer = self._client._observer
        span = observer.requesting(destination) if observer is not None else None
        error: BaseException | None = None
        reply: Message | None = None
        try:
            reply = self._request(destination, body, timeout, headers, content_type)
            return reply
        except BaseException as exc:
            error = exc
            raise
        finally:
            if observer is not None:
                observer.requested(
                    span, destination, error, reply.frame.headers if reply is not None else None
                )

    def _request(
        self,
        destination: str,
        body: Body,
        timeout: float,
        headers: Mapping[str, str] | None,
        content_type: str | None,
    ) -> Message:
        client = self._client
        connection = client._current_connection(timeout)
        endpoint = self._ensure(connection, timeout)
        future: Future[Message] = Future()
        with self._lock:
            correlation_id = self.table.add(future, connection)
        try:
            client.send(
                destination,
                body,
                {
                    **(headers or {}),
                    CORRELATION_HEADER: correlation_id,
                    REPLY_TO_HEADER: endpoint.reply_to,
                },
                content_type=content_type,
                timeout=timeout,
            )
        except BaseException:
            with self._lock:
                self.table.forget(correlation_id)
            raise
        observer = client._observer
        if observer is not None:
            observer.count("requests", 1, destination, "request")
        try:
            try:
                reply = future.result(timeout)
            except FutureTimeout:
                with self._lock:
                    gave_up = self.table.cancel(correlation_id)
                if gave_up:
                    if observer is not None:
                        observer.count("request_timeouts", 1, destination, "request")
                    raise RequestTimeout(destination, correlation_id, timeout) from None
                reply = future.result(0)  # a reply or a loss raced the timeout
        except ConnectionLost:
            if observer is not None:
                observer.count("requests_lost", 1, destination, "request")
            raise
        if observer is not None:
            observer.count("replies", 1, destination, "request")
        return reply

    def _ensure(self, connection: Connection, timeout: float) -> ReplyEndpoint:
        """The reply endpoint, subscribing to it on the first request (kept across
        reconnects by the subscription replay)."""
        client = self._client
        with self._setup:
            sub = self._subscription
            if sub is not None and client._subscriptions.get(sub.id) is sub:
                assert self._endpoint is not None
                return self._endpoint
            info = connection.info
            endpoint = reply_endpoint(info.server if info else None, self.name)
            sub = _ReplySubscription(
                client,
                endpoint.subscription_id,
                endpoint.reply_to,
                "auto",
                (),
                None,
                "ignore",
                None,
            )
            sub.requester = self
            if endpoint.subscribe is None:
                # the broker subscribes the connection itself (RabbitMQ temp queues)
                client._subscriptions[sub.id] = sub
            else:
                client._subscribe_as(sub, endpoint.subscribe, dict(endpoint.headers), timeout)
            self._endpoint = endpoint
            self._subscription = sub
            log.debug("reply destination of %r: %s", client, endpoint)
            return endpoint

    def replies(self, messages: list[Message]) -> None:
        """Reader thread: replies arrived; wake their requests, drop (and count) the rest."""
        connection = messages[0]._connection
        with self._lock:
            waiters = [(self.table.resolve(m.headers), m) for m in messages]
        connection.finished(len(messages), sum(len(m.body) for m in messages))
        late = 0
        for waiter, message in waiters:
            if waiter is None:
                late += 1
                log.debug(
                    "late reply dropped: %r (correlation-id %r)",
                    message,
                    message.headers.get(CORRELATION_HEADER),
                )
            elif not waiter.done():
                waiter.set_result(message)
        observer = self._client._observer
        if late and observer is not None:
            self._client._dispatcher.submit(None, observer.count, "late_replies", late)

    def lost(self, connection: Connection, error: BaseException) -> None:
        """``connection`` is lost: the requests sent on it can get no reply any more (their
        reply destination was the connection's); they fail with ConnectionLost."""
        with self._lock:
            gone = self.table.lose(connection)
        for correlation_id, future in gone:
            if not future.done():
                future.set_exception(
                    ConnectionLost(
                        f"request {correlation_id!r} got no reply before its connection was "
                        f"lost ({error}); it may or may not have been processed"
                    )
                )

    def close(self) -> None:
        """The client disconnects: every waiting request fails."""
        with self._lock:
            gone = self.table.take_all()
        for correlation_id, future in gone:
            if not future.done():
                future.set_exception(
                    ConnectionLost(f"request {correlation_id!r}: the client was closed")
                )
