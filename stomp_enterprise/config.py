"""Typed client configuration (pydantic): every option validated once, with a clear error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ssl import SSLContext
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from stomp_enterprise.errors import ConfigError, redact_uri_secrets
from stomp_enterprise.protocol.constants import VERSIONS
from stomp_enterprise.protocol.failover import FailoverUri, parse_uri
from stomp_enterprise.protocol.parser import DEFAULT_MAX_FRAME_SIZE
from stomp_enterprise.transport.tls import TlsOptions
from stomp_enterprise.transport.wsconfig import WebSocketOptions, require_websockets

__all__ = ["ClientConfig", "Timeouts"]


class Timeouts(BaseModel):
    """Separate, bounded timeouts in seconds. None of them is infinite.

    Attributes:
        connect: TCP connect plus TLS handshake together, per broker tried.
        connected: from CONNECT sent to CONNECTED received.
        receipt: default wait for a RECEIPT (``send(receipt=True)`` and the like).
        drain: how long ``disconnect()`` waits for in-flight handlers to finish.
        disconnect: how long ``disconnect()`` waits for the DISCONNECT receipt (over at once
            when the broker closes the socket instead). ``disconnect()`` as a whole takes at
            most ``drain + disconnect`` plus a one-second join allowance.
        write: longest a single socket write may block (a stuck broker).
        send: how long a send waits for a connection while reconnecting; ``None`` takes
            the failover URI's ``timeout`` option (ActiveMQ's meaning), and when that is
            unset a send while disconnected raises at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect: float = Field(default=10.0, gt=0)
    connected: float = Field(default=10.0, gt=0)
    receipt: float = Field(default=30.0, gt=0)
    drain: float = Field(default=10.0, ge=0)
    disconnect: float = Field(default=5.0, gt=0)
    write: float = Field(default=30.0, gt=0)
    send: float | None = Field(default=None, ge=0)


