"""Failover URIs and the reconnect schedule, with ActiveMQ failover-transport semantics (sans I/O).

This module only *computes*: it parses broker and failover URIs into frozen models and yields
the order in which brokers should be tried and how long to wait before each try. It never
opens a socket, sleeps, reads a clock or starts a thread; the client layer does that.

URI forms accepted by :func:`parse_uri` (surrounding whitespace is ignored):

* ``failover:(tcp://h1:61613,ssl://h2:61614,stomp+ssl://[::1]:61612)?initialReconnectDelay=10``
  (ActiveMQ). Inside the parentheses each broker URI may carry its own ``?name=value&...``
  options, kept in :attr:`BrokerAddress.options` but not interpreted.
* ``failover:tcp://h1:61613,tcp://h2:61613?randomize=false`` (ActiveMQ, no parentheses). In
  this form the first ``?`` starts the *failover* options, so brokers cannot carry their own
  options; use the parenthesized form for that.
* Failover options separated by ``&`` (ActiveMQ) or ``,`` (stompest), or a mix of both. The
  value of ``priorityURIs`` is itself a comma-separated list of broker URIs.
* A single ``tcp://``, ``ssl://``, ``stomp://`` or ``stomp+ssl://`` URI. It gets the default
  policy except ``maxReconnectAttempts=0`` and ``startupMaxReconnectAttempts=0``: one
  connection try and no reconnect (wrap it in ``failover:(...)`` to get retries).

Broker ports are optional: 61613 for ``tcp``/``stomp`` and 61614 for ``ssl``/``stomp+ssl``.

Attempt counting (:meth:`ReconnectSchedule.attempts`) follows ActiveMQ's ``FailoverTransport``
code, which counts *passes* over the whole broker list, not single broker tries:

* Every broker is tried once per pass. The first attempt of a pass carries the pass delay; the
  other attempts of the pass have delay 0.
* The first pass after construction or :meth:`ReconnectSchedule.reset` has delay 0, and so
  has the first reconnect pass after a healthy connection; after a connection that died young
  (:meth:`ReconnectSchedule.lost`) it waits the current delay instead. Pass 2
  waits ``initialReconnectDelay``; each later pass waits the previous pass delay multiplied by
  ``reconnectDelayExponent`` when ``useExponentialBackOff`` is true (otherwise the same delay
  again). Every pass delay is capped at ``maxReconnectDelay``.
* The pass limit: on startup the limit is ``startupMaxReconnectAttempts``, or
  ``maxReconnectAttempts`` when the former is -1 (ActiveMQ falls back exactly like that). When
  reconnecting after a loss the limit is ``maxReconnectAttempts``. A limit of -1 means
  unlimited passes; a limit ``N > 0`` allows exactly ``N`` passes. A limit of 0 allows one
  pass on startup (ActiveMQ always makes the initial connection pass) and *no* pass when
  reconnecting (reconnect disabled). Hence the number of passes is ``max(N, 1)`` on startup and
  ``N`` on reconnect -- never ``1 + N``.
"""

from __future__ import annotations

import ipaddress
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, Literal, NamedTuple, NoReturn, cast
from urllib.parse import quote, unquote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from stomp_enterprise.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_CACHE_SIZE",
    "DEFAULT_PORTS",
    "HEALTHY_AFTER",
    "SCHEMES",
    "Attempt",
    "BrokerAddress",
    "FailoverPolicy",
    "FailoverUri",
    "ReconnectSchedule",
    "Scheme",
    "parse_uri",
]

Scheme = Literal["tcp", "ssl", "stomp", "stomp+ssl", "ws", "wss"]

#: The broker URI schemes understood, in the order listed in error messages.
SCHEMES: Final[tuple[Scheme, ...]] = ("tcp", "ssl", "stomp", "stomp+ssl", "ws", "wss")

#: The port used when a broker URI does not give one.
DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "tcp": 61613,
    "stomp": 61613,
    "ssl": 61614,
    "stomp+ssl": 61614,
    "ws": 80,
    "wss": 443,
}

_SSL_SCHEMES: Final = frozenset({"ssl", "stomp+ssl", "wss"})
_WEBSOCKET_SCHEMES: Final = frozenset({"ws", "wss"})
_FAILOVER_PREFIX: Final = "failover:"
_HOSTNAME_RE: Final = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")
_DIGITS_RE: Final = re.compile(r"[0-9]+")
_INTEGER_RE: Final = re.compile(r"[+-]?[0-9]+")
_OPTION_SEPARATORS_RE: Final = re.compile(r"[&,]")


def _raise_config_error(exc: ValidationError, what: str) -> NoReturn:
    """Re-raise a pydantic ``ValidationError`` as a :class:`ConfigError`.

    A :class:`ConfigError` raised by one of our validators is re-raised unchanged (its message
    already names the offending part); other errors are described with their location.

    Args:
        exc: the validation error.
        what: what was being validated, for messages without a better location.

    Raises:
        ConfigError: always.
    """
    errors = exc.errors()
    found: list[ConfigError] = []
    messages: list[str] = []
    for error in errors:
        original = error.get("ctx", {}).get("error")
        if isinstance(original, ConfigError):
            found.append(original)
            messages.append(str(original))
        else:
            where = ".".join(str(part) for part in error["loc"]) or what
            messages.append(f"invalid {what} {where}: {error['msg']} (got {error['input']!r})")
    if len(found) == 1 and len(errors) == 1:
        raise found[0] from None
    raise ConfigError("; ".join(messages)) from None


# --------------------------------------------------------------------------------------------
# Broker addresses
# --------------------------------------------------------------------------------------------


