"""A message received by the asyncio client: the shared frame views plus awaitable acks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from stomp_enterprise.core.message import MessageBase

if TYPE_CHECKING:
    from stomp_enterprise.aio.connection import Connection
    from stomp_enterprise.aio.subscription import Subscription

__all__ = ["Message"]


class Message(MessageBase):
    """A MESSAGE delivered to a subscription of :class:`stomp_enterprise.aio.Client`.

    ``body``, ``text``, ``headers``, ``destination``, ``message_id``, ``content_type`` and
    ``redelivered`` are those of the threaded client's message
    (:class:`~stomp_enterprise.core.message.MessageBase`). ``await ack()``/``await nack()``
    go to the connection the message arrived on; after that connection is lost they raise
    :class:`~stomp_enterprise.errors.AckError` (the broker redelivers the message).
    Call them from the event loop's thread (any task, including the handler).
    """

    __slots__ = ()

    subscription: Subscription
    _connection: Connection

    async def ack(self, *, receipt: bool = False, timeout: float | None = None) -> None:
        """Acknowledge this message (``ack`` mode ``client`` or ``client-individual``).
        Await it from a task on the client's event loop.

        Args:
            receipt: wait for the broker to confirm (bounded by ``timeout`` or
                ``timeouts.receipt``).

        Raises:
            AckError: the message's connection is gone, or its subscription is auto-ack.
        """
        observer = self.subscription._client._observer
        if observer is None:
            await self._connection.ack(self, receipt=receipt, timeout=timeout)
            return
        await observer.settle_awaited(
            "ack",
            self.settled_destination,
            self.message_id,
            lambda: self._connection.ack(self, receipt=receipt, timeout=timeout),
        )

    async def nack(
        self,
        *,
        receipt: bool = False,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Negatively acknowledge (STOMP 1.1+): the broker redelivers or dead-letters it.
        ``headers`` carries broker extras such as RabbitMQ's ``requeue``.

        Await it from a task on the client's event loop.
        """
        observer = self.subscription._client._observer
        if observer is None:
            await self._connection.ack(
                self, nack=True, receipt=receipt, timeout=timeout, headers=headers
            )
            return
        await observer.settle_awaited(
            "nack",
            self.settled_destination,
            self.message_id,
            lambda: self._connection.ack(
                self, nack=True, receipt=receipt, timeout=timeout, headers=headers
            ),
        )
