"""Every exception stomp_enterprise raises, in one tree.

::

    StompError
    ├── ProtocolError                 bytes or calls that break the STOMP rules
    │   ├── LocalProtocolError        we were asked to do something illegal (nothing was sent)
    │   ├── RemoteProtocolError       the peer sent something malformed
    │   └── FrameTooLarge             a frame or header beyond a configured limit
    ├── BrokerError                   the broker answered with an ERROR frame (.frame, .message)
    ├── StompConnectionError          the connection could not be made or was lost
    │   ├── ConnectFailed             no broker could be reached (.attempts lists each one tried)
    │   ├── ConnectionLost            an established connection broke
    │   │   └── HeartbeatTimeout      the broker went silent past the negotiated window
    │   └── NotConnected              an operation needs a connection and there is none
    ├── StompTimeout                  a bounded wait ran out
    │   ├── ConnectTimeout            TCP connect or CONNECTED took too long
    │   ├── ReceiptTimeout            no RECEIPT within the timeout
    │   ├── RequestTimeout            no reply to a request (.destination, .correlation_id)
    │   └── DisconnectTimeout         no DISCONNECT receipt within the timeout
    ├── TransactionError              a transaction used after its end or lost with its connection
    ├── AckError                      a message cannot be acked (connection gone, or auto ack)
    ├── ConfigError (also ValueError) a URI, option or argument is invalid
    ├── EncodingError (also ValueError) a body's charset is unknown or cannot code the text
    └── PayloadError (also ValueError)  a typed payload cannot be encoded, decoded or validated

The names deliberately avoid the builtins ``ConnectionError`` and ``TimeoutError``;
``StompTimeout`` does subclass the builtin ``TimeoutError`` so generic code still catches it.
Only :mod:`stomp_enterprise.transport` turns ``OSError`` / ``ssl.SSLError`` into these.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from stomp_enterprise.protocol.frames import Frame

__all__ = [
    "AckError",
    "BrokerError",
    "ConfigError",
    "ConnectFailed",
    "ConnectTimeout",
    "ConnectionLost",
    "DisconnectTimeout",
    "EncodingError",
    "FrameTooLarge",
    "HeartbeatTimeout",
    "LocalProtocolError",
    "NotConnected",
    "PayloadError",
    "ProtocolError",
    "ReceiptTimeout",
    "RemoteProtocolError",
    "RequestTimeout",
    "StompConnectionError",
    "StompError",
    "StompTimeout",
    "TransactionError",
]


class StompError(Exception):
    """Root of every exception raised by stomp_enterprise."""


class ProtocolError(StompError):
    """Bytes or calls that break the STOMP rules."""


class LocalProtocolError(ProtocolError):
    """We were asked to do something the protocol or the session state forbids; nothing was sent."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that are not valid STOMP.

    Attributes:
        offset: stream offset (bytes fed to the parser so far) near which the error was found,
            or ``None`` when unknown.
    """

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        if offset is not None:
            message = f"{message} (at stream offset {offset})"
        super().__init__(message)
        self.offset = offset


class FrameTooLarge(RemoteProtocolError):
    """A frame, header or header count beyond a configured limit."""


class BrokerError(StompError):
    """The broker sent an ERROR frame.

    Attributes:
        frame: the ERROR frame.
        message: the broker's ``message`` header (or the body when the header is absent).
    """

    def __init__(self, message: str, frame: Frame | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.frame = frame


class StompConnectionError(StompError):
    """The connection could not be made or was lost."""


class ConnectFailed(StompConnectionError):
    """No broker could be reached.

    Attributes:
        attempts: ``(broker_url, exception)`` for every broker tried, the last error of each.
    """

    def __init__(
        self, message: str, attempts: list[tuple[str, BaseException]] | None = None
    ) -> None:
        self.attempts = list(attempts or [])
        if self.attempts:
            tried = "; ".join(f"{url}: {type(exc).__name__}: {exc}" for url, exc in self.attempts)
            message = f"{message} (tried {tried})"
        super().__init__(message)


class ConnectionLost(StompConnectionError):
    """An established connection broke (socket error, EOF, ERROR and close, heart-beat timeout)."""


class HeartbeatTimeout(ConnectionLost):
    """The broker sent nothing within the negotiated heart-beat window."""


class NotConnected(StompConnectionError):
    """The operation needs a connection and the client has none (and is not reconnecting)."""


class StompTimeout(StompError, TimeoutError):
    """A bounded wait ran out."""


class ConnectTimeout(StompTimeout):
    """TCP connect, TLS handshake or the CONNECTED frame took longer than allowed."""


class ReceiptTimeout(StompTimeout):
    """No RECEIPT arrived within the timeout."""


class RequestTimeout(StompTimeout):
    """No reply to a request within its timeout.

    Attributes:
        destination: where the request was sent.
        correlation_id: the request's ``correlation-id``.
        timeout: the seconds waited.
    """

    def __init__(self, destination: str, correlation_id: str, timeout: float) -> None:
        super().__init__(
            f"no reply to request {correlation_id!r} sent to {destination!r} within {timeout:g}s"
        )
        self.destination = destination
        self.correlation_id = correlation_id
        self.timeout = timeout


class DisconnectTimeout(StompTimeout):
    """The broker did not confirm DISCONNECT within the timeout."""


class TransactionError(StompError):
    """A transaction was used after it ended, or its connection was lost before COMMIT."""


class AckError(StompError):
    """A message cannot be acknowledged: its connection is gone, or its subscription is auto-ack."""


#: ``scheme://userinfo@``: everything from ``://`` to the last ``@`` before the next ``://``.
_USERINFO: Final = re.compile(r"://(?:(?!://)\S)*@")
#: ``?password=...`` and the like in a query: the value up to the next separator.
_SECRET_OPTION: Final = re.compile(
    r"([?&;]\s*[^=&;?\s]*(?:pass|secret|token|auth|credential)[^=&;?\s]*\s*=)[^&;)\s]*",
    re.IGNORECASE,
)


def redact_uri_secrets(text: str) -> str:
    """``text`` with URL passwords removed: the user information of every ``scheme://user:pw@``
    and the value of query options named like a secret (``password=``, ``token=``) become
    ``***``. Idempotent; text without a URL is returned unchanged. Any thread."""
    if "@" in text:
        text = _USERINFO.sub("://***@", text)
    if "=" in text:
        text = _SECRET_OPTION.sub(r"\1***", text)
    return text


class ConfigError(StompError, ValueError):
    """A URI, option or argument is invalid; the message names the offending part.

    The message and the string values of ``context`` are passed through
    :func:`redact_uri_secrets` here, in one place, so a URL password quoted by any check never
    reaches the error text, a repr or a log line.
    """

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(redact_uri_secrets(message))
        self.context = {
            key: redact_uri_secrets(value) if isinstance(value, str) else value
            for key, value in context.items()
        }


class EncodingError(StompError, ValueError):
    """A body's ``content-type`` charset is unknown, or cannot encode / decode the text.

    Raised for an outgoing text body before anything is queued, and by
    :attr:`stomp_enterprise.Message.text` for a received body. It is a ``ValueError``, as the
    ``UnicodeEncodeError`` / ``UnicodeDecodeError`` it replaces was, so ``except ValueError``
    keeps working; the codec's own error is its ``__cause__``.

    Attributes:
        charset: the charset named by the ``content-type`` header (as given).
    """

    def __init__(self, message: str, *, charset: str) -> None:
        super().__init__(message)
        self.charset = charset


class PayloadError(StompError, ValueError):
    """A typed payload cannot be encoded (no codec takes the object), or a received body
    cannot be decoded by the codec of its ``content-type`` or does not validate against the
    subscription's model.

    The message names the codec, the content type and, for a validation failure, the fields
    and reasons; never the body or the offending values (they may be secrets). The codec's
    or validator's own error is its ``__cause__``.

    Attributes:
        content_type: the content type involved (``None`` when there is none).
    """

    def __init__(self, message: str, *, content_type: str | None = None) -> None:
        super().__init__(message)
        self.content_type = content_type
