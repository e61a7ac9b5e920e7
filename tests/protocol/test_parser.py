"""FrameParser: EOLs, heart-beats, bodies, escaping, repeated headers, limits and errors."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stomp_enterprise.errors import FrameTooLarge, ProtocolError, RemoteProtocolError
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_HEADER_LENGTH,
    FrameParser,
)
from tests.protocol.helpers import (
    ALL_VERSIONS,
    IMPLEMENTATIONS,
    chunks_at,
    feed_chunks,
    parse,
    parse_bytewise,
    parser_implementation,
)


@pytest.fixture(autouse=True, params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs against the C-accelerated parser (where built) and pure Python."""
    with parser_implementation(request.param):
        yield request.param


def fed_before_error(parser: FrameParser, pieces: Iterable[bytes]) -> tuple[int, ProtocolError]:
    """Feed pieces until the parser raises: the bytes accepted before that, and the error."""
    fed = 0
    for piece in pieces:
        try:
            parser.feed(piece)
        except ProtocolError as exc:
            return fed, exc
        fed += len(piece)
    raise AssertionError(f"no error after {fed} bytes")


MSG = Frame("MESSAGE", [("destination", "/q"), ("message-id", "1")], b"hi")


def lf_to_crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


# ------------------------------------------------------------------ EOLs and heart-beats


STREAM_LF = (
    b"\n\nCONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0"
    b"\n\nMESSAGE\ndestination:/q\nmessage-id:1\n\nhi\0"
    b"\nRECEIPT\nreceipt-id:r1\n\n\0\n"
)
EXPECTED = [
    Frame("CONNECTED", [("version", "1.2"), ("heart-beat", "0,0")]),
    MSG,
    Frame("RECEIPT", [("receipt-id", "r1")]),
]


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(STREAM_LF, id="lf"),
        pytest.param(lf_to_crlf(STREAM_LF), id="crlf"),
    ],
)
def test_lf_and_crlf_everywhere(stream: bytes) -> None:
    parser = FrameParser()
    assert parser.feed(stream) == EXPECTED
    assert parser.heartbeats == 6
    assert parser.pending == 0


@pytest.mark.parametrize(
    "wire",
    [
        b"CONNECT\r\n\r\n\0",  # command line and blank line both CRLF, no headers
        b"CONNECT\r\n\n\0",  # CRLF command line, LF blank line
        b"CONNECT\n\r\n\0",  # LF command line, CRLF blank line
        b"CONNECT\r\na:b\r\n\r\n\0",
        b"CONNECT\na:b\r\n\n\0",  # last header CRLF, blank line LF
        b"CONNECT\r\na:b\n\r\n\0",  # last header LF, blank line CRLF
    ],
)
def test_crlf_mixed_per_line(wire: bytes) -> None:
    frames = parse(wire)
    assert len(frames) == 1
    assert frames[0].command == "CONNECT"
    assert all(v == "b" for _, v in frames[0].raw_headers)
    assert parse_bytewise(wire) == frames


def test_crlf_frame_split_between_cr_and_lf_of_blank_line() -> None:
    parser = FrameParser()
    assert parser.feed(b"SEND\r\na:b\r\n\r") == []
    assert parser.feed(b"\nbody\0") == [Frame("SEND", [("a", "b")], b"body")]


def test_cr_in_body_is_data() -> None:
    assert parse(b"SEND\r\n\r\n\r\nx\r\0")[0].body == b"\r\nx\r"


def test_bare_cr_in_header_is_an_error() -> None:
    with pytest.raises(RemoteProtocolError, match="carriage return"):
        parse(b"SEND\na:b\rc\n\n\0")


def test_cr_not_followed_by_lf_between_frames() -> None:
    with pytest.raises(RemoteProtocolError, match="carriage return"):
        parse(b"\rSEND\n\n\0")


@pytest.mark.parametrize("eols", [b"\n", b"\r\n", b"\n\r\n\n", b"\r\n" * 50])
def test_chunk_of_only_eols(eols: bytes) -> None:
    parser = FrameParser()
    assert parser.feed(eols) == []
    assert parser.heartbeats == eols.count(b"\n")
    assert parser.pending == 0
    assert parser.feed(b"RECEIPT\nreceipt-id:1\n\n\0") == [Frame("RECEIPT", [("receipt-id", "1")])]


