"""serialize / Frame.to_bytes: escaping per version, content-length, refusals, no injection."""

from __future__ import annotations

import pytest

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.constants import BODY_COMMANDS, COMMANDS
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.serializer import serialize
from tests.protocol.helpers import ALL_VERSIONS, parse


def test_basic_layout() -> None:
    wire = Frame("SEND", [("destination", "/q"), ("a", "1")], b"xyz").to_bytes("1.2")
    assert wire == b"SEND\ndestination:/q\na:1\ncontent-length:3\n\nxyz\0"


def test_no_body_no_content_length() -> None:
    assert Frame("SEND", [("destination", "/q")]).to_bytes() == b"SEND\ndestination:/q\n\n\0"


def test_serialize_function_matches_to_bytes() -> None:
    frame = Frame("MESSAGE", [("k", "a:b")], b"x")
    for version in ALL_VERSIONS:
        assert serialize("MESSAGE", [("k", "a:b")], b"x", version) == frame.to_bytes(version)


def test_default_version_is_1_2() -> None:
    assert Frame("SEND", [("k", "\r")]).to_bytes() == b"SEND\nk:\\r\n\n\0"


# ------------------------------------------------------------------ escaping per version


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.1", b"MESSAGE\na\\cb:x\\\\y\\nz\\c\n\n\0"),
        ("1.2", b"MESSAGE\na\\cb:x\\\\y\\nz\\c\n\n\0"),
    ],
)
def test_escaping_1_1_and_1_2(version: str, expected: bytes) -> None:
    assert Frame("MESSAGE", [("a:b", "x\\y\nz:")]).to_bytes(version) == expected


def test_1_2_escapes_carriage_return() -> None:
    assert Frame("SEND", [("k\r", "a\rb")]).to_bytes("1.2") == b"SEND\nk\\r:a\\rb\n\n\0"


def test_1_1_refuses_carriage_return() -> None:
    with pytest.raises(LocalProtocolError, match="carriage return"):
        Frame("SEND", [("k", "a\rb")]).to_bytes("1.1")
    with pytest.raises(LocalProtocolError, match="carriage return"):
        Frame("SEND", [("k\r", "v")]).to_bytes("1.1")


def test_1_0_no_escaping() -> None:
    wire = Frame("SEND", [("k", "a:b\\c")]).to_bytes("1.0")
    assert wire == b"SEND\nk:a:b\\c\n\n\0"


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\n", "x\r\n"])
def test_1_0_refuses_line_breaks_in_values(value: str) -> None:
    with pytest.raises(LocalProtocolError, match="line break"):
        Frame("SEND", [("k", value)]).to_bytes("1.0")


