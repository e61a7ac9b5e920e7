"""Queues, topics, ack modes, redelivery, NACK, transactions and slow consumers."""

from __future__ import annotations

import socket

import pytest

from stomp_enterprise.protocol import Frame, commands
from stomp_enterprise.testing import Broker
from tests.testing.helpers import WAIT, RawClient


def consumer(
    clients,
    broker: Broker,
    destination: str,
    sub_id: str = "s1",
    *,
    ack: str = "auto",
    version: str = "1.2",
) -> RawClient:
    client = clients(broker)
    client.connect((version,))
    client.send(
        commands.subscribe(destination, sub_id, ack=ack, receipt=f"sub-{sub_id}", version=version)
    )
    client.expect("RECEIPT")
    return client


def producer(clients, broker: Broker) -> RawClient:
    client = clients(broker)
    client.connect()
    return client


def send(client: RawClient, destination: str, body: bytes, **kwargs) -> None:
    client.send(commands.send(destination, body, receipt="r", **kwargs))
    client.expect("RECEIPT")


def test_queue_round_robin(stomp_broker: Broker, clients):
    a = consumer(clients, stomp_broker, "/queue/work", "a")
    b = consumer(clients, stomp_broker, "/queue/work", "b")
    p = producer(clients, stomp_broker)
    for i in range(6):
        send(p, "/queue/work", b"%d" % i)
    assert [a.expect("MESSAGE").body for _ in range(3)] == [b"0", b"2", b"4"]
    assert [b.expect("MESSAGE").body for _ in range(3)] == [b"1", b"3", b"5"]
    a.nothing(0.1)
    b.nothing(0.05)
    assert {d.connection for d in stomp_broker.deliveries("/queue/work")} == {1, 2}


def test_queue_stores_until_a_consumer_comes(stomp_broker: Broker, clients):
    p = producer(clients, stomp_broker)
    for i in range(3):
        send(p, "/queue/later", b"%d" % i)
    assert stomp_broker.queue_depth("/queue/later") == 3
    c = clients(stomp_broker)
    c.connect()
    c.send(commands.subscribe("/queue/later", "s1", receipt="sub"))
    # stored messages are dispatched as the SUBSCRIBE is applied, so before its receipt
    frames = [c.receive() for _ in range(4)]
    assert [f.command for f in frames] == ["MESSAGE"] * 3 + ["RECEIPT"]
    assert [f.body for f in frames[:3]] == [b"0", b"1", b"2"]
    assert stomp_broker.queue_depth("/queue/later") == 0


@pytest.mark.parametrize("destination", ["/exchange/x", "/amq/queue/y", "plain-name"])
def test_other_prefixes_are_queues(stomp_broker: Broker, clients, destination):
    p = producer(clients, stomp_broker)
    send(p, destination, b"kept")
    assert stomp_broker.queue_depth(destination) == 1


def test_topic_fan_out_and_drop(stomp_broker: Broker, clients):
    p = producer(clients, stomp_broker)
    send(p, "/topic/news", b"nobody listens")
    assert stomp_broker.queue_depth("/topic/news") == 0
    a = consumer(clients, stomp_broker, "/topic/news", "a")
    b = consumer(clients, stomp_broker, "/topic/news", "b")
    send(p, "/topic/news", b"hello")
    ma, mb = a.expect("MESSAGE"), b.expect("MESSAGE")
    assert ma.body == mb.body == b"hello"
    assert ma.get("subscription") == "a"
    assert mb.get("subscription") == "b"
    assert ma.get("message-id") == mb.get("message-id")
    a.nothing(0.1)
    assert len(stomp_broker.sent_messages("/topic/news")) == 2


