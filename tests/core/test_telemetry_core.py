"""Counters, the metrics hook and the OpenTelemetry side of core/telemetry.py, without I/O."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stomp_enterprise.core.stats import COUNTERS, ClientStats, Counters
from stomp_enterprise.core.telemetry import (
    _PROBE_NAME,
    INSTRUMENTS,
    Observer,
    messaging_system,
    observed_body,
    traceparent,
    traceparent_fields,
)
from stomp_enterprise.errors import ConfigError


def test_every_counter_is_a_stats_field_and_an_instrument() -> None:
    fields = set(ClientStats.__dataclass_fields__)
    assert set(COUNTERS) <= fields
    assert fields - set(COUNTERS) == {"backlog_messages", "backlog_bytes"}
    assert set(INSTRUMENTS) == set(COUNTERS)


def test_counters_snapshot() -> None:
    counters = Counters()
    counters.add("sent", 2)
    counters.add("handler_seconds", 0.25)
    stats = counters.snapshot(3, 40)
    assert stats == ClientStats(sent=2, handler_seconds=0.25, backlog_messages=3, backlog_bytes=40)
    assert type(stats.sent) is int


@pytest.mark.parametrize(
    ("server", "system"),
    [
        ("ActiveMQ/5.17.2", "activemq"),
        ("ActiveMQ-Artemis/2.40.0", "activemq"),
        ("RabbitMQ/3.10.8", "rabbitmq"),
        ("apache-apollo/1.7.1", None),
        ("stomp-enterprise-testing", None),
        (None, None),
    ],
)
def test_messaging_system_comes_from_the_server_header(server, system) -> None:
    assert messaging_system(server) == system
    observer = Observer(contextlib.nullcontext())
    observer.connected(server, "127.0.0.1", 61613)
    attributes = observer.attributes("/queue/a")
    assert attributes.get("messaging.system") == system
    assert ("messaging.system" in attributes) is (system is not None)
    assert attributes["messaging.destination.name"] == "/queue/a"
    assert attributes["server.port"] == 61613


@pytest.mark.parametrize(
    "destination",
    ["/temp-queue/x", "/reply-queue/amq.gen-1", "/remote-temp-queue/ID:1", "/temp-topic/t"],
)
def test_temporary_destinations_are_not_named_in_attributes(destination) -> None:
    attributes = Observer(contextlib.nullcontext()).attributes(destination)
    assert attributes["messaging.destination.temporary"] is True
    assert attributes["messaging.destination.name"] == "(temporary)"


def test_each_measurement_reaches_the_counters_and_the_hook() -> None:
    seen = []
    observer = Observer(
        contextlib.nullcontext(),
        hook=lambda *args: seen.append(args),
        backlog=lambda: (5, 500),
    )
    observer.sent(None, "/queue/a", 10)
    observer.sent(None, "/queue/a", 99, RuntimeError("not counted"))
    span = observer.processing({"redelivered": "true"}, "/queue/b", "s1", 7)
    assert span is None  # no tracing
    observer.processed(span, "/queue/b", 0.5, ValueError("boom"))
    observer.settled(observer.settling("ack", "/queue/b", "m1"), "ack", "/queue/b", None)
    observer.settled(None, "nack", "/queue/b", None)
    stats = observer.stats()
    assert stats == ClientStats(
        sent=1,
        sent_bytes=10,
        received=1,
        received_bytes=7,
        redelivered=1,
        acked=1,
        nacked=1,
        handler_calls=1,
        handler_errors=1,
        handler_seconds=0.5,
        backlog_messages=5,
        backlog_bytes=500,
    )
    names = [name for name, _, _ in seen]
    assert names == [
        "sent",
        "sent_bytes",
        "received",
        "received_bytes",
        "redelivered",
        "handler_calls",
        "handler_seconds",
        "handler_errors",
        "acked",
        "nacked",
    ]
    assert seen[0][2]["messaging.destination.name"] == "/queue/a"


def test_an_unknown_counter_or_hook_is_a_config_error() -> None:
    observer = Observer(contextlib.nullcontext())
    with pytest.raises(ConfigError, match="unknown counter"):
        observer.count("sent_messages")
    with pytest.raises(ConfigError, match="callable"):
        Observer(contextlib.nullcontext(), hook="print")  # type: ignore[arg-type]


def test_without_opentelemetry_otel_is_a_clear_config_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'stomp-enterprise\[otel\]'"):
        Observer(contextlib.nullcontext(), otel=True)


def test_importing_the_core_does_not_import_opentelemetry() -> None:
    from tests.subproc import run_python

    out = run_python(
        "import sys, stomp_enterprise.core.telemetry, stomp_enterprise.core.requests\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))",
        measured=False,
    )
    assert out.strip() == "[]"


def test_the_observed_body_is_encoded_once_and_measured() -> None:
    assert observed_body(b"abc", None) == (b"abc", None, 3, {})
    assert observed_body("é", None) == ("é".encode(), "text/plain;charset=utf-8", 2, {})
    assert observed_body(bytearray(b"xy"), "a/b", {"priority": 1}) == (
        b"xy",
        "a/b",
        2,
        {"priority": 1},
    )


def test_an_observed_typed_payload_is_encoded_with_its_codec_and_measured() -> None:
    payload, content_type, size, options = observed_body({"a": 1}, None, {"ttl": 5})
    assert str(content_type).startswith("application/json")
    assert (size, options) == (len(payload), {"ttl": 5})
    assert json.loads(payload) == {"a": 1}

    class Upper:
        content_type = "text/x-upper"

        def encode(self, value: Any) -> bytes:
            return str(value).upper().encode()

        def decode(self, data: bytes, target: Any) -> Any:
            return data.decode()

    codec = Upper()
    assert observed_body("abc", None, {"codec": codec}) == (b"ABC", "text/x-upper", 3, {})
    unencodable = object()  # the send itself raises (inside the observed call)
    assert observed_body(unencodable, None, {"codec": None}) == (
        unencodable,
        None,
        0,
        {"codec": None},
    )


# ------------------------------------------------------------ OpenTelemetry, without I/O


@pytest.fixture
def global_textmap():
    """Restore OpenTelemetry's global propagator after a test that replaces it."""
    from opentelemetry import propagate

    saved = propagate.get_global_textmap()
    yield propagate
    propagate.set_global_textmap(saved)


