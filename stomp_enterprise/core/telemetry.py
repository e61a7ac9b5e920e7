"""Observability shared by both clients: counters, a plain metrics hook, OpenTelemetry.

One :class:`Observer` per observed client; a client that was never observed has none, and
its hot paths test one attribute for ``None`` and do nothing else (no cost when disabled).
Every measurement goes through :meth:`Observer.count`, which adds it to the counters behind
``client.stats()``, calls the user's hook ``hook(name, value, attributes)`` and, with
OpenTelemetry, adds it to the matching instrument (:data:`INSTRUMENTS`). So the three views
always agree.

OpenTelemetry is optional (the ``otel`` extra, ``opentelemetry-api``): it is imported only
when :class:`Observer` is built with ``otel=True``, never by importing this module. Spans
follow the OpenTelemetry messaging semantic conventions, in one of two modes
(:data:`SPAN_MODES`; ``essential`` by default):

=================== ========= ================================= ============================
span name           kind      when                              parent
=================== ========= ================================= ============================
``send D``          PRODUCER  ``send()``; with ``full`` also a  the current span; its context
                              request's SEND and a ``serve()``  is injected in ``traceparent``
                              reply                             / ``tracestate``
``process D``       CONSUMER  a handler runs on a message       the context extracted from
                                                                the message (a link too)
``receive D``       CONSUMER  ``get()`` returns a message       none (a link to the message's)
``ack D``/``nack D`` CLIENT   ``full``: ``ack()`` / ``nack()``  the current span
                              (``essential``: an event on the
                              current span)
``request D``       PRODUCER  ``request()``: its SEND and wait  the current span; a link to
                    (CLIENT   (``essential``: its context is    the reply's context
                    in full)  the one the request carries)
=================== ========= ================================= ============================

Cost: the counters are kept by the client (a lock and a dict per measurement) and handed
to OpenTelemetry as *observable* counters read at collection time, so a message costs no
instrument call; only the handler duration is a histogram recorded per call. A recorded
span costs what the OpenTelemetry SDK charges for it; a trace that is not sampled is not
handed to the SDK when the sampler is ``ParentBased`` (with ``TraceIdRatioBased`` at the
root, its root costs one call of the sampler; see :class:`_Otel`), and the W3C headers
are written and read directly: see ``docs/observability.md`` for the measured overhead.

``messaging.system`` is ``activemq`` (ActiveMQ Classic and Artemis) or ``rabbitmq`` as the
CONNECTED ``server`` header says, and omitted otherwise: the conventions have no ``stomp``
value. Sans-I/O like the rest of :mod:`stomp_enterprise.core`: the caller passes locks and
durations in.
"""

from __future__ import annotations

import functools
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Final

from stomp_enterprise.core.message import encode_body
from stomp_enterprise.core.stats import COUNTERS, ClientStats, Counters
from stomp_enterprise.errors import ConfigError, StompError

__all__ = [
    "INSTRUMENTS",
    "guarded",
    "observed_body",
    "MetricHook",
    "Observer",
    "SPAN_MODES",
    "messaging_system",
]

#: ``hook(name, value, attributes)``: ``name`` is one of
#: :data:`~stomp_enterprise.core.stats.COUNTERS`, ``attributes`` the semantic-convention
#: attributes of the measurement (``messaging.destination.name``, ``messaging.system``, ...).
MetricHook = Callable[[str, float, Mapping[str, Any]], None]

#: counter name -> (OpenTelemetry instrument, kind, unit). The semantic conventions'
#: instruments where they have one, ``stomp.client.*`` for the rest.
INSTRUMENTS: Final[dict[str, tuple[str, str, str]]] = {
    "sent": ("messaging.client.sent.messages", "counter", "{message}"),
    "received": ("messaging.client.consumed.messages", "counter", "{message}"),
    "handler_seconds": ("messaging.process.duration", "histogram", "s"),
    "sent_bytes": ("stomp.client.sent.bytes", "counter", "By"),
    "received_bytes": ("stomp.client.consumed.bytes", "counter", "By"),
    "redelivered": ("stomp.client.redelivered.messages", "counter", "{message}"),
    "acked": ("stomp.client.acked.messages", "counter", "{message}"),
    "nacked": ("stomp.client.nacked.messages", "counter", "{message}"),
    "handler_calls": ("stomp.client.handler.calls", "counter", "{call}"),
    "handler_errors": ("stomp.client.handler.errors", "counter", "{error}"),
    "reconnects": ("stomp.client.reconnects", "counter", "{connection}"),
    "requests": ("stomp.client.requests", "counter", "{request}"),
    "replies": ("stomp.client.replies", "counter", "{reply}"),
    "late_replies": ("stomp.client.late_replies", "counter", "{reply}"),
    "request_timeouts": ("stomp.client.request.timeouts", "counter", "{request}"),
    "requests_lost": ("stomp.client.requests.lost", "counter", "{request}"),
}
BACKLOG_GAUGE: Final = "stomp.client.backlog.messages"
_TEMPORARY: Final = ("/temp-queue/", "/temp-topic/", "/reply-queue/", "/remote-temp-queue/")
_SCOPE: Final = "stomp_enterprise"

#: What a start method returns for its end method: ``(span, context token)`` with tracing.
Span = tuple[Any, object] | None
_Key = tuple[str | None, str | None]  # (destination, operation): one attribute set
_KEPT: Final = 1024  # attribute sets remembered (destinations come from the application)
#: the counter recorded per measurement; the others are observable (read at collection)
(_RECORDED_NAME,) = (n for n, (_, kind, _) in INSTRUMENTS.items() if kind == "histogram")
#: ``observe(spans=...)``: which spans a traced client makes (see :class:`Observer`)
SPAN_MODES: Final = ("essential", "full")
#: the span whose context the next SEND of this thread/task carries instead of a span of its
#: own, and whether that SEND's message attributes go on it (``spans="essential"``)
_CARRIER: ContextVar[tuple[Any, bool] | None] = ContextVar("stomp_carrier_span", default=None)


class _Attributes:
    """One attribute set, cached: a read-only view (hooks), the plain dict (OpenTelemetry)
    and the span attributes derived from it, by operation type."""

    __slots__ = ("plain", "spans", "view")

    def __init__(self, plain: dict[str, Any]) -> None:
        self.plain = plain
        self.view: Mapping[str, Any] = MappingProxyType(plain)
        self.spans: dict[str, dict[str, Any]] = {}


log = logging.getLogger("stomp_enterprise.telemetry")


def guarded(hook: MetricHook) -> MetricHook:
    """``hook`` with its exceptions logged instead of raised into the client's paths.

    Raises:
        ConfigError: ``hook`` is not callable.
    """
    if not callable(hook):
        raise ConfigError(f"the metrics hook must be callable, got {hook!r}")

    def call(name: str, value: float, attributes: Mapping[str, Any]) -> None:
        try:
            hook(name, value, attributes)
        except Exception:
            log.exception("metrics hook %r failed", hook)

    return call