def test_message_headers(stomp_broker: Broker, clients):
    c = consumer(clients, stomp_broker, "/queue/h", "sub-7", ack="client-individual")
    p = producer(clients, stomp_broker)
    p.send(
        commands.send(
            "/queue/h",
            b"body\0with nul",
            {"custom": "a:b\\c", "priority": "4"},
            content_type="text/plain;charset=utf-8",
            receipt="r-1",
        )
    )
    p.expect("RECEIPT")
    m = c.expect("MESSAGE")
    assert m.get("destination") == "/queue/h"
    assert m.get("message-id", "").startswith("m-")
    assert m.get("subscription") == "sub-7"
    assert m.get("ack")
    assert m.get("content-type") == "text/plain;charset=utf-8"
    assert m.get("custom") == "a:b\\c"  # escaped on the wire, intact after parsing
    assert m.get("priority") == "4"
    assert m.get("content-length") == str(len(b"body\0with nul"))
    assert m.body == b"body\0with nul"
    assert m.get("receipt") is None
    assert m.get("redelivered") is None
    stored = stomp_broker.sent_messages("/queue/h")[0]
    assert stored.header("custom") == "a:b\\c"
    assert stored.connection == 2


def test_headers_a_10_consumer_cannot_express_are_sanitized(stomp_broker: Broker, clients):
    c = consumer(clients, stomp_broker, "/queue/old", version="1.0")
    p = producer(clients, stomp_broker)
    send(p, "/queue/old", b"x", headers={"multi": "line1\nline2", "colon": "a:b"})
    m = c.expect("MESSAGE")
    assert m.get("multi") == "line1 line2"
    assert m.get("colon") == "a:b"


def test_message_ids_and_ack_ids_are_unique(stomp_broker: Broker, clients):
    a = consumer(clients, stomp_broker, "/topic/t", "a", ack="client")
    b = consumer(clients, stomp_broker, "/topic/t", "b", ack="client")
    p = producer(clients, stomp_broker)
    send(p, "/topic/t", b"1")
    send(p, "/topic/t", b"2")
    messages = [a.expect("MESSAGE"), a.expect("MESSAGE"), b.expect("MESSAGE"), b.expect("MESSAGE")]
    assert len({m.get("ack") for m in messages}) == 4
    assert len({m.get("message-id") for m in messages}) == 2


def test_auto_ack(stomp_broker: Broker, clients):
    c = consumer(clients, stomp_broker, "/queue/auto")
    p = producer(clients, stomp_broker)
    send(p, "/queue/auto", b"x")
    m = c.expect("MESSAGE")
    assert m.get("ack") is None
    assert stomp_broker.unacked() == 0
    c.send(commands.ack(Frame("MESSAGE", {"ack": "nope"}), "1.2"))
    assert "unknown ack id" in c.expect("ERROR").get("message", "")
    assert c.is_closed()


def test_client_ack_is_cumulative_and_rest_redelivered_on_disconnect(stomp_broker: Broker, clients):
    first = consumer(clients, stomp_broker, "/queue/c", "first", ack="client")
    p = producer(clients, stomp_broker)
    for i in range(4):
        send(p, "/queue/c", b"%d" % i)
    messages = [first.expect("MESSAGE") for _ in range(4)]
    first.send(commands.ack(messages[1], "1.2", receipt="ack"))  # acks 0 and 1
    first.expect("RECEIPT")
    assert stomp_broker.unacked("/queue/c") == 2
    second = consumer(clients, stomp_broker, "/queue/c", "second", ack="client")
    first.close()
    redelivered = [second.expect("MESSAGE") for _ in range(2)]
    assert [m.body for m in redelivered] == [b"2", b"3"]
    assert all(m.get("redelivered") == "true" for m in redelivered)
    assert [m.get("message-id") for m in redelivered] == [m.get("message-id") for m in messages[2:]]
    assert all(m.get("subscription") == "second" for m in redelivered)


def test_client_individual_ack_and_redelivery_on_unsubscribe(stomp_broker: Broker, clients):
    c = consumer(clients, stomp_broker, "/queue/ci", "s1", ack="client-individual")
    p = producer(clients, stomp_broker)
    for i in range(3):
        send(p, "/queue/ci", b"%d" % i)
    messages = [c.expect("MESSAGE") for _ in range(3)]
    c.send(commands.ack(messages[1], "1.2", receipt="a"))
    c.expect("RECEIPT")
    assert stomp_broker.unacked() == 2
    c.send(commands.ack(messages[1], "1.2"))  # twice: unknown now
    assert c.expect("ERROR").get("message") == f"ACK for unknown ack id {messages[1].get('ack')!r}"
    assert c.is_closed()
    other = consumer(clients, stomp_broker, "/queue/ci", "s2", ack="auto")
    # the closed connection's unacked 0 and 2 went back to the queue, then to "other"
    bodies = [other.expect("MESSAGE") for _ in range(2)]
    assert [m.body for m in bodies] == [b"0", b"2"]
    assert all(m.get("redelivered") == "true" for m in bodies)


