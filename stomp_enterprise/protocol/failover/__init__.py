"""Failover URIs and the reconnect schedule, with ActiveMQ failover-transport semantics (sans I/O).

This package only *computes*: it parses broker and failover URIs into frozen models and yields
the order in which brokers should be tried and how long to wait before each try. It never
opens a socket, sleeps, reads a clock or starts a thread; the client layer does that.

URI forms accepted by :func:`parse_uri` (surrounding whitespace is ignored):

* ``failover:(tcp://h1:61613,ssl://h2:61614,stomp+ssl://[::1]:61612)?initialReconnectDelay=10``
  (ActiveMQ). Inside the parentheses each broker URI may carry its own ``?name=value&...``
  options, kept in :attr:`BrokerAddress.options` but not interpreted.
* ``failover:tcp://h1:61613,tcp://h2:61613?randomize=false`` (ActiveMQ, no parentheses). In
  this form the first ``?`` starts the *failover* options, so brokers cannot carry their own
  options; use the parenthesized form for that.
* ``ws://host[:port][/path][?query]`` and ``wss://...`` members (STOMP over WebSocket) may
  stand alone or mix with the others, e.g. ``failover:(tcp://h1:61613,wss://h2/ws)``; their
  path and query are the HTTP request target (:attr:`BrokerAddress.resource`), not options.
* Failover options separated by ``&`` (ActiveMQ) or ``,`` (stompest), or a mix of both. The
  value of ``priorityURIs`` is itself a comma-separated list of broker URIs.
* A single ``tcp://``, ``ssl://``, ``stomp://``, ``stomp+ssl://``, ``ws://`` or ``wss://``
  URI. It gets the default
  policy except ``maxReconnectAttempts=0`` and ``startupMaxReconnectAttempts=0``: one
  connection try and no reconnect (wrap it in ``failover:(...)`` to get retries).

Broker ports are optional: 61613 for ``tcp``/``stomp``, 61614 for ``ssl``/``stomp+ssl``, 80
for ``ws`` and 443 for ``wss``.

Attempt counting (:meth:`ReconnectSchedule.attempts`) follows ActiveMQ's ``FailoverTransport``
code, which counts *passes* over the whole broker list, not single broker tries:

* Every broker is tried once per pass. The first attempt of a pass carries the pass delay; the
  other attempts of the pass have delay 0.
* The first pass after construction or :meth:`ReconnectSchedule.reset` has delay 0, and so
  has the first reconnect pass after a healthy connection; after a connection that died young
  (:meth:`ReconnectSchedule.lost`) it waits the current delay instead. Pass 2
  waits ``initialReconnectDelay``; each later pass waits the previous pass delay multiplied by
  ``reconnectDelayExponent`` when ``useExponentialBackOff`` is true (otherwise the same delay
  again). Every pass delay is capped at ``maxReconnectDelay``.
* The pass limit: on startup the limit is ``startupMaxReconnectAttempts``, or
  ``maxReconnectAttempts`` when the former is -1 (ActiveMQ falls back exactly like that). When
  reconnecting after a loss the limit is ``maxReconnectAttempts``. A limit of -1 means
  unlimited passes; a limit ``N > 0`` allows exactly ``N`` passes. A limit of 0 allows one
  pass on startup (ActiveMQ always makes the initial connection pass) and *no* pass when
  reconnecting (reconnect disabled). Hence the number of passes is ``max(N, 1)`` on startup and
  ``N`` on reconnect -- never ``1 + N``.
"""

from __future__ import annotations

from stomp_enterprise.protocol.failover.address import DEFAULT_PORTS, SCHEMES, BrokerAddress, Scheme
from stomp_enterprise.protocol.failover.policy import DEFAULT_MAX_CACHE_SIZE, FailoverPolicy
from stomp_enterprise.protocol.failover.schedule import HEALTHY_AFTER, Attempt, ReconnectSchedule
from stomp_enterprise.protocol.failover.uri import FailoverUri, parse_uri

__all__ = [
    "DEFAULT_MAX_CACHE_SIZE",
    "DEFAULT_PORTS",
    "HEALTHY_AFTER",
    "SCHEMES",
    "Attempt",
    "BrokerAddress",
    "FailoverPolicy",
    "FailoverUri",
    "ReconnectSchedule",
    "Scheme",
    "parse_uri",
]
