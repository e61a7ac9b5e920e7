"""The connect loop's decisions, shared by both shells (sans-I/O: no clock, no sleep).

:class:`AttemptFeed` feeds tenacity (``Retrying`` in the threaded client, ``AsyncRetrying``
in the asyncio one) from the pure :class:`~stomp_enterprise.protocol.failover.ReconnectSchedule`:
which broker to try next and how long to wait before it. :func:`retryable` says which errors
are one more failed try, :func:`connect_failed` builds the final error, :func:`reconnect_wait`
how long a send waits for a connection while disconnected. The shells only sleep and open
sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from stomp_enterprise.errors import (
    BrokerError,
    ConnectFailed,
    ConnectionLost,
    StompConnectionError,
    StompTimeout,
)
from stomp_enterprise.protocol.failover import Attempt, FailoverPolicy
from stomp_enterprise.protocol.session import Connected, ErrorReceived, Event

__all__ = [
    "AttemptFeed",
    "connect_failed",
    "connect_headers",
    "connected_in",
    "loss_error",
    "priority_return_delays",
    "is_artemis",
    "reconnect_wait",
    "retryable",
    "routed",
]


class AttemptFeed:
    """Feeds tenacity from the pure failover schedule: ``stop`` pulls the next attempt (so the
    schedule's limit ends the loop), ``wait`` returns that attempt's delay.

    Args:
        attempts: ``ReconnectSchedule.attempts(startup)``.
        closing: True once the client is closing (the loop then stops).
    """

    def __init__(self, attempts: Iterable[Attempt], closing: Callable[[], bool]) -> None:
        self._iter = iter(attempts)
        self._closing = closing
        self.current: Attempt | None = next(self._iter, None)
        self.tried: list[tuple[str, BaseException]] = []

    def stop(self, state: Any = None) -> bool:
        """tenacity's ``stop``: take the next attempt; stop when there is none or closing."""
        self.current = next(self._iter, None)
        return self.current is None or self._closing()

    def wait(self, state: Any = None) -> float:
        """tenacity's ``wait``: the delay before the current attempt, in seconds."""
        return self.current.delay if self.current is not None else 0.0

    def describe_retry(
        self, exc: BaseException | None
    ) -> tuple[str, BaseException | None, str, float]:
        """The arguments of the WARNING logged before a back-off sleep."""
        nxt = self.current
        return (
            "the broker refused CONNECT"
            if isinstance(exc, BrokerError)
            else "connection attempt failed",
            exc,
            nxt.broker.url if nxt else "none",
            nxt.delay if nxt else 0.0,
        )


def retryable(*, startup: bool) -> tuple[type[BaseException], ...]:
    """The errors that count as one failed try. On startup an ERROR in reply to CONNECT (bad
    credentials) is final; during a background reconnect it is retried with the back-off
    like any failed try (RabbitMQ answers so while a vhost is still starting)."""
    errors: tuple[type[BaseException], ...] = (StompConnectionError, StompTimeout)
    return errors if startup else (*errors, BrokerError)


def connect_failed(tried: list[tuple[str, BaseException]]) -> ConnectFailed:
    """The error of a connect loop that gave up: the last failure of each broker tried."""
    last: dict[str, BaseException] = {}
    for url, exc in tried:
        last.pop(url, None)
        last[url] = exc
    return ConnectFailed("could not connect to any broker", list(last.items()))


def reconnect_wait(timeout: float | None, send_timeout: float | None, policy_timeout: int) -> float:
    """Seconds a call waits for a connection while disconnected: its own ``timeout``, else
    ``timeouts.send``, else the failover URI's ``timeout`` option (ms; unset: 0)."""
    if timeout is not None:
        return timeout
    if send_timeout is not None:
        return send_timeout
    return policy_timeout / 1000.0 if policy_timeout >= 0 else 0.0


def connect_headers(extra: Mapping[str, str], client_id: str | None) -> dict[str, str]:
    """The extra CONNECT headers: ``connect_headers`` plus ``client-id``."""
    headers = dict(extra)
    if client_id:
        headers["client-id"] = client_id
    return headers


def is_artemis(server: str | None) -> bool:
    """Whether a CONNECTED ``server`` header names ActiveMQ Artemis (see :func:`routed`)."""
    return (server or "").startswith("ActiveMQ-Artemis")


def routed(
    artemis: bool, destination: str, headers: Mapping[str, str] | None, *, subscribe: bool
) -> Mapping[str, str] | None:
    """Artemis without ``anycastPrefix``/``multicastPrefix`` on its acceptor auto-creates
    every address MULTICAST, so a ``/queue/`` SEND made before any consumer is dropped and
    two consumers of a queue each get every message. Name the routing type the destination
    prefix means (``destination-type``/``subscription-type``) unless the caller already did.
    Other brokers, and Artemis over 1.0 (no ``server`` header), are left alone."""
    if not artemis:
        return headers
    if destination.startswith("/queue/"):
        kind = "ANYCAST"
    elif destination.startswith("/topic/"):
        kind = "MULTICAST"
    else:
        return headers
    name = "subscription-type" if subscribe else "destination-type"
    if headers and name in headers:
        return headers
    return {**(headers or {}), name: kind}


def connected_in(events: list[Event]) -> tuple[Connected | None, list[Event]]:
    """The handshake's answer among the first events of a connection: CONNECTED and the
    events that came after it in the same read (routed once the connection is current),
    or ``(None, [])`` when it has not come yet.

    Raises:
        BrokerError: the broker answered CONNECT with an ERROR.
    """
    for index, event in enumerate(events):
        if isinstance(event, Connected):
            return event, events[index + 1 :]
        if isinstance(event, ErrorReceived):
            raise BrokerError(event.message, event.frame)
    return None, []


def loss_error(url: str, exc: BaseException, broker_error: BrokerError | None) -> ConnectionLost:
    """The ConnectionLost a lost connection reports for ``exc``: after an ERROR from the
    broker (most brokers close next, e.g. on an oversize frame) it says why, with the ERROR
    as its cause."""
    if broker_error is not None:
        lost = ConnectionLost(
            f"connection to {url} lost after the broker's ERROR: {broker_error.message}"
        )
        lost.__cause__ = broker_error
        return lost
    if isinstance(exc, ConnectionLost):
        return exc
    lost = ConnectionLost(f"connection to {url} lost: {exc}")
    lost.__cause__ = exc
    return lost


def priority_return_delays(policy: FailoverPolicy) -> Iterator[float]:
    """``priorityBackup``: the seconds to wait before each pass over the priority brokers
    while connected to a backup one (the policy's back-off, from ``initialReconnectDelay``
    up to ``maxReconnectDelay``; endless: the shell stops when it moves or closes)."""
    delay = max(policy.initial_reconnect_delay, 1) / 1000.0
    limit = max(policy.max_reconnect_delay, 1) / 1000.0
    while True:
        yield delay
        if policy.use_exponential_back_off:
            delay *= policy.reconnect_delay_exponent
        delay = min(delay, limit)