def observed_body(
    body: Any, content_type: str | None, options: Mapping[str, Any] | None = None
) -> tuple[Any, str | None, int, dict[str, Any]]:
    """A ``send()`` body for the observed path: ``(body, content_type, size, options)``.
    The body is encoded here, with the ``codec`` of the send's ``options`` for a typed
    payload (a pydantic model, a dict...), so the size counted is the encoded one and the
    send does not encode again: the options returned are the others. A body that cannot be
    encoded passes through unchanged (size 0) with every option: the send itself then
    raises its error, inside the observed call. Any thread."""
    rest = dict(options or {})
    try:
        payload, encoded_type = encode_body(body, content_type, rest.get("codec"))
    except StompError:
        return body, content_type, 0, rest
    rest.pop("codec", None)
    return payload, encoded_type, len(payload), rest


def messaging_system(server: str | None) -> str | None:
    """``messaging.system`` for the broker whose CONNECTED ``server`` header is ``server``:
    ``activemq`` or ``rabbitmq``, ``None`` for any other (the attribute is then omitted)."""
    if not server:
        return None
    if server.startswith("ActiveMQ"):
        return "activemq"
    if server.startswith("RabbitMQ"):
        return "rabbitmq"
    return None


class Observer:
    """Counts, hooks and (optionally) traces one client.

    Args:
        lock: guards the counters (``threading.Lock()`` in the threaded client,
            ``contextlib.nullcontext()`` on an event loop).
        hook: called with every measurement, on the thread that made it (never the
            reader thread); its exceptions are the caller's to log.
        otel: use OpenTelemetry (needs ``opentelemetry-api``).
        tracer_provider: OpenTelemetry tracer provider (default: the global one).
        meter_provider: OpenTelemetry meter provider (default: the global one).
        backlog: returns ``(messages, bytes)`` of the current consume backlog.
        spans: ``"essential"`` (a request's SEND is its ``request`` span, a ``serve()``
            reply's SEND is its ``process`` span, an ack/nack is an event on the current
            span) or ``"full"`` (a span for each; see :data:`SPAN_MODES`).

    Raises:
        ConfigError: ``otel=True`` and ``opentelemetry-api`` is not installed, or an
            unknown ``spans`` mode.
    """

    def __init__(
        self,
        lock: AbstractContextManager[Any],
        *,
        hook: MetricHook | None = None,
        otel: bool = False,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        backlog: Callable[[], tuple[int, int]] = lambda: (0, 0),
        spans: str = "essential",
    ) -> None:
        if hook is not None and not callable(hook):
            raise ConfigError(f"the metrics hook must be callable, got {hook!r}")
        self._lock = lock
        self._hook = hook
        self._backlog = backlog
        if spans not in SPAN_MODES:
            raise ConfigError(f"spans must be one of {', '.join(SPAN_MODES)}, got {spans!r}")
        self._counters = Counters()
        # attribute key -> {counter: sum}: what the observable instruments report
        self._series: dict[_Key, dict[str, float]] = {}
        self._base: dict[str, Any] = {}
        # attribute key -> (read-only view for hooks, the plain dict OpenTelemetry hashes
        # faster, the span attributes by operation type)
        self._attributes: dict[_Key, _Attributes] = {}
        self.otel: _Otel | None = (
            _Otel(self, tracer_provider, meter_provider, full=spans == "full") if otel else None
        )
        #: the OpenTelemetry side when it traces (not with a no-op tracer provider)
        self._traced = self.otel if self.otel is not None and self.otel.tracing else None

    @property
    def tracing(self) -> bool:
        """Whether spans are made (OpenTelemetry with a tracer that is not a no-op one)."""
        return self._traced is not None

    # ------------------------------------------------------------ counting

    def connected(self, server: str | None, host: str, port: int) -> None:
        """A connection was made to ``host:port`` whose CONNECTED ``server`` is ``server``:
        the attributes every later measurement and span carries."""
        base: dict[str, Any] = {"server.address": host, "server.port": port}
        system = messaging_system(server)
        if system is not None:
            base["messaging.system"] = system
        with self._lock:
            self._base = base
            self._attributes = {}

    def attributes(
        self, destination: str | None = None, operation: str | None = None
    ) -> Mapping[str, Any]:
        """The semantic-convention attributes (read-only) of a measurement on
        ``destination`` by ``operation`` (``messaging.operation.name``)."""
        cached = self._attributes.get((destination, operation))
        if cached is None:
            cached = self._cache(destination, operation)
        return cached.view

    def _cache(self, destination: str | None, operation: str | None) -> _Attributes:
        made = dict(self._base)
        if destination is not None:
            if destination.startswith(_TEMPORARY):
                made["messaging.destination.temporary"] = True
                made["messaging.destination.name"] = "(temporary)"
            else:
                made["messaging.destination.name"] = destination
        if operation is not None:
            made["messaging.operation.name"] = operation
        cached = _Attributes(made)
        with self._lock:
            if len(self._attributes) >= _KEPT:  # bounded: destinations come from users
                self._attributes = {}
            self._attributes[(destination, operation)] = cached
        return cached

    def _plain(self, destination: str | None, operation: str | None) -> dict[str, Any]:
        """:meth:`attributes` as the plain dict handed to OpenTelemetry (never mutated)."""
        cached = self._attributes.get((destination, operation))
        if cached is None:
            cached = self._cache(destination, operation)
        return cached.plain

    def span_attributes(self, destination: str, name: str, kind: str) -> dict[str, Any]:
        """The attributes a span starts with: :meth:`attributes` of ``destination`` and
        operation ``name`` plus ``messaging.operation.type`` ``kind`` (cached: copy it
        before adding to it)."""
        cached = self._attributes.get((destination, name))
        if cached is None:
            cached = self._cache(destination, name)
        typed = cached.spans.get(kind)
        if typed is None:
            typed = cached.spans[kind] = {**cached.plain, "messaging.operation.type": kind}
        return typed

    def count(
        self,
        name: str,
        value: float = 1,
        destination: str | None = None,
        operation: str | None = None,
    ) -> None:
        """One measurement: added to the counters, handed to the hook and to OpenTelemetry.

        Raises:
            ConfigError: ``name`` is not a counter.
            Exception: whatever the hook raised (the caller logs it).
        """
        if name not in COUNTERS:
            raise ConfigError(f"unknown counter {name!r}")
        self.counts(destination, operation, **{name: value})

    def counts(self, destination: str | None, operation: str | None, **values: float) -> None:
        """Several measurements of one operation on ``destination`` (``counter=value``,
        names of :data:`~stomp_enterprise.core.stats.COUNTERS`, not checked here), counted
        under one lock round; see :meth:`count`."""
        otel = self.otel
        with self._lock:
            counted = self._counters.values
            for name, value in values.items():
                counted[name] += value
            if otel is not None:  # the observable instruments' series
                key = (destination, operation)
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = {}
                for name, value in values.items():
                    series[name] = series.get(name, 0) + value
        hook = self._hook
        if hook is None:
            if otel is not None and _RECORDED_NAME in values:
                otel.record(
                    _RECORDED_NAME, values[_RECORDED_NAME], self._plain(destination, operation)
                )
            return
        attributes = self.attributes(destination, operation)
        for name, value in values.items():
            if otel is not None and name == _RECORDED_NAME:
                otel.record(name, value, self._plain(destination, operation))
            hook(name, value, attributes)

    def series(self, name: str) -> Iterator[tuple[float, Mapping[str, Any]]]:
        """``(sum, attributes)`` of counter ``name`` per attribute set (what the observable
        OpenTelemetry counters report)."""
        with self._lock:
            items = [(key, sums[name]) for key, sums in self._series.items() if name in sums]
        for key, value in items:
            yield value, self._plain(*key)

    def stats(self) -> ClientStats:
        """A snapshot of the counters and the current backlog."""
        messages, size = self._backlog()
        with self._lock:
            return self._counters.snapshot(messages, size)

    def backlog(self) -> tuple[int, int]:
        """The current consume backlog ``(messages, bytes)``."""
        return self._backlog()

    # ------------------------------------------------------------ operations
    # Each pair (start, end) brackets one operation: the start returns a token (the span and
    # its context token, or None without tracing) that the end takes back; the end counts.

    def send(
        self,
        destination: str,
        headers: Mapping[str, str] | None,
        size: int,
        call: Callable[[Mapping[str, str] | None], None],
    ) -> None:
        """Observe ``call(headers)``, a SEND of ``size`` body bytes (see :meth:`sending`)."""
        headers, span = self.sending(destination, headers, size)
        try:
            call(headers)
        except BaseException as exc:
            self.sent(span, destination, size, exc)
            raise
        self.sent(span, destination, size)

    async def send_awaited(
        self,
        destination: str,
        headers: Mapping[str, str] | None,
        size: int,
        call: Callable[[Mapping[str, str] | None], Awaitable[None]],
    ) -> None:
        """:meth:`send` for a coroutine ``call`` (the asyncio client)."""
        headers, span = self.sending(destination, headers, size)
        try:
            await call(headers)
        except BaseException as exc:
            self.sent(span, destination, size, exc)
            raise
        self.sent(span, destination, size)

    async def settle_awaited(
        self,
        operation: str,
        destination: str,
        message_id: str | None,
        call: Callable[[], Awaitable[None]],
    ) -> None:
        """:meth:`settle` for a coroutine ``call`` (the asyncio client)."""
        span = self.settling(operation, destination, message_id)
        try:
            await call()
        except BaseException as exc:
            self.settled(span, operation, destination, exc)
            raise
        self.settled(span, operation, destination, None)

    def settle(
        self, operation: str, destination: str, message_id: str | None, call: Callable[[], None]
    ) -> None:
        """Observe ``call()``, an ACK (``operation="ack"``) or a NACK (see
        :meth:`settling`)."""
        span = self.settling(operation, destination, message_id)
        try:
            call()
        except BaseException as exc:
            self.settled(span, operation, destination, exc)
            raise
        self.settled(span, operation, destination, None)

    def sending(
        self, destination: str, headers: Mapping[str, str] | None, size: int = 0
    ) -> tuple[Mapping[str, str] | None, Span]:
        """Before a SEND: with tracing, a PRODUCER span is started and its context
        injected into a copy of ``headers`` (returned). With ``spans="essential"``, the
        SEND of a ``request()`` carries the request's span and a ``serve()`` reply its
        ``process`` span instead (no span of its own)."""
        otel = self._traced
        if otel is None:
            return headers, None
        carrier = dict(headers or {})
        folded = _CARRIER.get()
        if folded is not None:  # this SEND is the operation of a span already started
            _CARRIER.set(None)
            span, annotate = folded
            if annotate and span.is_recording():
                span.set_attributes(_sent_attributes(size, carrier))
            otel.inject_span(carrier, span)
            return carrier, None
        started = otel.start(
            "send",
            "PRODUCER",
            destination,
            lambda: {
                **self.span_attributes(destination, "send", "send"),
                **_sent_attributes(size, carrier),
            },
            current=False,
        )
        otel.inject_span(carrier, started[0])
        return carrier, started

    def sent(
        self, span: Span, destination: str, size: int, error: BaseException | None = None
    ) -> None:
        """After a SEND (``error``: it failed): counted when it did not fail."""
        if span is not None:
            self._end(span, error)
        if error is None:
            self.counts(destination, "send", sent=1, sent_bytes=size)

    def replying(self) -> None:
        """``serve()`` is about to send its reply from inside the handler's ``process``
        span: with ``spans="essential"`` that SEND carries the ``process`` span's context
        (no ``send`` span of its own). Any thread (the handler's)."""
        otel = self._traced
        if otel is not None and not otel.full:
            _CARRIER.set((otel.current(), False))

    def handling(self, message: Any) -> tuple[Span, str]:
        """Before a handler runs on ``message`` (either shell's ``Message``): see
        :meth:`processing`; returns the span and the destination reported."""
        frame = message.frame
        subscription = message.subscription
        destination: str = frame.get("destination") or subscription.destination
        span = self.processing(frame.headers, destination, subscription.id, len(frame.body))
        return span, destination

    def taken(self, message: Any) -> None:
        """``get()`` returns ``message`` (either shell's ``Message``): see :meth:`received`."""
        frame = message.frame
        subscription = message.subscription
        self.received(
            frame.headers,
            frame.get("destination") or subscription.destination,
            subscription.id,
            len(frame.body),
        )

    def processing(
        self, headers: Mapping[str, str], destination: str, subscription: str, size: int
    ) -> Span:
        """Before a handler runs on a message: counted as received; with tracing, a
        CONSUMER ``process`` span (current while the handler runs), child of the context
        the message carries."""
        self._received(headers, destination, size, "process")
        otel = self._traced
        if otel is None:
            return None
        unsampled = otel.start_unsampled(headers)
        if unsampled is not None:
            return unsampled
        return otel.start(
            "process",
            "CONSUMER",
            destination,
            lambda: self._message(headers, destination, subscription, size, "process", "process"),
            remote=otel.extract(headers),
        )

    def processed(
        self, span: Span, destination: str, seconds: float, error: BaseException | None
    ) -> None:
        """After the handler (``error``: what it raised)."""
        if span is not None:
            if _CARRIER.get() is not None:  # a reply announced by replying(), never sent
                _CARRIER.set(None)
            self._end(span, error)
        if error is None:
            self.counts(destination, "process", handler_calls=1, handler_seconds=seconds)
        else:
            self.counts(
                destination, "process", handler_calls=1, handler_seconds=seconds, handler_errors=1
            )

    def received(
        self, headers: Mapping[str, str], destination: str, subscription: str, size: int
    ) -> None:
        """``get()`` returns a message: counted; with tracing, a ``receive`` span linked to
        the message's context."""
        self._received(headers, destination, size, "receive")
        otel = self._traced
        if otel is not None:
            span = otel.start(
                "receive",
                "CONSUMER",
                destination,
                lambda: self._message(
                    headers, destination, subscription, size, "receive", "receive"
                ),
                link=otel.extract(headers),
                current=False,
            )
            self._end(span, None)

    def settling(self, operation: str, destination: str, message_id: str | None) -> Span:
        """Before an ACK (``operation="ack"``) or NACK: with tracing, a CLIENT span
        (``spans="full"``) or an event on the current span when it records (the handler's
        ``process`` span, ``spans="essential"``)."""
        otel = self._traced
        if otel is None:
            return None
        if not otel.full:
            current = otel.current()
            if current.is_recording():
                event = {"messaging.destination.name": _span_destination(destination)}
                if message_id is not None:
                    event["messaging.message.id"] = message_id
                current.add_event(operation, event)
            return None

        def attributes() -> dict[str, Any]:
            made = self.span_attributes(destination, operation, "settle")
            return made if message_id is None else {**made, "messaging.message.id": message_id}

        return otel.start(operation, "CLIENT", destination, attributes, current=False)

    def settled(
        self, span: Span, operation: str, destination: str, error: BaseException | None
    ) -> None:
        """After the ACK or NACK: counted when it did not fail."""
        if span is not None:
            self._end(span, error)
        if error is None:
            self.count("acked" if operation == "ack" else "nacked", 1, destination, operation)

    def requesting(self, destination: str) -> Span:
        """Before ``request()`` sends: with tracing, a ``request`` span. ``spans="full"``:
        a CLIENT span, current, so the SEND's span is its child. ``"essential"``: the
        request's SEND is this span (PRODUCER, its context injected)."""
        otel = self._traced
        if otel is None:
            return None
        if otel.full:
            return otel.start(
                "request",
                "CLIENT",
                destination,
                lambda: self.span_attributes(destination, "request", "send"),
            )
        started = otel.start(
            "request",
            "PRODUCER",
            destination,
            lambda: self.span_attributes(destination, "request", "send"),
            current=False,
        )
        _CARRIER.set((started[0], True))
        return started

    def requested(
        self,
        span: Span,
        destination: str,
        error: BaseException | None,
        reply: Mapping[str, str] | None = None,
    ) -> None:
        """After ``request()`` (``error``: what it raised; ``reply``: the reply's headers,
        whose trace context becomes a link of the request's span)."""
        if span is not None:
            otel = self._traced
            assert otel is not None
            if _CARRIER.get() is not None:  # the request's SEND did not happen
                _CARRIER.set(None)
            if reply is not None and span[0].is_recording():
                otel.link(span[0], reply)
            self._end(span, error)

    def _received(self, headers: Mapping[str, str], destination: str, size: int, op: str) -> None:
        if (headers.get("redelivered") or "").lower() == "true":
            self.counts(destination, op, received=1, received_bytes=size, redelivered=1)
        else:
            self.counts(destination, op, received=1, received_bytes=size)

    def _message(
        self,
        headers: Mapping[str, str],
        destination: str,
        subscription: str,
        size: int,
        name: str,
        kind: str,
    ) -> dict[str, Any]:
        attributes = {
            **self.span_attributes(destination, name, kind),
            "messaging.message.body.size": size,
            "messaging.destination.subscription.name": subscription,
        }
        message_id = headers.get("message-id")
        if message_id is not None:
            attributes["messaging.message.id"] = message_id
        correlation_id = headers.get("correlation-id")
        if correlation_id is not None:
            attributes["messaging.message.conversation_id"] = correlation_id
        return attributes

    def _end(self, span: tuple[Any, object], error: BaseException | None) -> None:
        otel = self._traced
        assert otel is not None
        otel.end(span[0], span[1], error)


