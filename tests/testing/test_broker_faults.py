"""Fault injection, restart, TLS and the broker's own lifecycle."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time

import pytest
import trustme

from stomp_enterprise.protocol import commands
from stomp_enterprise.testing import Broker
from tests.testing.helpers import WAIT, Closed, RawClient


def broker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("stomp-testing-broker")]


def connected_client(clients, broker: Broker, **kwargs) -> RawClient:
    client = clients(broker, **kwargs)
    assert client.connect().command == "CONNECTED"
    return client


def test_start_stop_joins_every_thread(clients):
    broker = Broker()
    assert not broker.running
    broker.start()
    assert broker.url == f"tcp://127.0.0.1:{broker.port}"
    assert broker.port != 0
    a = connected_client(clients, broker)
    connected_client(clients, broker, version="1.0")
    broker.wait_for(lambda: broker.connections == 2)
    names = broker_threads()
    assert "stomp-testing-broker-acceptor" in names
    assert "stomp-testing-broker-conn-1" in names
    assert "stomp-testing-broker-conn-1-writer" in names
    broker.stop()
    assert broker_threads() == []
    assert broker.connections == 0
    assert a.is_closed(1.0)
    broker.stop()  # idempotent
    assert not broker.running


def test_start_twice_is_an_error():
    with Broker() as broker, pytest.raises(RuntimeError):
        broker.start()


def test_invalid_arguments():
    with pytest.raises(ValueError, match="versions"):
        Broker(versions=("2.0",))
    with pytest.raises(ValueError, match="heart_beat"):
        Broker(heart_beat=(-1, 0))


def test_drop_connections(stomp_broker: Broker, clients):
    consumer = connected_client(clients, stomp_broker)
    consumer.send(commands.subscribe("/queue/d", "s", ack="client", receipt="r"))
    consumer.expect("RECEIPT")
    stomp_broker.publish("/queue/d", b"unacked")
    consumer.expect("MESSAGE")
    stomp_broker.drop_connections()
    assert stomp_broker.connections == 0
    assert consumer.is_closed(1.0)
    assert stomp_broker.queue_depth("/queue/d") == 1  # back in the queue
    again = connected_client(clients, stomp_broker)
    again.send(commands.subscribe("/queue/d", "s"))
    assert again.expect("MESSAGE").get("redelivered") == "true"


def test_drop_connections_with_reset(stomp_broker: Broker, clients):
    client = connected_client(clients, stomp_broker)
    stomp_broker.drop_connections(reset=True)
    assert stomp_broker.connections == 0
    with pytest.raises((Closed, ConnectionResetError)):
        client.receive(1.0)


def test_go_silent_and_resume(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.connect(heart_beat=(0, 50))
    client.wait_heartbeats(2)
    stomp_broker.go_silent()
    time.sleep(0.1)  # a heart-beat already in flight may still land
    beats = client.parser.heartbeats
    client.send(commands.send("/queue/s", b"x", receipt="r"))
    client.nothing(0.3)
    assert client.parser.heartbeats == beats  # no heart-beats while silent
    assert stomp_broker.sent_messages() == []  # nor reading
    stomp_broker.resume()
    assert client.expect("RECEIPT").get("receipt-id") == "r"
    client.wait_heartbeats(beats + 2)


def test_silent_broker_does_not_close_idle_clients(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.connect(heart_beat=(50, 0))  # the broker expects data every 50 ms
    stomp_broker.go_silent()
    time.sleep(0.3)  # the client sends nothing, but the broker is not looking
    stomp_broker.resume()
    client.send(commands.send("/queue/s", b"x", receipt="r"))
    client.expect("RECEIPT")


def test_stop_while_silent(clients):
    broker = Broker().start()
    client = connected_client(clients, broker)
    broker.go_silent()
    client.send(commands.send("/queue/s", b"x"))
    broker.stop()  # (a hang hits the per-test timeout; a thread left is caught below)
    assert broker_threads() == []


def test_delay_frames(stomp_broker: Broker, clients):
    client = connected_client(clients, stomp_broker)
    stomp_broker.delay_frames(0.3)
    started = time.monotonic()
    client.send(commands.send("/queue/x", b"x", receipt="slow"))
    client.expect("RECEIPT")
    assert time.monotonic() - started >= 0.29
    stomp_broker.delay_frames(60)  # far past expect()'s bound...
    stomp_broker.delay_frames(0)  # ...so only turning the delay off lets the receipt come
    client.send(commands.send("/queue/x", b"x", receipt="fast"))
    client.expect("RECEIPT")


def test_refuse_connects_by_closing(stomp_broker: Broker, clients):
    stomp_broker.refuse_connects(True)
    client = clients(stomp_broker)
    # accepted then closed at once: the first read sees the end (the write may already fail)
    with contextlib.suppress(OSError):
        client.send(commands.connect(host="/"))
    with pytest.raises((Closed, ConnectionResetError)):
        client.receive(1.0)
    stomp_broker.refuse_connects(False)
    connected_client(clients, stomp_broker)


def test_refuse_connects_without_accepting(stomp_broker: Broker, clients):
    stomp_broker.refuse_connects(True, accept=False)
    client = clients(stomp_broker)  # the kernel completes the TCP handshake
    client.send(commands.connect(host="/"))
    client.nothing(0.3)
    assert stomp_broker.connections == 0
    stomp_broker.refuse_connects(False)
    assert client.expect("CONNECTED")


def test_send_error_then_close(stomp_broker: Broker, clients):
    a = connected_client(clients, stomp_broker)
    b = connected_client(clients, stomp_broker, version="1.0")
    stomp_broker.send_error("going down")
    for client in (a, b):
        frames = client.receive_until_closed()
        assert [f.get("message") for f in frames] == ["going down"]
    stomp_broker.wait_for(lambda: stomp_broker.connections == 0, WAIT)


def test_send_error_without_close(stomp_broker: Broker, clients):
    client = connected_client(clients, stomp_broker)
    stomp_broker.send_error("just a warning", close=False, body=b"details")
    error = client.expect("ERROR")
    assert (error.get("message"), error.body) == ("just a warning", b"details")
    client.send(commands.send("/queue/x", b"x", receipt="r"))
    client.expect("RECEIPT")


def test_fail_next_connect(stomp_broker: Broker, clients):
    stomp_broker.fail_next_connect("maintenance", count=2)
    for _ in range(2):
        client = clients(stomp_broker)
        error = client.connect()
        assert (error.command, error.get("message")) == ("ERROR", "maintenance")
        assert client.is_closed()
    connected_client(clients, stomp_broker)


def test_restart_on_the_same_port_keeps_queues(stomp_broker: Broker, clients):
    port = stomp_broker.port
    client = connected_client(clients, stomp_broker)
    client.send(commands.send("/queue/persist", b"kept", receipt="r"))
    client.expect("RECEIPT")
    stomp_broker.stop()
    assert client.is_closed(1.0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    stomp_broker.start()
    assert stomp_broker.port == port
    again = connected_client(clients, stomp_broker)
    again.send(commands.subscribe("/queue/persist", "s"))
    assert again.expect("MESSAGE").body == b"kept"
    stomp_broker.publish("/queue/gone", b"dropped on restart")
    stomp_broker.restart(downtime=0.05, keep_messages=False)
    assert stomp_broker.port == port
    assert stomp_broker.queue_depth("/queue/gone") == 0
    assert again.is_closed(1.0)


def test_restart_with_connections_in_time_wait(clients):
    broker = Broker().start()
    try:
        for _ in range(3):
            client = connected_client(clients, broker)
            client.send(commands.disconnect(receipt="bye"))
            client.receive_until_closed()
            client.close()
        broker.restart()
        connected_client(clients, broker)
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_tls(ca: trustme.CA, stomp_broker_factory, clients):
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    broker = stomp_broker_factory(ssl_context=server_context)
    assert broker.url.startswith("ssl://127.0.0.1:")
    consumer = clients(broker, ssl_context=client_context)
    consumer.connect(heart_beat=(0, 50))
    consumer.send(commands.subscribe("/queue/tls", "s", receipt="r"))
    consumer.expect("RECEIPT")
    producer = clients(broker, ssl_context=client_context)
    producer.connect()
    big = bytes(range(256)) * 4000  # 1 MB through TLS
    producer.send(commands.send("/queue/tls", big))
    assert consumer.expect("MESSAGE").body == big
    consumer.wait_heartbeats(2)


def test_tls_handshake_failure_is_contained(ca: trustme.CA, stomp_broker_factory, clients):
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    broker = stomp_broker_factory(ssl_context=server_context)
    plain = clients(broker)  # speaks plain STOMP to a TLS port
    plain.send(commands.connect(host="/"))
    with pytest.raises((Closed, ConnectionResetError, TimeoutError)):
        plain.receive(1.0)
    broker.wait_for(lambda: broker.connections == 0, WAIT)


def test_graceful_stop_flushes_receipts_of_applied_frames(clients):
    broker = Broker().start()
    client = connected_client(clients, broker)
    broker.delay_frames(0.2)  # the RECEIPT is still queued when stop() begins
    client.send(commands.send("/queue/g", b"x", receipt="applied"))
    broker.wait_for(lambda: broker.sent_messages("/queue/g"))
    broker.stop()
    frames = client.receive_until_closed()
    assert [f.get("receipt-id") for f in frames] == ["applied"]


def test_abrupt_stop_drops_queued_frames(clients):
    broker = Broker().start()
    client = connected_client(clients, broker)
    broker.delay_frames(0.2)
    client.send(commands.send("/queue/g", b"x", receipt="lost"))
    broker.wait_for(lambda: broker.sent_messages("/queue/g"))
    broker.stop(graceful=False)
    assert client.receive_until_closed() == []
