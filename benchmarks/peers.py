"""Adapters that drive each STOMP library's *real* receive and send code on in-memory bytes.

Every peer is exercised through the code its own client uses on a live connection, without a
socket, so the benchmarks (and later the end-to-end ones) compare like with like:

* **ours**: :meth:`FrameParser.feed` per received chunk; :meth:`Frame.to_bytes` to send.
* **stomp.py 9.0.0**: its receive loop lives in ``stomp.transport.BaseTransport``. The I/O thread
  calls the private ``__read_frames()``, which calls ``__read()`` (reads ``receive()`` until a
  chunk contains a NUL, appends to ``__recvbuf`` and cuts complete frames out of it, honouring
  ``content-length`` and skipping EOLs after a frame), then ``stomp.utils.parse_frame()`` on each
  frame and ``process_frame()``/``notify()`` to hand it to the listeners. :class:`_ReplayTransport`
  subclasses ``BaseTransport`` and only overrides ``receive()`` to return the next buffered chunk,
  so *all* of that code runs unchanged; a listener collects the frames. Bodies stay bytes
  (``auto_decode=False``, the setting binary payloads need). Sending goes through
  ``Protocol12.send_frame()`` (header escaping) -> ``BaseTransport.transmit()`` ->
  ``stomp.utils.convert_frame()`` + ``stomp.utils.pack()`` -> ``send()``, which we capture.
* **stompest 2.3.0**: the sync transport does ``StompParser.add(data)`` per ``recv`` and
  ``get()`` while ``canRead()``; heart-beats come out as (falsy) ``StompHeartBeat`` objects and
  are skipped here. Sending is ``bytes(StompFrame(...))`` (what ``StompFrameTransport.send``
  writes).

``parse_native_<peer>`` return each library's own frame objects (what a user receives; this is
what the benchmark times). ``parse_stream_<peer>`` normalize them to ``(command, headers,
body)`` tuples for comparisons. Errors raised by a peer's parser propagate unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import stomp.listener
import stomp.protocol
import stomp.transport
import stomp.utils
from stompest.protocol import StompFrame, StompParser
from stompest.protocol.frame import StompHeartBeat

from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser
from stomp_enterprise.protocol.serializer import serialize

__all__ = [
    "PARSERS",
    "SERIALIZERS",
    "ParsedFrame",
    "parse_native_ours",
    "parse_native_ours_full",
    "parse_native_stompest",
    "parse_native_stomppy",
    "parse_stream_ours",
    "parse_stream_stompest",
    "parse_stream_stomppy",
    "serialize_ours",
    "serialize_ours_frame",
    "serialize_stompest",
    "serialize_stomppy",
]

#: A frame in library-neutral form: (command, headers with the first occurrence winning, body).
ParsedFrame = tuple[str, dict[str, str], bytes]


# --------------------------------------------------------------------------------------------
# ours
# --------------------------------------------------------------------------------------------


def parse_native_ours(chunks: Iterable[bytes], version: str = "1.2") -> list[Frame]:
    """Feed ``chunks`` to one :class:`FrameParser` as a reader loop would.

    Args:
        chunks: the received byte chunks, in order.
        version: the negotiated STOMP version.

    Returns:
        The complete frames, in order (heart-beats are only counted by the parser).
    """
    parser = FrameParser(version)
    frames: list[Frame] = []
    extend = frames.extend
    feed = parser.feed
    for chunk in chunks:
        new = feed(chunk)
        # Our frames decode headers lazily; stomp.py and stompest build a full dict per frame.
        # To compare fairly, read what our client reads per MESSAGE (the routing and ack
        # headers) inside the timed loop; parse_native_ours_full reads every header.
        for frame in new:
            frame.get("subscription")
            frame.get("ack")
        extend(new)
    return frames


def parse_native_ours_full(chunks: Iterable[bytes], version: str = "1.2") -> list[Frame]:
    """Like :func:`parse_native_ours`, but builds every frame's full header mapping."""
    parser = FrameParser(version)
    frames: list[Frame] = []
    extend = frames.extend
    feed = parser.feed
    for chunk in chunks:
        new = feed(chunk)
        for frame in new:
            frame.headers  # noqa: B018 - the point is to decode every header
        extend(new)
    return frames


def parse_stream_ours(chunks: Iterable[bytes], version: str = "1.2") -> list[ParsedFrame]:
    """Like :func:`parse_native_ours`, normalized to ``(command, headers, body)`` tuples."""
    return [(f.command, dict(f.headers), f.body) for f in parse_native_ours(chunks, version)]


def serialize_ours(
    command: str, headers: Mapping[str, str], body: bytes, version: str = "1.2"
) -> bytes:
    """Wire bytes of one frame built from its parts, the way a user of this library sends it.

    Args:
        command: the STOMP command.
        headers: the headers, in the order to send them.
        body: the body.
        version: the negotiated STOMP version (selects the escaping).

    Returns:
        The encoded frame, terminating NUL included.
    """
    # The serializer itself, as the client's own frames reach it (pairs already checked).
    # A user-built Frame(command, headers, body).to_bytes() adds the constructor's type
    # checks on top: see serialize_ours_frame.
    return serialize(command, list(headers.items()), body, version)


def serialize_ours_frame(
    command: str, headers: Mapping[str, str], body: bytes, version: str = "1.2"
) -> bytes:
    """Like :func:`serialize_ours`, through a validated, user-built :class:`Frame`."""
    return Frame(command, headers, body).to_bytes(version)


# --------------------------------------------------------------------------------------------
# stomp.py
# --------------------------------------------------------------------------------------------