def _normalize_host(value: object) -> str:
    """Validate a broker host and return its normalized form.

    Hostnames are lower-cased; IPv6 addresses are given without brackets (brackets are accepted
    and removed) and compressed.

    Args:
        value: the host, possibly ``[bracketed]`` when it is an IPv6 address.

    Returns:
        The normalized host.

    Raises:
        ConfigError: empty host, whitespace, unbalanced brackets, bad characters or a bad IPv6
            address.
    """
    if not isinstance(value, str):
        raise ConfigError(
            f"invalid broker host {value!r}: expected a string", part="host", value=value
        )
    host = value
    bracketed = host.startswith("[") or host.endswith("]")
    if bracketed:
        if not (host.startswith("[") and host.endswith("]")) or len(host) < 2:
            raise ConfigError(
                f"invalid broker host {value!r}: unbalanced brackets", part="host", value=value
            )
        host = host[1:-1]
    if "[" in host or "]" in host:
        raise ConfigError(
            f"invalid broker host {value!r}: unbalanced brackets", part="host", value=value
        )
    if not host:
        raise ConfigError("invalid broker host: empty", part="host", value=value)
    if any(char.isspace() for char in host):
        raise ConfigError(
            f"invalid broker host {value!r}: contains whitespace", part="host", value=value
        )
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host).compressed
        except ValueError:
            raise ConfigError(
                f"invalid broker host {value!r}: not a valid IPv6 address",
                part="host",
                value=value,
            ) from None
    if bracketed:
        raise ConfigError(
            f"invalid broker host {value!r}: brackets are only for IPv6 addresses",
            part="host",
            value=value,
        )
    if not _HOSTNAME_RE.fullmatch(host):
        raise ConfigError(
            f"invalid broker host {value!r}: only letters, digits, '-', '_' and '.' are allowed",
            part="host",
            value=value,
        )
    return host.lower()