def test_eols_at_start_of_chunk_after_a_frame() -> None:
    parser = FrameParser()
    assert parser.feed(b"SEND\n\nx\0") == [Frame("SEND", body=b"x")]
    assert parser.feed(b"\r\n\nSEND\n\ny\0\n") == [Frame("SEND", body=b"y")]
    assert parser.heartbeats == 3


def test_heartbeat_crlf_split_counts_once() -> None:
    parser = FrameParser()
    assert parser.feed(b"\r") == []
    assert parser.heartbeats == 0
    assert parser.feed(b"\n") == []
    assert parser.heartbeats == 1
    assert parser.feed(b"\r\n\n") == []
    assert parser.heartbeats == 3


def test_any_number_of_eols_between_frames() -> None:
    one = b"SEND\n\nx\0"
    stream = one + b"\n" * 1000 + one + b"\r\n" * 1000 + one
    parser = FrameParser()
    assert len(parser.feed(stream)) == 3
    assert parser.heartbeats == 2000


# ------------------------------------------------------------------ bodies


def test_body_ends_at_first_nul_without_content_length() -> None:
    assert parse(b"SEND\n\nab\0SEND\n\ncd\0") == [
        Frame("SEND", body=b"ab"),
        Frame("SEND", body=b"cd"),
    ]


def test_content_length_body_with_nuls() -> None:
    body = b"\0a\0\0b\0"
    wire = b"SEND\ncontent-length:6\n\n" + body + b"\0"
    (frame,) = parse(wire)
    assert frame.body == body
    assert frame.headers["content-length"] == "6"


def test_content_length_zero() -> None:
    assert parse(b"SEND\ncontent-length:0\n\n\0")[0].body == b""


def test_content_length_body_split_everywhere() -> None:
    body = b"\0\n\r\n\0x\0"
    wire = b"\nMESSAGE\ncontent-length:7\ndestination:/q\n\n" + body + b"\0\n"
    whole = parse(wire)
    assert whole[0].body == body
    for cut in range(1, len(wire)):
        parser = FrameParser()
        assert feed_chunks(parser, chunks_at(wire, [cut])) == whole, cut
        assert parser.heartbeats == 2


def test_content_length_split_between_body_and_its_nul() -> None:
    parser = FrameParser()
    assert parser.feed(b"SEND\ncontent-length:3\n\na\0b") == []
    assert parser.pending > 0
    assert parser.feed(b"\0") == [Frame("SEND", [("content-length", "3")], b"a\0b")]
    assert parser.pending == 0


@pytest.mark.parametrize("after", [b"X", b"\n", b"\0\0"[:0] + b"b"])
def test_byte_after_content_length_octets_must_be_nul(after: bytes) -> None:
    wire = b"SEND\ncontent-length:2\n\nab" + after
    with pytest.raises(RemoteProtocolError, match="not followed by NUL") as info:
        parse(wire)
    assert info.value.offset == len(wire) - 1
    with pytest.raises(RemoteProtocolError, match="not followed by NUL"):
        parse_bytewise(wire)


def test_first_content_length_wins() -> None:
    (frame,) = parse(b"SEND\ncontent-length:1\ncontent-length:5\n\na\0")
    assert frame.body == b"a"


def test_big_body_in_1k_chunks() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB, with NULs
    wire = b"SEND\ncontent-length:%d\n\n" % len(body) + body + b"\0"
    parser = FrameParser()
    frames = feed_chunks(parser, (wire[i : i + 1024] for i in range(0, len(wire), 1024)))
    assert len(frames) == 1
    assert frames[0].body == body


def test_big_body_without_content_length_in_1k_chunks() -> None:
    """A NUL-terminated body is not header lines: long lines and many of them are fine."""
    body = (b"y" * 100_000 + b"\n" * 3000) * 5
    wire = b"SEND\n\n" + body + b"\0"
    parser = FrameParser(max_header_length=1000, max_header_count=10)
    frames = feed_chunks(parser, (wire[i : i + 1024] for i in range(0, len(wire), 1024)))
    assert [f.body for f in frames] == [body]


# ------------------------------------------------------------------ chunking equivalence

