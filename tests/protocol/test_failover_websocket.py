"""ws:// and wss:// broker URIs, alone and in failover URIs."""

from __future__ import annotations

import pytest

from stomp_enterprise.errors import ConfigError
from stomp_enterprise.protocol.failover import BrokerAddress, parse_uri


@pytest.mark.parametrize(
    ("uri", "port", "resource", "url"),
    [
        ("ws://h", 80, "/", "ws://h:80"),
        ("wss://h", 443, "/", "wss://h:443"),
        ("WS://H:15674/ws", 15674, "/ws", "ws://h:15674/ws"),
        ("wss://h/stomp?vhost=x&token=abc", 443, "/stomp?vhost=x&token=abc", "wss://h:443/stomp"),
        ("ws://h:1?x=1", 1, "/?x=1", "ws://h:1"),
        ("ws://[::1]:8080/a/b", 8080, "/a/b", "ws://[::1]:8080/a/b"),
    ],
)
def test_websocket_uris_keep_path_and_query(uri: str, port: int, resource: str, url: str) -> None:
    address = BrokerAddress.parse(uri)
    assert (address.port, address.resource, address.url) == (port, resource, url)
    assert address.use_websocket
    assert address.use_ssl == uri.lower().startswith("wss")
    assert BrokerAddress.parse(address.to_uri()) == address
    assert address.options == {}


def test_the_query_never_shows_in_url_or_repr() -> None:
    address = BrokerAddress.parse("wss://h/ws?access_token=s3cret")
    assert "s3cret" not in address.url
    assert "s3cret" not in repr(address)
    assert "s3cret" in address.resource  # sent to the server, nowhere else


def test_failover_mixes_websocket_with_tcp_and_ssl() -> None:
    uri = parse_uri(
        "failover:(tcp://a:61613,ws://b:15674/ws,ssl://c,wss://d/stomp?x=1)?randomize=false"
    )
    assert [b.url for b in uri.brokers] == [
        "tcp://a:61613",
        "ws://b:15674/ws",
        "ssl://c:61614",
        "wss://d:443/stomp",
    ]
    assert [b.use_websocket for b in uri.brokers] == [False, True, False, True]
    assert uri.brokers[3].resource == "/stomp?x=1"
    assert not uri.policy.randomize


def test_a_single_websocket_uri_gets_no_retries() -> None:
    assert parse_uri("ws://h:15674/ws").policy.max_reconnect_attempts == 0


@pytest.mark.parametrize(
    ("uri", "part"),
    [
        ("ws://user:pw@h/ws", "host"),
        ("ws://h/a b", "path"),
        ("tcp://h:61613/ws", "path"),
    ],
)
def test_bad_websocket_uris(uri: str, part: str) -> None:
    with pytest.raises(ConfigError) as caught:
        BrokerAddress.parse(uri)
    assert caught.value.context["part"] == part
    assert "pw" not in str(caught.value)


def test_tcp_broker_cannot_take_a_resource_and_ws_no_options() -> None:
    with pytest.raises(ConfigError, match="only allowed for ws"):
        BrokerAddress(scheme="tcp", host="h", resource="/x")
    with pytest.raises(ConfigError, match="no per-broker options"):
        BrokerAddress(scheme="ws", host="h", options={"a": "b"})
