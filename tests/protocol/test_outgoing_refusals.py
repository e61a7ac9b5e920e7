"""What the client must never write: a NUL inside a header (any version, any frame) and a
frame larger than ``max_frame_size``. Both are refused before any byte is returned, with the
session's state and bookkeeping untouched, and the error names the header, never its value."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stomp_enterprise.errors import FrameTooLarge, LocalProtocolError
from stomp_enterprise.protocol import Session, State, commands
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser
from tests.protocol.helpers import ALL_VERSIONS

SECRET = "s3cr\0et"


def connected(version: str, **options: int) -> Session:
    session = Session((version,), **options)  # type: ignore[arg-type]
    session.connect("/")
    session.receive_data(f"CONNECTED\nversion:{version}\n\n\0".encode())
    return session


def message(session: Session, ack_value: str = "a-1") -> Frame:
    wire = (
        f"MESSAGE\ndestination:/q\nmessage-id:m-1\nsubscription:s-1\nack:{ack_value}\n"
        f"content-length:0\n\n\0"
    ).encode()
    (event,) = session.receive_data(wire)
    return event.frame  # type: ignore[union-attr]


def refused(call: Callable[[], object], header: str) -> str:
    with pytest.raises(LocalProtocolError) as info:
        call()
    text = str(info.value)
    assert header in text
    assert "s3cr" not in text  # the value never shows
    return text


# ---------------------------------------------------------------- NUL in a header


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("command", ["SEND", "SUBSCRIBE", "ACK", "BEGIN", "CONNECT", "MESSAGE"])
def test_user_built_frame_with_a_nul_value_is_refused(version: str, command: str) -> None:
    frame = Frame(command, [("destination", "/q"), ("custom", SECRET)])
    refused(lambda: frame.to_bytes(version), "'custom'")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_user_built_frame_with_a_nul_name_is_refused(version: str) -> None:
    frame = Frame("SEND", [("destination", "/q"), ("na\0me", "v")])
    refused(lambda: frame.to_bytes(version), "name")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_send_fast_path_refuses_a_nul_destination_and_stays_usable(version: str) -> None:
    session = connected(version)
    refused(lambda: session.send("/queue/a\0b", b"x"), "'destination'")
    refused(lambda: session.send("/queue/a\0b", b"x", receipt="r-1"), "'destination'")
    assert session.pending_receipts == {}
    assert session.state is State.CONNECTED
    assert session.send("/queue/a", b"x") == commands.send("/queue/a", b"x").to_bytes(version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_send_fast_path_refuses_a_nul_receipt(version: str) -> None:
    session = connected(version)
    refused(lambda: session.send("/queue/a", b"x", receipt="r\0-1"), "'receipt'")
    assert session.pending_receipts == {}


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_send_general_path_refuses_nul_headers_content_type_and_transaction(
    version: str,
) -> None:
    session = connected(version)
    refused(lambda: session.send("/q", b"x", {"app": SECRET}), "'app'")
    refused(lambda: session.send("/q", b"x", content_type="text/plain\0"), "'content-type'")
    assert session.state is State.CONNECTED


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_transaction_frames_refuse_a_nul_id_and_open_nothing(version: str) -> None:
    session = connected(version)
    refused(lambda: session.begin("tx\0-1"), "'transaction'")
    assert session.transactions == set()
    session.begin("tx-1")
    refused(lambda: session.send("/q", b"x", {"h": SECRET}, transaction="tx-1"), "'h'")
    assert session.transactions == {"tx-1"}
    session.commit("tx-1")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_subscribe_headers_with_a_nul_are_refused_and_not_remembered(version: str) -> None:
    session = connected(version)
    refused(lambda: session.subscribe("/q", "s-1", headers={"selector": SECRET}), "'selector'")
    refused(lambda: session.subscribe("/q\0", "s-1"), "'destination'")
    assert session.subscriptions == {}


def test_ack_fast_path_never_echoes_a_nul_from_a_hostile_broker() -> None:
    session = connected("1.2")
    frame = message(session, "a\0b")
    refused(lambda: session.ack(frame), "'id'")
    refused(lambda: session.nack(frame), "'id'")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_nack_headers_and_ack_transactions_with_a_nul_are_refused(version: str) -> None:
    session = connected(version)
    frame = message(session)
    refused(lambda: session.nack(frame, headers={"requeue": "fa\0lse"}), "'requeue'")
    refused(lambda: commands.ack(frame, version, transaction="t\0x").to_bytes(version), "'tr")


def test_connect_refuses_a_nul_passcode_without_quoting_it() -> None:
    session = Session(("1.2",))
    refused(lambda: session.connect("/", login="u", passcode=SECRET), "'passcode'")
    assert session.state is State.DISCONNECTED


# ---------------------------------------------------------------- frames beyond max_frame_size


def sent_size(data: bytes) -> int:
    """A frame's size as the parser measures it: everything but the final NUL."""
    return len(data) - 1


@pytest.mark.parametrize("receipt", [None, "r-1"])
@pytest.mark.parametrize("headers", [None, {"app": "1"}])
def test_a_frame_of_exactly_max_frame_size_is_sent_and_one_byte_more_refused(
    receipt: str | None, headers: dict[str, str] | None
) -> None:
    probe = connected("1.2")
    head = sent_size(probe.send("/q", b"", headers, receipt=receipt))
    limit = 1000
    body = b"x" * (limit - head - len("content-length:nnn\n"))
    session = connected("1.2", max_frame_size=limit)
    data = session.send("/q", body, headers, receipt=receipt)
    assert sent_size(data) == limit
    (frame,) = FrameParser("1.2", max_frame_size=limit).feed(data)  # the broker's view
    assert frame.body == body
    session.pending_receipts.clear()
    with pytest.raises(FrameTooLarge, match="max_frame_size=1000"):
        session.send("/q", body + b"y", headers, receipt=receipt)
    assert session.pending_receipts == {}
    assert session.state is State.CONNECTED
    assert session.send("/q", b"small", headers) == probe.send("/q", b"small", headers)


def test_a_body_beyond_the_limit_is_refused_in_every_path() -> None:
    session = connected("1.2", max_frame_size=4096)
    big = bytes(5000)
    session.begin("tx-1")
    for call in (
        lambda: session.send("/q", big),
        lambda: session.send("/q", big, content_type="application/octet-stream"),
        lambda: session.send("/q", big, {"h": "v"}),
        lambda: session.send("/q", big, transaction="tx-1"),
        lambda: session.send("/q", big, receipt="r-9"),
    ):
        with pytest.raises(FrameTooLarge):
            call()
    assert session.pending_receipts == {}
    assert session.transactions == {"tx-1"}


def test_headers_alone_beyond_the_limit_are_refused() -> None:
    session = connected("1.2", max_frame_size=256)
    with pytest.raises(FrameTooLarge):
        session.subscribe("/q", "s-1", headers={"selector": "x" * 300})
    assert session.subscriptions == {}
    with pytest.raises(FrameTooLarge):
        session.send("/" + "q" * 300, b"")
    assert session.state is State.CONNECTED