def _sent_attributes(size: int, headers: Mapping[str, str]) -> dict[str, Any]:
    """A SEND's own span attributes: body size and ``correlation-id``."""
    correlation_id = headers.get("correlation-id")
    if correlation_id is None:
        return {"messaging.message.body.size": size}
    return {
        "messaging.message.body.size": size,
        "messaging.message.conversation_id": correlation_id,
    }


class _Contexts:
    """OpenTelemetry's current context, read and set in a few C calls where the API takes
    four to six Python calls: directly through the ``ContextVar`` of its default runtime
    context, and the span a context keeps under the API's own key. Both are
    OpenTelemetry's internals, so they are checked once against the API (the current
    context read both ways, a span set and read back both ways); with any other runtime
    context (``OTEL_PYTHON_CONTEXT``), or if a check fails, every call goes through the
    API. Either way the contexts are the API's: what one way sets, the other reads."""

    def __init__(self, context: Any, trace: Any) -> None:
        from opentelemetry.context.context import Context
        from opentelemetry.trace import propagation

        self._api = context
        self._trace = trace
        self._made = Context
        self._invalid = trace.INVALID_SPAN
        self._span_class = trace.Span
        self._span_types: set[type] = set()  # classes seen to be spans
        runtime = getattr(context, "_RUNTIME_CONTEXT", None)
        variable = getattr(runtime, "_current_context", None)
        key = getattr(propagation, "_SPAN_KEY", None)
        probe = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
        direct = (
            type(runtime).__name__ == "ContextVarsRuntimeContext"
            and isinstance(variable, ContextVar)
            and isinstance(key, str)
            and variable.get() is context.get_current()
            and trace.set_span_in_context(probe, Context()).get(key) is probe
            and trace.get_current_span(Context({key: probe})) is probe
        )
        #: the runtime context's variable and the span key (None: through the API)
        self.variable: ContextVar[Any] | None = variable if direct else None
        self.key: str = key if direct and isinstance(key, str) else ""

    def span(self) -> Any:
        """The current span (``INVALID_SPAN`` when there is none), as
        ``trace.get_current_span()``."""
        variable = self.variable
        if variable is None:
            return self._trace.get_current_span()
        span = variable.get().get(self.key)
        if span is None:
            return self._invalid
        if type(span) in self._span_types:
            return span
        if not isinstance(span, self._span_class):  # (an ABC: a Python call, so remembered)
            return self._invalid
        self._span_types.add(type(span))
        return span

    def value(self, key: str) -> Any:
        """The current context's value of ``key`` (``None`` when absent)."""
        variable = self.variable
        if variable is None:
            return self._api.get_current().get(key)
        return variable.get().get(key)

    def attach_span(self, span: Any) -> object:
        """Make ``span`` current (``attach(set_span_in_context(span))``); the token for
        :meth:`detach`."""
        variable = self.variable
        if variable is None:
            return self._api.attach(self._trace.set_span_in_context(span))
        values = variable.get().copy()
        values[self.key] = span
        return variable.set(self._made(values))

    def detach(self, token: object) -> None:
        """Restore the context ``token`` replaced; a token that cannot be reset (another
        context's) is logged, as the API's ``detach`` does."""
        if self.variable is None:
            self._api.detach(token)
            return
        try:
            self.variable.reset(token)  # type: ignore[arg-type]
        except (ValueError, RuntimeError):
            log.exception("Failed to detach context")


