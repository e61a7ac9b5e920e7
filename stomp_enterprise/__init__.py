"""stomp_enterprise: a thread-safe STOMP 1.0/1.1/1.2 client for Python.

The public names other than the exceptions are loaded lazily (PEP 562):
``import stomp_enterprise.protocol`` imports the sans-I/O core alone, without the client, the
transport, threads or tenacity. The first access to ``stomp_enterprise.Client`` (or
``from stomp_enterprise import Client``) imports the module that defines it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stomp_enterprise._version import __version__
from stomp_enterprise.errors import (
    AckError,
    BrokerError,
    ConfigError,
    ConnectFailed,
    ConnectionLost,
    ConnectTimeout,
    DisconnectTimeout,
    EncodingError,
    FrameTooLarge,
    HeartbeatTimeout,
    LocalProtocolError,
    NotConnected,
    PayloadError,
    ProtocolError,
    ReceiptTimeout,
    RemoteProtocolError,
    RequestTimeout,
    StompConnectionError,
    StompError,
    StompTimeout,
    TransactionError,
)

if TYPE_CHECKING:
    from stomp_enterprise.client import (
        Client,
        ConnectedInfo,
        Message,
        Subscription,
        Transaction,
    )
    from stomp_enterprise.config import ClientConfig, Timeouts
    from stomp_enterprise.core.codecs import Codec, JsonCodec, register_codec
    from stomp_enterprise.core.requests import Reply
    from stomp_enterprise.core.stats import ClientStats
    from stomp_enterprise.protocol import Frame, FrameParser
    from stomp_enterprise.transport import TlsOptions, WebSocketOptions

# public name -> the module that defines it, imported on first access (the errors, above, are
# light: the sans-I/O core needs them anyway)
_LAZY: dict[str, str] = {
    "Client": "stomp_enterprise.client",
    "ConnectedInfo": "stomp_enterprise.client",
    "Message": "stomp_enterprise.client",
    "Subscription": "stomp_enterprise.client",
    "Transaction": "stomp_enterprise.client",
    "ClientConfig": "stomp_enterprise.config",
    "Codec": "stomp_enterprise.core.codecs",
    "JsonCodec": "stomp_enterprise.core.codecs",
    "register_codec": "stomp_enterprise.core.codecs",
    "Timeouts": "stomp_enterprise.config",
    "Frame": "stomp_enterprise.protocol",
    "FrameParser": "stomp_enterprise.protocol",
    "TlsOptions": "stomp_enterprise.transport",
    "WebSocketOptions": "stomp_enterprise.transport",
    "Reply": "stomp_enterprise.core.requests",
    "ClientStats": "stomp_enterprise.core.stats",
}

__all__ = [
    "AckError",
    "Client",
    "ClientConfig",
    "Codec",
    "ConnectedInfo",
    "JsonCodec",
    "Message",
    "Subscription",
    "Timeouts",
    "TlsOptions",
    "Transaction",
    "WebSocketOptions",
    "BrokerError",
    "ConfigError",
    "ConnectFailed",
    "ConnectTimeout",
    "ConnectionLost",
    "DisconnectTimeout",
    "EncodingError",
    "Frame",
    "FrameParser",
    "FrameTooLarge",
    "HeartbeatTimeout",
    "LocalProtocolError",
    "NotConnected",
    "PayloadError",
    "ProtocolError",
    "ReceiptTimeout",
    "RemoteProtocolError",
    "RequestTimeout",
    "Reply",
    "ClientStats",
    "StompConnectionError",
    "StompError",
    "StompTimeout",
    "TransactionError",
    "register_codec",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562) and cache the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's own names plus every lazily loaded public name."""
    return sorted(set(globals()) | set(_LAZY))
