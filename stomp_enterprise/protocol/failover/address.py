"""Broker addresses: one broker URI (``tcp://``, ``ssl://``, ``stomp://``, ``stomp+ssl://``),
parsed and validated (sans I/O)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal, NoReturn
from urllib.parse import quote, unquote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from stomp_enterprise.errors import ConfigError

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
_HOSTNAME_RE: Final = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")
_DIGITS_RE: Final = re.compile(r"[0-9]+")


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
        given); :meth:`parse` reverses it.

        Any thread (addresses are immutable).
        """
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

        Any thread (a pure function).

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
        websocket = scheme.lower() in _WEBSOCKET_SCHEMES
        if websocket:  # path and query are the request target, not options
            cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
            authority, resource = rest[:cut], rest[cut:]
        else:
            authority, has_query, query = rest.partition("?")
        if "@" in authority:  # before the path check: a password may hold a '/'
            raise ConfigError(
                f"invalid broker URI {uri!r}: user information ('user@host') is not supported; "
                "pass credentials separately",
                part="host",
                value=uri,
            )
        if not websocket:
            authority, _, path = authority.partition("/")
            if path:
                raise ConfigError(
                    f"invalid broker URI {uri!r}: unexpected path '/{path}' (a path is only "
                    "allowed for ws:// and wss:// brokers)",
                    part="path",
                    value=uri,
                )
        try:
            host, port = _split_authority(authority)
            data: dict[str, object] = {"scheme": scheme, "host": host}
            if websocket:
                data["resource"] = "/" + resource if resource.startswith("?") else resource
            else:
                data["options"] = _parse_broker_query(query) if has_query else {}
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
