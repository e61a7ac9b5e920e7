"""What both client shells (the threaded :class:`stomp_enterprise.Client` and the asyncio
:class:`stomp_enterprise.aio.Client`) share above the sans-I/O core: the constructor and its
configuration, the sessions, the plan of one connect loop, the announcements. No socket,
thread or event loop here; it may read the clock (deadlines), which :mod:`stomp_enterprise.core`
may not, and it uses the configuration (:mod:`stomp_enterprise.config`) and the TLS context
helpers of :mod:`stomp_enterprise.transport.tls`.
"""

from __future__ import annotations

import abc
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tenacity import RetryCallState, retry_if_exception_type

from stomp_enterprise.config import ClientConfig, Timeouts
from stomp_enterprise.core.backlog import BacklogInfo, with_prefetch
from stomp_enterprise.core.flavour import flavour_of
from stomp_enterprise.core.lifecycle import ClientView, Lifecycle
from stomp_enterprise.core.listeners import ConnectedInfo
from stomp_enterprise.core.message import encode_body
from stomp_enterprise.core.options import merge_headers, send_option_headers, split_send_options
from stomp_enterprise.core.outbox import SendTracker
from stomp_enterprise.core.reconnect import AttemptFeed, connect_failed, connect_headers, retryable
from stomp_enterprise.core.stats import ClientStats
from stomp_enterprise.core.subscribe_options import (
    SubscribeOptions,
    durable_removal_attached,
    durable_removal_headers,
)
from stomp_enterprise.core.telemetry import MetricHook, Observer, guarded
from stomp_enterprise.errors import (
    ConfigError,
    ConnectFailed,
    NotConnected,
    StompTimeout,
    redact_uri_secrets,
)
from stomp_enterprise.protocol.failover import BrokerAddress, ReconnectSchedule
from stomp_enterprise.protocol.session import Connected, Session
from stomp_enterprise.transport.tls import client_ssl_context, server_hostname_of

__all__ = ["ConnectPlan", "ShellBase"]

log = logging.getLogger("stomp_enterprise.client")


