"""The asyncio twins of request(), serve() and observe() against the in-process broker (the
threaded client's tests in tests/client/test_request_reply.py and test_observability.py
hold the same contract), plus one trace across an asyncio and a threaded client."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stomp_enterprise import Client as ThreadedClient
from stomp_enterprise import ClientStats, ConfigError, ConnectionLost, Reply, RequestTimeout
from stomp_enterprise.testing import Broker
from tests.aio.conftest import Recorder, eventually

FLAVOURS = ["stomp-enterprise-testing", "RabbitMQ/3.10.8", "ActiveMQ-Artemis/2.40.0"]
FAST = "initialReconnectDelay=20&maxReconnectDelay=200"


@pytest.fixture(params=FLAVOURS)
def broker(request, stomp_broker_factory) -> Broker:
    return stomp_broker_factory(name=request.param)


def test_sixty_four_tasks_share_one_reply_subscription(run_any_loop, make_client, broker):
    async def body() -> None:
        async with make_client(broker.url) as server, make_client(broker.url) as client:

            async def upper(message) -> str:
                await asyncio.sleep(0)
                return message.text.upper()

            await server.serve("/queue/svc", upper, receipt=True)
            replies = await asyncio.gather(
                *(client.request("/queue/svc", f"t{i}", timeout=5) for i in range(64))
            )
            assert [r.text for r in replies] == [f"T{i}" for i in range(64)]
            request = broker.sent_messages("/queue/svc")[0]
            assert request.header("reply-to").startswith(
                ("/remote-temp-queue/", "/reply-queue/", "/queue/stomp-reply.")
            )
            name = client._requester.name
            assert [s.id for s in client.subscriptions if s.id.endswith(name)] != []
            assert len([s for s in client.subscriptions if s.id.endswith(name)]) == 1

    run_any_loop(body())


def test_timeout_names_the_request_and_a_late_reply_is_counted(run, make_client, broker):
    async def body() -> None:
        async with make_client(broker.url) as server, make_client(broker.url) as client:
            client.observe()
            release = asyncio.Event()

            async def slow(message) -> bytes:
                await release.wait()
                return b"late"

            await server.serve("/queue/slow", slow, receipt=True)
            with pytest.raises(RequestTimeout) as caught:
                await client.request("/queue/slow", b"?", timeout=0.2)
            request = broker.sent_messages("/queue/slow")[0]
            assert caught.value.correlation_id == request.header("correlation-id")
            assert caught.value.destination == "/queue/slow"
            release.set()
            await eventually(lambda: client.stats().late_replies == 1)
            assert client.stats().request_timeouts == 1

    run(body())


def test_a_lost_connection_fails_the_request_and_the_next_one_works(
    run, make_client, stomp_broker
) -> None:
    async def body() -> None:
        url = f"failover:(tcp://127.0.0.1:{stomp_broker.port})?{FAST}"
        async with make_client(url) as server, make_client(url) as client:
            arrived, hold = asyncio.Event(), asyncio.Event()

            async def first_blocks(message) -> bytes:
                if message.body == b"first":
                    arrived.set()
                    await hold.wait()
                return message.body.upper()

            await server.serve("/queue/svc", first_blocks, on_error="ignore", receipt=True)
            asking = asyncio.ensure_future(client.request("/queue/svc", b"first", timeout=10))
            await arrived.wait()
            await asyncio.get_running_loop().run_in_executor(None, stomp_broker.drop_connections)
            with pytest.raises(ConnectionLost, match="may or may not have been processed"):
                await asking
            hold.set()
            reply = await client.request("/queue/svc", b"second", timeout=5)
            assert reply.body == b"SECOND"

    run(body())


def test_serve_replies_with_a_reply_object_and_errors_go_to_the_policy(run, make_client):
    async def body() -> None:
        async with make_client() as server, make_client() as client:
            failures = Recorder()

            def fails(message) -> None:
                raise ValueError("no")

            await server.serve(
                "/queue/json",
                lambda m: Reply(b"{}", {"x-status": "200"}, "application/json"),
                ack="client-individual",
                receipt=True,
            )
            await server.serve(
                "/queue/fails", fails, on_error=lambda m, e: failures(e), receipt=True
            )
            reply = await client.request("/queue/json", b"", timeout=5)
            assert (reply.body, reply.headers["x-status"]) == (b"{}", "200")
            assert reply.content_type == "application/json"
            with pytest.raises(RequestTimeout):
                await client.request("/queue/fails", b"", timeout=0.3)
            assert isinstance((await failures.wait(1))[0], ValueError)
            with pytest.raises(ConfigError, match="correlation-id and reply-to"):
                await client.request("/queue/json", b"", timeout=1, headers={"reply-to": "x"})
            with pytest.raises(ConfigError, match="timeout"):
                await client.request("/queue/json", b"", timeout=0)

    run(body())


def test_stats_count_sends_receives_and_acks(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as client:
            with pytest.raises(ConfigError, match="observe"):
                client.stats()
            assert "send" not in vars(client)  # unobserved: the bare send
            seen = Recorder()
            client.observe(lambda name, value, attributes: seen((name, value)))
            sub = await client.subscribe("/queue/s", ack="client-individual", receipt=True)
            await client.send("/queue/s", b"abc", receipt=True)
            await (await sub.get(5)).ack()
            async with client.transaction() as tx:
                await tx.send("/queue/s", b"de")
            message = await sub.get(5)
            await message.nack()
            stats = client.stats()
            assert stats == ClientStats(
                sent=2,
                sent_bytes=5,
                received=2,
                received_bytes=5,
                acked=1,
                nacked=1,
                backlog_messages=stats.backlog_messages,
                backlog_bytes=stats.backlog_bytes,
            )
            assert ("sent", 1) in seen.items

    run(body())


@pytest.mark.parametrize("spans", ["full", "essential"])
@pytest.mark.parametrize("asyncio_side", ["requester", "responder"])
def test_one_trace_across_an_asyncio_and_a_threaded_client(
    run, make_client, stomp_broker, spans, asyncio_side
):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    threaded = ThreadedClient(stomp_broker.url, heart_beats=(0, 0)).connect()
    try:
        threaded.observe(otel=True, tracer_provider=provider, spans=spans)
        if asyncio_side == "requester":
            threaded.serve("/queue/echo", lambda m: m.body, receipt=True)

        async def body() -> None:
            async with make_client() as client:
                client.observe(otel=True, tracer_provider=provider, spans=spans)
                if asyncio_side == "requester":
                    reply = await client.request("/queue/echo", b"ping", timeout=5)
                else:
                    await client.serve("/queue/echo", lambda m: m.body, receipt=True)
                    loop = asyncio.get_running_loop()
                    reply = await loop.run_in_executor(
                        None, lambda: threaded.request("/queue/echo", b"ping", timeout=5)
                    )
                    expected = 4 if spans == "full" else 2
                    await eventually(lambda: len(exporter.get_finished_spans()) >= expected)
                assert reply.body == b"ping"

        run(body())
        threaded._dispatcher.drain(5)
    finally:
        threaded.disconnect()
        provider.shutdown()
    spans_by_name = {span.name: span for span in exporter.get_finished_spans()}
    assert len({span.context.trace_id for span in spans_by_name.values()}) == 1
    request, process = spans_by_name["request /queue/echo"], spans_by_name["process /queue/echo"]
    if spans == "full":
        assert set(spans_by_name) == {
            "request /queue/echo",
            "send /queue/echo",
            "process /queue/echo",
            "send (temporary)",
        }
        send = spans_by_name["send /queue/echo"]
        assert process.parent.span_id == send.context.span_id
        assert send.parent.span_id == request.context.span_id
        replied = spans_by_name["send (temporary)"]
        assert replied.parent.span_id == process.context.span_id
    else:
        assert set(spans_by_name) == {"request /queue/echo", "process /queue/echo"}
        assert process.parent.span_id == request.context.span_id
        replied = process  # the reply carried the process span's context
    assert [link.context.span_id for link in request.links] == [replied.context.span_id]


def test_essential_acks_are_events_of_the_handler_process_span(run, make_client) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def body() -> None:
        async with make_client() as client:
            client.observe(otel=True, tracer_provider=provider)
            done = asyncio.Event()

            async def handler(message) -> None:
                await message.ack()
                done.set()

            await client.subscribe("/queue/e", handler, ack="client-individual", receipt=True)
            await client.send("/queue/e", b"x")
            await asyncio.wait_for(done.wait(), 5)
            await eventually(lambda: len(exporter.get_finished_spans()) == 2)
            assert client.stats().acked == 1

    try:
        run(body())
    finally:
        provider.shutdown()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"send /queue/e", "process /queue/e"}
    process = spans["process /queue/e"]
    assert [event.name for event in process.events] == ["ack"]
    assert (
        process.events[0].attributes["messaging.message.id"]
        == (process.attributes["messaging.message.id"])
    )


def test_cancelling_a_request_forgets_it_and_its_reply_is_late(run, make_client) -> None:
    async def body() -> None:
        async with make_client() as server, make_client() as client:
            client.observe()
            release, arrived = asyncio.Event(), asyncio.Event()

            async def slow(message) -> bytes:
                arrived.set()
                await release.wait()
                return b"late"

            await server.serve("/queue/slow", slow, receipt=True)
            asking = asyncio.ensure_future(client.request("/queue/slow", b"?", timeout=10))
            await arrived.wait()
            asking.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asking
            assert len(client._requester.table) == 0
            release.set()
            await eventually(lambda: client.stats().late_replies == 1)
            assert client.stats().request_timeouts == 0

    run(body())
