"""The broker's routing and ack bookkeeping as pure logic (no sockets)."""

from __future__ import annotations

import pytest

from stomp_enterprise.protocol import Frame
from stomp_enterprise.testing._destinations import Router, RouterError, is_topic


def sub(destination: str, sub_id: str, ack: str = "auto") -> Frame:
    return Frame("SUBSCRIBE", {"destination": destination, "id": sub_id, "ack": ack})


def send(destination: str, body: bytes = b"", **headers: str) -> Frame:
    return Frame("SEND", {"destination": destination, **headers}, body)


def bodies(out) -> list[tuple[int, bytes]]:
    return [(conn, frame.body) for conn, frame in out]


def test_is_topic():
    assert is_topic("/topic/a")
    assert not is_topic("/queue/a")
    assert not is_topic("/exchange/amq.topic/a")


def test_round_robin_survives_a_consumer_leaving():
    router = Router()
    for conn in (1, 2, 3):
        router.handle(conn, "1.2", sub("/queue/q", "s"))
    out = []
    for i in range(3):
        out += router.handle(9, "1.2", send("/queue/q", b"%d" % i))
    assert bodies(out) == [(1, b"0"), (2, b"1"), (3, b"2")]
    router.handle(2, "1.2", Frame("UNSUBSCRIBE", {"id": "s"}))
    out = []
    for i in range(4):
        out += router.handle(9, "1.2", send("/queue/q", b"%d" % i))
    assert [conn for conn, _ in out] == [1, 3, 1, 3]


def test_stored_then_dispatched_in_order():
    router = Router()
    for i in range(3):
        assert router.handle(9, "1.2", send("/queue/q", b"%d" % i)) == []
    assert router.queue_depth("/queue/q") == 3
    out = router.handle(1, "1.2", sub("/queue/q", "s"))
    assert bodies(out) == [(1, b"0"), (1, b"1"), (1, b"2")]
    assert router.queue_depth("/queue/q") == 0


def test_send_headers_filtered_and_content_length_corrected():
    router = Router()
    router.handle(1, "1.2", sub("/queue/q", "s"))
    frame = Frame(
        "SEND",
        [("destination", "/queue/q"), ("receipt", "r"), ("content-length", "3"), ("x", "y")],
        b"abc",
    )
    [(_, message)] = router.handle(2, "1.2", frame)
    assert message.raw_headers == (
        ("destination", "/queue/q"),
        ("message-id", "m-1"),
        ("subscription", "s"),
        ("content-length", "3"),
        ("x", "y"),
    )


def test_client_ack_is_cumulative_client_individual_is_not():
    router = Router()
    router.handle(1, "1.2", sub("/queue/c", "c", "client"))
    router.handle(2, "1.2", sub("/queue/i", "i", "client-individual"))
    msgs = {}
    for dest in ("/queue/c", "/queue/i"):
        msgs[dest] = [f for _, f in (router.send(dest, body=b"%d" % n)[0] for n in range(3))]
    router.handle(1, "1.2", Frame("ACK", {"id": msgs["/queue/c"][1].get("ack", "")}))
    router.handle(2, "1.2", Frame("ACK", {"id": msgs["/queue/i"][1].get("ack", "")}))
    assert router.unacked("/queue/c") == 1
    assert router.unacked("/queue/i") == 2


def test_ack_of_another_connections_message_is_unknown():
    router = Router()
    router.handle(1, "1.2", sub("/queue/q", "s", "client"))
    [(_, message)] = router.send("/queue/q", body=b"x")
    with pytest.raises(RouterError, match="unknown ack id"):
        router.handle(2, "1.2", Frame("ACK", {"id": message.get("ack", "")}))


def test_10_subscription_id_defaults_to_destination():
    router = Router()
    router.handle(1, "1.0", Frame("SUBSCRIBE", {"destination": "/queue/q", "ack": "client"}))
    [(_, message)] = router.send("/queue/q", body=b"x")
    assert message.get("subscription") == "/queue/q"
    router.handle(1, "1.0", Frame("ACK", {"message-id": message.get("message-id", "")}))
    router.handle(1, "1.0", Frame("UNSUBSCRIBE", {"destination": "/queue/q"}))
    assert router.subscriber_count("/queue/q") == 0


