"""Request/reply and tracing on every real broker: the reply destination each broker gives a
client (see ``stomp_enterprise/core/requests.py``), many threads over one reply
subscription, timeouts and late replies, and one OpenTelemetry trace across two clients."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from integration.conftest import ClientFactory
from integration.helpers import wait_until
from stomp_enterprise import Message, RequestTimeout

#: what the responder finds in ``reply-to``: each broker's own name for the requester's
#: temporary queue (Artemis has none: a private queue named by the client)
REPLY_TO = {
    "activemq": "/remote-temp-queue/ID:",
    "rabbitmq": "/reply-queue/amq.gen-",
    "apollo": "/queue/temp.",
    "artemis": "/queue/stomp-reply.",
}


def test_request_reply_round_trip(make_client: ClientFactory, names, broker_name) -> None:
    """The reply comes back with the request's correlation-id; the responder saw the
    broker's rewritten reply-to."""
    server = make_client()
    client = make_client()
    service = names("queue")
    seen: list[Message] = []

    def respond(message: Message) -> str:
        seen.append(message)
        return message.text[::-1]

    server.serve(service, respond, receipt=True)
    reply = client.request(service, "stressed", timeout=10)
    assert reply.text == "desserts"
    assert reply.headers["correlation-id"] == seen[0].headers["correlation-id"]
    assert seen[0].headers["reply-to"].startswith(REPLY_TO[broker_name])


def test_sixteen_threads_share_one_reply_subscription(make_client: ClientFactory, names) -> None:
    server = make_client()
    client = make_client()
    service = names("queue")
    server.serve(service, lambda m: m.body.upper(), receipt=True)
    results: dict[str, bytes] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                body = f"r{n}-{i}".encode()
                results[body.decode()] = client.request(service, body, timeout=15).body
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert results == {f"r{n}-{i}": f"R{n}-{i}".encode() for n in range(16) for i in range(10)}


def test_timeout_then_late_reply_is_dropped_and_counted(make_client: ClientFactory, names):
    server = make_client()
    client = make_client()
    client.observe()
    service = names("queue")
    release = threading.Event()

    def slow(message: Message) -> bytes:
        release.wait(10)
        return b"late"

    server.serve(service, slow, receipt=True)
    with pytest.raises(RequestTimeout) as caught:
        client.request(service, b"?", timeout=0.5)
    assert caught.value.destination == service
    release.set()
    assert wait_until(lambda: client.stats().late_replies == 1, 10)
    server.unsubscribe(server.subscriptions[0])
    server.serve(service, lambda m: b"fresh", receipt=True)
    assert client.request(service, b"?", timeout=10).body == b"fresh"
    assert client.stats().request_timeouts == 1


@pytest.mark.parametrize("spans", ["essential", "full"])
def test_one_trace_across_two_clients_and_the_broker(
    make_client: ClientFactory, names, broker_name, spans
) -> None:
    """traceparent survives each broker: the responder's process span is the child of the
    span whose context the request carried (``essential``: the request span itself;
    ``full``: its send span)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = make_client()
    client = make_client()
    server.observe(otel=True, tracer_provider=provider, spans=spans)
    client.observe(otel=True, tracer_provider=provider, spans=spans)
    service = names("queue")
    server.serve(service, lambda m: b"pong", receipt=True)
    assert client.request(service, b"ping", timeout=10).body == b"pong"
    expected = 4 if spans == "full" else 2
    assert wait_until(lambda: len(exporter.get_finished_spans()) >= expected, 10)
    spans_by_name = {span.name: span for span in exporter.get_finished_spans()}
    assert len(spans_by_name) == expected
    carried = spans_by_name[f"send {service}" if spans == "full" else f"request {service}"]
    process = spans_by_name[f"process {service}"]
    assert process.parent.span_id == carried.context.span_id
    assert len({span.context.trace_id for span in spans_by_name.values()}) == 1
    system = {"activemq": "activemq", "artemis": "activemq", "rabbitmq": "rabbitmq"}
    assert carried.attributes.get("messaging.system") == system.get(broker_name)
    provider.shutdown()


def test_asyncio_request_reply(broker, names, broker_name) -> None:
    """The asyncio twins on the same broker: 32 concurrent requests over one reply
    subscription, the reply-to as the broker rewrote it."""
    from stomp_enterprise.aio import Client as AsyncClient

    service = names("queue")
    seen: list[str] = []

    async def main() -> list[bytes]:
        options = {
            "login": broker.login,
            "passcode": broker.passcode,
            "vhost": broker.vhost,
            "heart_beats": (0, 0),
            **broker.transport_options,
        }
        async with (
            AsyncClient(broker.url, **options) as server,
            AsyncClient(broker.url, **options) as client,
        ):

            async def respond(message) -> bytes:
                seen.append(message.headers["reply-to"])
                return message.body[::-1]

            await server.serve(service, respond, receipt=True)
            replies = await asyncio.gather(
                *(client.request(service, f"{i:03d}".encode(), timeout=15) for i in range(32))
            )
            return [reply.body for reply in replies]

    assert asyncio.run(main()) == [f"{i:03d}"[::-1].encode() for i in range(32)]
    assert seen[0].startswith(REPLY_TO[broker_name])
