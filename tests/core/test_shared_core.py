"""The shared core of both clients, tested once without I/O: error policies, delivery
decisions, routing after unsubscribe, the lifecycle between connections, connect-loop
decisions, transaction states, the message views."""

from __future__ import annotations

import pytest

from stomp_enterprise.core.lifecycle import (
    AfterLoss,
    Lifecycle,
    undelivered_count,
)
from stomp_enterprise.core.listeners import ListenerRegistry
from stomp_enterprise.core.message import MessageBase, encode_body
from stomp_enterprise.core.receipts import Receipts
from stomp_enterprise.core.reconnect import (
    AttemptFeed,
    connect_failed,
    connected_in,
    loss_error,
    reconnect_wait,
    retryable,
    routed,
)
from stomp_enterprise.core.subscription import (
    FAILURE_HEADER,
    ORIGINAL_DESTINATION_HEADER,
    Delivery,
    PolicyAction,
    RetiredRoutes,
    SubscriptionBase,
    ack_refusal,
    delivery,
    failure_action,
    forward_headers,
    oversize_action,
)
from stomp_enterprise.core.transaction import TransactionState
from stomp_enterprise.errors import (
    AckError,
    BrokerError,
    ConfigError,
    ConnectionLost,
    LocalProtocolError,
    StompTimeout,
    TransactionError,
)
from stomp_enterprise.protocol.failover import parse_uri
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.session import (
    Connected,
    ErrorReceived,
    HeartbeatReceived,
    Session,
)


def sub(ack: str = "auto", on_error: object = "disconnect", error_destination=None):
    return SubscriptionBase("s1", "/queue/a", ack, (), None, on_error, error_destination)


# ---------------------------------------------------------------- subscriptions


def test_subscription_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="handler"):
        SubscriptionBase("s", "/q", "auto", (), "x", "disconnect", None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="on_error"):
        sub(on_error="explode")
    with pytest.raises(ConfigError, match="error_destination"):
        sub(error_destination="")
    assert sub().active
    assert "s1" in repr(sub())


@pytest.mark.parametrize(
    ("ack", "on_error", "error_destination", "expected"),
    [
        ("client", "disconnect", "/queue/dead", PolicyAction.FORWARD),
        ("client", lambda m, e: None, None, PolicyAction.CALL),
        ("client", "nack", None, PolicyAction.NACK),
        ("client", "ack", None, PolicyAction.ACK),
        ("auto", "ack", None, PolicyAction.NOTHING),
        ("auto", "disconnect", None, PolicyAction.DISCONNECT),
        ("client", "ignore", None, PolicyAction.NOTHING),
    ],
)
def test_failure_action_table(ack, on_error, error_destination, expected) -> None:
    assert failure_action(sub(ack, on_error, error_destination)) is expected


@pytest.mark.parametrize(
    ("ack", "on_error", "error_destination", "version", "alive", "expected"),
    [
        ("client", "nack", None, "1.2", False, PolicyAction.NOTHING),
        ("client", "nack", "/queue/dead", "1.2", True, PolicyAction.FORWARD),
        ("client", "nack", None, "1.2", True, PolicyAction.NACK),
        ("client", "nack", None, "1.0", True, PolicyAction.ACK),  # no NACK in 1.0
        ("client-individual", "disconnect", None, "1.2", True, PolicyAction.ACK),
        ("auto", "nack", None, "1.2", True, PolicyAction.NOTHING),
    ],
)
def test_oversize_action_table(ack, on_error, error_destination, version, alive, expected) -> None:
    assert oversize_action(sub(ack, on_error, error_destination), version, alive=alive) is expected


