"""The generic :class:`Frame` every layer exchanges.

A frame keeps its headers in wire order (``raw_headers``); ``headers`` is a read-only mapping
where, as the spec says, the FIRST occurrence of a repeated header wins. The parser builds
frames through a fast path that skips validation; user-built frames are checked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from types import MappingProxyType
from typing import Any

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.escaping import unescape
from stomp_enterprise.protocol.serializer import serialize

__all__ = ["Frame", "HeaderInput", "is_secret_header", "redacted_headers"]

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]

#: A header whose (lower-case) name contains one of these is redacted in reprs and logs:
#: ``passcode``, ``password``, ``Authorization``, ``Proxy-Authorization``, ``x-api-key``,
#: ``access-token``, ``client-secret``, ``cookie``...
_SECRET_PARTS = ("pass", "auth", "token", "secret", "api-key", "apikey", "cookie", "credential")
_REPR_BODY = 48


def _pairs(headers: HeaderInput) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs: list[tuple[str, str]] = []
    for item in items:
        try:
            if isinstance(item, str | bytes):  # "ab" would unpack as ("a", "b")
                raise TypeError
            name, value = item
        except (TypeError, ValueError):
            size = len(item) if isinstance(item, tuple | list) else None  # never the values
            raise LocalProtocolError(
                f"a header must be a (name, value) pair, got a {type(item).__name__}"
                + (f" of {size} items" if size is not None else "")
            ) from None
        if not isinstance(name, str):
            raise LocalProtocolError(f"header name must be str, got {type(name).__name__}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int):
            value = str(value)
        elif not isinstance(value, str):
            raise LocalProtocolError(
                f"header {name!r} value must be str or int, got {type(value).__name__}"
            )
        pairs.append((name, value))
    return pairs


def _all_str(headers: dict[Any, Any]) -> bool:
    """True when every name and value is a str (``str.join`` type-checks in C)."""
    try:
        "".join(headers)
        "".join(headers.values())
    except TypeError:
        return False
    return True


def redacted_headers(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs with secrets (``passcode`` and the like) replaced by ``'***'``."""
    return [(k, "***" if is_secret_header(k) else v) for k, v in pairs]


def is_secret_header(name: str) -> bool:
    """True for a header that may carry a secret (see ``_SECRET_PARTS``); such values are never
    shown in a repr, a log line or an error message."""
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_PARTS)


