"""Frame serialization: version-correct escaping, content-length, and refusal of what a
version cannot express. Never lets a header value inject a header or end a frame."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Final

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.constants import BODY_COMMANDS, COMMANDS, UNESCAPED_COMMANDS
from stomp_enterprise.protocol.escaping import escape

__all__ = ["serialize"]

_SPECIAL_CHARS: Final = ("\\", "\n", ":", "\r")
HEARTBEAT: Final = b"\n"
#: the C serializer's escaping mode per version (CONNECT/STOMP/CONNECTED: 0 in every version)
_MODES: Final = {"1.0": 0, "1.1": 1, "1.2": 2}

_fast: Callable[[str, Sequence[Sequence[str]], bytes, int, bool], bytes | None] | None = None
if not os.environ.get("STOMP_ENTERPRISE_PURE_PYTHON"):
    try:  # the optional C accelerator (see _speedups.c): encodes the common frames
        from stomp_enterprise.protocol._speedups import serialize as _fast
    except ImportError:
        _fast = None


def _first_value(text: str, name: str) -> str | None:
    """The value of the first ``name`` line in the (escaped) header ``text``. Raw colons there
    are name separators only, so ``name:`` at a line start is that header."""
    key = name + ":"
    at = text.find(key)
    while at > 0 and text[at - 1] != "\n":  # the end of a longer name: look further
        at = text.find(key, at + 1)
    if at < 0:
        return None
    start = at + len(key)
    stop = text.find("\n", start)
    return text[start:] if stop < 0 else text[start:stop]


def _refuse_nul(flat: Sequence[str]) -> None:
    """Raise for the first header holding a NUL, which no version can carry in a header (a
    broker that ends frames at a NUL would read the rest as a new frame). Names the header,
    never its value (a value may be a secret)."""
    for i in range(0, len(flat), 2):
        name, value = flat[i], flat[i + 1]
        if "\0" in name:
            raise LocalProtocolError(f"header name {name!r} contains a NUL character")
        if "\0" in value:
            raise LocalProtocolError(
                f"header {name!r} value contains a NUL character, which no STOMP version "
                "can carry in a header"
            )


def _escaped_lines(pairs: Sequence[Sequence[str]], version: str, raw: bool) -> str:
    """The header lines, item by item (unusual input, or CONNECT/1.0 frames that are never
    escaped but may need refusing). ``raw``: a CONNECT/STOMP/CONNECTED frame."""
    flat = list(chain.from_iterable(pairs))
    if len(flat) != 2 * len(pairs):
        raise LocalProtocolError("every header must be a (name, value) pair")
    if "\0" in "".join(flat):
        _refuse_nul(flat)
    names = [escape(item, version, name=True, raw=raw) for item in flat[::2]]
    values = [
        escape(value, version, name=False, raw=raw, header=header)
        for header, value in zip(flat[::2], flat[1::2], strict=True)
    ]
    return "\n".join(map(":".join, zip(names, values, strict=True)))


def serialize(
    command: str,
    headers: Iterable[Sequence[str]],
    body: bytes = b"",
    version: str = "1.2",
    *,
    content_length: bool = True,
) -> bytes:
    """Encode one frame for the wire.

    Any thread (a pure function).

    Args:
        command: the STOMP command.
        headers: ``(name, value)`` pairs in the order to send them.
        body: the body; only SEND, MESSAGE and ERROR may have one.
        version: the negotiated version ("1.0", "1.1", "1.2"); selects the escaping.
        content_length: add a ``content-length`` header to every non-empty body. When False it
            is still added when the body contains a NUL (the frame could not be parsed otherwise).

    Raises:
        LocalProtocolError: unknown command, a body on a frame that may not have one, a header
            the version cannot express (a NUL in any version), or a ``content-length`` header
            that disagrees with the body.
    """
    if body:
        if command not in BODY_COMMANDS:
            raise LocalProtocolError(
                f"a {command} frame may not have a body"
                if command in COMMANDS
                else f"unknown STOMP command {command!r}"
            )
    elif command not in COMMANDS:
        raise LocalProtocolError(f"unknown STOMP command {command!r}")
    pairs = headers if type(headers) is list else list(headers)
    if _fast is not None and type(body) is bytes:
        mode = 0 if command in UNESCAPED_COMMANDS else _MODES.get(version, -1)
        if mode >= 0:
            data = _fast(command, pairs, body, mode, content_length)
            if data is not None:
                return data
    count = len(pairs)
    try:
        # One C-level join: \x01 after each name, NUL after each value. The counts prove that
        # no item held a separator (a NUL included: refused on the item-by-item path) and
        # every pair had two items.
        blob = "\0".join(map("\x01".join, pairs))
    except TypeError:  # an item that is not a str
        raise LocalProtocolError("header names and values must be str") from None
    raw = command in UNESCAPED_COMMANDS or version == "1.0"
    special = "\\" in blob or ":" in blob or "\n" in blob or "\r" in blob
    if (
        (count and (blob.count("\x01") != count or blob.count("\0") != count - 1))
        or (raw and special)
        or (special and version == "1.1" and "\r" in blob)
    ):
        # unusual input, or refuse what the version can't say (naming that one item)
        text = _escaped_lines(pairs, version, command in UNESCAPED_COMMANDS)
    else:
        if special:
            blob = blob.replace("\\", "\\\\").replace("\n", "\\n").replace(":", "\\c")
            if version == "1.2":
                blob = blob.replace("\r", "\\r")
        text = blob.replace("\x01", ":").replace("\0", "\n")
    # names are escaped now, so a line starting with ":" is an empty name
    if text[:1] == ":" or "\n:" in text:
        raise LocalProtocolError("empty header name")
    declared = _first_value(text, "content-length")
    size = len(body)
    if declared is not None:
        if declared != str(size):
            raise LocalProtocolError(
                f"content-length header {declared!r} disagrees with the body length {size}"
            )
    elif size and (content_length or b"\0" in body):
        text = f"{text}\ncontent-length:{size}" if text else f"content-length:{size}"
    try:
        head = (f"{command}\n{text}\n\n" if text else f"{command}\n\n").encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: not expressible in UTF-8
        raise LocalProtocolError(
            f"a header contains {exc.object[exc.start : exc.end]!r}, which UTF-8 cannot encode"
        ) from None
    if body:
        return b"".join((head, body, b"\0"))
    return head + b"\0"
