"""commands: the client frame builders and the server frame readers, per version."""

from __future__ import annotations

import pytest

from stomp_enterprise.errors import LocalProtocolError, RemoteProtocolError
from stomp_enterprise.protocol import commands
from stomp_enterprise.protocol.frames import Frame
from tests.protocol.helpers import message, parse

# ------------------------------------------------------------------ CONNECT


def test_connect_defaults() -> None:
    frame = commands.connect(host=None)
    assert frame.command == "CONNECT"
    assert frame.raw_headers == (
        ("accept-version", "1.0,1.1,1.2"),  # ascending, as in the spec's example
        ("host", "/"),
        ("heart-beat", "0,0"),
    )


def test_connect_full() -> None:
    frame = commands.connect(
        host="vhost",
        versions=("1.0", "1.2"),
        login="me",
        passcode="pw",
        heart_beat=(1000, 2000),
        headers={"client-id": "c1"},
        command="STOMP",
    )
    assert frame.command == "STOMP"
    assert frame.raw_headers == (
        ("accept-version", "1.0,1.2"),
        ("host", "vhost"),
        ("login", "me"),
        ("passcode", "pw"),
        ("heart-beat", "1000,2000"),
        ("client-id", "c1"),
    )


def test_connect_1_0_only() -> None:
    assert commands.connect(host=None, versions=("1.0",)).raw_headers == ()
    frame = commands.connect(host="h", versions=("1.0",), heart_beat=(5, 0))
    assert frame.raw_headers == (("host", "h"), ("heart-beat", "5,0"))


def test_connect_heart_beat_always_has_both_numbers() -> None:
    for hb in ((0, 0), (10, 0), (0, 10), (10, 20)):
        assert (
            commands.connect(host=None, heart_beat=hb).headers["heart-beat"] == f"{hb[0]},{hb[1]}"
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"versions": ()},
        {"versions": ("1.3",)},
        {"heart_beat": (-1, 0)},
        {"heart_beat": (1,)},
        {"heart_beat": (True, 0)},
        {"heart_beat": (1.5, 0)},
        {"heart_beat": None},
        {"command": "SEND"},
        {"headers": {"host": "other"}},
        {"headers": {"accept-version": "1.0"}},
        {"headers": {"heart-beat": "1,1"}},
    ],
)
def test_connect_refusals(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        commands.connect(host=None, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ SEND / SUBSCRIBE / UNSUBSCRIBE


def test_send() -> None:
    frame = commands.send(
        "/q",
        b"body",
        {"x": "1"},
        content_type="text/plain;charset=utf-8",
        transaction="tx",
        receipt="r",
    )
    assert frame.raw_headers == (
        ("destination", "/q"),
        ("content-type", "text/plain;charset=utf-8"),
        ("transaction", "tx"),
        ("receipt", "r"),
        ("x", "1"),
    )
    assert frame.body == b"body"


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("destination", {}),
        ("content-type", {"content_type": "a/b"}),
        ("transaction", {}),  # tracked by the session: only the keyword may set it
        ("receipt", {}),
    ],
)
def test_send_user_headers_may_not_override(name: str, kwargs: dict[str, str]) -> None:
    with pytest.raises(LocalProtocolError, match="set by the library"):
        commands.send("/q", b"", {name: "x"}, **kwargs)


@pytest.mark.parametrize("destination", ["", None, b"/q"])
def test_send_needs_destination(destination: object) -> None:
    with pytest.raises(LocalProtocolError, match="destination"):
        commands.send(destination)  # type: ignore[arg-type]


def test_subscribe() -> None:
    frame = commands.subscribe("/q", "s1", ack="client", headers={"selector": "a=1"}, receipt="r")
    assert frame.raw_headers == (
        ("destination", "/q"),
        ("id", "s1"),
        ("ack", "client"),
        ("receipt", "r"),
        ("selector", "a=1"),
    )
    assert "ack" not in commands.subscribe("/q", "s1").headers


def test_subscribe_ack_modes_per_version() -> None:
    for version in ("1.0", "1.1", "1.2"):
        assert commands.subscribe("/q", "1", ack="client", version=version).headers["ack"]
    for version in ("1.1", "1.2"):
        frame = commands.subscribe("/q", "1", ack="client-individual", version=version)
        assert frame.headers["ack"] == "client-individual"
    with pytest.raises(LocalProtocolError, match="client-individual"):
        commands.subscribe("/q", "1", ack="client-individual", version="1.0")
    with pytest.raises(LocalProtocolError, match="ack must be"):
        commands.subscribe("/q", "1", ack="manual")


