"""Broker stopped and restarted: failover, subscription replay, no receipted message lost.

These restart real brokers (``stop.sh``/``start.sh`` or ``docker stop``/``start``), so they are
marked ``slow`` and run last (``conftest.pytest_collection_modifyitems``); every wait is
bounded.
"""

from __future__ import annotations

import threading

import pytest

from integration.conftest import ClientFactory, Provisioned
from integration.helpers import drain, expect_nothing, wait_until
from integration.settings import Broker
from stomp_enterprise import ConnectedInfo

FAILOVER_OPTIONS = (
    "initialReconnectDelay=200&maxReconnectDelay=1000&useExponentialBackOff=true"
    "&maxReconnectAttempts=-1&startupMaxReconnectAttempts=0&randomize=false"
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_broker_restart_failover(
    broker: Broker, provisioned: Provisioned, make_client: ClientFactory, names
) -> None:
    """Consume and ack a batch; stop the broker; send while it is down (the send waits for
    the reconnect); start it; the client reconnects by itself, replays the subscription with
    its id and ack mode, and every message whose SEND got a RECEIPT is delivered exactly once."""
    client = make_client(
        url=f"failover:({broker.url})?{FAILOVER_OPTIONS}",
        heart_beats=(1000, 1000),
        timeouts={"receipt": 20.0, "send": 150.0},
    )
    connected: list[ConnectedInfo] = []
    lost: list[BaseException | None] = []
    client.listeners.on("connected", connected.append)
    client.listeners.on("disconnected", lost.append)
    queue_name = names("queue")
    sub = client.subscribe(queue_name, ack="client-individual", id="replayed", receipt=True)

    before = [f"before-{i}".encode() for i in range(5)]
    for body in before:
        client.send(queue_name, body, {"persistent": "true"}, receipt=True)
    for message in drain(sub, 5):
        message.ack(receipt=True)

    provisioned.stop(broker.name)
    restarted = False
    try:
        assert wait_until(lambda: not client.is_connected, 30), "the loss was not noticed"
        after = [f"after-{i}".encode() for i in range(5)]
        errors: list[BaseException] = []

        def send_while_down() -> None:
            try:
                for body in after:
                    client.send(queue_name, body, {"persistent": "true"}, receipt=True)
            except BaseException as exc:
                errors.append(exc)

        sender = threading.Thread(target=send_while_down, name="it-sender")
        sender.start()
        provisioned.start(broker.name)
        restarted = True
        sender.join(180)
        assert not sender.is_alive(), "sends did not complete after the restart"
        assert errors == []
    finally:
        if not restarted:
            provisioned.start(broker.name)

    assert wait_until(lambda: client.is_connected, 60)
    assert client.reconnects >= 1
    assert wait_until(lambda: any(info.reconnect for info in connected), 10), connected
    assert lost, "no disconnected event"
    received = drain(sub, 5, timeout=30)
    assert [m.body for m in received] == after
    for message in received:
        assert message.subscription.id == "replayed"
        message.ack(receipt=True)
    expect_nothing(sub, 1.5)
