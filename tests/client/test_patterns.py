"""Message options, durable subscriptions, selectors, prefetch and typed payloads: the
threaded client against the in-process broker (which can pose as each real broker through
the ``server`` header it sends, so the per-broker mappings are checked on the wire)."""

from __future__ import annotations

import dataclasses
import queue
from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic
import pytest

from stomp_enterprise import BrokerError, Client, ConfigError, PayloadError
from stomp_enterprise.client.subscription import FAILURE_HEADER

UTC = timezone.utc
ACTIVEMQ, RABBITMQ, ARTEMIS, APOLLO = (
    "ActiveMQ/5.17.2",
    "RabbitMQ/3.10.8",
    "ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine",
    "apache-apollo/1.7.1",
)


class Order(pydantic.BaseModel):
    id: int
    item: str


def posing_as(factory, server: str, **options: Any) -> tuple[Any, Client]:
    broker = factory(name=server)
    client = Client(broker.url, heart_beats=(0, 0), timeouts={"receipt": 5.0}, **options)
    return broker, client


# ---------------------------------------------------------------- message options


def test_send_options_arrive_and_read_back_typed(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/opts", receipt=True)
        expires = datetime.now(UTC) + timedelta(hours=1)
        client.send(
            "/queue/opts",
            b"x",
            persistent=True,
            priority=7,
            expires=expires,
            correlation_id="corr-1",
            reply_to="/queue/replies",
            message_type="order.created",
        )
        message = sub.get(timeout=5)
    assert message.persistent is True
    assert message.priority == 7
    assert message.expires == expires.replace(microsecond=expires.microsecond // 1000 * 1000)
    assert message.correlation_id == "corr-1"
    assert message.reply_to == "/queue/replies"
    assert message.message_type == "order.created"
    assert message.redelivered is False


def test_send_async_and_transactions_take_the_same_options(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/opts2", receipt=True, model=Order)
        client.send_async("/queue/opts2", Order(id=1, item="a"), priority=2).result(5)
        with client.transaction() as tx:
            tx.send("/queue/opts2", Order(id=2, item="b"), priority=3, correlation_id="tx")
        first, second = sub.get(timeout=5), sub.get(timeout=5)
    assert (first.model.id, first.priority) == (1, 2)
    assert (second.model.id, second.priority, second.correlation_id) == (2, 3, "tx")


@pytest.mark.parametrize(
    ("server", "expiry_header"),
    [(ACTIVEMQ, "expires"), (ARTEMIS, "expires"), (APOLLO, "expires"), (RABBITMQ, "expiration")],
)
def test_ttl_is_written_as_each_broker_expects(stomp_broker_factory, server, expiry_header):
    broker, client = posing_as(stomp_broker_factory, server)
    with client:
        client.send("/queue/ttl", b"x", ttl=90, priority=3, receipt=True)
    (frame,) = broker.received_frames("SEND")
    value = int(frame.headers[expiry_header])
    if expiry_header == "expiration":
        assert value == 90_000
    else:
        now_ms = datetime.now(UTC).timestamp() * 1000
        assert now_ms < value <= now_ms + 90_000
    assert frame.headers["priority"] == "3"
    assert ("expires" in frame.headers) == (expiry_header == "expires")


def test_an_expired_message_is_not_delivered(make_client, stomp_broker) -> None:
    with make_client() as client:
        past = datetime.now(UTC) - timedelta(seconds=1)
        client.send("/queue/exp", b"stale", expires=past, receipt=True)
        client.send("/queue/exp", b"fresh", ttl=3600, receipt=True)
        sub = client.subscribe("/queue/exp", receipt=True)
        assert sub.get(timeout=5).body == b"fresh"
    assert [m.body for m in stomp_broker.expired("/queue/exp")] == [b"stale"]


def test_invalid_options_raise_before_anything_is_sent(make_client, stomp_broker) -> None:
    with make_client() as client:
        with pytest.raises(ConfigError, match="priority"):
            client.send("/queue/bad", b"x", priority=11)
        with pytest.raises(ConfigError, match="expires or ttl"):
            client.send("/queue/bad", b"x", ttl=5, expires=datetime.now(UTC))
        with pytest.raises(ConfigError, match="priority"):
            client.send("/queue/bad", b"x", {"priority": "1"}, priority=2)
        with pytest.raises(TypeError, match="'prio'"):
            client.send("/queue/bad", b"x", prio=2)  # type: ignore[call-arg]
        client.send("/queue/bad", b"ok", receipt=True)
    assert [f.body for f in stomp_broker.received_frames("SEND")] == [b"ok"]


# ---------------------------------------------------------------- typed payloads


def test_a_model_is_sent_as_json_and_read_back_validated(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/orders", receipt=True, model=Order)
        client.send("/queue/orders", Order(id=7, item="pen"), receipt=True)
        message = sub.get(timeout=5)
    assert message.content_type == "application/json;charset=utf-8"
    assert message.body == b'{"id":7,"item":"pen"}'
    order = message.model
    assert order == Order(id=7, item="pen")
    assert message.model is order  # validated once


def test_dicts_and_dataclasses_are_json_and_decode_without_a_model(make_client) -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    with make_client() as client:
        sub = client.subscribe("/queue/json", receipt=True)
        client.send("/queue/json", {"a": [1, 2]}, receipt=True)
        client.send("/queue/json", Point(1, 2), content_type="application/vnd.point+json")
        first, second = sub.get(timeout=5), sub.get(timeout=5)
    assert first.model == {"a": [1, 2]}
    assert second.content_type == "application/vnd.point+json"
    with pytest.raises(PayloadError, match=r"application/vnd\.point"):
        second.model  # noqa: B018 - no codec registered for that content type


def test_a_validation_failure_goes_to_the_error_destination_with_the_reason(
    make_client, recorder
) -> None:
    seen = recorder()
    with make_client() as client:
        dead = client.subscribe("/queue/orders.invalid", receipt=True)
        client.subscribe(
            "/queue/orders.in",
            lambda message: seen(message.model),
            ack="client-individual",
            model=Order,
            error_destination="/queue/orders.invalid",
            receipt=True,
        )
        client.send("/queue/orders.in", {"id": "seven", "item": "pen"}, receipt=True)
        client.send("/queue/orders.in", Order(id=8, item="ink"), receipt=True)
        failed = dead.get(timeout=5)
        assert seen.wait(1) == [Order(id=8, item="ink")]
    reason = failed.headers[FAILURE_HEADER]
    assert reason.startswith("PayloadError: the body is not a valid Order")
    assert "id: Input should be a valid integer" in reason
    assert "seven" not in reason  # values are never quoted
    assert failed.body == b'{"id":"seven","item":"pen"}'


class Rot13:
    content_type = "text/x-rot13"
    content_types = ("text/x-rot13",)

    def encode(self, obj: Any) -> bytes:
        import codecs

        return codecs.encode(str(obj), "rot13").encode()

    def decode(self, body: bytes, model: Any | None) -> Any:
        import codecs

        return codecs.decode(body.decode(), "rot13")


def test_a_codec_given_as_an_argument(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/rot", receipt=True, codec=Rot13())
        client.send("/queue/rot", "hello", codec=Rot13(), receipt=True)
        message = sub.get(timeout=5)
    assert message.body == b"uryyb"
    assert message.content_type == "text/x-rot13"
    assert message.model == "hello"


# ---------------------------------------------------------------- durable subscriptions


def test_a_durable_subscription_survives_a_client_restart(make_client, stomp_broker) -> None:
    with make_client(client_id="billing") as first:
        first.subscribe("/topic/invoices", durable="billing-invoices", receipt=True)
    with make_client() as publisher:
        publisher.send("/topic/invoices", b"while away", receipt=True)
    with make_client(client_id="billing") as second:
        sub = second.subscribe("/topic/invoices", durable="billing-invoices", receipt=True)
        assert sub.id == "billing-invoices"
        assert sub.get(timeout=5).body == b"while away"
        second.unsubscribe_durable("/topic/invoices", "billing-invoices")
        assert stomp_broker.durable_subscriptions() == []
        assert not sub.active
    with make_client() as publisher:
        publisher.send("/topic/invoices", b"after removal", receipt=True)
    with make_client(client_id="billing") as third:
        sub = third.subscribe("/topic/invoices", durable="billing-invoices", receipt=True)
        with pytest.raises(queue.Empty):
            sub.get(timeout=0.3)
        third.unsubscribe_durable("/topic/invoices", "billing-invoices")


def test_unsubscribe_durable_of_an_unknown_name_is_a_broker_error(make_client) -> None:
    with make_client(client_id="c") as client, pytest.raises(BrokerError, match="no durable"):
        client.unsubscribe_durable("/topic/t", "nothing-here")


def test_durable_without_client_id_is_refused_before_sending(make_client, stomp_broker) -> None:
    with make_client() as client, pytest.raises(ConfigError, match="client_id"):
        client.subscribe("/topic/t", durable="d")
    assert stomp_broker.received_frames("SUBSCRIBE") == []


@pytest.mark.parametrize(
    ("server", "subscribe_headers", "removal_headers"),
    [
        (APOLLO, {"persistent": "true"}, {"persistent": "true"}),
        (ARTEMIS, {"durable-subscription-name": "d1"}, {"durable-subscription-name": "d1"}),
    ],
)
def test_durable_headers_on_the_wire(
    stomp_broker_factory, server, subscribe_headers, removal_headers
) -> None:
    broker, client = posing_as(stomp_broker_factory, server, client_id="app")
    with client:
        client.subscribe("/topic/t", durable="d1", receipt=True)
        client.unsubscribe_durable("/topic/t", "d1", receipt=False)
        broker.wait_for(lambda: len(broker.received_frames("UNSUBSCRIBE")) == 2)
    (subscribe,) = broker.received_frames("SUBSCRIBE")
    assert subscribe.headers["id"] == "d1"
    assert {k: subscribe.headers[k] for k in subscribe_headers} == subscribe_headers
    plain, removal = broker.received_frames("UNSUBSCRIBE")
    assert dict(plain.headers) == {"id": "d1", "receipt": plain.headers["receipt"]}
    assert {k: removal.headers[k] for k in removal_headers} == removal_headers
    assert removal.headers["id"] == "d1"


@pytest.mark.parametrize("subscribed", [True, False])
def test_rabbitmq_removes_a_durable_subscription_through_a_live_one(
    stomp_broker_factory, subscribed
) -> None:
    """RabbitMQ only takes the removal headers on the UNSUBSCRIBE of a live subscription:
    one UNSUBSCRIBE, after attaching when the client was not subscribed."""
    broker, client = posing_as(stomp_broker_factory, RABBITMQ)
    with client:
        if subscribed:
            client.subscribe("/topic/t", durable="d1", receipt=True)
        client.unsubscribe_durable("/topic/t", "d1")
    (subscribe,) = broker.received_frames("SUBSCRIBE")
    assert {k: subscribe.headers[k] for k in ("id", "durable", "auto-delete", "x-queue-name")} == {
        "id": "d1",
        "durable": "true",
        "auto-delete": "false",
        "x-queue-name": "d1",
    }
    (removal,) = broker.received_frames("UNSUBSCRIBE")
    assert {k: removal.headers[k] for k in ("id", "durable", "x-queue-name")} == {
        "id": "d1",
        "durable": "true",
        "x-queue-name": "d1",
    }
    assert client.subscriptions == []


# ---------------------------------------------------------------- selectors and prefetch


def test_the_testing_broker_refuses_a_selector_with_an_error(make_client) -> None:
    with make_client() as client, pytest.raises(BrokerError, match="selectors"):
        client.subscribe("/queue/sel", selector="region = 'EU'", receipt=True)


def test_a_selector_on_rabbitmq_is_a_config_error(stomp_broker_factory) -> None:
    broker, client = posing_as(stomp_broker_factory, RABBITMQ)
    with client, pytest.raises(ConfigError, match="RabbitMQ"):
        client.subscribe("/queue/sel", selector="region = 'EU'")
    assert broker.received_frames("SUBSCRIBE") == []


@pytest.mark.parametrize(
    ("server", "header", "value"),
    [
        (ACTIVEMQ, "activemq.prefetchSize", "25"),
        (RABBITMQ, "prefetch-count", "25"),
        (ARTEMIS, "consumer-window-size", str(25 * (16 * 1024 * 1024 // 1000))),
        (APOLLO, "credit", "25,0"),
    ],
)
def test_prefetch_on_the_wire_replaces_the_default(stomp_broker_factory, server, header, value):
    broker, client = posing_as(stomp_broker_factory, server)
    with client:
        client.subscribe("/queue/pf", ack="client-individual", prefetch=25, receipt=True)
    (frame,) = broker.received_frames("SUBSCRIBE")
    assert frame.headers[header] == value
    assert [k for k, _ in frame.raw_headers].count(header) == 1


def test_a_header_and_the_option_for_it_is_refused(stomp_broker_factory) -> None:
    _, client = posing_as(stomp_broker_factory, ACTIVEMQ)
    with client, pytest.raises(ConfigError, match=r"activemq\.prefetchSize"):
        client.subscribe("/queue/pf", prefetch=5, headers={"activemq.prefetchSize": "1"})