class BrokerAddress(BaseModel):
    """One broker: scheme, host and port, plus uninterpreted per-broker URI options.

    Construct it directly or with :meth:`parse`. Every invalid input raises
    :class:`~stomp_enterprise.errors.ConfigError`. When ``port`` is omitted it defaults to
    :data:`DEFAULT_PORTS` for the scheme (61613 for ``tcp``/``stomp``, 61614 for
    ``ssl``/``stomp+ssl``, 80 for ``ws`` and 443 for ``wss``). Do not mutate :attr:`options`.

    Attributes:
        scheme: ``"tcp"``, ``"ssl"``, ``"stomp"``, ``"stomp+ssl"``, ``"ws"`` or ``"wss"``
            (STOMP over WebSocket, ``wss`` over TLS); case-insensitive input.
        host: hostname (lower-cased) or IPv6 address (compressed, without brackets).
        port: TCP port, 1..65535.
        options: per-broker query options (``?transport.x=y``), kept but not interpreted
            (``tcp``/``ssl``/``stomp``/``stomp+ssl`` only).
        resource: ``ws``/``wss`` only: the HTTP request target, path and query as given
            (``"/ws"``, ``"/stomp?token=..."``); ``"/"`` when the URI has none. Its query is
            never shown in :attr:`url` (it may carry a token).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheme: Scheme
    host: str
    port: int
    options: dict[str, str] = Field(default_factory=dict)
    resource: str = ""

    def __init__(self, **data: Any) -> None:
        """Validate the fields.

        Raises:
            ConfigError: a field is invalid; the message names it.
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            _raise_config_error(exc, "broker address")

    def __hash__(self) -> int:
        """Hash on every field (``options`` as a sorted tuple)."""
        options = tuple(sorted(self.options.items()))
        return hash((self.scheme, self.host, self.port, options, self.resource))

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("port") is None:
            scheme = data.get("scheme")
            if isinstance(scheme, str) and scheme.lower() in DEFAULT_PORTS:
                return {**data, "port": DEFAULT_PORTS[scheme.lower()]}
        return data

    @field_validator("scheme", mode="before")
    @classmethod
    def _check_scheme(cls, value: object) -> str:
        if isinstance(value, str) and value.lower() in SCHEMES:
            return value.lower()
        raise ConfigError(
            f"unsupported broker scheme {value!r} (expected one of {', '.join(SCHEMES)})",
            part="scheme",
            value=value,
        )

    @model_validator(mode="after")
    def _check_resource(self) -> BrokerAddress:
        if self.scheme in _WEBSOCKET_SCHEMES:
            if not self.resource:
                object.__setattr__(self, "resource", "/")
            elif not self.resource.startswith("/") or any(
                c.isspace() or not c.isprintable() for c in self.resource
            ):
                raise ConfigError(
                    "invalid WebSocket resource: must start with '/' and hold no spaces or "
                    "control characters",
                    part="path",
                    value=self.resource,
                )
            if self.options:
                raise ConfigError(
                    "ws:// and wss:// brokers take no per-broker options (their query is "
                    "sent to the server as part of the request)",
                    part="options",
                    value=self.options,
                )
        elif self.resource:
            raise ConfigError(
                f"a path is only allowed for ws:// and wss:// brokers, not {self.scheme}://",
                part="path",
                value=self.resource,
            )
        return self

    @field_validator("host", mode="before")
    @classmethod
    def _check_host(cls, value: object) -> str:
        return _normalize_host(value)

    @field_validator("port", mode="before")
    @classmethod
    def _check_port(cls, value: object) -> int:
        if isinstance(value, str):
            if not value:
                raise ConfigError("invalid broker port: empty", part="port", value=value)
            if not _DIGITS_RE.fullmatch(value):
                raise ConfigError(
                    f"invalid broker port {value!r}: not a number", part="port", value=value
                )
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise ConfigError(
                f"invalid broker port {value!r}: expected an integer", part="port", value=value
            )
        if not 1 <= number <= 65535:
            raise ConfigError(
                f"invalid broker port {value!r}: out of range 1..65535", part="port", value=value
            )
        return number

    @field_validator("options", mode="before")
    @classmethod
    def _check_options(cls, value: object) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"invalid broker options {value!r}: expected a mapping of str to str",
                part="options",
                value=value,
            )
        options: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key or not isinstance(item, str):
                raise ConfigError(
                    f"invalid broker option {key!r}={item!r}: names must be non-empty strings "
                    "and values strings",
                    part="options",
                    value=value,
                )
            options[key] = item
        return options

    @property
    def use_ssl(self) -> bool:
        """Whether the connection is TLS (``ssl`` and ``stomp+ssl``)."""
        return self.scheme in _SSL_SCHEMES

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The fields, with a WebSocket query (it may hold a token) shown as ``?***``."""
        for name, value in super().__repr_args__():
            if name == "resource" and "?" in value:
                value = value.partition("?")[0] + "?***"
            yield name, value

    @property
    def use_websocket(self) -> bool:
        """Whether STOMP goes over WebSocket (``ws`` and ``wss``)."""
        return self.scheme in _WEBSOCKET_SCHEMES

    @property
    def url(self) -> str:
        """The normalized address, without options (nor a WebSocket query), e.g.
        ``tcp://[::1]:61613`` or ``ws://h:15674/ws``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = self.resource.partition("?")[0]
        return f"{self.scheme}://{host}:{self.port}{path if path != '/' else ''}"

    def to_uri(self) -> str:
        """Return :attr:`url` plus the percent-encoded options (a WebSocket URI's query as
        given); :meth:`parse` reverses it."""
        if self.resource:
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"{self.scheme}://{host}:{self.port}{self.resource}"
        if not self.options:
            return self.url
        query = "&".join(
            f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in self.options.items()
        )
        return f"{self.url}?{query}"

    @classmethod
    def parse(cls, uri: str) -> BrokerAddress:
        """Parse ``scheme://host[:port][/][?name=value&...]``, or for ``ws``/``wss``
        ``scheme://host[:port][/path][?query]`` (path and query kept in :attr:`resource`).

        Args:
            uri: the broker URI; IPv6 hosts go in brackets (``tcp://[::1]:61613``).

        Returns:
            The broker address.

        Raises:
            ConfigError: bad scheme, host, port, path or options; the message names the part
                and the URI.
        """
        if not isinstance(uri, str):
            raise ConfigError(f"invalid broker URI {uri!r}: expected a string", value=uri)
        text = uri.strip()
        if not text:
            raise ConfigError("invalid broker URI: empty", part="uri", value=uri)
        scheme, separator, rest = text.partition("://")
        if not separator:
            raise ConfigError(
                f"invalid broker URI {uri!r}: no scheme (expected e.g. tcp://host:61613)",
                part="scheme",
                value=uri,
            )
        if scheme.lower() not in SCHEMES:
            raise ConfigError(
                f"unsupported broker scheme {scheme!r} in broker URI {uri!r} "
                f"(expected one of {', '.join(SCHEMES)})",
                part="scheme",
                value=uri,
            )
        if "#" in rest:
            raise ConfigError(
                f"invalid broker URI {uri!r}: fragments ('#') are not allowed",
                part="fragment",
                value=uri,
            )
        if scheme.lower() in _WEBSOCKET_SCHEMES:
            return cls._parse_websocket(uri, scheme, rest)
        authority, has_query, query = rest.partition("?")
        if "@" in authority:  # before the path check: a password may hold a '/'
            raise ConfigError(
                f"invalid broker URI {uri!r}: user information ('user@host') is not supported; "
                "pass credentials separately",
                part="host",
                value=uri,
            )
        authority, _, path = authority.partition("/")
        if path:
            raise ConfigError(
                f"invalid broker URI {uri!r}: unexpected path '/{path}' (a path is only allowed "
                "for ws:// and wss:// brokers)",
                part="path",
                value=uri,
            )
        try:
            host, port = _split_authority(authority)
            options = _parse_broker_query(query) if has_query else {}
            data: dict[str, object] = {"scheme": scheme, "host": host, "options": options}
            if port is not None:
                data["port"] = port
            return cls(**data)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in broker URI {uri!r})", **exc.context) from None

    @classmethod
    def _parse_websocket(cls, uri: str, scheme: str, rest: str) -> BrokerAddress:
        """``ws://host[:port][/path][?query]`` after the scheme (``rest``)."""
        cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
        authority, resource = rest[:cut], rest[cut:]
        if "@" in authority:
            raise ConfigError(
                f"invalid broker URI {uri!r}: user information ('user@host') is not "
                "supported; pass credentials separately",
                part="host",
                value=uri,
            )
        if resource.startswith("?"):
            resource = "/" + resource
        try:
            host, port = _split_authority(authority)
            data: dict[str, object] = {"scheme": scheme, "host": host, "resource": resource}
            if port is not None:
                data["port"] = port
            return cls(**data)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in broker URI {uri!r})", **exc.context) from None


def _split_authority(authority: str) -> tuple[str, str | None]:
    """Split ``host[:port]`` / ``[v6][:port]`` into host text and port text (``None``: absent).

    Raises:
        ConfigError: unbalanced brackets or an unbracketed IPv6 address.
    """
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ConfigError(
                f"invalid broker host {authority!r}: unbalanced brackets (missing ']')",
                part="host",
                value=authority,
            )
        host, after = authority[: end + 1], authority[end + 1 :]
        if not after:
            return host, None
        if after.startswith(":"):
            return host, after[1:]
        raise ConfigError(
            f"invalid broker host {authority!r}: unexpected {after!r} after ']'",
            part="host",
            value=authority,
        )
    if "]" in authority:
        raise ConfigError(
            f"invalid broker host {authority!r}: unbalanced brackets (missing '[')",
            part="host",
            value=authority,
        )
    if authority.count(":") > 1:
        raise ConfigError(
            f"invalid broker host {authority!r}: an IPv6 address must be in brackets, "
            "e.g. tcp://[::1]:61613",
            part="host",
            value=authority,
        )
    host, has_port, port = authority.partition(":")
    return host, port if has_port else None


