"""The sans-I/O STOMP protocol core: frames, parser, serializer, commands, session, failover.

Nothing in this package opens a socket, starts a thread, sleeps or reads a clock.
"""

from __future__ import annotations

from stomp_enterprise.protocol import commands
from stomp_enterprise.protocol.constants import VERSIONS, Version
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser, OversizeFrame
from stomp_enterprise.protocol.serializer import serialize
from stomp_enterprise.protocol.session import (
    Connected,
    ConnectionClosed,
    ErrorReceived,
    Event,
    HeartbeatReceived,
    MessageReceived,
    MessageTooLarge,
    ReceiptReceived,
    Session,
    State,
)

__all__ = [
    "VERSIONS",
    "ConnectionClosed",
    "Connected",
    "ErrorReceived",
    "Event",
    "Frame",
    "FrameParser",
    "HeartbeatReceived",
    "MessageReceived",
    "MessageTooLarge",
    "OversizeFrame",
    "ReceiptReceived",
    "Session",
    "State",
    "Version",
    "commands",
    "serialize",
]