def traced(**options: Any) -> Observer:
    from opentelemetry.sdk.trace import TracerProvider

    return Observer(
        contextlib.nullcontext(), otel=True, tracer_provider=TracerProvider(), **options
    )


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    "headers",
    [
        {"traceparent": TRACEPARENT},
        {"traceparent": TRACEPARENT, "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
        {"traceparent": TRACEPARENT.replace("-01", "-00")},
        {"traceparent": TRACEPARENT, "baggage": "user=alice"},  # through the API
        {"traceparent": "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra"},
        {"traceparent": " " + TRACEPARENT},  # the API tolerates leading blanks
        {"traceparent": TRACEPARENT.upper()},
        {"traceparent": "00-00000000000000000000000000000000-b7ad6b7169203331-01"},
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"},
        {"traceparent": "garbage"},
        {},
    ],
)
def test_the_direct_w3c_reading_equals_the_propagator_api(headers) -> None:
    from opentelemetry import propagate, trace

    otel = traced().otel
    assert otel is not None
    expected = trace.get_current_span(propagate.extract(headers)).get_span_context()
    assert otel.extract(headers) == expected
    assert otel.extract(headers).trace_state == expected.trace_state


def test_the_direct_w3c_writing_equals_the_propagator_api() -> None:
    from opentelemetry import baggage, context, propagate, trace
    from opentelemetry.trace.span import TraceState

    otel = traced().otel
    assert otel is not None
    for span_context in [
        trace.SpanContext(1 << 100, 7, False, trace.TraceFlags(1)),
        trace.SpanContext(5, 1 << 60, False, trace.TraceFlags(0), TraceState([("k", "v")])),
        trace.INVALID_SPAN_CONTEXT,
    ]:
        ours: dict[str, str] = {}
        otel.inject(ours, span_context)
        theirs: dict[str, str] = {}
        propagate.inject(theirs, trace.set_span_in_context(trace.NonRecordingSpan(span_context)))
        assert ours == theirs
    token = context.attach(baggage.set_baggage("user", "alice"))  # baggage: through the API
    try:
        ours = {}
        otel.inject(ours, trace.SpanContext(3, 4, False, trace.TraceFlags(1)))
    finally:
        context.detach(token)
    assert ours["baggage"] == "user=alice"
    assert ours["traceparent"] == f"00-{3:032x}-{4:016x}-01"