@pytest.mark.parametrize("name", ["destination", "id", "ack", "receipt"])
def test_subscribe_user_headers_may_not_override(name: str) -> None:
    with pytest.raises(LocalProtocolError, match="set by the library"):
        commands.subscribe("/q", "1", headers={name: "client"})


def test_unsubscribe() -> None:
    assert commands.unsubscribe("s1").raw_headers == (("id", "s1"),)
    assert commands.unsubscribe("s1", destination="/q", version="1.2").raw_headers == (
        ("id", "s1"),
    )
    assert commands.unsubscribe("s1", destination="/q", receipt="r", version="1.0").raw_headers == (
        ("id", "s1"),
        ("destination", "/q"),
        ("receipt", "r"),
    )
    with pytest.raises(LocalProtocolError):
        commands.unsubscribe("")


# ------------------------------------------------------------------ ACK / NACK


def test_ack_1_0_uses_message_id() -> None:
    frame = commands.ack(message("1.0"), "1.0")
    assert frame.raw_headers == (("message-id", "m-1"),)


def test_ack_1_1_uses_message_id_and_subscription() -> None:
    frame = commands.ack(message("1.1"), "1.1", transaction="tx", receipt="r")
    assert frame.raw_headers == (
        ("message-id", "m-1"),
        ("subscription", "sub-1"),
        ("transaction", "tx"),
        ("receipt", "r"),
    )


def test_ack_1_1_needs_subscription() -> None:
    msg = Frame("MESSAGE", [("message-id", "m")])
    with pytest.raises(LocalProtocolError, match="subscription"):
        commands.ack(msg, "1.1")
    assert commands.ack(msg, "1.0").raw_headers == (("message-id", "m"),)


def test_ack_1_2_uses_the_ack_header_as_id() -> None:
    frame = commands.ack(message("1.2", ack="ACK-77"), "1.2")
    assert frame.raw_headers == (("id", "ACK-77"),)


def test_ack_1_2_needs_ack_header() -> None:
    with pytest.raises(LocalProtocolError, match="no 'ack' header"):
        commands.ack(message("1.2", ack=None), "1.2")


def test_ack_of_escaped_ids_round_trips() -> None:
    """An ActiveMQ-style id with colons comes back exactly as received."""
    (msg,) = parse(b"MESSAGE\nmessage-id:ID\\chost\\c1\nsubscription:0\nack:ID\\c9\n\n\0")
    assert commands.ack(msg, "1.2").to_bytes("1.2") == b"ACK\nid:ID\\c9\n\n\0"
    assert commands.ack(msg, "1.1").headers["message-id"] == "ID:host:1"


def test_nack() -> None:
    assert commands.nack(message("1.1"), "1.1").raw_headers == (
        ("message-id", "m-1"),
        ("subscription", "sub-1"),
    )
    frame = commands.nack(message("1.2"), "1.2", receipt="r", headers={"requeue": "false"})
    assert frame.command == "NACK"
    assert frame.raw_headers == (("id", "ack-1"), ("receipt", "r"), ("requeue", "false"))


def test_nack_refused_on_1_0() -> None:
    with pytest.raises(LocalProtocolError, match="NACK does not exist"):
        commands.nack(message("1.0"), "1.0")


@pytest.mark.parametrize("name", ["id", "transaction", "receipt"])
def test_nack_user_headers_may_not_override(name: str) -> None:
    with pytest.raises(LocalProtocolError, match="set by the library"):
        commands.nack(message("1.2"), "1.2", headers={name: "x"})


def test_ack_needs_a_message_frame() -> None:
    with pytest.raises(LocalProtocolError, match="MESSAGE"):
        commands.ack(Frame("RECEIPT", [("message-id", "1")]), "1.2")
    with pytest.raises(LocalProtocolError, match="unknown STOMP version"):
        commands.ack(message("1.2"), "2.0")
    with pytest.raises(LocalProtocolError, match="message-id"):
        commands.ack(Frame("MESSAGE"), "1.0")


# ------------------------------------------------------------------ transactions, DISCONNECT


@pytest.mark.parametrize(
    ("build", "command"),
    [(commands.begin, "BEGIN"), (commands.commit, "COMMIT"), (commands.abort, "ABORT")],
)
def test_transaction_frames(build: object, command: str) -> None:
    frame = build("tx-1", receipt="r")  # type: ignore[operator]
    assert frame == Frame(command, [("transaction", "tx-1"), ("receipt", "r")])
    with pytest.raises(LocalProtocolError):
        build("")  # type: ignore[operator]


