"""Request/reply for the asyncio client: the event-loop glue around
:class:`stomp_enterprise.core.requests.RequestBook` (which decides everything else).

One reply subscription per client, made on the first request and shared by every task;
replies are matched by ``correlation-id`` in ``data_received`` (setting a future is all it
does there, no user code), so a handler may await a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from stomp_enterprise.aio.subscription import Subscription
from stomp_enterprise.core.requests import ReplyEndpoint, RequestBook
from stomp_enterprise.errors import RequestTimeout

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from stomp_enterprise.aio.client import Client
    from stomp_enterprise.aio.connection import Connection
    from stomp_enterprise.aio.message import Message
    from stomp_enterprise.core.message import Body
    from stomp_enterprise.core.options import SendOptionArgs

__all__ = ["Requester"]

log = logging.getLogger(__name__)


class _ReplySubscription(Subscription):
    """The client's reply subscription: its messages resolve waiting requests as they are
    parsed instead of being queued."""

    requester: Requester

    def _put(self, message: Message, oversize: int | None = None) -> None:
        self.requester.arrived(message)


class Requester(RequestBook["asyncio.Future[Message]"]):
    """The pending requests and the reply subscription of one asyncio client."""

    def __init__(self, client: Client) -> None:
        super().__init__(uuid.uuid4().hex[:16], contextlib.nullcontext(), lambda: client._observer)
        self._client = client
        self._setup = asyncio.Lock()  # one task sets the reply subscription up

    async def request(
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
            outcome.reply = reply = await self._request(
                destination, body, timeout, headers, content_type, options
            )
            return reply

    async def _request(
        self,
        destination: str,
        body: Body,
        timeout: float,
        headers: Mapping[str, str] | None,
        content_type: str | None,
        options: SendOptionArgs,
    ) -> Message:
        client = self._client
        connection = await client._current_connection(timeout)
        await self._ensure(connection, timeout)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        correlation_id = self.add(future, connection)
        try:
            await client.send(
                destination,
                body,
                self.headers(headers, correlation_id),
                content_type,
                timeout=timeout,
                **options,
            )
        except BaseException:
            self.unsent(correlation_id)
            raise
        self.sent(destination)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            if self.timed_out(correlation_id, destination):
                raise RequestTimeout(destination, correlation_id, timeout) from None
            return future.result()  # a reply or a loss raced the timeout
        except asyncio.CancelledError:
            self.unsent(correlation_id)  # the caller gave up: forget it (a reply is late)
            raise

    async def _ensure(self, connection: Connection, timeout: float) -> ReplyEndpoint:
        """The reply endpoint, subscribing to it on the first request (kept across
        reconnects by the subscription replay)."""
        client = self._client
        async with self._setup:
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
                await client._subscribe_as(sub, endpoint.subscribe, dict(endpoint.headers), timeout)
            self.ready(endpoint, sub)
            return endpoint

    def arrived(self, message: Message) -> None:
        """In ``data_received``: a reply arrived; wake its request, or drop (and count)
        it."""
        message._connection.finished(1, len(message.frame.body))
        observer = self._client._observer
        if self.replies([message]) and observer is not None:
            # counted after this callback: the hook must not run inside data_received
            asyncio.get_running_loop().call_soon(observer.count, "late_replies", 1)
