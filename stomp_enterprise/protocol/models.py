"""Typed frame models.

* Client frames (:class:`Connect`, :class:`Send`, :class:`Subscribe`, ...) are pydantic models
  for frames users build by hand: fields are validated on construction and ``to_frame(version)``
  delegates to :mod:`~stomp_enterprise.protocol.commands`, the one place that knows each
  version's headers.
* Server frames (:class:`Connected`, :class:`Message`, :class:`Receipt`, :class:`Error`) are
  typed read-only views over a parsed :class:`~stomp_enterprise.protocol.frames.Frame`, built
  by ``from_frame`` without copying the body (the parser's hot path never builds them).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stomp_enterprise.errors import RemoteProtocolError
from stomp_enterprise.protocol import commands
from stomp_enterprise.protocol.frames import Frame

__all__ = [
    "Abort",
    "Ack",
    "Begin",
    "ClientFrame",
    "Commit",
    "Connect",
    "Connected",
    "Disconnect",
    "Error",
    "Message",
    "Nack",
    "Receipt",
    "Send",
    "Subscribe",
    "Unsubscribe",
]

_NonEmpty = Field(min_length=1)


class ClientFrame(BaseModel):
    """Base of the client frame models: immutable, keyword-only, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    receipt: str | None = None

    @abstractmethod
    def to_frame(self, version: str = "1.2") -> Frame:
        """The generic frame for ``version``. Any thread."""

    def to_bytes(self, version: str = "1.2") -> bytes:
        """Wire bytes for ``version``. Any thread."""
        return self.to_frame(version).to_bytes("1.0" if isinstance(self, Connect) else version)


class Connect(ClientFrame):
    """CONNECT (or STOMP with ``command="STOMP"``)."""

    host: str | None = None
    versions: tuple[Literal["1.0", "1.1", "1.2"], ...] = ("1.2", "1.1", "1.0")
    login: str | None = None
    passcode: str | None = Field(default=None, repr=False)
    heart_beat: tuple[int, int] = (0, 0)
    headers: dict[str, str] = Field(default_factory=dict)
    command: Literal["CONNECT", "STOMP"] = "CONNECT"

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.connect(
            host=self.host,
            versions=self.versions,
            login=self.login,
            passcode=self.passcode,
            heart_beat=self.heart_beat,
            headers=self.headers,
            command=self.command,
        )


class Send(ClientFrame):
    """SEND."""

    destination: str = _NonEmpty
    body: bytes = b""
    headers: dict[str, str] = Field(default_factory=dict)
    content_type: str | None = None
    transaction: str | None = None

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.send(
            self.destination,
            self.body,
            self.headers,
            content_type=self.content_type,
            transaction=self.transaction,
            receipt=self.receipt,
        )


class Subscribe(ClientFrame):
    """SUBSCRIBE."""

    destination: str = _NonEmpty
    id: str = _NonEmpty
    ack: Literal["auto", "client", "client-individual"] = "auto"
    headers: dict[str, str] = Field(default_factory=dict)

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.subscribe(
            self.destination,
            self.id,
            ack=self.ack,
            headers=self.headers,
            receipt=self.receipt,
            version=version,
        )


class Unsubscribe(ClientFrame):
    """UNSUBSCRIBE."""

    id: str = _NonEmpty
    destination: str | None = None

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.unsubscribe(
            self.id, destination=self.destination, receipt=self.receipt, version=version
        )


class Ack(ClientFrame):
    """ACK of a received MESSAGE frame (ids chosen per version)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    message: Frame
    transaction: str | None = None

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.ack(
            self.message, version, transaction=self.transaction, receipt=self.receipt
        )


class Nack(Ack):
    """NACK of a received MESSAGE frame (STOMP 1.1+)."""

    headers: dict[str, str] = Field(default_factory=dict)

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.nack(
            self.message,
            version,
            transaction=self.transaction,
            receipt=self.receipt,
            headers=self.headers,
        )


class Begin(ClientFrame):
    """BEGIN."""

    transaction: str = _NonEmpty

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.begin(self.transaction, receipt=self.receipt)


class Commit(Begin):
    """COMMIT."""

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.commit(self.transaction, receipt=self.receipt)


class Abort(Begin):
    """ABORT."""

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.abort(self.transaction, receipt=self.receipt)


class Disconnect(ClientFrame):
    """DISCONNECT."""

    def to_frame(self, version: str = "1.2") -> Frame:
        return commands.disconnect(receipt=self.receipt)


# ---------------------------------------------------------------- server frame views


class _View:
    __slots__ = ("frame",)
    command: str = ""

    def __init__(self, frame: Frame) -> None:
        if frame.command != self.command:
            raise RemoteProtocolError(f"expected a {self.command} frame, got {frame.command}")
        self.frame = frame

    @classmethod
    def from_frame(cls, frame: Frame) -> _View:
        """The typed view of ``frame`` (which must have this view's command)."""
        return cls(frame)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.frame!r})"


class Connected(_View):
    """CONNECTED: ``version`` (1.0 when absent), ``heart_beat``, ``server``, ``session``."""

    __slots__ = ()
    command = "CONNECTED"

    @property
    def version(self) -> str:
        return self.frame.get("version") or "1.0"

    @property
    def heart_beat(self) -> tuple[int, int]:
        return commands.heart_beat(self.frame)

    @property
    def server(self) -> str | None:
        return self.frame.get("server")

    @property
    def session(self) -> str | None:
        return self.frame.get("session")


class Message(_View):
    """MESSAGE: ``destination``, ``message_id``, ``subscription``, ``ack`` and ``body``."""

    __slots__ = ()
    command = "MESSAGE"

    @property
    def destination(self) -> str | None:
        return self.frame.get("destination")

    @property
    def message_id(self) -> str | None:
        return self.frame.get("message-id")

    @property
    def subscription(self) -> str | None:
        return self.frame.get("subscription")

    @property
    def ack(self) -> str | None:
        return self.frame.get("ack")

    @property
    def body(self) -> bytes:
        return self.frame.body

    def ack_id(self, version: str) -> str:
        """The id that acknowledges this message in ``version``. Any thread."""
        return commands.ack_id(self.frame, version)


class Receipt(_View):
    """RECEIPT: ``receipt_id``."""

    __slots__ = ()
    command = "RECEIPT"

    @property
    def receipt_id(self) -> str:
        return commands.receipt_id(self.frame)


class Error(_View):
    """ERROR: ``message`` (header or body text) and ``receipt_id`` when it answers a frame."""

    __slots__ = ()
    command = "ERROR"

    @property
    def message(self) -> str:
        return commands.error_message(self.frame)

    @property
    def receipt_id(self) -> str | None:
        return self.frame.get("receipt-id")