@pytest.mark.parametrize(
    ("frame", "version", "problem"),
    [
        (Frame("SUBSCRIBE", {"destination": "/q"}), "1.1", "without an id"),
        (Frame("SUBSCRIBE", {"id": "s"}), "1.2", "without a destination"),
        (sub("/q", "s", "client-individual"), "1.0", "unsupported ack mode"),
        (sub("/q", "s", "bogus"), "1.2", "unsupported ack mode"),
        (Frame("UNSUBSCRIBE", {"id": "nope"}), "1.2", "unknown subscription"),
        (Frame("SEND", {}), "1.2", "without a destination"),
        (Frame("ACK", {}), "1.2", "without a id"),
        (Frame("ACK", {"message-id": "m-1"}), "1.1", "without a subscription"),
        (Frame("COMMIT", {"transaction": "t"}), "1.2", "unknown transaction"),
        (Frame("ABORT", {}), "1.2", "without a transaction"),
        (Frame("DISCONNECT"), "1.2", "unexpected DISCONNECT"),
    ],
)
def test_invalid_frames(frame, version, problem):
    with pytest.raises(RouterError, match=problem):
        Router().handle(1, version, frame)


def test_duplicate_subscription_id():
    router = Router()
    router.handle(1, "1.2", sub("/queue/a", "s"))
    with pytest.raises(RouterError, match="already in use"):
        router.handle(1, "1.2", sub("/queue/b", "s"))
    router.handle(2, "1.2", sub("/queue/b", "s"))  # another connection may


def test_transactions_buffer_commit_and_abort():
    router = Router()
    router.handle(1, "1.2", sub("/queue/q", "s", "client"))
    [(_, message)] = router.send("/queue/q", body=b"first")
    router.handle(2, "1.2", Frame("BEGIN", {"transaction": "t"}))
    assert router.handle(2, "1.2", send("/queue/q", b"tx", transaction="t")) == []
    assert router.open_transactions() == ["t"]
    assert bodies(router.handle(2, "1.2", Frame("COMMIT", {"transaction": "t"}))) == [(1, b"tx")]
    router.handle(1, "1.2", Frame("BEGIN", {"transaction": "t"}))  # per connection namespace
    router.handle(1, "1.2", Frame("ACK", {"id": message.get("ack", ""), "transaction": "t"}))
    assert router.unacked() == 2
    router.handle(1, "1.2", Frame("ABORT", {"transaction": "t"}))
    assert router.unacked() == 2
    assert router.open_transactions() == []


def test_disconnect_returns_unacked_and_drops_transactions():
    router = Router()
    router.handle(1, "1.2", sub("/queue/q", "s", "client"))
    router.handle(1, "1.2", sub("/topic/t", "t", "client"))
    router.handle(1, "1.2", Frame("BEGIN", {"transaction": "tx"}))
    router.send("/queue/q", body=b"q")
    router.send("/topic/t", body=b"t")
    assert router.unacked() == 2
    assert router.disconnect(1) == []  # nobody else to deliver to
    assert router.open_transactions() == []
    assert router.queue_depth("/queue/q") == 1  # queue message kept, topic copy dropped
    out = router.handle(2, "1.2", sub("/queue/q", "s"))
    assert out[0][1].get("redelivered") == "true"


def test_dead_letter():
    router = Router(max_redeliveries=0, dead_letter="/queue/dlq")
    router.handle(1, "1.2", sub("/queue/q", "s", "client-individual"))
    [(_, message)] = router.send("/queue/q", body=b"poison")
    assert router.handle(1, "1.2", Frame("NACK", {"id": message.get("ack", "")})) == []
    assert router.queue_depth("/queue/dlq") == 1
    assert router.sent[-1].header("original-destination") == "/queue/q"


def test_purge():
    router = Router()
    router.send("/queue/a", body=b"x")
    router.purge()
    assert router.queue_depth("/queue/a") == 0
    assert len(router.sent) == 1