def test_disconnect() -> None:
    assert commands.disconnect() == Frame("DISCONNECT")
    assert commands.disconnect(receipt="bye") == Frame("DISCONNECT", [("receipt", "bye")])
    with pytest.raises(LocalProtocolError):
        commands.disconnect(receipt="")


def test_connected() -> None:
    assert commands.connected("1.0").raw_headers == (("version", "1.0"),)
    frame = commands.connected("1.2", heart_beat=(5, 6), session="s", server="x/1")
    assert frame.raw_headers == (
        ("version", "1.2"),
        ("heart-beat", "5,6"),
        ("session", "s"),
        ("server", "x/1"),
    )
    with pytest.raises(LocalProtocolError):
        commands.connected("9.9")


# ------------------------------------------------------------------ readers


def test_negotiate_version() -> None:
    offered = ("1.2", "1.1", "1.0")
    assert commands.negotiate_version(commands.connected("1.1"), offered) == "1.1"
    assert commands.negotiate_version(Frame("CONNECTED"), offered) == "1.0"
    assert commands.negotiate_version(Frame("CONNECTED", [("version", "")]), offered) == "1.0"
    with pytest.raises(RemoteProtocolError, match="not offered"):
        commands.negotiate_version(commands.connected("1.0"), ("1.2", "1.1"))
    with pytest.raises(RemoteProtocolError, match="not offered"):
        commands.negotiate_version(Frame("CONNECTED"), ("1.2",))
    with pytest.raises(RemoteProtocolError, match="not offered"):
        commands.negotiate_version(Frame("CONNECTED", [("version", "1.3")]), offered)
    with pytest.raises(RemoteProtocolError, match="expected CONNECTED"):
        commands.negotiate_version(Frame("ERROR"), offered)


def test_heart_beat_reader() -> None:
    assert commands.heart_beat(Frame("CONNECTED")) == (0, 0)
    assert commands.heart_beat(Frame("CONNECTED", [("heart-beat", "10,20")])) == (10, 20)
    assert commands.heart_beat(Frame("CONNECTED", [("heart-beat", "0,0")])) == (0, 0)


@pytest.mark.parametrize("value", ["", "10", "10,", ",10", "1,2,3", "a,b", "-1,5", "1.5,2", "x"])
def test_heart_beat_malformed(value: str) -> None:
    with pytest.raises(RemoteProtocolError, match="malformed heart-beat"):
        commands.heart_beat(Frame("CONNECTED", [("heart-beat", value)]))


@pytest.mark.parametrize(
    ("client", "server", "expected"),
    [
        ((0, 0), (0, 0), (0, 0)),
        ((1000, 1000), (0, 0), (0, 0)),
        ((0, 0), (1000, 1000), (0, 0)),
        ((1000, 0), (0, 5000), (5000, 0)),  # we send every MAX(cx, sy); nothing expected
        ((0, 1000), (5000, 0), (0, 5000)),  # we expect within MAX(sx, cy); never send
        ((1000, 2000), (3000, 500), (1000, 3000)),
        ((4000, 100), (10, 200), (4000, 100)),
        ((10_000, 10_000), (10_000, 10_000), (10_000, 10_000)),
        ((1, 0), (0, 1), (1, 0)),
        ((0, 7), (7, 0), (0, 7)),
    ],
)
def test_negotiate_heart_beat(
    client: tuple[int, int], server: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert commands.negotiate_heart_beat(client, server) == expected


def test_ack_id() -> None:
    assert commands.ack_id(message("1.2", ack="A"), "1.2") == "A"
    assert commands.ack_id(message("1.1"), "1.1") == "m-1"
    assert commands.ack_id(message("1.0"), "1.0") == "m-1"


def test_error_message() -> None:
    assert commands.error_message(Frame("ERROR", [("message", "bad")])) == "bad"
    assert commands.error_message(Frame("ERROR", body=b" details \n")) == "details"
    assert (
        commands.error_message(Frame("ERROR", [("message", "bad")], b"details")) == "bad: details"
    )
    assert commands.error_message(Frame("ERROR", [("message", "same")], b"same")) == "same"
    assert commands.error_message(Frame("ERROR")) == "ERROR frame without a message"
    assert "\ufffd" in commands.error_message(Frame("ERROR", body=b"\xff"))
    assert len(commands.error_message(Frame("ERROR", body=b"x" * 5000))) == 500


def test_receipt_id() -> None:
    assert commands.receipt_id(Frame("RECEIPT", [("receipt-id", "r1")])) == "r1"
    assert commands.receipt_id(Frame("ERROR", [("receipt-id", "r2")])) == "r2"
    with pytest.raises(RemoteProtocolError, match="receipt-id"):
        commands.receipt_id(Frame("RECEIPT"))