STREAM = (
    b"\r\nCONNECTED\r\nversion:1.2\r\n\r\n\0\n"
    b"MESSAGE\ndestination:/q\nmessage-id:ID\\c1\nsubscription:0\ncontent-length:4\n\n\0\n\r\0\0"
    b"MESSAGE\ndestination:/q\nk:a\\\\b\\nc\n\nplain\0\r\n\n"
    b"RECEIPT\nreceipt-id:77\n\n\0"
    b"ERROR\nmessage:bad\ncontent-length:3\n\nx\0y\0\n"
)


def test_one_byte_at_a_time_equals_whole() -> None:
    whole_parser = FrameParser()
    whole = whole_parser.feed(STREAM)
    assert [f.command for f in whole] == ["CONNECTED", "MESSAGE", "MESSAGE", "RECEIPT", "ERROR"]
    assert whole[1].headers["message-id"] == "ID:1"
    assert whole[2].headers["k"] == "a\\b\nc"
    bytewise = FrameParser()
    assert feed_chunks(bytewise, (STREAM[i : i + 1] for i in range(len(STREAM)))) == whole
    assert bytewise.heartbeats == whole_parser.heartbeats == 5
    assert bytewise.bytes_received == len(STREAM)


@settings(max_examples=300, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_random_chunkings_equal_whole(cuts: list[int]) -> None:
    parser = FrameParser()
    assert feed_chunks(parser, chunks_at(STREAM, cuts)) == parse(STREAM)
    assert parser.heartbeats == 5
    assert parser.pending == 0


def test_bytearray_and_memoryview_chunks() -> None:
    parser = FrameParser()
    assert parser.feed(bytearray(b"SEN")) == []
    assert parser.feed(memoryview(b"D\n\nx")) == []
    assert parser.feed(bytearray(b"\0")) == [Frame("SEND", body=b"x")]


# ------------------------------------------------------------------ escaping on receive


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.0", ("a\\cb", "x\\\\y\\nz\\c")),
        ("1.1", ("a:b", "x\\y\nz:")),
        ("1.2", ("a:b", "x\\y\nz:")),
    ],
)
def test_unescape_per_version(version: str, expected: tuple[str, str]) -> None:
    (frame,) = parse(b"MESSAGE\na\\cb:x\\\\y\\nz\\c\n\n\0", version)
    assert frame.raw_headers == (expected,)


@pytest.mark.parametrize(
    ("version", "value"), [("1.0", "a\\rb"), ("1.2", "a\rb")], ids=["1.0", "1.2"]
)
def test_backslash_r(version: str, value: str) -> None:
    assert parse(b"MESSAGE\nk:a\\rb\n\n\0", version)[0].headers["k"] == value


def test_backslash_r_is_undefined_in_1_1() -> None:
    with pytest.raises(RemoteProtocolError, match="undefined escape"):
        parse(b"MESSAGE\nk:a\\rb\n\n\0", "1.1")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    "header",
    [b"k:\\t", b"k:a\\", b"k\\:v", b"k:\\x41", b"k\\t:v", b"k:\\\\\\"],
    ids=["tab", "trailing", "name-colon", "hex", "name-tab", "odd-backslashes"],
)
def test_undefined_escape_is_fatal(version: str, header: bytes) -> None:
    parser = FrameParser(version)
    with pytest.raises(RemoteProtocolError, match="undefined escape"):
        parser.feed(b"MESSAGE\n" + header + b"\n\n\0")
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"\n")


