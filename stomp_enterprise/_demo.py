"""``stomp-enterprise demo``: failover, transactions and an error queue, narrated.

An embedded :class:`~stomp_enterprise.testing.Broker`, a producer and a consumer connected
through a failover URI. The producer commits orders in transactions; one order is poisoned and
its handler failure is routed to an error queue; halfway through, inside an open transaction,
the broker is restarted. The account printed shows what each side sees: the lost transaction
sent again, both clients reconnecting, the consumer's subscriptions replayed, unacked messages
redelivered. It ends with the counts and succeeds only if every order arrived.

``run_demo(..., client="asyncio")`` runs the same job, with the same counts and the same restart,
on :class:`stomp_enterprise.aio.Client` (handlers are coroutines, the transaction an
``async with``). The bookkeeping (:class:`_Tally`, :class:`_Plan`) is shared; only the I/O
differs.

Runs on the calling thread (the asyncio variant in a fresh event loop there); every thread
it starts is joined before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from stomp_enterprise.client import Client, ConnectedInfo, Message
from stomp_enterprise.errors import (
    AckError,
    NotConnected,
    StompConnectionError,
    StompTimeout,
    TransactionError,
)
from stomp_enterprise.testing import Broker

_AnyMessage = Any  # a threaded or an asyncio client's Message (the same views)

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


class _Tally:
    """The consumer's accounting, shared by both clients' handlers (any thread)."""

    def __init__(self, total: int, result: DemoResult, narrator: _Narrator) -> None:
        self.total = total
        self.result = result
        self.narrator = narrator
        self.lock = threading.Lock()
        self.all_in = threading.Event()

    def _check(self) -> None:
        if len(self.result.processed | self.result.errors_routed) >= self.total:
            self.all_in.set()

    def delivered(self, message: _AnyMessage) -> int:
        """Count a delivery; its order number. Raises PoisonedOrder for the poisoned one."""
        number = int(message.headers["order"])
        with self.lock:
            self.result.deliveries += 1
            if message.redelivered:
                self.result.redelivered += 1
        if message.headers.get("poison") == "true":
            raise PoisonedOrder(f"order {number} cannot be parsed")
        return number

    def stale_ack(self) -> None:
        """The ack was refused: delivered on the connection that died; the broker has put it
        back and will redeliver it on the new connection, so it is not processed here."""
        with self.lock:
            self.result.stale_acks += 1

    def processed(self, number: int) -> None:
        with self.lock:
            if number in self.result.processed:
                self.result.duplicates += 1  # at-least-once: acked once already
            self.result.processed.add(number)
            self._check()

    def error_routed(self, message: _AnyMessage) -> None:
        number = int(message.headers["order"])
        reason = message.headers.get("x-stomp-enterprise-error", "?")
        self.narrator.say("errors", f"{ERRORS} received order {number}: {reason!r}")
        with self.lock:
            self.result.errors_routed.add(number)
            self._check()

    def on_handler_error(self, message: _AnyMessage, error: BaseException) -> None:
        self.narrator.say(
            "consumer",
            f"handler failed on order {message.headers.get('order')} "
            f"({type(error).__name__}: {error}) -> forwarding it to {ERRORS}, then acking",
        )


class _Consumer(_Tally):
    """The threaded client's handlers (run on its dispatcher)."""

    def on_order(self, message: Message) -> None:
        number = self.delivered(message)
        time.sleep(_WORK)
        try:
            message.ack()
        except AckError:
            self.stale_ack()
            return
        self.processed(number)

    def on_error_queue(self, message: Message) -> None:
        self.error_routed(message)


class _AioConsumer(_Tally):
    """The asyncio client's handlers (coroutines, run in its handler tasks)."""

    async def on_order(self, message: Any) -> None:
        number = self.delivered(message)
        await asyncio.sleep(_WORK)
        try:
            await message.ack()
        except AckError:
            self.stale_ack()
            return
        self.processed(number)

    async def on_error_queue(self, message: Any) -> None:
        self.error_routed(message)


def _watch(client: Any, who: str, narrator: _Narrator) -> None:
    """Narrate a client's connection events (either client: the listeners are plain)."""
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


def _connected(client: Any, who: str, narrator: _Narrator) -> None:
    send, expect = client.heart_beats
    narrator.say(
        who,
        f"connected to {client.broker} (STOMP {client.version}, heart-beats {send}/{expect} ms)",
    )


_RETRIED = (TransactionError, StompConnectionError, StompTimeout)  # a batch sent again


