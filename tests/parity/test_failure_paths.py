"""Failure paths of the client, driven through the in-process broker's fault injection.

Each test names the one-line mutant of the library it kills (see tools/mutants.py, which
applies them and runs this file)."""

from __future__ import annotations

import threading

import pytest

from stomp_enterprise import (
    AckError,
    ConnectFailed,
    ConnectionLost,
    NotConnected,
    ReceiptTimeout,
    StompConnectionError,
    TransactionError,
)
from stomp_enterprise.testing import Broker

FAST = "initialReconnectDelay=20&maxReconnectDelay=200"


def failover(broker: Broker) -> str:
    return f"failover:(tcp://127.0.0.1:{broker.port})?{FAST}"


def test_a_timed_out_receipt_is_not_left_pending(make_client, stomp_broker) -> None:
    """Mutant: Connection.wait_receipt keeps a timed-out future in ``_receipts`` (a leak)."""
    with make_client() as client:
        client.send("/queue/r", b"ok", receipt=True)
        assert client.pending_receipts == 0
        stomp_broker.go_silent()
        with pytest.raises(ReceiptTimeout, match="no RECEIPT for SEND"):
            client.send("/queue/r", b"lost?", receipt=True, timeout=0.2)
        with pytest.raises(ReceiptTimeout):
            client.send("/queue/r", b"lost?", receipt=True, timeout=0.2)
        assert client.pending_receipts == 0
        stomp_broker.resume()
        client.send("/queue/r", b"again", receipt=True)
        assert client.pending_receipts == 0


def test_a_receipt_timeout_says_what_the_connection_still_holds(make_client, stomp_broker) -> None:
    """A RECEIPT that does not come is told apart in the error: the frames were written
    (nothing queued), and with trackMessages the cache waits for the broker's confirmation."""
    with make_client() as client:
        stomp_broker.go_silent()
        with pytest.raises(ReceiptTimeout, match=r"within 0.2s \(tcp://[^:]+:\d+: 0 bytes queued"):
            client.send("/queue/r", b"lost?", receipt=True, timeout=0.2)
        stomp_broker.resume()
    tracked = f"{failover(stomp_broker)}&trackMessages=true&maxCacheSize=4096"
    with make_client(tracked) as client:
        client.send("/queue/t", b"ok", receipt=True)
        stomp_broker.go_silent()
        with pytest.raises(ReceiptTimeout) as caught:
            client.send("/queue/t", b"x" * 1000, receipt=True, timeout=0.2)
        message = str(caught.value)
        assert "0 bytes queued" in message
        assert "tracking cache 1,0" in message
        assert "of 4,096 bytes, 1 confirmation(s) awaited" in message
        stomp_broker.resume()


def test_an_unsubscribe_made_while_disconnected_is_not_replayed(
    new_client, stomp_broker, recorder
) -> None:
    """Mutant: Client._unsubscribe leaves the subscription in the session while disconnected,
    so the reconnect replays it."""
    connected = recorder()
    client = new_client(failover(stomp_broker), heart_beats=(0, 0))
    client.listeners.on("connected", connected)
    with client:
        kept = client.subscribe("/queue/kept")
        gone = client.subscribe("/queue/gone")
        client.send("/queue/kept", b"sync", receipt=True)
        assert kept.get(timeout=5).body == b"sync"
        stomp_broker.stop()
        stomp_broker.wait_for(lambda: not client.is_connected)
        gone.unsubscribe()  # offline: nothing to send, but it must not come back
        stomp_broker.start()
        connected.wait(2, timeout=10)
        client.send("/queue/kept", b"after", receipt=True)  # the replay went before it
        assert stomp_broker.subscriber_count("/queue/gone") == 0
        assert stomp_broker.subscriber_count("/queue/kept") == 1
        assert kept.get(timeout=5).body == b"after"
        assert [s.id for s in client.subscriptions] == [kept.id]


def test_refused_connects_at_startup_fail_listing_the_broker(new_client, stomp_broker) -> None:
    stomp_broker.refuse_connects(True)
    client = new_client(stomp_broker.url, heart_beats=(0, 0))
    with pytest.raises(ConnectFailed) as info:
        client.connect()
    assert [url for url, _ in info.value.attempts] == [stomp_broker.url]
    assert stomp_broker.url in str(info.value)
    assert isinstance(info.value.attempts[0][1], StompConnectionError)
    assert not client.is_connected
    stomp_broker.refuse_connects(False)


def test_a_broker_that_stops_reading_fails_the_writer_within_the_write_timeout(
    make_client, stomp_broker, recorder
) -> None:
    """go_silent: the broker reads nothing, TCP fills up; the sender gets a clear
    ConnectionLost naming the stuck write once timeouts.write has passed, never a hang."""
    client = make_client(timeouts={"write": 0.5, "disconnect": 0.3, "drain": 0.3})
    client.connect()
    disconnected = recorder()
    client.listeners.on("disconnected", disconnected)
    stomp_broker.go_silent()
    chunk = b"x" * 65536

    def flood() -> None:
        for _ in range(10_000):  # bounded: 640 MB, far past every buffer
            client.send("/queue/stuck", chunk)

    # whichever notices first: the sender waiting for room (ConnectionLost), or the writer's
    # own stuck write ending the connection before that sender's next call (NotConnected)
    with pytest.raises((ConnectionLost, NotConnected)) as info:
        flood()
    text = str(info.value)
    assert "0.5" in text or "timed out" in text, text
    disconnected.wait(1, timeout=10)  # the writer's own stuck write ends the connection
    assert not client.is_connected
    stomp_broker.resume()


