"""stomp_enterprise: a thread-safe STOMP 1.0/1.1/1.2 client for Python."""

from __future__ import annotations

from stomp_enterprise.client import (
    Client,
    ConnectedInfo,
    Message,
    Subscription,
    Transaction,
)
from stomp_enterprise.config import ClientConfig, Timeouts
from stomp_enterprise.errors import (
    AckError,
    BrokerError,
    ConfigError,
    ConnectFailed,
    ConnectionLost,
    ConnectTimeout,
    DisconnectTimeout,
    FrameTooLarge,
    HeartbeatTimeout,
    LocalProtocolError,
    NotConnected,
    ProtocolError,
    ReceiptTimeout,
    RemoteProtocolError,
    StompConnectionError,
    StompError,
    StompTimeout,
    TransactionError,
)
from stomp_enterprise.protocol import Frame, FrameParser
from stomp_enterprise.transport import TlsOptions

__version__ = "0.1.0"

__all__ = [
    "AckError",
    "Client",
    "ClientConfig",
    "ConnectedInfo",
    "Message",
    "Subscription",
    "Timeouts",
    "TlsOptions",
    "Transaction",
    "BrokerError",
    "ConfigError",
    "ConnectFailed",
    "ConnectTimeout",
    "ConnectionLost",
    "DisconnectTimeout",
    "Frame",
    "FrameParser",
    "FrameTooLarge",
    "HeartbeatTimeout",
    "LocalProtocolError",
    "NotConnected",
    "ProtocolError",
    "ReceiptTimeout",
    "RemoteProtocolError",
    "StompConnectionError",
    "StompError",
    "StompTimeout",
    "TransactionError",
    "__version__",
]
