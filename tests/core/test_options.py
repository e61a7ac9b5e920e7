"""Typed message options: validation, per-broker headers, typed read-back (pure)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stomp_enterprise.core.flavour import Flavour, flavour_of
from stomp_enterprise.core.options import (
    MessageFields,
    SendOptions,
    merge_headers,
    send_option_headers,
    split_send_options,
)
from stomp_enterprise.errors import ConfigError
from stomp_enterprise.protocol import Frame

NOW = 1_800_000_000.0  # epoch seconds
UTC = timezone.utc


@pytest.mark.parametrize(
    ("server", "flavour"),
    [
        ("ActiveMQ/5.17.2", Flavour.ACTIVEMQ),
        ("ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine", Flavour.ARTEMIS),
        ("RabbitMQ/3.10.8", Flavour.RABBITMQ),
        ("apache-apollo/1.7.1", Flavour.APOLLO),
        ("stomp-enterprise-testing", Flavour.OTHER),
        (None, Flavour.OTHER),
        ("", Flavour.OTHER),
    ],
)
def test_flavour_from_the_server_header(server, flavour) -> None:
    assert flavour_of(server) is flavour


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"priority": 10}, "priority"),
        ({"priority": -1}, "priority"),
        ({"priority": True}, "priority"),
        ({"priority": 4.0}, "priority"),
        ({"persistent": "yes"}, "persistent"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": -5}, "ttl"),
        ({"ttl": math.nan}, "ttl"),
        ({"ttl": math.inf}, "ttl"),
        ({"ttl": "60"}, "ttl"),
        ({"ttl": timedelta(0)}, "ttl"),
        ({"expires": datetime(2030, 1, 1)}, "expires"),  # naive: ambiguous
        ({"expires": 1_900_000_000}, "expires"),
        ({"expires": datetime(2030, 1, 1, tzinfo=UTC), "ttl": 5}, "expires"),
        ({"correlation_id": ""}, "correlation_id"),
        ({"reply_to": 7}, "reply_to"),
        ({"message_type": b"x"}, "message_type"),
    ],
)
def test_invalid_options_raise_config_error_naming_the_option(options, named) -> None:
    with pytest.raises(ConfigError) as info:
        SendOptions(**options)
    assert info.value.context["option"] == named
    assert isinstance(info.value, ValueError)


def test_free_text_values_never_appear_in_the_error() -> None:
    with pytest.raises(ConfigError) as info:
        SendOptions(correlation_id=b"secret-token")  # type: ignore[arg-type]
    assert "secret-token" not in str(info.value)


def test_activemq_style_headers() -> None:
    options = SendOptions(
        persistent=True,
        priority=9,
        ttl=60,
        correlation_id="c-1",
        reply_to="/queue/replies",
        message_type="order",
    )
    for flavour in (Flavour.ACTIVEMQ, Flavour.ARTEMIS, Flavour.APOLLO, Flavour.OTHER):
        assert options.headers(flavour, NOW) == {
            "persistent": "true",
            "priority": "9",
            "expires": str(int(NOW * 1000) + 60_000),
            "correlation-id": "c-1",
            "reply-to": "/queue/replies",
            "type": "order",
        }


def test_rabbitmq_gets_a_relative_expiration_in_ms() -> None:
    assert SendOptions(ttl=1.5, persistent=False).headers(Flavour.RABBITMQ, NOW) == {
        "persistent": "false",
        "expiration": "1500",
    }
    expires = datetime.fromtimestamp(NOW + 30, tz=UTC)
    assert SendOptions(expires=expires).headers(Flavour.RABBITMQ, NOW) == {"expiration": "30000"}
    # already past: the smallest TTL RabbitMQ takes (it would refuse 0 or a negative one)
    past = datetime.fromtimestamp(NOW - 30, tz=UTC)
    assert SendOptions(expires=past).headers(Flavour.RABBITMQ, NOW) == {"expiration": "1"}


def test_an_absolute_expires_is_epoch_ms_whatever_its_time_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    expires = datetime(2030, 1, 1, 2, 0, tzinfo=plus_two)
    headers = SendOptions(expires=expires).headers(Flavour.ACTIVEMQ, NOW)
    assert headers == {"expires": str(int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000))}


@given(st.floats(min_value=0.001, max_value=10**7, allow_nan=False))
def test_ttl_maps_to_the_same_moment_on_every_broker(ttl: float) -> None:
    options = SendOptions(ttl=ttl)
    absolute = int(options.headers(Flavour.ACTIVEMQ, NOW)["expires"])
    relative = int(options.headers(Flavour.RABBITMQ, NOW)["expiration"])
    assert relative >= 1
    assert absolute - int(NOW * 1000) == relative == max(1, math.ceil(ttl * 1000))


@given(st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=3650)))
def test_a_timedelta_ttl_equals_its_seconds(ttl: timedelta) -> None:
    assert SendOptions(ttl=ttl).headers(Flavour.RABBITMQ, NOW) == SendOptions(
        ttl=ttl.total_seconds()
    ).headers(Flavour.RABBITMQ, NOW)


def test_no_options_no_headers() -> None:
    assert SendOptions().headers(Flavour.RABBITMQ, NOW) == {}
    assert send_option_headers(Flavour.OTHER, NOW, {"x": "1"}, SendOptions()) == {"x": "1"}


def test_a_header_given_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="priority"):
        send_option_headers(Flavour.OTHER, NOW, {"priority": "1"}, SendOptions(priority=2))
    assert merge_headers({"a": "1"}, {"b": "2"}) == {"a": "1", "b": "2"}
    assert merge_headers(None, {"b": "2"}) == {"b": "2"}


class _Host(MessageFields):
    __slots__ = ("frame", "subscription")

    def __init__(self, headers: dict[str, str]) -> None:
        self.frame = Frame("MESSAGE", headers)


def test_typed_read_back() -> None:
    message = _Host(
        {
            "persistent": "true",
            "priority": "4",
            "expires": "1800000060000",
            "correlation-id": "c-1",
            "reply-to": "/temp-queue/r",
            "type": "order",
            "redelivered": "true",
        }
    )
    assert message.persistent is True
    assert message.priority == 4
    assert message.expires == datetime.fromtimestamp(1_800_000_060, tz=UTC)
    assert message.ttl is None
    assert message.correlation_id == "c-1"
    assert message.reply_to == "/temp-queue/r"
    assert message.message_type == "order"
    assert message.redelivered is True


def test_read_back_of_absent_or_unparsable_headers_is_none() -> None:
    empty = _Host({})
    assert (empty.persistent, empty.priority, empty.expires, empty.ttl) == (None,) * 4
    assert (empty.correlation_id, empty.reply_to, empty.message_type) == (None,) * 3
    assert empty.redelivered is False
    odd = _Host({"priority": "high", "expires": "0", "expiration": "soon", "persistent": "no"})
    assert (odd.priority, odd.expires, odd.ttl, odd.persistent) == (None, None, None, False)
    assert _Host({"expiration": "1500"}).ttl == timedelta(milliseconds=1500)


def test_split_send_options() -> None:
    codec = object()
    assert split_send_options({}) == (None, None)
    assert split_send_options({"codec": codec, "priority": None}) == (None, codec)
    assert split_send_options({"priority": 3}) == (SendOptions(priority=3), None)
    with pytest.raises(TypeError, match="send\\(\\) got an unexpected keyword argument 'prio'"):
        split_send_options({"prio": 3})
    with pytest.raises(ConfigError, match="priority"):
        split_send_options({"priority": 30})