def _parse_broker_query(query: str) -> dict[str, str]:
    """Parse per-broker ``name=value&...`` options (percent-decoded).

    Raises:
        ConfigError: an option without ``=``, with an empty name, or given twice.
    """
    options: dict[str, str] = {}
    for segment in query.split("&"):
        if not segment:
            continue
        name, has_value, value = segment.partition("=")
        if not has_value:
            raise ConfigError(
                f"invalid broker option {segment!r}: expected name=value",
                part="options",
                value=segment,
            )
        key = unquote(name)
        if not key:
            raise ConfigError(
                f"invalid broker option {segment!r}: empty name", part="options", value=segment
            )
        if key in options:
            raise ConfigError(
                f"broker option {key!r} given more than once", part="options", value=key
            )
        options[key] = unquote(value)
    return options


# --------------------------------------------------------------------------------------------
# Failover policy
# --------------------------------------------------------------------------------------------

#: Default ``maxCacheSize`` (bytes): the client's outbound queue bound (see FailoverPolicy).
DEFAULT_MAX_CACHE_SIZE: Final = 4 * 1024 * 1024

#: ActiveMQ (URI) name of every policy field.
_ALIASES: Final[Mapping[str, str]] = {
    "initial_reconnect_delay": "initialReconnectDelay",
    "max_reconnect_delay": "maxReconnectDelay",
    "use_exponential_back_off": "useExponentialBackOff",
    "reconnect_delay_exponent": "reconnectDelayExponent",
    "max_reconnect_attempts": "maxReconnectAttempts",
    "startup_max_reconnect_attempts": "startupMaxReconnectAttempts",
    "randomize": "randomize",
    "priority_backup": "priorityBackup",
    "priority_uris": "priorityURIs",
    "timeout": "timeout",
    "reconnect_delay_jitter": "reconnectDelayJitter",
    "track_messages": "trackMessages",
    "max_cache_size": "maxCacheSize",
}

#: Extra URI spellings: stompest's name for the back-off exponent.
_SYNONYMS: Final[Mapping[str, str]] = {"backOffMultiplier": "reconnect_delay_exponent"}

#: Every option name accepted in a URI, mapped to its field.
_URI_OPTIONS: Final[Mapping[str, str]] = {
    **{alias: field for field, alias in _ALIASES.items()},
    **_SYNONYMS,
}

#: Every keyword accepted by :class:`FailoverPolicy`, mapped to its field.
_KEYWORDS: Final[Mapping[str, str]] = {**_URI_OPTIONS, **{field: field for field in _ALIASES}}


def _unknown_option(name: object) -> ConfigError:
    """Build the error for an unknown option name, with a hint on a case mismatch."""
    valid = ", ".join(sorted(_URI_OPTIONS, key=str.lower))
    hint = ""
    if isinstance(name, str):
        for candidate in _URI_OPTIONS:
            if candidate.lower() == name.lower():
                hint = f"; did you mean {candidate!r}?"
                break
    return ConfigError(
        f"unknown failover option {name!r}{hint} (valid options: {valid})", option=name
    )


def _option_name(info: ValidationInfo) -> str:
    """Return the ActiveMQ name of the field being validated."""
    field = info.field_name or ""
    return _ALIASES.get(field, field)


def _bad_value(option: str, value: object, expected: str) -> ConfigError:
    return ConfigError(
        f"invalid value {value!r} for failover option {option}: {expected}",
        option=option,
        value=value,
    )


def _int_option(option: str, value: object, minimum: int) -> int:
    """Read an integer option: an ``int`` (not ``bool``) or decimal string, >= ``minimum``."""
    expected = f"expected an integer >= {minimum}"
    if isinstance(value, str) and _INTEGER_RE.fullmatch(value.strip()):
        number = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _bad_value(option, value, expected)
    if number < minimum:
        raise _bad_value(option, value, expected)
    return number


def _float_option(option: str, value: object, minimum: float) -> float:
    """Read a finite number option (``int``/``float``/numeric string), >= ``minimum``."""
    expected = f"expected a number >= {minimum}"
    number: float
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _bad_value(option, value, expected) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise _bad_value(option, value, expected)
    if not math.isfinite(number) or number < minimum:
        raise _bad_value(option, value, expected)
    return number