class Frame:
    """One STOMP frame.

    Args:
        command: the STOMP command, e.g. ``"SEND"``.
        headers: a mapping or ``(name, value)`` pairs, kept in the given order.
        body: the body bytes (``bytearray``/``memoryview`` are copied to ``bytes``).

    Frames are immutable values; compare with ``==``. Safe to share between threads.

    Frames from the parser decode their headers lazily: the parser validates the header block
    (UTF-8, one colon per line, escapes) and keeps its text; :meth:`get` finds one header in
    it without splitting the rest, and the pairs are built on the first full access.
    """

    __slots__ = ("_escaped", "_head", "_headers", "_pairs", "body", "command")

    command: str
    body: bytes
    _pairs: Sequence[Sequence[str]] | None  # (name, value); lists when built from _head
    _head: str | None  # the parser's validated header lines, still escaped
    _escaped: str | None  # the version whose unescaping _head needs, or None
    _headers: MappingProxyType[str, str] | None

    def __init__(self, command: str, headers: HeaderInput = (), body: bytes = b"") -> None:
        if type(command) is not str and not isinstance(command, str):
            raise LocalProtocolError(f"command must be str, got {type(command).__name__}")
        if type(body) is not bytes:
            if isinstance(body, bytearray | memoryview):
                body = bytes(body)
            elif not isinstance(body, bytes):
                raise LocalProtocolError(f"body must be bytes, got {type(body).__name__}")
        self.command = command
        self.body = body
        self._head = self._escaped = self._headers = None
        if type(headers) is dict and _all_str(headers):  # the common case, checked in C
            self._pairs = list(headers.items())
        else:
            self._pairs = _pairs(headers)

    @classmethod
    def _wire(cls, command: str, pairs: Sequence[Sequence[str]], body: bytes) -> Frame:
        """Fast constructor for library code: no validation, ``pairs`` is owned by the frame."""
        frame = object.__new__(cls)
        frame.command = command
        frame._pairs = pairs
        frame.body = body
        frame._head = frame._escaped = None
        frame._headers = None
        return frame

    @classmethod
    def _parsed(cls, command: str, head: str, escaped: str | None, body: bytes) -> Frame:
        """Constructor for the parser: ``head`` is the validated header block (lines joined
        by LF, no command line); ``escaped`` the version to unescape it with, if needed."""
        frame = object.__new__(cls)
        frame.command = command
        frame._pairs = None
        frame._head = head
        frame._escaped = escaped
        frame.body = body
        frame._headers = None
        return frame

    def _load(self) -> Sequence[Sequence[str]]:
        pairs = self._pairs
        if pairs is None:
            head = self._head
            pairs = [line.split(":", 1) for line in head.split("\n")] if head else []
            version = self._escaped
            if version is not None:
                pairs = [
                    [
                        unescape(n, version) if "\\" in n else n,
                        unescape(v, version) if "\\" in v else v,
                    ]
                    for n, v in pairs
                ]
            self._pairs = pairs
        return pairs

    @property
    def headers(self) -> Mapping[str, str]:
        """Read-only mapping of the headers; for a repeated header the first occurrence wins."""
        headers = self._headers
        if headers is None:
            head = self._head
            if self._pairs is None and head:
                version = self._escaped
                if _c_headers is not None:  # the optional C accelerator: one pass
                    built = _c_headers(head, 0 if version is None else _UNESCAPE_MODES[version])
                    if built is not None:
                        self._headers = built
                        return built
                # C-level passes from the text to the dict
                count = head.count("\n") + 1
                if version is None or "\\" not in head:
                    parts = head.replace("\n", ":").split(":")
                else:
                    # the separators become NULs first, so the colons \c decodes to stay in
                    # their name or value; a backslash left means other escapes: see below
                    text = head.replace(":", "\0").replace("\\c", ":")
                    parts = [] if "\\" in text else text.replace("\n", "\0").split("\0")
                # every line has a colon (the parser checked), so as many colons (and NULs)
                # as lines means one colon a line: names and values alternate
                if len(parts) == 2 * count:
                    pairs_of = iter(parts)
                    first: dict[str, str] = dict(zip(pairs_of, pairs_of, strict=True))
                    if len(first) == count:  # else a repeated header: see below
                        headers = self._headers = MappingProxyType(first)
                        return headers
                # colons in values, or escapes other than \c: one split a line, the values
                # of all headers decoded in one call
                lines = head.split("\n")
                first = dict(map(_split, lines, _COLONS, _ONES))
                names = list(first)
                values = list(first.values())
                if len(names) == count and (
                    version is None or "\\" not in head or "\\" not in "".join(names)
                ):  # else a repeated header, or a name with an escape: see below
                    if version is not None and "\\" in head:
                        values = unescape("\0".join(values), version).split("\0")
                    if len(values) == count:  # else a value held a NUL
                        first = dict(zip(names, values, strict=True))
                        if len(first) == count:  # else a repeated header: see below
                            headers = self._headers = MappingProxyType(first)
                            return headers
            pairs = self._load()
            first = dict(pairs)  # type: ignore[arg-type]
            if len(first) != len(pairs):  # a repeated header: the first one wins
                first = {}
                for name, value in pairs:
                    first.setdefault(name, value)
            headers = self._headers = MappingProxyType(first)
        return headers

    @property
    def raw_headers(self) -> tuple[tuple[str, str], ...]:
        """Every header pair in wire order, repeats included."""
        return tuple((name, value) for name, value in self._load())

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name``, without building the mapping (and, for a
        parsed frame, without splitting the other headers). Any thread (frames are immutable)."""
        headers = self._headers
        if headers is not None:
            return headers.get(name, default)
        head = self._head
        if self._pairs is None and head is not None:
            keys = _SEARCH_KEYS.get(name) or _search_keys(name)
            if keys is not None:
                value = _find_raw(head, keys)
                if value is None:
                    return default
                if "\\" in value and self._escaped is not None:
                    plain = value.replace("\\c", ":")
                    value = plain if "\\" not in plain else unescape(value, self._escaped)
                return value
        for key, value in self._load():
            if key == name:
                return value
        return default

    def wire_value(self, name: str) -> str | None:
        """For a parsed frame: the first value of ``name`` exactly as received, still
        escaped (so it can be echoed in the same version without decoding and re-encoding).
        ``None`` when absent, or for a frame that did not come from the parser.
        Any thread (frames are immutable)."""
        head = self._head
        if head is None:
            return None
        keys = _SEARCH_KEYS.get(name) or _search_keys(name)
        return None if keys is None else _find_raw(head, keys)

    def to_bytes(self, version: str = "1.2", *, content_length: bool = True) -> bytes:
        """Serialize for ``version``; see :func:`stomp_enterprise.protocol.serializer.serialize`.

        Any thread (frames are immutable).
        """
        return serialize(
            self.command, self._load(), self.body, version, content_length=content_length
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return (
            self.command == other.command
            and self.body == other.body
            and self.raw_headers == other.raw_headers
        )

    def __hash__(self) -> int:
        return hash((self.command, self.raw_headers, self.body))

    def __repr__(self) -> str:
        body = self.body
        shown = repr(body[:_REPR_BODY]) + ("..." if len(body) > _REPR_BODY else "")
        return (
            f"Frame({self.command!r}, {redacted_headers(self.raw_headers)!r}, "
            f"body={shown} ({len(body)} bytes))"
        )

    def __getstate__(self) -> Any:
        return (self.command, self.raw_headers, self.body)

    def __setstate__(self, state: Any) -> None:
        self.command, self._pairs, self.body = state
        self._head = self._escaped = None
        self._headers = None


_SEARCH_KEYS: dict[str, tuple[str, str]] = {}
_UNESCAPE_MODES = {"1.0": 0, "1.1": 1, "1.2": 2}
_c_headers: Callable[[str, int], MappingProxyType[str, str] | None] | None = None
if not os.environ.get("STOMP_ENTERPRISE_PURE_PYTHON"):
    try:  # the optional C accelerator (see _speedups.c): builds a parsed frame's mapping
        from stomp_enterprise.protocol._speedups import headers as _c_headers
    except ImportError:
        _c_headers = None
_split = str.split
_COLONS = repeat(":")
_ONES = repeat(1)


def _find_raw(head: str, keys: tuple[str, str]) -> str | None:
    """The raw (escaped) value of the first header line starting with ``keys``' name."""
    first, later = keys
    if head.startswith(first):
        start = len(first)
    else:
        start = head.find(later)
        if start < 0:
            return None
        start += len(later)
    stop = head.find("\n", start)
    return head[start:] if stop < 0 else head[start:stop]


def _search_keys(name: str) -> tuple[str, str] | None:
    """``(name + ":", "\\n" + name + ":")`` for a name :meth:`Frame.get` can search for in
    the raw header text (no character that escaping or line splitting touches), cached."""
    if not name or "\\" in name or ":" in name or "\n" in name or "\r" in name:
        return None
    keys = (name + ":", "\n" + name + ":")
    if len(_SEARCH_KEYS) < 1024:  # bounded: names come from application code
        _SEARCH_KEYS[name] = keys
    return keys
