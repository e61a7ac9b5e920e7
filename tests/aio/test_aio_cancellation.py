"""Cancellation and shutdown of the asyncio client: a cancelled wait leaves the client
consistent; disconnect() drains handlers within its timeout, then cancels them."""

from __future__ import annotations

import asyncio

import pytest

from stomp_enterprise import ConnectFailed, ConnectionLost, ConnectTimeout, NotConnected
from stomp_enterprise.aio import Client, Message
from stomp_enterprise.testing import Broker
from tests.aio.conftest import Recorder, eventually


def test_cancelling_a_receipted_send_forgets_its_receipt(
    run_any_loop, make_client, stomp_broker: Broker
) -> None:
    async def body() -> None:
        async with make_client() as client:
            stomp_broker.delay_frames(0.3)
            task = asyncio.create_task(client.send("/queue/c", b"x", receipt=True))
            await eventually(lambda: client.pending_receipts == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client.pending_receipts == 0
            stomp_broker.delay_frames(0)
            await client.send("/queue/c", b"y", receipt=True)  # still usable
            assert client.pending_receipts == 0

    run_any_loop(body())


def test_cancelling_get_takes_nothing_from_the_queue(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            sub = await client.subscribe("/queue/g")
            waiter = asyncio.create_task(sub.get())
            await asyncio.sleep(0.01)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            await client.send("/queue/g", b"kept")
            assert (await sub.get(timeout=5)).body == b"kept"
            assert client.backlog.messages == 0

    run(body())


def test_cancelling_connect_closes_the_attempt(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        client = Client(stomp_broker.url, heart_beats=(0, 0))
        stomp_broker.go_silent()  # accepted, never answers CONNECT
        task = asyncio.create_task(client.connect())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not client.is_connected
        stomp_broker.resume()
        stomp_broker.drop_connections()
        async with client:  # connect() may be called again
            assert client.is_connected

    run(body())


def test_disconnect_waits_for_handlers_in_flight(run, make_client, stomp_broker: Broker) -> None:
    async def body() -> None:
        acked = Recorder()

        async def handler(message: Message) -> None:
            await asyncio.sleep(0.1)
            await message.ack()
            acked(message.body)

        client = make_client()
        await client.connect()
        await client.subscribe("/queue/drain", handler, ack="client-individual")
        await client.send("/queue/drain", b"one")
        await eventually(lambda: stomp_broker.unacked("/queue/drain") == 1)
        await client.disconnect()
        assert acked.items == [b"one"]
        assert stomp_broker.queue_depth("/queue/drain") == 0

    run(body())


def test_disconnect_cancels_handlers_still_running_after_the_drain_timeout(
    run, make_client
) -> None:
    async def body() -> None:
        started = asyncio.Event()
        cancelled = Recorder()

        async def stuck(message: Message) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled(message.body)
                raise

        client = make_client(timeouts={"drain": 0.1, "disconnect": 1.0})
        await client.connect()
        await client.subscribe("/queue/stuck", stuck, max_concurrent_handlers=2)
        await client.send("/queue/stuck", b"a")
        await started.wait()
        await client.disconnect()
        assert cancelled.items == [b"a"]

    run(body())


def test_a_handler_may_disconnect_the_client(run, make_client) -> None:
    async def body() -> None:
        client = make_client()
        done = asyncio.Event()

        async def handler(message: Message) -> None:
            await client.disconnect()
            done.set()

        await client.connect()
        await client.subscribe("/queue/self", handler)
        await client.send("/queue/self", b"x")
        await asyncio.wait_for(done.wait(), 5)
        assert not client.is_connected
        with pytest.raises(NotConnected):
            await client.send("/queue/self", b"y")

    run(body())


def test_auto_ack_messages_left_at_disconnect_are_reported(run, make_client) -> None:
    async def body() -> None:
        discarded = Recorder()
        release = asyncio.Event()

        async def slow(message: Message) -> None:
            await release.wait()

        client = make_client(timeouts={"drain": 0.05})
        client.listeners.on("discarded", discarded)
        await client.connect()
        await client.subscribe("/queue/left", slow, id="left")
        for index in range(5):
            await client.send("/queue/left", str(index))
        await eventually(lambda: client.backlog.messages == 5)
        await client.disconnect()
        assert client.discarded == 4  # one was in its handler when it was cancelled
        assert discarded.items == [("left", 4, "the client was closed first")]

    run(body())


def test_a_pull_subscription_keeps_what_arrived_after_disconnect(run, make_client) -> None:
    async def body() -> None:
        client = make_client()
        await client.connect()
        sub = await client.subscribe("/queue/kept")
        await client.send("/queue/kept", b"one", receipt=True)
        await eventually(lambda: client.backlog.messages == 1)
        await client.disconnect()
        assert (await sub.get(timeout=1)).body == b"one"
        with pytest.raises(NotConnected):
            await sub.get(timeout=1)
        assert client.discarded == 0

    run(body())


def test_concurrent_disconnects_run_one_after_the_other(run, make_client) -> None:
    async def body() -> None:
        disconnected = Recorder()
        client = make_client()
        client.listeners.on("disconnected", disconnected)
        await client.connect()
        await asyncio.gather(client.disconnect(), client.disconnect(), client.disconnect())
        assert not client.is_connected
        assert disconnected.items == [None]

    run(body())


async def _send_many(client: Client, count: int, body: bytes) -> None:
    for _ in range(count):
        await client.send("/queue/full", body)


def test_connect_and_write_timeouts_hold(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        stomp_broker.go_silent()  # accepts, never answers
        client = Client(stomp_broker.url, heart_beats=(0, 0), timeouts={"connected": 0.2})
        with pytest.raises(ConnectFailed) as info:
            await client.connect()
        assert isinstance(info.value.attempts[0][1], ConnectTimeout)
        stomp_broker.resume()
        stomp_broker.drop_connections()
        writer = Client(
            stomp_broker.url, heart_beats=(0, 0), timeouts={"write": 0.3, "disconnect": 0.5}
        )
        await writer.connect()
        stomp_broker.go_silent()  # reads nothing more: the queue fills and stays full
        with pytest.raises(ConnectionLost, match="stayed full"):
            await _send_many(writer, 10_000, b"x" * 65536)
        stomp_broker.resume()
        await writer.disconnect()

    run(body())
