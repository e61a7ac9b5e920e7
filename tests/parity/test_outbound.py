"""Issue 13 items 1-3 against the in-process broker: nothing accepted from the application is
lost on a connection loss. Frames still queued are written on the next connection (failover)
or reported (plain URI, gave up, closed); with ``trackMessages=true`` every SEND written
since the broker's last confirmation is written again; receipted sends survive a drop;
transactions fail clearly and are never replayed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from stomp_enterprise import (
    Client,
    ConnectionLost,
    Message,
    NotConnected,
    ReceiptTimeout,
    Transaction,
    TransactionError,
)
from stomp_enterprise.testing import Broker

FAST = "initialReconnectDelay=20&maxReconnectDelay=200"
BODY = 32 * 1024
QUEUE_BOUND = 4 * 1024 * 1024  # the outbound queue's bound (transport.socket.MAX_BUFFER)
# Frames surely still queued when the connection drops: more than QUEUE_BOUND bytes were
# queued behind a full socket; the kernel may still squeeze some into the silent peer's
# buffers before the drop (those are written, and lost without tracking), never half.
STILL_QUEUED = QUEUE_BOUND // 2 // (BODY + 64)


WAIT = {"receipt": 5.0, "disconnect": 2.0, "send": 10.0}  # senders wait for a reconnect


def failover(broker: Broker, options: str = "") -> str:
    return f"failover:(tcp://127.0.0.1:{broker.port})?{FAST}{options}"


def body(number: int, size: int = BODY) -> bytes:
    return b"%08d" % number + b"x" * (size - 8)


def number_of(data: bytes) -> int:
    return int(data[:8])


class Sender:
    """Sends numbered bodies on a thread (at most ``limit``)."""

    def __init__(self, client: Client, destination: str, *, limit: int, size: int = BODY) -> None:
        self.client = client
        self.destination = destination
        self.limit = limit
        self.size = size
        self.returned = 0
        self.errors: list[BaseException] = []
        self.others: list[Sender] = []  # joined with this one
        self.thread = threading.Thread(target=self._run, name="test-sender")
        self.thread.start()

    def _run(self) -> None:
        try:
            for number in range(self.limit):
                self.client.send(self.destination, body(number, self.size))
                self.returned = number + 1
        except BaseException as exc:
            self.errors.append(exc)

    def join(self, *, errors: bool = False) -> None:
        for sender in (self, *self.others):
            sender.thread.join(60)
            assert not sender.thread.is_alive()
            if not errors:
                assert sender.errors == []


def pile_up(
    broker: Broker,
    client: Client,
    destination: str,
    until: Callable[[Client], bool] = lambda client: client.pending_bytes > QUEUE_BOUND,
) -> Sender:
    """A silent broker reads nothing: send until frames pile up in the client (by default
    over the queue's bound: the socket is full and the senders wait). Two threads send (the
    second to ``/queue/filler``): a lone sender may be the one writing its frame itself,
    blocked on the full socket, with nothing queued behind it."""
    broker.go_silent()
    sender = Sender(client, destination, limit=(16 * QUEUE_BOUND) // BODY)
    sender.others.append(Sender(client, "/queue/filler", limit=(16 * QUEUE_BOUND) // BODY))
    try:
        broker.wait_for(lambda: until(client), timeout=30)
    except TimeoutError:
        raise AssertionError(
            f"no pile-up: {client.pending_bytes} bytes pending, {sender.returned} sent, "
            f"errors {sender.errors} {sender.others[0].errors}"
        ) from None
    return sender


def sends_on(broker: Broker, connection: int, destination: str) -> list[int]:
    return [
        number_of(r.frame.body)
        for r in broker.received
        if r.connection == connection
        and r.command == "SEND"
        and r.frame.headers.get("destination") == destination
    ]


def test_queued_frames_are_written_after_reconnect_in_order_after_the_replay(
    stomp_broker: Broker, make_client: Callable[..., Client]
) -> None:
    client = make_client(failover(stomp_broker), timeouts=WAIT)
    client.connect()
    client.subscribe("/queue/other", id="replayed")
    sender = pile_up(stomp_broker, client, "/queue/pile")
    stomp_broker.drop_connections()
    stomp_broker.resume()
    sender.join()  # its later sends wait for the reconnect and go out on it
    client.send("/queue/pile", body(999_999), receipt=True)  # everything before is in

    first = sends_on(stomp_broker, 1, "/queue/pile")
    second = sends_on(stomp_broker, 2, "/queue/pile")
    total = sender.returned
    # the second connection: the replayed SUBSCRIBE first, then the carried sends
    commands = [r.command for r in stomp_broker.received if r.connection == 2]
    assert commands[:2] == ["CONNECT", "SUBSCRIBE"]
    assert second[-1] == 999_999
    # everything still queued at the loss (over the queue's bound: more than 4 MiB) arrives,
    # in order, followed by the sends made later: a run that ends with the last send;
    # frames already written to the socket before the loss may be lost (no tracking)
    assert second[:-1] == list(range(total - len(second) + 1, total))
    assert client.resent >= STILL_QUEUED
    assert first == list(range(len(first)))
    assert client.undelivered == 0


def test_tracked_sends_all_arrive_at_least_once_across_a_drop(
    stomp_broker: Broker, make_client: Callable[..., Client]
) -> None:
    client = make_client(failover(stomp_broker, "&trackMessages=true"), timeouts=WAIT)
    client.connect()
    sender = pile_up(
        stomp_broker,
        client,
        "/queue/tracked",
        until=lambda client: client.unconfirmed_bytes > 0 and client.pending_bytes > 0,
    )
    stomp_broker.drop_connections()
    stomp_broker.resume()
    sender.join()
    client.send("/queue/tracked", body(999_999), receipt=True)

    arrived = [number_of(m.body) for m in stomp_broker.sent_messages("/queue/tracked")]
    total = sender.returned
    assert set(range(total)) <= set(arrived)  # every send() that returned: at least once
    duplicates = len(arrived) - 1 - total
    assert client.resent > 0
    assert 0 <= duplicates <= client.resent
    markers = [
        f.headers["receipt"]
        for f in stomp_broker.received_frames("SEND")
        if f.headers.get("receipt", "").startswith("trk-")
    ]
    assert markers  # the client asked the broker to confirm now and then


def test_tracking_cache_stays_bounded_and_a_full_cache_makes_the_sender_wait(
    stomp_broker: Broker, make_client: Callable[..., Client]
) -> None:
    cache = 32 * 1024
    client = make_client(
        failover(stomp_broker, f"&trackMessages=true&maxCacheSize={cache}"), timeouts=WAIT
    )
    client.connect()
    stomp_broker.delay_frames(60)  # the broker reads, but its RECEIPTs are held back
    sender = Sender(client, "/queue/bounded", limit=40, size=4096)
    stomp_broker.wait_for(lambda: len(stomp_broker.received_frames("SEND")) >= 6)
    assert 0 < client.unconfirmed_bytes <= cache
    assert sender.thread.is_alive()  # waits for a confirmation: never evicts
    assert sender.returned < 40
    stomp_broker.delay_frames(0)
    sender.join()
    client.send("/queue/bounded", body(999_999, 4096), receipt=True)
    assert client.unconfirmed_bytes <= cache
    arrived = [number_of(m.body) for m in stomp_broker.sent_messages("/queue/bounded")]
    assert arrived == [*range(40), 999_999]  # no loss, no duplicate without a drop


def test_plain_uri_reports_queued_frames_as_undelivered(
    stomp_broker: Broker, make_client: Callable[..., Client], recorder: Any
) -> None:
    undelivered = recorder()
    client = make_client()
    client.listeners.on("undelivered", undelivered)
    client.connect()
    sender = pile_up(stomp_broker, client, "/queue/plain")
    stomp_broker.drop_connections()
    stomp_broker.resume()
    sender.join(errors=True)  # a plain URI: the sender learns of the loss
    assert len(sender.errors) == 1
    assert isinstance(sender.errors[0], ConnectionLost | NotConnected)
    [(count, error)] = undelivered.wait(1)
    assert count >= STILL_QUEUED  # everything still queued, never written
    assert isinstance(error, ConnectionLost)
    assert client.undelivered == count
    assert client.resent == 0


def test_frames_pending_at_close_are_delivered_or_reported(
    stomp_broker: Broker, make_client: Callable[..., Client], recorder: Any, caplog: Any
) -> None:
    """Closing with sends queued behind a silent broker: the bounded flush writes what it
    can; the rest is reported. Every send() that returned is either stored by the broker
    (once it reads again) or counted as undelivered - never both, never neither."""
    undelivered = recorder()
    client = make_client(timeouts={"disconnect": 0.2, "write": 3.0})
    client.listeners.on("undelivered", undelivered)
    client.connect()
    sender = pile_up(stomp_broker, client, "/queue/closing")
    with caplog.at_level(logging.WARNING, logger="stomp_enterprise"):
        client.disconnect()
    sender.join(errors=True)
    returned = sender.returned + sender.others[0].returned
    stomp_broker.resume()
    stomp_broker.wait_for(
        lambda: len(stomp_broker.sent_messages()) + client.undelivered >= returned,
        timeout=20,
    )
    stored = [number_of(m.body) for m in stomp_broker.sent_messages("/queue/closing")]
    assert stored == list(range(len(stored)))
    assert len(stomp_broker.sent_messages()) + client.undelivered == returned
    if client.undelivered:
        assert undelivered.wait(1) == [(client.undelivered, undelivered.items[0][1])]
        assert f"{client.undelivered} send(s) not delivered" in caplog.text


def test_reconnect_giving_up_reports_the_carried_frames(
    stomp_broker: Broker, make_client: Callable[..., Client], recorder: Any
) -> None:
    undelivered, failed = recorder(), recorder()
    client = make_client(failover(stomp_broker, "&maxReconnectAttempts=1"))
    client.listeners.on("undelivered", undelivered)
    client.listeners.on("reconnect_failed", failed)
    client.connect()
    sender = pile_up(stomp_broker, client, "/queue/gaveup")
    stomp_broker.refuse_connects()
    stomp_broker.drop_connections()
    failed.wait(1)
    sender.join(errors=True)
    [(count, _error)] = undelivered.wait(1)
    assert count >= STILL_QUEUED
    assert client.undelivered == count
    stomp_broker.refuse_connects(False)
    stomp_broker.resume()


def test_receipted_sends_racing_drops_succeed_or_time_out(
    stomp_broker: Broker, make_client: Callable[..., Client]
) -> None:
    """Issue 13 item 2: on a failover URI a receipted send sees success or a timeout, never
    ConnectionLost, however its connection's loss falls."""
    client = make_client(failover(stomp_broker), timeouts=WAIT)
    client.connect()
    outcomes: list[str] = []
    lock = threading.Lock()

    def send_many(worker: int) -> None:
        for number in range(40):
            try:
                client.send(f"/queue/race{worker}", body(number, 64), receipt=True, timeout=10)
                outcome = "ok"
            except ReceiptTimeout:
                outcome = "timeout"
            except Exception as exc:
                outcome = repr(exc)
            with lock:
                outcomes.append(outcome)

    stomp_broker.delay_frames(0.05)  # receipts in flight when the connection drops
    threads = [threading.Thread(target=send_many, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for drop in range(1, 3):
        stomp_broker.wait_for(lambda drop=drop: len(outcomes) >= drop * 30)
        stomp_broker.drop_connections()
    for thread in threads:
        thread.join(60)
    stomp_broker.delay_frames(0)
    assert [o for o in outcomes if o not in ("ok", "timeout")] == []
    assert len(outcomes) == 120
    for worker in range(3):  # each send that succeeded arrived (duplicates possible)
        arrived = {number_of(m.body) for m in stomp_broker.sent_messages(f"/queue/race{worker}")}
        assert arrived == set(range(40))


def test_a_blocking_receipted_send_waits_through_the_reconnect(
    stomp_broker: Broker, make_client: Callable[..., Client]
) -> None:
    client = make_client(failover(stomp_broker), timeouts=WAIT)
    client.connect()
    stomp_broker.delay_frames(60)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            client.send("/queue/blocking", b"once", receipt=True, timeout=20)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    stomp_broker.wait_for(lambda: stomp_broker.received_frames("SEND"))
    stomp_broker.drop_connections()
    stomp_broker.delay_frames(0)
    thread.join(20)
    assert errors == []
    assert [m.body for m in stomp_broker.sent_messages("/queue/blocking")] == [b"once", b"once"]
    receipts = {f.headers["receipt"] for f in stomp_broker.received_frames("SEND")}
    assert len(receipts) == 1  # the same receipt id on both connections


def test_receipt_ids_stay_unique_across_connections(
    stomp_broker: Broker, make_client: Callable[..., Client]
) -> None:
    client = make_client(failover(stomp_broker), timeouts=WAIT)
    client.connect()
    client.send("/queue/ids", b"1", receipt=True)
    stomp_broker.drop_connections()
    stomp_broker.wait_for(lambda: client.is_connected)
    client.send("/queue/ids", b"2", receipt=True)
    ids = [f.headers["receipt"] for f in stomp_broker.received_frames("SEND")]
    assert len(set(ids)) == 2


def open_transaction(client: Client) -> tuple[Client, Message, Transaction]:
    """Connect ``client``, receive a client-individual message from ``/queue/tx-in`` and
    begin a transaction that already sent ``before`` to ``/queue/tx-out``."""
    client.connect()
    sub = client.subscribe("/queue/tx-in", ack="client-individual")
    client.send("/queue/tx-in", b"in", receipt=True)
    message = sub.get(timeout=5)
    tx = client.transaction().begin()
    tx.send("/queue/tx-out", b"before")
    # BEGIN's RECEIPT is checked only at COMMIT/ABORT: a receipted frame after it shows that
    # BEGIN and "before" have reached the broker
    client.send("/queue/tx-sync", b"x", receipt=True)
    return client, message, tx


def test_transaction_open_across_a_drop_fails_clearly_and_nothing_is_replayed(
    stomp_broker: Broker, make_client: Callable[..., Client], caplog: Any
) -> None:
    client, message, tx = open_transaction(make_client(failover(stomp_broker), timeouts=WAIT))
    stomp_broker.go_silent()
    for number in range(60):  # queued in the client when the connection drops
        tx.send("/queue/tx-out", body(number))
    stomp_broker.drop_connections()
    stomp_broker.resume()
    stomp_broker.wait_for(lambda: client.is_connected and client.reconnects == 1)
    with pytest.raises(TransactionError, match="lost with its connection"):
        tx.send("/queue/tx-out", b"after")
    with pytest.raises(TransactionError, match="lost with its connection"):
        tx.ack(message)
    with pytest.raises(TransactionError, match="lost with its connection"):
        tx.commit()
    with caplog.at_level(logging.INFO, logger="stomp_enterprise"):
        tx.abort()  # a no-op that logs: the broker dropped it with the connection
    assert "nothing to do" in caplog.text
    assert tx.state == "failed"
    client.send("/queue/tx-out", b"plain", receipt=True)
    assert [m.body for m in stomp_broker.sent_messages("/queue/tx-out")] == [b"plain"]
    replayed = [
        r.frame
        for r in stomp_broker.received
        if r.connection == 2 and "transaction" in r.frame.headers
    ]
    assert replayed == []
    assert client.resent == 0


def test_a_receipted_send_outliving_its_timeout_while_reconnecting_times_out(
    stomp_broker: Broker, make_client: Callable[..., Client]
) -> None:
    """The connection is lost before the RECEIPT and no reconnect succeeds within the
    caller's timeout: ``ReceiptTimeout`` (not ``ConnectionLost``), and the frame is still
    written on the next connection (it may have arrived: a timeout never says it did not)."""
    client = make_client(failover(stomp_broker), timeouts=WAIT)
    client.connect()
    stomp_broker.delay_frames(60)
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            client.send("/queue/outlived", b"x", receipt=True, timeout=1.0)
        except BaseException as exc:  # the test reports it
            outcome.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    stomp_broker.wait_for(lambda: stomp_broker.received_frames("SEND"))
    stomp_broker.refuse_connects()
    stomp_broker.drop_connections()
    thread.join(10)
    assert [type(exc) for exc in outcome] == [ReceiptTimeout]
    stomp_broker.delay_frames(0)
    stomp_broker.refuse_connects(False)
    client.send("/queue/outlived", b"y", receipt=True)
    assert [m.body for m in stomp_broker.sent_messages("/queue/outlived")] == [b"x", b"x", b"y"]
    assert client.resent == 1