@pytest.mark.parametrize("verb", ["ack", "nack"])
def test_ack_and_nack_after_a_loss_raise_ack_error(make_client, stomp_broker, verb) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/acks", ack="client-individual")
        client.send("/queue/acks", b"m", receipt=True)
        message = sub.get(timeout=5)
        stomp_broker.drop_connections()
        stomp_broker.wait_for(lambda: not client.is_connected)
        with pytest.raises(AckError, match="is lost; the broker") as info:
            getattr(message, verb)()
        assert message.message_id is not None
        assert "redeliver" in str(info.value)


@pytest.mark.parametrize("call", ["send", "ack", "commit", "abort"])
def test_a_transaction_open_at_a_loss_fails_clearly(
    new_client, stomp_broker, recorder, call
) -> None:
    """Also on a failover URI, after the reconnect: nothing of it is replayed."""
    connected = recorder()
    client = new_client(failover(stomp_broker), heart_beats=(0, 0))
    client.listeners.on("connected", connected)
    with client:
        sub = client.subscribe("/queue/tx-in", ack="client-individual")
        client.send("/queue/tx-in", b"in", receipt=True)
        message = sub.get(timeout=5)
        tx = client.transaction().begin()
        tx.send("/queue/tx-out", b"first")
        connected.wait(1)
        stomp_broker.drop_connections()
        connected.wait(2, timeout=10)  # reconnected
        calls = {
            "send": lambda: tx.send("/queue/tx-out", b"second"),
            "ack": lambda: tx.ack(message),
            "commit": tx.commit,
            "abort": tx.abort,
        }
        if call == "abort":
            calls[call]()  # nothing to abort at the broker: a logged no-op, never a raise
        else:
            with pytest.raises(TransactionError, match="lost with its connection") as info:
                calls[call]()
            assert "nothing in it was committed" in str(info.value)
        assert tx.state == "failed"
        with pytest.raises(TransactionError, match="lost with its connection"):
            tx.commit()  # and so on every later use
        client.send("/queue/sync", b"x", receipt=True)
    assert stomp_broker.queue_depth("/queue/tx-out") == 0
    assert stomp_broker.received_frames("COMMIT") == []


def test_a_transaction_cannot_begin_twice(make_client) -> None:
    with make_client() as client:
        tx = client.transaction().begin()
        with pytest.raises(TransactionError, match="already open"):
            tx.begin()
        assert repr(tx) == f"<Transaction {tx.id} open>"
        tx.abort()
        assert tx.state == "aborted"


def test_a_block_that_swallowed_the_loss_does_not_look_committed(
    new_client, stomp_broker, recorder
) -> None:
    connected = recorder()
    client = new_client(failover(stomp_broker), heart_beats=(0, 0))
    client.listeners.on("connected", connected)
    with client:
        connected.wait(1)

        def swallowing_block() -> None:
            with client.transaction() as tx:
                tx.send("/queue/tx-swallowed", b"1")
                stomp_broker.drop_connections()
                connected.wait(2, timeout=10)  # reconnected
                with pytest.raises(TransactionError):
                    tx.send("/queue/tx-swallowed", b"2")

        with pytest.raises(TransactionError, match="failed before COMMIT"):
            swallowing_block()
        client.send("/queue/sync", b"x", receipt=True)
    assert stomp_broker.queue_depth("/queue/tx-swallowed") == 0


def test_a_commit_without_receipt_in_time_fails_the_transaction(make_client, stomp_broker) -> None:
    with make_client() as client:
        tx = client.transaction(timeout=0.2).begin()
        tx.send("/queue/tx-late", b"1")
        stomp_broker.go_silent()
        with pytest.raises(ReceiptTimeout, match="COMMIT"):
            tx.commit()
        assert tx.state == "failed"
        stomp_broker.resume()


def test_a_commit_whose_connection_breaks_fails_with_transaction_error(
    make_client, stomp_broker
) -> None:
    with make_client() as client:
        tx = client.transaction().begin()
        tx.send("/queue/tx-cut", b"1")
        stomp_broker.go_silent()  # the COMMIT's receipt will not come...
        cut = threading.Timer(0.2, stomp_broker.drop_connections)  # ...the connection breaks
        cut.start()
        try:
            with pytest.raises(TransactionError) as info:
                tx.commit()
        finally:
            cut.join(10)
        assert "COMMIT" in str(info.value) or "lost with its connection" in str(info.value)
        assert tx.state == "failed"
        stomp_broker.resume()