def test_unsubscribe_redelivers_to_the_next_consumer(stomp_broker: Broker, clients):
    a = consumer(clients, stomp_broker, "/queue/u", "a", ack="client")
    b = consumer(clients, stomp_broker, "/queue/u", "b", ack="client")
    p = producer(clients, stomp_broker)
    send(p, "/queue/u", b"for-a")
    assert a.expect("MESSAGE").body == b"for-a"
    a.send(commands.unsubscribe("a", receipt="gone"))
    a.expect("RECEIPT")
    m = b.expect("MESSAGE")
    assert (m.body, m.get("redelivered")) == (b"for-a", "true")


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_ack_by_message_id_in_older_versions(stomp_broker: Broker, clients, version):
    c = consumer(clients, stomp_broker, "/queue/old", "s1", ack="client", version=version)
    p = producer(clients, stomp_broker)
    send(p, "/queue/old", b"x")
    m = c.expect("MESSAGE")
    assert m.get("ack") is None  # the ack header is STOMP 1.2
    ack = commands.ack(m, version, receipt="ok")
    assert ("subscription" in ack.headers) == (version == "1.1")
    c.send(ack)
    c.expect("RECEIPT")
    assert stomp_broker.unacked() == 0


def test_ack_11_needs_subscription(stomp_broker: Broker, clients):
    c = consumer(clients, stomp_broker, "/queue/old", "s1", ack="client", version="1.1")
    p = producer(clients, stomp_broker)
    send(p, "/queue/old", b"x")
    m = c.expect("MESSAGE")
    c.send(Frame("ACK", {"message-id": m.get("message-id", "")}))
    assert "subscription" in c.expect("ERROR").get("message", "")


def test_nack_redelivers(stomp_broker: Broker, clients):
    a = consumer(clients, stomp_broker, "/queue/n", "a", ack="client-individual")
    b = consumer(clients, stomp_broker, "/queue/n", "b", ack="client-individual")
    p = producer(clients, stomp_broker)
    send(p, "/queue/n", b"x")
    m = a.expect("MESSAGE")
    assert m.get("redelivered") is None
    a.send(commands.nack(m, "1.2", receipt="n"))
    a.expect("RECEIPT")
    again = b.expect("MESSAGE")  # round robin: the next consumer
    assert (again.body, again.get("redelivered")) == (b"x", "true")
    assert again.get("message-id") == m.get("message-id")
    assert again.get("ack") != m.get("ack")


def test_nack_on_a_topic_redelivers_to_the_same_subscription(stomp_broker: Broker, clients):
    c = consumer(clients, stomp_broker, "/topic/n", ack="client")
    p = producer(clients, stomp_broker)
    send(p, "/topic/n", b"x")
    c.send(commands.nack(c.expect("MESSAGE"), "1.2"))
    assert c.expect("MESSAGE").get("redelivered") == "true"


def test_nack_is_an_error_in_10(stomp_broker: Broker, clients):
    c = consumer(clients, stomp_broker, "/queue/n10", ack="client", version="1.0")
    c.send(Frame("NACK", {"message-id": "m-1"}))
    assert "1.0" in c.expect("ERROR").get("message", "")
    assert c.is_closed()


def test_dead_letter_after_max_redeliveries(stomp_broker_factory, clients):
    broker = stomp_broker_factory(max_redeliveries=1, dead_letter="/queue/dead")
    c = consumer(clients, broker, "/queue/poison", ack="client-individual")
    p = producer(clients, broker)
    send(p, "/queue/poison", b"bad", headers={"k": "v"})
    c.send(commands.nack(c.expect("MESSAGE"), "1.2"))
    c.send(commands.nack(c.expect("MESSAGE"), "1.2", receipt="last"))
    c.expect("RECEIPT")
    assert broker.queue_depth("/queue/dead") == 1
    dead = broker.sent_messages("/queue/dead")[0]
    assert (dead.body, dead.header("k"), dead.header("original-destination")) == (
        b"bad",
        "v",
        "/queue/poison",
    )


