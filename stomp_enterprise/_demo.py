"""``stomp-enterprise demo``: failover, transactions and an error queue, narrated.

An embedded :class:`~stomp_enterprise.testing.Broker`, a producer and a consumer connected
through a failover URI. The producer commits orders in transactions; one order is poisoned and
its handler failure is routed to an error queue; halfway through, inside an open transaction,
the broker is restarted. The account printed shows what each side sees: the lost transaction
sent again, both clients reconnecting, the consumer's subscriptions replayed, unacked messages
redelivered. It ends with the counts and succeeds only if every order arrived.

Runs on the calling thread; every thread it starts is joined before it returns.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from stomp_enterprise.client import Client, ConnectedInfo, Message
from stomp_enterprise.errors import (
    AckError,
    NotConnected,
    StompConnectionError,
    StompTimeout,
    TransactionError,
)
from stomp_enterprise.testing import Broker

__all__ = ["ERRORS", "ORDERS", "DemoResult", "run_demo"]

ORDERS = "/queue/demo.orders"
ERRORS = "/queue/demo.errors"
FAILOVER_OPTIONS = "initialReconnectDelay=50&maxReconnectDelay=500&timeout=5000"
_BATCH = 10
_WORK = 0.001  # seconds of "work" per order in the consumer, so a backlog builds up
_DEADLINE = 15.0  # the whole demo, seconds


class PoisonedOrder(ValueError):
    """The demo's handler failure."""


@dataclass
class DemoResult:
    """The counts the demo reports (all totals over the run)."""

    sent: int = 0
    transactions: int = 0
    transactions_retried: int = 0
    deliveries: int = 0
    processed: set[int] = field(default_factory=set)
    redelivered: int = 0
    duplicates: int = 0
    stale_acks: int = 0
    errors_routed: set[int] = field(default_factory=set)
    reconnects: int = 0
    disconnected_seconds: float = 0.0
    ok: bool = False


