"""A MESSAGE beyond max_frame_size with ``skip_oversize``: skipped without buffering its body,
reported as an OversizeFrame, and the stream goes on (both parser implementations)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from stomp_enterprise.errors import FrameTooLarge, RemoteProtocolError
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser, OversizeFrame
from stomp_enterprise.protocol.session import (
    HeartbeatReceived,
    MessageReceived,
    MessageTooLarge,
    ReceiptReceived,
    Session,
)
from tests.protocol.helpers import IMPLEMENTATIONS, chunks_at, parser_implementation
from tests.protocol.test_parser import fed_before_error

LIMIT = 1000


@pytest.fixture(autouse=True, params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
    with parser_implementation(request.param):
        yield request.param


def message(n: int, body: bytes, *, content_length: bool = True) -> bytes:
    frame = Frame(
        "MESSAGE", [("destination", "/q"), ("message-id", str(n)), ("subscription", "s")], body
    )
    return frame.to_bytes("1.2", content_length=content_length)


def stream(*, content_length: bool) -> bytes:
    return (
        message(1, b"small")
        + b"\n"
        + message(2, b"B" * 50_000, content_length=content_length)
        + message(3, b"after")
        + b"RECEIPT\nreceipt-id:r\n\n\0"
    )


def check(frames: list[Frame], *, skipped_size: int = 50_000) -> None:
    assert [f.command for f in frames] == ["MESSAGE", "MESSAGE", "MESSAGE", "RECEIPT"]
    assert frames[0].body == b"small"
    assert type(frames[0]) is Frame
    big = frames[1]
    assert isinstance(big, OversizeFrame)
    assert big.body == b""
    assert big.size == skipped_size
    assert big.get("message-id") == "2"
    assert frames[2].body == b"after"


@pytest.mark.parametrize("content_length", [True, False])
def test_one_read(content_length: bool) -> None:
    parser = FrameParser(max_frame_size=LIMIT, skip_oversize=True)
    check(parser.feed(stream(content_length=content_length)))
    assert parser.pending == 0
    assert parser.bytes_received == len(stream(content_length=content_length))


@pytest.mark.parametrize("content_length", [True, False])
def test_byte_at_a_time_never_buffers_the_body(content_length: bool) -> None:
    parser = FrameParser(max_frame_size=LIMIT, skip_oversize=True)
    frames: list[Frame] = []
    most = 0
    for byte in chunks_at(stream(content_length=content_length), range(1, 60_000)):
        frames.extend(parser.feed(byte))
        most = max(most, parser.pending)
    check(frames)
    assert most <= LIMIT + 1  # never the 50 KB body


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("content_length", [True, False])
def test_random_splits(seed: int, content_length: bool) -> None:
    data = stream(content_length=content_length) * 3
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), 40))
    parser = FrameParser(max_frame_size=LIMIT, skip_oversize=True)
    frames: list[Frame] = []
    most = 0
    for piece in chunks_at(data, cuts):
        frames.extend(parser.feed(piece))
        most = max(most, parser.pending)
    for start in range(0, 12, 4):
        check(frames[start : start + 4])
    assert most <= LIMIT + 1  # never a 50 KB body


def test_a_frame_one_byte_over_the_limit_is_skipped_and_one_at_it_is_not() -> None:
    head = len(message(1, b"")) - 1  # command, headers, blank line (no NUL)
    at_limit = message(1, b"x" * (LIMIT - head - len("content-length:XXX\n")))
    size = len(at_limit) - 1
    parser = FrameParser(max_frame_size=size, skip_oversize=True)
    assert type(parser.feed(at_limit)[0]) is Frame
    parser = FrameParser(max_frame_size=size - 1, skip_oversize=True)
    assert type(parser.feed(at_limit)[0]) is OversizeFrame


def test_without_skip_oversize_it_stays_an_error() -> None:
    with pytest.raises(FrameTooLarge):
        FrameParser(max_frame_size=LIMIT).feed(stream(content_length=True))


@pytest.mark.parametrize("content_length", [True, False])
def test_other_commands_beyond_the_limit_stay_an_error(content_length: bool) -> None:
    error = Frame("ERROR", [("message", "big")], b"E" * 5000).to_bytes(
        "1.2", content_length=content_length
    )
    parser = FrameParser(max_frame_size=LIMIT, skip_oversize=True)
    fed, exc = fed_before_error(parser, chunks_at(error, range(100, len(error), 100)))
    assert isinstance(exc, FrameTooLarge)
    assert fed <= LIMIT + 100


def test_a_skipped_body_must_still_end_with_nul() -> None:
    data = message(2, b"B" * 5000).replace(b"B\0", b"BX")
    parser = FrameParser(max_frame_size=LIMIT, skip_oversize=True)
    parser.feed(data[:2000])
    with pytest.raises(RemoteProtocolError, match="not followed by NUL"):
        parser.feed(data[2000:])


def test_session_turns_it_into_message_too_large() -> None:
    session = Session(("1.2",), max_frame_size=LIMIT, skip_oversize=True)
    session.connect("/")
    session.receive_data(b"CONNECTED\nversion:1.2\n\n\0")
    session.pending_receipts["r"] = "SEND"
    data = stream(content_length=True)
    events = [
        e
        for piece in chunks_at(data, range(7, len(data), 997))
        for e in session.receive_data(piece)
    ]
    assert [type(e) for e in events if not isinstance(e, HeartbeatReceived)] == [
        MessageReceived,
        MessageTooLarge,
        MessageReceived,
        ReceiptReceived,
    ]
    too_large = [e for e in events if isinstance(e, MessageTooLarge)]
    assert len(too_large) == 1
    assert too_large[0].subscription == "s"
    assert too_large[0].size == 50_000
    assert too_large[0].frame.get("message-id") == "2"
    assert [e.frame.body for e in events if isinstance(e, MessageReceived)] == [b"small", b"after"]
