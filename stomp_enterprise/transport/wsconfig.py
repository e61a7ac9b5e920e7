"""Options of STOMP over WebSocket (``ws://`` and ``wss://`` brokers); no dependency on the
WebSocket library, so a configuration can be built (and checked) without it."""

from __future__ import annotations

import importlib.util

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from stomp_enterprise.errors import ConfigError

__all__ = ["WebSocketOptions", "no_connected_hint", "require_websockets"]


class WebSocketOptions(BaseModel):
    """How to open and use a WebSocket connection to a ``ws://`` or ``wss://`` broker.

    TLS for ``wss://`` is the client's ``ssl`` option, exactly as for ``ssl://``
    (certificates verified by default).

    Attributes:
        headers: extra HTTP headers for the upgrade request (``Authorization``, ``Cookie``,
            ``Origin``, a proxy's token...). Their values are secret: never logged, never in
            a repr or an error message. The handshake's own headers (``Host``, ``Upgrade``,
            ``Sec-WebSocket-*``...) cannot be replaced.
        text: send STOMP frames as text WebSocket messages instead of binary ones (for a
            server or proxy that only passes text, and ActiveMQ Classic, which ignores binary
            messages; bodies must then be UTF-8). Received messages may be text or binary
            either way.
        pack: None (default) is automatic: once CONNECTED names the broker, consecutive
            whole STOMP frames are packed into messages of up to 16 KiB for Artemis and
            RabbitMQ (they read every frame of a message; a burst of ACKs or SENDs becomes
            one message, which saves the broker 10-20 % of its CPU per produced message),
            and every frame is its own message for any other broker (ActiveMQ Classic
            reads only the first frame of a message). 0 always sends one frame per
            message; a size in bytes always packs up to that size.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    headers: dict[str, SecretStr] = Field(default_factory=dict)
    text: bool = False
    pack: int | None = Field(default=None, ge=0)

    @field_validator("headers", mode="before")
    @classmethod
    def _check_headers(cls, value: object) -> object:
        if isinstance(value, dict):
            for name, item in value.items():
                if not isinstance(name, str) or not name:
                    raise ConfigError("WebSocket header names must be non-empty strings")
                text = item.get_secret_value() if isinstance(item, SecretStr) else item
                if not isinstance(text, str) or any(c in text for c in "\r\n\0"):
                    raise ConfigError(
                        f"WebSocket header {name!r}: the value must be a string without line breaks"
                    )
        return value

    def plain_headers(self) -> dict[str, str]:
        """The headers with their values revealed, for the handshake request only. Any
        thread (the options are immutable)."""
        return {name: value.get_secret_value() for name, value in self.headers.items()}

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.headers))
        return (
            f"WebSocketOptions(headers=[{names}] (values hidden), text={self.text!r}, "
            f"pack={self.pack!r})"
        )

    __str__ = __repr__


def no_connected_hint(sends_text: bool | None) -> str:
    """What to add to "no CONNECTED" when the connection is WebSocket sending binary
    (``sends_text`` False; None: not WebSocket): ActiveMQ Classic ignores binary messages."""
    if sends_text is None or sends_text:
        return ""
    return (
        " (over WebSocket: ActiveMQ Classic ignores binary messages, "
        "try websocket=WebSocketOptions(text=True))"
    )


def require_websockets() -> None:
    """Check that the WebSocket library is installed (any thread).

    Raises:
        ConfigError: it is not: ``pip install 'stomp-enterprise[ws]'``.
    """
    if importlib.util.find_spec("websockets") is None:
        raise ConfigError(
            "ws:// and wss:// brokers need the 'websockets' package: "
            "pip install 'stomp-enterprise[ws]'"
        )
