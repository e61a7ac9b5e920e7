"""Item 13: charset problems raise the library's own EncodingError (a ValueError), naming the
charset, before anything is queued; received bodies likewise."""

from __future__ import annotations

import pytest

from stomp_enterprise import EncodingError, StompError
from stomp_enterprise.client.message import decode_text, encode_text

BAD_CHARSETS = ["bogus", "rot13", "base64", "utf\x00"]


@pytest.mark.parametrize("charset", BAD_CHARSETS)
def test_unknown_charset_on_encode_is_an_encoding_error(charset) -> None:
    with pytest.raises(EncodingError, match="unknown charset") as info:
        encode_text("hello", f"text/plain;charset={charset}")
    assert info.value.charset == charset
    assert repr(charset) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, StompError)
    assert isinstance(info.value.__cause__, LookupError | ValueError)


def test_unencodable_text_names_charset_and_position_not_the_text() -> None:
    secret = "price: 100€ for TOPSECRET"
    with pytest.raises(EncodingError, match="'ascii'") as info:
        encode_text(secret, "text/plain; charset=ascii")
    assert "characters 10-10 of 25" in str(info.value)
    assert "TOPSECRET" not in str(info.value)
    assert isinstance(info.value.__cause__, UnicodeEncodeError)


def test_lone_surrogate_with_default_utf8_is_an_encoding_error() -> None:
    with pytest.raises(EncodingError, match="'utf-8'"):
        encode_text("a\ud800b", None)


@pytest.mark.parametrize("charset", BAD_CHARSETS)
def test_unknown_charset_on_decode_is_an_encoding_error(charset) -> None:
    with pytest.raises(EncodingError, match="unknown charset") as info:
        decode_text(b"hello", f"text/plain;charset={charset}")
    assert info.value.charset == charset


def test_undecodable_body_names_charset_and_position_not_the_body() -> None:
    with pytest.raises(EncodingError, match="cannot be decoded as 'utf-8'") as info:
        decode_text(b"TOPSECRET\xff", "text/plain")
    assert "bytes 9-9 of 10" in str(info.value)
    assert "TOPSECRET" not in str(info.value)
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_long_charset_is_shortened_in_the_message() -> None:
    with pytest.raises(EncodingError) as info:
        encode_text("x", "text/plain;charset=" + "x" * 500)
    assert len(str(info.value)) < 200