class _Narrator:
    """Prints timestamped lines from any thread, one at a time."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def say(self, who: str, text: str) -> None:
        with self._lock:
            elapsed = time.monotonic() - self.started
            self.out.write(f"{elapsed:6.2f}s  {who:<9} {text}\n")
            self.out.flush()

    def line(self, text: str = "") -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()


class _Consumer:
    """The order handler and the error-queue handler (run on the consumer's dispatcher)."""

    def __init__(self, total: int, result: DemoResult, narrator: _Narrator) -> None:
        self.total = total
        self.result = result
        self.narrator = narrator
        self.lock = threading.Lock()
        self.all_in = threading.Event()

    def _check(self) -> None:
        if len(self.result.processed | self.result.errors_routed) >= self.total:
            self.all_in.set()

    def on_order(self, message: Message) -> None:
        number = int(message.headers["order"])
        with self.lock:
            self.result.deliveries += 1
            if message.redelivered:
                self.result.redelivered += 1
        if message.headers.get("poison") == "true":
            raise PoisonedOrder(f"order {number} cannot be parsed")
        time.sleep(_WORK)
        try:
            message.ack()
        except AckError:
            # delivered on the connection that died: the broker has put it back and will
            # redeliver it on the new connection, so it is not counted as processed here
            with self.lock:
                self.result.stale_acks += 1
            return
        with self.lock:
            if number in self.result.processed:
                self.result.duplicates += 1  # at-least-once: acked once already
            self.result.processed.add(number)
            self._check()

    def on_error_queue(self, message: Message) -> None:
        number = int(message.headers["order"])
        reason = message.headers.get("x-stomp-enterprise-error", "?")
        self.narrator.say("errors", f"{ERRORS} received order {number}: {reason!r}")
        with self.lock:
            self.result.errors_routed.add(number)
            self._check()

    def on_handler_error(self, message: Message, error: BaseException) -> None:
        self.narrator.say(
            "consumer",
            f"handler failed on order {message.headers.get('order')} "
            f"({type(error).__name__}: {error}) -> forwarding it to {ERRORS}, then acking",
        )


def _watch(client: Client, who: str, narrator: _Narrator) -> None:
    """Narrate a client's connection events."""
    down_before = [0.0]

    def connected(info: ConnectedInfo) -> None:
        if not info.reconnect:
            return  # the first connection is narrated by run_demo
        total = client.disconnected_seconds
        after = f" after {total - down_before[0]:.2f}s disconnected"
        down_before[0] = total
        subs = ", ".join(s.destination for s in client.subscriptions)
        replay = f"; subscriptions replayed: {subs}" if subs else ""
        narrator.say(who, f"reconnected to {info.broker}{after}{replay}")

    def disconnected(error: BaseException | None) -> None:
        if error is not None:
            narrator.say(who, f"connection lost ({error}); reconnecting")

    client.listeners.on("connected", connected)
    client.listeners.on("disconnected", disconnected)


def _connected(client: Client, who: str, narrator: _Narrator) -> None:
    send, expect = client.heart_beats
    narrator.say(
        who,
        f"connected to {client.broker} (STOMP {client.version}, heart-beats {send}/{expect} ms)",
    )


def _order_headers(number: int, poison: int | None) -> dict[str, str]:
    headers = {"order": str(number)}
    if number == poison:
        headers["poison"] = "true"
    return headers


def _produce(
    producer: Client,
    broker: Broker,
    total: int,
    poison: int | None,
    downtime: float,
    result: DemoResult,
    narrator: _Narrator,
) -> threading.Thread | None:
    """Send every order in transactions of ``_BATCH``; restart the broker inside the middle
    one. Returns the restart thread (to join)."""
    interrupt_at = (total // 2) // _BATCH * _BATCH
    chaos: threading.Thread | None = None
    first = 0
    while first < total:
        batch = range(first, min(first + _BATCH, total))
        try:
            with producer.transaction() as tx:
                for number in batch:
                    in_tx = number - first
                    if chaos is None and first == interrupt_at and in_tx == len(batch) // 2:
                        chaos = _restart_inside(producer, broker, downtime, first, in_tx, narrator)
                    tx.send(
                        ORDERS,
                        f'{{"order": {number}, "item": "widget", "qty": {number % 5 + 1}}}',
                        _order_headers(number, poison),
                        content_type="application/json",
                    )
        except (TransactionError, StompConnectionError, StompTimeout) as exc:
            result.transactions_retried += 1
            narrator.say(
                "producer",
                f"transaction for orders {batch.start}-{batch.stop - 1} failed "
                f"({type(exc).__name__}: {exc}); sending the whole batch again",
            )
            continue  # the next begin() waits (up to the URI's timeout) for the reconnect
        result.transactions += 1
        result.sent += len(batch)
        first = batch.stop
    return chaos


def _restart_inside(
    producer: Client,
    broker: Broker,
    downtime: float,
    committed: int,
    in_transaction: int,
    narrator: _Narrator,
) -> threading.Thread:
    narrator.say(
        "producer",
        f"{committed} orders committed, {in_transaction} more sent in an open transaction",
    )
    narrator.say("broker", f"restarting now: down for {downtime:g}s (stored messages survive)")
    chaos = threading.Thread(
        target=broker.restart, kwargs={"downtime": downtime}, name="demo-broker-restart"
    )
    chaos.start()
    deadline = time.monotonic() + 5.0
    while producer.is_connected and time.monotonic() < deadline:
        time.sleep(0.005)
    return chaos


def run_demo(out: TextIO, *, messages: int = 400, downtime: float = 1.0) -> bool:
    """Run the demo, narrating to ``out``; True when every message arrived."""
    narrator = _Narrator(out)
    result = DemoResult()
    poison = min(7, messages - 1) if messages > 1 else None
    narrator.line(
        "stomp-enterprise demo: a producer and a consumer on an embedded broker, "
        "through a failover URI"
    )
    narrator.line()
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(Broker(name="stomp-enterprise-demo"))
        narrator.say("broker", f"started on {broker.url} (in-process, messages in memory)")
        url = f"failover:({broker.url})?{FAILOVER_OPTIONS}"
        narrator.say("demo", f"both clients use {url}")
        consumer_state = _Consumer(messages, result, narrator)
        consumer = Client(url, heart_beats=(2000, 2000), timeouts={"receipt": 5.0})
        producer = Client(url, heart_beats=(2000, 2000), timeouts={"receipt": 5.0})
        _watch(consumer, "consumer", narrator)
        _watch(producer, "producer", narrator)
        consumer.listeners.on("handler_error", consumer_state.on_handler_error)
        consumer.connect()
        stack.callback(consumer.disconnect)
        _connected(consumer, "consumer", narrator)
        consumer.subscribe(
            ORDERS,
            consumer_state.on_order,
            ack="client-individual",
            error_destination=ERRORS,
            receipt=True,
        )
        consumer.subscribe(ERRORS, consumer_state.on_error_queue, receipt=True)
        narrator.say(
            "consumer",
            f"subscribed to {ORDERS} (ack=client-individual, failures -> {ERRORS}) and to {ERRORS}",
        )
        producer.connect()
        stack.callback(producer.disconnect)
        _connected(producer, "producer", narrator)
        poisoned = f"; order {poison} is poisoned" if poison is not None else ""
        narrator.say(
            "producer",
            f"sending {messages} orders in transactions of {_BATCH}{poisoned}",
        )
        try:
            chaos = _produce(producer, broker, messages, poison, downtime, result, narrator)
        except NotConnected as exc:
            narrator.say("producer", f"gave up: {exc}")
            chaos = None
        else:
            narrator.say(
                "producer",
                f"all {result.sent} orders committed in {result.transactions} transactions "
                f"({result.transactions_retried} sent again)",
            )
        if chaos is not None:
            chaos.join(_DEADLINE)
        remaining = _DEADLINE - (time.monotonic() - narrator.started)
        arrived = consumer_state.all_in.wait(max(0.0, remaining))
        narrator.say(
            "consumer",
            "every order accounted for"
            if arrived
            else f"gave up waiting: {len(result.processed | result.errors_routed)} of "
            f"{messages} orders",
        )
        result.reconnects = consumer.reconnects + producer.reconnects
        result.disconnected_seconds = max(
            consumer.disconnected_seconds, producer.disconnected_seconds
        )
        narrator.say("demo", "disconnecting both clients and stopping the broker")
        per_client = (
            f"producer {producer.reconnects}, consumer {consumer.reconnects}",
            f"producer {producer.disconnected_seconds:.2f}s, "
            f"consumer {consumer.disconnected_seconds:.2f}s",
        )
    missing = set(range(messages)) - result.processed - result.errors_routed
    result.ok = arrived and not missing and result.sent == messages
    _summary(narrator, result, messages, per_client, missing)
    return result.ok


def _summary(
    narrator: _Narrator,
    result: DemoResult,
    messages: int,
    per_client: tuple[str, str],
    missing: set[int],
) -> None:
    rows = [
        ("sent (committed)", f"{result.sent} of {messages}", f"{result.transactions} transactions"),
        ("transactions sent again", str(result.transactions_retried), "lost with the connection"),
        ("deliveries", str(result.deliveries), "handler calls, redeliveries included"),
        ("processed and acked", str(len(result.processed)), "unique orders"),
        ("redelivered", str(result.redelivered), "unacked when the broker went down"),
        ("acks refused", str(result.stale_acks), "delivered on the dead connection"),
        ("duplicates", str(result.duplicates), "acked twice (at-least-once)"),
        ("errors routed", str(len(result.errors_routed)), f"to {ERRORS}"),
        ("reconnects", str(result.reconnects), per_client[0]),
        ("time disconnected", f"{result.disconnected_seconds:.2f}s", per_client[1]),
    ]
    narrator.line()
    narrator.line("summary")
    for name, value, note in rows:
        narrator.line(f"  {name:<24}{value:>12}   {note}")
    narrator.line()
    if result.ok:
        narrator.line(
            f"OK: all {messages} orders arrived ({len(result.processed)} processed, "
            f"{len(result.errors_routed)} routed to {ERRORS})"
        )
    else:
        shown = ", ".join(str(n) for n in sorted(missing)[:20])
        narrator.line(f"FAILED: {len(missing)} order(s) missing: {shown}")
