"""Inbound flow control against the in-process broker: the bounded consume backlog (the
reader pauses, TCP pushes back, heart-beats keep going), pull subscriptions fed by the reader,
and an auto-ack unsubscribe that loses nothing."""

from __future__ import annotations

import queue
import threading

import pytest

from stomp_enterprise.client.subscription import FAILURE_HEADER, ORIGINAL_DESTINATION_HEADER
from stomp_enterprise.errors import FrameTooLarge

BODY = b"x" * 10_000


def test_reader_pauses_above_the_backlog_and_resumes_below_low_water(
    make_client, stomp_broker, recorder
) -> None:
    release = threading.Event()
    got = recorder()
    seen: list[int] = []
    client = make_client(max_backlog_messages=20, backlog_low_water=0.5)

    def handler(message) -> None:
        release.wait(30)
        seen.append(client.backlog.messages)
        got(message.body)

    with client:
        client.subscribe("/queue/slow", handler)
        for _ in range(2000):  # 20 MB: far more than the socket buffers hold
            stomp_broker.publish("/queue/slow", BODY)
        stomp_broker.wait_for(lambda: client.backlog.paused, timeout=10)
        # the client stopped reading: the broker cannot write what it queued for us
        stomp_broker.wait_for(lambda: stomp_broker.unsent_bytes() > 1_000_000, timeout=10)
        held = client.backlog
        # a read brings at most 256 KiB beyond the bound: ~26 messages of 10 KB
        assert 20 < held.messages <= 20 + 27
        release.set()
        got.wait(2000, timeout=60)
        assert client.backlog.pauses > 1  # paused, resumed at low water, paused again...
    assert max(seen) <= 20 + 27  # never more than the bound and one read held


def test_no_heartbeat_timeout_while_paused_and_our_heart_beats_keep_going(
    new_client, stomp_broker_factory, recorder
) -> None:
    # the broker drops a client silent for 2 x 200 ms; we would give up on it after 1.5 x 200
    broker = stomp_broker_factory(heart_beat_grace=2.0)
    release = threading.Event()
    timeouts, disconnects = recorder(), recorder()
    client = new_client(
        broker.url,
        heart_beats=(200, 200),
        max_backlog_messages=5,
        timeouts={"disconnect": 2.0},
    )
    client.listeners.on("heartbeat_timeout", timeouts)
    client.listeners.on("disconnected", disconnects)
    with client:
        client.subscribe("/queue/hb", lambda m: release.wait(30))
        for _ in range(1000):
            broker.publish("/queue/hb", BODY)
        broker.wait_for(lambda: client.backlog.paused, timeout=10)
        broker.wait_for(lambda: broker.unsent_bytes() > 1_000_000, timeout=10)
        # stay paused for 10 heart-beat intervals: neither side may give up
        assert not release.wait(2.0)
        assert client.backlog.paused
        assert client.is_connected
        assert broker.sessions == 1
        release.set()
        client.send("/queue/after", b"fine", receipt=True)
    assert timeouts.items == []
    assert disconnects.items == [None]


def test_an_unread_pull_queue_blocks_no_handler_or_listener(make_client, stomp_broker) -> None:
    client = make_client(queue_size=5)
    handled: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    receipts: queue.SimpleQueue[str] = queue.SimpleQueue()
    with client:
        client.listeners.on("receipt", receipts.put)
        pull = client.subscribe("/queue/unread")
        client.subscribe("/queue/handled", lambda m: handled.put(m.body))
        for n in range(50):  # ten times the old queue bound, never read
            stomp_broker.publish("/queue/unread", str(n).encode())
        for n in range(5):
            stomp_broker.publish("/queue/handled", str(n).encode())
        assert [handled.get(timeout=10) for _ in range(5)] == [b"0", b"1", b"2", b"3", b"4"]
        client.send("/queue/x", b"x", receipt=True)
        assert receipts.get(timeout=10)  # listeners still run
        assert [pull.get(timeout=5).body for _ in range(50)] == [str(n).encode() for n in range(50)]
        assert client.backlog.messages == 0


def test_a_handler_may_wait_on_a_pull_subscription_with_one_worker(
    make_client, stomp_broker, recorder
) -> None:
    client = make_client(dispatch_workers=1)
    replies = recorder()
    with client:
        pull = client.subscribe("/queue/replies")

        def handler(message) -> None:
            client.send("/queue/replies", b"reply to " + message.body)
            replies(pull.get(timeout=10).body)

        client.subscribe("/queue/requests", handler)
        client.send("/queue/requests", b"q1")
        assert replies.wait(1, timeout=15) == [b"reply to q1"]


