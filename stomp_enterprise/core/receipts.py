"""Receipt bookkeeping, generic over the waiter (a ``concurrent.futures.Future`` in the
threaded client, an ``asyncio.Future`` in the asyncio one); sans-I/O.

:class:`Receipts` maps receipt ids to waiters, and keeps the bytes of receipted SENDs: when
their connection is lost before the RECEIPT, a failover client writes them again on the next
connection and the same waiter goes on waiting there (:meth:`Receipts.plan_loss`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from stomp_enterprise.core.outbox import carries_over, plan_resend

__all__ = ["Receipts"]

W = TypeVar("W")


class Receipts(Generic[W]):
    """Receipt id -> waiter, plus the frame bytes of receipted SENDs.

    The shell serializes changes (the threaded client under its session lock, the asyncio
    client on its loop); :meth:`pop` is safe without that lock: each of its steps is a
    single dictionary operation.
    """

    __slots__ = ("_data", "_waiters")

    def __init__(self) -> None:
        self._waiters: dict[str, W] = {}
        self._data: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._waiters)

    def add(self, receipt_id: str, waiter: W, frame: bytes) -> None:
        """Wait for ``receipt_id``; ``frame`` is kept when it is a SEND that carries over."""
        self._waiters[receipt_id] = waiter
        if carries_over(frame):
            self._data[receipt_id] = frame

    def pop(self, receipt_id: str) -> W | None:
        """The RECEIPT (or an ERROR naming it) arrived: its waiter, no longer kept."""
        self._data.pop(receipt_id, None)
        return self._waiters.pop(receipt_id, None)

    def forget(self, waiter: W) -> list[str]:
        """Stop waiting with ``waiter`` (it timed out or was cancelled); returns its ids."""
        ids = [rid for rid, value in list(self._waiters.items()) if value is waiter]
        for rid in ids:
            self.pop(rid)
        return ids

    def update(self, other: Receipts[W]) -> None:
        """Wait here for ``other``'s receipts too (carried over from a lost connection)."""
        self._waiters.update(other._waiters)
        self._data.update(other._data)

    def take(self) -> Receipts[W]:
        """Everything kept, moved into a new object; this one is empty afterwards."""
        taken: Receipts[W] = Receipts()
        taken._waiters, self._waiters = self._waiters, {}
        taken._data, self._data = self._data, {}
        return taken

    def waiters(self) -> list[W]:
        """The waiters, in the order they were added."""
        return list(self._waiters.values())

    def frame_ids(self) -> set[int]:
        """``id()`` of every kept SEND frame: their senders learn of a loss through their
        waiter, so these frames are not also reported as undelivered."""
        return {id(frame) for frame in self._data.values()}

    def plan_loss(
        self, done: Callable[[W], bool], cached: Iterable[bytes], unsent: Sequence[bytes]
    ) -> tuple[Receipts[W], list[bytes], list[W]]:
        """The connection was lost: the receipted SENDs still waiting (not ``done``) move
        to the next connection with their waiter.

        Args:
            done: whether a waiter already has its outcome.
            cached: the tracking cache's unconfirmed frames; ``unsent``: what was not
                written.

        Returns:
            The receipts that carry over, every frame to write again in order
            (:func:`~stomp_enterprise.core.outbox.plan_resend`), and the other waiters
            (the shell fails them).
        """
        carried: Receipts[W] = Receipts()
        rest: list[W] = []
        for rid, waiter in self._waiters.items():
            frame = self._data.get(rid)
            if frame is not None and not done(waiter):
                carried._waiters[rid] = waiter
                carried._data[rid] = frame
            else:
                rest.append(waiter)
        return carried, plan_resend(cached, unsent, list(carried._data.values())), rest
