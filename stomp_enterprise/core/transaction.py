"""The state of one STOMP transaction, apart from how its frames are written (sans-I/O).

``new`` -> ``open`` (BEGIN) -> ``committed`` | ``aborted``; ``failed`` when BEGIN, a frame
in it or its COMMIT/ABORT could not be written, or its connection was lost (the broker then
drops it: nothing in it was committed). A shell asks :meth:`TransactionState.check_open`
before each frame and reports with the errors made here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from stomp_enterprise.core.message import encode_body
from stomp_enterprise.errors import TransactionError
from stomp_enterprise.protocol.session import Session

__all__ = ["TransactionBase", "TransactionState"]

log = logging.getLogger("stomp_enterprise.client.transaction")


class TransactionState:
    """Where a transaction stands (not thread-safe: the shell serializes calls).

    Attributes:
        id: the transaction id (set at BEGIN).
        state: ``new``, ``open``, ``committed``, ``aborted`` or ``failed``.
        url: the broker it was begun on.
    """

    __slots__ = ("id", "state", "url")

    def __init__(self) -> None:
        self.id: str | None = None
        self.state = "new"
        self.url: str | None = None

    def beginning(self) -> None:
        """Before BEGIN: only a new transaction may begin."""
        if self.state != "new":
            raise TransactionError(f"transaction already {self.state}")

    def opened(self, transaction_id: str, url: str) -> None:
        """BEGIN was written (and confirmed, when a receipt was asked for)."""
        self.id = transaction_id
        self.url = url
        self.state = "open"

    def check_open(self, alive: bool) -> None:
        """Before a frame of the transaction, with whether its connection is ``alive``.

        Raises:
            TransactionError: not open, or lost with its connection.
        """
        if self.state in ("open", "failed") and self.url is not None and not alive:
            self.state = "failed"
            raise TransactionError(
                f"transaction {self.id} was lost with its connection to {self.url}; "
                "nothing in it was committed (run the whole block again in a new transaction)"
            )
        if self.state != "open":
            raise TransactionError(f"transaction {self.id} is {self.state}, not open")

    def abort_is_moot(self, alive: bool) -> bool:
        """Whether an ABORT has nothing to do: the transaction was lost with its connection
        (the broker dropped it). Marks it failed then."""
        if self.url is not None and (
            self.state == "failed" or (self.state == "open" and not alive)
        ):
            self.state = "failed"
            return True
        return False

    def failed(self, what: str, exc: BaseException) -> TransactionError:
        """``what`` (BEGIN, a SEND, COMMIT...) failed with ``exc``: the error to raise."""
        self.state = "failed"
        return TransactionError(f"{what} of transaction {self.id} failed: {exc}")

    def lost(self, exc: BaseException) -> TransactionError:
        """A frame of the transaction could not be queued: its connection is gone (``exc``)."""
        self.state = "failed"
        return TransactionError(f"transaction {self.id} lost: {exc}")

    def ended(self, command: str) -> None:
        """COMMIT or ABORT went through."""
        self.state = "committed" if command == "COMMIT" else "aborted"

    def exit_error(self, raised: bool) -> TransactionError | None:
        """At the end of the ``with`` block: the error for a block that ended normally
        (``raised`` False) while the transaction had failed, else None."""
        if not raised and self.state == "failed":
            return TransactionError(f"transaction {self.id} failed before COMMIT")
        return None

    def exit_command(self, raised: bool) -> str | None:
        """At the end of the ``with`` block (``raised``: it ended with an exception): the
        frame to end the transaction with, ``"COMMIT"`` or ``"ABORT"``, or None when it is
        no longer open.

        Raises:
            TransactionError: the block ended normally but the transaction had failed.
        """
        if self.state == "open":
            return "ABORT" if raised else "COMMIT"
        error = self.exit_error(raised)
        if error is not None:
            raise error
        return None

    def control(self, session: Session, command: str) -> tuple[Callable[[str | None], bytes], str]:
        """The frame builder (receipt id -> bytes) of this transaction's ``BEGIN``,
        ``COMMIT`` or ``ABORT`` on ``session``, and its name for timeouts and logs."""
        transaction_id = self.id
        assert transaction_id is not None
        if command not in ("BEGIN", "COMMIT", "ABORT"):
            raise ValueError(f"not a transaction command: {command!r}")
        build: Callable[..., bytes] = getattr(session, command.lower())  # begin, commit, abort

        def frame(receipt_id: str | None) -> bytes:
            return build(transaction_id, receipt=receipt_id)

        return frame, f"{command} {transaction_id}"

    def end_is_moot(self, command: str, alive: bool) -> bool:
        """Whether ``command`` has nothing to do: an ABORT of a transaction lost with its
        connection (the broker dropped it; logged)."""
        if command != "ABORT" or not self.abort_is_moot(alive):
            return False
        log.info(
            "ABORT of transaction %s: nothing to do, it was lost with its connection to %s "
            "(the broker dropped it)",
            self.id,
            self.url,
        )
        return True


class TransactionBase:
    """What both shells' ``Transaction`` share: its options and state, read-only views and
    the send prologue (:meth:`_submit`).

    BEGIN is sent without a RECEIPT and not waited for: the frames of the transaction follow
    it at once, and COMMIT or ABORT (with ``receipt``, the default) wait for their RECEIPT,
    which confirms the whole transaction. A broker that refused BEGIN does not know the
    transaction, so it refuses the COMMIT/ABORT too (an ERROR, or it closes the connection),
    which raises there: nothing in it was committed. One round trip per transaction instead
    of two (each costs tens of µs of CPU in the client and the broker).

    Args:
        client: the client the transaction belongs to.
        receipt: wait for the RECEIPTs of COMMIT and ABORT (BEGIN is never waited for).
        timeout: the receipt wait (default ``timeouts.receipt``).
    """

    def __init__(
        self, client: object, *, receipt: bool = True, timeout: float | None = None
    ) -> None:
        self._client: Any = client
        self._receipt = receipt
        self._timeout = timeout
        self._tx = TransactionState()
        self._connection: Any = None

    @property
    def id(self) -> str | None:
        """The transaction id (None before BEGIN). Any thread."""
        return self._tx.id

    @property
    def state(self) -> str:
        """``new``, ``open``, ``committed``, ``aborted`` or ``failed``. Any thread."""
        return self._tx.state

    def __repr__(self) -> str:
        return f"<Transaction {self._tx.id} {self._tx.state}>"

    def _submit(
        self,
        connection: Any,
        destination: str,
        body: Any,
        headers: Mapping[str, str] | None,
        content_type: str | None,
        options: Mapping[str, Any],
    ) -> None:
        """Both shells' ``send`` after the open check: the typed ``options`` and ``codec``
        or the body's encoding, then the observer (when the client is observed) around the
        shell's own ``_send``. Called where the shell's ``send`` may be called."""
        if options:
            body, headers, content_type = self._client._send_parts(
                body, headers, content_type, options, connection.info
            )
        elif type(body) is not bytes:
            body, content_type = encode_body(body, content_type)
        observer = self._client._observer
        if observer is None:
            self._send(connection, destination, body, headers, content_type)
            return
        payload: bytes = body
        observer.send(  # queued at once: nothing to await
            destination,
            headers,
            len(payload),
            lambda traced: self._send(connection, destination, payload, traced, content_type),
        )

    def _send(
        self,
        connection: Any,
        destination: str,
        body: bytes,
        headers: Mapping[str, str] | None,
        content_type: str | None,
    ) -> None:
        """Queue one SEND of the transaction on ``connection`` (each shell its own way)."""
        raise NotImplementedError(f"{type(self).__name__} must define _send")
