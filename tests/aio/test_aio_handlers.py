"""Handlers of the asyncio client: coroutine and plain ones, the concurrency limit and the
order it keeps, failures that cannot kill the reader, error policies, backlog pause."""

from __future__ import annotations

import asyncio
import threading

import pytest

from stomp_enterprise import FrameTooLarge
from stomp_enterprise.aio import Client, Message
from stomp_enterprise.core.subscription import FAILURE_HEADER, ORIGINAL_DESTINATION_HEADER
from stomp_enterprise.testing import Broker
from tests.aio.conftest import Recorder, eventually


def test_coroutine_and_plain_handlers_run_in_the_loop_thread_not_the_reader(
    run_any_loop, make_client
) -> None:
    async def body() -> None:
        loop_thread = threading.current_thread()
        seen: list[tuple[str, bool, bool]] = []

        async def coro_handler(message: Message) -> None:
            await asyncio.sleep(0)
            task = asyncio.current_task()
            assert task is not None
            seen.append(
                (
                    "coro",
                    threading.current_thread() is loop_thread,
                    "subscription" in task.get_name(),
                )
            )

        def plain_handler(message: Message) -> None:
            task = asyncio.current_task()  # inline in the subscription's task
            assert task is not None
            seen.append(
                (
                    "plain",
                    threading.current_thread() is loop_thread,
                    "subscription" in task.get_name(),
                )
            )

        async with make_client() as client:
            await client.subscribe("/queue/coro", coro_handler)
            await client.subscribe("/queue/plain", plain_handler)
            await client.send("/queue/coro", b"1")
            await client.send("/queue/plain", b"2")
            await eventually(lambda: len(seen) == 2)
        assert sorted(seen) == [("coro", True, True), ("plain", True, True)]

    run_any_loop(body())


def test_one_handler_at_a_time_keeps_the_order(run, make_client) -> None:
    async def body() -> None:
        got: list[int] = []
        running = 0
        most = 0

        async def handler(message: Message) -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.001 * (int(message.text) % 3))
            got.append(int(message.text))
            running -= 1

        async with make_client() as client:
            await client.subscribe("/queue/order", handler)
            for index in range(50):
                await client.send("/queue/order", str(index))
            await eventually(lambda: len(got) == 50)
        assert got == list(range(50))
        assert most == 1

    run(body())


def test_max_concurrent_handlers_bounds_the_handlers_in_flight(run, make_client) -> None:
    async def body() -> None:
        running = 0
        most = 0
        done = 0
        release = asyncio.Event()

        async def handler(message: Message) -> None:
            nonlocal running, most, done
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1
            done += 1

        async with make_client() as client:
            await client.subscribe("/queue/conc", handler, max_concurrent_handlers=3)
            for index in range(10):
                await client.send("/queue/conc", str(index))
            await eventually(lambda: running == 3)
            await asyncio.sleep(0.05)  # more messages wait; none starts a fourth handler
            assert running == 3
            release.set()
            await eventually(lambda: done == 10)
        assert most == 3

    run(body())


def test_a_failing_handler_does_not_kill_the_reader(run, make_client) -> None:
    async def body() -> None:
        got: list[bytes] = []
        failures = Recorder()

        async def handler(message: Message) -> None:
            if message.body == b"bad":
                raise ValueError("poison")
            got.append(message.body)

        async with make_client() as client:
            client.listeners.on("handler_error", failures)
            await client.subscribe("/queue/poison", handler, on_error="ignore")
            pull = await client.subscribe("/queue/other")
            await client.send("/queue/poison", b"bad")
            await client.send("/queue/poison", b"good")
            await client.send("/queue/other", b"still read", receipt=True)
            assert (await pull.get(timeout=5)).body == b"still read"
            await eventually(lambda: got == [b"good"])
            (message, error), *_ = await failures.wait(1)
            assert message.body == b"bad"
            assert isinstance(error, ValueError)
            assert client.is_connected

    run(body())


def test_default_policy_disconnects_gracefully(run, make_client) -> None:
    async def body() -> None:
        disconnected = Recorder()

        def handler(message: Message) -> None:
            raise RuntimeError("poison pill")

        client = make_client()
        client.listeners.on("disconnected", disconnected)
        await client.connect()
        await client.subscribe("/queue/pill", handler)
        await client.send("/queue/pill", b"x")
        await disconnected.wait(1)
        await eventually(lambda: not client.is_connected)
        await client.disconnect()  # idempotent; also awaits the policy's own task

    run(body())


