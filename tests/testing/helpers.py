"""A raw STOMP client for driving the testing broker: a socket plus the sans-I/O core."""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections import deque

from stomp_enterprise.protocol import Frame, FrameParser, commands
from stomp_enterprise.testing import Broker

WAIT = 3.0  # the bound on every wait in these tests


class Closed(Exception):
    """The broker closed the connection."""


class RawClient:
    """One TCP (or TLS) connection to a broker; frames in, frames out, nothing hidden."""

    def __init__(
        self, broker: Broker, *, ssl_context: ssl.SSLContext | None = None, version: str = "1.2"
    ) -> None:
        sock = socket.create_connection((broker.host, broker.port), timeout=WAIT)
        if ssl_context is not None:
            try:
                sock = ssl_context.wrap_socket(sock, server_hostname=broker.host)
            except BaseException:
                sock.close()
                raise
        self.sock = sock
        self.version = version
        self.parser = FrameParser(version)
        self.pending: deque[Frame] = deque()
        self.eof = False

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # ---------------------------------------------------------------- sending

    def send(self, frame: Frame) -> None:
        raw = frame.command in ("CONNECT", "STOMP")
        self.sock.sendall(frame.to_bytes("1.0" if raw else self.version))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def connect(
        self,
        versions: tuple[str, ...] = ("1.2",),
        *,
        heart_beat: tuple[int, int] = (0, 0),
        login: str | None = None,
        passcode: str | None = None,
    ) -> Frame:
        """CONNECT and return the answer (CONNECTED or ERROR); adopts the version."""
        self.send(
            commands.connect(
                host="localhost",
                versions=versions,
                heart_beat=heart_beat,
                login=login,
                passcode=passcode,
            )
        )
        frame = self.receive()
        if frame.command == "CONNECTED":
            self.version = frame.get("version", "1.0") or "1.0"
            self.parser.version = self.version
        return frame

    # ---------------------------------------------------------------- receiving

    def _fill(self, deadline: float) -> bool:
        """Read one chunk; False on timeout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        pending = getattr(self.sock, "pending", None)
        if not (pending and pending()):
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if not readable:
                return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise Closed("broker closed the connection")
        self.pending.extend(self.parser.feed(data))
        return True

    def receive(self, timeout: float = WAIT) -> Frame:
        """The next frame (heart-beats skipped)."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            if not self._fill(deadline):
                raise TimeoutError(f"no frame within {timeout}s")
        return self.pending.popleft()

    def expect(self, command: str, timeout: float = WAIT) -> Frame:
        frame = self.receive(timeout)
        assert frame.command == command, frame
        return frame

    def nothing(self, timeout: float = 0.2) -> None:
        """Assert no frame arrives within ``timeout``."""
        try:
            frame = self.receive(timeout)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {frame!r}")

    def wait_heartbeats(self, count: int, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while self.parser.heartbeats < count:
            if not self._fill(deadline):
                raise TimeoutError(f"{self.parser.heartbeats} heart-beats, wanted {count}")

    def receive_until_closed(self, timeout: float = WAIT) -> list[Frame]:
        """Every frame until the broker closes the connection."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                if not self._fill(deadline):
                    raise TimeoutError(f"connection still open after {timeout}s")
        except Closed:
            pass
        frames = list(self.pending)
        self.pending.clear()
        return frames

    def is_closed(self, timeout: float = WAIT) -> bool:
        try:
            self.receive_until_closed(timeout)
        except TimeoutError:
            return False
        return True


def session_until(client: RawClient, session: object, kind: type, timeout: float = WAIT) -> list:
    """Feed what arrives on ``client.sock`` to a protocol ``Session`` until an event of
    ``kind`` shows up; return every event so far."""
    from stomp_enterprise.protocol import Session

    assert isinstance(session, Session)
    events: list = []
    deadline = time.monotonic() + timeout
    while not any(isinstance(e, kind) for e in events):
        remaining = deadline - time.monotonic()
        readable, _, _ = select.select([client.sock], [], [], max(0.0, remaining))
        if not readable:
            raise TimeoutError(f"no {kind.__name__} within {timeout}s")
        events += session.receive_data(client.sock.recv(65536))
    return events
