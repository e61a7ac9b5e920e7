"""What happens to outbound frames when a connection is lost (sans-I/O, client-agnostic).

Nothing here opens a socket, starts a thread, sleeps or reads a clock: the threaded client
(and, later, an asyncio one) moves the bytes, takes the locks and passes the time in.

Three pieces:

* :func:`carries_over` classifies a serialized frame at loss time: a SEND outside a
  transaction is written again on the next connection; anything else (ACK/NACK: their
  message ids belong to the old connection and the broker redelivers; heart-beats;
  SUBSCRIBE/UNSUBSCRIBE: the subscription replay covers them; DISCONNECT; BEGIN/COMMIT/ABORT
  and every frame of a transaction) is not.
* :class:`SendTracker` is ActiveMQ's ``trackMessages=true`` for one connection: the SENDs
  written since the broker last confirmed, bounded by ``maxCacheSize`` bytes. The writer asks
  it before each batch whether a *marker* receipt is due (every ``every_frames`` frames,
  every quarter of the cache, or when ``interval`` has passed since the last marker) and
  which frames fit in the cache; a RECEIPT for a marker confirms every frame written before
  it on that connection (brokers answer in order).
* :class:`Outbox` is the client's side: the frames waiting for the next connection, in
  order, and the counters ``resent`` and ``undelivered``.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

__all__ = [
    "MARKER_PREFIX",
    "Mark",
    "Outbox",
    "SendTracker",
    "carries_over",
    "outbound_state",
    "plan_resend",
    "receipt_of",
    "split_sends",
]

#: Receipt ids of marker receipts start with this (user receipts are ``rcpt-N``).
MARKER_PREFIX = "trk-"
_MARKER = MARKER_PREFIX.encode()
_SEND = b"SEND\n"
_MARKER_ROOM = 32  # bytes a marker header adds at most (``receipt:trk-<up to 19 digits>\n``)


def _split_sends(frames: list[bytes]) -> tuple[list[bytes], int]:
    found = [frame for frame in frames if frame.startswith(_SEND)]
    return found, sum(map(len, found))


_c_sends: Callable[[list[bytes]], tuple[list[bytes], int] | None] | None = None
if not os.environ.get("STOMP_ENTERPRISE_PURE_PYTHON"):
    try:  # the optional C accelerator (see protocol/_speedups.c)
        from stomp_enterprise.protocol._speedups import sends as _c_sends
    except ImportError:
        _c_sends = None


def split_sends(frames: list[bytes]) -> tuple[list[bytes], int]:
    """The SEND frames of ``frames`` (those starting with ``SEND\\n``), in order, and their
    total size in bytes. The tracker's per-batch bookkeeping: the C accelerator does it
    without a Python call per frame (the list comprehension with ``bytes.startswith`` costs
    ~1,100 CPU instructions a frame on CPython 3.11); the Python code is the definition the
    accelerator is tested against."""
    if _c_sends is not None:
        found = _c_sends(frames)
        if found is not None:
            return found
    return _split_sends(frames)


def _head_end(frame: bytes) -> int:
    end = frame.find(b"\n\n")
    return len(frame) if end < 0 else end


def carries_over(frame: bytes) -> bool:
    """Whether a serialized frame is written again on the next connection after a loss: a
    SEND without a ``transaction`` header (with or without a receipt).

    Header values cannot hold a raw line feed (1.1/1.2 escape it, 1.0 refuses it), so a
    ``\\ntransaction:`` inside the head is always the start of that header.
    Any thread (a pure function).
    """
    if not frame.startswith(_SEND):
        return False
    return frame.find(b"\ntransaction:", 4, _head_end(frame)) < 0


def receipt_of(frame: bytes) -> str | None:
    """The ``receipt`` header of a serialized frame, or None."""
    end = _head_end(frame)
    start = frame.find(b"\nreceipt:", 0, end)
    if start < 0:
        return None
    start += 9
    stop = frame.find(b"\n", start, end + 1)
    return frame[start : end if stop < 0 else stop].decode("utf-8", "replace")


def plan_resend(
    cached: Iterable[bytes], unsent: Sequence[bytes], receipted: Iterable[bytes] = ()
) -> list[bytes]:
    """The frames to write on the next connection after a loss, in their original order.

    Args:
        cached: written frames the broker has not confirmed (the tracking cache; empty
            without tracking), oldest first.
        unsent: frames not completely written (a frame cut in the middle counts whole), in
            queue order; they were queued after everything written.
        receipted: frames of receipted sends still waiting for their RECEIPT, in the order
            they were queued. Those already in ``cached`` or ``unsent`` (the same object)
            are not repeated; the others were written before every unsent frame.

    Returns:
        Only the frames that :func:`carries_over`.
    """
    cached = list(cached)
    known = {id(frame) for frame in cached}
    known.update(id(frame) for frame in unsent)
    written = [frame for frame in receipted if id(frame) not in known]
    return [frame for frame in itertools.chain(written, cached, unsent) if carries_over(frame)]


def outbound_state(
    url: str, alive: bool, queued: int, tracker: SendTracker | None, stalled: bool
) -> str:
    """What a connection still holds outbound, in words, for a timeout's message (a
    RECEIPT that does not come is told apart: frames never written, a tracking cache
    waiting for the broker's confirmations, or a broker that got everything). Any thread
    (reads counters; a racy snapshot is good enough for a message)."""
    if not alive:
        return f"{url}: lost, reconnecting"
    parts = [f"{url}: {queued:,} bytes queued, not yet written"]
    if tracker is not None:
        parts.append(
            f"tracking cache {tracker.bytes:,} of {tracker.max_bytes:,} bytes, "
            f"{tracker.awaited} confirmation(s) awaited"
            + (", writer waiting for room" if stalled else "")
        )
    return "; ".join(parts)


class Mark(NamedTuple):
    """A confirmation point chosen by :meth:`SendTracker.prepare` for one batch."""

    position: int  #: the frame of the batch that carries the receipt
    receipt_id: str  #: its receipt id (a marker's, or the frame's own)


class SendTracker:
    """The ``trackMessages`` cache of one connection (not thread-safe: the shell serializes
    every call with the lock of the connection's outbound queue). It holds the SEND frames
    written since the last confirmation (a transaction's too: :func:`plan_resend` drops
    them at loss time; classifying every frame here would cost the hot path).

    Args:
        max_bytes: ``maxCacheSize``: the cache never holds more (a single frame larger than
            this is admitted alone into an empty cache).
        every_frames: a marker receipt at least every this many written frames.
        interval: a marker when this much time (in the caller's clock unit) has passed since
            the last one and every earlier marker was answered: at a low rate every frame
            is confirmed quickly, and a slow broker is not sent a marker every ``interval``
            while it has not answered the last one (``every_frames`` and the byte bound
            still apply).
        ids: the marker id counter; share one per client so that ids stay unique across
            connections (a frame cut by a loss is resent with its marker header).
    """

    def __init__(
        self,
        max_bytes: int,
        *,
        every_frames: int = 1024,
        interval: float = 0.01,
        ids: Iterator[int] | None = None,
    ) -> None:
        if max_bytes < 1 or every_frames < 1:
            raise ValueError("max_bytes and every_frames must be positive")
        self.max_bytes = max_bytes
        self.every_frames = every_frames
        self.every_bytes = max(1, max_bytes // 4)
        self.interval = interval
        self._ids = ids if ids is not None else itertools.count(1)
        # the cache, one list per written batch (confirmations drop whole batches: no work
        # per frame), with the byte size of each
        self._batches: deque[list[bytes]] = deque()
        self._sizes: deque[int] = deque()
        self._count = 0  # frames cached
        self.bytes = 0  #: bytes held in the cache
        self._base = 0  # sequence number of the first cached frame
        self._marks: dict[str, int] = {}  # receipt id -> sequence number it confirms up to
        self._acked = 0  # every frame before this sequence number is confirmed
        self._since_frames = 0
        self._since_bytes = 0
        self._last_mark: float | None = None
        self.markers = 0  #: marker receipts added so far
        self.confirmed = 0  #: frames confirmed so far

    def __len__(self) -> int:
        return self._count

    @property
    def awaited(self) -> int:
        """Marks written or about to be, whose RECEIPT has not come yet."""
        return len(self._marks)

    @property
    def end(self) -> int:
        """The sequence number the next cached frame gets."""
        return self._base + self._count

    def admit(self, frames: Sequence[bytes], size: int) -> int:
        """How many leading ``frames`` (of ``size`` bytes in all) may be written now without
        the cache growing beyond ``max_bytes``; 0 means: wait for a confirmation.
        Not thread-safe: call holding the outbound queue's lock."""
        room = self.max_bytes - _MARKER_ROOM - self.bytes  # a marker may be added to one
        if size <= room:
            return len(frames)
        empty = not self._count
        for index, frame in enumerate(frames):
            if frame.startswith(_SEND):
                room -= len(frame)
                if room < 0 and not (empty and index == 0):
                    return index
        return len(frames)

    def prepare(self, batch: list[bytes], size: int, now: float) -> Mark | None:
        """Before ``batch`` is written: when a confirmation is due, put a marker receipt on
        its last SEND that carries over (``receipt:trk-N`` inserted after the command line:
        one copy, in place in ``batch``) or, when that frame has a receipt of its own, use
        that one. The mark is registered at once: its RECEIPT may come back before
        :meth:`written` is called for the batch (a confirmation is never missed). Returns the
        mark to pass to :meth:`written`, or None.
        Not thread-safe: call holding the outbound queue's lock."""
        due = (
            self._since_frames + len(batch) >= self.every_frames
            or self._since_bytes + size >= self.every_bytes
            or self._last_mark is None
            or (not self._marks and now - self._last_mark >= self.interval)
        )
        if not due:
            return None
        for index in range(len(batch) - 1, -1, -1):
            frame = batch[index]
            if not frame.startswith(_SEND):
                continue
            self._last_mark = now
            receipt_id = receipt_of(frame)
            if receipt_id is None:
                receipt_id = f"{MARKER_PREFIX}{next(self._ids)}"
                batch[index] = b"".join((_SEND, b"receipt:", receipt_id.encode(), b"\n", frame[5:]))
                self.markers += 1
            self._marks[receipt_id] = self.end + len(split_sends(batch[: index + 1])[0])
            return Mark(index, receipt_id)
        return None

    def written(self, frames: list[bytes], mark: Mark | None = None) -> None:
        """``frames`` (a batch, or its first part) were written completely: cache the SENDs
        (which of them carry over is decided at loss time, by :func:`plan_resend`: here
        only the command is looked at, see :func:`split_sends`). ``mark``: what
        :meth:`prepare` returned for the batch.
        Not thread-safe: call holding the outbound queue's lock."""
        sends, size = split_sends(frames)
        if not sends:
            return
        if mark is not None:
            self._since_frames = self._since_bytes = 0  # (a few frames after it: ignored)
        else:
            self._since_frames += len(sends)
            self._since_bytes += size
        self._batches.append(sends)
        self._sizes.append(size)
        self._count += len(sends)
        self.bytes += size
        if self._acked > self._base:  # confirmed before it was recorded as written
            self._drop_confirmed()

    def is_marker(self, receipt_id: str) -> bool:
        """Whether ``receipt_id`` is a confirmation point of this cache.

        Any thread (reads an immutable prefix).
        """
        return receipt_id in self._marks

    def confirm(self, receipt_id: str) -> bool:
        """A RECEIPT arrived: drop every frame written before its mark (and the older marks).
        Returns whether ``receipt_id`` was a mark of this cache.
        Not thread-safe: call holding the outbound queue's lock."""
        upto = self._marks.pop(receipt_id, None)
        if upto is None:
            return False
        for key in [key for key, seq in self._marks.items() if seq <= upto]:
            del self._marks[key]
        self._acked = max(self._acked, upto)
        self._drop_confirmed()
        return True

    def _drop_confirmed(self) -> None:
        upto = self._acked
        batches, sizes = self._batches, self._sizes
        while batches and self._base < upto:
            first = batches[0]
            cut = upto - self._base
            if cut >= len(first):
                batches.popleft()
                self.bytes -= sizes.popleft()
                cut = len(first)
            else:  # the mark is inside this batch: keep its tail
                dropped = sum(map(len, first[:cut]))
                batches[0] = first[cut:]
                sizes[0] -= dropped
                self.bytes -= dropped
            self._base += cut
            self._count -= cut
            self.confirmed += cut

    def take(self) -> list[bytes]:
        """On loss: the unconfirmed frames, oldest first; the cache is empty afterwards.

        Not thread-safe: call holding the outbound queue's lock.
        """
        frames = [frame for batch in self._batches for frame in batch]
        self._base += len(frames)
        self._acked = self._base
        self._batches.clear()
        self._sizes.clear()
        self._count = 0
        self._marks.clear()
        self.bytes = 0
        self._since_frames = self._since_bytes = 0
        return frames


class Outbox:
    """The client's frames between connections, and what became of them.

    Attributes:
        resent: frames written again on a new connection after a loss (possible duplicates:
            a frame may have reached the broker before the loss).
        undelivered: frames given up and reported (no reconnect, reconnect gave up, or the
            client closed with them pending).
    """

    def __init__(self) -> None:
        self._frames: list[bytes] = []
        self.resent = 0
        self.undelivered = 0

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def size(self) -> int:
        """Bytes waiting for the next connection."""
        return sum(map(len, self._frames))

    def carry(self, frames: Iterable[bytes]) -> None:
        """Keep ``frames`` (see :func:`plan_resend`) for the next connection, after any
        already waiting (those came from an earlier loss).
        Not thread-safe: the client calls it holding its own lock."""
        self._frames.extend(frames)

    def take(self) -> list[bytes]:
        """The frames to write on the new connection (after its subscription replay), in
        order; they are counted in :attr:`resent`.
        Not thread-safe: the client calls it holding its own lock."""
        frames, self._frames = self._frames, []
        self.resent += len(frames)
        return frames

    def drop(self, extra: Iterable[bytes] = ()) -> list[bytes]:
        """Give up the waiting frames plus ``extra`` (a loss without reconnect, reconnect
        gave up, the client closed): returns them all, waiting ones first. The shell counts
        those whose callers learn nothing else and calls :meth:`report`.
        Not thread-safe: the client calls it holding its own lock."""
        frames = [*self._frames, *extra]
        self._frames = []
        return frames

    def report(self, count: int) -> None:
        """``count`` frames were reported undelivered (added to :attr:`undelivered`).

        Not thread-safe: the client calls it holding its own lock.
        """
        self.undelivered += count
