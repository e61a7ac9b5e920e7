"""client.observe(), client.stats(), the metrics hook and OpenTelemetry (SDK in-memory
exporters) against the in-process broker."""

from __future__ import annotations

import logging
import threading

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from stomp_enterprise import Client, ClientStats, ConfigError
from stomp_enterprise.client.client import Client as ClientClass
from stomp_enterprise.core.telemetry import _PROBE_NAME

FAST = "initialReconnectDelay=20&maxReconnectDelay=200"


@pytest.fixture
def tracing():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture
def metering():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield provider, reader
    provider.shutdown()


def metric_values(reader) -> dict[str, float]:
    """Sum of each metric's data points (a histogram: its count)."""
    values: dict[str, float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                total = 0.0
                for point in metric.data.data_points:
                    total += getattr(point, "value", None) or getattr(point, "count", 0)
                values[metric.name] = total
    return values


def test_stats_before_observe_is_a_config_error(stomp_broker, make_client) -> None:
    client = make_client().connect()
    with pytest.raises(ConfigError, match=r"call client.observe\(\) first"):
        client.stats()


def test_an_unobserved_client_keeps_the_bare_send_path(stomp_broker, make_client) -> None:
    client = make_client().connect()
    assert "send" not in vars(client)  # the class's send: no observation code at all
    assert client._observer is None
    client.observe()
    assert vars(client)["send"] == client._send_observed


def test_stats_count_sends_receives_acks_nacks_and_handlers(stomp_broker, make_client, recorder):
    client = make_client().connect()
    client.observe()
    done = recorder()

    def handler(message) -> None:
        done(message.body)
        if message.body == b"boom":
            raise ValueError("boom")
        if message.body == b"nack" and not message.redelivered:
            message.nack()  # redelivered once, then acked
        else:
            message.ack()

    client.subscribe("/queue/obs", handler, ack="client-individual", on_error="ack", receipt=True)
    client.send("/queue/obs", b"ack")
    client.send("/queue/obs", "nack")  # str: counted after encoding (4 bytes)
    client.send("/queue/obs", b"boom", receipt=True)
    done.wait(4)
    client._dispatcher.drain(5)
    assert client.stats() == ClientStats(
        sent=3,
        sent_bytes=len(b"ack") + len(b"nack") + len(b"boom"),
        received=4,
        received_bytes=len(b"ack") + 2 * len(b"nack") + len(b"boom"),
        redelivered=1,
        acked=3,  # "ack", "boom" by its error policy, "nack" redelivered
        nacked=1,
        handler_calls=4,
        handler_errors=1,
        handler_seconds=client.stats().handler_seconds,
    )
    assert client.stats().handler_seconds > 0


def test_pull_receives_transactions_and_the_hook_see_the_same_numbers(
    stomp_broker, make_client
) -> None:
    client = make_client().connect()
    seen: list[tuple[str, float]] = []
    client.observe(lambda name, value, attributes: seen.append((name, value)))
    sub = client.subscribe("/queue/pull", ack="client", receipt=True)
    with client.transaction() as tx:
        tx.send("/queue/pull", b"12345")
    message = sub.get(5)
    with client.transaction() as tx:
        tx.ack(message)
    stats = client.stats()
    assert (stats.sent, stats.sent_bytes, stats.received, stats.received_bytes) == (1, 5, 1, 5)
    assert stats.acked == 1
    totals: dict[str, float] = {}
    for name, value in seen:
        totals[name] = totals.get(name, 0) + value
    assert totals == {"sent": 1, "sent_bytes": 5, "received": 1, "received_bytes": 5, "acked": 1}


def test_a_failing_hook_is_logged_and_changes_nothing(stomp_broker, make_client, caplog):
    client = make_client().connect()

    def broken(name, value, attributes) -> None:
        raise RuntimeError("hook bug")

    client.observe(broken)
    with caplog.at_level(logging.ERROR, logger="stomp_enterprise"):
        client.send("/queue/x", b"abc", receipt=True)
    assert client.stats().sent == 1
    assert "metrics hook" in caplog.text


def test_requests_replies_and_reconnects_are_counted(stomp_broker, make_client, recorder):
    url = f"failover:(tcp://127.0.0.1:{stomp_broker.port})?{FAST}"
    server = make_client().connect()
    client = make_client(url).connect()
    counted = recorder()
    client.observe(lambda name, value, attrs: counted(name) if name == "reconnects" else None)
    server.serve("/queue/svc", lambda m: m.body, receipt=True)
    assert client.request("/queue/svc", b"x", timeout=5).body == b"x"
    stats = client.stats()
    assert (stats.requests, stats.replies, stats.late_replies) == (1, 1, 0)
    stomp_broker.drop_connections()
    assert counted.wait(1) == ["reconnects"]
    assert client.stats().reconnects == 1


def test_backlog_depth_is_in_the_snapshot(stomp_broker, make_client) -> None:
    client = make_client().connect()
    client.observe()
    sub = client.subscribe("/queue/deep", receipt=True)
    for _ in range(3):
        client.send("/queue/deep", b"xy")
    client.send("/queue/other", b"", receipt=True)  # the three are in the broker's hands
    while client.backlog.messages < 3:
        threading.Event().wait(0.01)
    stats = client.stats()
    assert (stats.backlog_messages, stats.backlog_bytes) == (3, 6)
    assert isinstance(stats, ClientStats)
    sub.get(1)


def test_one_trace_spans_a_request_and_its_reply_across_two_clients(
    stomp_broker, make_client, tracing
) -> None:
    provider, exporter = tracing
    server = make_client().connect()
    client = make_client().connect()
    server.observe(otel=True, tracer_provider=provider, spans="full")
    client.observe(otel=True, tracer_provider=provider, spans="full")
    server.serve("/queue/svc", lambda m: m.text.upper(), receipt=True)
    assert client.request("/queue/svc", "hi", timeout=5).text == "HI"
    server._dispatcher.drain(5)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) >= {
        "request /queue/svc",
        "send /queue/svc",
        "process /queue/svc",
        "send (temporary)",
    }
    trace_ids = {span.context.trace_id for span in spans.values()}
    assert len(trace_ids) == 1
    request = spans["request /queue/svc"]
    send = spans["send /queue/svc"]
    process = spans["process /queue/svc"]
    reply = spans["send (temporary)"]
    assert send.parent.span_id == request.context.span_id
    assert process.parent.span_id == send.context.span_id  # across the broker
    assert reply.parent.span_id == process.context.span_id
    # the request's span links to the reply's SEND (it ended when the reply arrived)
    assert [link.context.span_id for link in request.links] == [reply.context.span_id]
    assert (request.kind, send.kind, process.kind) == (
        SpanKind.CLIENT,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
    )
    # the wire carries the W3C context of the SEND span
    sent = stomp_broker.sent_messages("/queue/svc")[0]
    traceparent = sent.header("traceparent")
    assert traceparent.startswith(f"00-{send.context.trace_id:032x}-{send.context.span_id:016x}-")
    attributes = process.attributes
    assert attributes["messaging.destination.name"] == "/queue/svc"
    assert attributes["messaging.operation.type"] == "process"
    assert attributes["messaging.message.id"] == sent.message_id
    assert attributes["messaging.message.body.size"] == 2
    assert attributes["messaging.message.conversation_id"] == sent.header("correlation-id")
    assert "messaging.system" not in attributes  # the testing broker is neither
    assert spans["send (temporary)"].attributes["messaging.destination.temporary"] is True


