"""Failover of the asyncio client against the in-process broker's fault injection:
background reconnect, subscription replay, sends across a loss, trackMessages, heart-beats."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
import trustme

from stomp_enterprise import AckError, ConnectFailed, ConnectionLost, NotConnected, TlsOptions
from stomp_enterprise.aio import Client, Message
from stomp_enterprise.testing import Broker
from tests.aio.conftest import Recorder, eventually

FAST = "initialReconnectDelay=20&maxReconnectDelay=200"


def failover(broker: Broker, options: str = "") -> str:
    return f"failover:(tcp://127.0.0.1:{broker.port})?{FAST}{options}"


def test_reconnect_replays_subscriptions_with_the_same_ids(
    run_any_loop, stomp_broker: Broker
) -> None:
    async def body() -> None:
        got, connected = Recorder(), Recorder()
        client = Client(failover(stomp_broker), heart_beats=(0, 0))
        client.listeners.on("connected", connected)
        async with client:
            sub = await client.subscribe("/queue/replay", got, id="my-sub")
            await client.send("/queue/replay", b"before", receipt=True)
            await got.wait(1)
            stomp_broker.drop_connections()
            infos = await connected.wait(2, timeout=10)
            assert [i.reconnect for i in infos] == [False, True]
            await client.send("/queue/replay", b"after", receipt=True, timeout=5)
            messages = await got.wait(2)
            assert [m.body for m in messages] == [b"before", b"after"]
            assert messages[1].subscription is sub
            ids = [f.headers["id"] for f in stomp_broker.received_frames("SUBSCRIBE")]
            assert ids == ["my-sub", "my-sub"]
            assert client.reconnects == 1

    run_any_loop(body())


def test_a_receipted_send_is_written_again_after_a_loss(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        async with Client(failover(stomp_broker), heart_beats=(0, 0)) as client:
            stomp_broker.delay_frames(2.0)
            task = asyncio.create_task(client.send("/queue/x", b"x", receipt=True, timeout=10))
            await eventually(lambda: len(stomp_broker.received_frames("SEND")) == 1)
            stomp_broker.drop_connections()
            stomp_broker.delay_frames(0)
            await task  # its RECEIPT came on the next connection
            sends = stomp_broker.received_frames("SEND")
            assert len(sends) == 2
            assert sends[0].headers["receipt"] == sends[1].headers["receipt"]
            assert client.resent == 1
            assert client.undelivered == 0
            assert client.pending_receipts == 0

    run(body())


def test_a_pending_receipt_fails_with_connection_lost_on_a_plain_uri(
    run, make_client, stomp_broker: Broker
) -> None:
    async def body() -> None:
        async with make_client() as client:
            stomp_broker.delay_frames(2.0)
            task = asyncio.create_task(client.send("/queue/x", b"x", receipt=True))
            await eventually(lambda: len(stomp_broker.received_frames("SEND")) == 1)
            stomp_broker.drop_connections()
            stomp_broker.delay_frames(0)
            with pytest.raises(ConnectionLost):
                await task
            with pytest.raises(NotConnected):
                await client.send("/queue/x", b"y")

    run(body())


def test_a_send_waits_for_the_reconnect_within_its_timeout(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        disconnected = Recorder()
        client = Client(failover(stomp_broker), heart_beats=(0, 0))
        client.listeners.on("disconnected", disconnected)
        async with client:
            await asyncio.to_thread(stomp_broker.stop)
            await disconnected.wait(1)
            assert not client.is_connected
            with pytest.raises(NotConnected):
                await client.send("/queue/w", b"too soon", timeout=0.05)
            sending = asyncio.create_task(client.send("/queue/w", b"waited", timeout=10))
            await asyncio.sleep(0.1)
            assert not sending.done()
            await asyncio.to_thread(stomp_broker.start)
            await sending
            await client.send("/queue/w", b"last", receipt=True, timeout=5)
            bodies = [m.body for m in stomp_broker.sent_messages("/queue/w")]
            assert bodies == [b"waited", b"last"]

    run(body())


def test_reconnect_gives_up_and_says_so(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        failed, undelivered = Recorder(), Recorder()
        client = Client(
            failover(stomp_broker, "&maxReconnectAttempts=2"),
            heart_beats=(0, 0),
            timeouts={"send": 0.0},
        )
        client.listeners.on("reconnect_failed", failed)
        client.listeners.on("undelivered", undelivered)
        async with client:
            sub = await client.subscribe("/queue/gone")
            await asyncio.to_thread(stomp_broker.stop)
            (error,) = await failed.wait(1, timeout=10)
            assert isinstance(error, ConnectFailed)
            with pytest.raises(NotConnected):
                await sub.get(timeout=5)  # ended: does not wait for ever
            with pytest.raises(NotConnected):
                await client.send("/queue/gone", b"x")

    run(body())


def test_tracked_sends_all_arrive_at_least_once_across_a_drop(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        client = Client(failover(stomp_broker, "&trackMessages=true"), heart_beats=(0, 0))
        async with client:
            stomp_broker.delay_frames(5.0)  # the broker reads, its RECEIPTs are held back
            for index in range(50):
                await client.send("/queue/tracked", str(index))
            await eventually(lambda: len(stomp_broker.received_frames("SEND")) >= 50)
            assert client.unconfirmed_bytes > 0
            stomp_broker.drop_connections()
            stomp_broker.delay_frames(0)
            await client.send("/queue/tracked", b"end", receipt=True, timeout=10)
            arrived = [m.body for m in stomp_broker.sent_messages("/queue/tracked")]
            assert {str(i).encode() for i in range(50)} <= set(arrived)
            assert client.resent >= 50
            markers = [
                f.headers["receipt"]
                for f in stomp_broker.received_frames("SEND")
                if f.headers.get("receipt", "").startswith("trk-")
            ]
            assert markers

    run(body())


def test_a_silent_broker_is_detected_by_heart_beats_and_left(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        timeouts, connected = Recorder(), Recorder()
        client = Client(failover(stomp_broker), heart_beats=(100, 100))
        client.listeners.on("heartbeat_timeout", timeouts)
        client.listeners.on("connected", connected)
        async with client:
            assert client.heart_beats == (100, 100)
            await asyncio.sleep(0.5)  # heart-beats both ways keep it alive
            assert client.is_connected
            assert not timeouts.items
            stomp_broker.go_silent()
            await timeouts.wait(1, timeout=5)
            stomp_broker.resume()
            stomp_broker.drop_connections()
            await connected.wait(2, timeout=10)

    run(body())


def test_messages_of_a_lost_connection_cannot_be_acked(run, stomp_broker: Broker) -> None:
    async def body() -> None:
        connected = Recorder()
        client = Client(failover(stomp_broker), heart_beats=(0, 0))
        client.listeners.on("connected", connected)
        async with client:
            sub = await client.subscribe("/queue/acks", ack="client-individual")
            await client.send("/queue/acks", b"x", receipt=True)
            message: Message = await sub.get(timeout=5)
            stomp_broker.drop_connections()
            await connected.wait(2, timeout=10)
            with pytest.raises(AckError):
                await message.ack()
            again = await sub.get(timeout=5)  # redelivered on the new connection
            assert again.body == b"x"
            await again.ack(receipt=True)

    run(body())


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_broker(ca: trustme.CA):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with Broker(ssl_context=context) as broker:
        yield broker


def test_tls_verifies_by_default_and_accepts_a_ca_file(
    run_any_loop, tls_broker: Broker, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def body() -> None:
        with pytest.raises(ConnectFailed, match="certificate verif"):
            await Client(tls_broker.url, heart_beats=(0, 0)).connect()
        options = TlsOptions(ca_file=ca_file)
        async with Client(tls_broker.url, ssl=options, heart_beats=(0, 0)) as client:
            sub = await client.subscribe("/queue/tls")
            await client.send("/queue/tls", b"secret", receipt=True)
            assert (await sub.get(timeout=5)).body == b"secret"

    run_any_loop(body())


def test_priority_backup_returns_to_the_priority_broker(run, stomp_broker_factory) -> None:
    priority, backup = stomp_broker_factory(), stomp_broker_factory()
    priority.stop()  # after both are up: the backup cannot get the port the priority frees
    url = (
        f"failover:(tcp://127.0.0.1:{priority.port},tcp://127.0.0.1:{backup.port})"
        f"?randomize=false&priorityBackup=true&{FAST}"
    )

    async def body() -> None:
        got = Recorder()
        async with Client(url, heart_beats=(0, 0)) as client:
            assert client.broker is not None
            assert client.broker.endswith(str(backup.port))
            await client.subscribe("/topic/prio", got)
            await asyncio.to_thread(priority.start)
            await eventually(lambda: (client.broker or "").endswith(str(priority.port)), 10)
            await eventually(lambda: priority.subscriber_count("/topic/prio") == 1)
            await client.send("/topic/prio", b"on priority", receipt=True)
            assert [m.body for m in await got.wait(1)] == [b"on priority"]
            assert client.reconnects == 1

    run(body())


def test_sends_queued_at_a_loss_on_a_plain_uri_are_reported_undelivered(
    run, make_client, stomp_broker: Broker
) -> None:
    async def body() -> None:
        undelivered = Recorder()
        client = make_client(timeouts={"write": 10.0, "disconnect": 1.0})
        client.listeners.on("undelivered", undelivered)
        await client.connect()
        stomp_broker.go_silent()  # stops reading: the socket, then the transport, fill up
        chunk = b"x" * 65536

        async def pile_up() -> BaseException | None:
            try:
                for _ in range(1000):
                    await client.send("/queue/pile", chunk)
            except (ConnectionLost, NotConnected) as exc:
                return exc
            return None

        sender = asyncio.create_task(pile_up())
        await eventually(lambda: client.pending_bytes > 1_000_000, timeout=10)
        stomp_broker.resume()
        stomp_broker.drop_connections()
        assert isinstance(await sender, ConnectionLost | NotConnected)
        (count, error), *_ = await undelivered.wait(1)
        assert count > 0
        assert isinstance(error, ConnectionLost)
        assert client.undelivered == count
        await client.disconnect()

    run(body())


def test_a_full_tracking_cache_makes_the_sender_wait(run, stomp_broker: Broker) -> None:
    """trackMessages: with no confirmation, a sender waits once the queue holds more than
    the cache (maxCacheSize) has room for; a confirmation lets it go on. The sends of one
    task never yield while there is room, so without the bound all of them return at once."""
    cache, size, count = 16 * 1024, 4096, 20

    async def body() -> None:
        url = failover(stomp_broker, f"&trackMessages=true&maxCacheSize={cache}")
        async with Client(url, heart_beats=(0, 0)) as client:
            stomp_broker.delay_frames(60)  # the broker reads, its RECEIPTs are held back
            returned = 0

            async def flood() -> None:
                nonlocal returned
                for number in range(count):
                    await client.send("/queue/aiofix-bounded", str(number).encode() * size)
                    returned += 1

            task = asyncio.create_task(flood())
            await eventually(lambda: stomp_broker.received_frames("SEND"))
            assert not task.done()
            assert returned <= cache // size + 1
            assert 0 < client.unconfirmed_bytes <= cache
            stomp_broker.delay_frames(0)
            await task
            assert returned == count

    run(body())
