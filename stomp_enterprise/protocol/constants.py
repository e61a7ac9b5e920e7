"""STOMP protocol constants: versions, commands, and which frames may carry a body."""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "BODY_COMMANDS",
    "CLIENT_COMMANDS",
    "COMMANDS",
    "SERVER_COMMANDS",
    "UNESCAPED_COMMANDS",
    "VERSIONS",
    "Version",
]

Version = Literal["1.0", "1.1", "1.2"]

#: Supported versions, newest first (the order used for negotiation).
VERSIONS: Final[tuple[Version, ...]] = ("1.2", "1.1", "1.0")

CLIENT_COMMANDS: Final = frozenset(
    {
        "CONNECT",
        "STOMP",
        "SEND",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "ACK",
        "NACK",
        "BEGIN",
        "COMMIT",
        "ABORT",
        "DISCONNECT",
    }
)
SERVER_COMMANDS: Final = frozenset({"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"})
COMMANDS: Final = CLIENT_COMMANDS | SERVER_COMMANDS

#: Only these frames may have a body (STOMP 1.2, "Frames and Headers").
BODY_COMMANDS: Final = frozenset({"SEND", "MESSAGE", "ERROR"})

#: Header names and values of these frames are never escaped (STOMP 1.1/1.2).
UNESCAPED_COMMANDS: Final = frozenset({"CONNECT", "STOMP", "CONNECTED"})

#: Longest command name; used to reject a non-STOMP peer after a few bytes.
MAX_COMMAND_LENGTH: Final = max(len(c) for c in COMMANDS)