def test_delivery_decisions() -> None:
    client_ack, auto = sub("client"), sub("auto")
    assert delivery(client_ack, alive=True, closing=False) is Delivery.DELIVER
    assert delivery(client_ack, alive=False, closing=False) is Delivery.SKIP
    auto._ended = client_ack._ended = True
    assert delivery(client_ack, alive=True, closing=False) is Delivery.SKIP
    assert delivery(auto, alive=False, closing=False) is Delivery.DELIVER  # read before
    assert delivery(auto, alive=True, closing=True) is Delivery.DISCARD


def test_forward_headers_drop_the_delivery_headers_and_add_the_failure() -> None:
    headers = {"message-id": "m1", "subscription": "s1", "ack": "a1", "x-app": "1"}
    forwarded = forward_headers(headers, ValueError("x" * 2000), None, "/queue/a")
    assert forwarded["x-app"] == "1"
    assert not {"message-id", "subscription", "ack"} & set(forwarded)
    assert forwarded[FAILURE_HEADER].startswith("ValueError: x")
    assert len(forwarded[FAILURE_HEADER]) == 1000
    assert forwarded[ORIGINAL_DESTINATION_HEADER] == "/queue/a"


class FakeMessage:
    def __init__(self, subscription: SubscriptionBase, connection: object) -> None:
        self.subscription = subscription
        self._connection = connection


def test_ack_refusals() -> None:
    here, there = object(), object()
    assert ack_refusal(FakeMessage(sub("client"), here), here, alive=True, verb="ack") is None
    for message, alive, reason in [
        (FakeMessage(sub("client"), there), True, "another connection"),
        (FakeMessage(sub("auto"), here), True, "auto-ack"),
        (FakeMessage(sub("client"), here), False, "lost"),
    ]:
        refusal = ack_refusal(message, here, alive=alive, verb="nack")
        assert isinstance(refusal, AckError)
        assert reason in str(refusal)


def test_retired_routes_deliver_until_the_cutoff_then_count_auto_acks() -> None:
    routes = RetiredRoutes(kept=2)
    auto, client_ack = (
        sub("auto"),
        SubscriptionBase("s2", "/queue/b", "client", (), None, "ignore", None),
    )
    routes.retire(auto, cutoff=5)
    routes.retire(client_ack, cutoff=5)
    assert routes.route("s1", "m", 5) is auto
    assert routes.route("s1", "m", 6) is None
    assert routes.route("s1", "m", 7) is None
    assert routes.route("s2", "m", 6) is None  # the broker redelivers it: not counted
    assert routes.route("nobody", "m", 1) is None
    assert routes.take_dropped() == {"s1": 2}
    assert routes.take_dropped() == {}
    routes.retire(SubscriptionBase("s3", "/q", "auto", (), None, "ignore", None), cutoff=9)
    assert routes.route("s1", "m", 1) is None  # bounded: the oldest was forgotten
    assert routes.take_dropped() == {}


# ---------------------------------------------------------------- lifecycle


def test_lifecycle_after_a_loss() -> None:
    failover = parse_uri("failover:(tcp://a:1,tcp://b:2)?initialReconnectDelay=10")
    life = Lifecycle(failover, seed=1)
    life.starting()
    with pytest.raises(LocalProtocolError):
        life.starting()
    assert life.may_reconnect(False, closing=False)
    life.installed(100.0)
    assert not life.started
    broker = failover.brokers[0]
    assert life.lost(broker, 100.5, closing=False) is AfterLoss.RECONNECT_YOUNG
    assert life.reconnecting
    assert life.disconnected_seconds(101.5) == pytest.approx(1.0)
    life.installed(102.0)
    assert life.disconnected_seconds(200.0) == pytest.approx(1.5)
    assert life.lost(broker, 300.0, closing=False) is AfterLoss.RECONNECT  # lived long
    life.reconnect_ended(gave_up=True)
    assert not life.may_reconnect(True, closing=False)
    assert life.lost(broker, 301.0, closing=True) is AfterLoss.STAY_DOWN
    assert not life.carries(True, closing=True)
    assert life.carries(True, closing=False)
    assert not life.carries(False, closing=False)