@given(
    trace_id=st.integers(min_value=1, max_value=(1 << 128) - 1),
    span_id=st.integers(min_value=1, max_value=(1 << 64) - 1),
    flags=st.integers(min_value=0, max_value=255),
)
def test_the_traceparent_written_is_the_propagators(trace_id, span_id, flags) -> None:
    from opentelemetry import propagate, trace

    written: dict[str, str] = {}
    span_context = trace.SpanContext(trace_id, span_id, False, trace.TraceFlags(flags))
    propagate.inject(written, trace.set_span_in_context(trace.NonRecordingSpan(span_context)))
    assert traceparent(trace_id, span_id, flags) == written["traceparent"]
    assert traceparent(f"{trace_id:032x}", span_id, f"{flags:02x}") == written["traceparent"]


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ((1 << 128, 1, 1), f"00-{1 << 128:032x}-0000000000000001-01"),
        ((1, 1 << 64, 0), f"00-00000000000000000000000000000001-{1 << 64:016x}-00"),
        ((1, 2, 256), "00-00000000000000000000000000000001-0000000000000002-100"),
    ],
)
def test_ids_out_of_w3c_range_are_written_as_opentelemetry_writes_them(ids, expected) -> None:
    assert traceparent(*ids) == expected


W3C_VERSION_00 = re.compile("00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@given(
    st.one_of(
        st.text(alphabet="0123456789abcdefABX- _", min_size=50, max_size=58),
        st.builds(
            lambda parts, at, char: parts[:at] + char + parts[at + 1 :],
            st.just(TRACEPARENT),
            st.integers(min_value=0, max_value=54),
            st.sampled_from("0fF-g_ \n+"),
        ),
    )
)
def test_the_traceparent_test_is_the_w3c_pattern(value) -> None:
    matched = W3C_VERSION_00.fullmatch(value)
    assert traceparent_fields(value) == (None if matched is None else matched.groups())


def test_the_current_context_read_directly_is_the_apis() -> None:
    from opentelemetry import context, trace

    otel = traced().otel
    assert otel is not None
    contexts = otel.contexts
    assert contexts.variable is not None  # the default runtime context: direct
    assert contexts.span() is trace.INVALID_SPAN
    span = trace.NonRecordingSpan(trace.SpanContext(5, 6, False))
    token = contexts.attach_span(span)
    try:
        assert trace.get_current_span() is span
        assert contexts.span() is span
        assert contexts.value("absent") is None
    finally:
        contexts.detach(token)
    assert trace.get_current_span() is trace.INVALID_SPAN
    api_token = context.attach(trace.set_span_in_context(span))
    try:
        assert contexts.span() is span  # set through the API, read directly
    finally:
        context.detach(api_token)


def test_a_token_that_cannot_be_reset_is_logged_as_the_api_does(caplog) -> None:
    from opentelemetry import trace

    otel = traced().otel
    assert otel is not None
    token = otel.contexts.attach_span(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT))
    otel.contexts.detach(token)
    otel.contexts.detach(token)  # used twice: the variable refuses it
    assert "Failed to detach context" in caplog.text


