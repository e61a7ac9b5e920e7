"""Observability shared by both clients: counters, a plain metrics hook, OpenTelemetry.

One :class:`Observer` per observed client; a client that was never observed has none, and
its hot paths test one attribute for ``None`` and do nothing else (no cost when disabled).
Every measurement goes through :meth:`Observer.count`, which adds it to the counters behind
``client.stats()``, calls the user's hook ``hook(name, value, attributes)`` and, with
OpenTelemetry, adds it to the matching instrument (:data:`INSTRUMENTS`). So the three views
always agree.

OpenTelemetry is optional (the ``otel`` extra, ``opentelemetry-api``): it is imported only
when :class:`Observer` is built with ``otel=True``, never by importing this module. Spans
follow the OpenTelemetry messaging semantic conventions:

=================== ========= ================================= ============================
span name           kind      when                              parent
=================== ========= ================================= ============================
``send D``          PRODUCER  ``send()`` (replies too)          the current span; its context
                                                                is injected in ``traceparent``
                                                                / ``tracestate``
``process D``       CONSUMER  a handler runs on a message       the context extracted from
                                                                the message (a link too)
``receive D``       CONSUMER  ``get()`` returns a message       none (a link to the message's)
``ack D``/``nack D`` CLIENT   ``message.ack()`` / ``nack()``    the current span
``request D``       CLIENT    ``request()``: its SEND and wait  the current span; a link to
                                                                the reply's context
=================== ========= ================================= ============================

Cost: the counters are kept by the client (a lock and a dict per measurement) and handed
to OpenTelemetry as *observable* counters read at collection time, so a message costs no
instrument call; only the handler duration is a histogram recorded per call. A span costs
what the OpenTelemetry SDK charges for one (15-25 µs on the benchmark machine, about 5 µs
when the sampler drops it): see ``docs/observability.md`` for the measured overhead.

``messaging.system`` is ``activemq`` (ActiveMQ Classic and Artemis) or ``rabbitmq`` as the
CONNECTED ``server`` header says, and omitted otherwise: the conventions have no ``stomp``
value. Sans-I/O like the rest of :mod:`stomp_enterprise.core`: the caller passes locks and
durations in.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
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
#: the counters recorded per measurement; the others are observable (read at collection)
_RECORDED: Final = frozenset(n for n, (_, kind, _) in INSTRUMENTS.items() if kind == "histogram")


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

    Raises:
        ConfigError: ``otel=True`` and ``opentelemetry-api`` is not installed.
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
    ) -> None:
        if hook is not None and not callable(hook):
            raise ConfigError(f"the metrics hook must be callable, got {hook!r}")
        self._lock = lock
        self._hook = hook
        self._backlog = backlog
        self._counters = Counters()
        # (counter, attribute key) -> sum: what the observable instruments report
        self._series: dict[tuple[str, _Key], float] = {}
        self._base: dict[str, Any] = {}
        self._attributes: dict[_Key, Mapping[str, Any]] = {}
        self.otel: _Otel | None = _Otel(self, tracer_provider, meter_provider) if otel else None

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
        key = (destination, operation)
        attributes = self._attributes.get(key)
        if attributes is None:
            made = dict(self._base)
            if destination is not None:
                if destination.startswith(_TEMPORARY):
                    made["messaging.destination.temporary"] = True
                    made["messaging.destination.name"] = "(temporary)"
                else:
                    made["messaging.destination.name"] = destination
            if operation is not None:
                made["messaging.operation.name"] = operation
            attributes = MappingProxyType(made)
            with self._lock:
                if len(self._attributes) >= _KEPT:  # bounded: destinations come from users
                    self._attributes = {}
                self._attributes[key] = attributes
        return attributes

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
                series = self._series
                for name, value in values.items():
                    series[(name, key)] = series.get((name, key), 0) + value
        hook = self._hook
        if hook is None and otel is None:
            return
        attributes = self.attributes(destination, operation)
        for name, value in values.items():
            if otel is not None and name in _RECORDED:
                otel.record(name, value, attributes)
            if hook is not None:
                hook(name, value, attributes)

    def series(self, name: str) -> Iterator[tuple[float, Mapping[str, Any]]]:
        """``(sum, attributes)`` of counter ``name`` per attribute set (what the observable
        OpenTelemetry counters report)."""
        with self._lock:
            items = [
                (key, value) for (counter, key), value in self._series.items() if counter == name
            ]
        for key, value in items:
            yield value, self.attributes(*key)

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
        injected into a copy of ``headers`` (returned)."""
        otel = self.otel
        if otel is None:
            return headers, None
        attributes = self._span_attributes(destination, "send", "send")
        attributes["messaging.message.body.size"] = size
        correlation_id = headers.get("correlation-id") if headers else None
        if correlation_id is not None:
            attributes["messaging.message.conversation_id"] = correlation_id
        span = otel.start("send", "PRODUCER", destination, attributes, current=False)
        carrier = dict(headers or {})
        otel.inject(carrier, span[0])
        return carrier, span

    def sent(
        self, span: Span, destination: str, size: int, error: BaseException | None = None
    ) -> None:
        """After a SEND (``error``: it failed): counted when it did not fail."""
        if span is not None:
            self._end(span, error)
        if error is None:
            self.counts(destination, "send", sent=1, sent_bytes=size)

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
        otel = self.otel
        if otel is None:
            return None
        return otel.start(
            "process",
            "CONSUMER",
            destination,
            self._message(headers, destination, subscription, size, "process", "process"),
            parent=headers,
        )

    def processed(
        self, span: Span, destination: str, seconds: float, error: BaseException | None
    ) -> None:
        """After the handler (``error``: what it raised)."""
        if span is not None:
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
        otel = self.otel
        if otel is not None:
            span = otel.start(
                "receive",
                "CONSUMER",
                destination,
                self._message(headers, destination, subscription, size, "receive", "receive"),
                link_from=headers,
                current=False,
            )
            self._end(span, None)

    def settling(self, operation: str, destination: str, message_id: str | None) -> Span:
        """Before an ACK (``operation="ack"``) or NACK: with tracing, a CLIENT span."""
        otel = self.otel
        if otel is None:
            return None
        attributes = self._span_attributes(destination, operation, "settle")
        if message_id is not None:
            attributes["messaging.message.id"] = message_id
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
        """Before ``request()`` sends: with tracing, a CLIENT ``request`` span (current, so
        the SEND's span is its child)."""
        otel = self.otel
        if otel is None:
            return None
        return otel.start(
            "request", "CLIENT", destination, self._span_attributes(destination, "request", "send")
        )

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
            otel = self.otel
            assert otel is not None
            if reply is not None:
                otel.link(span[0], reply)
            self._end(span, error)

    def _received(self, headers: Mapping[str, str], destination: str, size: int, op: str) -> None:
        if (headers.get("redelivered") or "").lower() == "true":
            self.counts(destination, op, received=1, received_bytes=size, redelivered=1)
        else:
            self.counts(destination, op, received=1, received_bytes=size)

    def _span_attributes(self, destination: str, name: str, kind: str) -> dict[str, Any]:
        attributes = dict(self.attributes(destination, name))
        attributes["messaging.operation.type"] = kind
        return attributes

    def _message(
        self,
        headers: Mapping[str, str],
        destination: str,
        subscription: str,
        size: int,
        name: str,
        kind: str,
    ) -> dict[str, Any]:
        attributes = self._span_attributes(destination, name, kind)
        attributes["messaging.message.body.size"] = size
        attributes["messaging.destination.subscription.name"] = subscription
        message_id = headers.get("message-id")
        if message_id is not None:
            attributes["messaging.message.id"] = message_id
        correlation_id = headers.get("correlation-id")
        if correlation_id is not None:
            attributes["messaging.message.conversation_id"] = correlation_id
        return attributes

    def _end(self, span: tuple[Any, object], error: BaseException | None) -> None:
        otel = self.otel
        assert otel is not None
        otel.end(span[0], span[1], error)


