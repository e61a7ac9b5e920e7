"""A received message, bound to the connection it arrived on (so acks go where they must)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from stomp_enterprise.errors import EncodingError
from stomp_enterprise.protocol.frames import Frame

if TYPE_CHECKING:
    from stomp_enterprise.client.connection import Connection
    from stomp_enterprise.client.subscription import Subscription

__all__ = ["Message", "charset_of", "decode_text", "encode_text"]


_CHARSETS: dict[str, str] = {}


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


class Message:
    """A MESSAGE delivered to a subscription.

    ``ack()``/``nack()`` are version-correct and may be called from any thread, including the
    handler. A message received on a connection that has since been lost cannot be acked
    (its ack id is dead there; the broker redelivers it): that raises
    :class:`~stomp_enterprise.errors.AckError` rather than vanishing silently.
    """

    __slots__ = ("_connection", "frame", "subscription")

    def __init__(self, frame: Frame, subscription: Subscription, connection: Connection) -> None:
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
    def redelivered(self) -> bool:
        """True when the broker marks this as a redelivery."""
        return (self.frame.get("redelivered") or "").lower() == "true"

    def ack(self, *, receipt: bool = False, timeout: float | None = None) -> None:
        """Acknowledge this message (``ack`` mode client or client-individual).

        Args:
            receipt: wait for the broker to confirm (bounded by ``timeout`` or the default).

        Raises:
            AckError: the message's connection is gone, or its subscription is auto-ack.
        """
        if self.subscription._client._observer is not None:
            self._settle("ack", receipt, timeout, None)
            return
        self._connection.ack(self, receipt=receipt, timeout=timeout)

    def nack(
        self,
        *,
        receipt: bool = False,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Negatively acknowledge (STOMP 1.1+): the broker redelivers or dead-letters it.
        ``headers`` carries broker extras such as RabbitMQ's ``requeue``."""
        if self.subscription._client._observer is not None:
            self._settle("nack", receipt, timeout, headers)
            return
        self._connection.nack(self, receipt=receipt, timeout=timeout, headers=headers)

    def _settle(
        self,
        operation: str,
        receipt: bool,
        timeout: float | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        """:meth:`ack` or :meth:`nack` once the client is observed: counted, and with
        OpenTelemetry an ``ack``/``nack`` span."""
        observer = self.subscription._client._observer
        assert observer is not None
        connection = self._connection

        def call() -> None:
            if operation == "ack":
                connection.ack(self, receipt=receipt, timeout=timeout)
            else:
                connection.nack(self, receipt=receipt, timeout=timeout, headers=headers)

        observer.settle(operation, self.settled_destination, self.message_id, call)

    @property
    def settled_destination(self) -> str:
        """The destination an ack or nack of this message is reported for: its
        ``destination`` header, else what its subscription subscribed to."""
        return self.frame.get("destination") or self.subscription.destination

    def __repr__(self) -> str:
        return (
            f"Message(destination={self.destination!r}, message_id={self.message_id!r}, "
            f"subscription={self.subscription.id!r}, {len(self.body)} bytes)"
        )
