"""``with client.transaction() as tx:`` — BEGIN on enter, COMMIT on normal exit, ABORT on an
exception (which is re-raised). A transaction is bound to the connection it began on."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from stomp_enterprise.client.connection import send_in
from stomp_enterprise.core.transaction import TransactionBase
from stomp_enterprise.errors import (
    AckError,
    ConnectionLost,
    LocalProtocolError,
    TransactionError,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from stomp_enterprise.client.client import Body, Client
    from stomp_enterprise.client.connection import Connection
    from stomp_enterprise.client.message import Message
    from stomp_enterprise.core.options import SendOptionArgs

__all__ = ["Transaction"]

log = logging.getLogger(__name__)


class Transaction(TransactionBase):
    """An open STOMP transaction.

    Args:
        receipt: wait for the RECEIPTs of COMMIT and ABORT (default True), so that a broker
            refusing them (or the BEGIN before them) raises here instead of going unnoticed.
            BEGIN is never waited for.

    Safe to use from several threads; unusable after COMMIT/ABORT or once its connection is
    lost (:class:`~stomp_enterprise.errors.TransactionError`).
    """

    _client: Client
    _connection: Connection | None

    def __init__(
        self, client: Client, *, receipt: bool = True, timeout: float | None = None
    ) -> None:
        super().__init__(client, receipt=receipt, timeout=timeout)
        self._lock = threading.Lock()
        self._gate: Callable[[], bool] | None = None

    def begin(self) -> Transaction:
        """Send BEGIN (done by ``__enter__``), without a RECEIPT: COMMIT/ABORT wait for theirs,
        which a broker that refused BEGIN refuses too (see
        :class:`~stomp_enterprise.core.transaction.TransactionBase`). Any thread."""
        with self._lock:
            self._tx.beginning()
            connection = self._client._current_connection()
            transaction_id = connection.session.new_id("tx")
            self._tx.id = transaction_id
            build, _ = self._tx.control(connection.session, "BEGIN")
            try:  # queued only: it goes with the transaction's first frame (one write)
                connection.request(build, receipt=False, lazy=True)
            except ConnectionLost as exc:
                raise self._tx.failed("BEGIN", exc) from exc
            self._gate = connection.transaction_gate(transaction_id)
            self._connection = connection
            self._tx.opened(transaction_id, connection.url)
        return self

    def _open(self) -> Connection:
        connection = self._connection
        self._tx.check_open(connection is not None and connection.alive)
        assert connection is not None
        return connection

    def send(
        self,
        destination: str,
        body: Body = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str | None = None,
        **options: Unpack[SendOptionArgs],
    ) -> None:
        """SEND inside the transaction (applied by the broker at COMMIT).

        Built outside the session lock and queued only while the transaction is open on its
        connection (:meth:`Connection.transaction_gate`). Queued lazily: the broker applies
        it at COMMIT, so it waits for the transaction's next frame that is written at once
        (the COMMIT, which writes the whole transaction in one system call on the calling
        thread when it waits for its receipt), for another thread's frame, or for the
        writer's next check; it wakes no thread of its own, and is queued as any other frame
        once ``WRITE_CHUNK`` bytes wait (see :meth:`SocketTransport.enqueue`). ``options``
        are :meth:`Client.send`'s typed message options and ``codec``. May be called from
        any thread."""
        connection = self._connection
        if (
            options
            or type(body) is not bytes
            or connection is None
            or not connection.alive
            or self._tx.state != "open"
            or self._client._observer is not None
        ):
            self._submit(self._open(), destination, body, headers, content_type, options)
            return
        self._send(connection, destination, body, headers, content_type)  # the hot path

    def _send(
        self,
        connection: Connection,
        destination: str,
        body: bytes,
        headers: Mapping[str, str] | None,
        content_type: str | None,
    ) -> None:
        if connection.artemis:
            headers = connection.routed(destination, headers, subscribe=False)
        try:
            connection.post(
                send_in,
                connection.session,
                destination,
                body,
                headers,
                content_type,
                self._tx.id,
                gate=self._gate,
                lazy=True,
            )
        except ConnectionLost as exc:
            raise self._tx.lost(exc) from exc
        except LocalProtocolError:
            self._open()  # ended by another thread meanwhile: TransactionError, as before
            raise

    def ack(self, message: Message) -> None:
        """ACK ``message`` inside the transaction (queued as :meth:`send` is). May be
        called from any thread."""
        connection = self._open()
        observer = self._client._observer
        if observer is None:
            self._ack(connection, message)
        else:
            observer.settle(
                "ack",
                message.settled_destination,
                message.message_id,
                lambda: self._ack(connection, message),
            )

    def _ack(self, connection: Connection, message: Message) -> None:
        try:
            connection.ack(message, transaction=self.id, gate=self._gate)
        except ConnectionLost as exc:
            raise self._tx.lost(exc) from exc
        except (AckError, LocalProtocolError):
            self._open()  # ended, or lost, meanwhile: TransactionError
            raise

    def nack(self, message: Message) -> None:
        """NACK ``message`` inside the transaction. Any thread."""
        connection = self._open()
        observer = self._client._observer
        if observer is None:
            self._nack(connection, message)
        else:
            observer.settle(
                "nack",
                message.settled_destination,
                message.message_id,
                lambda: self._nack(connection, message),
            )

    def _nack(self, connection: Connection, message: Message) -> None:
        try:
            connection.nack(message, transaction=self.id)
        except ConnectionLost as exc:
            raise self._tx.lost(exc) from exc

    def commit(self) -> None:
        """COMMIT (done by ``__exit__`` when the block ends normally). Any thread."""
        self._end("COMMIT")

    def abort(self) -> None:
        """ABORT (done by ``__exit__`` when the block raises). After the transaction was lost
        with its connection this does nothing but log: the broker has already dropped it.
        Any thread."""
        self._end("ABORT")

    def _end(self, command: str) -> None:
        with self._lock:
            connection = self._connection
            if self._tx.end_is_moot(command, connection is not None and connection.alive):
                return
            connection = self._open()
            build, what = self._tx.control(connection.session, command)
            try:
                connection.call(build, receipt=self._receipt, timeout=self._timeout, what=what)
            except ConnectionLost as exc:
                raise self._tx.failed(command, exc) from exc
            except BaseException:
                self._tx.state = "failed"
                raise
            self._tx.ended(command)

    def __enter__(self) -> Transaction:
        return self.begin()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        command = self._tx.exit_command(exc_type is not None)
        if command == "COMMIT":
            self.commit()
        elif command == "ABORT":
            # the original exception matters more; the broker drops the transaction anyway
            with contextlib.suppress(TransactionError):
                self.abort()
