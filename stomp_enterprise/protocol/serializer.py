"""Frame serialization: version-correct escaping, content-length, and refusal of what a
version cannot express. Never lets a header value inject a header or end a frame."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from stomp_enterprise.errors import LocalProtocolError
from stomp_enterprise.protocol.constants import BODY_COMMANDS, COMMANDS, UNESCAPED_COMMANDS
from stomp_enterprise.protocol.escaping import escape

__all__ = ["serialize"]

_SPECIAL_CHARS: Final = ("\\", "\n", ":", "\r")
HEARTBEAT: Final = b"\n"


def _clean(text: str) -> bool:
    return not ("\\" in text or "\n" in text or ":" in text or "\r" in text)


def serialize(
    command: str,
    headers: Iterable[Sequence[str]],
    body: bytes = b"",
    version: str = "1.2",
    *,
    content_length: bool = True,
) -> bytes:
    """Encode one frame for the wire.

    Args:
        command: the STOMP command.
        headers: ``(name, value)`` pairs in the order to send them.
        body: the body; only SEND, MESSAGE and ERROR may have one.
        version: the negotiated version ("1.0", "1.1", "1.2"); selects the escaping.
        content_length: add a ``content-length`` header to every non-empty body. When False it
            is still added when the body contains a NUL (the frame could not be parsed otherwise).

    Raises:
        LocalProtocolError: unknown command, a body on a frame that may not have one, a header
            the version cannot express, or a ``content-length`` header that disagrees with the body.
    """
    if command not in COMMANDS:
        raise LocalProtocolError(f"unknown STOMP command {command!r}")
    if body and command not in BODY_COMMANDS:
        raise LocalProtocolError(f"a {command} frame may not have a body")
    raw = command in UNESCAPED_COMMANDS or version == "1.0"
    lines = [command]
    declared: str | None = None
    for name, value in headers:
        if name == "content-length" and declared is None:
            declared = value
        if raw or not (_clean(name) and _clean(value)):
            name = escape(name, version, name=True, raw=raw)
            value = escape(value, version, name=False, raw=raw)
        if not name:
            raise LocalProtocolError("empty header name")
        lines.append(f"{name}:{value}")
    size = len(body)
    if declared is not None:
        if declared != str(size):
            raise LocalProtocolError(
                f"content-length header {declared!r} disagrees with the body length {size}"
            )
    elif size and (content_length or b"\0" in body):
        lines.append(f"content-length:{size}")
    lines.append("\n")
    try:
        head = "\n".join(lines).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: not expressible in UTF-8
        raise LocalProtocolError(
            f"a header contains {exc.object[exc.start : exc.end]!r}, which UTF-8 cannot encode"
        ) from None
    if body:
        return b"".join((head, body, b"\0"))
    return head + b"\0"
