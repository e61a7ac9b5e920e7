"""Broker stopped and restarted: failover, subscription replay, no receipted message lost.

These restart real brokers (``stop.sh``/``start.sh`` or ``docker stop``/``start``), so they are
marked ``slow`` and run last (``conftest.pytest_collection_modifyitems``); every wait is
bounded.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from integration.conftest import Provisioned
from integration.helpers import drain, expect_nothing, wait_until
from integration.settings import Broker
from stomp_enterprise import ConnectedInfo

FAILOVER_OPTIONS = (
    "initialReconnectDelay=200&maxReconnectDelay=1000&useExponentialBackOff=true"
    "&maxReconnectAttempts=-1&startupMaxReconnectAttempts=0&randomize=false"
)


class _Watched:
    """One client of the scenario: its queue, subscription and connection events."""

    def __init__(self, client: Any, queue_name: str) -> None:
        self.client = client
        self.queue_name = queue_name
        self.connected: list[ConnectedInfo] = []
        self.lost: list[BaseException | None] = []
        self.errors: list[BaseException] = []
        client.listeners.on("connected", self.connected.append)
        client.listeners.on("disconnected", self.lost.append)
        self.sub = client.subscribe(
            queue_name, ack="client-individual", id="replayed", receipt=True
        )

    def send_while_down(self, bodies: list[bytes]) -> None:
        try:
            for body in bodies:
                self.client.send(self.queue_name, body, {"persistent": "true"}, receipt=True)
        except BaseException as exc:
            self.errors.append(exc)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_broker_restart_failover(
    broker: Broker, provisioned: Provisioned, make_clients, names
) -> None:
    """Consume and ack a batch; stop the broker; send while it is down (the send waits for
    the reconnect); start it; the client reconnects by itself, replays the subscription with
    its id and ack mode, and every message whose SEND got a RECEIPT is delivered exactly once.
    Both clients (threaded and asyncio, each on its own queue) live through the same restart."""
    clients = make_clients(
        url=f"failover:({broker.url})?{FAILOVER_OPTIONS}",
        heart_beats=(1000, 1000),
        timeouts={"receipt": 20.0, "send": 150.0},
    )
    watched = {kind: _Watched(client, names("queue")) for kind, client in clients.items()}

    before = [f"before-{i}".encode() for i in range(5)]
    for one in watched.values():
        for body in before:
            one.client.send(one.queue_name, body, {"persistent": "true"}, receipt=True)
        for message in drain(one.sub, 5):
            message.ack(receipt=True)

    provisioned.stop(broker.name)
    restarted = False
    after = [f"after-{i}".encode() for i in range(5)]
    try:
        for kind, one in watched.items():
            assert wait_until(lambda one=one: not one.client.is_connected, 30), (
                f"{kind}: the loss was not noticed"
            )
        senders = [
            threading.Thread(target=one.send_while_down, args=(after,), name=f"it-sender-{kind}")
            for kind, one in watched.items()
        ]
        for sender in senders:
            sender.start()
        provisioned.start(broker.name)
        restarted = True
        for sender in senders:
            sender.join(180)
            assert not sender.is_alive(), f"{sender.name}: sends did not complete after the restart"
    finally:
        if not restarted:
            provisioned.start(broker.name)

    for kind, one in watched.items():
        assert one.errors == [], kind
        client = one.client
        assert wait_until(lambda client=client: client.is_connected, 60), kind
        assert client.reconnects >= 1, kind
        assert wait_until(lambda one=one: any(i.reconnect for i in one.connected), 10), (
            kind,
            one.connected,
        )
        assert one.lost, f"{kind}: no disconnected event"
        received = drain(one.sub, 5, timeout=30)
        assert [m.body for m in received] == after, kind
        for message in received:
            assert message.subscription.id == "replayed"
            message.ack(receipt=True)
        expect_nothing(one.sub, 1.5)
