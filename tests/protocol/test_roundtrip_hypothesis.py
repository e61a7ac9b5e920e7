"""Hypothesis round trips: serialize then parse gives the frame back, in every version, or
the serializer refuses with LocalProtocolError (never produces something else)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.constants import BODY_COMMANDS, COMMANDS, UNESCAPED_COMMANDS
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser
from tests.protocol.helpers import (
    ALL_VERSIONS,
    chunks_at,
    feed_chunks,
    parse,
    strip_content_length,
)

SPECIAL = ":\n\r\\ \t\0\x7f\u00e9\u2603\U0001f600\ud800"
header_text = st.text(alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters()), max_size=12)
header_names = header_text.filter(lambda n: n != "content-length")
headers_st = st.lists(st.tuples(header_names, header_text), max_size=6)
bodies = st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"\0", b"\0\0", b"a\0b\n\r\n"]))


def expressible(command: str, headers: list[tuple[str, str]], version: str) -> bool:
    """Whether ``version`` can carry these headers on ``command`` (the spec's rules)."""
    raw = version == "1.0" or command in UNESCAPED_COMMANDS
    for name, value in headers:
        if not name or "\0" in name + value:  # a NUL ends a frame: no version carries it
            return False
        if any("\ud800" <= c <= "\udfff" for c in name + value):
            return False  # not encodable as UTF-8
        if raw and ("\n" in name + value or "\r" in name + value or ":" in name):
            return False
        if version == "1.1" and "\r" in name + value:
            return False
    return True


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    body = draw(bodies) if command in BODY_COMMANDS else b""
    return Frame(command, draw(headers_st), body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=frames(),
    version=st.sampled_from(ALL_VERSIONS),
    content_length=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_round_trip(frame: Frame, version: str, content_length: bool, cuts: list[int]) -> None:
    if not expressible(frame.command, list(frame.raw_headers), version):
        with pytest.raises(LocalProtocolError):
            frame.to_bytes(version, content_length=content_length)
        return
    wire = frame.to_bytes(version, content_length=content_length)
    parser = FrameParser(version)
    parsed = feed_chunks(parser, chunks_at(wire, cuts))
    assert [strip_content_length(f) for f in parsed] == [strip_content_length(frame)]
    assert parser.pending == 0
    has_length = any(k == "content-length" for k, _ in parsed[0].raw_headers)
    assert has_length == bool(frame.body and (content_length or b"\0" in frame.body))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(st.tuples(frames(), st.sampled_from([b"", b"\n", b"\r\n", b"\n\r\n\n"]))),
    version=st.sampled_from(ALL_VERSIONS),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=20),
)
def test_stream_round_trip(items: list[tuple[Frame, bytes]], version: str, cuts: list[int]) -> None:
    """Many frames with heart-beats between them, split anywhere."""
    sent = [(f, eol) for f, eol in items if expressible(f.command, list(f.raw_headers), version)]
    assume(sent)
    wire = b"".join(eol + f.to_bytes(version) for f, eol in sent)
    parser = FrameParser(version)
    parsed = feed_chunks(parser, chunks_at(wire, cuts))
    assert [strip_content_length(f) for f in parsed] == [strip_content_length(f) for f, _ in sent]
    assert parser.heartbeats == sum(eol.count(b"\n") for _, eol in sent)
    assert parsed == parse(wire, version)


@settings(max_examples=200, deadline=None)
@given(name=header_names, value=header_text, version=st.sampled_from(ALL_VERSIONS))
def test_value_never_injects_a_header(name: str, value: str, version: str) -> None:
    frame = Frame("SEND", [(name, value), ("after", "x")])
    try:
        wire = frame.to_bytes(version)
    except LocalProtocolError:
        assert not expressible("SEND", [(name, value)], version)
        return
    (back,) = parse(wire, version)
    assert back.raw_headers == ((name, value), ("after", "x"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_examples_with_every_special_character(version: str) -> None:
    frame = Frame("MESSAGE", [(" k ", " v "), ("e", ""), ("u", "☃é"), ("b", "\\")], b"\0")
    (back,) = parse(frame.to_bytes(version), version)
    assert strip_content_length(back) == strip_content_length(frame)
