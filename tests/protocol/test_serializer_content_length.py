"""The declared content-length is found by header name, never inside a longer name."""

from __future__ import annotations

import pytest

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol import FrameParser, serialize


def test_a_longer_name_ending_in_content_length_is_not_the_declaration() -> None:
    data = serialize("SEND", [("destination", "/q"), ("x-content-length", "99")], b"abc")
    frame = FrameParser().feed(data)[0]
    assert frame.body == b"abc"
    assert frame.headers["content-length"] == "3"
    assert frame.headers["x-content-length"] == "99"


def test_the_first_declaration_wins_and_must_match() -> None:
    ok = serialize("SEND", [("x-content-length", "7"), ("content-length", "3")], b"abc")
    assert b"content-length:3\n" in ok
    assert ok.count(b"content-length:3") == 1
    with pytest.raises(LocalProtocolError, match="disagrees"):
        serialize("SEND", [("content-length", "4"), ("content-length", "3")], b"abc")
