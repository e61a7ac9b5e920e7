"""The failover policy: ActiveMQ failover-transport options, validated, with their defaults.

Sans I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

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
from stomp_enterprise.protocol.failover.address import BrokerAddress, _raise_config_error

_INTEGER_RE: Final = re.compile(r"[+-]?[0-9]+")

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

        Any thread (policies are immutable).

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

        Any thread (policies are immutable).

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