class _Collector(stomp.listener.ConnectionListener):  # type: ignore[misc]
    """A stomp.py listener that keeps every frame the transport delivers."""

    def __init__(self) -> None:
        self.frames: list[stomp.utils.Frame] = []
        self.heartbeats = 0

    def on_message(self, frame: stomp.utils.Frame) -> None:
        self.frames.append(frame)

    def on_error(self, frame: stomp.utils.Frame) -> None:
        self.frames.append(frame)

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        self.frames.append(frame)

    def on_connected(self, frame: stomp.utils.Frame) -> None:
        self.frames.append(frame)

    def on_heartbeat(self) -> None:
        self.heartbeats += 1


class _ReplayTransport(stomp.transport.BaseTransport):  # type: ignore[misc]
    """stomp.py's own transport whose ``receive()`` returns pre-recorded chunks.

    Non-blocking mode makes ``__read()`` return (instead of raising ``ConnectionClosed``) when
    ``receive()`` has nothing more, exactly as it does for a TLS socket with no pending data.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__(auto_decode=False)
        self._chunks: Iterator[bytes] = iter(chunks)
        self.exhausted = False
        self.running = True
        self.blocking = False

    def receive(self) -> bytes:
        chunk = next(self._chunks, b"")
        if not chunk:
            self.exhausted = True
        return chunk


def parse_native_stomppy(chunks: Iterable[bytes]) -> list[stomp.utils.Frame]:
    """Run stomp.py's receive path (``BaseTransport.__read_frames``) over ``chunks``.

    Args:
        chunks: the received byte chunks, in order.

    Returns:
        The ``stomp.utils.Frame`` objects its listeners were notified of, in order. Frames the
        transport fails to recognise are dropped by stomp.py itself (it logs a warning).
    """
    transport = _ReplayTransport(chunks)
    collector = _Collector()
    transport.set_listener("collector", collector)
    read_frames: Callable[[], None] = transport._BaseTransport__read_frames
    while not transport.exhausted:  # one call per "socket readable" event of the I/O loop
        read_frames()
    return collector.frames


def parse_stream_stomppy(chunks: Iterable[bytes]) -> list[ParsedFrame]:
    """Like :func:`parse_native_stomppy`, normalized to ``(command, headers, body)`` tuples."""
    return [(f.cmd, dict(f.headers), f.body) for f in parse_native_stomppy(chunks)]


class _CaptureTransport(stomp.transport.BaseTransport):  # type: ignore[misc]
    """stomp.py transport whose ``send()`` keeps the encoded frame instead of writing it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: bytes = b""

    def send(self, encoded_frame: bytes) -> None:
        self.sent = encoded_frame


@functools.cache
def _stomppy_sender() -> tuple[_CaptureTransport, Any]:
    """One stomp.py ``Protocol12`` over a capturing transport, created on first use."""
    transport = _CaptureTransport()
    return transport, stomp.protocol.Protocol12(transport)


def serialize_stomppy(command: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """Wire bytes stomp.py 1.2 sends for a frame (``Protocol12.send_frame`` -> ``transmit``).

    Args:
        command: the STOMP command.
        headers: the headers (copied: ``send_frame`` escapes the dict in place, as its
            ``send()`` builds a fresh dict per call).
        body: the body.

    Returns:
        The encoded frame (stomp.py sorts headers by name and escapes values, not names).
    """
    transport, protocol = _stomppy_sender()
    protocol.send_frame(command, dict(headers), body)
    return transport.sent


# --------------------------------------------------------------------------------------------
# stompest
# --------------------------------------------------------------------------------------------


def parse_native_stompest(chunks: Iterable[bytes], version: str = "1.2") -> list[StompFrame]:
    """Run stompest's ``StompParser`` as its transport does: ``add()`` then ``get()``.

    Args:
        chunks: the received byte chunks, in order.
        version: the negotiated STOMP version.

    Returns:
        The ``StompFrame`` objects, in order (``StompHeartBeat`` items are skipped).

    Raises:
        stompest.error.StompFrameError: input stompest considers malformed.
    """
    parser = StompParser(version)
    frames: list[StompFrame] = []
    append = frames.append
    for chunk in chunks:
        parser.add(chunk)
        while parser.canRead():
            frame = parser.get()
            if not isinstance(frame, StompHeartBeat):
                append(frame)
    return frames


def parse_stream_stompest(chunks: Iterable[bytes], version: str = "1.2") -> list[ParsedFrame]:
    """Like :func:`parse_native_stompest`, normalized to ``(command, headers, body)`` tuples."""
    return [(f.command, f.headers, f.body) for f in parse_native_stompest(chunks, version)]


def serialize_stompest(
    command: str, headers: Mapping[str, str], body: bytes, version: str = "1.2"
) -> bytes:
    """Wire bytes stompest sends for a frame: ``bytes(StompFrame(...))``.

    Args:
        command: the STOMP command.
        headers: the headers (stompest sorts them by name when rendering).
        body: the body.
        version: the negotiated STOMP version (selects the escaping).

    Returns:
        The encoded frame.
    """
    return bytes(StompFrame(command, dict(headers), body, version=version))


#: name -> (native parser, normalizing parser); each takes an iterable of chunks.
PARSERS: dict[str, tuple[Callable[[Iterable[bytes]], list[Any]], Callable[..., list[ParsedFrame]]]]
PARSERS = {
    "ours": (parse_native_ours, parse_stream_ours),
    "stomp.py": (parse_native_stomppy, parse_stream_stomppy),
    "stompest": (parse_native_stompest, parse_stream_stompest),
}

#: name -> serializer taking (command, headers, body).
SERIALIZERS: dict[str, Callable[[str, Mapping[str, str], bytes], bytes]] = {
    "ours": serialize_ours,
    "stomp.py": serialize_stomppy,
    "stompest": serialize_stompest,
}
