"""CONNECT negotiation, login, protocol errors, receipts and heart-beats."""

from __future__ import annotations

import time

import pytest

from stomp_enterprise.protocol import (
    Connected,
    Frame,
    HeartbeatReceived,
    ReceiptReceived,
    Session,
    commands,
)
from stomp_enterprise.testing import Broker
from tests.testing.helpers import WAIT, RawClient, session_until


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_each_version_handshake(stomp_broker: Broker, clients, version):
    client = clients(stomp_broker)
    connected = client.connect((version,))
    assert connected.command == "CONNECTED"
    assert connected.get("version") == version
    assert connected.get("server") == "stomp-enterprise-testing"
    assert connected.get("session", "").startswith("stomp-enterprise-testing-")
    if version == "1.0":
        assert "accept-version" not in stomp_broker.received_frames("CONNECT")[0].headers
    assert stomp_broker.sessions == 1


def test_session_negotiates_highest_common_version(stomp_broker_factory, clients):
    broker = stomp_broker_factory(versions=("1.0", "1.1"))
    client = clients(broker)
    session = Session(versions=("1.0", "1.1", "1.2"))
    client.send_raw(session.connect(host="localhost"))
    events = session_until(client, session, Connected)
    assert isinstance(events[0], Connected)
    assert events[0].version == "1.1"