class _Otel:
    """The OpenTelemetry side of an :class:`Observer` (built only when asked for).

    Its cost is what the SDK charges per span; the rest is kept off the paths where no span
    records:

    * a child of a context that is not sampled is not handed to the SDK when its sampler is
      the SDK's ``ParentBased`` dropping such children (it says so in its description): the
      child is the non-recording span the SDK would have made (a new span id, the parent's
      trace id, flags and trace state), without the sampler and span machinery; a message
      whose ``traceparent`` says "not sampled" gets its ``process`` span straight from the
      header (:meth:`start_unsampled`);
    * a root whose ``ParentBased`` root sampler decides on the trace id alone
      (``TraceIdRatioBased``, ``ALWAYS_ON``/``OFF``) is decided on the ratio's bound
      (checked against that sampler once), or by asking the sampler once; only a sampled
      root is handed to the SDK (see :class:`_Shortcuts`);
    * the spans made without the SDK carry their ``traceparent``, formatted once;
    * ``traceparent``/``tracestate`` are written and read directly while the global
      propagator is the default (W3C trace context, with or without W3C baggage, and no
      baggage to carry); any other propagator goes through OpenTelemetry's API;
    * attributes are built only for a span handed to the SDK, from cached dicts; the
      request's link to its reply is extracted only when the request's span records.
    """

    def __init__(
        self, observer: Observer, tracer_provider: Any, meter_provider: Any, *, full: bool
    ) -> None:
        try:
            from opentelemetry import baggage, context, metrics, propagate, trace
            from opentelemetry.baggage.propagation import W3CBaggagePropagator
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )
            from opentelemetry.trace.span import TraceState
        except ImportError:
            raise ConfigError(
                "OpenTelemetry is not installed: pip install 'stomp-enterprise[otel]'"
            ) from None
        self.full = full
        self._baggage = baggage
        self._context = context
        self._propagate = propagate
        self._trace = trace
        self._trace_state = TraceState
        self._flags = tuple(trace.TraceFlags(bits) for bits in range(256))  # by value
        self._w3c = (TraceContextTextMapPropagator, W3CBaggagePropagator)
        self._textmap: object = None
        self._direct: int = _GENERIC  # how the global propagator self._textmap is served
        self._observer = observer
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        #: False with a no-op tracer provider: metrics only, no span work at all
        self.tracing = not isinstance(self.tracer, trace.NoOpTracer)
        # where the current context keeps its baggage (None: ask the API)
        self._baggage_key = getattr(baggage, "_BAGGAGE_KEY", None)
        #: the current context, read and set (see :class:`_Contexts`)
        self.contexts = _Contexts(context, trace)
        self._no_parent = trace.INVALID_SPAN_CONTEXT
        self._shortcuts = _Shortcuts.of(self.tracer, trace) if self.tracing else None
        #: the type of the spans the shortcuts make (None: no shortcuts, no such spans)
        self.unsampled: Any = None if self._shortcuts is None else self._shortcuts.span_type
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        self._recorded: dict[str, Any] = {}
        for name, (instrument, kind, unit) in INSTRUMENTS.items():
            if kind == "histogram":
                self._recorded[name] = meter.create_histogram(
                    instrument, unit=unit, description=COUNTERS[name]
                )
            else:
                meter.create_observable_counter(
                    instrument,
                    callbacks=[self._observe(name)],
                    unit=unit,
                    description=COUNTERS[name],
                )
        meter.create_observable_gauge(
            BACKLOG_GAUGE,
            callbacks=[self._observe_backlog],
            unit="{message}",
            description="messages handed to the application and not yet finished",
        )

    def _observe(self, name: str) -> Callable[[Any], list[Any]]:
        from opentelemetry.metrics import Observation

        def callback(options: Any) -> list[Any]:
            return [
                Observation(value, attributes) for value, attributes in self._observer.series(name)
            ]

        return callback

    def _observe_backlog(self, options: Any) -> list[Any]:
        from opentelemetry.metrics import Observation

        messages, _ = self._observer.backlog()
        return [Observation(messages, self._observer.attributes())]

    def record(self, name: str, value: float, attributes: Mapping[str, Any]) -> None:
        """Record a measurement of a synchronous instrument (the handler duration)."""
        self._recorded[name].record(value, attributes)

    # ------------------------------------------------------------ spans

    def current(self) -> Any:
        """The current span (a non-recording one when there is none)."""
        return self.contexts.span()

    def start(
        self,
        operation: str,
        kind: str,
        destination: str | None,
        attributes: Callable[[], Mapping[str, Any]],
        *,
        remote: Any = None,
        link: Any = None,
        current: bool = True,
    ) -> tuple[Any, object]:
        """Start the span ``"<operation> <destination>"`` with ``attributes()``; with
        ``current``, make it the current span until :meth:`end`. ``remote``: the span
        context extracted from a received message: the parent (and a link) when valid;
        ``link``: a span context to link to. Returns ``(span, token)`` for :meth:`end`."""
        trace = self._trace
        remote_parent = remote is not None and remote.is_valid
        parent = remote if remote_parent else self.contexts.span().get_span_context()
        span = None
        shortcuts = self._shortcuts
        if shortcuts is not None:
            if parent is self._no_parent or not parent.is_valid:  # a root: the sampler decides
                span = shortcuts.root(operation, destination, kind)
            elif not parent.trace_flags.sampled:  # what the SDK would make, without it
                span = shortcuts.child(parent.trace_id, parent.trace_flags, parent.trace_state)
        if span is None:
            context = None
            links = []
            if remote_parent:
                links.append(trace.Link(remote))
                context = trace.set_span_in_context(trace.NonRecordingSpan(remote), _EMPTY[0])
            if link is not None and link.is_valid:
                links.append(trace.Link(link))
            try:
                span = self.tracer.start_span(
                    f"{operation} {_span_destination(destination)}",
                    context=context,
                    kind=getattr(trace.SpanKind, kind),
                    attributes=attributes(),
                    links=links,
                )
            finally:
                _PRESET_TRACE_ID.set(None)  # taken by the SDK (or never, if it raised)
        token = self.contexts.attach_span(span) if current else None
        return span, token

    def start_unsampled(self, headers: Mapping[str, str]) -> tuple[Any, object] | None:
        """:meth:`start` of a ``process`` span, current, for a message whose W3C
        ``traceparent`` is well formed and not sampled, when the sampler drops children of
        unsampled parents: the non-recording child made from the header directly (no
        remote span context, link or attributes). ``None`` in every other case (then
        :meth:`start` with :meth:`extract`)."""
        shortcuts = self._shortcuts
        if shortcuts is None:
            return None
        value = headers.get("traceparent")
        if not value or value[-1] not in _EVEN_HEX:  # absent, empty or sampled (flag bit 0)
            return None
        direct = self._direct_mode()
        if direct == _GENERIC or (direct == _W3C_BAGGAGE and "baggage" in headers):
            return None
        fields = traceparent_fields(value)
        state = headers.get("tracestate")
        if fields is None or (state is not None and len(state) > _MAX_TRACESTATE):
            return None
        trace_hex, parent_hex, flags_hex = fields
        if trace_hex == _ZERO_TRACE or parent_hex == _ZERO_SPAN:
            return None
        span = shortcuts.child(
            trace_hex,
            flags_hex,
            None if state is None else self._trace_state.from_header([state]),
        )
        if span is None:
            return None
        return span, self.contexts.attach_span(span)

    def inject(self, headers: dict[str, str], span_context: Any) -> None:
        """Write ``span_context`` (``traceparent``/``tracestate``) into ``headers``, with the
        global propagator (directly for the default W3C one)."""
        if not self._direct_inject():
            self._inject_api(headers, span_context)
            return
        if not span_context.is_valid:
            return
        headers["traceparent"] = traceparent(
            span_context.trace_id, span_context.span_id, span_context.trace_flags
        )
        state = span_context.trace_state
        if state:
            headers["tracestate"] = state.to_header()

    def inject_span(self, headers: dict[str, str], span: Any) -> None:
        """:meth:`inject` of ``span``'s context; the headers of a span made by
        :class:`_Shortcuts` were written when it was made."""
        if type(span) is not self.unsampled:
            self.inject(headers, span.get_span_context())
        elif self._direct_inject():
            headers["traceparent"] = span.traceparent
            if span.tracestate:
                headers["tracestate"] = span.tracestate
        else:
            self._inject_api(headers, span.get_span_context())

    def _direct_inject(self) -> bool:
        """Whether :meth:`inject` writes the headers itself (W3C, no baggage to carry)."""
        textmap = self._propagate.get_global_textmap()
        if textmap is not self._textmap:
            self._direct_mode()
        direct = self._direct
        if direct != _W3C_BAGGAGE:
            return direct == _W3C
        key = self._baggage_key
        if key is None:
            return not self._baggage.get_all()
        return not self.contexts.value(key)

    def _inject_api(self, headers: dict[str, str], span_context: Any) -> None:
        trace = self._trace
        context = trace.set_span_in_context(trace.NonRecordingSpan(span_context))
        self._propagate.inject(headers, context=context)

    def extract(self, headers: Mapping[str, str]) -> Any:
        """The span context ``headers`` carry (an invalid one when none), read with the
        global propagator (directly for the default W3C one and a well-formed version 00
        ``traceparent``)."""
        trace = self._trace
        value = headers.get("traceparent")
        direct = self._direct_mode()
        if direct != _GENERIC and (direct == _W3C or "baggage" not in headers):
            if value is None:
                return trace.INVALID_SPAN_CONTEXT
            fields = traceparent_fields(value)
            if fields is not None:
                trace_id, span_id = int(fields[0], 16), int(fields[1], 16)
                if not (trace_id and span_id):
                    return trace.INVALID_SPAN_CONTEXT
                state = headers.get("tracestate")
                if state is None or len(state) <= _MAX_TRACESTATE:
                    return trace.SpanContext(
                        trace_id,
                        span_id,
                        is_remote=True,
                        trace_flags=self._flags[int(fields[2], 16)],
                        trace_state=None
                        if state is None
                        else self._trace_state.from_header([state]),
                    )
        extracted = self._propagate.extract(headers)
        return trace.get_current_span(extracted).get_span_context()

    def _direct_mode(self) -> int:
        textmap = self._propagate.get_global_textmap()
        if textmap is not self._textmap:
            self._direct = _direct_mode(textmap, *self._w3c)
            self._textmap = textmap
        return self._direct

    def link(self, span: Any, headers: Mapping[str, str]) -> None:
        """Link ``span`` to the context ``headers`` carry (when they carry one)."""
        span_context = self.extract(headers)
        if span_context.is_valid:
            span.add_link(span_context)

    def end(self, span: Any, token: object, error: BaseException | None = None) -> None:
        """End a span of :meth:`start` (recording ``error``) and restore the context."""
        if type(span) is not self.unsampled:  # (ending one of those does nothing)
            if error is not None and span.is_recording():
                span.record_exception(error)
                span.set_status(
                    self._trace.Status(self._trace.StatusCode.ERROR, type(error).__name__)
                )
                span.set_attribute("error.type", type(error).__qualname__)
            span.end()
        if token is not None:
            self.contexts.detach(token)