def test_no_prefetch_header_is_invented_for_an_unknown_broker(make_client, stomp_broker):
    client = make_client(queue_size=7, max_backlog_messages=100)
    with client:
        client.subscribe("/queue/p", ack="client-individual")
        client.subscribe("/queue/q", lambda m: m.ack(), ack="client")
        client.subscribe("/queue/r", ack="client", headers={"prefetch-count": "3"})
    # the in-process broker names no known server: no header is invented for it
    subscribes = stomp_broker.received_frames("SUBSCRIBE")
    assert all("activemq.prefetchSize" not in f.headers for f in subscribes)
    assert subscribes[2].headers["prefetch-count"] == "3"


def test_client_ack_subscriptions_send_the_brokers_prefetch_header(
    new_client, stomp_broker_factory
):
    broker = stomp_broker_factory(name="ActiveMQ/5.17.2")
    with new_client(broker.url, heart_beats=(0, 0), queue_size=7, max_backlog_messages=100) as c:
        c.subscribe("/queue/p", ack="client-individual")
        c.subscribe("/queue/q", lambda m: m.ack(), ack="client")
        c.subscribe("/queue/r", ack="client", headers={"activemq.prefetchSize": "3"})
        c.subscribe("/queue/s", lambda m: None)  # auto: bounded by the backlog alone
    frames = broker.received_frames("SUBSCRIBE")
    assert [f.headers.get("activemq.prefetchSize") for f in frames] == ["7", "50", "3", None]


def test_auto_ack_unsubscribe_delivers_every_message_already_received(
    make_client, stomp_broker, recorder
) -> None:
    first = threading.Event()
    release = threading.Event()
    got = recorder()
    discarded = recorder()
    client = make_client()

    def handler(message) -> None:
        first.set()
        release.wait(30)
        got(message.body)

    with client:
        client.listeners.on("discarded", discarded)
        sub = client.subscribe("/queue/u", handler)
        for n in range(21):
            stomp_broker.publish("/queue/u", str(n).encode())
        assert first.wait(10)
        stomp_broker.wait_for(lambda: client.backlog.messages == 21, timeout=10)
        sub.unsubscribe(receipt=True)
        release.set()
        assert got.wait(21, timeout=10) == [str(n).encode() for n in range(21)]
        client.send("/queue/x", b"x", receipt=True)
    assert discarded.items == []


def test_auto_ack_pull_queue_keeps_its_messages_after_unsubscribe(make_client, stomp_broker):
    client = make_client()
    with client:
        sub = client.subscribe("/queue/pu")
        for n in range(10):
            stomp_broker.publish("/queue/pu", str(n).encode())
        stomp_broker.wait_for(lambda: client.backlog.messages == 10, timeout=10)
        sub.unsubscribe(receipt=True)
        assert [m.body for m in sub] == [str(n).encode() for n in range(10)]


def test_messages_in_flight_after_unsubscribe_are_reported(
    make_client, stomp_broker, recorder, caplog
) -> None:
    got = recorder()
    discarded = recorder()
    client = make_client()
    with client:
        client.listeners.on("discarded", lambda *args: discarded(args))
        sub = client.subscribe("/queue/f", got)
        stomp_broker.delay_frames(0.3)  # the broker's MESSAGEs are on their way...
        for n in range(10):
            stomp_broker.publish("/queue/f", str(n).encode())
        sub.unsubscribe(receipt=True)  # ...when the UNSUBSCRIBE goes out
        stomp_broker.delay_frames(0)
        client.send("/queue/x", b"x", receipt=True)  # after the MESSAGEs: all were read
        assert client.discarded == 10
    reports = discarded.items  # disconnect() ran the dispatcher dry
    assert got.items == []
    assert sum(count for _, count, _ in reports) == 10
    assert all(sub_id == sub.id for sub_id, _, _ in reports)
    assert "auto-ack message(s) of subscription" in caplog.text


# ---------------------------------------------------------------- oversize MESSAGE


def _oversize_setup(client, broker, recorder, **subscribe_options):
    errors, got, lost = recorder(), recorder(), recorder()
    client.listeners.on("handler_error", lambda m, e: errors((m, e)))
    client.listeners.on("disconnected", lost)
    # acked before it is recorded: once the test has seen it, its ACK is on its way
    sub = client.subscribe("/queue/big", lambda m: (m.ack(), got(m.body)), **subscribe_options)
    broker.publish("/queue/big", b"B" * 200_000, {"n": "1"})  # > the client's max_frame_size
    broker.publish("/queue/big", b"next", {"n": "2"})
    return sub, errors, got, lost


