"""The broker side of CONNECT: version, login and heart-beat negotiation, as pure logic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stomp_enterprise.errors import RemoteProtocolError
from stomp_enterprise.protocol import commands
from stomp_enterprise.protocol.constants import VERSIONS
from stomp_enterprise.protocol.frames import Frame

__all__ = ["Handshake", "HandshakeError", "accept_connect"]


class HandshakeError(Exception):
    """CONNECT refused; ``message`` goes into the ERROR frame, ``headers`` are extra headers."""

    def __init__(self, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.headers = tuple(headers)


@dataclass(frozen=True)
class Handshake:
    """An accepted CONNECT.

    Attributes:
        version: the negotiated version.
        connected: the CONNECTED frame to answer with.
        send_interval: the broker sends a heart-beat after this many idle ms (0: never).
        expect_interval: the client promised data every this many ms (0: no promise).
        login: the client's login, if any.
    """

    version: str
    connected: Frame
    send_interval: int
    expect_interval: int
    login: str | None


def accept_connect(
    frame: Frame,
    *,
    versions: Sequence[str],
    users: Mapping[str, str] | None,
    heart_beat: tuple[int, int] | None,
    session: str,
    server: str,
) -> Handshake:
    """Negotiate a CONNECT (or STOMP) frame like a real broker.

    * version: the highest of ``accept-version`` (absent: ``1.0``) the broker supports;
    * ``host`` is required from STOMP 1.1 on (any value is accepted);
    * login: when ``users`` is given, ``login``/``passcode`` must match an entry;
    * heart-beat: the broker offers ``heart_beat`` ``(sx, sy)``; ``None`` mirrors the client
      (``sx = cy``, ``sy = cx``, as RabbitMQ does). Then, per the spec, the broker sends every
      ``MAX(sx, cy)`` and expects data every ``MAX(cx, sy)`` (0 when either side says 0).

    Raises:
        HandshakeError: the CONNECT must be answered with ERROR (and the connection closed).
    """
    accept = frame.get("accept-version")
    offered = ["1.0"] if accept is None else [v.strip() for v in accept.split(",")]
    common = [v for v in VERSIONS if v in offered and v in versions]
    if not common:
        supported = ",".join(sorted(versions))
        raise HandshakeError(
            f"Supported protocol versions are {supported}", [("version", supported)]
        )
    version = common[0]
    if version != "1.0" and frame.get("host") is None:
        raise HandshakeError(f"{frame.command} without a host header (required by STOMP {version})")
    login = frame.get("login")
    if users is not None and (login is None or users.get(login) != frame.get("passcode")):
        raise HandshakeError("Authentication failed")
    try:
        cx, cy = commands.heart_beat(frame)
    except RemoteProtocolError as exc:
        raise HandshakeError(str(exc)) from None
    sx, sy = (cy, cx) if heart_beat is None else heart_beat
    client_sends, client_expects = commands.negotiate_heart_beat((cx, cy), (sx, sy))
    connected = commands.connected(version, heart_beat=(sx, sy), session=session, server=server)
    return Handshake(version, connected, client_expects, client_sends, login)
