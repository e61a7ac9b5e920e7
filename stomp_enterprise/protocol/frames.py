"""The generic :class:`Frame` every layer exchanges.

A frame keeps its headers in wire order (``raw_headers``); ``headers`` is a read-only mapping
where, as the spec says, the FIRST occurrence of a repeated header wins. The parser builds
frames through a fast path that skips validation; user-built frames are checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.serializer import serialize

__all__ = ["Frame", "HeaderInput", "redacted_headers"]

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]

_SECRET_HEADERS = frozenset({"passcode", "password", "authorization", "token"})
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
            raise LocalProtocolError(
                f"a header must be a (name, value) pair, got {item!r}"
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


def redacted_headers(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs with secrets (``passcode`` and the like) replaced by ``'***'``."""
    return [(k, "***" if k.lower() in _SECRET_HEADERS else v) for k, v in pairs]


class Frame:
    """One STOMP frame.

    Args:
        command: the STOMP command, e.g. ``"SEND"``.
        headers: a mapping or ``(name, value)`` pairs, kept in the given order.
        body: the body bytes (``bytearray``/``memoryview`` are copied to ``bytes``).

    Frames are immutable values; compare with ``==``. Safe to share between threads.
    """

    __slots__ = ("_headers", "_pairs", "body", "command")

    command: str
    body: bytes
    _pairs: Sequence[Sequence[str]]  # (name, value) pairs; lists when built by the parser
    _headers: MappingProxyType[str, str] | None

    def __init__(self, command: str, headers: HeaderInput = (), body: bytes = b"") -> None:
        if not isinstance(command, str):
            raise LocalProtocolError(f"command must be str, got {type(command).__name__}")
        if isinstance(body, bytearray | memoryview):
            body = bytes(body)
        elif not isinstance(body, bytes):
            raise LocalProtocolError(f"body must be bytes, got {type(body).__name__}")
        self.command = command
        self._pairs = _pairs(headers)
        self.body = body
        self._headers = None

    @classmethod
    def _wire(cls, command: str, pairs: Sequence[Sequence[str]], body: bytes) -> Frame:
        """Fast constructor for the parser: no validation, ``pairs`` is owned by the frame."""
        frame = object.__new__(cls)
        frame.command = command
        frame._pairs = pairs
        frame.body = body
        frame._headers = None
        return frame

    @property
    def headers(self) -> Mapping[str, str]:
        """Read-only mapping of the headers; for a repeated header the first occurrence wins."""
        headers = self._headers
        if headers is None:
            first: dict[str, str] = dict(self._pairs)  # type: ignore[arg-type]
            if len(first) != len(self._pairs):  # a repeated header: the first one wins
                first = {}
                for name, value in self._pairs:
                    first.setdefault(name, value)
            headers = self._headers = MappingProxyType(first)
        return headers

    @property
    def raw_headers(self) -> tuple[tuple[str, str], ...]:
        """Every header pair in wire order, repeats included."""
        return tuple((name, value) for name, value in self._pairs)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (without building the mapping)."""
        for key, value in self._pairs:
            if key == name:
                return value
        return default

    def to_bytes(self, version: str = "1.2", *, content_length: bool = True) -> bytes:
        """Serialize for ``version``; see :func:`stomp_enterprise.protocol.serializer.serialize`."""
        return serialize(
            self.command, self._pairs, self.body, version, content_length=content_length
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return (
            self.command == other.command
            and self.raw_headers == other.raw_headers
            and self.body == other.body
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
        self._headers = None
