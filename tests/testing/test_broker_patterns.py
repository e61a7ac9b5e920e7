"""The testing broker's router learns expiry, durable subscriptions and refuses selectors
(pure logic, no sockets)."""

from __future__ import annotations

import pytest

from stomp_enterprise.protocol import Frame
from stomp_enterprise.testing._destinations import Router, RouterError

DURABLE = "activemq.subscriptionName"


def sub(destination: str, sub_id: str, ack: str = "auto", **headers: str) -> Frame:
    return Frame("SUBSCRIBE", {"destination": destination, "id": sub_id, "ack": ack, **headers})


def unsub(sub_id: str, **headers: str) -> Frame:
    return Frame("UNSUBSCRIBE", {"id": sub_id, **headers})


def send(destination: str, body: bytes = b"", **headers: str) -> Frame:
    return Frame("SEND", {"destination": destination, **headers}, body)


def bodies(out) -> list[bytes]:
    return [frame.body for _, frame in out]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_expired_queue_messages_are_dropped_not_delivered() -> None:
    clock = Clock(1000.0)
    router = Router(clock=clock)
    router.handle(9, "1.2", send("/queue/q", b"soon", expires="1001000"))
    router.handle(9, "1.2", send("/queue/q", b"never", expires="0"))
    router.handle(9, "1.2", send("/queue/q", b"later", expires="1005000"))
    clock.now = 1002.0
    out = router.handle(1, "1.2", sub("/queue/q", "s"))
    assert bodies(out) == [b"never", b"later"]
    assert [m.body for m in router.expired] == [b"soon"]


def test_expired_topic_messages_are_not_delivered() -> None:
    router = Router(clock=Clock(1000.0))
    router.handle(1, "1.2", sub("/topic/t", "s"))
    assert bodies(router.handle(9, "1.2", send("/topic/t", b"old", expires="999999"))) == []
    assert bodies(router.handle(9, "1.2", send("/topic/t", b"new", expires="1000001"))) == [b"new"]


def test_a_durable_subscription_stores_while_detached_and_delivers_on_attach() -> None:
    router = Router()
    router.connected(1, "app")
    router.handle(1, "1.2", sub("/topic/t", "d", **{DURABLE: "d"}))
    assert bodies(router.handle(9, "1.2", send("/topic/t", b"live"))) == [b"live"]
    router.handle(1, "1.2", unsub("d"))
    router.handle(9, "1.2", send("/topic/t", b"stored-1"))
    router.handle(9, "1.2", send("/topic/t", b"stored-2"))
    router.disconnect(1)
    router.connected(2, "app")  # the same client id on a new connection
    out = router.handle(2, "1.2", sub("/topic/t", "d", **{DURABLE: "d"}))
    assert bodies(out) == [b"stored-1", b"stored-2"]
    assert router.durable_subscriptions() == [("app", "d")]


def test_unacked_durable_messages_wait_for_the_next_attach_marked_redelivered() -> None:
    router = Router()
    router.connected(1, "app")
    router.handle(1, "1.2", sub("/topic/t", "d", "client-individual", **{DURABLE: "d"}))
    router.handle(9, "1.2", send("/topic/t", b"unacked"))
    router.disconnect(1)
    router.connected(2, "app")
    out = router.handle(2, "1.2", sub("/topic/t", "d", "client-individual", **{DURABLE: "d"}))
    assert bodies(out) == [b"unacked"]
    assert out[0][1].headers.get("redelivered") == "true"


def test_durable_subscriptions_are_keyed_by_client_id_and_name() -> None:
    router = Router()
    router.connected(1, "app-a")
    router.connected(2, "app-b")
    router.handle(1, "1.2", sub("/topic/t", "d", **{DURABLE: "d"}))
    router.handle(2, "1.2", sub("/topic/t", "d", **{DURABLE: "d"}))
    assert router.durable_subscriptions() == [("app-a", "d"), ("app-b", "d")]
    with pytest.raises(RouterError, match="in use"):
        router.handle(1, "1.2", sub("/topic/t", "d2", **{DURABLE: "d"}))


def test_removing_a_durable_subscription() -> None:
    router = Router()
    router.connected(1, "app")
    router.handle(1, "1.2", sub("/topic/t", "d", **{DURABLE: "d"}))
    with pytest.raises(RouterError, match="in use"):
        router.handle(1, "1.2", unsub("d", **{DURABLE: "d"}))
    router.handle(1, "1.2", unsub("d"))
    router.handle(9, "1.2", send("/topic/t", b"gone with it"))
    assert router.handle(1, "1.2", unsub("d", **{DURABLE: "d"})) == []
    assert router.durable_subscriptions() == []
    with pytest.raises(RouterError, match="no durable subscription"):
        router.handle(1, "1.2", unsub("d", **{DURABLE: "d"}))
    assert bodies(router.handle(1, "1.2", sub("/topic/t", "d", **{DURABLE: "d"}))) == []


def test_durable_needs_a_client_id_and_a_topic() -> None:
    router = Router()
    with pytest.raises(RouterError, match="client-id"):
        router.handle(1, "1.2", sub("/topic/t", "d", **{DURABLE: "d"}))
    router.connected(2, "app")
    with pytest.raises(RouterError, match="/topic/"):
        router.handle(2, "1.2", sub("/queue/q", "d", **{DURABLE: "d"}))


def test_a_client_id_is_unique_among_open_connections() -> None:
    router = Router()
    router.connected(1, "app")
    with pytest.raises(RouterError, match="already connected"):
        router.connected(2, "app")
    router.disconnect(1)
    router.connected(2, "app")


def test_selectors_are_refused_not_ignored() -> None:
    router = Router()
    with pytest.raises(RouterError, match="selectors are not supported"):
        router.handle(1, "1.2", sub("/queue/q", "s", selector="a = 1"))
    assert router.subscriber_count("/queue/q") == 0
