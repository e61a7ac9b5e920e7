"""``async with client.transaction() as tx:`` — BEGIN on enter, COMMIT when the block ends
normally, ABORT when it raises (the exception propagates). Bound to the connection it
began on; its state lives in :class:`~stomp_enterprise.core.transaction.TransactionState`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from stomp_enterprise.core.message import Body, encode_body
from stomp_enterprise.core.transaction import TransactionState
from stomp_enterprise.errors import ConnectionLost, TransactionError

if TYPE_CHECKING:
    from stomp_enterprise.aio.client import Client
    from stomp_enterprise.aio.connection import Connection
    from stomp_enterprise.aio.message import Message

__all__ = ["Transaction"]

log = logging.getLogger("stomp_enterprise.aio")


class Transaction:
    """An open STOMP transaction of the asyncio client.

    Args:
        receipt: wait for the RECEIPTs of BEGIN, COMMIT and ABORT (default True), so that a
            broker refusing them raises here instead of going unnoticed.
        timeout: the receipt wait (default ``timeouts.receipt``).

    Unusable after COMMIT/ABORT or once its connection is lost
    (:class:`~stomp_enterprise.errors.TransactionError`). Use from the event loop's thread.
    """

    def __init__(
        self, client: Client, *, receipt: bool = True, timeout: float | None = None
    ) -> None:
        self._client = client
        self._receipt = receipt
        self._timeout = timeout
        self._tx = TransactionState()
        self._connection: Connection | None = None

    @property
    def id(self) -> str | None:
        """The transaction id (None before BEGIN)."""
        return self._tx.id

    @property
    def state(self) -> str:
        """``new``, ``open``, ``committed``, ``aborted`` or ``failed``."""
        return self._tx.state

    async def begin(self) -> Transaction:
        """Send BEGIN (done by ``async with``)."""
        self._tx.beginning()
        connection = await self._client._current_connection()
        transaction_id = connection.session.new_id("tx")
        self._tx.id = transaction_id
        try:
            await connection.call(
                lambda rid: connection.session.begin(transaction_id, receipt=rid),
                receipt=self._receipt,
                timeout=self._timeout,
                what=f"BEGIN {transaction_id}",
            )
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
    ) -> None:
        """SEND inside the transaction (applied by the broker at COMMIT)."""
        connection = self._open()
        payload, content_type = encode_body(body, content_type)
        routed = connection.routed(destination, headers, subscribe=False)
        try:
            connection.write(
                connection.session.send(
                    destination, payload, routed, content_type, transaction=self._tx.id
                )
            )
        except ConnectionLost as exc:
            raise self._tx.failed("a SEND", exc) from exc

    async def ack(self, message: Message) -> None:
        """ACK ``message`` inside the transaction."""
        await self._acknowledge(message, nack=False)

    async def nack(self, message: Message) -> None:
        """NACK ``message`` inside the transaction (STOMP 1.1+)."""
        await self._acknowledge(message, nack=True)

    async def _acknowledge(self, message: Message, *, nack: bool) -> None:
        connection = self._open()
        try:
            await connection.ack(message, nack=nack, transaction=self._tx.id)
        except ConnectionLost as exc:
            raise self._tx.failed("an ACK", exc) from exc

    async def commit(self) -> None:
        """COMMIT (done by ``async with`` when the block ends normally)."""
        await self._end("COMMIT")

    async def abort(self) -> None:
        """ABORT (done by ``async with`` when the block raises). After the transaction was
        lost with its connection this only logs: the broker has already dropped it."""
        await self._end("ABORT")

    async def _end(self, command: str) -> None:
        connection = self._connection
        alive = connection is not None and connection.alive
        if command == "ABORT" and self._tx.abort_is_moot(alive):
            log.info(
                "ABORT of transaction %s: nothing to do, it was lost with its connection to %s",
                self._tx.id,
                self._tx.url,
            )
            return
        connection = self._open()
        transaction_id = self._tx.id
        assert transaction_id is not None
        session = connection.session
        build = session.commit if command == "COMMIT" else session.abort
        try:
            await connection.call(
                lambda rid: build(transaction_id, receipt=rid),
                receipt=self._receipt,
                timeout=self._timeout,
                what=f"{command} {transaction_id}",
            )
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
        if self._tx.state != "open":
            error = self._tx.exit_error(exc_type is not None)
            if error is not None:
                raise error
            return
        if exc_type is None:
            await self.commit()
        else:
            with contextlib.suppress(TransactionError):
                await self.abort()

    def __repr__(self) -> str:
        return f"<aio.Transaction {self._tx.id} {self._tx.state}>"