def test_essential_spans_a_request_is_its_send_and_a_reply_is_its_process_span(
    stomp_broker, make_client, tracing
) -> None:
    provider, exporter = tracing
    server = make_client().connect()
    client = make_client().connect()
    server.observe(otel=True, tracer_provider=provider)  # spans="essential", the default
    client.observe(otel=True, tracer_provider=provider)
    server.serve("/queue/svc", lambda m: m.text.upper(), receipt=True)
    assert client.request("/queue/svc", "hi", timeout=5).text == "HI"
    server._dispatcher.drain(5)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"request /queue/svc", "process /queue/svc"}
    request, process = spans["request /queue/svc"], spans["process /queue/svc"]
    assert (request.kind, process.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert request.attributes["messaging.operation.type"] == "send"
    assert request.attributes["messaging.message.body.size"] == 2
    # the request's SEND carries the request span; the reply carries the process span
    sent = stomp_broker.sent_messages("/queue/svc")[0]
    context = request.context
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert sent.header("traceparent") == traceparent
    assert request.attributes["messaging.message.conversation_id"] == sent.header("correlation-id")
    assert process.parent.span_id == request.context.span_id  # across the broker
    assert [link.context.span_id for link in request.links] == [process.context.span_id]
    # a send() of the handler's own is still a send span, child of the process span
    exporter.clear()

    def forward(message) -> bytes:
        server.send("/queue/audit", message.body)
        return message.body

    server.serve("/queue/svc2", forward, receipt=True)
    client.request("/queue/svc2", "x", timeout=5)
    server._dispatcher.drain(5)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"request /queue/svc2", "process /queue/svc2", "send /queue/audit"}
    audit = spans["send /queue/audit"]
    assert audit.parent.span_id == spans["process /queue/svc2"].context.span_id
    assert [link.context.span_id for link in spans["request /queue/svc2"].links] == [
        spans["process /queue/svc2"].context.span_id
    ]