@pytest.mark.parametrize("ack", ["client", "client-individual"])
def test_an_oversize_message_is_acked_and_reported_and_the_next_one_arrives(
    make_client, stomp_broker, recorder, ack
) -> None:
    client = make_client(max_frame_size=64 * 1024)
    with client:
        _, errors, got, lost = _oversize_setup(client, stomp_broker, recorder, ack=ack)
        assert got.wait(1, timeout=10) == [b"next"]
        ((message, error),) = errors.wait(1)
        assert isinstance(error, FrameTooLarge)
        assert "200000 bytes" in str(error)
        assert message.headers["n"] == "1"
        assert message.body == b""
        client.send("/queue/x", b"x", receipt=True)
        assert stomp_broker.unacked("/queue/big") == 0  # the broker will not send it again
        assert client.is_connected
        assert client.reconnects == 0
        assert lost.items == []
    assert stomp_broker.wait_for(lambda: stomp_broker.connections == 0)


def test_an_oversize_message_is_nacked_with_on_error_nack(
    new_client, stomp_broker_factory, recorder
):
    broker = stomp_broker_factory(max_redeliveries=0, dead_letter="/queue/DLQ")
    client = new_client(broker.url, heart_beats=(0, 0), max_frame_size=64 * 1024)
    with client:
        _, errors, got, _ = _oversize_setup(
            client, broker, recorder, ack="client-individual", on_error="nack"
        )
        assert got.wait(1, timeout=10) == [b"next"]
        errors.wait(1)
        client.send("/queue/x", b"x", receipt=True)
        assert len(broker.received_frames("NACK")) == 1
        assert [m.header("n") for m in broker.sent_messages("/queue/DLQ")] == ["1"]


def test_an_oversize_message_goes_to_the_error_destination_without_its_body(
    make_client, stomp_broker, recorder
) -> None:
    client = make_client(max_frame_size=64 * 1024)
    with client:
        _, errors, got, _ = _oversize_setup(
            client,
            stomp_broker,
            recorder,
            ack="client-individual",
            error_destination="/queue/errors",
        )
        assert got.wait(1, timeout=10) == [b"next"]
        errors.wait(1)
        client.send("/queue/x", b"x", receipt=True)
        forwarded = stomp_broker.wait_for(lambda: stomp_broker.sent_messages("/queue/errors"))
        assert stomp_broker.unacked("/queue/big") == 0
    (copy,) = forwarded
    assert copy.body == b""
    assert copy.header("n") == "1"
    assert "FrameTooLarge" in (copy.header(FAILURE_HEADER) or "")
    assert copy.header(ORIGINAL_DESTINATION_HEADER) == "/queue/big"


def test_an_oversize_message_on_a_pull_subscription(make_client, stomp_broker, recorder):
    client = make_client(max_frame_size=64 * 1024)
    errors = recorder()
    with client:
        client.listeners.on("handler_error", lambda m, e: errors(e))
        sub = client.subscribe("/queue/big", ack="client-individual")
        stomp_broker.publish("/queue/big", b"B" * 200_000)
        stomp_broker.publish("/queue/big", b"next")
        message = sub.get(timeout=10)
        assert message.body == b"next"
        message.ack(receipt=True)
        assert isinstance(errors.wait(1)[0], FrameTooLarge)
        stomp_broker.wait_for(lambda: stomp_broker.unacked("/queue/big") == 0)


def test_auto_ack_messages_left_after_the_drain_timeout_are_reported(
    make_client, stomp_broker, recorder
) -> None:
    release = threading.Event()
    got, discarded = recorder(), recorder()
    client = make_client(timeouts={"drain": 0.2, "disconnect": 2.0})
    client.listeners.on("discarded", lambda *args: discarded(args))
    client.connect()
    sub = client.subscribe("/queue/d", lambda m: (release.wait(30), got(m.body)))
    for n in range(5):
        stomp_broker.publish("/queue/d", str(n).encode())
    stomp_broker.wait_for(lambda: client.backlog.messages == 5, timeout=10)
    closing = threading.Thread(target=client.disconnect)
    closing.start()
    stomp_broker.wait_for(lambda: not sub.active, timeout=10)  # past its drain
    release.set()  # the drain gave up on the stuck handler: the other four are not run
    closing.join(30)
    assert got.wait(1) == [b"0"]  # (the stuck handler returns once released)
    # one report per batch (the five may have come in more than one read)
    assert sum(count for _, count, _ in discarded.items) == 4
    assert {(sub_id, reason) for sub_id, _, reason in discarded.items} == {
        (sub.id, "the client was closed first")
    }
    assert client.discarded == 4
