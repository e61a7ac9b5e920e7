"""Frame serialization: version-correct escaping, content-length, and refusal of what a
version cannot express. Never lets a header value inject a header or end a frame."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import Any, Final, TypeAlias

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.constants import BODY_COMMANDS, COMMANDS, UNESCAPED_COMMANDS
from stomp_enterprise.protocol.escaping import escape

__all__ = [
    "SendFrame",
    "compile_send_head",
    "py_send_frame",
    "send_frame",
    "send_pieces",
    "send_template",
    "serialize",
]

_SPECIAL_CHARS: Final = ("\\", "\n", ":", "\r")
HEARTBEAT: Final = b"\n"
#: the C serializer's escaping mode per version (CONNECT/STOMP/CONNECTED: 0 in every version)
_MODES: Final = {"1.0": 0, "1.1": 1, "1.2": 2}

#: ``send_frame(head, lead, headers, body, content_length)``: see :func:`py_send_frame`;
#: ``head`` is what :data:`compile_send_head` made of the head (pieces for C, a template)
SendFrame: TypeAlias = Callable[
    [Any, tuple[str, ...], Mapping[str, str] | None, bytes, bool], bytes | None
]

_fast: Callable[[str, Sequence[Sequence[str]], bytes, int, bool], bytes | None] | None = None
_c_send_frame: SendFrame | None = None
if not os.environ.get("STOMP_ENTERPRISE_PURE_PYTHON"):
    try:  # the optional C accelerator (see _speedups.c): encodes the common frames
        from stomp_enterprise.protocol._speedups import send_frame as _c_send_frame
        from stomp_enterprise.protocol._speedups import serialize as _fast
    except ImportError:
        _fast = _c_send_frame = None

#: what stands for a value in the serialized head given to :data:`compile_send_head`
MARKER: Final = "\x02"


def send_pieces(head: str, count: int) -> tuple[bytes, ...] | None:
    """Cut the serialized head of a SEND (``SEND`` up to the last header line's LF, made by
    :func:`serialize` with :data:`MARKER` for each of ``count`` values) where the values go:
    what the C ``send_frame`` joins them into. None when the markers are not exactly the
    values (a name or fixed value holding the marker): such a head is not cached.
    Any thread (a pure function)."""
    pieces = head.split(MARKER)
    if len(pieces) != count + 1:
        return None
    return tuple(piece.encode() for piece in pieces)


def send_template(head: str, count: int) -> str | None:
    """:func:`send_pieces` for :func:`py_send_frame`: the head as a ``%``-template (one
    ``%s`` per value). Any thread (a pure function)."""
    pieces = head.split(MARKER)
    if len(pieces) != count + 1:
        return None
    return "%s".join(piece.replace("%", "%%") for piece in pieces)


def py_send_frame(
    template: str,
    lead: tuple[str, ...],
    headers: Mapping[str, str] | None,
    body: bytes,
    content_length: bool,
) -> bytes | None:
    """A whole SEND frame from a head made by :func:`send_template`: the values of ``lead``
    (the library's own headers: transaction, receipt) and then of ``headers``, in order,
    put in the template; then the ``content-length`` line when due (every non-empty body
    with ``content_length``, else one holding a NUL), the blank line, ``body`` and the NUL.

    None when the general path (:func:`serialize`, the definition) must decide: a value that
    is not a ``str``, that needs escaping in some version or refusing (a NUL, a lone
    surrogate), or a count of values that does not match the head. The C accelerator's
    ``send_frame`` does the same with :func:`send_pieces` in one call (differential tests
    hold them equal). Any thread (a pure function)."""
    if headers:
        values = (*lead, *headers.values()) if lead else tuple(headers.values())
    else:
        values = lead
    count = len(values)
    if count:
        try:
            joined = "\0".join(values)
        except TypeError:  # not a str: the general path converts or refuses it
            return None
        if (
            "\\" in joined
            or ":" in joined
            or "\n" in joined
            or "\r" in joined
            or joined.count("\0") != count - 1
        ):
            return None
    try:
        head = (template % values).encode()
    except UnicodeEncodeError:  # a lone surrogate: the general path refuses it
        return None
    except TypeError:  # not as many values as the head has places
        return None
    size = len(body)
    if size and (content_length or b"\0" in body):
        tail = _tails.get(size)
        if tail is None:
            tail = b"content-length:%d\n\n" % size
            if len(_tails) < 4096:  # bounded: sizes come from the application
                _tails[size] = tail
        return b"".join((head, tail, body, b"\0"))
    return b"".join((head, b"\n", body, b"\0"))


_tails: dict[int, bytes] = {}  # py_send_frame's content-length lines by body size


#: the C accelerator's ``send_frame`` when built, else :func:`py_send_frame`
send_frame: SendFrame = _c_send_frame if _c_send_frame is not None else py_send_frame
#: the head form :data:`send_frame` takes: :func:`send_pieces` or :func:`send_template`
compile_send_head: Callable[[str, int], Any] = (
    send_pieces if _c_send_frame is not None else send_template
)


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
