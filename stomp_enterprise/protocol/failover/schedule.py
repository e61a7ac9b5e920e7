"""The reconnect schedule: which broker to try next and how long to wait first (ActiveMQ
semantics, sans I/O)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Final, NamedTuple

from stomp_enterprise.errors import ConfigError
from stomp_enterprise.protocol.failover.address import BrokerAddress
from stomp_enterprise.protocol.failover.uri import FailoverUri

# --------------------------------------------------------------------------------------------
# Reconnect schedule
# --------------------------------------------------------------------------------------------


class Attempt(NamedTuple):
    """One connection try.

    Attributes:
        broker: the broker to try.
        delay: seconds to wait *before* trying it (0 for all but the first try of a pass).
        attempt: the pass number since the schedule was created or :meth:`reset`, from 1.
    """

    broker: BrokerAddress
    delay: float
    attempt: int


class ReconnectSchedule:
    """Which broker to try next and how long to wait first (ActiveMQ semantics, seeded RNG).

    The schedule keeps the pass count and the current back-off between :meth:`attempts`
    calls, like ActiveMQ's ``connectFailures`` and ``reconnectDelay``: call :meth:`connected`
    after every successful connection and :meth:`lost` when it ends (or :meth:`reset` before
    trying again after an exhausted iterator). Use one iterator at a time.

    Ordering of each pass: the brokers in listed order, shuffled when ``randomize``; then the
    broker last reported to :meth:`failed` moves to the end; then, with ``priorityBackup``, the
    priority brokers move to the front (a failed priority broker stays behind the other
    priority brokers but ahead of the rest). Stable otherwise.

    Back-off across connections (see :meth:`connected` and :meth:`lost`): a successful
    CONNECT starts the pass count over, but the back-off delay starts over only once that
    connection has proven healthy by staying up :meth:`healthy_after` seconds. A connection
    that dies younger (a broker that answers CONNECTED and closes, a poison message that
    kills every connection) makes the next reconnect wait the current delay and grow it, as
    if the connection had failed: such a broker is tried at most once per current delay.

    Not thread-safe and free of I/O: one owner calls it, from any thread, one call at a time
    (the client does so from the thread that connects, or holding its state lock).

    Args:
        uri: the brokers and the policy.
        seed: seed for ``random.Random`` (shuffling and jitter); ``None`` seeds from the OS.
        healthy_after: the minimum life, in seconds, of a healthy connection (default
            :data:`HEALTHY_AFTER`); the current back-off delay applies when it is longer.
    """

    def __init__(
        self, uri: FailoverUri, *, seed: int | None = None, healthy_after: float | None = None
    ) -> None:
        """Create the schedule; see the class docstring.

        Raises:
            ConfigError: ``uri`` is not a :class:`FailoverUri`, or ``healthy_after`` is not
                a finite number of seconds >= 0.
        """
        if healthy_after is None:
            healthy_after = HEALTHY_AFTER
        if not isinstance(uri, FailoverUri):
            raise ConfigError(f"invalid failover URI {uri!r}: expected a FailoverUri", value=uri)
        self._uri = uri
        self._policy = uri.policy
        self._rng = random.Random(seed)
        priority = uri.policy.priority_uris or uri.brokers[:1]
        self._priority_urls = frozenset(broker.url for broker in priority)
        if (
            isinstance(healthy_after, bool)
            or not isinstance(healthy_after, int | float)
            or not healthy_after >= 0  # also refuses NaN
            or math.isinf(healthy_after)
        ):
            raise ConfigError(
                f"invalid healthy_after {healthy_after!r}: expected seconds >= 0",
                value=healthy_after,
            )
        self._healthy_after = float(healthy_after)
        self._failed: BrokerAddress | None = None
        self._passes = 0
        self._backoff_ms = self._initial_backoff_ms()
        self._delay_first_pass = False  # the last connection died young: keep backing off
        self._connected_at: float | None = None

    @property
    def uri(self) -> FailoverUri:
        """The failover URI the schedule was built from."""
        return self._uri

    @property
    def passes(self) -> int:
        """Passes started since creation or the last :meth:`reset`."""
        return self._passes

    def attempts(self, startup: bool) -> Iterator[Attempt]:
        """Yield the connection tries, pass after pass, until the pass limit is reached.

        The iterator is lazy: the pass count and back-off advance when the first try of a pass
        is produced, and the pass order (shuffle, failed broker, priority) is drawn then.

        Not thread-safe: one owner's thread, one call at a time.

        Args:
            startup: ``True`` for the first connection (limit ``startupMaxReconnectAttempts``,
                falling back to ``maxReconnectAttempts`` when -1), ``False`` when reconnecting
                after a loss (limit ``maxReconnectAttempts``).

        Returns:
            An iterator of :class:`Attempt`; infinite when the limit is -1.

        Raises:
            ConfigError: ``startup`` is not a bool.
        """
        if not isinstance(startup, bool):
            raise ConfigError(f"invalid startup flag {startup!r}: expected a bool", value=startup)
        return self._generate(self._policy.max_passes(startup))

    def _generate(self, limit: int | None) -> Iterator[Attempt]:
        while limit is None or self._passes < limit:
            delay = self._next_pass_delay_ms() / 1000.0
            self._passes += 1
            number = self._passes
            for index, broker in enumerate(self._ordering()):
                yield Attempt(broker, delay if index == 0 else 0.0, number)

    def _initial_backoff_ms(self) -> float:
        policy = self._policy
        return float(min(policy.initial_reconnect_delay, policy.max_reconnect_delay))

    def _next_pass_delay_ms(self) -> float:
        """Return the delay of the pass about to start, advancing the back-off."""
        if self._passes == 0 and not self._delay_first_pass:
            return 0.0
        self._delay_first_pass = False
        policy = self._policy
        base = self._backoff_ms
        if policy.use_exponential_back_off:
            grown = base * policy.reconnect_delay_exponent
            self._backoff_ms = min(grown, float(policy.max_reconnect_delay))
        if policy.reconnect_delay_jitter > 0:
            jittered = base + self._rng.uniform(0.0, float(policy.reconnect_delay_jitter))
            return min(jittered, float(policy.max_reconnect_delay))
        return base

    def _ordering(self) -> list[BrokerAddress]:
        brokers = list(self._uri.brokers)
        if self._policy.randomize:
            self._rng.shuffle(brokers)
        failed = self._failed
        priority_first = self._policy.priority_backup
        brokers.sort(
            key=lambda broker: (
                0 if priority_first and self.is_priority(broker) else 1,
                1 if broker == failed else 0,
            )
        )
        return brokers

    def _check_known(self, broker: object) -> BrokerAddress:
        if isinstance(broker, BrokerAddress) and broker in self._uri.brokers:
            return broker
        shown = broker.url if isinstance(broker, BrokerAddress) else repr(broker)
        raise ConfigError(f"unknown broker {shown}: not in the failover list", value=broker)

    def failed(self, broker: BrokerAddress) -> None:
        """Report that the connection to ``broker`` was lost: it goes last in later passes.

        Only the most recent report counts (like ActiveMQ's ``failedConnectTransportURI``);
        :meth:`reset` does not clear it.

        Not thread-safe: one owner's thread, one call at a time.

        Raises:
            ConfigError: ``broker`` is not one of the brokers.
        """
        self._failed = self._check_known(broker)

    def is_priority(self, broker: BrokerAddress) -> bool:
        """Whether ``broker`` is a priority broker (``priorityURIs``, else the first listed).

        Not thread-safe: one owner's thread, one call at a time.
        """
        return broker.url in self._priority_urls

    def should_return_to_priority(self, current: BrokerAddress) -> bool:
        """Whether the client, connected to ``current``, should periodically try a priority one.

        Not thread-safe: one owner's thread, one call at a time.

        Returns:
            ``True`` when ``priorityBackup`` is on and ``current`` is not a priority broker.

        Raises:
            ConfigError: ``current`` is not one of the brokers.
        """
        self._check_known(current)
        return self._policy.priority_backup and not self.is_priority(current)

    def reset(self) -> None:
        """Start over completely: the pass count and the back-off (a new client's schedule).

        After a connection, call :meth:`connected` and :meth:`lost` instead: they start the
        back-off over only for a connection that proved healthy.
        Not thread-safe: one owner's thread, one call at a time.
        """
        self._passes = 0
        self._backoff_ms = self._initial_backoff_ms()
        self._delay_first_pass = False
        self._connected_at = None

    def healthy_after(self) -> float:
        """Seconds a connection made now must stay up to count as healthy.

        That is the longer of the ``healthy_after`` given to the constructor and the current
        back-off delay: a connection that lives shorter than the wait it would save proves
        nothing, so a flapping broker is never tried more often than once per current delay.
        Not thread-safe: one owner's thread, one call at a time.
        """
        return max(self._healthy_after, self._backoff_ms / 1000.0)

    def connected(self, now: float) -> None:
        """Report a successful connection (CONNECTED received) at time ``now``.

        The pass count starts over (the broker was reachable); the back-off delay is kept
        until :meth:`lost` says whether the connection was healthy.

        Not thread-safe: one owner's thread, one call at a time.

        Args:
            now: a monotonic clock reading in seconds (``time.monotonic()``); the schedule
                never reads a clock itself.

        Raises:
            ConfigError: ``now`` is not a finite number.
        """
        self._connected_at = _check_time(now)
        self._passes = 0
        self._delay_first_pass = False

    def lost(self, now: float) -> bool:
        """Report that the connection reported to :meth:`connected` ended at time ``now``.

        A connection that stayed up at least :meth:`healthy_after` seconds was healthy: the
        back-off starts over and the first reconnect pass starts at once. One that died
        younger keeps the back-off: the first reconnect pass waits the current delay (which
        then grows, as between failed passes). Without a :meth:`connected` report before,
        nothing changes.

        Not thread-safe: one owner's thread, one call at a time.

        Args:
            now: the same clock as for :meth:`connected`.

        Returns:
            True when the connection counted as healthy (the back-off was reset).

        Raises:
            ConfigError: ``now`` is not a finite number.
        """
        now = _check_time(now)
        since, self._connected_at = self._connected_at, None
        if since is None:
            return False
        if now - since >= self.healthy_after():
            self.reset()
            return True
        self._delay_first_pass = True
        return False


#: Default minimum life, in seconds, of a connection that resets the back-off (see
#: :meth:`ReconnectSchedule.healthy_after`).
HEALTHY_AFTER: Final = 1.0


def _check_time(now: object) -> float:
    """Validate a clock reading given to the schedule."""
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        raise ConfigError(f"invalid clock reading {now!r}: expected a finite number", value=now)
    return float(now)
