"""Message options, durable subscriptions, selectors, prefetch and typed payloads on every
real broker (docs/patterns.md has the per-broker mapping these scenarios check)."""

from __future__ import annotations

import contextlib
import queue
import time
import uuid
from datetime import datetime, timedelta, timezone

import pydantic
import pytest

from integration.conftest import ClientFactory
from integration.helpers import drain, expect_nothing
from integration.report import REFUSED
from integration.settings import Broker
from stomp_enterprise import ConfigError, Message
from stomp_enterprise.client.subscription import FAILURE_HEADER

UTC = timezone.utc


class Order(pydantic.BaseModel):
    id: int
    item: str


def test_message_options_read_back_typed(client, names, broker: Broker) -> None:
    """Every typed option arrives in the broker's spelling and reads back typed."""
    destination = names("queue")
    sub = client.subscribe(destination, receipt=True)
    before = datetime.now(UTC)
    client.send(
        destination,
        b"x",
        persistent=True,
        priority=6,
        ttl=600,
        correlation_id="corr-42",
        reply_to="/queue/popts-replies",
        message_type="order.created",
        receipt=True,
    )
    message = sub.get(timeout=10)
    assert message.persistent is True
    assert message.priority == 6
    assert message.correlation_id == "corr-42"
    assert message.reply_to == "/queue/popts-replies"
    assert message.message_type == "order.created"
    assert message.redelivered is False
    if broker.name == "rabbitmq":
        assert message.ttl == timedelta(minutes=10)  # RabbitMQ keeps the relative TTL
        assert message.expires is None
    else:
        assert message.expires is not None
        assert before + timedelta(seconds=599) <= message.expires
        assert message.expires <= datetime.now(UTC) + timedelta(seconds=600)


def test_expired_message_is_not_delivered(client, names) -> None:
    """A message past its expiry is dropped by the broker; a fresh one behind it arrives.
    (RabbitMQ may still deliver a message within a few hundred ms of its expiry, measured:
    the test waits past it rather than sending one already expired.)"""
    destination = names("queue")
    client.send(destination, b"stale", ttl=0.5, receipt=True)
    time.sleep(1.5)  # a lower bound: the broker's clock must pass the expiry
    client.send(destination, b"fresh", ttl=600, receipt=True)
    sub = client.subscribe(destination, receipt=True)
    assert sub.get(timeout=10).body == b"fresh"
    expect_nothing(sub)


def test_durable_subscription_survives_restart(
    make_client: ClientFactory, names, broker: Broker
) -> None:
    """Subscribe durable, disconnect, send, reconnect, receive; unsubscribe_durable removes
    it (a new subscription of the same name starts empty)."""
    topic = names("topic")
    client_id = f"popts-{uuid.uuid4().hex[:10]}"
    name = f"popts-dur-{uuid.uuid4().hex[:10]}"
    publisher = make_client()
    first = make_client(client_id=client_id)
    try:
        first.subscribe(topic, durable=name, receipt=True)
        first.disconnect()
        publisher.send(topic, b"while away", persistent=True, receipt=True)
        second = make_client(client_id=client_id)
        sub = second.subscribe(topic, durable=name, ack="client-individual", receipt=True)
        message = sub.get(timeout=10)
        assert message.body == b"while away"
        message.ack(receipt=True)
        second.unsubscribe_durable(topic, name)
        second.disconnect()
        publisher.send(topic, b"after removal", persistent=True, receipt=True)
        third = make_client(client_id=client_id)
        sub = third.subscribe(topic, durable=name, receipt=True)
        expect_nothing(sub)
        third.unsubscribe_durable(topic, name)
        third.disconnect()
    except BaseException:
        for made in (first, locals().get("second"), locals().get("third")):
            if made is not None:
                made.disconnect()
        with contextlib.suppress(Exception):  # leave no durable subscription behind
            make_client(client_id=client_id).unsubscribe_durable(topic, name)
        raise


def test_selector_filters_or_is_refused_by_design(
    client, names, broker: Broker, record_property
) -> None:
    """ActiveMQ, Artemis, Apollo filter by a SQL-92 selector; RabbitMQ has none, and the
    client refuses it instead of sending a header the broker would ignore."""
    destination = names("queue")
    if broker.name == "rabbitmq":
        with pytest.raises(ConfigError, match="selector"):
            client.subscribe(destination, selector="region = 'EU'")
        record_property(REFUSED, "RabbitMQ has no selectors: ConfigError")
        return
    sub = client.subscribe(destination, selector="region = 'EU'", receipt=True)
    client.send(destination, b"us", {"region": "US"}, receipt=True)
    client.send(destination, b"eu", {"region": "EU"}, receipt=True)
    assert sub.get(timeout=10).body == b"eu"
    expect_nothing(sub)
    sub.unsubscribe(receipt=True)
    rest = client.subscribe(destination, receipt=True)
    assert rest.get(timeout=10).body == b"us"


def test_prefetch_bounds_unacked_deliveries(client, names, broker: Broker) -> None:
    """prefetch=2 with client acks: the broker holds the rest back until acks come."""
    destination = names("queue")
    body = b"p" * 20_000  # Artemis counts bytes: prefetch x 16 KiB lets about two through
    for _ in range(8):
        client.send(destination, body)
    client.send(destination, body, receipt=True)
    sub = client.subscribe(destination, ack="client-individual", prefetch=2, receipt=True)
    held: list[Message] = [sub.get(timeout=10)]
    with contextlib.suppress(queue.Empty):
        while True:
            held.append(sub.get(timeout=1.5))
    assert 1 <= len(held) <= 3
    for message in held:
        message.ack()
    got = len(held)
    while got < 9:
        message = sub.get(timeout=10)
        message.ack()
        got += 1


def test_typed_payload_round_trip_and_invalid_to_error_destination(
    make_client: ClientFactory, names, broker: Broker
) -> None:
    """A pydantic model travels as JSON and reads back validated; an invalid one goes to the
    error destination with the reason header."""
    client = make_client()
    destination, errors = names("queue"), names("queue")
    dead = client.subscribe(errors, receipt=True)
    received: queue.Queue[Order] = queue.Queue()
    client.subscribe(
        destination,
        lambda message: received.put(message.model),
        ack="client-individual",
        model=Order,
        error_destination=errors,
        receipt=True,
    )
    client.send(destination, {"id": "seven"}, receipt=True)
    client.send(destination, Order(id=7, item="pen"), receipt=True)
    assert received.get(timeout=10) == Order(id=7, item="pen")
    (failed,) = drain(dead, 1)
    assert failed.headers[FAILURE_HEADER].startswith("PayloadError: the body is not a valid Order")
    assert "seven" not in failed.headers[FAILURE_HEADER]
