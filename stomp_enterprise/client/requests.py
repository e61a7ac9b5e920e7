"""Request/reply for the threaded client: the thread glue around
:class:`stomp_enterprise.core.requests.RequestBook` (which decides everything that is not a
thread).

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
from stomp_enterprise.core.requests import ReplyEndpoint, RequestBook
from stomp_enterprise.errors import RequestTimeout

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from stomp_enterprise.client.client import Client
    from stomp_enterprise.client.connection import Connection
    from stomp_enterprise.client.message import Message
    from stomp_enterprise.core.message import Body
    from stomp_enterprise.core.options import SendOptionArgs

__all__ = ["Requester"]

log = logging.getLogger(__name__)


class _ReplySubscription(Subscription):
    """The client's reply subscription: its messages resolve waiting requests on the
    reader thread instead of going to a queue or a handler."""

    requester: Requester

    def _put(self, messages: list[Message]) -> None:
        self.requester.replies(messages)


class Requester(RequestBook["Future[Message]"]):
    """The pending requests and the reply subscription of one threaded client."""

    def __init__(self, client: Client) -> None:
        super().__init__(uuid.uuid4().hex[:16], threading.Lock(), lambda: client._observer)
        self._client = client
        self._setup = threading.Lock()  # one thread sets the reply subscription up

    def request(
        self,
        destination: str,
        body: Body,
        *,
        timeout: float,
        headers: Mapping[str, str] | None,
        content_type: str | None,
        **options: Unpack[SendOptionArgs],
    ) -> Message:
        """See :meth:`Client.request`."""
        with self.observed(destination, timeout, headers, options) as outcome:
            outcome.reply = reply = self._request(
                destination, body, timeout, headers, content_type, options
            )
            return reply

    def _request(
        self,
        destination: str,
        body: Body,
        timeout: float,
        headers: Mapping[str, str] | None,
        content_type: str | None,
        options: SendOptionArgs,
    ) -> Message:
        client = self._client
        connection = client._current_connection(timeout)
        self._ensure(connection, timeout)
        future: Future[Message] = Future()
        correlation_id = self.add(future, connection)
        try:
            client.send(
                destination,
                body,
                self.headers(headers, correlation_id),
                content_type=content_type,
                timeout=timeout,
                **options,
            )
        except BaseException:
            self.unsent(correlation_id)
            raise
        self.sent(destination)
        try:
            return future.result(timeout)
        except FutureTimeout:
            if self.timed_out(correlation_id, destination):
                raise RequestTimeout(destination, correlation_id, timeout) from None
            return future.result(0)  # a reply or a loss raced the timeout

    def _ensure(self, connection: Connection, timeout: float) -> ReplyEndpoint:
        """The reply endpoint, subscribing to it on the first request (kept across
        reconnects by the subscription replay)."""
        client = self._client
        with self._setup:
            info = connection.info
            endpoint = self.needs_setup(client._subscriptions, info.server if info else None)
            if endpoint is None:
                assert self.endpoint is not None
                return self.endpoint
            sub = _ReplySubscription(client, *self.subscription_args(endpoint))
            sub.requester = self
            if endpoint.subscribe is None:
                # the broker subscribes the connection itself (RabbitMQ temp queues)
                client._subscriptions[sub.id] = sub
            else:
                client._subscribe_as(sub, endpoint.subscribe, dict(endpoint.headers), timeout)
            self.ready(endpoint, sub)
            return endpoint

    def replies(self, messages: list[Message]) -> int:  # type: ignore[override]
        """Reader thread: replies arrived; wake their requests, drop (and count, on the
        dispatcher) the rest."""
        connection = messages[0]._connection
        late = super().replies(messages)
        connection.finished(len(messages), sum(len(m.body) for m in messages))
        observer = self._client._observer
        if late and observer is not None:
            self._client._dispatcher.submit(None, observer.count, "late_replies", late)
        return late