class ClientConfig(BaseModel):
    """Everything a :class:`~stomp_enterprise.Client` needs; built from its keyword arguments.

    Attributes:
        url: a broker URI (``tcp://``, ``ssl://``, ``stomp://``, ``stomp+ssl://``, ``ws://``,
            ``wss://``) or an ActiveMQ failover URI (its members may mix them).
        login / passcode: credentials (the passcode never appears in a repr or a log).
        vhost: the CONNECT ``host`` header: RabbitMQ's virtual host, Apollo's host name.
            ``None`` sends ``/`` (what RabbitMQ expects by default; ActiveMQ ignores it).
        versions: versions to offer; the highest the broker accepts wins.
        heart_beats: ``(cx, cy)`` ms: we send every cx, we want data every cy (0: off).
        heartbeat_tolerance: declare the broker dead after ``tolerance * interval`` of silence
            (one interval more for ActiveMQ Classic, whose heart-beats can come two intervals
            apart, and before the first byte after CONNECTED).
        ssl: ``True`` for default verification, a :class:`TlsOptions`, or your own
            ``ssl.SSLContext``. Used for ``ssl://``, ``stomp+ssl://`` and ``wss://`` brokers.
        websocket: a :class:`~stomp_enterprise.transport.WebSocketOptions` (or a dict of
            its fields) for ``ws://`` and ``wss://`` brokers: extra upgrade headers (never
            logged), text messages.
        timeouts: see :class:`Timeouts`.
        max_frame_size: largest frame accepted from the broker, and sent to it (a larger
            outgoing frame raises ``FrameTooLarge`` before anything is queued).
        content_length: add ``content-length`` to every body (ActiveMQ then makes a
            BytesMessage); when False it is added only to bodies containing NUL.
        dispatch_workers: threads running handlers. 1 (default) keeps global order; more
            run different subscriptions in parallel while keeping each one's order.
        queue_size: the prefetch a handler-less subscription with client acks asks the
            broker for when its headers name none, which bounds its queue (an auto-ack
            one is bounded by the backlog below).
        max_backlog_messages: messages a connection may hold for the application (handlers
            not yet finished, pull queues not yet read) before its reader stops reading the
            socket, so TCP pushes back on the broker. The default, 1,000, is ActiveMQ's own
            queue prefetch: a broker's usual window fits without a pause.
        max_backlog_bytes: the same bound in body bytes (16 MiB by default: 1,000 messages
            of 16 KiB; a few large messages pause the reader before they cost much memory).
        backlog_low_water: the reader reads again once the backlog is at most this fraction
            of both bounds (hysteresis: one finished handler does not wake it per message).
        read_coalescing: the longest pause, in seconds, of the reader before its next
            read while messages stream in (several frames were already waiting when the
            reader asked, or they come one by one faster than it wakes for them), so each
            read takes a bigger batch: far fewer wake-ups, system calls and ACK writes per
            message under load, and at most this much added delivery latency then. The
            first pause of a stream is 0.3 ms; it doubles while each pause gathers at least
            one frame per 0.1 ms (10,000 a second), up to this bound. A connection carrying
            one frame at a time (requests, paced traffic, receipts) is not delayed, or by
            one 0.3 ms pause at most. 0 turns it off.
        client_id: sent as ``client-id`` (ActiveMQ durable subscriptions).
        connect_headers: extra CONNECT headers.
        seed: seed for failover randomization (tests).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    url: str
    login: str | None = None
    passcode: SecretStr | None = None
    vhost: str | None = None
    versions: tuple[Literal["1.0", "1.1", "1.2"], ...] = VERSIONS
    heart_beats: tuple[int, int] = (10_000, 10_000)
    heartbeat_tolerance: float = Field(default=1.5, ge=1.0)
    ssl: bool | TlsOptions | SSLContext | None = None
    timeouts: Timeouts = Field(default_factory=Timeouts)
    max_frame_size: int = Field(default=DEFAULT_MAX_FRAME_SIZE, gt=0)
    content_length: bool = True
    dispatch_workers: int = Field(default=1, ge=1, le=64)
    queue_size: int = Field(default=1000, ge=1)
    max_backlog_messages: int = Field(default=1000, ge=1)
    max_backlog_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    backlog_low_water: float = Field(default=0.5, ge=0.0, lt=1.0)
    read_coalescing: float = Field(default=0.002, ge=0.0, le=0.01)
    client_id: str | None = None
    connect_headers: dict[str, str] = Field(default_factory=dict)
    websocket: WebSocketOptions = Field(default_factory=WebSocketOptions)
    seed: int | None = None

    @field_validator("heart_beats")
    @classmethod
    def _check_heart_beats(cls, value: tuple[int, int]) -> tuple[int, int]:
        if any(v < 0 for v in value):
            raise ValueError("heart-beat intervals must be >= 0 ms")
        return value

    @field_validator("versions")
    @classmethod
    def _check_versions(cls, value: Sequence[str]) -> Sequence[str]:
        if not value:
            raise ValueError("offer at least one STOMP version")
        return value

    @model_validator(mode="after")
    def _check_url(self) -> ClientConfig:
        failover = self.failover  # parse now so a bad URI fails at construction
        if any(broker.use_websocket for broker in failover.brokers):
            require_websockets()
        return self

    @property
    def failover(self) -> FailoverUri:
        """The parsed URI (a single broker URI is a failover list of one, without retries)."""
        cached: FailoverUri | None = self.__dict__.get("_failover")
        if cached is None:
            cached = parse_uri(self.url)
            self.__dict__["_failover"] = cached
        return cached

    def __init__(self, **data: Any) -> None:
        """Validate ``data``; any thread.

        Raises:
            ConfigError: an invalid option, named with pydantic's reason (never its input,
                which may be a passcode or a URL with a password).
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid client configuration: {problems}") from None

    @classmethod
    def build(cls, **options: Any) -> ClientConfig:
        """Construct, turning validation errors into :class:`ConfigError` naming the option.

        Any thread.
        """
        url = options.get("url")
        if isinstance(url, str):
            parse_uri(url)  # a bad URI raises its own ConfigError, naming the offending part
        elif "url" in options:
            raise ConfigError(f"url must be a str, got {type(url).__name__}")
        return cls(**options)

    @classmethod
    def for_client(
        cls,
        url: str,
        *,
        login: str | None,
        passcode: str | None,
        vhost: str | None,
        versions: Sequence[str],
        heart_beats: tuple[int, int],
        ssl: Any,
        timeouts: Timeouts | Mapping[str, float | None] | None,
        options: Mapping[str, Any],
    ) -> ClientConfig:
        """The configuration of a client (threaded or asyncio) from its constructor's
        arguments: ``timeouts`` may be a dict of :class:`Timeouts` fields. Any thread.

        Raises:
            ConfigError: an invalid option (see :meth:`build`).
        """
        if isinstance(timeouts, Mapping):
            try:
                timeouts = Timeouts(**timeouts)
            except Exception as exc:
                raise ConfigError(f"invalid timeouts: {exc}") from None
        return cls.build(
            url=url,
            login=login,
            passcode=passcode,
            vhost=vhost,
            versions=tuple(versions),
            heart_beats=tuple(heart_beats),
            ssl=ssl,
            timeouts=timeouts or Timeouts(),
            **options,
        )

    def __repr__(self) -> str:
        return (
            f"ClientConfig(url={redact_uri_secrets(self.url)!r}, login={self.login!r}, "
            f"passcode=***, vhost={self.vhost!r}, versions={self.versions!r}, "
            f"heart_beats={self.heart_beats!r})"
        )

    __str__ = __repr__  # pydantic's own str would list connect_headers (may hold secrets)
