"""The threaded client over ws:// and wss:// against the in-process broker."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from stomp_enterprise import Client, ConnectFailed, ConnectionLost, TlsOptions
from stomp_enterprise.errors import ConfigError
from stomp_enterprise.testing import Broker, transport_of
from stomp_enterprise.transport.websocket import AUTO_PACK
from stomp_enterprise.transport.wsconfig import WebSocketOptions


@pytest.fixture
def ws_broker() -> Iterator[Broker]:
    with Broker(websocket=True) as broker:
        yield broker


def _client(url: str, **options: object) -> Client:
    options.setdefault("heart_beats", (0, 0))
    options.setdefault("timeouts", {"receipt": 5.0, "disconnect": 2.0, "connect": 5.0})
    return Client(url, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("pack", [0, 16 * 1024], ids=["one-frame-each", "packed"])
def test_produce_and_consume_over_websocket(ws_broker: Broker, pack: int) -> None:
    assert ws_broker.url.startswith("ws://127.0.0.1:")
    assert ws_broker.url.endswith("/ws")
    bodies = [bytes([i % 251]) * (i * 37 % 5000) for i in range(300)]  # many frame sizes
    with _client(ws_broker.url, websocket={"pack": pack}) as client:
        sub = client.subscribe("/queue/ws")
        for body in bodies:
            client.send("/queue/ws", body)
        client.send("/queue/ws", b"last", receipt=True)
        got = [sub.get(timeout=5).body for _ in range(len(bodies) + 1)]
        transport = transport_of(client)
        assert transport is not None
        assert transport.websocket is not None
        assert transport.websocket.subprotocol == "v12.stomp"
        assert client.version == "1.2"
    assert got == [*bodies, b"last"]


@pytest.mark.parametrize(("broker_versions", "expected"), [(("1.1",), "1.1"), (("1.0",), "1.0")])
def test_stomp_version_follows_the_accepted_subprotocol(
    broker_versions: tuple[str, ...], expected: str
) -> None:
    with Broker(websocket=True, versions=broker_versions) as broker, _client(broker.url) as client:
        transport = transport_of(client)
        assert transport is not None
        assert transport.websocket is not None
        assert transport.websocket.subprotocol == f"v{expected.replace('.', '')}.stomp"
        assert client.version == expected
        connect = broker.received_frames("CONNECT")[0]
        # only the accepted version is offered (a 1.0 CONNECT has no accept-version)
        assert connect.headers.get("accept-version") == (None if expected == "1.0" else expected)


def test_server_accepting_no_subprotocol_negotiates_in_connect() -> None:
    broker = Broker(websocket=True, websocket_subprotocols=(), versions=("1.1", "1.0"))
    with broker, _client(broker.url) as client:
        transport = transport_of(client)
        assert transport is not None
        assert transport.websocket is not None
        assert transport.websocket.subprotocol is None
        assert client.version == "1.1"
        connect = broker.received_frames("CONNECT")[0]
        assert connect.headers["accept-version"] == "1.0,1.1,1.2"


@pytest.mark.parametrize(
    ("status", "phrase"), [(401, "Unauthorized"), (404, "Not Found"), (502, "Bad Gateway")]
)
def test_refused_upgrade_is_connect_failed_naming_status_and_url(
    ws_broker: Broker, status: int, phrase: str
) -> None:
    ws_broker.reject_websocket(status)
    client = _client(ws_broker.url + "?access_token=s3cret")
    with pytest.raises(ConnectFailed) as caught:
        client.connect()
    text = str(caught.value)
    assert f"{ws_broker.url}: WebSocket upgrade refused: HTTP {status} {phrase}" in text
    assert "s3cret" not in text


def test_broker_ignoring_binary_messages_needs_text_and_says_so() -> None:
    with Broker(websocket=True, websocket_ignore_binary=True) as broker:  # ActiveMQ Classic
        client = _client(broker.url, timeouts={"connect": 5.0, "connected": 0.5})
        with pytest.raises(ConnectFailed, match=r"WebSocketOptions\(text=True\)"):
            client.connect()
        with _client(broker.url, websocket={"text": True}) as client:
            client.send("/queue/text-only", b"ok", receipt=True)


def test_wrong_path_is_404(ws_broker: Broker) -> None:
    url = ws_broker.url.replace("/ws", "/stomp")
    with pytest.raises(ConnectFailed, match="HTTP 404 Not Found"):
        _client(url).connect()


def test_close_frame_ends_the_connection_with_code_and_reason(ws_broker: Broker) -> None:
    lost: list[BaseException] = []
    done = threading.Event()
    with _client(ws_broker.url) as client:

        def on_lost(exc: BaseException) -> None:
            lost.append(exc)
            done.set()

        client.listeners.on("disconnected", on_lost)
        ws_broker.close_websocket(1001, "server shutting down")
        assert done.wait(5)
    assert isinstance(lost[0], ConnectionLost)
    assert "closed the WebSocket: code 1001 (going away): server shutting down" in str(lost[0])


def test_pings_are_answered(ws_broker: Broker) -> None:
    with _client(ws_broker.url) as client:
        ws_broker.ping_websocket(b"are you there")
        ws_broker.wait_for(lambda: ws_broker.websocket_pongs() == 1, timeout=5)
        client.send("/queue/after-ping", b"x", receipt=True)  # the stream is still in order


def test_heart_beats_keep_an_idle_websocket_alive(ws_broker: Broker) -> None:
    lost = threading.Event()
    with _client(ws_broker.url, heart_beats=(50, 50)) as client:
        client.listeners.on("disconnected", lambda exc: lost.set())
        assert not lost.wait(0.6)  # a dozen intervals both ways, all over WebSocket
        client.send("/queue/hb", b"x", receipt=True)


def test_silent_websocket_broker_is_detected_by_heart_beats(ws_broker: Broker) -> None:
    lost: list[BaseException] = []
    done = threading.Event()
    with _client(ws_broker.url, heart_beats=(50, 50)) as client:

        def on_lost(exc: BaseException) -> None:
            lost.append(exc)
            done.set()

        client.listeners.on("disconnected", on_lost)
        ws_broker.go_silent()
        assert done.wait(5)
        ws_broker.resume()
    assert "heart-beat" in str(lost[0])


def test_binary_by_default_text_on_request_and_both_accepted() -> None:
    with Broker(websocket=True, websocket_text=True) as broker:
        for text in (False, True):
            with _client(broker.url, websocket={"text": text}) as client:
                sub = client.subscribe("/queue/text")
                client.send("/queue/text", "héllo".encode(), receipt=True)
                assert sub.get(timeout=5).body == "héllo".encode()  # came as a text message
                received = broker.websocket_messages()
                transport = transport_of(client)
                assert transport is not None
                assert transport.websocket is not None
                assert transport.websocket.text_messages >= 2  # CONNECTED, RECEIPT, MESSAGE
            assert (received[0] > 0, received[1] > 0) == (text, not text)


def test_extra_headers_are_sent_and_never_logged(
    ws_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    options = WebSocketOptions(headers={"Authorization": "Bearer s3cret-token"})
    assert "s3cret" not in repr(options)
    caplog.set_level(logging.DEBUG)
    with _client(ws_broker.url, websocket=options) as client:
        client.send("/queue/h", b"x", receipt=True)
        assert "s3cret" not in repr(client.config)
        assert ws_broker.websocket_requests()[0]["authorization"] == "Bearer s3cret-token"
    assert "s3cret" not in caplog.text
    assert ws_broker.url in caplog.text  # the connection was logged, without the header


def test_failover_mixes_tcp_and_ws_members() -> None:
    with Broker() as tcp_broker, Broker(websocket=True) as ws_broker:
        url = (
            f"failover:({tcp_broker.url},{ws_broker.url})?randomize=false&initialReconnectDelay=10"
        )
        with _client(url) as client:
            sub = client.subscribe("/queue/mixed")
            client.send("/queue/mixed", b"over tcp", receipt=True)
            assert sub.get(timeout=5).body == b"over tcp"
            tcp_broker.stop()  # the client moves to the WebSocket member
            ws_broker.wait_for(lambda: ws_broker.subscriber_count("/queue/mixed") == 1, timeout=10)
            client.send("/queue/mixed", b"over ws", receipt=True)
            assert sub.get(timeout=5).body == b"over ws"
            transport = transport_of(client)
            assert transport is not None
            assert transport.address.scheme == "ws"


def test_reconnects_over_websocket_after_a_dropped_connection(ws_broker: Broker) -> None:
    url = f"failover:({ws_broker.url})?initialReconnectDelay=10"
    with _client(url) as client:
        sub = client.subscribe("/queue/drop")
        ws_broker.drop_connections()
        ws_broker.wait_for(lambda: ws_broker.subscriber_count("/queue/drop") == 1, timeout=10)
        client.send("/queue/drop", b"after", receipt=True)
        assert sub.get(timeout=5).body == b"after"


def test_broker_error_then_close_over_websocket(ws_broker: Broker) -> None:
    errors: list[object] = []
    done = threading.Event()
    with _client(ws_broker.url) as client:
        client.listeners.on("error", lambda exc: (errors.append(exc), done.set()))
        ws_broker.send_error("boom", close=False)
        assert done.wait(5)
    assert "boom" in str(errors[0])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_wss_verifies_with_the_tls_options(ca: trustme.CA, tmp_path: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with Broker(websocket=True, ssl_context=context) as broker:
        assert broker.url.startswith("wss://")
        with pytest.raises(ConnectFailed, match="certificate verif"):
            _client(broker.url).connect()  # verification is on by default
        with _client(broker.url, ssl=TlsOptions(ca_file=ca_file)) as client:
            sub = client.subscribe("/queue/wss")
            client.send("/queue/wss", b"secure", receipt=True)
            assert sub.get(timeout=5).body == b"secure"


def test_ws_url_with_a_path_is_refused_for_tcp() -> None:
    with pytest.raises(
        ConfigError, match=r"unexpected path '/ws' \(a path is only allowed for ws:// and wss://"
    ):
        Client("tcp://127.0.0.1:61613/ws")


@pytest.mark.parametrize(
    ("server", "option", "expected"),
    [
        ("ActiveMQ-Artemis/2.40.0", None, AUTO_PACK),
        ("RabbitMQ/3.10.8", None, AUTO_PACK),
        ("ActiveMQ/5.18.3", None, 0),  # reads only the first frame of a message
        ("some-broker/1.0", None, 0),  # unknown: not assumed to read them all
        ("ActiveMQ-Artemis/2.40.0", 0, 0),  # explicit: kept
        ("ActiveMQ/5.18.3", 4096, 4096),
    ],
)
def test_automatic_packing_follows_the_connected_broker(
    server: str, option: int | None, expected: int
) -> None:
    options = {} if option is None else {"pack": option}
    bodies = [b"%d" % i * (i % 50) for i in range(300)]
    with Broker(websocket=True, name=server) as broker:
        with _client(broker.url, websocket=options) as client:
            transport = transport_of(client)
            assert transport is not None
            assert transport.websocket is not None
            assert transport.websocket.pack == expected
            sub = client.subscribe("/queue/auto-pack", ack="client-individual")
            for body in bodies:
                client.send("/queue/auto-pack", body)
            client.send("/queue/auto-pack", b"last", receipt=True)
            got = []
            for _ in range(len(bodies) + 1):
                message = sub.get(timeout=5)
                message.ack()
                got.append(message.body)
        assert got == [*bodies, b"last"]


def test_automatic_packing_is_decided_per_connection_on_failover() -> None:
    classic = Broker(websocket=True, name="ActiveMQ/5.18.3")
    artemis = Broker(websocket=True, name="ActiveMQ-Artemis/2.40.0")
    with classic, artemis:
        url = f"failover:({classic.url},{artemis.url})?randomize=false&initialReconnectDelay=10"
        with _client(url) as client:
            sub = client.subscribe("/queue/mixed-pack")
            first = transport_of(client)
            assert first is not None
            assert first.websocket is not None
            assert first.websocket.pack == 0  # ActiveMQ Classic: one frame per message
            classic.stop()  # the client moves to Artemis
            artemis.wait_for(lambda: artemis.subscriber_count("/queue/mixed-pack") == 1, 10)
            client.send("/queue/mixed-pack", b"packed now", receipt=True)
            assert sub.get(timeout=5).body == b"packed now"
            second = transport_of(client)
            assert second is not None
            assert second.websocket is not None
            assert second.websocket.pack == AUTO_PACK