def test_a_plain_uri_never_reconnects() -> None:
    plain = parse_uri("tcp://a:1")
    life = Lifecycle(plain)
    life.installed(1.0)
    assert life.lost(plain.brokers[0], 2.0, closing=False) is AfterLoss.STAY_DOWN
    assert not life.may_reconnect(True, closing=False)
    assert not life.carries(True, closing=False)


def test_receipts_carry_pending_receipted_sends_over_a_loss_with_their_waiters() -> None:
    receipts: Receipts[str] = Receipts()
    receipted = b"SEND\ndestination:/q\nreceipt:r1\n\nx\x00"
    receipts.add("r1", "waiting", receipted)
    receipts.add("r2", "done", b"SEND\ndestination:/q\nreceipt:r2\n\nz\x00")
    receipts.add("r3", "waiting too", b"SUBSCRIBE\nid:1\ndestination:/q\nreceipt:r3\n\n\x00")
    unsent = [b"SEND\ndestination:/q\n\ny\x00", b"ACK\nid:1\n\n\x00"]
    carried, frames, rest = receipts.plan_loss(lambda w: w == "done", [], unsent)
    assert carried.waiters() == ["waiting"]
    assert rest == ["done", "waiting too"]
    assert frames == [receipted, unsent[0]]
    assert undelivered_count(frames, carried.frame_ids()) == 1
    assert receipts.pop("r2") == "done"
    assert receipts.forget("waiting") == ["r1"]
    assert len(receipts) == 1
    taken = receipts.take()
    assert (len(receipts), taken.waiters()) == (0, ["waiting too"])
    receipts.update(carried)
    assert receipts.pop("r1") == "waiting"
    assert receipts.pop("r1") is None


# ---------------------------------------------------------------- connect-loop decisions


def test_retryable_errors_depend_on_startup() -> None:
    assert BrokerError not in retryable(startup=True)
    assert BrokerError in retryable(startup=False)
    assert StompTimeout in retryable(startup=True)


def test_attempt_feed_and_final_error() -> None:
    failover = parse_uri("failover:(tcp://a:1)?maxReconnectAttempts=3&initialReconnectDelay=7")
    closing = [False]
    feed = AttemptFeed(Lifecycle(failover).schedule.attempts(False), lambda: closing[0])
    assert feed.current is not None
    assert not feed.stop()
    assert feed.wait() == pytest.approx(0.007)
    assert feed.describe_retry(OSError("x"))[2] == "tcp://a:1"
    closing[0] = True
    assert feed.stop()
    error = connect_failed([("tcp://a:1", OSError("x")), ("tcp://a:1", OSError("y"))])
    assert [(url, str(exc)) for url, exc in error.attempts] == [("tcp://a:1", "y")]


def test_reconnect_wait_precedence() -> None:
    assert reconnect_wait(2.0, 5.0, 9000) == 2.0
    assert reconnect_wait(None, 5.0, 9000) == 5.0
    assert reconnect_wait(None, None, 9000) == 9.0
    assert reconnect_wait(None, None, -1) == 0.0


def test_connected_in_and_loss_error() -> None:
    frame = Frame("CONNECTED", [("version", "1.2")])
    connected = Connected(frame, "1.2", (0, 0), 0, 0, None, None)
    early = HeartbeatReceived(1)
    assert connected_in([connected, early]) == (connected, [early])
    assert connected_in([early]) == (None, [])
    error = Frame("ERROR", [("message", "bad login")])
    with pytest.raises(BrokerError, match="bad login"):
        connected_in([ErrorReceived(error, "bad login", None, None)])
    cause = BrokerError("too large", error)
    lost = loss_error("tcp://a:1", OSError("reset"), cause)
    assert "too large" in str(lost)
    assert lost.__cause__ is cause
    plain = ConnectionLost("gone")
    assert loss_error("tcp://a:1", plain, None) is plain
    wrapped = loss_error("tcp://a:1", OSError("reset"), None)
    assert isinstance(wrapped.__cause__, OSError)


