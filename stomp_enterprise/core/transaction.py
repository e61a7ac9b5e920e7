"""The state of one STOMP transaction, apart from how its frames are written (sans-I/O).

``new`` -> ``open`` (BEGIN) -> ``committed`` | ``aborted``; ``failed`` when BEGIN, a frame
in it or its COMMIT/ABORT could not be written, or its connection was lost (the broker then
drops it: nothing in it was committed). A shell asks :meth:`TransactionState.check_open`
before each frame and reports with the errors made here.
"""

from __future__ import annotations

from stomp_enterprise.errors import TransactionError

__all__ = ["TransactionState"]


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

    def ended(self, command: str) -> None:
        """COMMIT or ABORT went through."""
        self.state = "committed" if command == "COMMIT" else "aborted"

    def exit_error(self, raised: bool) -> TransactionError | None:
        """At the end of the ``with`` block: the error for a block that ended normally
        (``raised`` False) while the transaction had failed, else None."""
        if not raised and self.state == "failed":
            return TransactionError(f"transaction {self.id} failed before COMMIT")
        return None