def test_undefined_escape_is_literal_in_1_0() -> None:
    assert parse(b"MESSAGE\nk:\\t\\\n\n\0", "1.0")[0].headers["k"] == "\\t\\"


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("command", [b"CONNECT", b"CONNECTED", b"STOMP"])
def test_connect_frames_never_unescaped(version: str, command: bytes) -> None:
    (frame,) = parse(command + b"\nlogin:a\\cb\npasscode:x\\t\\\n\n\0", version)
    assert frame.headers["login"] == "a\\cb"
    assert frame.headers["passcode"] == "x\\t\\"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_unescape_is_one_pass(version: str) -> None:
    (frame,) = parse(b"MESSAGE\nk:\\\\c\nj:\\\\n\\\\\\\\\n\n\0", version)
    assert frame.headers["k"] == "\\c"
    assert frame.headers["j"] == "\\n\\\\"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_escaped_colon_fast_path(version: str) -> None:
    """Only ``\\c`` escapes (ActiveMQ ids) in names and values."""
    (frame,) = parse(b"MESSAGE\nmessage-id:ID\\chost\\c1\nx\\cy:z\n\n\0", version)
    assert frame.raw_headers == (("message-id", "ID:host:1"), ("x:y", "z"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_values_never_trimmed(version: str) -> None:
    (frame,) = parse(b"MESSAGE\n k : v \nempty:\ncolons:a:b:c\n\n\0", version)
    assert frame.raw_headers == ((" k ", " v "), ("empty", ""), ("colons", "a:b:c"))


def test_utf8_headers_decoded() -> None:
    (frame,) = parse("MESSAGE\nkéy:välue ☃\n\n\0".encode())
    assert frame.headers["kéy"] == "välue ☃"


# ------------------------------------------------------------------ repeated headers


def test_repeated_header_first_wins_raw_keeps_all() -> None:
    (frame,) = parse(b"MESSAGE\nk:1\nx:y\nk:2\nk:3\n\n\0")
    assert frame.headers["k"] == "1"
    assert frame.get("k") == "1"
    assert frame.raw_headers == (("k", "1"), ("x", "y"), ("k", "2"), ("k", "3"))
    assert list(frame.headers) == ["k", "x"]


# ------------------------------------------------------------------ limits


def test_default_limits() -> None:
    parser = FrameParser()
    assert parser.max_frame_size == DEFAULT_MAX_FRAME_SIZE
    assert parser.max_header_length == DEFAULT_MAX_HEADER_LENGTH


@pytest.mark.parametrize("label", ["max_frame_size", "max_header_count", "max_header_length"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, "10"])
def test_limits_must_be_positive_ints(label: str, bad: object) -> None:
    with pytest.raises(ValueError, match=label):
        FrameParser(**{label: bad})  # type: ignore[arg-type]


def test_huge_content_length_fails_on_header_alone() -> None:
    parser = FrameParser()
    with pytest.raises(FrameTooLarge, match="content-length 10000000000") as info:
        parser.feed(b"SEND\ncontent-length:10000000000\n\n")
    assert isinstance(info.value, ProtocolError)
    assert info.value.offset == 0


def test_frame_size_limit_counts_headers_and_body() -> None:
    wire = b"SEND\ncontent-length:10\n\n" + b"x" * 10 + b"\0"
    assert parse(wire, max_frame_size=len(wire))[0].body == b"x" * 10
    with pytest.raises(FrameTooLarge):
        parse(wire, max_frame_size=20)


def test_frame_size_limit_without_content_length_fails_before_nul() -> None:
    parser = FrameParser(max_frame_size=100)
    parser.feed(b"SEND\n\n" + b"x" * 50)
    with pytest.raises(FrameTooLarge, match="max_frame_size"):
        parser.feed(b"x" * 60)


def test_frame_size_limit_on_complete_frame_without_content_length() -> None:
    with pytest.raises(FrameTooLarge, match="max_frame_size"):
        parse(b"SEND\n\n" + b"x" * 200 + b"\0", max_frame_size=100)


def test_header_count_limit() -> None:
    headers = b"".join(b"h%d:v\n" % i for i in range(5))
    assert len(parse(b"SEND\n" + headers + b"\n\0", max_header_count=5)[0].raw_headers) == 5
    with pytest.raises(FrameTooLarge, match="max_header_count"):
        parse(b"SEND\n" + headers + b"\n\0", max_header_count=4)


def test_header_count_limit_fails_before_blank_line() -> None:
    lines = [b"SEND\n", *(b"h%d:v\n" % i for i in range(100))]
    fed, exc = fed_before_error(FrameParser(max_header_count=10), lines)
    assert isinstance(exc, FrameTooLarge)
    assert "max_header_count" in str(exc)
    assert fed < 20 * 6


def test_header_length_limit() -> None:
    line = b"k:" + b"v" * 98
    assert parse(b"SEND\n" + line + b"\n\n\0", max_header_length=100)
    with pytest.raises(FrameTooLarge, match="max_header_length"):
        parse(b"SEND\n" + line + b"v\n\n\0", max_header_length=100)


@pytest.mark.parametrize(
    ("wire", "limit"),
    [
        (b"SEND\r\nk:vv\r\n\r\n\0", 4),  # a header line of exactly the limit, CRLF
        (b"\nCONNECTED\n\n\0", 1),  # the command line is not a header line
        (b"\r\nDISCONNECT\r\n\r\n\0", 1),
    ],
)
def test_the_header_length_limit_does_not_depend_on_where_reads_end(wire, limit) -> None:
    """Fuzzing found these: the partial-head check counted the command line still
    arriving, and the CR of a header line's CRLF whose LF had not, against the limit."""
    whole = parse(wire, max_header_length=limit)
    for cut in range(1, len(wire)):
        parser = FrameParser(max_header_length=limit)
        frames = feed_chunks(parser, [wire[:cut], wire[cut:]])
        assert [(f.command, list(f.headers)) for f in frames] == [
            (f.command, list(f.headers)) for f in whole
        ], cut


def test_a_header_line_still_arriving_is_bounded() -> None:
    parser = FrameParser(max_header_length=50)
    with pytest.raises(FrameTooLarge, match="max_header_length=50"):
        parser.feed(b"SEND\n" + b"k" * 51)
    parser = FrameParser(max_header_length=50)
    with pytest.raises(FrameTooLarge, match="max_header_length=50"):
        parser.feed(b"SEND\r\n" + b"k" * 51 + b"\r")


def test_header_length_limit_counts_utf8_bytes() -> None:
    line = "k:" + "é" * 50  # 102 bytes, 52 characters
    with pytest.raises(FrameTooLarge, match="max_header_length"):
        parse(("SEND\n" + line + "\n\n\0").encode(), max_header_length=100)


def test_endless_header_line_fails_without_newline() -> None:
    parser = FrameParser()
    parser.feed(b"SEND\nk:")
    fed, exc = fed_before_error(parser, itertools.repeat(b"v" * 1024, 1000))
    assert isinstance(exc, FrameTooLarge)
    assert "max_header_length" in str(exc)
    assert fed <= DEFAULT_MAX_HEADER_LENGTH


def test_endless_header_line_one_byte_at_a_time() -> None:
    parser = FrameParser(max_header_length=200)
    parser.feed(b"SEND\nk:")
    fed, exc = fed_before_error(parser, itertools.repeat(b"v", 10_000))
    assert isinstance(exc, FrameTooLarge)
    assert fed <= 200


@pytest.mark.parametrize(
    "greeting",
    [
        b"\x00\x00\x00\x1f\x01ActiveMQ\x00\x00\x00\x0c\x01\x00\x00",  # OpenWire
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        b"AMQP\x00\x00\x09\x01",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        b"send\n",
        b"SENDX",
        b"CONNECTEDX",
        b"UNSUBSCRIBER",
    ],
)
def test_non_stomp_greeting_fails_on_first_bytes(greeting: bytes) -> None:
    pieces = [greeting[i : i + 1] for i in range(len(greeting))]
    fed, exc = fed_before_error(FrameParser(), pieces)
    assert isinstance(exc, RemoteProtocolError)
    assert re.search("not a STOMP frame|invalid command", str(exc))
    assert fed < 13  # the longest command plus CRLF
    assert exc.offset is not None


def test_openwire_greeting_at_once() -> None:
    with pytest.raises(RemoteProtocolError, match="not a STOMP frame"):
        parse(b"\x00\x00\x00\x1f\x01ActiveMQ")


@pytest.mark.parametrize("prefix", [b"S", b"SEN", b"CONNECTED", b"UNSUBSCRIBE", b"SEND\r"])
def test_command_prefixes_wait_for_more(prefix: bytes) -> None:
    parser = FrameParser()
    assert parser.feed(prefix) == []
    assert parser.pending == len(prefix)


# ------------------------------------------------------------------ malformed frames


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"FOO\n\n\0", "invalid command 'FOO'"),
        (b"send\n\n\0", "invalid command 'send'"),
        (b"SEND \n\n\0", "invalid command 'SEND '"),
        (b"SEND\nnocolon\n\n\0", "has no ':'"),
        (b"SEND\n:value\n\n\0", "empty name"),
        (b"SEND\nok:1\n:value\n\n\0", "empty name"),
        (b"SEND\nok:1\nnocolon\n\n\0", "line 2 'nocolon' of SEND has no ':'"),  # the last line
        (b"SEND\na:1:2\nnocolon\nb:3\n\n\0", "line 2 'nocolon'"),  # colons add up, lines do not
        (b"SEND\r\nok:1\r\nnocolon\r\n\r\n\0", "line 2 'nocolon'"),
        (b"SEND\r\nok:1\r\n:v\r\n\r\n\0", "empty name"),
        (b"SEND\nok:1\r\nnocolon\n\n\0", "line 2 'nocolon'"),  # a CR, the blank line LF
        (b"SEND\ncontent-length:-1\n\n\0", "bad content-length '-1'"),
        (b"SEND\ncontent-length:abc\n\n\0", "bad content-length 'abc'"),
        (b"SEND\ncontent-length:+5\n\n\0", "bad content-length '\\+5'"),
        (b"SEND\ncontent-length:1e3\n\n\0", "bad content-length '1e3'"),
        (b"SEND\ncontent-length:\n\n\0", "bad content-length ''"),
        (b"SEND\ncontent-length: 1\n\nx\0", "bad content-length ' 1'"),
        ("SEND\ncontent-length:\u0661\n\nx\0".encode(), "bad content-length"),  # Arabic 1
        (b"SEND\nk:\xff\xfe\n\n\0", "invalid UTF-8"),
        (b"\xc3\n\n\0", "invalid UTF-8|not a STOMP"),
    ],
)
def test_malformed_frames(wire: bytes, message: str) -> None:
    parser = FrameParser()
    with pytest.raises(RemoteProtocolError, match=message) as info:
        parser.feed(wire)
    assert info.value.offset is not None
    assert "stream offset" in str(info.value)
    # after an error every further feed raises, even with valid data
    for _ in range(2):
        with pytest.raises(RemoteProtocolError, match="unusable"):
            parser.feed(b"SEND\n\n\0")
    # fed byte by byte a bad command is caught earlier, as "not a STOMP frame"
    with pytest.raises(RemoteProtocolError, match=rf"{message}|not a STOMP frame"):
        parse_bytewise(wire)