def test_another_runtime_context_is_used_through_the_api(monkeypatch) -> None:
    from opentelemetry import context, trace
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    class Other(ContextVarsRuntimeContext):  # what OTEL_PYTHON_CONTEXT could name
        pass

    monkeypatch.setattr(context, "_RUNTIME_CONTEXT", Other())
    observer = traced()
    assert observer.otel is not None
    contexts = observer.otel.contexts
    assert contexts.variable is None
    span = observer.processing({"traceparent": f"00-{5:032x}-{6:016x}-00"}, "/q/a", "1", 0)
    assert span is not None
    assert trace.get_current_span() is span[0] is contexts.span()
    observer.processed(span, "/q/a", 0.0, None)
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_a_span_made_without_the_sdk_behaves_as_a_non_recording_span() -> None:
    from opentelemetry import trace

    observer = traced()
    assert observer.otel is not None
    span = observer.processing({"traceparent": f"00-{5:032x}-{6:016x}-02"}, "/q/a", "1", 0)
    assert span is not None
    made = span[0]
    assert isinstance(made, trace.NonRecordingSpan)
    made.set_attribute("k", "v")
    made.add_event("e")
    made.set_status(trace.Status(trace.StatusCode.ERROR))
    made.record_exception(ValueError("x"))
    made.update_name("n")
    observer.processed(span, "/q/a", 0.0, None)
    context = made.get_span_context()
    assert (context.trace_id, context.trace_flags, context.is_remote) == (5, 2, False)
    assert made.traceparent == f"00-{5:032x}-{context.span_id:016x}-02"
    assert repr(made) == f"NonRecordingSpan({context!r})"
    assert not made.is_recording()


def test_another_global_propagator_is_used_through_the_api(global_textmap) -> None:
    from opentelemetry import trace
    from opentelemetry.propagators.textmap import TextMapPropagator

    class Custom(TextMapPropagator):
        def inject(self, carrier, context=None, setter=None) -> None:
            span_context = trace.get_current_span(context).get_span_context()
            carrier["x-trace"] = f"{span_context.trace_id}:{span_context.span_id}"

        def extract(self, carrier, context=None, getter=None):
            trace_id, span_id = map(int, carrier["x-trace"].split(":"))
            remote = trace.SpanContext(trace_id, span_id, True, trace.TraceFlags(1))
            return trace.set_span_in_context(trace.NonRecordingSpan(remote))

        @property
        def fields(self) -> set[str]:
            return {"x-trace"}

    otel = traced().otel
    assert otel is not None
    headers: dict[str, str] = {}
    otel.inject(headers, trace.SpanContext(9, 10, False, trace.TraceFlags(1)))
    assert "traceparent" in headers  # the default propagator, read when it was current
    global_textmap.set_global_textmap(Custom())
    headers = {}
    otel.inject(headers, trace.SpanContext(9, 10, False, trace.TraceFlags(1)))
    assert headers == {"x-trace": "9:10"}
    assert (otel.extract(headers).trace_id, otel.extract(headers).span_id) == (9, 10)


@pytest.mark.parametrize(
    ("sampler", "shortcut"),
    [
        ("ParentBased(ALWAYS_ON)", True),
        ("ParentBased(TraceIdRatioBased(0.1))", True),
        ("ALWAYS_ON", False),
        ("TraceIdRatioBased(0.1)", False),
        ("ParentBased(ALWAYS_ON, remote_parent_not_sampled=ALWAYS_ON)", False),
    ],
)
def test_children_of_an_unsampled_context_skip_the_sdk_only_when_its_sampler_drops_them(
    sampler, shortcut
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace import sampling as samplers

    provider = TracerProvider(sampler=eval(sampler, vars(samplers)))
    calls: list[str] = []
    should_sample = provider.sampler.should_sample

    def counting(*args: Any, **kwargs: Any) -> Any:
        name = kwargs["name"] if "name" in kwargs else args[2]
        if name != _PROBE_NAME:  # the shortcuts' one check when the observer is made
            calls.append(name)
        return should_sample(*args, **kwargs)

    provider.sampler.should_sample = counting  # type: ignore[method-assign]
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    unsampled = f"00-{0xABC:032x}-{0xDEF:016x}-00"
    span = observer.processing({"traceparent": unsampled}, "/queue/a", "s1", 1)
    assert span is not None
    made = span[0].get_span_context()
    observer.processed(span, "/queue/a", 0.0, None)
    assert calls == ([] if shortcut else ["process /queue/a"])
    assert made.trace_id == 0xABC
    assert made.span_id not in (0, 0xDEF)
    if shortcut:  # what ParentBased makes of it: not sampled, not recording
        assert not made.trace_flags.sampled
        assert not span[0].is_recording()
    assert trace.get_current_span() is trace.INVALID_SPAN  # the context was restored
    provider.shutdown()


def test_an_unknown_span_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="spans must be one of essential, full, got 'some'"):
        Observer(contextlib.nullcontext(), spans="some")