class _Plan:
    """The producer's schedule, shared by both clients: every order in transactions of
    ``_BATCH``, the broker restarted inside the middle one, a failed transaction sent again
    whole (the next BEGIN waits, up to the URI's timeout, for the reconnect)."""

    def __init__(
        self, total: int, poison: int | None, result: DemoResult, narrator: _Narrator
    ) -> None:
        self.total = total
        self.poison = poison
        self.result = result
        self.narrator = narrator
        self.interrupt_at = (total // 2) // _BATCH * _BATCH
        self.first = 0
        self.restarted = False

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around the producer's loop: narrate its end (given up on NotConnected: a reconnect
        that did not come within the URI's timeout)."""
        try:
            yield
        except NotConnected as exc:
            self.narrator.say("producer", f"gave up: {exc}")
            return
        result = self.result
        self.narrator.say(
            "producer",
            f"all {result.sent} orders committed in {result.transactions} transactions "
            f"({result.transactions_retried} sent again)",
        )

    def batches(self) -> Iterator[range]:
        """The next batch to send, until every order is committed (a failed one again)."""
        while self.first < self.total:
            yield range(self.first, min(self.first + _BATCH, self.total))

    def order(self, number: int) -> tuple[str, dict[str, str]]:
        """The body and headers of order ``number``."""
        headers = {"order": str(number)}
        if number == self.poison:
            headers["poison"] = "true"
        return f'{{"order": {number}, "item": "widget", "qty": {number % 5 + 1}}}', headers

    def restart_before(self, batch: range, number: int) -> bool:
        """Whether to restart the broker before sending ``number`` (once, mid-transaction)."""
        in_transaction = number - batch.start
        if self.restarted or batch.start != self.interrupt_at:
            return False
        if in_transaction != len(batch) // 2:
            return False
        self.restarted = True
        self.narrator.say(
            "producer",
            f"{batch.start} orders committed, {in_transaction} more sent in an open transaction",
        )
        return True

    def failed(self, batch: range, exc: BaseException) -> None:
        self.result.transactions_retried += 1
        self.narrator.say(
            "producer",
            f"transaction for orders {batch.start}-{batch.stop - 1} failed "
            f"({type(exc).__name__}: {exc}); sending the whole batch again",
        )

    def committed(self, batch: range) -> None:
        self.result.transactions += 1
        self.result.sent += len(batch)
        self.first = batch.stop


def _produce(
    producer: Client, broker: Broker, plan: _Plan, downtime: float
) -> threading.Thread | None:
    """Send every order (threaded client); returns the restart thread (to join)."""
    chaos: threading.Thread | None = None
    with plan.running():
        for batch in plan.batches():
            try:
                with producer.transaction() as tx:
                    for number in batch:
                        if plan.restart_before(batch, number):
                            chaos = _restart_inside(producer, broker, downtime, plan.narrator)
                        body, headers = plan.order(number)
                        tx.send(ORDERS, body, headers, content_type="application/json")
            except _RETRIED as exc:
                plan.failed(batch, exc)
                continue
            plan.committed(batch)
    return chaos


def _restart_inside(
    producer: Client, broker: Broker, downtime: float, narrator: _Narrator
) -> threading.Thread:
    narrator.say("broker", f"restarting now: down for {downtime:g}s (stored messages survive)")
    chaos = threading.Thread(
        target=broker.restart, kwargs={"downtime": downtime}, name="demo-broker-restart"
    )
    chaos.start()
    deadline = time.monotonic() + 5.0
    while producer.is_connected and time.monotonic() < deadline:
        time.sleep(0.005)
    return chaos


async def _produce_aio(
    producer: Any, broker: Broker, plan: _Plan, downtime: float
) -> asyncio.Future[None] | None:
    """Send every order (asyncio client); returns the restart (to await)."""
    chaos: asyncio.Future[None] | None = None
    with plan.running():
        for batch in plan.batches():
            try:
                async with producer.transaction() as tx:
                    for number in batch:
                        if plan.restart_before(batch, number):
                            chaos = await _restart_inside_aio(
                                producer, broker, downtime, plan.narrator
                            )
                        body, headers = plan.order(number)
                        await tx.send(ORDERS, body, headers, content_type="application/json")
            except _RETRIED as exc:
                plan.failed(batch, exc)
                continue
            plan.committed(batch)
    return chaos


async def _restart_inside_aio(
    producer: Any, broker: Broker, downtime: float, narrator: _Narrator
) -> asyncio.Future[None]:
    narrator.say("broker", f"restarting now: down for {downtime:g}s (stored messages survive)")
    # the in-process broker's restart blocks: it runs in the loop's executor
    chaos = asyncio.ensure_future(asyncio.to_thread(broker.restart, downtime=downtime))
    deadline = time.monotonic() + 5.0
    while producer.is_connected and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    return chaos


def _opening(narrator: _Narrator, messages: int, client: str) -> int | None:
    """Print the demo's first lines; the poisoned order's number."""
    narrator.line(
        f"stomp-enterprise demo ({client} client): a producer and a consumer on an embedded "
        "broker, through a failover URI"
    )
    narrator.line()
    return min(7, messages - 1) if messages > 1 else None


def _subscribed(narrator: _Narrator) -> None:
    narrator.say(
        "consumer",
        f"subscribed to {ORDERS} (ack=client-individual, failures -> {ERRORS}) and to {ERRORS}",
    )


def _sending(narrator: _Narrator, messages: int, poison: int | None) -> None:
    poisoned = f"; order {poison} is poisoned" if poison is not None else ""
    narrator.say("producer", f"sending {messages} orders in transactions of {_BATCH}{poisoned}")


def _accounted(
    narrator: _Narrator,
    result: DemoResult,
    messages: int,
    arrived: bool,
    consumer: Any,
    producer: Any,
) -> tuple[str, str]:
    """Narrate the end of the wait, record the clients' reconnects; the per-client notes."""
    narrator.say(
        "consumer",
        "every order accounted for"
        if arrived
        else f"gave up waiting: {len(result.processed | result.errors_routed)} of "
        f"{messages} orders",
    )
    result.reconnects = consumer.reconnects + producer.reconnects
    result.disconnected_seconds = max(consumer.disconnected_seconds, producer.disconnected_seconds)
    narrator.say("demo", "disconnecting both clients and stopping the broker")
    return (
        f"producer {producer.reconnects}, consumer {consumer.reconnects}",
        f"producer {producer.disconnected_seconds:.2f}s, "
        f"consumer {consumer.disconnected_seconds:.2f}s",
    )


def _remaining(narrator: _Narrator) -> float:
    return max(0.0, _DEADLINE - (time.monotonic() - narrator.started))


def _finish(
    narrator: _Narrator,
    result: DemoResult,
    messages: int,
    arrived: bool,
    per_client: tuple[str, str],
) -> bool:
    missing = set(range(messages)) - result.processed - result.errors_routed
    result.ok = arrived and not missing and result.sent == messages
    _summary(narrator, result, messages, per_client, missing)
    return result.ok


def run_demo(
    out: TextIO, *, messages: int = 400, downtime: float = 1.0, client: str = "threaded"
) -> bool:
    """Run the demo, narrating to ``out``; True when every message arrived.

    With ``client="asyncio"`` the same job runs on :class:`stomp_enterprise.aio.Client`, in a
    fresh event loop on the calling thread. Call it from any thread that runs no event loop.
    """
    if client == "asyncio":
        return asyncio.run(_run_aio(out, messages, downtime))
    if client != "threaded":
        raise ValueError(f"client must be 'threaded' or 'asyncio', not {client!r}")
    narrator = _Narrator(out)
    result = DemoResult()
    poison = _opening(narrator, messages, "threaded")
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
        _subscribed(narrator)
        producer.connect()
        stack.callback(producer.disconnect)
        _connected(producer, "producer", narrator)
        _sending(narrator, messages, poison)
        plan = _Plan(messages, poison, result, narrator)
        chaos = _produce(producer, broker, plan, downtime)
        if chaos is not None:
            chaos.join(_DEADLINE)
        arrived = consumer_state.all_in.wait(_remaining(narrator))
        per_client = _accounted(narrator, result, messages, arrived, consumer, producer)
    return _finish(narrator, result, messages, arrived, per_client)


async def _run_aio(out: TextIO, messages: int, downtime: float) -> bool:
    """The demo on the asyncio client (see :func:`run_demo`)."""
    from stomp_enterprise import aio

    narrator = _Narrator(out)
    result = DemoResult()
    poison = _opening(narrator, messages, "asyncio")
    async with contextlib.AsyncExitStack() as stack:
        broker = stack.enter_context(Broker(name="stomp-enterprise-demo"))
        narrator.say("broker", f"started on {broker.url} (in-process, messages in memory)")
        url = f"failover:({broker.url})?{FAILOVER_OPTIONS}"
        narrator.say("demo", f"both clients use {url}")
        consumer_state = _AioConsumer(messages, result, narrator)
        consumer = aio.Client(url, heart_beats=(2000, 2000), timeouts={"receipt": 5.0})
        producer = aio.Client(url, heart_beats=(2000, 2000), timeouts={"receipt": 5.0})
        _watch(consumer, "consumer", narrator)
        _watch(producer, "producer", narrator)
        consumer.listeners.on("handler_error", consumer_state.on_handler_error)
        await consumer.connect()
        stack.push_async_callback(consumer.disconnect)
        _connected(consumer, "consumer", narrator)
        await consumer.subscribe(
            ORDERS,
            consumer_state.on_order,
            ack="client-individual",
            error_destination=ERRORS,
        )
        await consumer.subscribe(ERRORS, consumer_state.on_error_queue)
        _subscribed(narrator)
        await producer.connect()
        stack.push_async_callback(producer.disconnect)
        _connected(producer, "producer", narrator)
        _sending(narrator, messages, poison)
        plan = _Plan(messages, poison, result, narrator)
        chaos = await _produce_aio(producer, broker, plan, downtime)
        if chaos is not None:
            await asyncio.wait_for(chaos, _DEADLINE)
        arrived = await _wait_event(consumer_state.all_in, _remaining(narrator))
        per_client = _accounted(narrator, result, messages, arrived, consumer, producer)
    return _finish(narrator, result, messages, arrived, per_client)


async def _wait_event(event: threading.Event, timeout: float) -> bool:
    """Wait for a threading event without blocking the loop (polls every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return event.is_set()


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
