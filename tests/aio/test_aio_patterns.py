"""The asyncio client's twins of the messaging patterns (docs/patterns.md): the same typed
send options, subscription options and typed payloads as the threaded client, from the same
core (tests/client/test_patterns.py covers the per-broker mappings)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pydantic
import pytest

from stomp_enterprise import BrokerError, ConfigError
from stomp_enterprise.aio import Client
from stomp_enterprise.core.subscription import FAILURE_HEADER
from stomp_enterprise.testing import Broker
from tests.aio.conftest import Recorder

UTC = timezone.utc
RABBITMQ = "RabbitMQ/3.10.8"


class Order(pydantic.BaseModel):
    id: int
    item: str


def test_send_options_and_typed_payloads(run, make_client, stomp_broker: Broker) -> None:
    async def body() -> None:
        async with make_client() as client:
            sub = await client.subscribe("/queue/o", model=Order, receipt=True)
            await client.send(
                "/queue/o",
                Order(id=1, item="pen"),
                priority=8,
                ttl=60,
                correlation_id="c-1",
                reply_to="/queue/r",
                message_type="order",
                persistent=True,
                receipt=True,
            )
            message = await sub.get(timeout=5)
            assert message.model == Order(id=1, item="pen")
            assert (message.priority, message.correlation_id) == (8, "c-1")
            assert (message.reply_to, message.message_type, message.persistent) == (
                "/queue/r",
                "order",
                True,
            )
            assert message.expires is not None
            await client.send("/queue/x", b"stale", expires=datetime.now(UTC) - timedelta(1))
            async with client.transaction() as tx:
                await tx.send("/queue/o", {"id": 2, "item": "ink"}, priority=1)
            second = await sub.get(timeout=5)
            assert (second.model, second.priority) == (Order(id=2, item="ink"), 1)
            with pytest.raises(ConfigError, match="priority"):
                await client.send("/queue/o", b"x", priority=10)
            with pytest.raises(TypeError, match="'prio'"):
                await client.send("/queue/o", b"x", prio=1)  # type: ignore[call-arg]
            await client.subscribe("/queue/x", receipt=True)  # dispatch: the broker drops it
        assert [m.body for m in stomp_broker.expired()] == [b"stale"]

    run(body())


def test_invalid_payload_goes_to_the_error_destination(run, make_client) -> None:
    async def body() -> None:
        seen = Recorder()
        async with make_client() as client:
            dead = await client.subscribe("/queue/bad", receipt=True)
            await client.subscribe(
                "/queue/in",
                lambda message: seen(message.model),
                ack="client-individual",
                model=Order,
                error_destination="/queue/bad",
                receipt=True,
            )
            await client.send("/queue/in", {"id": "x"}, receipt=True)
            await client.send("/queue/in", Order(id=3, item="cup"), receipt=True)
            failed = await dead.get(timeout=5)
            assert await seen.wait(1) == [Order(id=3, item="cup")]
        assert failed.headers[FAILURE_HEADER].startswith("PayloadError: the body is not a valid")

    run(body())


def test_durable_subscription_survives_a_restart_and_is_removed(
    run, make_client, stomp_broker: Broker
) -> None:
    async def body() -> None:
        async with make_client(client_id="app") as first:
            await first.subscribe("/topic/t", durable="d", receipt=True)
        async with make_client() as publisher:
            await publisher.send("/topic/t", b"kept", receipt=True)
        async with make_client(client_id="app") as second:
            sub = await second.subscribe("/topic/t", durable="d", receipt=True)
            assert sub.id == "d"
            assert (await sub.get(timeout=5)).body == b"kept"
            await second.unsubscribe_durable("/topic/t", "d")
            assert stomp_broker.durable_subscriptions() == []

    run(body())


def test_refusals(run, make_client, stomp_broker_factory) -> None:
    async def body() -> None:
        async with make_client() as client:
            with pytest.raises(ConfigError, match="client_id"):
                await client.subscribe("/topic/t", durable="d")
            with pytest.raises(BrokerError, match="selectors"):
                await client.subscribe("/queue/s", selector="a = 1", receipt=True)
        rabbit = stomp_broker_factory(name=RABBITMQ)
        async with Client(rabbit.url, heart_beats=(0, 0)) as client:
            with pytest.raises(ConfigError, match="RabbitMQ"):
                await client.subscribe("/queue/s", selector="a = 1")
            await client.subscribe("/queue/p", ack="client", prefetch=3, receipt=True)
            await client.unsubscribe_durable("/topic/t", "d")  # attaches, then removes
        subscribes = rabbit.received_frames("SUBSCRIBE")
        assert subscribes[0].headers["prefetch-count"] == "3"
        assert subscribes[1].headers["x-queue-name"] == "d"
        (removal,) = rabbit.received_frames("UNSUBSCRIBE")
        assert (removal.headers["durable"], removal.headers["x-queue-name"]) == ("true", "d")

    run(body())
