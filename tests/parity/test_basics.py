"""The client against the in-process broker: connect, send, subscribe, ack, transactions."""

from __future__ import annotations

import logging
import queue
import threading

import pytest

from stomp_enterprise import (
    AckError,
    BrokerError,
    ConfigError,
    LocalProtocolError,
    NotConnected,
    ReceiptTimeout,
    TransactionError,
)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_negotiates_each_version_and_round_trips(make_client, version) -> None:
    with make_client(versions=(version,)) as client:
        assert client.version == version
        assert client.is_connected
        sub = client.subscribe(
            "/queue/v", ack="client" if version == "1.0" else "client-individual"
        )
        client.send("/queue/v", b"a\x00b:c\nd", {"x-colon": "a:b", "x-nl": "1"}, receipt=True)
        message = sub.get(timeout=5)
        assert message.body == b"a\x00b:c\nd"
        assert message.headers["x-colon"] == "a:b"
        message.ack(receipt=True)
    assert not client.is_connected
    assert client.version is None


def test_highest_common_version_wins(new_client, stomp_broker_factory) -> None:
    broker = stomp_broker_factory(versions=("1.0", "1.1"))
    with new_client(broker.url, heart_beats=(0, 0)) as client:
        assert client.version == "1.1"


def test_str_body_is_encoded_with_content_type_charset(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/text")
        client.send("/queue/text", "héllo")
        client.send("/queue/text", "héllo", content_type="text/plain;charset=latin-1")
        first, second = sub.get(timeout=5), sub.get(timeout=5)
        assert first.body == "héllo".encode()
        assert first.content_type == "text/plain;charset=utf-8"
        assert first.text == "héllo"
        assert second.body == "héllo".encode("latin-1")
        assert second.text == "héllo"


def test_bad_arguments_raise_typed_errors(new_client, make_client) -> None:
    with make_client() as client:
        with pytest.raises(ConfigError):
            client.send("/queue/x", 12345)  # type: ignore[arg-type]
        with pytest.raises(LocalProtocolError):
            client.send("", b"x")
        with pytest.raises(LocalProtocolError):
            client.send("/queue/x", b"x", {"destination": "/queue/other"})
        with pytest.raises(LocalProtocolError):
            client.subscribe("/queue/x", ack="sometimes")
        with pytest.raises(ConfigError):
            client.subscribe("/queue/x", handler="not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="heart_beats"):
        new_client("tcp://127.0.0.1:1", heart_beats=(-1, 0))
    with pytest.raises(ConfigError, match="scheme"):
        new_client("http://127.0.0.1:1")
    for bad in (-0.001, 0.5, "soon"):
        with pytest.raises(ConfigError, match="read_coalescing"):
            new_client("tcp://127.0.0.1:1", read_coalescing=bad)


@pytest.mark.parametrize("coalescing", [0.0, 0.0003, 0.01])
def test_every_message_of_a_burst_arrives_with_or_without_read_coalescing(
    make_client, monkeypatch, coalescing
) -> None:
    """A burst read in several batches (the reader pausing between busy reads, or not)
    delivers every message once, in order, with acks that all reach the broker."""
    with make_client(read_coalescing=coalescing) as client:
        for i in range(300):
            client.send("/queue/burst", str(i))
        got: list[int] = []
        done = threading.Event()

        def handler(message) -> None:
            got.append(int(message.body))
            message.ack()
            if len(got) == 300:
                done.set()

        client.subscribe("/queue/burst", handler, ack="client-individual")
        assert done.wait(10)
    assert got == list(range(300))
    with make_client() as again:  # every ack arrived: the broker redelivers nothing
        leftover = again.subscribe("/queue/burst", receipt=True)
        with pytest.raises(queue.Empty):
            leftover.get(timeout=0.3)


def test_send_when_not_connected_raises_at_once(make_client) -> None:
    client = make_client()
    with pytest.raises(NotConnected):
        client.send("/queue/x", b"x")


def test_handlers_are_routed_by_subscription_not_destination(make_client, recorder) -> None:
    first, second = recorder(), recorder()
    with make_client() as client:
        client.subscribe("/topic/t", first)
        client.subscribe("/topic/t", second)
        client.send("/topic/t", b"one", receipt=True)
        assert [m.body for m in first.wait(1)] == [b"one"]
        assert [m.body for m in second.wait(1)] == [b"one"]
        assert first.items[0].subscription is not second.items[0].subscription


def test_queue_subscription_iterates_until_unsubscribed(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/it")
        for i in range(3):
            client.send("/queue/it", str(i))
        got = []
        for message in sub:
            got.append(message.text)
            if len(got) == 3:
                sub.unsubscribe(receipt=True)
        assert got == ["0", "1", "2"]
        assert not sub.active
        with pytest.raises(NotConnected):
            sub.get(timeout=0.1)


def test_get_times_out_with_queue_empty(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/empty")
        with pytest.raises(queue.Empty):
            sub.get(timeout=0.2)


def test_client_individual_unacked_messages_are_redelivered(make_client, stomp_broker) -> None:
    with make_client() as consumer:
        sub = consumer.subscribe("/queue/redeliver", ack="client-individual")
        consumer.send("/queue/redeliver", b"m1")
        consumer.send("/queue/redeliver", b"m2", receipt=True)
        first = sub.get(timeout=5)
        second = sub.get(timeout=5)
        second.ack(receipt=True)
        assert not first.redelivered
    with make_client() as again:
        sub = again.subscribe("/queue/redeliver", ack="client-individual")
        message = sub.get(timeout=5)
        assert message.body == b"m1"
        assert message.redelivered
        message.ack(receipt=True)
    assert stomp_broker.unacked("/queue/redeliver") == 0


def test_nack_redelivers(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/nack", ack="client-individual")
        client.send("/queue/nack", b"x")
        sub.get(timeout=5).nack(receipt=True)
        again = sub.get(timeout=5)
        assert again.redelivered
        again.ack()


def test_ack_on_auto_subscription_and_lost_connection_raise_ack_error(
    make_client, stomp_broker
) -> None:
    with make_client() as client:
        auto = client.subscribe("/queue/auto")
        client.send("/queue/auto", b"x")
        with pytest.raises(AckError, match="auto-ack"):
            auto.get(timeout=5).ack()
        manual = client.subscribe("/queue/manual", ack="client")
        client.send("/queue/manual", b"y")
        message = manual.get(timeout=5)
        stomp_broker.drop_connections()
        stomp_broker.wait_for(lambda: not client.is_connected)
        with pytest.raises(AckError, match="lost"):
            message.ack()


def test_receipt_timeout(make_client, stomp_broker) -> None:
    with make_client(timeouts={"receipt": 0.3, "disconnect": 0.5}) as client:
        stomp_broker.delay_frames(1.0)
        with pytest.raises(ReceiptTimeout):
            client.send("/queue/slow", b"x", receipt=True)
        stomp_broker.delay_frames(0)


def test_transaction_commit_and_abort_seen_at_broker(make_client, stomp_broker) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/tx")
        with client.transaction() as tx:
            tx.send("/queue/tx", b"committed")
            with pytest.raises(queue.Empty):
                sub.get(timeout=0.3)  # not visible before COMMIT
        assert sub.get(timeout=5).body == b"committed"
        tx2 = client.transaction()

        def aborted() -> None:
            with tx2:
                tx2.send("/queue/tx", b"aborted")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            aborted()
        with pytest.raises(queue.Empty):
            sub.get(timeout=0.3)
        commands = [f.command for f in stomp_broker.received_frames()]
        assert "COMMIT" in commands
        assert "ABORT" in commands
        assert tx.state == "committed"
        assert tx2.state == "aborted"
        with pytest.raises(TransactionError):
            tx.send("/queue/tx", b"late")


def test_begin_is_sent_without_receipt_and_not_waited_for(make_client, stomp_broker) -> None:
    """BEGIN is pipelined: begin() returns although the broker answers nothing (it used to
    wait for BEGIN's RECEIPT: ReceiptTimeout here); COMMIT's RECEIPT confirms it all."""
    with make_client() as client:
        stomp_broker.go_silent()
        try:
            tx = client.transaction(timeout=0.2).begin()
            assert tx.state == "open"
            tx.send("/queue/tx-pipelined", b"1")
        finally:
            stomp_broker.resume()
        tx.commit()
        assert tx.state == "committed"
        begin = stomp_broker.received_frames("BEGIN")
        assert [f.headers.get("transaction") for f in begin] == [tx.id]
        assert "receipt" not in begin[0].headers
        assert "receipt" in stomp_broker.received_frames("COMMIT")[0].headers
        assert [m.body for m in stomp_broker.sent_messages("/queue/tx-pipelined")] == [b"1"]


def test_a_transactions_frames_reach_the_broker_in_order_with_its_commit(
    make_client, stomp_broker
) -> None:
    """BEGIN, the SENDs and COMMIT of each transaction (the threaded client queues BEGIN and
    SENDs lazily, both clients join BEGIN/COMMIT directly): in order, each naming its
    transaction, only COMMIT receipted, every message committed in order."""
    destination = "/queue/tx-order"
    with make_client() as client:
        ids = []
        for round_ in range(3):
            with client.transaction() as tx:
                for n in range(20):
                    tx.send(destination, b"%d-%d" % (round_, n))
            ids.append(tx.id)
            assert tx.state == "committed"
    assert len(set(ids)) == 3
    frames = [f for f in stomp_broker.received_frames() if f.command in ("BEGIN", "SEND", "COMMIT")]
    expected = []
    for transaction in ids:
        expected += [("BEGIN", transaction)] + [("SEND", transaction)] * 20
        expected.append(("COMMIT", transaction))
    assert [(f.command, f.headers.get("transaction")) for f in frames] == expected
    assert ["receipt" in f.headers for f in frames] == [f.command == "COMMIT" for f in frames]
    bodies = [m.body for m in stomp_broker.sent_messages(destination)]
    assert bodies == [b"%d-%d" % (r, n) for r in range(3) for n in range(20)]


def test_transaction_acks_are_atomic(make_client, stomp_broker) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/txack", ack="client-individual")
        client.send("/queue/txack", b"x", receipt=True)
        message = sub.get(timeout=5)
        with client.transaction() as tx:
            tx.ack(message)
            assert stomp_broker.unacked("/queue/txack") == 1
        stomp_broker.wait_for(lambda: stomp_broker.unacked("/queue/txack") == 0)


def test_transaction_lost_with_connection(make_client, stomp_broker) -> None:
    with make_client() as client:
        tx = client.transaction().begin()
        stomp_broker.drop_connections()
        stomp_broker.wait_for(lambda: not client.is_connected)
        with pytest.raises(TransactionError, match="lost"):
            tx.send("/queue/x", b"x")
        with pytest.raises(TransactionError):
            tx.commit()


def test_login_failure_is_broker_error_with_the_message(new_client, stomp_broker_factory) -> None:
    broker = stomp_broker_factory(users={"app": "secret"})
    client = new_client(broker.url, login="app", passcode="wrong", heart_beats=(0, 0))
    with pytest.raises(BrokerError, match="Authentication failed"):
        client.connect()
    assert not client.is_connected
    with new_client(broker.url, login="app", passcode="secret", heart_beats=(0, 0)) as ok:
        assert ok.is_connected


def test_passcode_never_in_repr_or_debug_log(new_client, stomp_broker, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="stomp_enterprise")
    client = new_client(stomp_broker.url, login="app", passcode="s3cr3t-pw", heart_beats=(0, 0))
    with client:
        client.send("/queue/log", b"x" * 500)
    assert "s3cr3t-pw" not in repr(client)
    assert "s3cr3t-pw" not in repr(client.config)
    assert "s3cr3t-pw" not in caplog.text
    assert "passcode" in caplog.text  # the CONNECT frame is logged, redacted
    assert "x" * 200 not in caplog.text  # bodies are truncated


def test_disconnect_is_idempotent_and_safe_when_dead(make_client, stomp_broker) -> None:
    client = make_client()
    client.disconnect()  # never connected
    client.connect()
    stomp_broker.drop_connections()
    stomp_broker.wait_for(lambda: not client.is_connected)
    client.disconnect()
    client.disconnect()
    assert not client.is_connected


def test_client_can_connect_again_after_disconnect(make_client) -> None:
    client = make_client()
    for _ in range(2):
        with client:
            client.send("/queue/again", b"x", receipt=True)


def test_bad_url_error_names_the_part(new_client) -> None:
    with pytest.raises(ConfigError) as info:
        new_client("foo://x")
    assert "scheme 'foo'" in str(info.value)
    assert "invalid client configuration" not in str(info.value)


def test_loss_after_an_error_frame_names_the_brokers_reason(make_client, stomp_broker) -> None:
    """Brokers answer e.g. an oversize frame with ERROR (no receipt-id), then close."""
    errors = []
    with make_client() as client:
        client.listeners.on("error", errors.append)
        stomp_broker.send_error("The maximum frame size was exceeded", close=True)
        stomp_broker.wait_for(lambda: not client.is_connected)
        with pytest.raises(NotConnected, match="maximum frame size was exceeded"):
            client.send("/queue/x", b"x")
    assert [e.message for e in errors] == ["The maximum frame size was exceeded"]


def test_error_frame_for_a_receipted_frame_raises_broker_error(
    make_client, stomp_broker, client_kind
) -> None:
    with make_client() as client:
        if client_kind == "threaded":  # send_async: the threaded client's alone
            future = client.send_async("/queue/ok", b"x")
            assert future.result(5).command == "RECEIPT"
        # an ACK for an id the broker never issued is answered with ERROR carrying receipt-id
        sub = client.subscribe("/queue/e", ack="client-individual")
        client.send("/queue/e", b"x")
        message = sub.get(timeout=5)
        stomp_broker.purge()
        message.ack(receipt=True)  # valid
        with pytest.raises(BrokerError) as info:
            message.ack(receipt=True)  # the second ack of the same id is unknown to the broker
        assert info.value.frame is not None
        assert info.value.message


def test_an_observed_send_of_a_typed_payload_counts_its_encoded_size(
    make_client, stomp_broker
) -> None:
    """observe(): a dict body (encoded by the JSON codec) counts the bytes written, as a
    bytes body does (issue 17 seam)."""
    with make_client() as client:
        client.observe()
        client.send("/queue/aiofix-observed", {"answer": 42, "text": "forty-two"}, receipt=True)
        client.send("/queue/aiofix-observed", b"plain", receipt=True, priority=3)
        stats = client.stats()
        bodies = [m.body for m in stomp_broker.sent_messages("/queue/aiofix-observed")]
        assert bodies[1] == b"plain"
        assert (stats.sent, stats.sent_bytes) == (2, len(bodies[0]) + len(bodies[1]))
        assert stomp_broker.received_frames("SEND")[1].headers["priority"] == "3"
