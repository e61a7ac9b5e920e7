"""escape / unescape: the per-version rules in one place."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stomp_enterprise.errors import LocalProtocolError, RemoteProtocolError
from stomp_enterprise.protocol.escaping import escape, needs_escape, unescape


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a:b", "a\\cb"), ("a\nb", "a\\nb"), ("a\\b", "a\\\\b"), ("\\c", "\\\\c"), ("", "")],
)
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_escape(version: str, text: str, expected: str) -> None:
    assert escape(text, version, name=False) == expected
    assert escape(text, version, name=True) == expected


def test_escape_cr_1_2() -> None:
    assert escape("a\rb", "1.2", name=False) == "a\\rb"


def test_escape_cr_refused_1_1() -> None:
    with pytest.raises(LocalProtocolError, match="carriage return"):
        escape("a\rb", "1.1", name=False)


def test_escape_1_0() -> None:
    assert escape("a:b\\c", "1.0", name=False) == "a:b\\c"
    with pytest.raises(LocalProtocolError, match="':'"):
        escape("a:b", "1.0", name=True)
    for text in ("a\nb", "a\rb"):
        with pytest.raises(LocalProtocolError, match="line break"):
            escape(text, "1.0", name=False)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_escape_raw(version: str) -> None:
    assert escape("a:b\\c", version, name=False, raw=True) == "a:b\\c"
    with pytest.raises(LocalProtocolError, match="line break"):
        escape("a\nb", version, name=False, raw=True)
    with pytest.raises(LocalProtocolError, match="':'"):
        escape("a:b", version, name=True, raw=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\\cb", "a:b"),
        ("a\\nb", "a\nb"),
        ("a\\\\b", "a\\b"),
        ("\\\\c", "\\c"),  # one pass: never ':'
        ("\\\\n", "\\n"),
        ("\\\\\\\\", "\\\\"),
        ("\\\\\\c", "\\:"),
        ("plain", "plain"),
        ("", ""),
    ],
)
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_unescape(version: str, text: str, expected: str) -> None:
    assert unescape(text, version) == expected


def test_unescape_cr_only_in_1_2() -> None:
    assert unescape("a\\rb", "1.2") == "a\rb"
    with pytest.raises(RemoteProtocolError, match="undefined escape"):
        unescape("a\\rb", "1.1")


@pytest.mark.parametrize("text", ["\\t", "a\\", "\\\\\\", "\\x", "\\C", "\\N", "\\ "])
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_unescape_undefined(version: str, text: str) -> None:
    with pytest.raises(RemoteProtocolError, match="undefined escape"):
        unescape(text, version)


def test_needs_escape() -> None:
    assert not needs_escape("plain value")
    for char in "\\\n:\r":
        assert needs_escape(f"a{char}b")


@given(text=st.text(), version=st.sampled_from(["1.1", "1.2"]))
def test_escape_unescape_round_trip(text: str, version: str) -> None:
    try:
        escaped = escape(text, version, name=False)
    except LocalProtocolError:
        assert version == "1.1"
        assert "\r" in text
        return
    assert "\n" not in escaped
    assert ":" not in escaped
    assert "\r" not in escaped
    assert unescape(escaped, version) == text
