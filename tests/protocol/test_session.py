"""Session: every (state, command) pair, negotiation, subscriptions, receipts, transactions,
EOF, and full conversations with an in-memory broker (h11-style ConnectionPair)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stomp_enterprise.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from stomp_enterprise.protocol import commands
from stomp_enterprise.protocol.constants import CLIENT_COMMANDS, COMMANDS, SERVER_COMMANDS
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.session import (
    TRANSITIONS,
    Connected,
    ConnectionClosed,
    ErrorReceived,
    HeartbeatReceived,
    MessageReceived,
    ReceiptReceived,
    Session,
    State,
    SubscriptionState,
)
from tests.protocol.helpers import ALL_VERSIONS, ConnectionPair, message, parse

CONNECTED_12 = commands.connected("1.2").to_bytes("1.2")


def connected_session(version: str = "1.2", **kwargs: object) -> Session:
    session = Session(**kwargs)  # type: ignore[arg-type]
    session.connect()
    (event,) = session.receive_data(commands.connected(version).to_bytes(version))
    assert isinstance(event, Connected)
    return session


# ------------------------------------------------------------------ the transition table


def session_in(state: State) -> Session:
    """A session in ``state`` that knows subscription "s" and (where it can exist) transaction
    "tx", so the only reason a call can fail is the state."""
    session = Session()
    session.connect()
    session.receive_data(CONNECTED_12)
    session.subscribe("/q", "s", ack="client-individual")
    session.reset()  # subscriptions survive a reset
    if state is State.DISCONNECTED:
        return session
    session.connect()
    if state is State.CONNECTING:
        return session
    if state is State.ERROR:
        session.receive_data(Frame("ERROR", [("message", "denied")]).to_bytes("1.2"))
        assert session.state is State.ERROR
        return session
    session.receive_data(CONNECTED_12)
    session.begin("tx")
    if state is State.DISCONNECTING:
        session.disconnect()
    assert session.state is state
    return session


MSG = message("1.2")

SENDERS: dict[str, Callable[[Session], bytes]] = {
    "CONNECT": lambda s: s.connect(),
    "STOMP": lambda s: s.connect(command="STOMP"),
    "SEND": lambda s: s.send("/q", b"x"),
    "SUBSCRIBE": lambda s: s.subscribe("/q", "new-id"),
    "UNSUBSCRIBE": lambda s: s.unsubscribe("s"),
    "ACK": lambda s: s.ack(MSG),
    "NACK": lambda s: s.nack(MSG),
    "BEGIN": lambda s: s.begin("tx-2"),
    "COMMIT": lambda s: s.commit("tx"),
    "ABORT": lambda s: s.abort("tx"),
    "DISCONNECT": lambda s: s.disconnect(),
}

RECEIVED: dict[str, Frame] = {
    "CONNECTED": commands.connected("1.2"),
    "MESSAGE": MSG,
    "RECEIPT": Frame("RECEIPT", [("receipt-id", "r")]),
    "ERROR": Frame("ERROR", [("message", "oops")]),
    **{c: Frame(c) for c in CLIENT_COMMANDS},  # a broker never sends these
}


def test_walk_covers_every_command() -> None:
    assert set(SENDERS) == CLIENT_COMMANDS
    assert set(RECEIVED) == COMMANDS
    assert {c for _, c in TRANSITIONS} <= COMMANDS


@pytest.mark.parametrize("state", list(State))
def test_send_every_state_command_pair(state: State) -> None:
    for command in sorted(CLIENT_COMMANDS):
        session = session_in(state)
        if (state, command) in TRANSITIONS:
            wire = SENDERS[command](session)
            assert parse(wire)[0].command == command
            assert session.state is TRANSITIONS[(state, command)], command
            continue
        # transactions exist only while connected; outside that "not open" comes first
        expected = f"cannot send {command}|transaction 'tx' is not open"
        with pytest.raises(LocalProtocolError, match=expected):
            SENDERS[command](session)
        assert session.state is state, command  # nothing was sent, nothing changed


@pytest.mark.parametrize("state", list(State))
def test_receive_every_state_command_pair(state: State) -> None:
    for command in sorted(COMMANDS):
        session = session_in(state)
        wire = RECEIVED[command].to_bytes("1.2")
        if (state, command) in TRANSITIONS and command in SERVER_COMMANDS:
            (event,) = session.receive_data(wire)
            assert event.frame.command == command  # type: ignore[union-attr]
            assert session.state is TRANSITIONS[(state, command)], command
            continue
        with pytest.raises(RemoteProtocolError, match=command):
            session.receive_data(wire)
        assert session.state is State.ERROR, command
        assert_dead(session)


def assert_dead(session: Session) -> None:
    """After a receive-side error every later call raises."""
    calls: list[Callable[[], object]] = [
        lambda: session.receive_data(b"\n"),
        lambda: session.receive_data(RECEIVED["MESSAGE"].to_bytes()),
        lambda: session.receive_data(b""),
        lambda: session.send("/q"),
        lambda: session.subscribe("/q", "zz"),
        lambda: session.begin("zz"),
        session.connect,
        session.disconnect,
        session.heartbeat,
        lambda: list(session.replay()),
    ]
    for call in calls:
        with pytest.raises(ProtocolError):
            call()
    assert session.state is State.ERROR


def test_error_while_connecting_then_eof() -> None:
    """A refused CONNECT is an ERROR event, then the broker closes the stream."""
    session = Session()
    session.connect()
    (event,) = session.receive_data(Frame("ERROR", [("message", "bad login")]).to_bytes())
    assert isinstance(event, ErrorReceived)
    assert event.message == "bad login"
    assert session.state is State.ERROR
    with pytest.raises(LocalProtocolError):
        session.send("/q")
    (closed,) = session.receive_data(b"")
    assert closed == ConnectionClosed((), (), clean=False)
    assert session.state is State.DISCONNECTED


# ------------------------------------------------------------------ receive-side errors


@pytest.mark.parametrize(
    "wire",
    [
        b"GARBAGE\n\n\0",
        b"CONNECTED\nversion:1.3\n\n\0",
        b"CONNECTED\nversion:1.2\nheart-beat:x\n\n\0",
        b"RECEIPT\n\n\0",
    ],
    ids=["bytes", "version", "heart-beat", "receipt-id"],
)
def test_remote_errors_kill_the_session(wire: bytes) -> None:
    session = Session()
    session.connect()
    if not wire.startswith(b"CONNECTED"):
        session.receive_data(CONNECTED_12)
    with pytest.raises(RemoteProtocolError):
        session.receive_data(wire)
    assert session.state is State.ERROR
    assert_dead(session)


def test_reset_revives_a_failed_session() -> None:
    session = Session()
    session.connect()
    with pytest.raises(RemoteProtocolError):
        session.receive_data(b"junk\n\n\0")
    session.reset()
    assert session.state is State.DISCONNECTED
    session.connect()
    assert isinstance(session.receive_data(CONNECTED_12)[0], Connected)


# ------------------------------------------------------------------ negotiation


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_version_negotiation_sets_parser_version(version: str) -> None:
    session = connected_session(version)
    assert session.version == version
    assert session.parser.version == version
    (event,) = session.receive_data(b"MESSAGE\nsubscription:s\nk:a\\cb\n\n\0")
    assert isinstance(event, MessageReceived)
    assert event.subscription == "s"
    assert event.frame.headers["k"] == ("a\\cb" if version == "1.0" else "a:b")


def test_connected_without_version_means_1_0() -> None:
    session = Session()
    session.connect()
    (event,) = session.receive_data(b"CONNECTED\n\n\0")
    assert isinstance(event, Connected)
    assert event.version == "1.0"
    assert session.parser.version == "1.0"


def test_version_not_offered_is_refused() -> None:
    session = Session(versions=("1.2",))
    session.connect()
    with pytest.raises(RemoteProtocolError, match="not offered"):
        session.receive_data(b"CONNECTED\nversion:1.1\n\n\0")


def test_connect_frame_offers_versions_and_heart_beat() -> None:
    session = Session(versions=("1.1", "1.2"), heart_beat=(100, 200))
    (frame,) = parse(session.connect(host="vh", login="u", passcode="p:w\\"))
    assert frame.headers["accept-version"] == "1.1,1.2"
    assert frame.headers["host"] == "vh"
    assert frame.headers["heart-beat"] == "100,200"
    assert frame.headers["passcode"] == "p:w\\"  # never escaped


def test_heart_beat_negotiation_in_connected_event() -> None:
    session = Session(heart_beat=(1000, 2000))
    session.connect()
    wire = commands.connected("1.2", heart_beat=(3000, 500), server="b/1", session="x")
    (event,) = session.receive_data(wire.to_bytes())
    assert isinstance(event, Connected)
    assert event.heart_beat == (3000, 500)
    assert (event.send_interval, event.receive_interval) == (1000, 3000)
    assert (session.send_interval, session.receive_interval) == (1000, 3000)
    assert (event.server, event.session_id) == ("b/1", "x")


def test_heartbeat_events_and_sending() -> None:
    session = connected_session()
    assert session.receive_data(b"\n\r\n\n") == [HeartbeatReceived(3)]
    events = session.receive_data(b"\n" + RECEIVED["MESSAGE"].to_bytes())
    assert isinstance(events[0], HeartbeatReceived)
    assert isinstance(events[1], MessageReceived)
    assert session.heartbeat() == b"\n"
    with pytest.raises(LocalProtocolError, match="heart-beat"):
        Session().heartbeat()


@pytest.mark.parametrize(
    "kwargs",
    [{"versions": ()}, {"versions": ("2.0",)}, {"heart_beat": (-1, 0)}, {"heart_beat": "x"}],
)
def test_session_arguments_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        Session(**kwargs)  # type: ignore[arg-type]


def test_connect_command_validated() -> None:
    with pytest.raises(LocalProtocolError, match="CONNECT or STOMP"):
        Session().connect(command="SEND")


# ------------------------------------------------------------------ nothing sent, nothing changed


def test_unserializable_connect_leaves_state_unchanged() -> None:
    session = Session()
    with pytest.raises(LocalProtocolError, match="line break"):
        session.connect(passcode="a\nb")
    assert session.state is State.DISCONNECTED
    session.connect(passcode="ab")
    assert session.state is State.CONNECTING


def test_unserializable_disconnect_leaves_state_unchanged() -> None:
    session = connected_session("1.1")
    with pytest.raises(LocalProtocolError, match="carriage return"):
        session.disconnect(receipt="a\rb")
    assert session.state is State.CONNECTED
    assert session.pending_receipts == {}
    session.send("/q")


def test_failed_subscribe_not_remembered() -> None:
    session = connected_session("1.0")
    with pytest.raises(LocalProtocolError):
        session.subscribe("/q\nx", "s1")
    with pytest.raises(LocalProtocolError):
        session.subscribe("/q", "s2", ack="client-individual")
    assert session.subscriptions == {}


# ------------------------------------------------------------------ subscriptions and replay


def test_subscriptions_tracked_and_replayed_after_reconnect() -> None:
    session = connected_session()
    session.subscribe("/queue/a", "s1", ack="client-individual", headers={"selector": "x=1"})
    session.subscribe("/topic/b", "s2", headers={"activemq.prefetchSize": "5"}, receipt="r")
    session.subscribe("/queue/c", "s3", ack="client")
    session.unsubscribe("s3")
    assert set(session.subscriptions) == {"s1", "s2"}
    assert session.subscriptions["s1"] == SubscriptionState(
        "s1", "/queue/a", "client-individual", (("selector", "x=1"),)
    )
    session.reset()
    assert set(session.subscriptions) == {"s1", "s2"}
    with pytest.raises(LocalProtocolError, match="replay"):
        list(session.replay())
    session.connect()
    session.receive_data(CONNECTED_12)
    frames = [parse(wire)[0] for wire in session.replay()]
    assert frames == [
        Frame(
            "SUBSCRIBE",
            [
                ("destination", "/queue/a"),
                ("id", "s1"),
                ("ack", "client-individual"),
                ("selector", "x=1"),
            ],
        ),
        Frame(
            "SUBSCRIBE",
            [("destination", "/topic/b"), ("id", "s2"), ("activemq.prefetchSize", "5")],
        ),
    ]
    assert session.pending_receipts == {}  # the old receipt is not asked again


def test_duplicate_subscription_id_refused() -> None:
    session = connected_session()
    session.subscribe("/q", "s1")
    with pytest.raises(LocalProtocolError, match="already in use"):
        session.subscribe("/other", "s1")


def test_unsubscribe_unknown_id_refused() -> None:
    session = connected_session()
    with pytest.raises(LocalProtocolError, match="no subscription"):
        session.unsubscribe("nope")


def test_unsubscribe_1_0_carries_destination() -> None:
    session = connected_session("1.0")
    session.subscribe("/q", "s1")
    assert parse(session.unsubscribe("s1"), "1.0")[0].raw_headers == (
        ("id", "s1"),
        ("destination", "/q"),
    )


# ------------------------------------------------------------------ receipts


def test_receipts_matched_by_receipt_frame() -> None:
    session = connected_session()
    session.send("/q", b"x", receipt="r1")
    session.subscribe("/q", "s1", receipt="r2")
    assert session.pending_receipts == {"r1": "SEND", "r2": "SUBSCRIBE"}
    (event,) = session.receive_data(b"RECEIPT\nreceipt-id:r2\n\n\0")
    assert event == ReceiptReceived(event.frame, "r2", "SUBSCRIBE")  # type: ignore[union-attr]
    assert session.pending_receipts == {"r1": "SEND"}
    (event,) = session.receive_data(b"RECEIPT\nreceipt-id:unknown\n\n\0")
    assert isinstance(event, ReceiptReceived)
    assert event.command is None


def test_receipt_matched_by_error_frame() -> None:
    session = connected_session()
    session.send("/q", b"x", receipt="r1")
    wire = b"ERROR\nreceipt-id:r1\nmessage:no access\ncontent-length:4\n\nwhy!\0"
    (event,) = session.receive_data(wire)
    assert isinstance(event, ErrorReceived)
    assert (event.receipt_id, event.command) == ("r1", "SEND")
    assert event.message == "no access: why!"
    assert session.pending_receipts == {}
    (event,) = session.receive_data(b"ERROR\nmessage:plain\n\n\0")
    assert isinstance(event, ErrorReceived)
    assert (event.receipt_id, event.command) == (None, None)


def test_reset_returns_lost_receipts_and_transactions() -> None:
    session = connected_session()
    session.begin("tx-b")
    session.begin("tx-a", receipt="rb")
    session.send("/q", receipt="rs", transaction="tx-a")
    closed = session.reset()
    assert closed == ConnectionClosed(("rb", "rs"), ("tx-a", "tx-b"), clean=False)
    assert session.pending_receipts == {}
    assert session.transactions == set()
    assert session.state is State.DISCONNECTED
    assert session.reset() == ConnectionClosed((), (), clean=False)


def test_eof_returns_lost_receipts_and_transactions() -> None:
    session = connected_session()
    session.begin("tx")
    session.send("/q", receipt="r")
    (closed,) = session.receive_data(b"")
    assert closed == ConnectionClosed(("r",), ("tx",), clean=False)
    assert session.state is State.DISCONNECTED


def test_eof_is_clean_only_after_disconnect() -> None:
    session = connected_session()
    session.disconnect(receipt="bye")
    (event,) = session.receive_data(b"RECEIPT\nreceipt-id:bye\n\n\0")
    assert isinstance(event, ReceiptReceived)
    assert event.command == "DISCONNECT"
    assert session.receive_data(b"") == [ConnectionClosed((), (), clean=True)]
    assert Session().receive_data(b"") == [ConnectionClosed((), (), clean=False)]
    connecting = Session()
    connecting.connect()
    assert connecting.receive_data(b"") == [ConnectionClosed((), (), clean=False)]


def test_eof_without_receipt_after_disconnect_reports_it() -> None:
    session = connected_session()
    session.disconnect(receipt="bye")
    assert session.receive_data(b"") == [ConnectionClosed(("bye",), (), clean=True)]


# ------------------------------------------------------------------ transactions


def test_transactions_tracked() -> None:
    session = connected_session()
    session.begin("t1")
    with pytest.raises(LocalProtocolError, match="already open"):
        session.begin("t1")
    session.send("/q", transaction="t1")
    session.ack(MSG, transaction="t1")
    session.nack(MSG, transaction="t1")
    session.commit("t1")
    assert session.transactions == set()
    with pytest.raises(LocalProtocolError, match="not open"):
        session.abort("t1")


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.send("/q", transaction="nope"),
        lambda s: s.ack(MSG, transaction="nope"),
        lambda s: s.nack(MSG, transaction="nope"),
        lambda s: s.commit("nope"),
        lambda s: s.abort("nope"),
        lambda s: s.send("/q", headers={"transaction": "nope"}),  # no back door
        lambda s: s.nack(MSG, headers={"transaction": "nope"}),
    ],
)
def test_unknown_transaction_refused(call: Callable[[Session], bytes]) -> None:
    session = connected_session()
    with pytest.raises(LocalProtocolError, match=r"not open|set by the library"):
        call(session)


def test_nack_refused_on_1_0_session() -> None:
    session = connected_session("1.0")
    with pytest.raises(LocalProtocolError, match="NACK"):
        session.nack(message("1.0"))


def test_ack_ids_per_version() -> None:
    for version, expected in (
        ("1.0", (("message-id", "m-1"),)),
        ("1.1", (("message-id", "m-1"), ("subscription", "sub-1"))),
        ("1.2", (("id", "ack-1"),)),
    ):
        session = connected_session(version)
        assert parse(session.ack(message(version)), version)[0].raw_headers == expected


def test_content_length_option() -> None:
    session = connected_session(content_length=False)
    assert b"content-length" not in session.send("/q", b"text")
    assert b"content-length:3" in session.send("/q", b"a\0b")
    assert b"content-length:4" in connected_session().send("/q", b"text")


def test_new_id_unique() -> None:
    session = Session()
    ids = {session.new_id("sub") for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("sub-") for i in ids)


# ------------------------------------------------------------------ conversations (ConnectionPair)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_full_conversation(version: str) -> None:
    pair = ConnectionPair(broker_versions=(version,), heart_beat=(0, 1000))
    pair.broker.heart_beat = (500, 0)
    (event,) = pair.connect(host="/", login="guest", passcode="guest")
    assert isinstance(event, Connected)
    assert event.version == version
    assert event.receive_interval == 1000
    client, broker = pair.client, pair.broker
    assert broker.received[0].headers["passcode"] == "guest"

    ack_mode = "client" if version == "1.0" else "client-individual"
    (event,) = pair.send(client.subscribe("/queue/in", "s1", ack=ack_mode, receipt="r-sub"))
    assert isinstance(event, ReceiptReceived)
    assert event.command == "SUBSCRIBE"

    # a header that needs escaping where the version can express it
    tricky = "plain" if version == "1.0" else "a:b\nc\\d"
    events = pair.send(
        client.send("/queue/in", b"\0payload\0", {"x-tricky": tricky}, receipt="r-send")
    )
    assert [type(e) for e in events] == [MessageReceived, ReceiptReceived]
    msg = events[0].frame  # type: ignore[union-attr]
    assert msg.body == b"\0payload\0"
    assert msg.headers["x-tricky"] == tricky
    assert events[0].subscription == "s1"  # type: ignore[union-attr]
    assert broker.received[-1].headers["x-tricky"] == tricky

    assert pair.send(client.ack(msg)) == []
    ack = broker.received[-1]
    if version == "1.2":
        assert ack.raw_headers == (("id", msg.headers["ack"]),)
    else:
        assert ack.headers["message-id"] == msg.headers["message-id"]
        assert ("subscription" in ack.headers) == (version == "1.1")
    if version != "1.0":
        pair.send(client.nack(msg))
        assert broker.received[-1].command == "NACK"

    pair.send(client.begin("tx"))
    pair.send(client.send("/queue/in", b"later", transaction="tx"))
    (event,) = pair.send(client.commit("tx", receipt="r-commit"))
    assert isinstance(event, ReceiptReceived)
    assert event.command == "COMMIT"

    assert pair.send(client.heartbeat()) == []
    assert broker.heartbeats_seen == 1
    events = client.receive_data(b"\n\n")
    assert events == [HeartbeatReceived(2)]

    pair.send(client.unsubscribe("s1"))
    assert broker.subscriptions == {}
    (event,) = pair.send(client.disconnect(receipt="bye"))
    assert isinstance(event, ReceiptReceived)
    assert event.command == "DISCONNECT"
    assert broker.disconnected
    assert client.receive_data(b"") == [ConnectionClosed((), (), clean=True)]
    assert [f.command for f in broker.received] == [
        "CONNECT",
        "SUBSCRIBE",
        "SEND",
        "ACK",
        *(["NACK"] if version != "1.0" else []),
        "BEGIN",
        "SEND",
        "COMMIT",
        "UNSUBSCRIBE",
        "DISCONNECT",
    ]


@pytest.mark.parametrize(
    ("client_versions", "broker_versions", "expected"),
    [
        (("1.0", "1.1", "1.2"), ("1.0", "1.1", "1.2"), "1.2"),
        (("1.0", "1.1", "1.2"), ("1.0", "1.1"), "1.1"),
        (("1.0", "1.1"), ("1.1", "1.2"), "1.1"),
        (("1.0",), ("1.0", "1.2"), "1.0"),
    ],
)
def test_pair_negotiates_highest_common_version(
    client_versions: tuple[str, ...], broker_versions: tuple[str, ...], expected: str
) -> None:
    pair = ConnectionPair(client_versions, broker_versions)
    (event,) = pair.connect()
    assert isinstance(event, Connected)
    assert event.version == expected == pair.broker.version == pair.client.parser.version


def test_pair_reconnect_replays_subscriptions() -> None:
    pair = ConnectionPair()
    pair.connect()
    pair.send(pair.client.subscribe("/q", "s1", ack="client", headers={"selector": "a>1"}))
    (closed,) = pair.client.receive_data(b"")
    assert not closed.clean

    second = ConnectionPair()
    second.client = pair.client  # same session, fresh broker
    second.connect()
    for wire in pair.client.replay():
        second.send(wire)
    assert second.broker.subscriptions == {"s1": ("/q", "client")}
    assert second.broker.received[-1].headers["selector"] == "a>1"
    (event,) = second.send(pair.client.send("/q", b"again"))
    assert isinstance(event, MessageReceived)
    assert event.frame.body == b"again"


def test_pair_messages_split_in_one_byte_pieces() -> None:
    pair = ConnectionPair()
    pair.connect()
    pair.send(pair.client.subscribe("/q", "s1"))
    wire = pair.broker.receive_data(pair.client.send("/q", b"x" * 100))
    events = []
    for i in range(len(wire)):
        events.extend(pair.client.receive_data(wire[i : i + 1]))
    assert len(events) == 1
    assert isinstance(events[0], MessageReceived)


def test_transition_table_pinned() -> None:
    """The documented diagram, so a lost or added entry is noticed."""
    in_session = ("SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN", "COMMIT", "ABORT")
    expected = {
        (State.DISCONNECTED, "CONNECT"): State.CONNECTING,
        (State.DISCONNECTED, "STOMP"): State.CONNECTING,
        (State.CONNECTING, "CONNECTED"): State.CONNECTED,
        (State.CONNECTING, "ERROR"): State.ERROR,
        **{(State.CONNECTED, c): State.CONNECTED for c in in_session},
        **{(State.CONNECTED, c): State.CONNECTED for c in ("MESSAGE", "RECEIPT", "ERROR")},
        (State.CONNECTED, "DISCONNECT"): State.DISCONNECTING,
        **{(State.DISCONNECTING, c): State.DISCONNECTING for c in ("MESSAGE", "RECEIPT", "ERROR")},
    }
    assert dict(TRANSITIONS) == expected
    with pytest.raises(TypeError):
        TRANSITIONS[(State.ERROR, "CONNECT")] = State.CONNECTING  # type: ignore[index]