_BYTE_HEX: Final = tuple(f"{bits:02x}" for bits in range(256))
_TRACEPARENT: Final = re.compile("00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16
_new = object.__new__  # (a span made without its class's __init__: see unsampled_span_type)


def traceparent(trace: int | str, span_id: int, flags: int | str) -> str:
    """The W3C ``traceparent`` (version 00) of a span context; ``trace`` and ``flags`` may
    be the hex digits a parent's header already wrote. Ids are formatted as bytes (a third
    of the cost of ``%032x``); ids that do not fit W3C's sizes (from a faulty id generator)
    are written as OpenTelemetry's own propagator writes them."""
    try:
        return "00-%s-%s-%s" % (  # noqa: UP031 (%-formatting: cheaper than an f-string here)
            trace if isinstance(trace, str) else trace.to_bytes(16, "big").hex(),
            span_id.to_bytes(8, "big").hex(),
            flags if isinstance(flags, str) else _BYTE_HEX[flags],
        )
    except (OverflowError, IndexError):
        trace_hex = trace if isinstance(trace, str) else f"{trace:032x}"
        flags_hex = flags if isinstance(flags, str) else f"{flags:02x}"
        return f"00-{trace_hex}-{span_id:016x}-{flags_hex}"


def traceparent_fields(value: str) -> tuple[str, ...] | None:
    """``(trace id, parent id, flags)`` as a well-formed version 00 W3C ``traceparent``
    writes them (lowercase hex in the exact layout; ids may be all zeros), else ``None``."""
    matched = _TRACEPARENT.fullmatch(value)
    return None if matched is None else matched.groups()


_GENERIC, _W3C, _W3C_BAGGAGE = 0, 1, 2  # how a global propagator is served (_Otel.inject)
_MAX_TRACESTATE: Final = 512  # longer: OpenTelemetry's own checks (and warnings) apply
_EMPTY: list[Any] = []  # [opentelemetry.context.Context()], once OpenTelemetry is imported


def _direct_mode(textmap: Any, trace_context: type, w3c_baggage: type) -> int:
    """How ``textmap`` (the global propagator) can be served: directly when it is exactly
    W3C trace context (``_W3C``) or the default composite of it and W3C baggage
    (``_W3C_BAGGAGE``: direct while there is no baggage), else through the API."""
    if type(textmap) is trace_context:
        return _W3C
    inner = getattr(textmap, "_propagators", None)
    if type(textmap).__name__ == "CompositePropagator" and isinstance(inner, list):
        kinds = [type(p) for p in inner]
        if kinds == [trace_context]:
            return _W3C
        if kinds == [trace_context, w3c_baggage]:
            return _W3C_BAGGAGE
    return _GENERIC


#: the preset trace id of a root the sampler sampled (see :class:`_PresetTraceIds`)
_PRESET_TRACE_ID: ContextVar[int | None] = ContextVar("stomp_preset_trace_id", default=None)


@functools.cache
def unsampled_span_type(trace: Any) -> type:
    """The class of the non-recording spans :class:`_Shortcuts` makes (one per
    ``opentelemetry.trace`` module): OpenTelemetry's ``NonRecordingSpan`` that also
    carries its W3C headers, and makes its span context only when first asked for it (the
    client itself needs only the headers).

    Made by :meth:`_Shortcuts._make` without ``NonRecordingSpan.__init__``, whose only
    attribute (``_context``) is read by the two methods this class replaces. ``_made``
    holds ``(trace id, span id, flags, trace state)`` until the span context is made; the
    trace id and flags may still be the hex digits a parent's header wrote."""
    span_context = trace.SpanContext
    trace_flags = trace.TraceFlags

    class Unsampled(trace.NonRecordingSpan):  # type: ignore[misc]
        traceparent: str
        tracestate: str | None
        _made: Any

        def get_span_context(self) -> Any:
            made = self._made
            if type(made) is tuple:  # (two threads may both make it: equal contexts)
                trace_id, span_id, flags, state = made
                if type(trace_id) is str:
                    trace_id = int(trace_id, 16)
                if type(flags) is str:
                    flags = int(flags, 16)
                made = self._made = span_context(
                    trace_id,
                    span_id,
                    is_remote=False,
                    trace_flags=trace_flags(flags),
                    trace_state=state,
                )
            return made

        def __repr__(self) -> str:
            return f"NonRecordingSpan({self.get_span_context()!r})"

    return Unsampled


_PROBE_ID: Final = 0x5707E17E  # the ids and name of the spans _Shortcuts._agrees makes
_PROBE_NAME: Final = "stomp_enterprise shortcut check"
#: a trace id any ``TraceIdRatioBased`` below 1 drops (its low 64 bits are all ones)
_PROBE_DROPPED: Final = (_PROBE_ID << 64) | ((1 << 64) - 1)
_EVEN_HEX: Final = frozenset("02468ace")  # a traceparent's last digit: not sampled
#: a root sampler (of ``ParentBased``) whose decision is a function of the trace id alone
_ROOT_ON_TRACE_ID: Final = re.compile(
    r"ParentBased\{root:(TraceIdRatioBased\{([^{}]*)\}|AlwaysOnSampler|AlwaysOffSampler),"
)
_LOW_64: Final = (1 << 64) - 1  # the bits of a trace id TraceIdRatioBased decides on


def _id_makers(ids: Any) -> tuple[Callable[[], int], Callable[[], int]]:
    """``(trace id, span id)`` makers for the id generator ``ids``: its own methods, or, for
    the SDK's ``RandomIdGenerator`` as shipped, the ``random.getrandbits`` calls those
    methods make, without their Python frames. Either may return 0 (not an id; the SDK's
    generator draws again): the caller then asks ``ids`` itself."""
    try:
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
    except ImportError:  # (an API-only install has no such generator)
        return ids.generate_trace_id, ids.generate_span_id
    if type(ids) is RandomIdGenerator and not vars(ids):
        return functools.partial(random.getrandbits, 128), functools.partial(random.getrandbits, 64)
    return ids.generate_trace_id, ids.generate_span_id


class _PresetTraceIds:
    """The SDK tracer's id generator, except that it hands out, once, the trace id the
    sampler already sampled a root on (:meth:`_Shortcuts.root`): the SDK's span then has
    the trace id the decision was taken on. Everything else is the generator's."""

    def __init__(self, ids: Any) -> None:
        self.ids = ids

    def generate_trace_id(self) -> int:
        preset = _PRESET_TRACE_ID.get()
        if preset is None:
            return int(self.ids.generate_trace_id())
        _PRESET_TRACE_ID.set(None)
        return preset

    def generate_span_id(self) -> int:
        return int(self.ids.generate_span_id())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ids, name)


