"""A received message, bound to the connection it arrived on (so acks go where they must).

The frame views and the charset helpers live in :mod:`stomp_enterprise.core.message`, shared
with the asyncio client; this module adds the blocking ``ack()``/``nack()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from stomp_enterprise.core.message import MessageBase, charset_of, decode_text, encode_text

if TYPE_CHECKING:
    from stomp_enterprise.client.connection import Connection
    from stomp_enterprise.client.subscription import Subscription

__all__ = ["Message", "charset_of", "decode_text", "encode_text"]


class Message(MessageBase):
    """A MESSAGE delivered to a subscription.

    Typed read-back of the message options (``priority``, ``expires``, ``reply_to``,
    ``correlation_id``, ``redelivered``, ``persistent``, ``message_type``, ``ttl``) and the
    typed payload (``model``) come from :class:`~stomp_enterprise.core.options.MessageFields`.

    ``ack()``/``nack()`` are version-correct and may be called from any thread, including the
    handler. A message received on a connection that has since been lost cannot be acked
    (its ack id is dead there; the broker redelivers it): that raises
    :class:`~stomp_enterprise.errors.AckError` rather than vanishing silently.
    """

    __slots__ = ()

    subscription: Subscription
    _connection: Connection

    def ack(self, *, receipt: bool = False, timeout: float | None = None) -> None:
        """Acknowledge this message (``ack`` mode client or client-individual).

        Any thread (usually the handler's, on the dispatcher thread).

        Args:
            receipt: wait for the broker to confirm (bounded by ``timeout`` or the default).

        Raises:
            AckError: the message's connection is gone, or its subscription is auto-ack.
        """
        if self.subscription._client._observer is not None:
            self._settle("ack", receipt, timeout, None)
        elif receipt:
            self._connection.ack(self, receipt=True, timeout=timeout)
        else:
            self._connection.ack_now(self)

    def nack(
        self,
        *,
        receipt: bool = False,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Negatively acknowledge (STOMP 1.1+): the broker redelivers or dead-letters it.
        ``headers`` carries broker extras such as RabbitMQ's ``requeue``.
        Any thread (usually the handler's, on the dispatcher thread)."""
        if self.subscription._client._observer is not None:
            self._settle("nack", receipt, timeout, headers)
            return
        self._connection.nack(self, receipt=receipt, timeout=timeout, headers=headers)

    def _settle(
        self,
        operation: str,
        receipt: bool,
        timeout: float | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        """:meth:`ack` or :meth:`nack` once the client is observed: counted, and with
        OpenTelemetry an ``ack``/``nack`` span."""
        observer = self.subscription._client._observer
        assert observer is not None
        connection = self._connection

        def call() -> None:
            if operation == "ack":
                connection.ack(self, receipt=receipt, timeout=timeout)
            else:
                connection.nack(self, receipt=receipt, timeout=timeout, headers=headers)

        observer.settle(operation, self.settled_destination, self.message_id, call)
