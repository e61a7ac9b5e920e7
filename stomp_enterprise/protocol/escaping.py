"""Header escaping, per STOMP version, in one place.

* 1.0: no escaping. A header that contains a line feed (or a carriage return) cannot be
  expressed and is refused; so is a colon in a header *name*.
* 1.1: ``\\n`` ``\\c`` ``\\\\``. A raw carriage return cannot be expressed and is refused.
* 1.2: 1.1 plus ``\\r``.

CONNECT, STOMP and CONNECTED frames are never escaped (the spec keeps them readable by 1.0
peers), so for them the 1.0 rules apply whatever the version. Decoding is one pass and an
undefined escape sequence is a fatal protocol error in 1.1 and 1.2.
"""

from __future__ import annotations

import re
from typing import Final

from stomp_enterprise.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["escape", "needs_escape", "unescape"]

_ENCODE_11: Final = str.maketrans({"\\": "\\\\", "\n": "\\n", ":": "\\c"})
_ENCODE_12: Final = str.maketrans({"\\": "\\\\", "\n": "\\n", ":": "\\c", "\r": "\\r"})
_SPECIAL: Final = re.compile(r"[\\\n:\r]")


def needs_escape(text: str) -> bool:
    """True when ``text`` contains a character that 1.1/1.2 escaping changes."""
    return _SPECIAL.search(text) is not None


def escape(
    text: str, version: str, *, name: bool, raw: bool = False, header: str | None = None
) -> str:
    """Escape one header name or value for ``version``.

    Error text names the header but never quotes a value (it may be a passcode or a token).

    Args:
        text: the name or value.
        version: "1.0", "1.1" or "1.2".
        name: True for a header name (a colon is then never allowed unescaped).
        raw: True for CONNECT/STOMP/CONNECTED frames, which are never escaped.
        header: for a value, the name of its header (named in error text).

    Raises:
        LocalProtocolError: the text cannot be expressed in this version (it would let a value
            inject a header or end the frame).
    """
    if raw or version == "1.0":
        if "\n" in text or "\r" in text:
            raise LocalProtocolError(
                f"{_what(text, name, header)} contains a line break, " + _RULE[raw]
            )
        if name and ":" in text:
            raise LocalProtocolError(f"header name {text!r} contains ':' which cannot be expressed")
        return text
    if version == "1.2":
        return text.translate(_ENCODE_12)
    if "\r" in text:
        raise LocalProtocolError(
            f"{_what(text, name, header)} contains a carriage return, which STOMP 1.1 cannot "
            "express (use 1.2)"
        )
    return text.translate(_ENCODE_11)


_RULE: Final = {
    True: "and CONNECT, STOMP and CONNECTED headers are never escaped in any STOMP version",
    False: "which STOMP 1.0 cannot express (1.1 and 1.2 escape it)",
}


def _what(text: str, name: bool, header: str | None) -> str:
    """How error text refers to a header name (quoted) or value (never quoted)."""
    if name:
        return f"header name {text!r}"
    return f"the value of header {header!r}" if header is not None else "a header value"


def unescape(text: str, version: str) -> str:
    """Decode the escape sequences of one received header name or value (1.1/1.2).

    One pass in effect: the text is split at escaped backslashes first, so every backslash left
    in a piece starts an escape of its own and ``\\\\c`` decodes to ``\\c``, never ``:``.

    Raises:
        RemoteProtocolError: an undefined escape sequence (including a trailing backslash).
    """
    if "\\" not in text:
        return text
    plain = text.replace("\\c", ":")  # usually the only escape (colons in ids and URLs)
    if "\\" not in plain:  # every backslash began a \\c, none was an escaped backslash
        return plain
    pieces = text.split("\\\\")
    for i, piece in enumerate(pieces):
        if "\\" in piece:
            piece = piece.replace("\\c", ":").replace("\\n", "\n")
            if version == "1.2":
                piece = piece.replace("\\r", "\r")
            if "\\" in piece:
                bad = piece[piece.index("\\") : piece.index("\\") + 2]
                raise RemoteProtocolError(
                    f"undefined escape sequence {bad!r} in header {text!r} (STOMP {version})"
                )
            pieces[i] = piece
    return "\\".join(pieces)
