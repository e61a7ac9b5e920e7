"""Frame: constructor validation, headers views, equality, hashing, repr, pickling."""

from __future__ import annotations

import copy
import pickle

import pytest

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.frames import Frame, redacted_headers
from tests.protocol.helpers import parse


@pytest.mark.parametrize("command", [b"SEND", None, 1, ["SEND"]])
def test_command_must_be_str(command: object) -> None:
    with pytest.raises(LocalProtocolError, match="command must be str"):
        Frame(command)  # type: ignore[arg-type]


@pytest.mark.parametrize("body", ["text", 1, None, [1]])
def test_body_must_be_bytes(body: object) -> None:
    with pytest.raises(LocalProtocolError, match="body must be bytes"):
        Frame("SEND", body=body)  # type: ignore[arg-type]


@pytest.mark.parametrize("body", [bytearray(b"ab"), memoryview(b"ab")])
def test_bytes_like_body_copied_to_bytes(body: bytes) -> None:
    frame = Frame("SEND", body=body)
    assert type(frame.body) is bytes
    assert frame.body == b"ab"


@pytest.mark.parametrize("headers", [["ab"], [("a",)], [("a", "b", "c")], [1], [None]])
def test_headers_must_be_pairs(headers: object) -> None:
    with pytest.raises(LocalProtocolError, match="pair"):
        Frame("SEND", headers)  # type: ignore[arg-type]


def test_header_name_must_be_str() -> None:
    with pytest.raises(LocalProtocolError, match="name must be str"):
        Frame("SEND", [(1, "v")])  # type: ignore[list-item]


@pytest.mark.parametrize("value", [None, 1.5, b"v", ["v"]])
def test_header_value_must_be_str_or_int(value: object) -> None:
    with pytest.raises(LocalProtocolError, match="must be str or int"):
        Frame("SEND", [("k", value)])  # type: ignore[list-item]


def test_int_and_bool_values_converted() -> None:
    frame = Frame("SEND", {"n": 5, "t": True, "f": False})  # type: ignore[dict-item]
    assert frame.raw_headers == (("n", "5"), ("t", "true"), ("f", "false"))


def test_mapping_and_pairs_keep_order() -> None:
    assert Frame("SEND", {"b": "1", "a": "2"}).raw_headers == (("b", "1"), ("a", "2"))
    pairs = [("b", "1"), ("a", "2"), ("b", "3")]
    assert Frame("SEND", pairs).raw_headers == tuple(pairs)
    assert Frame("SEND", iter(pairs)).raw_headers == tuple(pairs)


def test_headers_mapping_first_wins_and_read_only() -> None:
    frame = Frame("SEND", [("k", "1"), ("k", "2")])
    assert frame.headers == {"k": "1"}
    assert frame.get("k") == "1"
    assert frame.get("missing") is None
    assert frame.get("missing", "d") == "d"
    with pytest.raises(TypeError):
        frame.headers["k"] = "x"  # type: ignore[index]


def test_equality() -> None:
    a = Frame("SEND", [("k", "v")], b"x")
    assert a == Frame("SEND", {"k": "v"}, b"x")
    assert a != Frame("SEND", [("k", "v")], b"y")
    assert a != Frame("SEND", [("k", "w")], b"x")
    assert a != Frame("MESSAGE", [("k", "v")], b"x")
    assert a != Frame("SEND", [("k", "v"), ("k", "v")], b"x")  # repeats count
    assert Frame("SEND", [("a", "1"), ("b", "2")]) != Frame("SEND", [("b", "2"), ("a", "1")])
    assert a != ("SEND", [("k", "v")], b"x")


def test_parsed_frame_equals_built_frame_and_hashes_alike() -> None:
    built = Frame("MESSAGE", [("k", "v"), ("j", "w")], b"x")
    (parsed,) = parse(b"MESSAGE\nk:v\nj:w\n\nx\0")
    assert parsed == built
    assert hash(parsed) == hash(built)
    assert len({parsed, built}) == 1


def test_hash_differs_for_different_frames() -> None:
    frames = {Frame("SEND", [("k", str(i))]) for i in range(50)}
    assert len(frames) == 50


def test_repr_redacts_secrets_and_truncates_body() -> None:
    frame = Frame(
        "CONNECT",
        [("login", "me"), ("passcode", "s3cret"), ("Authorization", "Bearer t0ken")],
    )
    text = repr(frame)
    assert "s3cret" not in text
    assert "t0ken" not in text
    assert "'me'" in text
    assert "***" in text
    long = Frame("SEND", body=b"A" * 1000 + b"SECRET-TAIL")
    text = repr(long)
    assert "SECRET-TAIL" not in text
    assert "..." in text
    assert "1011 bytes" in text
    assert len(text) < 200
    assert "..." not in repr(Frame("SEND", body=b"short"))


def test_redacted_headers() -> None:
    assert redacted_headers([("passcode", "x"), ("k", "v")]) == [("passcode", "***"), ("k", "v")]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(protocol: int) -> None:
    frame = Frame("MESSAGE", [("k", "1"), ("k", "2")], b"\0body")
    back = pickle.loads(pickle.dumps(frame, protocol))
    assert back == frame
    assert back.headers["k"] == "1"
    assert back.raw_headers == frame.raw_headers
    assert hash(back) == hash(frame)


def test_pickle_parsed_frame() -> None:
    (parsed,) = parse(b"MESSAGE\nk:v\n\nx\0")
    _ = parsed.headers  # a cached mapping must not break pickling
    assert pickle.loads(pickle.dumps(parsed)) == parsed


def test_copy() -> None:
    frame = Frame("SEND", [("k", "v")], b"x")
    assert copy.copy(frame) == frame
    assert copy.deepcopy(frame) == frame


def test_frames_are_slotted() -> None:
    frame = Frame("SEND")
    with pytest.raises(AttributeError):
        frame.extra = 1  # type: ignore[attr-defined]