def test_artemis_routing_quirk() -> None:
    assert routed(False, "/queue/a", None, subscribe=False) is None
    assert routed(True, "/queue/a", None, subscribe=False) == {"destination-type": "ANYCAST"}
    assert routed(True, "/topic/a", {}, subscribe=True) == {"subscription-type": "MULTICAST"}
    assert routed(True, "/queue/a", {"destination-type": "X"}, subscribe=False) == {
        "destination-type": "X"
    }
    assert routed(True, "jms.queue.a", None, subscribe=False) is None


# ---------------------------------------------------------------- transactions


def connected_session() -> Session:
    session = Session(("1.2",))
    session.connect("/")
    session.receive_data(b"CONNECTED\nversion:1.2\n\n\x00")
    session.begin("tx-2")
    return session


def test_transaction_states() -> None:
    tx = TransactionState()
    with pytest.raises(TransactionError, match="not open"):
        tx.check_open(True)
    tx.beginning()
    tx.opened("tx-1", "tcp://a:1")
    tx.check_open(True)
    with pytest.raises(TransactionError, match="already open"):
        tx.beginning()
    with pytest.raises(TransactionError, match="lost with its connection"):
        tx.check_open(False)
    assert tx.state == "failed"
    assert tx.abort_is_moot(False)
    assert isinstance(tx.exit_error(raised=False), TransactionError)
    assert tx.exit_error(raised=True) is None
    other = TransactionState()
    other.opened("tx-2", "tcp://a:1")
    assert not other.abort_is_moot(True)
    assert other.exit_command(raised=False) == "COMMIT"
    assert other.exit_command(raised=True) == "ABORT"
    build, what = other.control(connected_session(), "COMMIT")
    assert what == "COMMIT tx-2"
    frame = build("r-1")
    assert frame.startswith(b"COMMIT\n")
    assert b"receipt:r-1" in frame
    assert not other.end_is_moot("COMMIT", False)
    assert "tx-2 lost: gone" in str(other.lost(OSError("gone")))
    with pytest.raises(TransactionError, match="failed before COMMIT"):
        other.exit_command(raised=False)
    assert other.exit_command(raised=True) is None
    assert other.end_is_moot("ABORT", True)
    assert other.state == "failed"
    other.ended("COMMIT")
    assert other.state == "committed"
    assert "tx-2" in str(other.failed("COMMIT", OSError("x")))


# ---------------------------------------------------------------- messages and listeners


def test_message_views_and_body_encoding() -> None:
    frame = Frame(
        "MESSAGE",
        [
            ("destination", "/q"),
            ("message-id", "7"),
            ("content-type", "text/plain;charset=latin-1"),
            ("redelivered", "true"),
        ],
        "é".encode("latin-1"),
    )
    message = MessageBase(frame, sub(), None)
    assert (message.text, message.destination, message.message_id) == ("é", "/q", "7")
    assert message.redelivered
    assert "s1" in repr(message)
    assert encode_body("é", None) == ("é".encode(), "text/plain;charset=utf-8")
    assert encode_body(bytearray(b"x"), "a/b") == (b"x", "a/b")
    with pytest.raises(ConfigError):
        encode_body(1, None)


def test_listener_registry_keeps_order_and_swallows_errors() -> None:
    registry = ListenerRegistry()
    calls: list[str] = []
    registry.on("receipt", lambda rid: calls.append(f"a{rid}"))
    registry.on("receipt", lambda rid: 1 / 0)
    registry.on("receipt")(lambda rid: calls.append(f"b{rid}"))
    registry.fire("receipt", "1")
    assert calls == ["a1", "b1"]
    assert len(registry.callbacks("receipt")) == 3
    with pytest.raises(ValueError, match="unknown event"):
        registry.on("nope", print)
