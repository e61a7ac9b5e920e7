"""A client's life between connections, shared by both shells (sans-I/O: ``now`` is passed in).

:class:`Lifecycle` holds what outlives one connection — the reconnect schedule, the outbox
of sends waiting for the next connection, the flags that say whether one may still come,
the counters — and decides: whether a loss is followed by a reconnect, whether a caller
waiting for a connection may keep waiting (what of a lost connection is written again on
the next one is :meth:`stomp_enterprise.core.receipts.Receipts.plan_loss`).
:class:`ClientView` is the read-only properties both clients expose. The threaded client
calls all this under its state lock, the asyncio client on its event loop; either way the
calls are serialized.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, TypeVar

from stomp_enterprise.core.outbox import Outbox
from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.failover import BrokerAddress, FailoverUri, ReconnectSchedule

__all__ = ["AfterLoss", "ClientView", "Lifecycle", "undelivered_count"]

W = TypeVar("W")  # a receipt waiter: a concurrent.futures.Future, an asyncio.Future


class AfterLoss(enum.Enum):
    """What follows the loss of the current connection."""

    STAY_DOWN = "stay down"  #: closing, or a plain URI: no reconnect
    RECONNECT = "reconnect"  #: reconnect with the schedule's back-off
    RECONNECT_YOUNG = "reconnect young"  #: the same, after a connection that died young


class Lifecycle:
    """What a client knows between connections.

    Args:
        failover: the parsed URI (a plain URI is a failover list of one without retries).
        seed: seed for the schedule's randomization (tests).

    Attributes:
        schedule: the :class:`~stomp_enterprise.protocol.failover.ReconnectSchedule`.
        outbox: the frames waiting for the next connection, and the counters.
        started: ``connect()`` is under way.
        reconnecting: a background reconnect is under way.
        gave_up: the last background reconnect gave up.
        reconnects: connections that replaced a lost one (counter).
        discarded: auto-ack messages received and never delivered (counter).
    """

    def __init__(self, failover: FailoverUri, seed: int | None = None) -> None:
        self.schedule = ReconnectSchedule(failover, seed=seed)
        self.reconnect_enabled = failover.policy.max_reconnect_attempts != 0
        self.outbox = Outbox()
        self.started = False
        self.reconnecting = False
        self.gave_up = False
        self.reconnects = 0
        self.discarded = 0
        self._lost_at: float | None = None
        self._disconnected_total = 0.0

    def starting(self) -> None:
        """``connect()`` begins: a new start, no back-off left from earlier connections.

        Raises:
            LocalProtocolError: a connect is already under way.
        """
        if self.started:
            raise LocalProtocolError("connect() while a connection is being established")
        self.started = True
        self.gave_up = False
        self.schedule.reset()

    def installed(self, now: float) -> None:
        """A connection became current at ``now``."""
        self.started = self.reconnecting = self.gave_up = False
        if self._lost_at is not None:
            self._disconnected_total += now - self._lost_at
            self._lost_at = None
        self.schedule.connected(now)

    def lost(self, address: BrokerAddress, now: float, *, closing: bool) -> AfterLoss:
        """The current connection (to ``address``) was lost at ``now``: what follows."""
        self._lost_at = now
        self.schedule.failed(address)
        healthy = self.schedule.lost(now)
        if closing or not self.reconnect_enabled:
            return AfterLoss.STAY_DOWN
        self.reconnecting = True
        return AfterLoss.RECONNECT if healthy else AfterLoss.RECONNECT_YOUNG

    def reconnect_ended(self, *, gave_up: bool) -> None:
        """A background reconnect ended without a new connection."""
        self.reconnecting = False
        self.gave_up = gave_up

    def closed(self) -> None:
        """``disconnect()`` is done."""
        self.started = self.reconnecting = False

    def carries(self, current: bool, closing: bool) -> bool:
        """Whether the frames of a lost connection wait for the next one: it was the
        current one, the client is not closing and a reconnect will come."""
        return current and not closing and self.reconnect_enabled

    def may_reconnect(self, lost_connection: bool, *, closing: bool) -> bool:
        """Whether a connection may still come: connecting, reconnecting, or a loss
        (``lost_connection``: the current connection is there but dead) whose reconnect
        has not started yet."""
        if closing:
            return False
        if self.reconnecting or self.started:
            return True
        return lost_connection and not self.gave_up and self.reconnect_enabled

    def disconnected_seconds(self, now: float) -> float:
        """Total time spent disconnected after connection losses, until ``now``."""
        total = self._disconnected_total
        if self._lost_at is not None:
            total += now - self._lost_at
        return total


def undelivered_count(dropped: Iterable[bytes], told: set[int]) -> int:
    """How many given-up frames to report as undelivered: those whose sender learns nothing
    else (``told``: the ``id()`` of frames whose receipt waiters fail instead)."""
    return sum(1 for frame in dropped if id(frame) not in told)


class ClientView:
    """The read-only properties both clients expose (any thread / any task). The class
    using it has ``_connection`` (with ``alive``, ``info``, ``url``), ``_life`` and
    ``_subscriptions``."""

    _connection: Any
    _life: Lifecycle
    _subscriptions: dict[str, Any]

    @property
    def is_connected(self) -> bool:
        """True while a connection is established."""
        connection = self._connection
        return connection is not None and bool(connection.alive)

    @property
    def version(self) -> str | None:
        """The negotiated STOMP version of the current connection (None when not connected)."""
        connection = self._connection
        if connection is None or connection.info is None or not connection.alive:
            return None
        version: str = connection.info.version
        return version

    @property
    def broker(self) -> str | None:
        """URL of the broker currently connected to."""
        connection = self._connection
        return str(connection.url) if connection is not None and connection.alive else None

    @property
    def server(self) -> str | None:
        """The broker's CONNECTED ``server`` header."""
        connection = self._connection
        server: str | None = connection.info.server if connection and connection.info else None
        return server

    @property
    def heart_beats(self) -> tuple[int, int]:
        """Negotiated ``(send_every_ms, expect_every_ms)`` of the current connection."""
        connection = self._connection
        if connection is None or connection.info is None:
            return (0, 0)
        return (connection.info.send_interval, connection.info.receive_interval)

    @property
    def resent(self) -> int:
        """Frames written again on a new connection after a loss (counter): SENDs that were
        not completely written, receipted SENDs without their RECEIPT, and with
        ``trackMessages=true`` SENDs the broker had not confirmed. Each may be a duplicate
        at the broker. Any thread."""
        return self._life.outbox.resent

    @property
    def undelivered(self) -> int:
        """Fire-and-forget SENDs given up (counter): lost with the connection on a plain URI,
        when reconnecting gave up, or pending when the client was closed. Each report also
        fires the ``undelivered`` event and logs a WARNING. Any thread."""
        return self._life.outbox.undelivered

    @property
    def reconnects(self) -> int:
        """Connections that replaced a lost one (counter). Any thread."""
        return self._life.reconnects

    @property
    def discarded(self) -> int:
        """Auto-ack messages received and never delivered (counter; see the ``discarded``
        event). Any thread."""
        return self._life.discarded

    @property
    def subscriptions(self) -> list[Any]:
        """The active subscriptions."""
        return list(self._subscriptions.values())
