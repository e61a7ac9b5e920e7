"""Counters, the metrics hook and the OpenTelemetry side of core/telemetry.py, without I/O."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import pytest

from stomp_enterprise.core.stats import COUNTERS, ClientStats, Counters
from stomp_enterprise.core.telemetry import INSTRUMENTS, Observer, messaging_system, observed_body
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