class _Shortcuts:
    """The spans of an unsampled trace, made as the OpenTelemetry SDK makes them, without it.

    Only for an SDK tracer (its ``sampler`` and ``id_generator``, its internal span metrics
    off) whose sampler is the SDK's ``ParentBased`` dropping the children of an unsampled
    parent (its default delegates, as its description says); roots only when its root
    sampler decides on the trace id alone (``TraceIdRatioBased``, ``ALWAYS_ON``,
    ``ALWAYS_OFF``):

    * a **child** of an unsampled parent: ``ParentBased`` drops it, so the SDK would make a
      non-recording span with a new span id, the parent's trace id, flags and trace state:
      made here, without the sampler and the SDK's span machinery;
    * a **root**: the user's sampler is asked, once, on a trace id from the tracer's id
      generator, as the SDK would ask it; for ``TraceIdRatioBased`` (and ``AlwaysOn``/
      ``AlwaysOff``) the trace id is compared with the ratio's bound instead, a decision
      checked against the sampler once (:meth:`_decided_bound`). Dropped: the
      non-recording span the SDK would make (the sampler's trace state, the SDK's flags).
      Sampled: the SDK makes the span (its sampler, attributes, processors) on that same
      trace id (:class:`_PresetTraceIds`), and, the root sampler being a function of the
      trace id, decides the same.

    The spans made here carry their W3C headers, written once (:meth:`_Otel.inject_span`).
    """

    def __init__(self, tracer: Any, trace: Any, ids: Any, *, roots: bool) -> None:
        self._roots = roots
        self._ids = ids
        self._trace_id, self._span_id = _id_makers(ids)
        self._sampler = tracer.sampler
        self._enabled: Callable[[], bool] = getattr(tracer, "_is_enabled", lambda: True)
        self._kinds = trace.SpanKind
        flags = trace.TraceFlags.DEFAULT
        random_flag = getattr(trace.TraceFlags, "RANDOM_TRACE_ID", 0)
        if random_flag and getattr(ids, "is_trace_id_random", lambda: False)():
            flags |= random_flag
        self._root_flags = trace.TraceFlags(flags)  # what the SDK gives a dropped root
        self.span_type = unsampled_span_type(trace)
        #: a root is sampled when the low 64 bits of its trace id are below this (None:
        #: the sampler is asked; see :meth:`_decided_bound`)
        self._bound: int | None = None

    @classmethod
    def of(cls, tracer: Any, trace: Any) -> _Shortcuts | None:
        """The shortcuts for ``tracer``, or ``None`` when it is not such an SDK tracer."""
        from opentelemetry.context import Context

        if not _EMPTY:
            _EMPTY.append(Context())
        sampler = getattr(tracer, "sampler", None)
        ids = getattr(tracer, "id_generator", None)
        describe = getattr(sampler, "get_description", None)
        metrics = type(getattr(tracer, "_tracer_metrics", None)).__name__
        if ids is None or describe is None or metrics not in ("NoneType", "NoOpTracerMetrics"):
            return None
        description = describe()
        if not (
            isinstance(description, str)
            and description.startswith("ParentBased{")
            and "remoteParentNotSampled:AlwaysOffSampler" in description
            and "localParentNotSampled:AlwaysOffSampler" in description
        ):
            return None
        on_trace_id = _ROOT_ON_TRACE_ID.match(description)
        roots = on_trace_id is not None
        if isinstance(ids, _PresetTraceIds):  # the provider's tracer is shared: wrapped once
            ids = ids.ids
        elif roots:
            tracer.id_generator = _PresetTraceIds(ids)
        shortcuts = cls(tracer, trace, ids, roots=roots)
        if not shortcuts._agrees(tracer, trace):
            if isinstance(tracer.id_generator, _PresetTraceIds):
                tracer.id_generator = ids
            return None
        if on_trace_id is not None:
            shortcuts._bound = shortcuts._decided_bound(on_trace_id)
        return shortcuts

    def _agrees(self, tracer: Any, trace: Any) -> bool:
        """Whether the installed SDK makes the spans these shortcuts stand for, checked once
        with spans nobody records: the child of an unsampled remote parent (non-recording,
        the parent's trace id, flags and trace state), and, when roots are shortcut, a root
        the sampler drops on a preset trace id (non-recording, on that id). Where the
        sampler keeps the probe's trace id (it keeps every root) only the child is checked:
        every root then goes to the SDK anyway. The user's sampler sees these two spans
        (named ``_PROBE_NAME``), no processor does. False: no shortcuts at all."""
        state = trace.TraceState([("stomp", "probe")])
        parent = trace.SpanContext(
            _PROBE_ID, _PROBE_ID, is_remote=True, trace_flags=trace.TraceFlags(0), trace_state=state
        )
        context = trace.set_span_in_context(trace.NonRecordingSpan(parent), _EMPTY[0])
        made = tracer.start_span(_PROBE_NAME, context=context)
        child = made.get_span_context()
        if made.is_recording() or (child.trace_id, child.trace_flags, child.trace_state) != (
            _PROBE_ID,
            trace.TraceFlags(0),
            state,
        ):
            made.end()
            return False
        if not self._roots:
            return True
        trace_id = _PROBE_DROPPED
        if self._sampler.should_sample(
            None, trace_id, _PROBE_NAME, self._kinds.INTERNAL, None, ()
        ).decision.is_recording():
            return True  # (ALWAYS_ON, or a ratio of 1: every root goes to the SDK anyway)
        _PRESET_TRACE_ID.set(trace_id)
        try:
            made = tracer.start_span(_PROBE_NAME, context=_EMPTY[0])
        finally:
            _PRESET_TRACE_ID.set(None)
        if made.is_recording():
            made.end()
            return False
        return bool(made.get_span_context().trace_id == trace_id)

    def _decided_bound(self, description: re.Match[str]) -> int | None:
        """The bound a root's trace id is compared with instead of asking the sampler, when
        its root sampler is ``TraceIdRatioBased`` (``AlwaysOn``/``AlwaysOff``: every
        root / none), or ``None``. The bound is computed as that sampler documents it
        (``round(rate * 2**64)`` on the low 64 bits), then checked once against the sampler
        itself on trace ids at and around it and spread over the range: any disagreement
        (another formula in another SDK version) and the sampler is asked for every root,
        as before. The sampler sees these probes (named ``_PROBE_NAME``); no span is
        made."""
        rate = description[2]
        if rate is not None:
            try:
                bound = round(float(rate) * (_LOW_64 + 1))
            except (ValueError, OverflowError):
                return None
        else:
            bound = _LOW_64 + 1 if description[1] == "AlwaysOnSampler" else 0
        lows = {0, 1, _LOW_64, _LOW_64 >> 8, _LOW_64 >> 1}
        for offset in (0, 1, 2, 1 << 8, 1 << 56):
            lows.update((bound - offset, bound + offset - 1))
        lows.update((n * 0x9E3779B97F4A7C15) & _LOW_64 for n in range(1, 33))
        for low in sorted(low for low in lows if 0 <= low <= _LOW_64):
            trace_id = (_PROBE_ID << 64) | low
            decision = self._sampler.should_sample(
                _EMPTY[0], trace_id, _PROBE_NAME, self._kinds.INTERNAL, None, ()
            ).decision
            if decision.is_recording() != (low < bound):
                return None
        return bound

    def child(self, trace: int | str, flags: int | str, state: Any) -> Any:
        """The non-recording child of an unsampled parent (``trace``, ``flags``: the
        parent's, as ints or as the hex digits of its ``traceparent``); ``None`` when the
        tracer is disabled."""
        if not self._enabled():
            return None
        return self._make(trace, flags, state)

    def root(self, operation: str, destination: str | None, kind: str) -> Any:
        """A root span (``operation`` on ``destination``, of ``kind``) dropped by the
        sampler, or ``None``: sampled (the SDK makes it, on the
        trace id preset here), the root sampler may decide on more than the trace id, or
        the tracer is disabled."""
        if not (self._roots and self._enabled()):
            return None
        trace_id = self._trace_id() or self._ids.generate_trace_id()  # (0: not an id)
        bound = self._bound
        if bound is not None:  # decided as the sampler decides (checked: _decided_bound)
            if trace_id & _LOW_64 < bound:
                _PRESET_TRACE_ID.set(trace_id)
                return None
            return self._make(trace_id, self._root_flags, None)
        name = f"{operation} {_span_destination(destination)}"  # (the span's name)
        result = self._sampler.should_sample(
            None, trace_id, name, getattr(self._kinds, kind), None, ()
        )
        if result.decision.is_recording():
            _PRESET_TRACE_ID.set(trace_id)
            return None
        return self._make(trace_id, self._root_flags, result.trace_state)

    def _make(self, trace: int | str, flags: int | str, state: Any) -> Any:
        """A span of :attr:`span_type` with a new span id (``trace`` and ``flags``: ints,
        or the hex digits a parent's ``traceparent`` wrote) and its W3C headers."""
        span_id = self._span_id() or self._ids.generate_span_id()  # (0: not an id)
        span: Any = _new(self.span_type)
        span._made = (trace, span_id, flags, state)
        span.traceparent = traceparent(trace, span_id, flags)
        span.tracestate = None if state is None or not state else state.to_header()
        return span


def _span_destination(destination: str | None) -> str:
    if destination is None:
        return "(anonymous)"
    return "(temporary)" if destination.startswith(_TEMPORARY) else destination
