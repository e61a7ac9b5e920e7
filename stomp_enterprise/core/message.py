"""The non-I/O part of a received message, and text encoding by the content type's charset.

Both shells subclass :class:`MessageBase`: the threaded client's
:class:`~stomp_enterprise.Message` adds blocking ``ack()``/``nack()``, the asyncio client's
:class:`~stomp_enterprise.aio.Message` awaitable ones. Everything here may be used from any
thread or task: it only reads the frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stomp_enterprise.core.codecs import Codec, encode_payload
from stomp_enterprise.core.options import MessageFields
from stomp_enterprise.errors import EncodingError
from stomp_enterprise.protocol.frames import Frame

__all__ = [
    "Body",
    "MessageBase",
    "charset_of",
    "decode_text",
    "encode_body",
    "encode_text",
]

#: What ``send()`` accepts as a body in both clients.
Body = bytes | bytearray | memoryview | str

_CHARSETS: dict[str, str] = {}
_TEXT_DEFAULT = "text/plain;charset=utf-8"


def charset_of(content_type: str | None, default: str = "utf-8") -> str:
    """The ``charset`` parameter of a ``content-type`` value (``default`` when absent)."""
    if content_type and default == "utf-8":  # the common call: remembered per content type
        charset = _CHARSETS.get(content_type)
        if charset is None:
            charset = _charset_of(content_type, default)
            if len(_CHARSETS) < 256:  # bounded: content types come from the broker
                _CHARSETS[content_type] = charset
        return charset
    return _charset_of(content_type, default)


def _charset_of(content_type: str | None, default: str) -> str:
    if content_type:
        for param in content_type.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
    return default


def _codec_error(exc: Exception, charset: str, verb: str, unit: str, size: int) -> EncodingError:
    """The library's error for a codec failure: names the charset and position, never the data."""
    shown = repr(charset if len(charset) <= 40 else charset[:40] + "...")
    if isinstance(exc, UnicodeEncodeError | UnicodeDecodeError):
        message = (
            f"the body cannot be {verb} as {shown}: {exc.reason} "
            f"({unit} {exc.start}-{exc.end - 1} of {size})"
        )
    else:
        message = f"unknown charset {shown} in content-type (not a text encoding)"
    return EncodingError(message, charset=charset)


def encode_text(text: str, content_type: str | None) -> bytes:
    """``text`` encoded with the charset of ``content_type`` (UTF-8 when none is given).

    Any thread.

    Raises:
        EncodingError: the charset is unknown (or not a text codec), or cannot encode ``text``;
            the message names the charset and the position, never the text itself.
    """
    charset = charset_of(content_type)
    try:
        return text.encode(charset)
    except (LookupError, ValueError) as exc:  # ValueError: UnicodeEncodeError, NUL in the name
        raise _codec_error(exc, charset, "encoded", "characters", len(text)) from exc


def decode_text(body: bytes, content_type: str | None) -> str:
    """``body`` decoded with the charset of ``content_type`` (UTF-8 when none is given).

    Any thread.

    Raises:
        EncodingError: the charset is unknown (or not a text codec), or ``body`` is not text in
            it; the message names the charset and the byte position, never the body.
    """
    charset = charset_of(content_type)
    try:
        return body.decode(charset)
    except (LookupError, ValueError) as exc:
        raise _codec_error(exc, charset, "decoded", "bytes", len(body)) from exc


def encode_body(
    body: Any, content_type: str | None, codec: Codec | None = None
) -> tuple[bytes, str | None]:
    """A ``send()`` body as bytes, and the content type to send with it: a ``str`` is encoded
    with the charset of ``content_type`` (UTF-8 and ``text/plain;charset=utf-8`` when none is
    given); any other object is a typed payload that ``codec`` (JSON by default: pydantic
    models, dataclasses, dicts, lists, tuples) encodes, with its content type unless
    ``content_type`` is given. Any thread.

    Raises:
        ConfigError: no ``codec`` and a body that is neither bytes-like, ``str`` nor a
            structured payload.
        EncodingError: see :func:`encode_text`.
        PayloadError: the codec cannot encode the body.
    """
    if codec is None:
        if isinstance(body, bytes):
            return body, content_type
        if isinstance(body, str):
            if content_type is None:
                return encode_text(body, None), _TEXT_DEFAULT
            return encode_text(body, content_type), content_type
        if isinstance(body, bytearray | memoryview):
            return bytes(body), content_type
    payload, written = encode_payload(body, codec)
    return payload, content_type or written


class MessageBase(MessageFields):
    """A MESSAGE delivered to a subscription: its frame, the subscription it came through,
    and the connection it arrived on (acks must go there). Read-only views of the frame,
    the typed message options and the typed payload (``model``) from
    :class:`~stomp_enterprise.core.options.MessageFields`; each shell adds its own
    ``ack()``/``nack()``."""

    __slots__ = ("_connection", "frame", "subscription")

    subscription: Any  # each shell's Subscription (a PayloadSpec: model and codec)

    def __init__(self, frame: Frame, subscription: Any, connection: Any) -> None:
        self.frame = frame
        self.subscription = subscription
        self._connection = connection

    @property
    def body(self) -> bytes:
        """The body, exactly as received."""
        return self.frame.body

    @property
    def headers(self) -> Mapping[str, str]:
        """Read-only headers (the first of a repeated header wins)."""
        return self.frame.headers

    @property
    def text(self) -> str:
        """The body decoded with the ``content-type`` charset (UTF-8 when none is given).

        Any thread.

        Raises:
            EncodingError: the charset is unknown, or the body is not text in it (a
                ``ValueError``; the codec's own error is its ``__cause__``).
        """
        return decode_text(self.frame.body, self.frame.get("content-type"))

    @property
    def destination(self) -> str | None:
        """The ``destination`` header (may differ from what was subscribed, e.g. RabbitMQ)."""
        return self.frame.get("destination")

    @property
    def message_id(self) -> str | None:
        """The broker's ``message-id``."""
        return self.frame.get("message-id")

    @property
    def content_type(self) -> str | None:
        """The ``content-type`` header."""
        return self.frame.get("content-type")

    @property
    def settled_destination(self) -> str:
        """The destination an ack or nack of this message is reported for (observation):
        its ``destination`` header, else what its subscription subscribed to."""
        destination: str = self.frame.get("destination") or self.subscription.destination
        return destination

    def __repr__(self) -> str:
        return (
            f"Message(destination={self.destination!r}, message_id={self.message_id!r}, "
            f"subscription={self.subscription.id!r}, {len(self.body)} bytes)"
        )
