"""``async with client.transaction() as tx:`` — BEGIN on enter, COMMIT when the block ends
normally, ABORT when it raises (the exception propagates). Bound to the connection it
began on; its state lives in :class:`~stomp_enterprise.core.transaction.TransactionState`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from stomp_enterprise.core.message import Body
from stomp_enterprise.core.transaction import TransactionBase
from stomp_enterprise.errors import ConnectionLost, TransactionError

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from stomp_enterprise.aio.client import Client
    from stomp_enterprise.aio.connection import Connection
    from stomp_enterprise.aio.message import Message
    from stomp_enterprise.core.options import SendOptionArgs

__all__ = ["Transaction"]

log = logging.getLogger("stomp_enterprise.aio")


class Transaction(TransactionBase):
    """An open STOMP transaction of the asyncio client.

    Args:
        receipt: wait for the RECEIPTs of COMMIT and ABORT (default True), so that a broker
            refusing them (or the BEGIN before them) raises here instead of going unnoticed.
            BEGIN is never waited for.
        timeout: the receipt wait (default ``timeouts.receipt``).

    Unusable after COMMIT/ABORT or once its connection is lost
    (:class:`~stomp_enterprise.errors.TransactionError`). Use from the event loop's thread.
    """

    _client: Client
    _connection: Connection | None

    async def begin(self) -> Transaction:
        """Send BEGIN (done by ``async with``), without a RECEIPT: COMMIT/ABORT wait for
        theirs, which a broker that refused BEGIN refuses too (see
        :class:`~stomp_enterprise.core.transaction.TransactionBase`).

        Await it from a task on the client's event loop.
        """
        self._tx.beginning()
        connection = await self._client._current_connection()
        transaction_id = connection.session.new_id("tx")
        self._tx.id = transaction_id
        build, _ = self._tx.control(connection.session, "BEGIN")
        try:
            connection.request(build, receipt=False)
        except ConnectionLost as exc:
            raise self._tx.failed("BEGIN", exc) from exc
        self._connection = connection
        self._tx.opened(transaction_id, connection.url)
        return self

    def _open(self) -> Connection:
        connection = self._connection
        self._tx.check_open(connection is not None and connection.alive)
        assert connection is not None
        return connection

    async def send(
        self,
        destination: str,
        body: Body = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str | None = None,
        **options: Unpack[SendOptionArgs],
    ) -> None:
        """SEND inside the transaction (applied by the broker at COMMIT). ``options`` are
        :meth:`Client.send`'s typed message options and ``codec``.

        Await it from a task on the client's event loop.
        """
        self._submit(self._open(), destination, body, headers, content_type, options)

    def _send(
        self,
        connection: Connection,
        destination: str,
        payload: bytes,
        headers: Mapping[str, str] | None,
        content_type: str | None,
    ) -> None:
        routed = connection.routed(destination, headers, subscribe=False)
        try:
            connection.write(
                connection.session.send(
                    destination, payload, routed, content_type, transaction=self._tx.id
                )
            )
        except ConnectionLost as exc:
            raise self._tx.lost(exc) from exc

    async def ack(self, message: Message) -> None:
        """ACK ``message`` inside the transaction.

        Await it from a task on the client's event loop.
        """
        await self._acknowledge(message, nack=False)

    async def nack(self, message: Message) -> None:
        """NACK ``message`` inside the transaction (STOMP 1.1+).

        Await it from a task on the client's event loop.
        """
        await self._acknowledge(message, nack=True)

    async def _acknowledge(self, message: Message, *, nack: bool) -> None:
        connection = self._open()
        observer = self._client._observer
        if observer is None:
            await self._settle(connection, message, nack)
            return
        await observer.settle_awaited(
            "nack" if nack else "ack",
            message.settled_destination,
            message.message_id,
            lambda: self._settle(connection, message, nack),
        )

    async def _settle(self, connection: Connection, message: Message, nack: bool) -> None:
        try:
            await connection.ack(message, nack=nack, transaction=self._tx.id)
        except ConnectionLost as exc:
            raise self._tx.lost(exc) from exc

    async def commit(self) -> None:
        """COMMIT (done by ``async with`` when the block ends normally).

        Await it from a task on the client's event loop.
        """
        await self._end("COMMIT")

    async def abort(self) -> None:
        """ABORT (done by ``async with`` when the block raises). After the transaction was
        lost with its connection this only logs: the broker has already dropped it.

        Await it from a task on the client's event loop.
        """
        await self._end("ABORT")

    async def _end(self, command: str) -> None:
        connection = self._connection
        if self._tx.end_is_moot(command, connection is not None and connection.alive):
            return
        connection = self._open()
        build, what = self._tx.control(connection.session, command)
        try:
            await connection.call(build, receipt=self._receipt, timeout=self._timeout, what=what)
        except ConnectionLost as exc:
            raise self._tx.failed(command, exc) from exc
        except BaseException:
            self._tx.state = "failed"
            raise
        self._tx.ended(command)

    async def __aenter__(self) -> Transaction:
        return await self.begin()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        command = self._tx.exit_command(exc_type is not None)
        if command == "COMMIT":
            await self.commit()
        elif command == "ABORT":
            # the original exception matters more; the broker drops the transaction anyway
            with contextlib.suppress(TransactionError):
                await self.abort()