def _bool_option(option: str, value: object) -> bool:
    """Read a boolean option: a ``bool`` or ``"true"``/``"false"`` in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _bad_value(option, value, "expected true or false")


class FailoverPolicy(BaseModel):
    """The failover options, with ActiveMQ's names (as aliases) and ActiveMQ's defaults.

    Keyword-only; both the snake_case field names and the ActiveMQ camelCase names are
    accepted (plus stompest's ``backOffMultiplier`` for ``reconnectDelayExponent``). Numbers
    and booleans may be given as strings (``"10"``, ``"TRUE"``). Every invalid input raises
    :class:`~stomp_enterprise.errors.ConfigError` naming the option and the value.

    Attributes:
        initial_reconnect_delay: ``initialReconnectDelay``, ms before the first retry pass
            (default 10, >= 0).
        max_reconnect_delay: ``maxReconnectDelay``, cap on every pass delay in ms
            (default 30000, >= 0).
        use_exponential_back_off: ``useExponentialBackOff``, grow the delay between passes
            (default true).
        reconnect_delay_exponent: ``reconnectDelayExponent`` (alias ``backOffMultiplier``),
            the growth factor (default 2.0, >= 1).
        max_reconnect_attempts: ``maxReconnectAttempts``, pass limit when reconnecting after a
            loss: -1 unlimited (default), 0 no reconnect, N > 0 at most N passes.
        startup_max_reconnect_attempts: ``startupMaxReconnectAttempts``, pass limit for the
            first connection: -1 (default) means "use maxReconnectAttempts", 0 one pass,
            N > 0 at most N passes.
        randomize: ``randomize``, shuffle the brokers at the start of every pass (default true).
        priority_backup: ``priorityBackup``, always try the priority brokers first and return
            to them when connected elsewhere (default false).
        priority_uris: ``priorityURIs``, the priority brokers (a comma-separated list in URIs;
            default empty: the first listed broker is the priority one).
        timeout: ``timeout``, ms a send may block while disconnected; -1 means not set
            (default). Used by the client, not by the schedule.
        reconnect_delay_jitter: ``reconnectDelayJitter``, ms of random jitter added to each
            retry-pass delay, as in stompest: uniform in ``[0, jitter]``, the result capped at
            ``maxReconnectDelay`` (default 0: none).
        track_messages: ``trackMessages``, keep every SEND written since the broker last
            confirmed (a marker receipt the client adds now and then) and write them again
            after a reconnect: every ``send()`` that returned arrives at least once,
            duplicates possible (default false). Used by the client, not by the schedule.
        max_cache_size: ``maxCacheSize``, bytes the tracking cache may hold; when it is
            full the sender waits for a confirmation (default 4194304 = 4 MiB, the size of
            the outbound queue, so that a full queue can be in flight while its
            confirmation comes back; ActiveMQ's 131072 would make the writer wait for a
            broker round trip every 32 KiB).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    initial_reconnect_delay: int = Field(default=10, alias="initialReconnectDelay")
    max_reconnect_delay: int = Field(default=30000, alias="maxReconnectDelay")
    use_exponential_back_off: bool = Field(default=True, alias="useExponentialBackOff")
    reconnect_delay_exponent: float = Field(default=2.0, alias="reconnectDelayExponent")
    max_reconnect_attempts: int = Field(default=-1, alias="maxReconnectAttempts")
    startup_max_reconnect_attempts: int = Field(default=-1, alias="startupMaxReconnectAttempts")
    randomize: bool = Field(default=True, alias="randomize")
    priority_backup: bool = Field(default=False, alias="priorityBackup")
    priority_uris: tuple[BrokerAddress, ...] = Field(default=(), alias="priorityURIs")
    timeout: int = Field(default=-1, alias="timeout")
    reconnect_delay_jitter: int = Field(default=0, alias="reconnectDelayJitter")
    track_messages: bool = Field(default=False, alias="trackMessages")
    max_cache_size: int = Field(default=DEFAULT_MAX_CACHE_SIZE, alias="maxCacheSize")

    def __init__(self, **data: Any) -> None:
        """Validate the options.

        Raises:
            ConfigError: an unknown, duplicated or invalid option; the message names it.
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            _raise_config_error(exc, "failover option")

    @model_validator(mode="before")
    @classmethod
    def _canonical_names(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        result: dict[str, object] = {}
        spelled: dict[str, str] = {}
        for key, value in data.items():
            field = _KEYWORDS.get(key) if isinstance(key, str) else None
            if field is None:
                raise _unknown_option(key)
            if field in result:
                raise ConfigError(
                    f"failover option {_ALIASES[field]} given more than once "
                    f"(as {spelled[field]!r} and {key!r})",
                    option=_ALIASES[field],
                )
            result[field] = value
            spelled[field] = key
        return result

    @field_validator(
        "initial_reconnect_delay", "max_reconnect_delay", "reconnect_delay_jitter", mode="before"
    )
    @classmethod
    def _check_delay(cls, value: object, info: ValidationInfo) -> int:
        return _int_option(_option_name(info), value, minimum=0)

    @field_validator(
        "max_reconnect_attempts", "startup_max_reconnect_attempts", "timeout", mode="before"
    )
    @classmethod
    def _check_minus_one_or_more(cls, value: object, info: ValidationInfo) -> int:
        return _int_option(_option_name(info), value, minimum=-1)

    @field_validator("reconnect_delay_exponent", mode="before")
    @classmethod
    def _check_exponent(cls, value: object, info: ValidationInfo) -> float:
        return _float_option(_option_name(info), value, minimum=1.0)

    @field_validator("max_cache_size", mode="before")
    @classmethod
    def _check_cache_size(cls, value: object, info: ValidationInfo) -> int:
        return _int_option(_option_name(info), value, minimum=1)

    @field_validator(
        "use_exponential_back_off", "randomize", "priority_backup", "track_messages", mode="before"
    )
    @classmethod
    def _check_bool(cls, value: object, info: ValidationInfo) -> bool:
        return _bool_option(_option_name(info), value)

    @field_validator("priority_uris", mode="before")
    @classmethod
    def _check_priority_uris(cls, value: object, info: ValidationInfo) -> tuple[BrokerAddress, ...]:
        option = _option_name(info)
        items: Sequence[object]
        if isinstance(value, str):
            items = [part for part in (p.strip() for p in value.split(",")) if part]
        elif isinstance(value, Sequence):
            items = value
        else:
            raise _bad_value(option, value, "expected a comma-separated list of broker URIs")
        brokers: list[BrokerAddress] = []
        for item in items:
            try:
                broker = (
                    item
                    if isinstance(item, BrokerAddress)
                    else BrokerAddress.parse(cast(str, item))
                )
            except ConfigError as exc:
                raise _bad_value(option, value, str(exc)) from None
            if broker.options:
                raise _bad_value(option, value, f"{broker.to_uri()} may not carry options")
            if broker in brokers:
                raise _bad_value(option, value, f"{broker.url} is listed twice")
            brokers.append(broker)
        return tuple(brokers)

    def max_passes(self, startup: bool) -> int | None:
        """How many passes over the broker list :meth:`ReconnectSchedule.attempts` allows.

        Args:
            startup: ``True`` for the first connection, ``False`` for a reconnect after a loss.

        Returns:
            ``None`` for unlimited, else the number of passes (0 only when reconnecting with
            ``maxReconnectAttempts=0``). See the module docstring for the rules.
        """
        limit = self.max_reconnect_attempts
        if startup and self.startup_max_reconnect_attempts != -1:
            limit = self.startup_max_reconnect_attempts
        if limit == -1:
            return None
        return max(limit, 1) if startup else limit

    def to_options(self, *, include_defaults: bool = False) -> dict[str, str]:
        """Return the options as URI strings keyed by their ActiveMQ names.

        Args:
            include_defaults: also list options equal to their default.

        Returns:
            ``{"initialReconnectDelay": "100", ...}``, in field order.
        """
        options: dict[str, str] = {}
        for field, alias in _ALIASES.items():
            value = getattr(self, field)
            if not include_defaults and value == type(self).model_fields[field].default:
                continue
            options[alias] = _format_option(value)
        return options


def _format_option(value: object) -> str:
    """Format an option value the way :func:`parse_uri` reads it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return ",".join(cast(BrokerAddress, broker).url for broker in value)
    return str(value)


def _single_broker_policy() -> FailoverPolicy:
    """Return the policy of a plain (non-failover) broker URI: one try, no reconnect."""
    return FailoverPolicy(max_reconnect_attempts=0, startup_max_reconnect_attempts=0)


# --------------------------------------------------------------------------------------------
# Failover URIs
# --------------------------------------------------------------------------------------------


class FailoverUri(BaseModel):
    """A parsed failover URI: the brokers, in the order listed, and the failover policy.

    Attributes:
        brokers: at least one broker, no broker (by :attr:`BrokerAddress.url`) twice.
        policy: the failover options; every ``priorityURIs`` entry must be one of the brokers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    brokers: tuple[BrokerAddress, ...]
    policy: FailoverPolicy = Field(default_factory=FailoverPolicy)

    def __init__(self, **data: Any) -> None:
        """Validate the brokers and the policy.

        Raises:
            ConfigError: no brokers, a duplicated broker, an invalid policy, or a priority URI
                that is not one of the brokers.
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            _raise_config_error(exc, "failover URI")

    @field_validator("brokers", mode="before")
    @classmethod
    def _check_brokers(cls, value: object) -> tuple[BrokerAddress, ...]:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(
                f"invalid broker list {value!r}: expected a sequence of brokers",
                part="brokers",
                value=value,
            )
        brokers: list[BrokerAddress] = []
        for item in value:
            if isinstance(item, BrokerAddress):
                broker = item
            elif isinstance(item, str):
                broker = BrokerAddress.parse(item)
            else:
                raise ConfigError(
                    f"invalid broker {item!r}: expected a BrokerAddress or a URI string",
                    part="brokers",
                    value=item,
                )
            if any(other.url == broker.url for other in brokers):
                raise ConfigError(
                    f"broker {broker.url} is listed more than once", part="brokers", value=value
                )
            brokers.append(broker)
        if not brokers:
            raise ConfigError("the failover URI lists no brokers", part="brokers", value=value)
        return tuple(brokers)

    @model_validator(mode="after")
    def _check_priority_uris(self) -> FailoverUri:
        urls = {broker.url for broker in self.brokers}
        for broker in self.policy.priority_uris:
            if broker.url not in urls:
                raise ConfigError(
                    f"invalid value for failover option priorityURIs: {broker.url} is not one "
                    f"of the brokers ({', '.join(b.url for b in self.brokers)})",
                    option="priorityURIs",
                    value=broker.url,
                )
        return self

    @classmethod
    def parse(cls, uri: str) -> FailoverUri:
        """Parse a URI; same as :func:`parse_uri`."""
        return parse_uri(uri)

    def to_uri(self) -> str:
        """Format as a URI that :func:`parse_uri` turns back into an equal object.

        A single broker with the single-URI policy gives its plain broker URI; anything else
        gives ``failover:(b1,b2,...)?name=value&...`` listing only the non-default options.
        """
        if len(self.brokers) == 1 and self.policy == _single_broker_policy():
            return self.brokers[0].to_uri()
        brokers = ",".join(broker.to_uri() for broker in self.brokers)
        options = "&".join(f"{name}={value}" for name, value in self.policy.to_options().items())
        return f"failover:({brokers})" + (f"?{options}" if options else "")


def _parse_failover_options(query: str, uri: str) -> dict[str, str]:
    """Split ``name=value`` failover options separated by ``&`` and/or ``,``.

    A token without ``=`` right after ``priorityURIs`` continues its comma-separated value.

    Raises:
        ConfigError: a malformed, unknown or duplicated option.
    """
    options: dict[str, str] = {}
    fields: dict[str, str] = {}
    last: str | None = None
    for raw_token in _OPTION_SEPARATORS_RE.split(query):
        token = raw_token.strip()
        if not token:
            continue
        if "=" not in token:
            if last == "priorityURIs":
                options[last] = f"{options[last]},{unquote(token)}"
                continue
            raise ConfigError(
                f"malformed failover option {token!r} in {uri!r}: expected name=value",
                option=token,
            )
        raw_name, _, raw_value = token.partition("=")
        name, value = unquote(raw_name.strip()), unquote(raw_value.strip())
        field = _URI_OPTIONS.get(name)
        if field is None:
            raise _unknown_option(name)
        if field in fields:
            raise ConfigError(
                f"failover option {name} given more than once in {uri!r}"
                + (f" (also as {fields[field]})" if fields[field] != name else ""),
                option=name,
            )
        fields[field] = name
        options[name] = value
        last = name
    return options


def parse_uri(uri: str) -> FailoverUri:
    """Parse a failover URI or a single broker URI.

    See the module docstring for the accepted forms. A single broker URI (no ``failover:``
    prefix) gets the default policy with ``maxReconnectAttempts=0`` and
    ``startupMaxReconnectAttempts=0``: one try, no reconnect.

    Args:
        uri: e.g. ``failover:(tcp://h1:61613,ssl://h2)?randomize=false`` or ``tcp://h:61613``.

    Returns:
        The brokers and the policy.

    Raises:
        ConfigError: malformed URI, empty broker list, bad broker, unknown, duplicated or
            invalid option; the message names the offending part.
    """
    if not isinstance(uri, str):
        raise ConfigError(f"invalid URI {uri!r}: expected a string", value=uri)
    text = uri.strip()
    if not text:
        raise ConfigError("invalid URI: empty", value=uri)
    if text[: len(_FAILOVER_PREFIX)].lower() != _FAILOVER_PREFIX:
        if "," in text.partition("?")[0]:
            raise ConfigError(
                f"invalid URI {uri!r}: several brokers need the failover: prefix, "
                "e.g. failover:(tcp://h1:61613,tcp://h2:61613)",
                value=uri,
            )
        return FailoverUri(brokers=(BrokerAddress.parse(text),), policy=_single_broker_policy())

    body = text[len(_FAILOVER_PREFIX) :].strip()
    query: str | None
    if body.startswith("("):
        close = body.find(")")
        if close < 0:
            raise ConfigError(f"invalid failover URI {uri!r}: unbalanced '(' (missing ')')")
        inner, rest = body[1:close], body[close + 1 :].strip()
        if "(" in inner:
            raise ConfigError(f"invalid failover URI {uri!r}: nested '(' in the broker list")
        if rest and not rest.startswith("?"):
            raise ConfigError(f"invalid failover URI {uri!r}: unexpected {rest!r} after ')'")
        query = rest[1:] if rest else None
    else:
        if ")" in body or "(" in body:
            raise ConfigError(f"invalid failover URI {uri!r}: unbalanced parentheses")
        inner, has_query, after = body.partition("?")
        query = after if has_query else None

    if not inner.strip():
        raise ConfigError(f"invalid failover URI {uri!r}: empty broker list", value=uri)
    brokers: list[BrokerAddress] = []
    for position, part in enumerate(inner.split(","), start=1):
        if not part.strip():
            raise ConfigError(
                f"invalid failover URI {uri!r}: empty broker URI at position {position}",
                value=uri,
            )
        brokers.append(BrokerAddress.parse(part))
    options = _parse_failover_options(query, uri) if query is not None else {}
    return FailoverUri(brokers=tuple(brokers), policy=FailoverPolicy(**options))


# --------------------------------------------------------------------------------------------
# Reconnect schedule
# --------------------------------------------------------------------------------------------


class Attempt(NamedTuple):
    """One connection try.

    Attributes:
        broker: the broker to try.
        delay: seconds to wait *before* trying it (0 for all but the first try of a pass).
        attempt: the pass number since the schedule was created or :meth:`reset`, from 1.
    """

    broker: BrokerAddress
    delay: float
    attempt: int


class ReconnectSchedule:
    """Which broker to try next and how long to wait first (ActiveMQ semantics, seeded RNG).

    The schedule keeps the pass count and the current back-off between :meth:`attempts`
    calls, like ActiveMQ's ``connectFailures`` and ``reconnectDelay``: call :meth:`connected`
    after every successful connection and :meth:`lost` when it ends (or :meth:`reset` before
    trying again after an exhausted iterator). Use one iterator at a time.

    Ordering of each pass: the brokers in listed order, shuffled when ``randomize``; then the
    broker last reported to :meth:`failed` moves to the end; then, with ``priorityBackup``, the
    priority brokers move to the front (a failed priority broker stays behind the other
    priority brokers but ahead of the rest). Stable otherwise.

    Back-off across connections (see :meth:`connected` and :meth:`lost`): a successful
    CONNECT starts the pass count over, but the back-off delay starts over only once that
    connection has proven healthy by staying up :meth:`healthy_after` seconds. A connection
    that dies younger (a broker that answers CONNECTED and closes, a poison message that
    kills every connection) makes the next reconnect wait the current delay and grow it, as
    if the connection had failed: such a broker is tried at most once per current delay.

    Not thread-safe and free of I/O: one owner calls it, from any thread, one call at a time
    (the client does so from the thread that connects, or holding its state lock).

    Args:
        uri: the brokers and the policy.
        seed: seed for ``random.Random`` (shuffling and jitter); ``None`` seeds from the OS.
        healthy_after: the minimum life, in seconds, of a healthy connection (default
            :data:`HEALTHY_AFTER`); the current back-off delay applies when it is longer.
    """

    def __init__(
        self, uri: FailoverUri, *, seed: int | None = None, healthy_after: float | None = None
    ) -> None:
        """Create the schedule; see the class docstring.

        Raises:
            ConfigError: ``uri`` is not a :class:`FailoverUri`, or ``healthy_after`` is not
                a finite number of seconds >= 0.
        """
        if healthy_after is None:
            healthy_after = HEALTHY_AFTER
        if not isinstance(uri, FailoverUri):
            raise ConfigError(f"invalid failover URI {uri!r}: expected a FailoverUri", value=uri)
        self._uri = uri
        self._policy = uri.policy
        self._rng = random.Random(seed)
        priority = uri.policy.priority_uris or uri.brokers[:1]
        self._priority_urls = frozenset(broker.url for broker in priority)
        if (
            isinstance(healthy_after, bool)
            or not isinstance(healthy_after, int | float)
            or not healthy_after >= 0  # also refuses NaN
            or math.isinf(healthy_after)
        ):
            raise ConfigError(
                f"invalid healthy_after {healthy_after!r}: expected seconds >= 0",
                value=healthy_after,
            )
        self._healthy_after = float(healthy_after)
        self._failed: BrokerAddress | None = None
        self._passes = 0
        self._backoff_ms = self._initial_backoff_ms()
        self._delay_first_pass = False  # the last connection died young: keep backing off
        self._connected_at: float | None = None

    @property
    def uri(self) -> FailoverUri:
        """The failover URI the schedule was built from."""
        return self._uri

    @property
    def passes(self) -> int:
        """Passes started since creation or the last :meth:`reset`."""
        return self._passes

    def attempts(self, startup: bool) -> Iterator[Attempt]:
        """Yield the connection tries, pass after pass, until the pass limit is reached.

        The iterator is lazy: the pass count and back-off advance when the first try of a pass
        is produced, and the pass order (shuffle, failed broker, priority) is drawn then.

        Args:
            startup: ``True`` for the first connection (limit ``startupMaxReconnectAttempts``,
                falling back to ``maxReconnectAttempts`` when -1), ``False`` when reconnecting
                after a loss (limit ``maxReconnectAttempts``).

        Returns:
            An iterator of :class:`Attempt`; infinite when the limit is -1.

        Raises:
            ConfigError: ``startup`` is not a bool.
        """
        if not isinstance(startup, bool):
            raise ConfigError(f"invalid startup flag {startup!r}: expected a bool", value=startup)
        return self._generate(self._policy.max_passes(startup))

    def _generate(self, limit: int | None) -> Iterator[Attempt]:
        while limit is None or self._passes < limit:
            delay = self._next_pass_delay_ms() / 1000.0
            self._passes += 1
            number = self._passes
            for index, broker in enumerate(self._ordering()):
                yield Attempt(broker, delay if index == 0 else 0.0, number)

    def _initial_backoff_ms(self) -> float:
        policy = self._policy
        return float(min(policy.initial_reconnect_delay, policy.max_reconnect_delay))

    def _next_pass_delay_ms(self) -> float:
        """Return the delay of the pass about to start, advancing the back-off."""
        if self._passes == 0 and not self._delay_first_pass:
            return 0.0
        self._delay_first_pass = False
        policy = self._policy
        base = self._backoff_ms
        if policy.use_exponential_back_off:
            grown = base * policy.reconnect_delay_exponent
            self._backoff_ms = min(grown, float(policy.max_reconnect_delay))
        if policy.reconnect_delay_jitter > 0:
            jittered = base + self._rng.uniform(0.0, float(policy.reconnect_delay_jitter))
            return min(jittered, float(policy.max_reconnect_delay))
        return base

    def _ordering(self) -> list[BrokerAddress]:
        brokers = list(self._uri.brokers)
        if self._policy.randomize:
            self._rng.shuffle(brokers)
        failed = self._failed
        priority_first = self._policy.priority_backup
        brokers.sort(
            key=lambda broker: (
                0 if priority_first and self.is_priority(broker) else 1,
                1 if broker == failed else 0,
            )
        )
        return brokers

    def _check_known(self, broker: object) -> BrokerAddress:
        if isinstance(broker, BrokerAddress) and broker in self._uri.brokers:
            return broker
        shown = broker.url if isinstance(broker, BrokerAddress) else repr(broker)
        raise ConfigError(f"unknown broker {shown}: not in the failover list", value=broker)

    def failed(self, broker: BrokerAddress) -> None:
        """Report that the connection to ``broker`` was lost: it goes last in later passes.

        Only the most recent report counts (like ActiveMQ's ``failedConnectTransportURI``);
        :meth:`reset` does not clear it.

        Raises:
            ConfigError: ``broker`` is not one of the brokers.
        """
        self._failed = self._check_known(broker)

    def is_priority(self, broker: BrokerAddress) -> bool:
        """Whether ``broker`` is a priority broker (``priorityURIs``, else the first listed)."""
        return broker.url in self._priority_urls

    def should_return_to_priority(self, current: BrokerAddress) -> bool:
        """Whether the client, connected to ``current``, should periodically try a priority one.

        Returns:
            ``True`` when ``priorityBackup`` is on and ``current`` is not a priority broker.

        Raises:
            ConfigError: ``current`` is not one of the brokers.
        """
        self._check_known(current)
        return self._policy.priority_backup and not self.is_priority(current)

    def reset(self) -> None:
        """Start over completely: the pass count and the back-off (a new client's schedule).

        After a connection, call :meth:`connected` and :meth:`lost` instead: they start the
        back-off over only for a connection that proved healthy.
        """
        self._passes = 0
        self._backoff_ms = self._initial_backoff_ms()
        self._delay_first_pass = False
        self._connected_at = None

    def healthy_after(self) -> float:
        """Seconds a connection made now must stay up to count as healthy.

        That is the longer of the ``healthy_after`` given to the constructor and the current
        back-off delay: a connection that lives shorter than the wait it would save proves
        nothing, so a flapping broker is never tried more often than once per current delay.
        """
        return max(self._healthy_after, self._backoff_ms / 1000.0)

    def connected(self, now: float) -> None:
        """Report a successful connection (CONNECTED received) at time ``now``.

        The pass count starts over (the broker was reachable); the back-off delay is kept
        until :meth:`lost` says whether the connection was healthy.

        Args:
            now: a monotonic clock reading in seconds (``time.monotonic()``); the schedule
                never reads a clock itself.

        Raises:
            ConfigError: ``now`` is not a finite number.
        """
        self._connected_at = _check_time(now)
        self._passes = 0
        self._delay_first_pass = False

    def lost(self, now: float) -> bool:
        """Report that the connection reported to :meth:`connected` ended at time ``now``.

        A connection that stayed up at least :meth:`healthy_after` seconds was healthy: the
        back-off starts over and the first reconnect pass starts at once. One that died
        younger keeps the back-off: the first reconnect pass waits the current delay (which
        then grows, as between failed passes). Without a :meth:`connected` report before,
        nothing changes.

        Args:
            now: the same clock as for :meth:`connected`.

        Returns:
            True when the connection counted as healthy (the back-off was reset).

        Raises:
            ConfigError: ``now`` is not a finite number.
        """
        now = _check_time(now)
        since, self._connected_at = self._connected_at, None
        if since is None:
            return False
        if now - since >= self.healthy_after():
            self.reset()
            return True
        self._delay_first_pass = True
        return False


#: Default minimum life, in seconds, of a connection that resets the back-off (see
#: :meth:`ReconnectSchedule.healthy_after`).
HEALTHY_AFTER: Final = 1.0


def _check_time(now: object) -> float:
    """Validate a clock reading given to the schedule."""
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        raise ConfigError(f"invalid clock reading {now!r}: expected a finite number", value=now)
    return float(now)