def test_an_unsampled_trace_never_reaches_the_sdk_and_still_crosses_the_broker(
    stomp_broker, make_client
) -> None:
    """ParentBased(ALWAYS_OFF) drops a trace at its root, decided without asking the sampler
    (the bound its check agreed on); its children are not handed to the SDK's sampler
    either, yet the W3C context (flags 00) still travels with each message."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sampled: list[str] = []
    should_sample = provider.sampler.should_sample

    def counting(*args, **kwargs):
        if args[2] != _PROBE_NAME:  # the shortcuts' one check when observe() is called
            sampled.append(args[2])  # the span name
        return should_sample(*args, **kwargs)

    provider.sampler.should_sample = counting  # type: ignore[method-assign]
    try:
        server = make_client().connect()
        client = make_client().connect()
        server.observe(otel=True, tracer_provider=provider)
        client.observe(otel=True, tracer_provider=provider)
        server.serve("/queue/svc", lambda m: m.body, receipt=True)
        assert client.request("/queue/svc", b"hi", timeout=5).body == b"hi"
        server._dispatcher.drain(5)
    finally:
        provider.shutdown()
    assert exporter.get_finished_spans() == ()
    assert sampled == []  # neither the root nor its children
    request = stomp_broker.sent_messages("/queue/svc")[0].header("traceparent")
    version, trace_id, span_id, flags = request.split("-")
    assert version == "00"
    assert int(trace_id, 16)
    assert int(span_id, 16)
    assert not int(flags, 16) & 1  # not sampled
    (reply,) = [m for m in stomp_broker.sent_messages() if m.destination != "/queue/svc"]
    _, reply_trace, reply_span, reply_flags = reply.header("traceparent").split("-")
    assert (reply_trace, reply_flags) == (trace_id, flags)  # the same trace, not sampled
    assert reply_span != span_id  # the process span's own (new) id


def test_messaging_system_follows_the_server_header(stomp_broker_factory, make_client, tracing):
    provider, exporter = tracing
    broker = stomp_broker_factory(name="RabbitMQ/3.10.8")
    client = make_client(broker.url).connect()
    client.observe(otel=True, tracer_provider=provider)
    client.send("/queue/x", b"", receipt=True)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["messaging.system"] == "rabbitmq"
    assert span.attributes["server.port"] == broker.port


def test_ack_nack_and_failures_are_spans(stomp_broker, make_client, tracing, recorder) -> None:
    provider, exporter = tracing
    client = make_client().connect()
    client.observe(otel=True, tracer_provider=provider, spans="full")
    done = recorder()

    def handler(message) -> None:
        done(message.body)
        if message.body == b"bad":
            raise ValueError("bad message")
        message.ack()

    client.subscribe("/queue/t", handler, ack="client-individual", on_error="ack", receipt=True)
    client.send("/queue/t", b"good")
    client.send("/queue/t", b"bad")
    done.wait(2)
    client._dispatcher.drain(5)
    spans = exporter.get_finished_spans()
    names = [span.name for span in spans]
    assert names.count("ack /queue/t") == 2
    failed = [s for s in spans if s.name == "process /queue/t" and not s.status.is_ok]
    assert len(failed) == 1
    assert failed[0].attributes["error.type"] == "ValueError"
    ack = next(s for s in spans if s.name == "ack /queue/t")
    assert ack.attributes["messaging.operation.type"] == "settle"
    assert ack.parent is not None  # inside the process span


def test_essential_acks_and_nacks_are_events_of_the_process_span(
    stomp_broker, make_client, tracing, recorder
) -> None:
    provider, exporter = tracing
    client = make_client().connect()
    client.observe(otel=True, tracer_provider=provider)
    done = recorder()

    def handler(message) -> None:
        if message.redelivered:  # the broker redelivers what was nacked
            message.ack()
        else:
            message.nack()
        done(message.redelivered)

    client.subscribe("/queue/t", handler, ack="client-individual", receipt=True)
    client.send("/queue/t", b"once")
    done.wait(2)
    client._dispatcher.drain(5)
    spans = exporter.get_finished_spans()
    assert sorted(span.name for span in spans) == [
        "process /queue/t",
        "process /queue/t",
        "send /queue/t",
    ]
    events = [
        [(event.name, event.attributes["messaging.message.id"]) for event in span.events]
        for span in spans
        if span.name == "process /queue/t"
    ]
    ids = [span.attributes["messaging.message.id"] for span in spans if span.name.startswith("p")]
    assert events == [[("nack", ids[0])], [("ack", ids[1])]]
    assert (client.stats().acked, client.stats().nacked) == (1, 1)


def test_observe_refuses_an_unknown_span_mode(stomp_broker, make_client) -> None:
    client = make_client().connect()
    with pytest.raises(ConfigError, match="spans must be one of essential, full"):
        client.observe(otel=True, spans="all")


def test_metrics_reach_the_meter_provider(stomp_broker, make_client, metering) -> None:
    provider, reader = metering
    client = make_client().connect()
    client.observe(otel=True, meter_provider=provider)
    sub = client.subscribe("/queue/m", receipt=True)
    client.send("/queue/m", b"abcd")
    sub.get(5)
    values = metric_values(reader)
    assert values["messaging.client.sent.messages"] == 1
    assert values["stomp.client.sent.bytes"] == 4
    assert values["messaging.client.consumed.messages"] == 1
    assert values["stomp.client.consumed.bytes"] == 4
    assert values["stomp.client.backlog.messages"] == 0


def test_a_no_op_tracer_provider_means_metrics_only(stomp_broker, make_client, metering) -> None:
    from opentelemetry.trace import NoOpTracerProvider

    provider, reader = metering
    client = make_client().connect()
    client.observe(otel=True, tracer_provider=NoOpTracerProvider(), meter_provider=provider)
    assert client._observer is not None
    assert client._observer.otel is not None
    assert client._observer._traced is None  # no span work at all
    client.serve("/queue/echo", lambda m: m.body, receipt=True)
    assert client.request("/queue/echo", b"abcd", timeout=5).body == b"abcd"
    sent = stomp_broker.sent_messages("/queue/echo")[0]
    assert sent.header("traceparent") is None
    client._dispatcher.drain(5)
    values = metric_values(reader)
    assert values["messaging.client.sent.messages"] == 2  # the request and its reply
    assert values["messaging.process.duration"] == 1


def test_observe_refuses_a_hook_that_is_not_callable(stomp_broker) -> None:
    client = Client(stomp_broker.url)
    with pytest.raises(ConfigError, match="callable"):
        client.observe("print")  # type: ignore[arg-type]
    assert ClientClass.send is not None