class _Otel:
    """The OpenTelemetry side of an :class:`Observer` (built only when asked for)."""

    def __init__(self, observer: Observer, tracer_provider: Any, meter_provider: Any) -> None:
        try:
            from opentelemetry import context, metrics, propagate, trace
        except ImportError:
            raise ConfigError(
                "OpenTelemetry is not installed: pip install 'stomp-enterprise[otel]'"
            ) from None
        self._context = context
        self._propagate = propagate
        self._trace = trace
        self._observer = observer
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
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

    def start(
        self,
        operation: str,
        kind: str,
        destination: str | None,
        attributes: Mapping[str, Any],
        *,
        parent: Mapping[str, str] | None = None,
        link_from: Mapping[str, str] | None = None,
        current: bool = True,
    ) -> tuple[Any, object]:
        """Start the span ``"<operation> <destination>"``; with ``current``, make it the
        current span until :meth:`end`. ``parent``: headers to extract the parent context
        from (a received message; also a link); ``link_from``: headers whose context becomes
        a link. Returns ``(span, token)`` for :meth:`end`."""
        trace = self._trace
        context = None
        links = []
        source = parent if parent is not None else link_from
        if source is not None:
            extracted = self._propagate.extract(source)
            span_context = trace.get_current_span(extracted).get_span_context()
            if span_context.is_valid:
                links.append(trace.Link(span_context))
                if parent is not None:
                    context = extracted
        span = self.tracer.start_span(
            f"{operation} {_span_destination(destination)}",
            context=context,
            kind=getattr(trace.SpanKind, kind),
            attributes=attributes,
            links=links,
        )
        token = self._context.attach(trace.set_span_in_context(span)) if current else None
        return span, token

    def inject(self, headers: dict[str, str], span: Any) -> None:
        """Write ``span``'s context (``traceparent``/``tracestate``) into ``headers``."""
        self._propagate.inject(headers, context=self._trace.set_span_in_context(span))

    def link(self, span: Any, headers: Mapping[str, str]) -> None:
        """Link ``span`` to the context ``headers`` carry (when they carry one)."""
        extracted = self._propagate.extract(headers)
        span_context = self._trace.get_current_span(extracted).get_span_context()
        if span_context.is_valid:
            span.add_link(span_context)

    def end(self, span: Any, token: object, error: BaseException | None = None) -> None:
        """End a span of :meth:`start` (recording ``error``) and restore the context."""
        if error is not None:
            span.record_exception(error)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, type(error).__name__))
            span.set_attribute("error.type", type(error).__qualname__)
        span.end()
        if token is not None:
            self._context.detach(token)  # type: ignore[arg-type]


def _span_destination(destination: str | None) -> str:
    if destination is None:
        return "(anonymous)"
    return "(temporary)" if destination.startswith(_TEMPORARY) else destination