def test_stomp_command_is_accepted(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.send(commands.connect(host="/", command="STOMP"))
    assert client.expect("CONNECTED").get("version") == "1.2"


def test_no_common_version_is_an_error_then_close(stomp_broker_factory, clients):
    broker = stomp_broker_factory(versions=("1.0", "1.1"))
    client = clients(broker)
    error = client.connect(("1.2",))
    assert error.command == "ERROR"
    assert error.get("message") == "Supported protocol versions are 1.0,1.1"
    assert error.get("version") == "1.0,1.1"
    assert client.is_closed()


def test_default_broker_names_all_versions(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.send_raw(b"CONNECT\naccept-version:2.0\nhost:x\n\n\0")
    error = client.expect("ERROR")
    assert error.get("message") == "Supported protocol versions are 1.0,1.1,1.2"
    assert client.is_closed()


def test_stomp_12_requires_host(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.send_raw(b"CONNECT\naccept-version:1.2\n\n\0")
    assert "host" in client.expect("ERROR").get("message", "")
    assert client.is_closed()


def test_login(stomp_broker_factory, clients):
    broker = stomp_broker_factory(users={"alice": "secret"})
    good = clients(broker)
    assert good.connect(login="alice", passcode="secret").command == "CONNECTED"
    for login, passcode in [("alice", "wrong"), ("bob", "secret"), (None, None)]:
        bad = clients(broker)
        error = bad.connect(login=login, passcode=passcode)
        assert error.command == "ERROR"
        assert error.get("message") == "Authentication failed"
        assert bad.is_closed()


def test_frame_before_connect_is_an_error_then_close(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.send(commands.send("/queue/a", b"x", receipt="r-1"))
    error = client.expect("ERROR")
    assert error.get("message") == "SEND frame received before CONNECT"
    assert error.get("receipt-id") == "r-1"
    assert client.is_closed()
    assert stomp_broker.sent_messages() == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"HELLO\n\n\0", "malformed frame"),
        (b"SEND\ndestination /queue/a\n\nbody\0", "malformed frame"),
        (b"SEND\ndestination:/q\ncontent-length:2\n\nabc\0", "malformed frame"),
        (b"SEND\ndestination:/q\\x\n\n\0", "malformed frame"),
    ],
)
def test_malformed_frame_is_an_error_then_close(stomp_broker: Broker, clients, data, problem):
    client = clients(stomp_broker)
    client.connect()
    client.send_raw(data)
    assert client.expect("ERROR").get("message", "").startswith(problem)
    assert client.is_closed()
    stomp_broker.wait_for(lambda: stomp_broker.connections == 0, WAIT)


def test_client_sending_a_server_command_is_an_error(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.connect()
    client.send(Frame("MESSAGE", {"destination": "/queue/a"}))
    assert "unexpected MESSAGE" in client.expect("ERROR").get("message", "")
    assert client.is_closed()


def test_second_connect_is_an_error(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.connect()
    client.send(commands.connect(host="/"))
    assert "connected session" in client.expect("ERROR").get("message", "")
    assert client.is_closed()


def test_frame_too_large(stomp_broker_factory, clients):
    broker = stomp_broker_factory(max_frame_size=1024)
    client = clients(broker)
    client.connect()
    client.send(commands.send("/queue/a", b"x" * 600))  # fits
    client.send(commands.send("/queue/a", b"x" * 2000))
    assert client.expect("ERROR").get("message", "").startswith("frame too large")
    assert client.is_closed()
    assert len(broker.sent_messages("/queue/a")) == 1


def test_body_without_content_length_arriving_in_pieces(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.connect()
    client.send_raw(b"SEND\ndestination:/queue/a\nreceipt:r\n\n")
    for _ in range(40):  # many lines, each chunk a separate write
        client.send_raw(b"line\n" * 30)
    client.send_raw(b"\0")
    assert client.expect("RECEIPT").get("receipt-id") == "r"
    assert len(stomp_broker.sent_messages("/queue/a")[0].body) == 40 * 30 * 5


def test_receipts_after_each_frame(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.connect()
    client.send(commands.subscribe("/queue/a", "s1", receipt="r-sub"))
    assert client.expect("RECEIPT").get("receipt-id") == "r-sub"
    client.send(commands.begin("tx", receipt="r-begin"))
    assert client.expect("RECEIPT").get("receipt-id") == "r-begin"
    client.send(commands.commit("tx", receipt="r-commit"))
    assert client.expect("RECEIPT").get("receipt-id") == "r-commit"
    client.send(commands.send("/queue/a", b"hi", receipt="r-send"))
    # the message is applied (and delivered) before its receipt
    assert client.expect("MESSAGE").body == b"hi"
    assert client.expect("RECEIPT").get("receipt-id") == "r-send"
    client.send(commands.unsubscribe("s1", receipt="r-unsub"))
    assert client.expect("RECEIPT").get("receipt-id") == "r-unsub"


def test_disconnect_with_receipt_then_close(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.connect()
    client.send(commands.disconnect(receipt="bye"))
    frames = client.receive_until_closed()
    assert [f.command for f in frames] == ["RECEIPT"]
    assert frames[0].get("receipt-id") == "bye"
    stomp_broker.wait_for(lambda: stomp_broker.connections == 0, WAIT)


def test_broker_sends_heart_beats_mirroring_the_client(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    connected = client.connect(heart_beat=(0, 50))
    assert connected.get("heart-beat") == "50,0"
    start = time.monotonic()
    client.wait_heartbeats(4, timeout=2.0)
    assert time.monotonic() - start >= 0.15


def test_fixed_broker_heart_beat_is_negotiated(stomp_broker_factory, clients):
    broker = stomp_broker_factory(heart_beat=(150, 0))
    client = clients(broker)
    session = Session(versions=("1.2",), heart_beat=(0, 50))
    client.send_raw(session.connect(host="localhost"))
    events = session_until(client, session, HeartbeatReceived)
    connected = events[0]
    assert isinstance(connected, Connected)
    assert connected.heart_beat == (150, 0)
    assert connected.receive_interval == 150  # MAX(sx=150, cy=50)
    assert connected.send_interval == 0  # the broker wants none


def test_no_heart_beats_when_none_asked(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    assert client.connect(heart_beat=(0, 0)).get("heart-beat") == "0,0"
    client.nothing(0.3)
    assert client.parser.heartbeats == 0


def test_idle_client_is_closed(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    assert client.connect(heart_beat=(100, 0)).get("heart-beat") == "0,100"
    start = time.monotonic()
    assert client.is_closed(WAIT)
    assert time.monotonic() - start >= 0.15  # not before the negotiated window


def test_client_sending_heart_beats_stays_connected(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    session = Session(versions=("1.2",), heart_beat=(100, 0))
    client.send_raw(session.connect(host="localhost"))
    session_until(client, session, Connected)
    for _ in range(8):  # 0.4 s, twice the 200 ms window
        client.send_raw(session.heartbeat())
        time.sleep(0.05)
    client.send(commands.send("/queue/a", b"alive", receipt="r"))
    client.expect("RECEIPT")


def test_session_sees_receipt(stomp_broker: Broker, clients):
    client: RawClient = clients(stomp_broker)
    session = Session(versions=("1.1",))
    client.send_raw(session.connect(host="localhost"))
    session_until(client, session, Connected)
    client.send_raw(session.send("/queue/a", b"x", receipt="r-9"))
    events = session_until(client, session, ReceiptReceived)
    assert isinstance(events[0], ReceiptReceived)
    assert events[0].command == "SEND"


def test_crlf_frames_are_accepted(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.send_raw(b"CONNECT\r\naccept-version:1.2\r\nhost:x\r\n\r\n\0")
    assert client.expect("CONNECTED").get("version") == "1.2"
    client.send_raw(b"SEND\r\ndestination:/queue/crlf\r\nreceipt:r\r\n\r\nbody\0")
    assert client.expect("RECEIPT").get("receipt-id") == "r"


def test_too_many_headers_is_an_error(stomp_broker: Broker, clients):
    client = clients(stomp_broker)
    client.connect()
    headers = "".join(f"h{i}:v\n" for i in range(1001))
    client.send_raw(f"SEND\ndestination:/queue/a\n{headers}\n\0".encode())
    assert client.expect("ERROR").get("message", "").startswith("frame too large")
    assert client.is_closed()
