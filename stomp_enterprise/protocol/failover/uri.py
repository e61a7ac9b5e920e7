"""Failover URIs: the ActiveMQ (and stompest) ``failover:`` syntax parsed into brokers and a
policy (sans I/O)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import unquote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from stomp_enterprise.errors import ConfigError
from stomp_enterprise.protocol.failover.address import BrokerAddress, _raise_config_error
from stomp_enterprise.protocol.failover.policy import (
    _URI_OPTIONS,
    FailoverPolicy,
    _single_broker_policy,
    _unknown_option,
)

_FAILOVER_PREFIX: Final = "failover:"
_OPTION_SEPARATORS_RE: Final = re.compile(r"[&,]")

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
        """Parse a URI; same as :func:`parse_uri`. Any thread (a pure function)."""
        return parse_uri(uri)

    def to_uri(self) -> str:
        """Format as a URI that :func:`parse_uri` turns back into an equal object.

        A single broker with the single-URI policy gives its plain broker URI; anything else
        gives ``failover:(b1,b2,...)?name=value&...`` listing only the non-default options.
        Any thread (URIs are immutable).
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

    Any thread (a pure function).

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