def test_transaction_commit_applies_atomically(stomp_broker: Broker, clients):
    c = consumer(clients, stomp_broker, "/queue/tx", ack="client-individual")
    p = producer(clients, stomp_broker)
    send(p, "/queue/tx", b"to-ack")
    to_ack = c.expect("MESSAGE")
    c.send(commands.begin("t1"))
    c.send(commands.ack(to_ack, "1.2", transaction="t1"))
    p.send(commands.begin("t2"))
    for i in range(3):
        p.send(commands.send("/queue/tx", b"%d" % i, transaction="t2"))
    p.send(commands.send("/queue/tx", b"", receipt="buffered", transaction="t2"))
    p.expect("RECEIPT")
    c.nothing(0.1)
    assert stomp_broker.unacked() == 1
    assert len(stomp_broker.sent_messages("/queue/tx")) == 1
    p.send(commands.commit("t2", receipt="c2"))
    p.expect("RECEIPT")
    assert [c.expect("MESSAGE").body for _ in range(4)] == [b"0", b"1", b"2", b""]
    c.send(commands.commit("t1", receipt="c1"))
    c.expect("RECEIPT")
    assert stomp_broker.unacked() == 4


def test_transaction_abort_drops(stomp_broker: Broker, clients):
    p = producer(clients, stomp_broker)
    p.send(commands.begin("t"))
    p.send(commands.send("/queue/ab", b"x", transaction="t"))
    p.send(commands.abort("t", receipt="ab"))
    p.expect("RECEIPT")
    assert stomp_broker.queue_depth("/queue/ab") == 0
    p.send(commands.commit("t"))  # no longer open
    assert p.expect("ERROR").get("message") == "unknown transaction 't'"
    assert p.is_closed()


def test_unknown_transaction_is_an_error(stomp_broker: Broker, clients):
    p = producer(clients, stomp_broker)
    p.send(commands.send("/queue/x", b"x", transaction="never-begun", receipt="r"))
    error = p.expect("ERROR")
    assert (error.get("message"), error.get("receipt-id")) == (
        "unknown transaction 'never-begun'",
        "r",
    )


def test_duplicate_begin_is_an_error(stomp_broker: Broker, clients):
    p = producer(clients, stomp_broker)
    p.send(commands.begin("t"))
    p.send(commands.begin("t"))
    assert "already open" in p.expect("ERROR").get("message", "")


def test_open_transaction_aborted_on_disconnect(stomp_broker: Broker, clients):
    p = producer(clients, stomp_broker)
    p.send(commands.begin("t"))
    p.send(commands.send("/queue/lost", b"x", transaction="t"))
    p.send(commands.disconnect(receipt="bye"))
    p.receive_until_closed()
    stomp_broker.wait_for(lambda: stomp_broker.connections == 0, WAIT)
    assert stomp_broker.queue_depth("/queue/lost") == 0
    assert stomp_broker.sent_messages() == []


def test_slow_consumer_does_not_stall_others(stomp_broker_factory, clients):
    broker = stomp_broker_factory(slow_consumer_timeout=0.5)
    slow = clients(broker)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect()
    slow.send(commands.subscribe("/topic/firehose", "s", receipt="r"))
    slow.expect("RECEIPT")  # and never read again
    fast = consumer(clients, broker, "/topic/firehose", "fast")
    p = producer(clients, broker)
    chunk = b"x" * 100_000
    for _ in range(60):  # 6 MB: far beyond the slow consumer's buffers
        p.send(commands.send("/topic/firehose", chunk))
    send(p, "/queue/other", b"still responsive")
    for _ in range(60):
        assert fast.expect("MESSAGE").body == chunk  # each within WAIT: never stalled
    # the slow consumer is dropped after slow_consumer_timeout without progress
    broker.wait_for(lambda: broker.connections == 2, WAIT)
    assert broker.subscriber_count("/topic/firehose") == 1