class ConnectPlan:
    """One run of a connect loop: the schedule's attempts, the overall deadline, and
    tenacity's options (``Retrying`` in the threaded client, ``AsyncRetrying`` in the asyncio
    one); the shell supplies the sleep and the try.

    Args:
        schedule: the client's reconnect schedule.
        startup: ``connect()`` (an ERROR in reply to CONNECT is final) rather than a
            background reconnect (it is one more failed try).
        closing: True once the client is closing.
        deadline: ``time.monotonic()`` value the whole loop ends at (None: the policy's).

    Raises:
        ConnectFailed: the schedule has no attempt at all (``maxReconnectAttempts=0``).
    """

    def __init__(
        self,
        schedule: ReconnectSchedule,
        *,
        startup: bool,
        closing: Callable[[], bool],
        deadline: float | None,
    ) -> None:
        self.attempts = AttemptFeed(schedule.attempts(startup), closing)
        if self.attempts.current is None:
            raise ConnectFailed("reconnect is disabled (maxReconnectAttempts=0)")
        self.errors = retryable(startup=startup)
        self.deadline = deadline
        self._closing = closing

    def _expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def bounded(self, value: float) -> float:
        """``value`` seconds, or what is left before the deadline when that is less."""
        if self.deadline is None:
            return value
        return max(0.001, min(value, self.deadline - time.monotonic()))

    def sleep_time(self, seconds: float) -> float:
        """A back-off sleep cut at the deadline."""
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline - time.monotonic()))
        return seconds

    def first_delay(self) -> float:
        """The delay before the first try: the last connection died young, so its back-off
        still applies (logged)."""
        first = self.attempts.current
        assert first is not None
        if first.delay > 0:
            log.warning("reconnecting to %s in %.3fs", first.broker.url, first.delay)
        return first.delay

    def next_broker(self) -> BrokerAddress:
        """Before a try: the broker to try.

        Raises:
            NotConnected: the client is closing.
            StompTimeout: the deadline has passed.
        """
        attempt = self.attempts.current
        assert attempt is not None
        if self._closing():
            raise NotConnected("client is closing")
        if self._expired():
            raise StompTimeout("connect timeout reached")
        return attempt.broker

    def failed(self, broker: BrokerAddress, exc: BaseException) -> None:
        """A try failed with one of :attr:`errors` (listed in the final ConnectFailed)."""
        self.attempts.tried.append((broker.url, exc))

    def options(self, sleep: Callable[[float], Any]) -> dict[str, Any]:
        """The keyword arguments of tenacity's ``Retrying``/``AsyncRetrying``."""
        attempts = self.attempts

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s (%s); next: %s in %.3fs", *attempts.describe_retry(exc))

        return {
            "stop": lambda state: attempts.stop(state) or self._expired(),
            "wait": attempts.wait,
            "sleep": sleep,
            "retry": retry_if_exception_type(self.errors),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def final_error(self) -> Exception:
        """The error of a loop that gave up."""
        if self._closing():
            return NotConnected("client closed while connecting")
        return connect_failed(self.attempts.tried)


class ShellBase(ClientView, abc.ABC):
    """The constructor and the connection-independent helpers of both clients; the
    arguments are documented on :class:`stomp_enterprise.Client`, validated by
    :meth:`~stomp_enterprise.config.ClientConfig.for_client`. Any thread.

    Raises:
        ConfigError: an invalid option (named, never with its value when it may be secret).
    """

    def __init__(
        self,
        url: str,
        *,
        login: str | None = None,
        passcode: str | None = None,
        vhost: str | None = None,
        versions: Sequence[str] = ("1.2", "1.1", "1.0"),
        heart_beats: tuple[int, int] = (10_000, 10_000),
        ssl: Any = None,
        timeouts: Timeouts | Mapping[str, float | None] | None = None,
        **options: Any,
    ) -> None:
        self.config = config = ClientConfig.for_client(
            url,
            login=login,
            passcode=passcode,
            vhost=vhost,
            versions=versions,
            heart_beats=heart_beats,
            ssl=ssl,
            timeouts=timeouts,
            options=options,
        )
        # one id counter for every session: receipt ids carried over stay unique
        self._session_ids = itertools.count(1)
        self._marker_ids = itertools.count(1)  # trackMessages markers, unique likewise
        self._session = self._new_session()
        # between connections: schedule, outbox, flags, counters
        self._life = Lifecycle(config.failover, config.seed)
        self._outbox = self._life.outbox
        self._schedule = self._life.schedule
        self._connection = None
        self._subscriptions = {}
        self._ids = itertools.count(1)
        self._observer: Observer | None = None  # see observe(); None: nothing is measured
        self._ssl_context = client_ssl_context(
            config.ssl, any(broker.use_ssl for broker in config.failover.brokers)
        )
        self._setup()

    @abc.abstractmethod
    def _setup(self) -> None:
        """The shell's own state (called at the end of the constructor)."""

    # ------------------------------------------------------------ per connection

    def _new_session(self, versions: Sequence[str] | None = None) -> Session:
        """A session offering ``versions`` (default: the configured ones; over WebSocket
        the transport narrows them to the accepted subprotocol's)."""
        config = self.config
        return Session(
            tuple(versions) if versions is not None else config.versions,
            config.heart_beats,
            max_frame_size=config.max_frame_size,
            content_length=config.content_length,
            skip_oversize=True,
            ids=self._session_ids,
        )

    def _new_tracker(self) -> SendTracker | None:
        """The ``trackMessages`` cache of a new connection (None without tracking)."""
        policy = self.config.failover.policy
        if not policy.track_messages:
            return None
        return SendTracker(policy.max_cache_size, ids=self._marker_ids)

    def _handshake_options(self, timeout: float) -> dict[str, Any]:
        """The keyword arguments of a connection's ``handshake``."""
        config = self.config
        return {
            "host": config.vhost,
            "login": config.login,
            "passcode": config.passcode.get_secret_value() if config.passcode else None,
            "headers": connect_headers(config.connect_headers, config.client_id),
            "timeout": timeout,
        }

    def _transport_options(self, broker: BrokerAddress) -> dict[str, Any]:
        """TLS context and SNI name for ``broker``, and the WebSocket options and STOMP
        versions (whose subprotocols a ``ws``/``wss`` upgrade offers)."""
        return {
            "ssl_context": self._ssl_context if broker.use_ssl else None,
            "server_hostname": server_hostname_of(self.config.ssl),
            "websocket": self.config.websocket,
            "versions": self.config.versions,
        }

    def _announce(self, url: str, info: Connected, *, reconnect: bool) -> ConnectedInfo:
        """Log a new current connection; what the ``connected`` listeners get."""
        heart_beats = (info.send_interval, info.receive_interval)
        log.info(
            "connected to %s (STOMP %s, heart-beats %s)%s",
            url,
            info.version,
            heart_beats,
            " after reconnect" if reconnect else "",
        )
        return ConnectedInfo(
            url, info.version, info.server, info.session_id, heart_beats, reconnect
        )

    def _not_connected(self) -> NotConnected:
        """The error of a call made while no connection may come."""
        connection = self._connection
        error = connection.lost_error if connection is not None else None
        return NotConnected("not connected" + (f" (last error: {error})" if error else ""))

    # ------------------------------------------------------------ typed options

    def _send_parts(
        self,
        body: Any,
        headers: Mapping[str, str] | None,
        content_type: str | None,
        options: Mapping[str, Any],
        info: Connected | None,
    ) -> tuple[bytes, Mapping[str, str] | None, str | None]:
        """The body, headers and content type of a send with typed options or a codec
        (``send(**options)``), written as the broker of ``info`` expects.

        Raises:
            TypeError: an unknown option.
            ConfigError: an invalid option value, or a header given twice.
            PayloadError: the codec cannot encode ``body``.
        """
        typed, codec = split_send_options(options)
        payload, content_type = encode_body(body, content_type, codec)
        if typed is not None:
            flavour = flavour_of(info.server if info else None)
            headers = send_option_headers(flavour, time.time(), headers, typed)
        return payload, headers, content_type

    def _durable_removal(self, connection: Any, name: str) -> tuple[bool, dict[str, str]]:
        """How the broker of ``connection`` deletes durable subscription ``name``: whether
        through the UNSUBSCRIBE of a live subscription (RabbitMQ) rather than a separate
        one after it, and the removal headers (see
        :mod:`stomp_enterprise.core.subscribe_options`)."""
        info = connection.info
        flavour = flavour_of(info.server if info else None)
        return durable_removal_attached(flavour), durable_removal_headers(flavour, name)

    # ------------------------------------------------------------ subscriptions

    def _subscribe_headers(
        self,
        connection: Any,
        destination: str,
        headers: Mapping[str, str] | None,
        *,
        ack: str,
        pull: bool,
        options: SubscribeOptions | None = None,
    ) -> Mapping[str, str] | None:
        """SUBSCRIBE headers: the typed options (durable, selector, prefetch) in the broker's
        spelling, the broker's routing quirk, and with client acks and no prefetch header,
        the broker's own, sized so two full subscriptions fit in the backlog (see
        :func:`~stomp_enterprise.core.backlog.with_prefetch`).

        Raises:
            ConfigError: an option the broker refuses, or a header given twice.
        """
        if options is not None and options.given:
            info = connection.info
            config = self.config
            headers = merge_headers(
                headers,
                options.headers(
                    flavour_of(info.server if info else None),
                    destination,
                    client_id=config.client_id,
                    bytes_per_message=config.max_backlog_bytes // config.max_backlog_messages,
                ),
            )
        headers = connection.routed(destination, headers, subscribe=True)
        if ack == "auto":
            return headers
        config = self.config
        info = connection.info
        return with_prefetch(
            headers,
            info.server if info else None,
            max_messages=config.max_backlog_messages,
            max_bytes=config.max_backlog_bytes,
            queue_size=config.queue_size,
            pull=pull,
        )

    def _subscription_id(self, requested: str | None) -> str:
        """``requested``, or a generated id.

        Raises:
            ConfigError: the id is already in use.
        """
        sub_id = requested if requested is not None else f"sub-{next(self._ids)}"
        if sub_id in self._subscriptions:
            raise ConfigError(f"subscription id {sub_id!r} is already in use")
        return sub_id

    # ------------------------------------------------------------ observability

    def observe(
        self,
        hook: MetricHook | None = None,
        *,
        otel: bool = False,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        spans: str = "essential",
    ) -> None:
        """Start measuring: counters for :meth:`stats`, a callback per measurement, and
        OpenTelemetry spans and metrics (see ``docs/observability.md``).

        Until this is called nothing is measured and the send, receive and ack paths do
        no work for it (``send`` is then replaced on this instance by an observed one).
        Calling it again replaces the previous setup (the counters restart).

        Args:
            hook: called as ``hook(name, value, attributes)`` for every measurement
                (``name`` one of ``stomp_enterprise.core.stats.COUNTERS``), on the thread
                that made it: the sender's, the dispatcher's, a ``get()`` caller's (the
                event loop's for the asyncio client), never the threaded client's reader.
                Keep it short; its exceptions are logged.
            otel: trace and meter with OpenTelemetry (the ``otel`` extra): ``traceparent``
                is injected on every SEND and extracted from every MESSAGE.
            tracer_provider: OpenTelemetry tracer provider (default: the global one).
            meter_provider: OpenTelemetry meter provider (default: the global one).
            spans: ``"essential"`` (the default): a span per operation the application
                sees: ``send``, ``request`` (which is its SEND: no ``send`` span under
                it), ``process`` (a ``serve()`` reply's SEND is part of it), ``receive``;
                an ack/nack is an event on the current span. ``"full"``: also a ``send``
                span under each ``request`` and for each reply, and an ``ack``/``nack``
                span for each settlement.

        Raises:
            ConfigError: ``otel=True`` without ``opentelemetry-api`` installed, a hook
                that is not callable, or an unknown ``spans`` mode.

        Any thread (the asyncio client: its loop's).
        """
        observer = Observer(
            # a real lock on both clients: OpenTelemetry reads the sums on its own thread
            threading.Lock(),
            hook=guarded(hook) if hook is not None else None,
            otel=otel,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            backlog=self._backlog_now,
            spans=spans,
        )
        connection = self._connection
        if connection is not None:
            self._observe_connection(observer, connection, self._address_of(connection))
        self._observer = observer
        self._observed()

    @abc.abstractmethod
    def _observed(self) -> None:
        """:meth:`observe` was called: switch to the observed ``send``."""

    @abc.abstractmethod
    def _address_of(self, connection: Any) -> BrokerAddress:
        """The broker address of one of this shell's connections."""

    @staticmethod
    def _observe_connection(observer: Observer, connection: Any, address: BrokerAddress) -> None:
        """Tell ``observer`` about a new connection (its server and address attributes)."""
        info = connection.info
        observer.connected(info.server if info else None, address.host, address.port)

    def stats(self) -> ClientStats:
        """The counters since :meth:`observe` and the current consume backlog.

        Raises:
            ConfigError: :meth:`observe` was not called (nothing is counted before).

        Any thread.
        """
        observer = self._observer
        if observer is None:
            raise ConfigError("statistics are off: call client.observe() first")
        return observer.stats()

    @property
    @abc.abstractmethod
    def backlog(self) -> BacklogInfo:
        """The current connection's consume backlog (each shell's)."""

    def _backlog_now(self) -> tuple[int, int]:
        info = self.backlog
        return info.messages, info.bytes

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {redact_uri_secrets(self.config.failover.to_uri())} "
            f"login={self.config.login!r} connected={self.is_connected}>"
        )