class _Ids:
    """An id generator handing out the given trace ids in turn (span ids counting up)."""

    def __init__(self, *trace_ids: int) -> None:
        self.trace_ids = list(trace_ids)
        self.span_id = 0

    def generate_trace_id(self) -> int:
        return self.trace_ids.pop(0)

    def generate_span_id(self) -> int:
        self.span_id += 1
        return self.span_id

    def is_trace_id_random(self) -> bool:
        return True


def _asked(provider: Any) -> list[int]:
    """The trace ids ``provider``'s sampler is asked about, in order."""
    asked: list[int] = []
    should_sample = provider.sampler.should_sample

    def counting(*args: Any, **kwargs: Any) -> Any:
        if args[2] != _PROBE_NAME:  # the shortcuts' one check when the observer is made
            asked.append(args[1])
        return should_sample(*args, **kwargs)

    provider.sampler.should_sample = counting
    return asked


def test_ids_come_from_the_generators_own_calls(monkeypatch) -> None:
    """The SDK's RandomIdGenerator: its getrandbits calls made directly, and a 0 drawn (not
    an id) asks the generator, which draws again; any other generator: its own methods."""
    import random

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from stomp_enterprise.core.telemetry import _id_makers

    with monkeypatch.context() as patch:
        patch.setattr(random, "getrandbits", lambda bits: bits + 1)
        trace_id, span_id = _id_makers(RandomIdGenerator())
    assert (trace_id(), span_id()) == (129, 65)
    custom = _Ids(5)
    assert _id_makers(custom) == (custom.generate_trace_id, custom.generate_span_id)
    patched = RandomIdGenerator()
    patched.generate_span_id = lambda: 3  # type: ignore[method-assign]
    assert _id_makers(patched)[1]() == 3

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    assert observer.otel is not None
    shortcuts = observer.otel._shortcuts
    assert shortcuts is not None
    shortcuts._trace_id = shortcuts._span_id = lambda: 0  # a 0 drawn
    request = observer.requesting("/queue/a")
    assert request is not None
    made = request[0].get_span_context()
    assert made.trace_id  # the SDK's generator drew again
    assert made.span_id
    assert request[0].traceparent == f"00-{made.trace_id:032x}-{made.span_id:016x}-02"
    observer.requested(request, "/queue/a", None)
    provider.shutdown()


