"""The threaded client's receipt wait (issue 14): the one-lock ``ReceiptWaiter`` of a thread
that waits for its own RECEIPT, and leader/followers reading (after the reader thread read
such a RECEIPT it stands aside, and the next waiting thread reads its RECEIPT itself).
Every ordering and failure guarantee of the reader holds whichever thread reads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from stomp_enterprise import BrokerError, Client, ConnectionLost, HeartbeatTimeout
from stomp_enterprise.client.connection import Connection, ReceiptFuture, ReceiptWaiter
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.testing import Broker


def _connection(client: Client) -> Connection:
    connection = client._connection
    assert connection is not None
    return connection


def _count_stand_aside(connection: Connection) -> list[float]:
    """Record each time the reader stands aside from now on, with the wait it starts with."""
    waits: list[float] = []
    stand_aside = connection._stand_aside

    def counted(liveness) -> bool:
        waits.append(connection._aside_for)
        return stand_aside(liveness)

    connection._stand_aside = counted  # type: ignore[method-assign]
    return waits


# ------------------------------------------------------------ ReceiptWaiter


def test_receipt_waiter_returns_the_frame_and_keeps_it() -> None:
    waiter = ReceiptWaiter()
    assert not waiter.done()
    frame = Frame("RECEIPT", [("receipt-id", "r-1")])
    waiter.set_result(frame)
    assert waiter.done()
    assert waiter.result(0) is frame
    assert waiter.result(0) is frame  # settled for good


def test_receipt_waiter_raises_its_error_and_the_first_outcome_wins() -> None:
    waiter = ReceiptWaiter()
    error = ConnectionLost("gone")
    waiter.set_exception(error)
    waiter.set_result(Frame("RECEIPT", [("receipt-id", "r-1")]))  # too late: ignored
    waiter.set_exception(ConnectionLost("again"))  # ignored too
    with pytest.raises(ConnectionLost) as caught:
        waiter.result(1.0)
    assert caught.value is error


def test_receipt_waiter_times_out_then_still_takes_its_outcome() -> None:
    waiter = ReceiptWaiter()
    with pytest.raises(FutureTimeout):
        waiter.result(0.01)
    with pytest.raises(FutureTimeout):
        waiter.result(-1.0)  # a deadline already passed: no wait, no ValueError
    frame = Frame("RECEIPT", [("receipt-id", "r-2")])
    threading.Thread(target=waiter.set_result, args=(frame,)).start()
    assert waiter.result(5.0) is frame


# ------------------------------------------------------------ who reads


def test_a_waiting_thread_reads_its_own_receipts(make_client, stomp_broker: Broker) -> None:
    """After the reader read one receipted send's RECEIPT it stands aside; the sending
    thread then reads the next RECEIPTs itself. Nothing is lost or reordered."""
    with make_client() as client:
        connection = _connection(client)
        for index in range(50):
            client.send("/queue/rcpt-own", str(index).encode(), receipt=True)
        assert connection._led > 0
        bodies = [m.body for m in stomp_broker.sent_messages("/queue/rcpt-own")]
        assert bodies == [str(i).encode() for i in range(50)]
        assert client.pending_receipts == 0


def test_send_async_futures_are_futures_and_the_reader_keeps_reading(make_client) -> None:
    """Only a thread that waits at once gets a ReceiptWaiter; ``send_async`` returns a
    ``concurrent.futures.Future`` resolved by the reader, which never stands aside for it."""
    with make_client() as client:
        futures = [client.send_async("/queue/rcpt-async", b"x") for _ in range(20)]
        assert all(type(f) is ReceiptFuture for f in futures)
        for future in futures:
            assert future.result(5.0).command == "RECEIPT"
        assert not _connection(client)._aside


def test_messages_go_to_the_dispatcher_in_order_while_a_waiter_reads(make_client, recorder) -> None:
    """MESSAGEs read by a thread waiting for its RECEIPT still go to the dispatcher (the
    waiting thread never runs a handler), in the order the broker sent them."""
    got = recorder()
    threads: set[str] = set()

    def handler(message) -> None:
        threads.add(threading.current_thread().name)
        got(message.body)

    with make_client() as client:
        client.subscribe("/queue/rcpt-mixed", handler, receipt=True)
        for index in range(100):
            client.send("/queue/rcpt-mixed", str(index).encode(), receipt=True)
        assert got.wait(100) == [str(i).encode() for i in range(100)]
        assert threads
        assert all(name.startswith("stomp-dispatch") for name in threads)
        assert threading.current_thread().name not in threads


def test_a_frame_arriving_while_the_reader_stands_aside_is_read(
    make_client, stomp_broker: Broker, recorder
) -> None:
    """Nobody waits for a RECEIPT after the last receipted send: the reader stops standing
    aside on its own and reads what the broker sends meanwhile."""
    got = recorder()
    with make_client() as client:
        client.subscribe("/queue/rcpt-aside", got, receipt=True)
        client.send("/queue/rcpt-other", b"x", receipt=True)
        stomp_broker.publish("/queue/rcpt-aside", b"late")
        assert [m.body for m in got.wait(1, timeout=5.0)] == [b"late"]


def test_the_reader_does_not_poll_while_a_thread_waits_long_for_its_receipt(
    make_client, stomp_broker: Broker
) -> None:
    """A slow RECEIPT (a COMMIT a broker writes to disk first: ActiveMQ takes ~50 ms) read
    by the waiting thread itself: the reader standing aside waits for that thread to hand
    back instead of waking every few milliseconds to look."""
    with make_client(heart_beats=(0, 0)) as client:
        connection = _connection(client)
        client.send("/queue/rcpt-slow", b"0", receipt=True)
        client.send("/queue/rcpt-slow", b"1", receipt=True)  # this thread leads now
        waits = _count_stand_aside(connection)
        stomp_broker.delay_frames(0.4)
        led = connection._led
        client.send("/queue/rcpt-slow", b"2", receipt=True)
        assert connection._led == led + 1  # this thread read its RECEIPT itself
        assert len(waits) <= 5  # polling every 2 ms would be ~200
        stomp_broker.delay_frames(0)
        assert len(stomp_broker.sent_messages("/queue/rcpt-slow")) == 3


def test_the_reader_looks_less_often_while_threads_keep_reading_receipts(
    make_client, stomp_broker: Broker, recorder
) -> None:
    """Receipted calls back to back (a producer's transactions): the reader standing aside
    doubles its wait up to 16 ms instead of waking every 2 ms, and still reads a frame
    nobody asked for once they stop."""
    got = recorder()
    with make_client(heart_beats=(0, 0)) as client:
        connection = _connection(client)
        client.subscribe("/queue/rcpt-idle", got, receipt=True)
        waits = _count_stand_aside(connection)
        ended = time.monotonic() + 0.3
        sent = 0
        while time.monotonic() < ended and sent < 100_000:  # bounded
            client.send("/queue/rcpt-busy", b"x", receipt=True)
            sent += 1
        assert sent > 20
        assert max(waits) == pytest.approx(0.016)
        assert len(waits) < 60  # a 2 ms poll would be ~150
        stomp_broker.publish("/queue/rcpt-idle", b"after")
        assert [m.body for m in got.wait(1, timeout=5.0)] == [b"after"]


def test_threads_waiting_at_once_all_get_their_receipts(make_client, stomp_broker) -> None:
    """Several threads waiting for receipts at once: one reads (the reader or one of them),
    the others follow; every send is confirmed, none waits for its timeout."""
    errors: list[BaseException] = []
    with make_client() as client:

        def sender(number: int) -> None:
            try:
                for index in range(40):
                    client.send("/queue/rcpt-many", f"{number}-{index}".encode(), receipt=True)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert time.monotonic() - started < 5.0  # the receipt timeout: nobody waited for it
        assert len(stomp_broker.sent_messages("/queue/rcpt-many")) == 240
        assert client.pending_receipts == 0


# ------------------------------------------------------------ failures while a waiter reads


def test_the_loss_is_reported_to_a_waiter_that_reads(make_client, stomp_broker: Broker) -> None:
    """The broker drops the connection while a thread reads for its RECEIPT: it raises
    ConnectionLost at once (not ReceiptTimeout), and the reader thread ends."""
    with make_client(timeouts={"receipt": 10.0, "disconnect": 1.0}) as client:
        connection = _connection(client)
        client.send("/queue/rcpt-loss", b"1", receipt=True)  # the reader stands aside
        stomp_broker.go_silent()
        threading.Timer(0.3, stomp_broker.drop_connections).start()
        started = time.monotonic()
        with pytest.raises(ConnectionLost):
            client.send("/queue/rcpt-loss", b"2", receipt=True)
        assert time.monotonic() - started < 5.0
        stomp_broker.resume()
        reader = connection._reader
        assert reader is not None
        reader.join(5.0)
        assert not reader.is_alive()
        assert not connection.alive


def test_a_broker_error_naming_the_receipt_reaches_the_waiter(
    make_client, stomp_broker: Broker
) -> None:
    """An ERROR for the frame a thread waits for fails its wait with BrokerError, whichever
    thread reads it (the second ACK of a message: an id the broker no longer knows)."""
    with make_client() as client:
        sub = client.subscribe("/queue/rcpt-error", ack="client-individual")
        client.send("/queue/rcpt-error", b"x")
        message = sub.get(timeout=5)
        stomp_broker.purge()
        message.ack(receipt=True)  # valid; the reader stands aside after its RECEIPT
        led = _connection(client)._led
        with pytest.raises(BrokerError) as info:
            message.ack(receipt=True)
        assert info.value.frame is not None
        assert _connection(client)._led > led  # this thread read the ERROR itself


def test_a_silent_broker_is_detected_while_the_reader_stands_aside(
    make_client, stomp_broker: Broker, recorder
) -> None:
    """Heart-beats are still checked (and sent) while the reader stands aside."""
    timeouts = recorder()
    client = make_client(heart_beats=(200, 200), timeouts={"receipt": 5.0, "disconnect": 0.5})
    client.listeners.on("heartbeat_timeout", timeouts)
    with client:
        for _ in range(5):
            client.send("/queue/rcpt-hb", b"x", receipt=True)
        stomp_broker.go_silent()
        try:
            assert isinstance(timeouts.wait(1, timeout=5.0)[0], HeartbeatTimeout)
            assert not client.is_connected
        finally:
            stomp_broker.resume()
