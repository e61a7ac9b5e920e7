"""Threading, heart-beats, callbacks re-entering the client, listeners and error policies."""

from __future__ import annotations

import threading
import time

import pytest


def test_32_threads_send_1000_receipted_frames_each(make_client, stomp_broker) -> None:
    threads_count, per_thread = 32, 1000
    errors: list[BaseException] = []
    with make_client() as client:

        def produce(n: int) -> None:
            try:
                for i in range(per_thread):
                    client.send("/queue/load", f"{n}:{i}".encode(), {"n": str(n)}, receipt=True)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=produce, args=(n,)) for n in range(threads_count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
    sends = stomp_broker.received_frames("SEND")
    assert len(sends) == threads_count * per_thread
    # every frame arrived whole: body and headers consistent, per-thread order kept
    last: dict[str, int] = {}
    for frame in sends:
        n, i = frame.body.decode().split(":")
        assert frame.headers["n"] == n
        assert int(i) == last.get(n, -1) + 1
        last[n] = int(i)
    assert stomp_broker.queue_depth("/queue/load") == threads_count * per_thread


def test_listeners_never_run_on_the_reader_thread(make_client, stomp_broker, recorder) -> None:
    seen = recorder()
    client = make_client()
    for event in ("connected", "error", "disconnected"):
        client.listeners.on(event, lambda *a, e=event: seen((e, threading.current_thread().name)))
    with client:
        client.send("/queue/x", b"x", receipt=True)
        stomp_broker.send_error("test error", close=True)
        seen.wait(3)
    assert all(not name.startswith("stomp-reader") for _, name in seen.items)
    assert [e for e, _ in seen.items][:2] == ["connected", "error"]


def test_messages_of_one_read_keep_their_order_around_other_events(make_client, recorder) -> None:
    """The reader hands consecutive messages of one subscription to the dispatcher as one
    task: the order of everything in a read is kept, and a failing handler in the middle of
    such a batch does not cost the messages after it."""
    from stomp_enterprise.protocol.frames import Frame
    from stomp_enterprise.protocol.session import MessageReceived, ReceiptReceived

    order: list[str] = []
    done = recorder()
    with make_client() as client:

        def handler(message) -> None:
            order.append(f"{message.subscription.id}{message.body.decode()}")
            done(1)
            if message.body == b"2":
                raise RuntimeError("handler failure in the middle of a batch")

        a = client.subscribe("/queue/batch-a", handler, id="a", on_error="ignore")
        b = client.subscribe("/queue/batch-b", handler, id="b", on_error="ignore")
        client.listeners.on("receipt", lambda rid: (order.append(f"receipt {rid}"), done(1)))

        def message(sub: str, n: int) -> MessageReceived:
            frame = Frame("MESSAGE", {"subscription": sub, "message-id": f"{sub}{n}"}, b"%d" % n)
            return MessageReceived(frame, sub)

        receipt = ReceiptReceived(Frame("RECEIPT", {"receipt-id": "r-9"}), "r-9", None)
        events = [message("a", 1), message("a", 2), message("a", 3), receipt]
        events += [message("a", 4), message("b", 1), message("b", 2), message("a", 5)]
        client._connection._handle(events)
        done.wait(8, timeout=5)
        assert a.active
        assert b.active
    assert order[:8] == ["a1", "a2", "a3", "receipt r-9", "a4", "b1", "b2", "a5"]


@pytest.mark.parametrize(("ack", "handled"), [("client-individual", 2), ("auto", 4)])
def test_a_handler_unsubscribing_in_a_batch_decides_the_rest_of_it(
    make_client, recorder, ack: str, handled: int
) -> None:
    """The messages of one read after the one whose handler unsubscribed: with client acks
    they are no longer handled (they cannot be acked; the broker redelivers them), an
    auto-ack message read before the UNSUBSCRIBE still is (it is the broker's no more)."""
    from stomp_enterprise.protocol.frames import Frame
    from stomp_enterprise.protocol.session import MessageReceived

    seen: list[bytes] = []
    done = recorder()
    with make_client() as client:

        def handler(message) -> None:
            seen.append(message.body)
            if message.body == b"2":
                message.subscription.unsubscribe()
            done(1)

        client.subscribe("/queue/unsub-batch", handler, id="u", ack=ack)
        events = [
            MessageReceived(
                Frame(
                    "MESSAGE",
                    {"subscription": "u", "message-id": f"u{n}", "ack": f"u{n}"},
                    b"%d" % n,
                ),
                "u",
            )
            for n in range(1, 5)
        ]
        client._connection._handle(events)  # one read: one batch for the dispatcher
        done.wait(handled, timeout=5)
    # disconnect() drained the dispatcher: every message of the batch was decided
    assert seen == [b"%d" % n for n in range(1, handled + 1)]


def _burst_writers_and_wakeups(
    make_client, stomp_broker, monkeypatch, destination: str, watched: tuple[bytes, ...], act
) -> tuple[list[str], list[int]]:
    """Consume 200 published messages with a handler that calls ``act(client, message,
    number)`` (number counts from 1); returns the threads that wrote a batch holding a
    frame starting with one of ``watched``, and the transport's writer wake-ups before the
    first message and after the last. Observed through the transport's public test hooks
    (``write_observer``, ``writer_wakeups``), no patch of the stdlib."""
    from stomp_enterprise.testing import transport_of
    from stomp_enterprise.transport import socket as transport_module

    count = 200
    for n in range(count):
        stomp_broker.publish(destination, b"%d" % n)
    writers: list[str] = []

    def observe(batch: list[bytes]) -> None:
        if any(frame.startswith(watched) for frame in batch):
            writers.append(threading.current_thread().name)

    monkeypatch.setattr(transport_module, "DIRECT_WRITE_GAP", 3600.0)  # no lone direct write
    done = threading.Event()
    acked = [0]
    wakeups: list[int] = []
    with make_client() as client:
        transport = transport_of(client)
        assert transport is not None
        transport.write_observer = observe

        def handler(message) -> None:
            if acked[0] == 0:
                wakeups.append(transport.writer_wakeups)  # before the first frame
            acked[0] += 1
            act(client, message, acked[0])
            if acked[0] == count:
                wakeups.append(transport.writer_wakeups)  # after the last one
                done.set()

        client.subscribe(destination, handler, ack="client-individual")
        assert done.wait(10)
        stomp_broker.wait_for(lambda: stomp_broker.unacked() == 0, timeout=5)
    return writers, wakeups


def test_acks_of_a_burst_never_wake_the_writer(make_client, stomp_broker, monkeypatch) -> None:
    """Handlers' ACKs of one read wait for the batch and are written by the dispatcher
    thread itself: no writer wake-up per ACK or per batch."""
    writers, wakeups = _burst_writers_and_wakeups(
        make_client,
        stomp_broker,
        monkeypatch,
        "/queue/hold-burst",
        (b"ACK",),
        lambda client, message, number: message.ack(),
    )
    assert writers
    assert all(name.startswith("stomp-dispatch") for name in writers), writers
    assert wakeups[0] == wakeups[1]  # not one wake-up of the writer for 200 ACKs


def test_transactional_acks_of_a_burst_never_wake_the_writer(
    make_client, stomp_broker, monkeypatch
) -> None:
    """Handlers that ACK inside transactions (BEGIN in the handler, COMMIT every 50): the
    BEGINs and ACKs wait for the batch like plain ACKs, and each COMMIT (receipted) writes
    what waits on the dispatcher thread itself: no writer wake-up at all."""
    current: list = [None]

    def act(client, message, number: int) -> None:
        if current[0] is None:
            current[0] = client.transaction().begin()
        current[0].ack(message)
        if number % 50 == 0:
            current[0].commit()
            current[0] = None

    writers, wakeups = _burst_writers_and_wakeups(
        make_client, stomp_broker, monkeypatch, "/queue/hold-tx-burst", (b"ACK", b"BEGIN"), act
    )
    assert writers
    assert all(name.startswith("stomp-dispatch") for name in writers), writers
    assert wakeups[0] == wakeups[1]  # not one wake-up of the writer for 4 transactions


def test_a_send_built_before_a_concurrent_disconnect_is_refused(make_client, stomp_broker) -> None:
    """A SEND is built before the session lock is taken; if another thread's DISCONNECT
    moved the session meanwhile, the SEND is refused, never queued behind the DISCONNECT.
    The other thread really calls ``disconnect()`` (no test writes the session's state)."""
    from stomp_enterprise.errors import LocalProtocolError
    from stomp_enterprise.protocol.session import State

    with make_client() as client:
        connection = client._connection
        session = connection.session
        build = session.send
        other = threading.Thread(target=client.disconnect, name="test-disconnect")
        stomp_broker.delay_frames(1.0)  # the DISCONNECT's receipt keeps it in DISCONNECTING

        def build_then_disconnect(*args, **kwargs) -> bytes:
            data = build(*args, **kwargs)
            other.start()  # a DISCONNECT is queued by another thread just now
            deadline = time.monotonic() + 10
            while session.state is not State.DISCONNECTING and time.monotonic() < deadline:
                time.sleep(0.001)
            assert session.state is State.DISCONNECTING
            return data

        with pytest.raises(LocalProtocolError, match="SEND"):
            connection.post(build_then_disconnect, "/queue/raced", b"late")
        other.join(10)
    assert stomp_broker.received_frames("DISCONNECT")
    assert stomp_broker.received_frames("SEND") == []


@pytest.mark.parametrize("receipt", [True, False])
def test_a_transactions_sends_wait_for_its_commit_and_wake_no_writer(
    make_client, stomp_broker, monkeypatch, receipt: bool
) -> None:
    """A transaction's BEGIN and SENDs are queued lazily (the broker applies them at COMMIT
    only): no writer wake-up per SEND. A receipted COMMIT then writes the whole transaction
    on the calling thread in one batch; one without a receipt hands it to the writer once.
    Every message is committed, in order."""
    from stomp_enterprise.testing import transport_of
    from stomp_enterprise.transport import socket as transport_module

    monkeypatch.setattr(transport_module, "IDLE_WAIT", 600.0)  # no idle write meanwhile
    monkeypatch.setattr(transport_module, "DIRECT_WRITE_GAP", 3600.0)  # no lone direct write
    destination = f"/queue/tx-lazy-{receipt}"
    batches: list[tuple[str, list[bytes]]] = []
    with make_client() as client:
        transport = transport_of(client)
        assert transport is not None
        transport.write_observer = lambda batch: batches.append(
            (threading.current_thread().name, [frame.split(b"\n", 1)[0] for frame in batch])
        )
        wakeups = transport.writer_wakeups
        with client.transaction(receipt=receipt) as tx:
            for n in range(50):
                tx.send(destination, b"%d" % n)
            assert transport.writer_wakeups == wakeups  # nothing woken, nothing written
            assert batches == []
        stomp_broker.wait_for(lambda: stomp_broker.queue_depth(destination) == 50, timeout=5)
    assert [m.body for m in stomp_broker.sent_messages(destination)] == [
        b"%d" % n for n in range(50)
    ]
    thread, commands = batches[0]
    assert commands == [b"BEGIN"] + [b"SEND"] * 50 + [b"COMMIT"]  # one write
    if receipt:
        assert thread == "MainThread"
        assert transport.writer_wakeups == wakeups
    else:
        assert thread.startswith("stomp-writer")
        assert transport.writer_wakeups == wakeups + 1