def test_invalid_utf8_offset_points_at_the_byte() -> None:
    wire = b"\n\nSEND\nk:ab\xff\n\n\0"
    with pytest.raises(RemoteProtocolError, match="invalid UTF-8") as info:
        parse(wire)
    assert info.value.offset == wire.index(b"\xff")


def test_offset_counts_bytes_of_earlier_frames() -> None:
    first = b"SEND\n\nx\0"
    parser = FrameParser()
    assert parser.feed(first) != []
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(b"BOGUS\n\n\0")
    assert info.value.offset == len(first)


def test_error_after_limit_also_sticks() -> None:
    parser = FrameParser()
    with pytest.raises(FrameTooLarge):
        parser.feed(b"SEND\ncontent-length:99999999999\n\n")
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"\n")
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"")  # even an empty feed refuses


def test_frames_before_an_error_in_a_later_chunk_are_delivered() -> None:
    parser = FrameParser()
    assert parser.feed(b"SEND\n\na\0") == [Frame("SEND", body=b"a")]
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"XX\n\n\0")


def test_empty_feed_returns_nothing() -> None:
    parser = FrameParser()
    assert parser.feed(b"") == []
    assert parser.bytes_received == 0


# ------------------------------------------------------------------ version switching


def test_version_changes_after_connected() -> None:
    parser = FrameParser("1.2")
    (connected,) = parser.feed(b"CONNECTED\nversion:1.0\n\n\0")
    parser.version = connected.headers["version"]
    assert parser.version == "1.0"
    assert parser.feed(b"MESSAGE\nk:a\\cb\n\n\0")[0].headers["k"] == "a\\cb"
    parser.version = "1.1"
    assert parser.feed(b"MESSAGE\nk:a\\cb\n\n\0")[0].headers["k"] == "a:b"


@pytest.mark.parametrize("bad", ["1.3", "2.0", "", "1", None])
def test_unknown_versions_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="unknown STOMP version"):
        FrameParser(bad)  # type: ignore[arg-type]
    parser = FrameParser()
    with pytest.raises(ValueError, match="unknown STOMP version"):
        parser.version = bad  # type: ignore[assignment]
    assert parser.version == "1.2"


def test_version_applies_to_frames_still_buffered() -> None:
    """The version is read when a frame completes, so a switch covers a partial frame."""
    parser = FrameParser("1.0")
    assert parser.feed(b"MESSAGE\nk:a\\cb\n") == []
    parser.version = "1.2"
    assert parser.feed(b"\n\0")[0].headers["k"] == "a:b"
