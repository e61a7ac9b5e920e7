"""Fuzzing: random and mutated byte streams raise only ProtocolError subclasses, never another
exception, and never hang; chunking never changes the outcome of a successful parse."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stomp_enterprise.errors import ProtocolError
from stomp_enterprise.protocol import commands
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser
from stomp_enterprise.protocol.session import Session
from tests.protocol.helpers import ALL_VERSIONS, chunks_at

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = b"".join(
    [
        b"\n",
        commands.connected("1.2", heart_beat=(10, 10)).to_bytes("1.2"),
        b"\r\n",
        Frame(
            "MESSAGE",
            [("destination", "/q"), ("message-id", "ID:a:1"), ("subscription", "0")],
            b"x\0y",
        ).to_bytes("1.2"),
        Frame("MESSAGE", [("k", "a\\b\nc\rd")], b"text").to_bytes("1.2", content_length=False),
        b"\n\n",
        Frame("RECEIPT", [("receipt-id", "77")]).to_bytes("1.2"),
        Frame("ERROR", [("message", "bad")], b"detail").to_bytes("1.2"),
    ]
)

limits = st.fixed_dictionaries(
    {},
    optional={
        "max_frame_size": st.integers(1, 400),
        "max_header_count": st.integers(1, 5),
        "max_header_length": st.integers(1, 60),
    },
)


def run(data: bytes, cuts: list[int], version: str, **kw: int) -> tuple[list[Frame], int] | None:
    """Feed ``data`` in pieces; the frames and heart-beats, or None after a ProtocolError.

    Any other exception escapes and fails the test.
    """
    parser = FrameParser(version, **kw)
    frames: list[Frame] = []
    try:
        for piece in chunks_at(data, cuts):
            frames.extend(parser.feed(piece))
    except ProtocolError:
        try:
            parser.feed(b"SEND\n\n\0")
        except ProtocolError:
            return None
        raise AssertionError("the parser accepted input after an error") from None
    return frames, parser.heartbeats


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from([b"\0", b"\n", b"\r", b":", b"\\", b"\xff", b"9"]))
        elif kind == "delete" and data:
            del data[at]
        elif kind == "truncate":
            del data[at:]
        elif kind == "splice":
            data[at:at] = draw(st.binary(max_size=8))
    return bytes(data)


@SETTINGS
@given(
    data=st.binary(max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=10),
    version=st.sampled_from(ALL_VERSIONS),
    kw=limits,
)
def test_random_bytes_raise_only_protocol_errors(
    data: bytes, cuts: list[int], version: str, kw: dict[str, int]
) -> None:
    run(data, cuts, version, **kw)


@SETTINGS
@given(
    data=mutated(),
    cuts=st.lists(st.integers(0, len(VALID) + 10), max_size=12),
    version=st.sampled_from(ALL_VERSIONS),
    kw=limits,
)
def test_mutated_streams_raise_only_protocol_errors(
    data: bytes, cuts: list[int], version: str, kw: dict[str, int]
) -> None:
    chunked = run(data, cuts, version, **kw)
    whole = run(data, [], version, **kw)
    # a stream that parses whole parses identically in pieces, and vice versa
    assert (chunked is None) == (whole is None)
    assert chunked == whole


@SETTINGS
@given(
    prefix=st.sampled_from([b"", b"CONNECTED\nversion:1.2\n\n\0"]),
    data=st.one_of(st.binary(max_size=200), mutated()),
    cuts=st.lists(st.integers(0, 400), max_size=8),
)
def test_session_receive_raises_only_protocol_errors(
    prefix: bytes, data: bytes, cuts: list[int]
) -> None:
    session = Session()
    session.connect()
    try:
        for piece in chunks_at(prefix + data, cuts):
            session.receive_data(piece)
        session.receive_data(b"")
    except ProtocolError:
        pass
