"""The asyncio client over ws:// and wss:// against the in-process broker (the same codec
as the threaded client's transport: stomp_enterprise.transport.websocket)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from stomp_enterprise import ConnectFailed, ConnectionLost, TlsOptions
from stomp_enterprise.aio import Client
from stomp_enterprise.testing import Broker
from stomp_enterprise.transport.websocket import AUTO_PACK
from tests.aio.conftest import Recorder, eventually


async def _sent_and_received(client: Client, destination: str, bodies: list[bytes]) -> None:
    """Send ``bodies`` then a receipted b"last" to ``destination``; each comes back in
    order on a client-individual subscription and is acked."""
    sub = await client.subscribe(destination, ack="client-individual")
    for item in bodies:
        await client.send(destination, item)
    await client.send(destination, b"last", receipt=True)
    for expected in [*bodies, b"last"]:
        message = await sub.get(timeout=5)
        assert message.body == expected
        await message.ack()


def _client(url: str, **options: object) -> Client:
    options.setdefault("heart_beats", (0, 0))
    options.setdefault("timeouts", {"receipt": 5.0, "disconnect": 2.0, "connect": 5.0})
    return Client(url, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("pack", [0, 16 * 1024], ids=["one-frame-each", "packed"])
def test_produce_and_consume_over_websocket(run_any_loop, pack: int) -> None:
    bodies = [bytes([i % 251]) * (i * 37 % 5000) for i in range(200)]

    async def body() -> None:
        with Broker(websocket=True) as broker:
            async with _client(broker.url, websocket={"pack": pack}) as client:
                assert client.version == "1.2"  # from the accepted subprotocol v12.stomp
                await _sent_and_received(client, "/queue/aio-ws", bodies)
            messages = broker.websocket_messages()
        assert messages[0] == 0  # binary by default

    run_any_loop(body())


def test_version_follows_the_accepted_subprotocol(run) -> None:
    async def body() -> None:
        with Broker(websocket=True, versions=("1.1",)) as broker:
            async with _client(broker.url) as client:
                assert client.version == "1.1"
            assert broker.received_frames("CONNECT")[0].headers["accept-version"] == "1.1"

    run(body())


@pytest.mark.parametrize(("status", "phrase"), [(401, "Unauthorized"), (502, "Bad Gateway")])
def test_refused_upgrade_names_status_and_url(run, status: int, phrase: str) -> None:
    async def body() -> None:
        with Broker(websocket=True) as broker:
            broker.reject_websocket(status)
            client = _client(broker.url + "?token=s3cret")
            with pytest.raises(ConnectFailed) as caught:
                await client.connect()
            text = str(caught.value)
            assert f"{broker.url}: WebSocket upgrade refused: HTTP {status} {phrase}" in text
            assert "s3cret" not in text

    run(body())


def test_close_frame_code_and_reason_and_pings(run) -> None:
    async def body() -> None:
        with Broker(websocket=True) as broker:
            lost = Recorder()
            async with _client(broker.url) as client:
                client.listeners.on("disconnected", lost)
                broker.ping_websocket()
                await eventually(lambda: broker.websocket_pongs() == 1)
                await client.send("/queue/after-ping", b"x", receipt=True)
                broker.close_websocket(1001, "server shutting down")
                (error,) = await lost.wait(1)
            assert isinstance(error, ConnectionLost)
            assert "closed the WebSocket: code 1001 (going away): server shutting down" in str(
                error
            )

    run(body())


def test_text_messages_and_headers(run) -> None:
    async def body() -> None:
        with Broker(websocket=True, websocket_ignore_binary=True) as broker:  # as ActiveMQ
            options = {"text": True, "headers": {"Authorization": "Bearer s3cret"}}
            async with _client(broker.url, websocket=options) as client:
                await client.send("/queue/text", "héllo".encode(), receipt=True)
                assert broker.websocket_requests()[0]["authorization"] == "Bearer s3cret"
            assert broker.websocket_messages()[1] == 0  # nothing binary was sent

    run(body())


def test_wss_verifies_certificates(run, tmp_path: Path) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def body() -> None:
        with Broker(websocket=True, ssl_context=context) as broker:
            with pytest.raises(ConnectFailed, match="certificate verif"):
                await _client(broker.url).connect()
            async with _client(broker.url, ssl=TlsOptions(ca_file=ca_file)) as client:
                await client.send("/queue/wss", b"secure", receipt=True)

    run(body())


@pytest.mark.parametrize(
    ("server", "option", "expected"),
    [
        ("ActiveMQ-Artemis/2.40.0", None, AUTO_PACK),
        ("RabbitMQ/3.10.8", None, AUTO_PACK),
        ("ActiveMQ/5.18.3", None, 0),  # reads only the first frame of a message
        ("ActiveMQ-Artemis/2.40.0", 0, 0),  # explicit: kept
    ],
)
def test_automatic_packing_follows_the_connected_broker(
    run, server: str, option: int | None, expected: int
) -> None:
    options = {} if option is None else {"pack": option}
    bodies = [b"%d" % i * (i % 50) for i in range(200)]

    async def body() -> None:
        with Broker(websocket=True, name=server) as broker:
            async with _client(broker.url, websocket=options) as client:
                connection = client._connection  # the codec of the current connection
                assert connection is not None
                assert connection.stream.websocket is not None
                assert connection.stream.websocket.pack == expected
                await _sent_and_received(client, "/queue/aio-auto-pack", bodies)

    run(body())
