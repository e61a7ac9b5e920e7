"""Reconnect back-off across connections, and an ERROR to CONNECT during a reconnect
(issue 13, item 7 first half and the ``fail_next_connect`` defect), against the in-process
broker's fault injection."""

from __future__ import annotations

import itertools
import logging
import time

import pytest

from stomp_enterprise import BrokerError, ConnectFailed
from stomp_enterprise.protocol.failover import HEALTHY_AFTER, ReconnectSchedule, parse_uri
from stomp_enterprise.testing import Broker


def _connect_times(broker: Broker) -> list[float]:
    return [r.time for r in broker.received if r.command in ("CONNECT", "STOMP")]


def test_a_broker_that_closes_after_connected_is_not_stormed(
    new_client, stomp_broker: Broker
) -> None:
    """CONNECTED then a close 10 ms later, every time: the client keeps backing off, so the
    gaps between connections follow the schedule (100, 200, 400, 400 ms) instead of starting
    over at 0 after each CONNECTED (~90 connections per second before)."""
    options = "initialReconnectDelay=100&maxReconnectDelay=400"
    url = f"failover:({stomp_broker.url})?{options}"
    stomp_broker.close_after_connect(0.010)
    connections = 6
    client = new_client(url, heart_beats=(0, 0))
    with client:
        stomp_broker.wait_for(lambda: len(_connect_times(stomp_broker)) >= connections, 30)
    times = _connect_times(stomp_broker)[:connections]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # what the pure schedule says for connections that die young, one after the other
    schedule = ReconnectSchedule(parse_uri(url))
    clock = 0.0
    expected = []
    for _ in gaps:
        schedule.connected(clock)
        schedule.lost(clock + 0.010)
        expected.append(next(iter(schedule.attempts(False))).delay)
    assert expected == [0.1, 0.2, 0.4, 0.4, 0.4]
    for gap, delay in zip(gaps, expected, strict=True):
        assert gap >= delay * 0.95, (gaps, expected)  # lower bounds only: the back-off waited


def test_a_healthy_connection_reconnects_at_once(
    new_client, stomp_broker: Broker, recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection that lived longer than the healthy minimum (1 s) resets the back-off:
    after its loss the first reconnect pass starts at once."""
    caplog.set_level(logging.WARNING, logger="stomp_enterprise")
    connected = recorder()
    url = f"failover:({stomp_broker.url})?initialReconnectDelay=500"
    client = new_client(url, heart_beats=(0, 0))
    client.listeners.on("connected", connected)
    with client:
        connected.wait(1)
        time.sleep(HEALTHY_AFTER + 0.1)  # the connection has now been up long enough
        stomp_broker.drop_connections()
        assert connected.wait(2, timeout=20)[1].reconnect
    assert "died young" not in caplog.text
    assert "reconnecting to" not in caplog.text  # no back-off was waited


def test_error_to_connect_during_reconnect_is_retried(
    new_client, stomp_broker: Broker, recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """RabbitMQ answers CONNECT with ERROR while a vhost is still starting: during a
    background reconnect that is retried with the back-off (WARNING), not the end."""
    caplog.set_level(logging.WARNING, logger="stomp_enterprise")
    connected, gave_up = recorder(), recorder()
    url = f"failover:({stomp_broker.url})?initialReconnectDelay=20&maxReconnectDelay=200"
    client = new_client(url, heart_beats=(0, 0), timeouts={"send": 10})
    client.listeners.on("connected", connected)
    client.listeners.on("reconnect_failed", gave_up)
    with client:
        sub = client.subscribe("/queue/vhost")
        stomp_broker.fail_next_connect("vhost '/' is starting", count=2)
        stomp_broker.drop_connections()
        infos = connected.wait(2, timeout=20)
        assert infos[1].reconnect
        client.send("/queue/vhost", b"after", receipt=True)
        assert sub.get(timeout=5).body == b"after"
    assert gave_up.items == []
    assert client.reconnects == 1
    assert len(_connect_times(stomp_broker)) == 4  # startup, two refused, the good one
    assert caplog.text.count("the broker refused CONNECT (vhost '/' is starting") == 2


def test_error_to_connect_counts_against_max_reconnect_attempts(
    new_client, stomp_broker: Broker, recorder
) -> None:
    gave_up = recorder()
    url = f"failover:({stomp_broker.url})?maxReconnectAttempts=3&initialReconnectDelay=10"
    client = new_client(url, heart_beats=(0, 0))
    client.listeners.on("reconnect_failed", gave_up)
    with client:
        stomp_broker.fail_next_connect("vhost '/' is starting", count=10)
        stomp_broker.drop_connections()
        error = gave_up.wait(1, timeout=20)[0]
    assert isinstance(error, ConnectFailed)
    assert [type(exc) for _, exc in error.attempts] == [BrokerError]
    assert "vhost '/' is starting" in str(error.attempts[0][1])
    assert len(_connect_times(stomp_broker)) == 1 + 3  # startup, then three passes


def test_error_to_connect_at_startup_still_fails_fast(new_client, stomp_broker_factory) -> None:
    """Bad credentials on startup: BrokerError at once, even with unlimited attempts."""
    broker = stomp_broker_factory(users={"app": "right"})
    client = new_client(f"failover:({broker.url})", login="app", passcode="wrong")
    with pytest.raises(BrokerError, match="Authentication failed"):
        client.connect()
    assert len(_connect_times(broker)) == 1
    assert not client.is_connected


def test_connect_again_after_a_failed_connect_starts_a_fresh_schedule(
    new_client,
    stomp_broker_factory,
) -> None:
    """A failed ``connect()`` used up the startup passes; the next ``connect()`` is a new
    start with the full pass limit and no back-off (it raised "reconnect is disabled"
    before, without trying)."""
    broker = stomp_broker_factory()
    broker.stop()
    client = new_client(broker.url, heart_beats=(0, 0))
    with pytest.raises(ConnectFailed, match="could not connect"):
        client.connect()
    broker.start()
    client.connect()
    try:
        assert client.is_connected
    finally:
        client.disconnect()
