"""Failover and automatic reconnect against in-process brokers with fault injection."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time

import pytest

from stomp_enterprise import (
    AckError,
    ConnectFailed,
    ConnectionLost,
    NotConnected,
    ReceiptTimeout,
    TransactionError,
)
from stomp_enterprise.testing import Broker

FAST = "initialReconnectDelay=20&maxReconnectDelay=200"


def failover(*brokers: Broker, options: str = FAST) -> str:
    inner = ",".join(f"tcp://127.0.0.1:{b.port}" for b in brokers)
    return f"failover:({inner})?{options}"


def some_down(factory, count: int, *, down: int) -> list[Broker]:
    """``count`` brokers of which the first ``down`` are stopped. All are started before any
    is stopped: each holds its port meanwhile, so that a later one cannot get the port a
    stopped one just freed (a failover URI listing a broker twice is refused)."""
    brokers = [factory() for _ in range(count)]
    for broker in brokers[:down]:
        broker.stop()
    return brokers


def test_reconnect_replays_subscriptions_with_the_same_ids(
    new_client, stomp_broker, recorder
) -> None:
    got, connected = recorder(), recorder()
    client = new_client(failover(stomp_broker), heart_beats=(0, 0))
    client.listeners.on("connected", connected)
    with client:
        sub = client.subscribe("/queue/replay", got, id="my-sub")
        client.send("/queue/replay", b"before", receipt=True)
        got.wait(1)
        stomp_broker.restart(downtime=0.2)
        infos = connected.wait(2, timeout=10)
        assert [i.reconnect for i in infos] == [False, True]
        client.send("/queue/replay", b"after", receipt=True, timeout=5)
        assert [m.body for m in got.wait(2)] == [b"before", b"after"]
        assert got.items[1].subscription is sub
        ids = [f.headers["id"] for f in stomp_broker.received_frames("SUBSCRIBE")]
        assert ids == ["my-sub", "my-sub"]
        assert client.reconnects == 1
        assert client.disconnected_seconds > 0.1


def test_open_transaction_and_old_messages_fail_clearly_after_reconnect(
    new_client, stomp_broker
) -> None:
    with new_client(failover(stomp_broker), heart_beats=(0, 0), timeouts={"send": 5}) as client:
        sub = client.subscribe("/queue/old", ack="client-individual")
        client.send("/queue/old", b"x", receipt=True)
        message = sub.get(timeout=5)
        tx = client.transaction().begin()
        stomp_broker.drop_connections()
        stomp_broker.wait_for(lambda: client.reconnects == 1 and client.is_connected)
        with pytest.raises(TransactionError, match="lost with its connection"):
            tx.send("/queue/old", b"y")
        with pytest.raises(AckError, match="lost"):
            message.ack()
        again = sub.get(timeout=5)  # redelivered on the new connection
        assert again.redelivered
        again.ack(receipt=True)


def test_three_brokers_first_two_down(new_client, stomp_broker_factory, caplog) -> None:
    down1, down2, up = some_down(stomp_broker_factory, 3, down=2)
    url = failover(down1, down2, up, options=f"randomize=false&{FAST}")
    caplog.set_level(logging.INFO, logger="stomp_enterprise")
    with new_client(url, heart_beats=(0, 0)) as client:
        assert client.broker == f"tcp://127.0.0.1:{up.port}"
    ours = [f"tcp://127.0.0.1:{b.port}" for b in (down1, down2, up)]
    # only this test's lines (a thread left by an earlier test may log as well)
    tried = [u for u in re.findall(r"connecting to (\S+)", caplog.text) if u in ours]
    assert tried == ours


def test_all_down_lists_every_broker_and_counts_passes(
    new_client, stomp_broker_factory, caplog
) -> None:
    brokers = some_down(stomp_broker_factory, 3, down=3)
    url = failover(
        *brokers,
        options="randomize=false&startupMaxReconnectAttempts=2&initialReconnectDelay=100"
        "&useExponentialBackOff=false",
    )
    caplog.set_level(logging.INFO, logger="stomp_enterprise")
    client = new_client(url, heart_beats=(0, 0))
    started = time.monotonic()
    with pytest.raises(ConnectFailed) as info:
        client.connect()
    elapsed = time.monotonic() - started
    ours = [f"tcp://127.0.0.1:{b.port}" for b in brokers]
    assert [u for u, _ in info.value.attempts] == ours
    for url_tried, _ in info.value.attempts:
        assert url_tried in str(info.value)
    # only this test's lines (a thread left by an earlier test may log as well)
    tried = [u for u in re.findall(r"connecting to (\S+)", caplog.text) if u in ours]
    assert len(tried) == 6  # 2 passes x 3 brokers
    assert elapsed >= 0.1  # one 100 ms wait between the two passes...
    assert "next: " in caplog.text  # WARNING with the delay before the next attempt
    waits = [u for u in re.findall(r"next: (\S+) in 0\.100s", caplog.text) if u in ours]
    assert len(waits) == 1  # ...and only one


def test_randomize_is_deterministic_under_a_seed(new_client, stomp_broker_factory, caplog) -> None:
    brokers = some_down(stomp_broker_factory, 4, down=4)
    url = failover(*brokers, options="randomize=true&startupMaxReconnectAttempts=1")
    caplog.set_level(logging.INFO, logger="stomp_enterprise")
    ours = {f"tcp://127.0.0.1:{broker.port}" for broker in brokers}
    orders = []
    for seed in (7, 7, 8):
        caplog.clear()
        with pytest.raises(ConnectFailed):
            new_client(url, heart_beats=(0, 0), seed=seed).connect()
        # only this test's attempts (a thread left by an earlier test may log as well)
        tried = re.findall(r"connecting to (\S+)", caplog.text)
        orders.append([address for address in tried if address in ours])
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == sorted(orders[2])
    assert len(set(orders[0])) == 4


def test_half_open_broker_is_detected_then_failover(
    new_client, stomp_broker_factory, recorder
) -> None:
    first, second = stomp_broker_factory(), stomp_broker_factory()
    connected = recorder()
    url = failover(first, second, options=f"randomize=false&{FAST}")
    client = new_client(url, heart_beats=(200, 200), timeouts={"disconnect": 0.5})
    client.listeners.on("connected", connected)
    with client:
        assert client.broker.endswith(str(first.port))
        first.go_silent()
        infos = connected.wait(2, timeout=10)
        assert infos[1].broker.endswith(str(second.port))
        assert infos[1].reconnect
        client.send("/queue/after", b"x", receipt=True)
    first.resume()


def test_disconnect_during_a_long_backoff_returns_promptly(new_client, stomp_broker) -> None:
    # a back-off far beyond the per-test timeout: disconnect() must interrupt it (no clock)
    url = failover(stomp_broker, options="initialReconnectDelay=600000&maxReconnectDelay=600000")
    client = new_client(url, heart_beats=(0, 0))
    client.connect()
    stomp_broker.stop()
    deadline = time.monotonic() + 5
    while client.is_connected and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the first pass fails at once; now it sleeps 10 minutes
    client.disconnect()
    assert not any(t.name == "stomp-reconnect" for t in threading.enumerate())


def test_send_while_disconnected_waits_for_timeout_option(new_client, stomp_broker) -> None:
    url = failover(stomp_broker, options=f"timeout=3000&{FAST}")
    with new_client(url, heart_beats=(0, 0)) as client:
        stomp_broker.stop()
        threading.Timer(0.4, stomp_broker.start).start()
        client.send("/queue/wait", b"x", receipt=True)  # blocks until the reconnect
        assert stomp_broker.queue_depth("/queue/wait") == 1
    short = failover(stomp_broker, options=f"timeout=300&{FAST}")
    with new_client(short, heart_beats=(0, 0)) as client:
        stomp_broker.stop()
        stomp_broker.wait_for(lambda: not client.is_connected)
        started = time.monotonic()
        with pytest.raises(NotConnected, match=r"waited 0\.3s"):
            client.send("/queue/wait", b"y")
        assert time.monotonic() - started > 0.25
        stomp_broker.start()


def test_send_while_disconnected_without_timeout_raises_at_once(new_client, stomp_broker) -> None:
    with new_client(failover(stomp_broker), heart_beats=(0, 0)) as client:
        stomp_broker.stop()
        stomp_broker.wait_for(lambda: not client.is_connected)
        with pytest.raises(NotConnected, match="waited 0s for a reconnect"):
            client.send("/queue/x", b"x")  # at once: the wait is 0 s, no clock needed
        stomp_broker.start()


def test_priority_backup_returns_to_the_priority_broker(
    new_client, stomp_broker_factory, recorder
) -> None:
    priority, backup = some_down(stomp_broker_factory, 2, down=1)
    got = recorder()
    url = failover(priority, backup, options=f"randomize=false&priorityBackup=true&{FAST}")
    with new_client(url, heart_beats=(0, 0)) as client:
        assert client.broker.endswith(str(backup.port))
        client.subscribe("/topic/prio", got)
        priority.start()
        backup.wait_for(lambda: client.broker and client.broker.endswith(str(priority.port)), 10)
        priority.wait_for(lambda: priority.subscriber_count("/topic/prio") == 1)
        client.send("/topic/prio", b"on priority", receipt=True)
        assert [m.body for m in got.wait(1)] == [b"on priority"]


def test_kill_and_restart_20_times_during_10000_receipted_sends(new_client, stomp_broker) -> None:
    """At-least-once: every message arrives, none is lost, duplicates are redeliveries."""
    total, restarts = 10_000, 20
    url = failover(stomp_broker, options="initialReconnectDelay=10&maxReconnectDelay=100")
    seen: dict[int, int] = {}
    non_redelivered_dups: list[int] = []
    lock = threading.Lock()
    all_in = threading.Event()

    def handle(message) -> None:
        n = int(message.body)
        with lock:
            if n in seen and not message.redelivered:
                non_redelivered_dups.append(n)
            seen[n] = seen.get(n, 0) + 1
            if len(seen) == total:
                all_in.set()
        with contextlib.suppress(AckError):  # its connection died: the broker redelivers it
            message.ack()

    consumer = new_client(url, heart_beats=(0, 0), timeouts={"send": 10.0})
    producer = new_client(url, heart_beats=(0, 0), timeouts={"send": 10.0, "receipt": 5.0})
    sent = 0
    retries = 0
    retried: list[int] = []
    with consumer, producer:
        consumer.subscribe("/queue/chaos", handle, ack="client-individual", on_error="ignore")
        stop_chaos = threading.Event()

        def chaos() -> None:
            for _ in range(restarts):
                if stop_chaos.wait(0.15):
                    return
                stomp_broker.restart(downtime=0.05)

        killer = threading.Thread(target=chaos)
        killer.start()
        try:
            while sent < total:
                try:
                    producer.send("/queue/chaos", str(sent).encode(), receipt=True)
                    sent += 1
                except (ConnectionLost, NotConnected, ReceiptTimeout):
                    retries += 1
                    retried.append(sent)
        finally:
            stop_chaos.set()
            killer.join(60)
        assert all_in.wait(60), f"received {len(seen)} of {total}"
    assert sorted(seen) == list(range(total))
    assert non_redelivered_dups == [], f"retried sends: {retried}"
    assert consumer.reconnects >= 1
    assert producer.reconnects >= 1


def test_reconnect_gives_up_ends_subscriptions_and_tells_listeners(
    new_client, stomp_broker, recorder
) -> None:
    failed = recorder()
    url = failover(stomp_broker, options="maxReconnectAttempts=2&initialReconnectDelay=10")
    client = new_client(url, heart_beats=(0, 0))
    client.listeners.on("reconnect_failed", failed)
    with client:
        sub = client.subscribe("/queue/gone")
        stomp_broker.stop()
        assert isinstance(failed.wait(1, timeout=10)[0], ConnectFailed)
        with pytest.raises(NotConnected):
            sub.get(timeout=5)
        with pytest.raises(NotConnected):
            client.send("/queue/gone", b"x")
