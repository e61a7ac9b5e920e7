"""Heart-beat decisions as a pure object: when to send one, when the broker has been silent
too long. It reads no clock: every method takes ``now`` (``time.monotonic()`` in the client,
any number in tests), so the decisions are tested without sleeping.

A reader that stops reading on purpose (the consume backlog is full, see
:mod:`stomp_enterprise.core.backlog`) cannot know whether the broker still talks: while
paused, silence is never held against the broker, and the silence clock starts again when
reading resumes. Our own heart-beats are decided by the time of our last write alone, so
they keep going while paused.
"""

from __future__ import annotations

__all__ = ["Liveness", "silence_limit"]

_MAX_TICK = 1.0


def silence_limit(
    expect_within: float, tolerance: float, server: str | None, *, heard: bool
) -> float:
    """Seconds of silence after which the broker is declared dead (0: heart-beats off).

    ``tolerance * expect_within`` in general, one interval more when the broker may be
    silent for up to two intervals: ActiveMQ Classic's inactivity monitor checks on a fixed
    timer of one interval whether it wrote anything since the last check and sends a
    heart-beat only if it did not, so after any frame it wrote just past a check (a RECEIPT,
    a MESSAGE, CONNECTED itself) its next heart-beat comes almost two intervals later. Any
    other broker gets that interval only until the first byte after CONNECTED (``heard``):
    where a heart-beat timer starts at the handshake, the first one may come late.

    Args:
        expect_within: the negotiated receive interval in seconds.
        tolerance: ``ClientConfig.heartbeat_tolerance``.
        server: CONNECTED's ``server`` header (``ActiveMQ/5.17.2`` for ActiveMQ Classic;
            Artemis says ``ActiveMQ-Artemis/...``).
        heard: a byte arrived after CONNECTED.
    """
    if not expect_within:
        return 0.0
    limit = expect_within * tolerance
    if not heard or (server or "").startswith("ActiveMQ/"):
        limit += expect_within
    return limit


class Liveness:
    """Heart-beat bookkeeping of one connection.

    Args:
        send_every: seconds between our heart-beats when idle (0: we send none).
        expect_within: seconds within which the broker promised data (0: no promise).
        tolerance: the broker is dead after ``tolerance * expect_within`` of silence.
        connected_at: when CONNECTED arrived. Until the first byte after it, one more
            interval is allowed (see :func:`silence_limit`).
        server: CONNECTED's ``server`` header: ActiveMQ Classic always gets one more
            interval (see :func:`silence_limit`).

    Not thread-safe: one reader thread owns it.
    """

    __slots__ = (
        "_connected_at",
        "_heard_limit",
        "_paused",
        "_resumed_at",
        "expect_within",
        "limit",
        "send_every",
    )

    def __init__(
        self,
        send_every: float,
        expect_within: float,
        tolerance: float,
        connected_at: float,
        server: str | None = None,
    ) -> None:
        if send_every < 0 or expect_within < 0 or tolerance < 1:
            raise ValueError("intervals must be >= 0 and tolerance >= 1")
        self.send_every = send_every
        self.expect_within = expect_within
        self.limit = expect_within * tolerance
        self._heard_limit = silence_limit(expect_within, tolerance, server, heard=True)
        self._connected_at = connected_at
        self._paused = False
        self._resumed_at = connected_at

    @property
    def tick(self) -> float:
        """The longest a reader may wait before asking again (a quarter of an interval,
        at most 1 s)."""
        return min(t for t in (self.send_every / 4, self.expect_within / 4, _MAX_TICK) if t > 0)

    @property
    def active(self) -> bool:
        """Whether there is anything to decide (heart-beats in either direction)."""
        return bool(self.send_every or self.limit)

    @property
    def paused(self) -> bool:
        """True while the reader has stopped reading on purpose."""
        return self._paused

    def pause(self) -> None:
        """The reader stops reading (idempotent)."""
        self._paused = True

    def resume(self, now: float) -> None:
        """The reader reads again: silence counts from ``now`` (idempotent)."""
        if self._paused:
            self._paused = False
            self._resumed_at = now

    def heartbeat_due(self, now: float, last_write: float) -> bool:
        """Whether to write a heart-beat now (half an interval after our last write, so
        one always arrives within the interval the broker expects)."""
        return bool(self.send_every) and now - last_write >= self.send_every / 2

    def silence(self, now: float, last_read: float) -> float | None:
        """How long the broker has been silent when that is too long (it is dead), else
        ``None``. Never while paused; time spent paused does not count."""
        if not self.limit or self._paused:
            return None
        since = max(last_read, self._resumed_at)
        if last_read <= self._connected_at:
            limit = self.limit + self.expect_within
        else:
            limit = self._heard_limit
        silent = now - since
        return silent if silent > limit else None
