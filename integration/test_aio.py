"""The asyncio client on every real broker and transport (tcp and ws): a representative
subset of the scenarios of test_connect/test_messaging, for the second shell."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from integration.settings import Broker
from stomp_enterprise.aio import Client


def _run(broker: Broker, body: Callable[[Client, Client], Awaitable[None]]) -> None:
    """Run ``body(producer, consumer)`` with two connected asyncio clients (bounded)."""

    def make() -> Client:
        options: dict[str, Any] = {
            "login": broker.login,
            "passcode": broker.passcode,
            "vhost": broker.vhost,
            "timeouts": {"receipt": 20.0, "connect": 10.0, "connected": 10.0},
        }
        if broker.text_only:
            options["websocket"] = {"text": True}
        return Client(broker.url, **options)

    async def main() -> None:
        async with make() as producer, make() as consumer:
            await asyncio.wait_for(body(producer, consumer), 60)

    asyncio.run(main())


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_aio_negotiate_version(broker: Broker, version: str) -> None:
    async def main() -> None:
        options: dict[str, Any] = {"login": broker.login, "passcode": broker.passcode}
        options["vhost"] = broker.vhost
        if broker.text_only:
            options["websocket"] = {"text": True}
        async with Client(broker.url, versions=(version,), **options) as client:
            assert client.version == version

    asyncio.run(main())


def test_aio_queue_with_acks(broker: Broker, names: Callable[[str], str]) -> None:
    queue_name = names("queue")

    async def body(producer: Client, consumer: Client) -> None:
        sub = await consumer.subscribe(queue_name, ack="client-individual", receipt=True)
        for i in range(20):
            await producer.send(queue_name, f"m{i}".encode())
        await producer.send(queue_name, b"last", receipt=True)
        got = []
        for _ in range(21):
            message = await sub.get(timeout=15)
            got.append(message.body)
            await message.ack()
        assert got == [f"m{i}".encode() for i in range(20)] + [b"last"]

    _run(broker, body)


def test_aio_transaction_commit(broker: Broker, names: Callable[[str], str]) -> None:
    queue_name = names("queue")

    async def body(producer: Client, consumer: Client) -> None:
        sub = await consumer.subscribe(queue_name, receipt=True)
        async with producer.transaction() as tx:
            for i in range(3):
                await tx.send(queue_name, f"tx{i}".encode())
        got = [(await sub.get(timeout=15)).body for _ in range(3)]
        assert got == [b"tx0", b"tx1", b"tx2"]

    _run(broker, body)
