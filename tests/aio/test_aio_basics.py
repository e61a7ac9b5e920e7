"""The asyncio client against the in-process broker: the contract's calls, on the default
loop and on uvloop where marked."""

from __future__ import annotations

import asyncio
import threading

import pytest

from stomp_enterprise import (
    AckError,
    BrokerError,
    ConfigError,
    ConnectFailed,
    LocalProtocolError,
    NotConnected,
    ReceiptTimeout,
    TransactionError,
)
from stomp_enterprise.aio import Client, ConnectedInfo, Message, Transaction
from stomp_enterprise.testing import Broker
from tests.aio.conftest import Recorder, eventually


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_each_version_round_trips_on_both_loops(run_any_loop, make_client, version) -> None:
    async def body() -> None:
        threads = set(threading.enumerate())
        async with make_client(versions=(version,)) as client:
            assert client.is_connected
            assert client.version == version
            assert client.server == "stomp-enterprise-testing"
            sub = await client.subscribe(
                "/queue/v", ack="client" if version == "1.0" else "client-individual"
            )
            await client.send("/queue/v", b"a\x00b:c\nd", {"x-colon": "a:b"}, receipt=True)
            message = await sub.get(timeout=5)
            assert isinstance(message, Message)
            assert message.body == b"a\x00b:c\nd"
            assert message.headers["x-colon"] == "a:b"
            await message.ack(receipt=True)
            started = {t.name for t in threading.enumerate() if t not in threads}
            # no thread started by the client (the broker's own serve the connection)
            assert all(name.startswith("stomp-testing-broker") for name in started), started
        assert not client.is_connected
        assert client.version is None

    run_any_loop(body())


