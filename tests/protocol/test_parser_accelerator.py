"""The C accelerator (``_speedups.scan``) against the pure-Python parser: on generated,
mutated and randomly split streams, in every version and under tight limits, both give the
same frames, heart-beats and leftovers, or the same error (type, message and offset)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stomp_enterprise.errors import ProtocolError
from stomp_enterprise.protocol import parser as parser_module
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser
from tests.protocol.helpers import ALL_VERSIONS, chunks_at, parser_implementation
from tests.protocol.test_fuzz import VALID, limits, mutated
from tests.protocol.test_roundtrip_hypothesis import frames as frame_strategy

Outcome = tuple[object, ...]


def test_the_accelerator_is_built_in_ci() -> None:
    """CI builds it (STOMP_ENTERPRISE_REQUIRE_SPEEDUPS): a broken build must not pass as
    'pure Python everywhere'. Elsewhere it is optional and the pure parser is complete."""
    if os.environ.get("CI") and not os.environ.get("STOMP_ENTERPRISE_PURE_PYTHON"):
        assert parser_module.ACCELERATED
    else:
        assert (parser_module._scan is not None) == parser_module.ACCELERATED


pytestmark = pytest.mark.skipif(
    not parser_module.ACCELERATED and not os.environ.get("CI"),
    reason="the optional C accelerator is not built here (no C compiler at install time)",
)


def outcome(name: str, data: bytes, cuts: list[int], version: str, **kw: int) -> Outcome:
    """Everything observable of feeding ``data`` in pieces with one implementation."""
    with parser_implementation(name):
        parser = FrameParser(version, **kw)
        got: list[tuple[str, list[tuple[str, str]], bytes]] = []
        try:
            for piece in chunks_at(data, cuts):
                got.extend(
                    (f.command, [tuple(p) for p in f.raw_headers], f.body)  # type: ignore[misc]
                    for f in parser.feed(piece)
                )
        except ProtocolError as exc:
            return ("error", type(exc), str(exc), exc.offset, got, parser.heartbeats)
        return ("ok", got, parser.heartbeats, parser.pending, parser.bytes_received)


def same(data: bytes, cuts: list[int], version: str, **kw: int) -> None:
    accelerated = outcome("accelerated", data, cuts, version, **kw)
    assert accelerated == outcome("pure", data, cuts, version, **kw)


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
cut_lists = st.lists(st.integers(0, 600), max_size=6)


@SETTINGS
@given(data=mutated(), cuts=cut_lists, version=st.sampled_from(ALL_VERSIONS), kw=limits)
def test_mutated_streams(data: bytes, cuts: list[int], version: str, kw: dict[str, int]) -> None:
    same(data, cuts, version, **kw)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Serialized frames (any version's escaping, with and without content-length),
    heart-beats and stray bytes between them."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(1, 5))):
        frame: Frame = draw(frame_strategy())
        wire_version = draw(st.sampled_from(ALL_VERSIONS))
        try:
            parts.append(frame.to_bytes(wire_version, content_length=draw(st.booleans())))
        except ProtocolError:
            parts.append(draw(st.binary(max_size=20)))
        parts.append(draw(st.sampled_from([b"", b"", b"\n", b"\r\n", b"\n\n\n", b"\r", b"x"])))
    return b"".join(parts)


@SETTINGS
@given(data=streams(), cuts=cut_lists, version=st.sampled_from(ALL_VERSIONS), kw=limits)
def test_generated_streams(data: bytes, cuts: list[int], version: str, kw: dict[str, int]) -> None:
    same(data, cuts, version, **kw)


@SETTINGS
@given(data=streams(), version=st.sampled_from(ALL_VERSIONS))
def test_generated_streams_default_limits_whole(data: bytes, version: str) -> None:
    same(data, [], version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_every_cut_of_the_valid_stream(version: str) -> None:
    for cut in range(len(VALID) + 1):
        same(VALID, [cut], version)


@pytest.mark.parametrize(
    "data",
    [
        b"MESSAGE\ncontent-length:3\n\nabc\0",  # the common case
        b"MESSAGE\ncontent-length:99999999999999999999\n\n",  # beyond what C parses
        b"MESSAGE\ncontent-length:\n\n\0",  # empty length
        b"MESSAGE\ncontent-length:1x\n\nab\0",  # not digits
        b"MESSAGE\ncontent-length:2\n\nabc\0",  # no NUL after the body
        b"MESSAGE\ncontent-length:1\ncontent-length:2\n\na\0",  # the first one wins
        b"MESSAGE\ncontent-length:0\ncontent-length:1\n\na\0",  # ... even if wrong
        b"MESSAGE\nmessage-id:ID\\cx\n\n\0",  # an escape
        b"MESSAGE\nmessage-id:ID\\tx\n\n\0",  # an undefined escape
        b"MESSAGE\nk:v\\\n\n\0",  # a lone backslash at the end of a line
        b"MESSAGE\nk:\\r\n\n\0",  # \r: 1.2 only
        b"CONNECTED\nk:a\\b\n\n\0",  # CONNECTED is never escaped
        b"MESSAGE\n:v\n\n\0",  # empty header name
        b"MESSAGE\nnocolon\n\n\0",
        b"MESSAGE\nk:1:2\nnocolon\n\n\0",  # as many colons as lines, one line without
        b"MESSAGE\nk:v\r\nk:\\c\\\\c\r\n\r\n\0",  # CRLF, \c and an escaped backslash
        b"MESSAGE\nk:\xc3\xa9\n\n\0",  # UTF-8
        b"MESSAGE\nk:\xff\n\n\0",  # not UTF-8
        b"M\xc3\x89SSAGE\n\n\0",  # not a command
        b"message\n\n\0",
        b"SENDX\n\n\0",
        b"MESSAGE\r\nk:v\r\n\r\n\0",  # CRLF
        b"MESSAGE\nk:v\r\n\n\0",
        b"MESSAGE\n\n\0\n\n\r\n\nRECEIPT\nreceipt-id:1\n\n\0",  # heart-beats between
        b"MESSAGE\n\nno NUL yet",
        b"MESSAGE\nk:v",
        b"\x16\x03\x01\x02\x00",  # a TLS greeting
    ],
)
@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_examples(data: bytes, version: str) -> None:
    for cut in range(len(data) + 1):
        same(data, [cut], version)
        same(data, [cut], version, max_header_count=1, max_header_length=12, max_frame_size=20)


@pytest.mark.skipif(not parser_module.ACCELERATED, reason="needs the C accelerator")
def test_scan_stops_at_what_it_does_not_handle() -> None:
    scan = parser_module._scan
    assert scan is not None
    frames: list[Frame] = []
    data = b"\n\nRECEIPT\nreceipt-id:1\n\n\0MESSAGE\r\n\r\n\0"

    def call(pos: int) -> tuple[int, int]:
        return scan(  # type: ignore[no-any-return]
            data,
            pos,
            frames,
            "1.2",
            parser_module._CANONICAL_COMMANDS,
            parser_module.UNESCAPED_COMMANDS,
            10,
            1000,
            1000,
            Frame._parsed,
        )

    pos, beats = call(0)
    assert (pos, beats) == (data.index(b"MESSAGE"), 2)
    assert [f.command for f in frames] == ["RECEIPT"]
    assert frames[0].command is parser_module._CANONICAL_COMMANDS["RECEIPT"]
    assert call(pos) == (pos, 0)  # nothing more for C: the CRLF frame is Python's
    with pytest.raises(ValueError, match="pos out of range"):
        call(len(data) + 1)
    with pytest.raises(TypeError, match="10 arguments"):
        scan(data, 0)
    with pytest.raises(TypeError, match="bad argument types"):
        scan(bytearray(data), 0, frames, "1.2", {}, frozenset(), 1, 1, 1, Frame._parsed)