def test_a_root_is_sampled_once_on_the_trace_id_its_span_carries() -> None:
    """ParentBased(TraceIdRatioBased(1/2)): the sampler decides on the root's trace id;
    a sampled root is the SDK's span (through the processors) with that trace id, a dropped
    one is not handed to the SDK and carries its trace id unsampled."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    kept, dropped = 1 << 100 | 5, (1 << 100) | ((1 << 64) - 5)  # below / above the bound
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(0.5)), id_generator=_Ids(kept, dropped)
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    asked = _asked(provider)
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    headers: list[str] = []
    for _ in range(2):
        span = observer.requesting("/queue/a")
        observer.send("/queue/a", {}, 3, lambda h: headers.append((h or {})["traceparent"]))
        observer.requested(span, "/queue/a", None)
    (recorded,) = exporter.get_finished_spans()
    assert recorded.name == "request /queue/a"
    assert recorded.context.trace_id == kept
    assert recorded.attributes["messaging.message.body.size"] == 3
    assert asked == [kept]  # the SDK's, for the sampled root: ours compared with the bound
    assert headers[0] == f"00-{kept:032x}-{recorded.context.span_id:016x}-03"
    _, trace_id, span_id, flags = headers[1].split("-")
    assert (int(trace_id, 16), flags) == (dropped, "02")  # random trace id, not sampled
    assert int(span_id, 16)
    provider.shutdown()


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_a_root_made_without_the_sdk_is_the_span_the_sdk_makes(ratio) -> None:
    """The same flags, trace state and headers as the SDK's own root span, for a root
    ParentBased drops (ratio 0) or samples (ratio 1; made by the SDK)."""
    from opentelemetry import propagate, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(ratio)), id_generator=_Ids(7, 7)
    )
    theirs = provider.get_tracer("theirs").start_span("request /queue/a")
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    span = observer.requesting("/queue/a")
    assert span is not None
    ours = span[0]
    assert ours.is_recording() == theirs.is_recording() == (ratio == 1.0)
    ours_context, theirs_context = ours.get_span_context(), theirs.get_span_context()
    assert ours_context.trace_id == theirs_context.trace_id == 7
    assert ours_context.trace_flags == theirs_context.trace_flags
    assert ours_context.trace_state == theirs_context.trace_state
    sent: dict[str, str] = {}
    observer.send("/queue/a", {}, 0, lambda h: sent.update(h or {}))
    expected: dict[str, str] = {}
    propagate.inject(expected, trace.set_span_in_context(trace.NonRecordingSpan(ours_context)))
    assert sent == expected
    observer.requested(span, "/queue/a", None)
    theirs.end()
    provider.shutdown()


@pytest.mark.parametrize("ratio", [0.0, 0.01, 0.3, 0.5, 0.999, 1.0])
def test_a_root_decided_on_the_ratio_bound_is_what_the_sampler_decides(ratio) -> None:
    """ParentBased(TraceIdRatioBased(r)): the roots are not asked about one by one; each is
    sampled exactly when the sampler samples its trace id (here over 4,000 trace ids, the
    bound and its neighbours among them)."""
    import random

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    bound = TraceIdRatioBased.get_bound_for_rate(ratio)
    generator = random.Random(ratio)
    lows = [generator.getrandbits(64) for _ in range(4_000)] + [
        low for low in (bound - 1, bound, bound + 1) if 0 <= low < 1 << 64
    ]
    trace_ids = [(1 << 100) | low for low in lows]
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(ratio)), id_generator=_Ids(*trace_ids)
    )
    should_sample = provider.sampler.should_sample  # before _asked() counts its calls
    asked = _asked(provider)
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    for trace_id in list(trace_ids):
        span = observer.requesting("/queue/a")
        assert span is not None
        made = span[0].get_span_context()
        assert made.trace_id == trace_id
        expected = should_sample(None, trace_id, "request /queue/a").decision
        assert span[0].is_recording() is expected.is_recording()
        assert made.trace_flags.sampled is expected.is_recording()
        observer.requested(span, "/queue/a", None)
    sampled = sum(1 for low in lows if low < bound)
    assert len(asked) == sampled  # the SDK's own call for each sampled root, no other
    provider.shutdown()


def test_a_sampler_that_only_says_it_is_a_ratio_is_asked_for_every_root() -> None:
    """A root sampler describing itself as TraceIdRatioBased{0.5} but sampling everything:
    the check when the observer is made sees it, and the sampler decides every root (a
    trace id above a real ratio's bound is sampled, as the sampler says)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler

    class Pretender(Sampler):
        def should_sample(self, *args: Any, **kwargs: Any) -> Any:
            return ALWAYS_ON.should_sample(*args, **kwargs)

        def get_description(self) -> str:
            return "TraceIdRatioBased{0.5}"

    high = (1 << 100) | ((1 << 64) - 7)  # above the bound of a real ratio of 0.5
    provider = TracerProvider(sampler=ParentBased(Pretender()), id_generator=_Ids(high, high))
    asked = _asked(provider)
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    for _ in range(2):
        span = observer.requesting("/queue/a")
        assert span is not None
        assert span[0].is_recording()
        assert span[0].get_span_context().trace_id == high
        observer.requested(span, "/queue/a", None)
    assert asked == [high] * 4  # by us, then by the SDK, for each root
    provider.shutdown()


def test_a_root_sampler_that_may_not_decide_on_the_trace_id_alone_is_asked_by_the_sdk() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler

    class Custom(Sampler):  # it samples: asked again by the SDK if we asked it first
        def should_sample(self, *args: Any, **kwargs: Any) -> Any:
            return ALWAYS_ON.should_sample(*args, **kwargs)

        def get_description(self) -> str:
            return "Custom"

    provider = TracerProvider(sampler=ParentBased(Custom()), id_generator=_Ids(11))
    asked = _asked(provider)
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    span = observer.requesting("/queue/a")
    observer.requested(span, "/queue/a", None)
    assert asked == [11]  # once, by the SDK
    provider.shutdown()


def test_with_the_sdks_internal_span_metrics_every_span_goes_through_the_sdk(
    monkeypatch,
) -> None:
    """Those metrics count every span started, sampled or not: nothing is made without it."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)), id_generator=_Ids(3))
    asked = _asked(provider)
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    span = observer.processing({"traceparent": f"00-{5:032x}-{6:016x}-00"}, "/queue/a", "1", 0)
    observer.processed(span, "/queue/a", 0.0, None)
    span = observer.requesting("/queue/a")
    observer.requested(span, "/queue/a", None)
    assert asked == [5, 3]  # the child (the SDK asks about its parent's trace), the root once
    provider.shutdown()


@pytest.mark.parametrize(
    "traceparent",
    [
        "",
        "0",
        f"00-{0:032x}-{6:016x}-00",
        f"00-{5:032x}-{0:016x}-00",
        f"00-{5:032X}-{6:016x}-00",
        f"01-{5:032x}-{6:016x}-00",
        f"00-{5:032x}-{6:016x}-02",
    ],
)
def test_a_process_span_from_an_unsampled_header_agrees_with_the_sdk(traceparent) -> None:
    """Made from the header directly (a valid unsampled one) or through the SDK (any other):
    the same trace and flags as the SDK makes of the context the API extracts."""
    from opentelemetry import propagate, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    headers = {"traceparent": traceparent}
    theirs = provider.get_tracer("theirs").start_span("p", context=propagate.extract(headers))
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    span = observer.processing(headers, "/queue/a", "1", 0)
    assert span is not None
    ours = span[0].get_span_context()
    assert trace.get_current_span() is span[0]
    observer.processed(span, "/queue/a", 0.0, None)
    expected = theirs.get_span_context()
    assert ours.is_valid
    assert not ours.trace_flags.sampled
    assert not span[0].is_recording()
    assert ours.trace_flags == expected.trace_flags
    parent = trace.get_current_span(propagate.extract(headers)).get_span_context()
    assert (ours.trace_id == parent.trace_id) == parent.is_valid
    assert trace.get_current_span() is trace.INVALID_SPAN
    provider.shutdown()


def test_a_span_inside_an_unsampled_handler_is_in_its_trace_and_not_sampled() -> None:
    """The handler's current span, made without the SDK, is a parent like the SDK's own."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0)))
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    headers = {"traceparent": f"00-{5:032x}-{6:016x}-00", "tracestate": "k=v"}
    span = observer.processing(headers, "/queue/a", "1", 0)
    assert span is not None
    inner = provider.get_tracer("user").start_span("inner")
    observer.processed(span, "/queue/a", 0.0, None)
    made = span[0].get_span_context()
    assert (made.trace_id, made.trace_state.to_header()) == (5, "k=v")
    assert repr(span[0]) == f"NonRecordingSpan({made!r})"
    assert inner.get_span_context().trace_id == 5
    assert not inner.is_recording()  # ParentBased: the handler's span is not sampled
    provider.shutdown()


def test_shortcuts_are_off_when_the_sdk_does_not_make_the_spans_they_stand_for() -> None:
    """A sampler that describes itself as the default ParentBased but records the children
    of unsampled parents: the one check when the observer is made sees it, and every span
    goes through the SDK (the sampler is asked for the child; the span records)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler

    class Pretender(Sampler):
        def should_sample(self, *args: Any, **kwargs: Any) -> Any:
            return ALWAYS_ON.should_sample(*args, **kwargs)

        def get_description(self) -> str:
            return ParentBased(ALWAYS_ON).get_description()

    provider = TracerProvider(sampler=Pretender(), id_generator=_Ids(13))
    asked = _asked(provider)
    observer = Observer(contextlib.nullcontext(), otel=True, tracer_provider=provider)
    span = observer.processing({"traceparent": f"00-{5:032x}-{6:016x}-00"}, "/queue/a", "1", 0)
    assert span is not None
    assert span[0].is_recording()
    observer.processed(span, "/queue/a", 0.0, None)
    span = observer.requesting("/queue/a")
    observer.requested(span, "/queue/a", None)
    assert asked == [5, 13]  # both by the SDK, once each
    assert type(provider.get_tracer("stomp_enterprise").id_generator) is _Ids
    provider.shutdown()