def test_error_destination_forwards_and_acks(run, make_client, stomp_broker: Broker) -> None:
    async def body() -> None:
        async def handler(message: Message) -> None:
            raise KeyError("missing")

        async with make_client() as client:
            dead = await client.subscribe("/queue/dead")
            await client.subscribe(
                "/queue/work", handler, ack="client-individual", error_destination="/queue/dead"
            )
            await client.send("/queue/work", b"payload", {"x-app": "1"})
            forwarded = await dead.get(timeout=5)
            assert forwarded.body == b"payload"
            assert forwarded.headers["x-app"] == "1"
            assert forwarded.headers[FAILURE_HEADER].startswith("KeyError")
            assert forwarded.headers[ORIGINAL_DESTINATION_HEADER] == "/queue/work"
            await eventually(lambda: stomp_broker.unacked("/queue/work") == 0)

    run(body())


@pytest.mark.parametrize("policy", ["nack", "ack"])
def test_nack_and_ack_policies(run, make_client, stomp_broker: Broker, policy) -> None:
    async def body() -> None:
        calls = 0

        async def handler(message: Message) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ValueError("first time")
            await message.ack()

        async with make_client() as client:
            await client.subscribe("/queue/pol", handler, ack="client-individual", on_error=policy)
            await client.send("/queue/pol", b"x")
            if policy == "nack":
                await eventually(lambda: calls == 2)  # redelivered after the NACK
            else:
                await eventually(lambda: calls == 1 and stomp_broker.unacked("/queue/pol") == 0)
                await asyncio.sleep(0.05)
                assert calls == 1

    run(body())


def test_coroutine_error_policy_is_awaited(run, make_client) -> None:
    async def body() -> None:
        handled = Recorder()

        async def policy(message: Message, error: BaseException) -> None:
            await asyncio.sleep(0)
            handled(message.body, type(error).__name__)

        async def handler(message: Message) -> None:
            raise OSError("disk")

        async with make_client() as client:
            await client.subscribe("/queue/cp", handler, on_error=policy)
            await client.send("/queue/cp", b"x")
            assert await handled.wait(1) == [(b"x", "OSError")]

    run(body())


def test_a_full_backlog_stops_reading_and_resumes(run, make_client) -> None:
    async def body() -> None:
        release = asyncio.Event()
        done = 0

        async def handler(message: Message) -> None:
            nonlocal done
            await release.wait()
            done += 1

        async with make_client(max_backlog_messages=5, backlog_low_water=0.2) as client:
            await client.subscribe("/queue/backlog", handler)
            for _ in range(100):  # 1 MB: more than one read can hold
                await client.send("/queue/backlog", b"x" * 10_000)
            await eventually(lambda: client.backlog.paused)
            await asyncio.sleep(0.1)
            info = client.backlog
            assert info.pauses == 1
            assert 5 < info.messages < 100  # reading stopped: the rest waits at the broker/TCP
            release.set()
            await eventually(lambda: done == 100)
            assert not client.backlog.paused
            assert client.backlog.messages == 0

    run(body())


def test_an_oversize_message_is_reported_and_acked_and_the_connection_survives(
    run, make_client, stomp_broker: Broker
) -> None:
    async def body() -> None:
        failures = Recorder()
        got = Recorder()
        async with make_client(max_frame_size=2000) as client:
            client.listeners.on("handler_error", failures)
            await client.subscribe("/queue/big", got, ack="client-individual")
            stomp_broker.publish("/queue/big", b"x" * 10_000)
            stomp_broker.publish("/queue/big", b"small")
            (message, error), *_ = await failures.wait(1)
            assert isinstance(error, FrameTooLarge)
            assert message.body == b""
            assert [m.body for m in await got.wait(1)] == [b"small"]
            await eventually(lambda: stomp_broker.unacked("/queue/big") == 1)  # "small" only
            assert client.is_connected

    run(body())


def test_pending_bytes_counts_what_was_not_yet_handed_over(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            assert client.pending_bytes == 0
            await client.send("/queue/pb", b"x" * 1000)
            assert client.pending_bytes > 1000  # queued until the end of this iteration
            await asyncio.sleep(0)
            await eventually(lambda: client.pending_bytes == 0)

    run(body())


def test_a_slow_coroutine_handler_does_not_starve_heart_beats(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        timeouts = Recorder()
        done = asyncio.Event()

        async def slow(message: Message) -> None:
            await asyncio.sleep(0.6)  # six heart-beat intervals
            done.set()

        async with Client(stomp_broker.url, heart_beats=(100, 100)) as client:
            client.listeners.on("heartbeat_timeout", timeouts)
            await client.subscribe("/queue/slow-hb", slow)
            await client.send("/queue/slow-hb", b"x")
            await asyncio.wait_for(done.wait(), 5)
            assert client.is_connected
            assert timeouts.items == []
            assert stomp_broker.connections == 1  # the broker did not drop us either

    run(body())
