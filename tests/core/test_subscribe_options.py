"""Typed subscription options mapped per broker (pure)."""

from __future__ import annotations

import pytest

from stomp_enterprise.core.flavour import Flavour
from stomp_enterprise.core.subscribe_options import SubscribeOptions, durable_removal_headers
from stomp_enterprise.errors import ConfigError

TOPIC = "/topic/prices"


def headers(flavour: Flavour, options: SubscribeOptions, client_id: str | None = "app-1"):
    return options.headers(flavour, TOPIC, client_id=client_id, bytes_per_message=16384)


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        (Flavour.ACTIVEMQ, {"activemq.subscriptionName": "prices"}),
        (Flavour.OTHER, {"activemq.subscriptionName": "prices"}),
        (Flavour.ARTEMIS, {"durable-subscription-name": "prices"}),
        (
            Flavour.RABBITMQ,
            {"durable": "true", "auto-delete": "false", "x-queue-name": "prices"},
        ),
        (Flavour.APOLLO, {"persistent": "true"}),
    ],
)
def test_durable_headers_per_broker(flavour, expected) -> None:
    assert headers(flavour, SubscribeOptions(durable="prices")) == expected


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        (Flavour.ACTIVEMQ, {"activemq.subscriptionName": "prices"}),
        (Flavour.ARTEMIS, {"durable-subscription-name": "prices"}),
        (Flavour.RABBITMQ, {"durable": "true", "x-queue-name": "prices"}),
        (Flavour.APOLLO, {"persistent": "true"}),
    ],
)
def test_durable_removal_headers_per_broker(flavour, expected) -> None:
    assert durable_removal_headers(flavour, "prices") == expected


@pytest.mark.parametrize("flavour", [Flavour.ACTIVEMQ, Flavour.ARTEMIS, Flavour.OTHER])
def test_durable_needs_a_client_id_where_the_broker_keys_by_it(flavour) -> None:
    with pytest.raises(ConfigError, match="client_id") as info:
        headers(flavour, SubscribeOptions(durable="prices"), client_id=None)
    assert info.value.context["option"] == "durable"


@pytest.mark.parametrize("flavour", [Flavour.RABBITMQ, Flavour.APOLLO])
def test_durable_without_client_id_where_the_broker_does_not_need_one(flavour) -> None:
    assert headers(flavour, SubscribeOptions(durable="prices"), client_id=None)


def test_durable_on_a_queue_is_refused() -> None:
    with pytest.raises(ConfigError, match="/topic/"):
        SubscribeOptions(durable="d").headers(
            Flavour.ACTIVEMQ, "/queue/q", client_id="c", bytes_per_message=1
        )


@pytest.mark.parametrize("name", ["", "a:b", "a\nb", 5])
def test_bad_durable_names(name) -> None:
    with pytest.raises(ConfigError):
        SubscribeOptions(durable=name)
    with pytest.raises(ConfigError):
        durable_removal_headers(Flavour.ACTIVEMQ, name)


def test_a_durable_subscription_id_is_its_name() -> None:
    options = SubscribeOptions(durable="prices")
    assert options.subscription_id(None) == "prices"
    assert options.subscription_id("prices") == "prices"
    with pytest.raises(ConfigError, match="id"):
        options.subscription_id("other")
    assert SubscribeOptions().subscription_id("x") == "x"
    assert SubscribeOptions().subscription_id(None) is None


@pytest.mark.parametrize(
    "flavour", [Flavour.ACTIVEMQ, Flavour.ARTEMIS, Flavour.APOLLO, Flavour.OTHER]
)
def test_selector_header(flavour) -> None:
    assert headers(flavour, SubscribeOptions(selector="region = 'EU'")) == {
        "selector": "region = 'EU'"
    }


def test_rabbitmq_refuses_selectors_instead_of_ignoring_them() -> None:
    with pytest.raises(ConfigError, match="RabbitMQ") as info:
        headers(Flavour.RABBITMQ, SubscribeOptions(selector="a = 1"))
    assert info.value.context["option"] == "selector"


@pytest.mark.parametrize("selector", ["", "   ", 3])
def test_bad_selectors(selector) -> None:
    with pytest.raises(ConfigError):
        SubscribeOptions(selector=selector)


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        (Flavour.ACTIVEMQ, {"activemq.prefetchSize": "20"}),
        (Flavour.OTHER, {"activemq.prefetchSize": "20"}),
        (Flavour.RABBITMQ, {"prefetch-count": "20"}),
        (Flavour.ARTEMIS, {"consumer-window-size": str(20 * 16384)}),
        (Flavour.APOLLO, {"credit": "20,0"}),
    ],
)
def test_prefetch_per_broker(flavour, expected) -> None:
    assert headers(flavour, SubscribeOptions(prefetch=20)) == expected


@pytest.mark.parametrize("prefetch", [0, -1, True, 1.5, "10"])
def test_bad_prefetch(prefetch) -> None:
    with pytest.raises(ConfigError, match="prefetch"):
        SubscribeOptions(prefetch=prefetch)


def test_given() -> None:
    assert not SubscribeOptions().given
    assert SubscribeOptions(prefetch=1).given