def test_str_body_is_encoded_with_the_content_type_charset(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            sub = await client.subscribe("/queue/text")
            await client.send("/queue/text", "héllo")
            await client.send("/queue/text", "héllo", content_type="text/plain;charset=latin-1")
            first, second = await sub.get(timeout=5), await sub.get(timeout=5)
            assert first.body == "héllo".encode()
            assert first.content_type == "text/plain;charset=utf-8"
            assert first.text == "héllo"
            assert second.body == "héllo".encode("latin-1")
            assert second.text == "héllo"

    run(body())


def test_bad_arguments_raise_typed_errors(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            with pytest.raises(ConfigError):
                await client.send("/queue/x", 12345)  # type: ignore[arg-type]
            with pytest.raises(LocalProtocolError):
                await client.send("", b"x")
            with pytest.raises(LocalProtocolError):
                await client.subscribe("/queue/x", ack="sometimes")
            with pytest.raises(ConfigError):
                await client.subscribe("/queue/x", handler="nope")  # type: ignore[arg-type]
            with pytest.raises(ConfigError):
                await client.subscribe("/queue/x", lambda m: None, max_concurrent_handlers=0)
            sub = await client.subscribe("/queue/x", lambda m: None, id="same")
            with pytest.raises(ConfigError):
                await client.subscribe("/queue/y", id="same")
            with pytest.raises(ConfigError):
                await sub.get()
        assert client.subscriptions == []
        with pytest.raises(NotConnected):
            await client.send("/queue/x", b"after")

    run(body())
    with pytest.raises(ConfigError, match="heart_beats"):
        Client("tcp://127.0.0.1:1", heart_beats=(-1, 0))
    with pytest.raises(ConfigError, match="scheme"):
        Client("http://127.0.0.1:1")


def test_repr_hides_the_passcode() -> None:
    client = Client("tcp://127.0.0.1:1", login="app", passcode="s3cret")
    assert "s3cret" not in repr(client)
    assert "s3cret" not in repr(client.config)


def test_connect_failures_are_typed(run, stomp_broker_factory) -> None:
    broker = stomp_broker_factory(users={"app": "right"})

    async def body() -> None:
        with pytest.raises(BrokerError, match="Authentication"):
            await Client(broker.url, login="app", passcode="wrong", heart_beats=(0, 0)).connect()
        with pytest.raises(ConnectFailed) as info:
            await Client("tcp://127.0.0.1:1", heart_beats=(0, 0)).connect()
        assert info.value.attempts[0][0] == "tcp://127.0.0.1:1"

    run(body())


def test_async_iteration_ends_with_the_subscription(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            sub = await client.subscribe("/queue/it")
            for index in range(3):
                await client.send("/queue/it", str(index))
            seen = []
            async for message in sub:
                seen.append(message.text)
                if len(seen) == 3:
                    await sub.unsubscribe()
            assert seen == ["0", "1", "2"]
            assert not sub.active
            with pytest.raises(TimeoutError):
                await (await client.subscribe("/queue/empty")).get(timeout=0.05)

    run(body())


def test_transaction_commits_on_success_and_aborts_when_the_block_raises(
    run, make_client, stomp_broker: Broker
) -> None:
    async def body() -> None:
        async with make_client() as client:
            sub = await client.subscribe("/queue/tx")
            async with client.transaction() as tx:
                await tx.send("/queue/tx", b"committed")
                assert stomp_broker.queue_depth("/queue/tx") == 0
            assert tx.state == "committed"
            assert (await sub.get(timeout=5)).body == b"committed"
            tx2 = client.transaction()
            with pytest.raises(RuntimeError):
                await _send_then_raise(tx2)
            assert tx2.state == "aborted"
            with pytest.raises(TransactionError):
                await tx2.send("/queue/tx", b"late")
            await client.send("/queue/tx", b"plain", receipt=True)
            assert (await sub.get(timeout=5)).body == b"plain"

    run(body())


def test_transactional_ack_and_nack(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            sub = await client.subscribe("/queue/txack", ack="client-individual")
            await client.send("/queue/txack", b"one", receipt=True)
            message = await sub.get(timeout=5)
            async with client.transaction() as tx:
                await tx.ack(message)
            with pytest.raises(AckError):
                await (await _auto_message(client)).ack()

    run(body())


async def _send_then_raise(tx: Transaction) -> None:
    async with tx:
        await tx.send("/queue/tx", b"aborted")
        raise RuntimeError("boom")


async def _auto_message(client: Client) -> Message:
    sub = await client.subscribe("/queue/auto")
    await client.send("/queue/auto", b"x")
    return await sub.get(timeout=5)


def test_nack_redelivers(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            sub = await client.subscribe("/queue/nack", ack="client-individual")
            await client.send("/queue/nack", b"again")
            first = await sub.get(timeout=5)
            await first.nack(receipt=True)
            second = await sub.get(timeout=5)
            assert second.body == b"again"
            assert second.redelivered
            await second.ack()

    run(body())


def test_listeners_may_be_plain_or_coroutine_functions_and_run_in_order(run, make_client) -> None:
    order: list[str] = []

    async def body() -> None:
        client = make_client()

        async def async_connected(info: ConnectedInfo) -> None:
            await asyncio.sleep(0.01)
            order.append(f"async {info.reconnect}")

        client.listeners.on("connected", async_connected)
        client.listeners.on("connected", lambda info: order.append("sync"))
        client.listeners.on("connected", lambda info: 1 / 0)  # logged, the others go on
        receipts = Recorder()
        client.listeners.on("receipt", receipts)
        disconnected = Recorder()
        client.listeners.on("disconnected", disconnected)
        async with client:
            await client.send("/queue/l", b"x", receipt=True)
            await receipts.wait(1)
            await eventually(lambda: len(order) == 2)
        assert order == ["async False", "sync"]
        assert disconnected.items == [None]

    run(body())


def test_receipt_timeout_forgets_the_receipt(run, make_client, stomp_broker: Broker) -> None:
    async def body() -> None:
        async with make_client() as client:
            stomp_broker.delay_frames(0.5)
            with pytest.raises(ReceiptTimeout):
                await client.send("/queue/slow", b"x", receipt=True, timeout=0.05)
            assert client.pending_receipts == 0
            stomp_broker.delay_frames(0)

    run(body())


def test_a_client_made_outside_any_loop_connects_on_each_new_loop(
    stomp_broker: Broker,
) -> None:
    from tests.aio.conftest import Runner

    client = Client(stomp_broker.url, heart_beats=(0, 0))  # e.g. at import time

    async def use(body: bytes) -> bytes:
        async with client:
            sub = await client.subscribe("/queue/loops")
            await client.send("/queue/loops", body, receipt=True)
            return (await sub.get(timeout=5)).body

    for body in (b"first loop", b"second loop"):
        runner = Runner("asyncio")
        assert runner(use(body)) == body
        assert runner.leftover == []
