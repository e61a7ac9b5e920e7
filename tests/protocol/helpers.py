"""Helpers for the protocol tests: chunked feeding and an in-memory client/broker pair.

:class:`ConnectionPair` follows h11's ``ConnectionPair``: a :class:`Session` on the client side
and :class:`MiniBroker` (a :class:`FrameParser` plus the :mod:`commands` builders and the
serializer) on the other, exchanging bytes in memory. Nothing here opens a socket.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Sequence

from stomp_enterprise.protocol import commands
from stomp_enterprise.protocol import parser as parser_module
from stomp_enterprise.protocol.constants import VERSIONS
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser
from stomp_enterprise.protocol.serializer import serialize
from stomp_enterprise.protocol.session import Event, Session

ALL_VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2")


def chunks_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``data`` split at the given offsets (sorted, deduplicated, clipped to the data)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def feed_chunks(parser: FrameParser, pieces: Iterable[bytes]) -> list[Frame]:
    """Feed every piece; return all frames."""
    frames: list[Frame] = []
    for piece in pieces:
        frames.extend(parser.feed(piece))
    return frames


def parse(data: bytes, version: str = "1.2", **limits: int) -> list[Frame]:
    """All frames of ``data`` fed at once to a fresh parser."""
    return FrameParser(version, **limits).feed(data)


def parse_bytewise(data: bytes, version: str = "1.2", **limits: int) -> list[Frame]:
    """All frames of ``data`` fed one byte at a time to a fresh parser."""
    parser = FrameParser(version, **limits)
    return feed_chunks(parser, (data[i : i + 1] for i in range(len(data))))


def strip_content_length(frame: Frame) -> tuple[str, tuple[tuple[str, str], ...], bytes]:
    """The frame as a plain tuple without the ``content-length`` the serializer adds."""
    headers = tuple((k, v) for k, v in frame.raw_headers if k != "content-length")
    return frame.command, headers, frame.body


def message(
    version: str,
    *,
    message_id: str = "m-1",
    subscription: str = "sub-1",
    ack: str | None = "ack-1",
    destination: str = "/queue/a",
    body: bytes = b"hello",
) -> Frame:
    """A MESSAGE frame as a broker of ``version`` sends it."""
    headers = [
        ("destination", destination),
        ("message-id", message_id),
        ("subscription", subscription),
    ]
    if version == "1.2" and ack is not None:
        headers.append(("ack", ack))
    return Frame("MESSAGE", headers, body)


class MiniBroker:
    """The broker side of a connection, just enough STOMP to hold a conversation.

    It negotiates the version, keeps subscriptions, routes SEND to matching subscriptions as
    MESSAGE (with an ``ack`` header in 1.2 when the subscription is not auto), answers every
    ``receipt`` with RECEIPT, and records every frame it received in :attr:`received`.
    """

    def __init__(
        self,
        versions: Sequence[str] = VERSIONS,
        heart_beat: tuple[int, int] = (0, 0),
        *,
        version_override: str | None = None,
    ) -> None:
        self.versions = tuple(versions)
        self.heart_beat = heart_beat
        self.version_override = version_override
        self.parser = FrameParser("1.2")  # CONNECT is never unescaped, whatever the version
        self.version = "1.0"
        self.received: list[Frame] = []
        self.subscriptions: dict[str, tuple[str, str]] = {}  # id -> (destination, ack mode)
        self.heartbeats_seen = 0
        self.disconnected = False
        self._ids = itertools.count(1)

    def out(self, frame: Frame) -> bytes:
        """``frame`` serialized for the negotiated version."""
        return serialize(frame.command, frame.raw_headers, frame.body, self.version)

    def receive_data(self, data: bytes) -> bytes:
        """Take client bytes; return the broker's answer bytes (possibly empty)."""
        before = self.parser.heartbeats
        answer = [self._handle(frame) for frame in self.parser.feed(data)]
        self.heartbeats_seen += self.parser.heartbeats - before
        return b"".join(answer)

    def _handle(self, frame: Frame) -> bytes:
        self.received.append(frame)
        reply = b""
        command = frame.command
        if command in ("CONNECT", "STOMP"):
            offered = (frame.get("accept-version") or "1.0").split(",")
            chosen = next(v for v in VERSIONS if v in offered and v in self.versions)
            self.version = self.version_override or chosen
            self.parser.version = self.version
            return commands.connected(
                self.version, heart_beat=self.heart_beat, session="s-1", server="mini/1"
            ).to_bytes(self.version)
        if command == "SUBSCRIBE":
            self.subscriptions[frame.headers["id"]] = (
                frame.headers["destination"],
                frame.get("ack", "auto") or "auto",
            )
        elif command == "UNSUBSCRIBE":
            del self.subscriptions[frame.headers["id"]]
        elif command == "SEND" and frame.get("transaction") is None:
            reply += self.deliver(frame)
        elif command == "DISCONNECT":
            self.disconnected = True
        receipt = frame.get("receipt")
        if receipt is not None:
            reply += self.out(Frame("RECEIPT", [("receipt-id", receipt)]))
        return reply

    def deliver(self, send: Frame) -> bytes:
        """MESSAGE frames for every subscription to the SEND's destination."""
        wire = []
        destination = send.headers["destination"]
        extra = [
            (k, v)
            for k, v in send.raw_headers
            if k not in ("destination", "receipt", "transaction", "content-length")
        ]
        for sub_id, (dest, mode) in self.subscriptions.items():
            if dest != destination:
                continue
            number = next(self._ids)
            headers = [
                ("destination", dest),
                ("message-id", f"ID:mini-{number}"),
                ("subscription", sub_id),
            ]
            if self.version == "1.2" and mode != "auto":
                headers.append(("ack", f"ack-{number}"))
            wire.append(self.out(Frame("MESSAGE", headers + extra, send.body)))
        return b"".join(wire)


class ConnectionPair:
    """A client :class:`Session` wired to a :class:`MiniBroker` in memory."""

    def __init__(
        self,
        versions: Sequence[str] = VERSIONS,
        broker_versions: Sequence[str] = VERSIONS,
        *,
        heart_beat: tuple[int, int] = (0, 0),
        broker_heart_beat: tuple[int, int] = (0, 0),
    ) -> None:
        self.client = Session(versions, heart_beat)
        self.broker = MiniBroker(broker_versions, broker_heart_beat)

    def send(self, data: bytes) -> list[Event]:
        """Give client bytes to the broker; feed its answer to the client; return the events."""
        reply = self.broker.receive_data(data)
        return self.client.receive_data(reply) if reply else []

    def connect(self, **kwargs: str) -> list[Event]:
        """CONNECT and the CONNECTED answer."""
        return self.send(self.client.connect(**kwargs))


IMPLEMENTATIONS = ["accelerated", "pure"] if parser_module.ACCELERATED else ["pure"]


@contextlib.contextmanager
def parser_implementation(name: str) -> Iterator[None]:
    """Run the parser as ``"pure"`` Python (the C accelerator switched off) or
    ``"accelerated"`` (as installed) inside the block."""
    saved = parser_module._scan
    if name == "pure":
        parser_module._scan = None
    try:
        yield
    finally:
        parser_module._scan = saved