def test_1_0_refuses_colon_in_name() -> None:
    with pytest.raises(LocalProtocolError, match="':'"):
        Frame("SEND", [("a:b", "v")]).to_bytes("1.0")


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("command", ["CONNECT", "STOMP", "CONNECTED"])
def test_connect_frames_never_escaped(version: str, command: str) -> None:
    wire = Frame(command, [("passcode", "a:b\\c")]).to_bytes(version)
    assert wire == command.encode() + b"\npasscode:a:b\\c\n\n\0"


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("command", ["CONNECT", "STOMP", "CONNECTED"])
@pytest.mark.parametrize("header", [("k", "a\nb"), ("k", "a\rb"), ("k\n", "v"), ("a:b", "v")])
def test_connect_frames_refuse_what_they_cannot_express(
    version: str, command: str, header: tuple[str, str]
) -> None:
    with pytest.raises(LocalProtocolError):
        Frame(command, [header]).to_bytes(version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("command", ["SEND", "MESSAGE", "CONNECT", "CONNECTED", "ERROR"])
@pytest.mark.parametrize(
    "value", ["x\nfoo:bar", "x\r\nfoo:bar", "x\n\nbody\0", "x\rfoo:bar", "x\\nfoo:bar"]
)
def test_header_injection_impossible(version: str, command: str, value: str) -> None:
    """A value never produces a second header or ends the header block: it is escaped (and
    parses back to itself) or refused."""
    frame = Frame(command, [("k", value)])
    try:
        wire = frame.to_bytes(version)
    except LocalProtocolError:
        return
    (back,) = parse(wire, version)
    assert back.raw_headers == (("k", value),)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_header_name_injection_impossible(version: str) -> None:
    frame = Frame("SEND", [("foo:bar\nbaz", "v")])
    try:
        wire = frame.to_bytes(version)
    except LocalProtocolError:
        return
    assert parse(wire, version)[0].raw_headers == (("foo:bar\nbaz", "v"),)


def test_clean_and_dirty_headers_mixed() -> None:
    wire = Frame("SEND", [("a", "1"), ("b", "x:y"), ("c", "2")]).to_bytes("1.2")
    assert wire == b"SEND\na:1\nb:x\\cy\nc:2\n\n\0"


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_empty_header_name_refused(version: str) -> None:
    with pytest.raises(LocalProtocolError, match="empty header name"):
        Frame("SEND", [("", "v")]).to_bytes(version)


def test_empty_value_and_spaces_kept() -> None:
    wire = Frame("SEND", [(" k ", ""), ("j", " v ")]).to_bytes("1.2")
    assert wire == b"SEND\n k :\nj: v \n\n\0"


def test_unicode_encoded_as_utf8() -> None:
    assert Frame("SEND", [("k", "☃")]).to_bytes() == "SEND\nk:☃\n\n\0".encode()


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_lone_surrogate_refused(version: str) -> None:
    with pytest.raises(LocalProtocolError, match="UTF-8"):
        Frame("SEND", [("k", "\ud800")]).to_bytes(version)


# ------------------------------------------------------------------ content-length


def test_content_length_added_by_default() -> None:
    assert b"content-length:5\n" in Frame("SEND", body=b"hello").to_bytes()


def test_content_length_false_omits_it_for_text() -> None:
    assert Frame("SEND", body=b"hello").to_bytes(content_length=False) == b"SEND\n\nhello\0"


def test_content_length_false_still_added_for_nul_body() -> None:
    wire = Frame("SEND", body=b"a\0b").to_bytes(content_length=False)
    assert wire == b"SEND\ncontent-length:3\n\na\0b\0"
    assert parse(wire)[0].body == b"a\0b"


def test_user_content_length_matching_is_kept_once() -> None:
    wire = Frame("SEND", [("content-length", "3")], b"abc").to_bytes()
    assert wire == b"SEND\ncontent-length:3\n\nabc\0"


def test_user_content_length_zero_for_empty_body() -> None:
    assert Frame("SEND", [("content-length", "0")]).to_bytes() == b"SEND\ncontent-length:0\n\n\0"


@pytest.mark.parametrize("declared", ["4", "2", "03", "", "abc", " 3"])
def test_user_content_length_disagreeing_refused(declared: str) -> None:
    with pytest.raises(LocalProtocolError, match="disagrees"):
        Frame("SEND", [("content-length", declared)], b"abc").to_bytes()


def test_user_content_length_on_empty_body_disagreeing_refused() -> None:
    with pytest.raises(LocalProtocolError, match="disagrees"):
        Frame("SEND", [("content-length", "1")]).to_bytes()


# ------------------------------------------------------------------ commands and bodies


@pytest.mark.parametrize("command", sorted(COMMANDS - BODY_COMMANDS))
def test_body_refused_where_not_allowed(command: str) -> None:
    with pytest.raises(LocalProtocolError, match="may not have a body"):
        Frame(command, body=b"x").to_bytes()
    assert Frame(command).to_bytes().startswith(command.encode() + b"\n")


@pytest.mark.parametrize("command", sorted(BODY_COMMANDS))
def test_body_allowed(command: str) -> None:
    assert Frame(command, body=b"x").to_bytes().endswith(b"\n\nx\0")


@pytest.mark.parametrize("command", ["", "send", "FOO", "SEND\n", "HEARTBEAT"])
def test_unknown_command_refused(command: str) -> None:
    with pytest.raises(LocalProtocolError, match="unknown STOMP command"):
        Frame(command).to_bytes()


def test_serialize_refuses_unknown_command_directly() -> None:
    with pytest.raises(LocalProtocolError):
        serialize("NOPE", [])
