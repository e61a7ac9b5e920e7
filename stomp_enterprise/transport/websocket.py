"""STOMP over WebSocket (RFC 6455): a sans-I/O codec that any byte transport wraps.

No sockets, threads or clocks here: bytes in, bytes and results out. Both the threaded
client's :class:`~stomp_enterprise.transport.socket.SocketTransport`, the asyncio client's
transport and the in-process test broker wrap the same two classes:

* :class:`WebSocketClient`: :meth:`~WebSocketClient.handshake_request` gives the HTTP upgrade
  request to write; :meth:`~WebSocketClient.receive_handshake` takes the response bytes
  until it says it is done (then :attr:`~WebSocketClient.subprotocol` and
  :meth:`~WebSocketClient.stomp_versions` tell what STOMP version(s) to offer), or raises
  :class:`~stomp_enterprise.errors.ConnectFailed` naming the HTTP status and the URL.
  Afterwards :meth:`~WebSocketClient.encode` frames (and masks) outgoing STOMP bytes and
  :meth:`~WebSocketClient.receive` turns received bytes into a :class:`WebSocketInput`:
  the STOMP payload bytes for the incremental STOMP parser, control frames to write (pong,
  close reply) and, once the peer closed, its close code and reason.
* :class:`WebSocketServer`: the server side, for the in-process broker.

The frame parsing is websockets' sans-I/O protocol (``websockets.client.ClientProtocol``);
encoding uses its :class:`websockets.frames.Frame` with its C masking routine. Measured per
1 KiB message on this project's machine: websockets 2.6 us to send (masked) and 4.2 us to
receive, wsproto 11.1 us and 8.1 us; a 256 KiB batch costs 17 us to mask with websockets and
321 us with wsproto (pure-Python masking). See docs/websocket.md.

``encode`` is stateless and may be called from any thread (the writer) while one other
thread calls ``receive`` (the reader). A STOMP frame may span several WebSocket messages and
one message may hold several STOMP frames: the payload is a byte stream, as over TCP.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, InvalidStatus, NegotiationError
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event, Protocol, State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

from stomp_enterprise.core.flavour import Flavour, flavour_of
from stomp_enterprise.errors import ConfigError, ConnectFailed

__all__ = [
    "AUTO_PACK",
    "SUBPROTOCOLS",
    "CloseInfo",
    "WebSocketClient",
    "WebSocketInput",
    "WebSocketServer",
    "subprotocols_for",
    "versions_for",
]

#: STOMP version -> WebSocket subprotocol name (the names every broker here registers).
SUBPROTOCOLS: Mapping[str, str] = {"1.2": "v12.stomp", "1.1": "v11.stomp", "1.0": "v10.stomp"}
_VERSION_OF = {name: version for version, name in SUBPROTOCOLS.items()}

#: Automatic packing (``WebSocketOptions(pack=None)``, the default): the message size, in
#: bytes, of consecutive whole STOMP frames sent to a broker that reads every frame of a
#: message. Below Artemis' default ``webSocketMaxFramePayloadLength`` (64 KiB). Measured
#: (benchmarks.ws with the broker's CPU from /proc, 1 KiB messages, medians of 3 rounds):
#: packing cuts the broker's CPU per produced message, Artemis 2.40 22 -> 19-20 us (16-17
#: over TCP), RabbitMQ 3.10 Web STOMP 61.5 -> 49.5 us (33.5); consuming, little changes.
AUTO_PACK = 16 * 1024
#: The brokers that read every STOMP frame of a WebSocket message (measured: Artemis 2.40,
#: RabbitMQ 3.10 Web STOMP); ActiveMQ Classic reads only the first, others are not assumed to.
_PACKING_BROKERS = frozenset({Flavour.ARTEMIS, Flavour.RABBITMQ})

#: Request headers the codec sets itself; an ``extra_headers`` entry may not replace them.
_RESERVED = frozenset(
    name.lower()
    for name in (
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
    )
)

#: websockets logs request and response headers at DEBUG; ours may carry credentials
#: (``Authorization``, cookies). Hand it a logger that is never enabled and not in the tree.
_SILENT = logging.Logger("stomp_enterprise.transport.websocket.silent", logging.CRITICAL + 1)
_SILENT.propagate = False
_SILENT.disabled = True


def subprotocols_for(versions: Sequence[str]) -> list[str]:
    """The subprotocols to offer for the STOMP ``versions`` configured, highest first."""
    ordered = sorted(set(versions), key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    return [SUBPROTOCOLS[v] for v in ordered if v in SUBPROTOCOLS]


def versions_for(subprotocol: str | None, versions: Sequence[str]) -> tuple[str, ...]:
    """The STOMP versions to offer in CONNECT once the server accepted ``subprotocol``: that
    one version; all of ``versions`` when the server accepted none (Artemis and RabbitMQ
    answer an offer they do not know without a subprotocol) or answered the generic
    ``stomp`` (ActiveMQ Classic does): the CONNECT's ``accept-version`` negotiates, as over
    TCP."""
    if subprotocol is None or subprotocol not in _VERSION_OF:  # none, or ActiveMQ's "stomp"
        return tuple(versions)
    return (_VERSION_OF[subprotocol],)


@dataclass(frozen=True)
class CloseInfo:
    """Why a WebSocket connection ended.

    Attributes:
        code: the close code (1000 normal, 1001 going away, 1002 protocol error, ...;
            1005 when the close frame had none, 1006 when the stream ended without one).
        reason: the reason text the peer sent (may be empty).
    """

    code: int
    reason: str

    def describe(self) -> str:
        """``"code 1000 (OK)"`` or ``"code 1011: reason"``, for error messages."""
        try:
            name = CloseCode(self.code).name.replace("_", " ").lower()
        except ValueError:
            name = "unknown"
        text = f"code {self.code} ({name})"
        return f"{text}: {self.reason}" if self.reason else text


@dataclass(frozen=True)
class WebSocketInput:
    """What :meth:`WebSocketClient.receive` (or the server's) made of some received bytes.

    Attributes:
        payload: STOMP bytes carried by data frames (text or binary), in order; may be
            empty (only control frames, or an incomplete frame so far).
        to_send: wire bytes to write back at once (pongs, the reply to a close); may be empty.
        closed: set once the peer closed the WebSocket (or broke its rules): the payload
            before the close is still valid, nothing after it comes.
    """

    payload: bytes
    to_send: bytes
    closed: CloseInfo | None


_NOTHING = WebSocketInput(b"", b"", None)
_MAX_HEAD = 64 * 1024  # a longer response head goes to the protocol, which refuses it
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def _header(first: int, mask_bit: int, length: int) -> bytes:
    """The first bytes of a data frame (RFC 6455 5.2): FIN/opcode, mask bit and length."""
    if length < 126:
        return _SHORT.pack(first, mask_bit | length)
    if length < 65536:
        return _MEDIUM.pack(first, mask_bit | 126, length)
    return _LONG.pack(first, mask_bit | 127, length)


_DATA = (Opcode.BINARY, Opcode.TEXT, Opcode.CONT)


class _Endpoint:
    """What the client and server codecs share: the receiving side and framing."""

    _protocol: Protocol
    _mask: bool
    text: bool
    _early: list[Event]  # frames parsed with the handshake, for the first receive()
    #: pongs, text and binary data messages received so far (read by tests).
    pongs_received = 0
    text_messages = 0
    binary_messages = 0
    _pending = b""  # an incomplete frame, completed by the next receive()
    _closed_info: CloseInfo | None = None
    #: frames from the peer are unmasked (the client side): the fast path applies
    _fast = False
    _ignore_binary = False  # drop binary messages (the test broker imitating ActiveMQ)
    _in_binary = False  # the data message being received is binary

    def encode(self, payload: bytes) -> bytes:
        """Frame ``payload`` (STOMP bytes) as one WebSocket message, binary unless
        :attr:`text`; masked with a fresh random key on the client side. Stateless: any
        thread.

        An empty payload gives empty bytes (nothing to write)."""
        return self.encode_many([payload])[0]

    def encode_many(self, payloads: Sequence[bytes]) -> list[bytes]:
        """:meth:`encode` each payload (one message each, in order; empty ones give empty
        bytes): the masking keys of the batch come from one call to the OS's random
        source, and the masking itself is websockets' C routine."""
        first = 0x81 if self.text else 0x82  # FIN + text/binary opcode
        if not self._mask:
            return [_header(first, 0, len(p)) + p if p else b"" for p in payloads]
        keys = os.urandom(4 * len(payloads))
        out = []
        for index, payload in enumerate(payloads):
            if not payload:
                out.append(b"")
                continue
            key = keys[4 * index : 4 * index + 4]
            out.append(
                b"".join((_header(first, 0x80, len(payload)), key, apply_mask(payload, key)))
            )
        return out

    def close_frame(self, code: int = 1000, reason: str = "") -> bytes:
        """The wire bytes of a close frame (to write before closing the socket). Any
        thread; it does not change the codec's state."""
        return Frame(Opcode.CLOSE, Close(code, reason).serialize()).serialize(mask=self._mask)

    def ping_frame(self, data: bytes = b"") -> bytes:
        """The wire bytes of a ping (the peer must answer with a pong). Any thread."""
        return Frame(Opcode.PING, data).serialize(mask=self._mask)

    def receive(self, data: bytes) -> WebSocketInput:
        """Take received bytes (``b""`` at the end of the stream) after the handshake.

        Only one thread may call this (the reader).

        The bytes are cut into whole frames here (an incomplete last frame waits for the
        next call), so websockets' protocol only ever sees whole frames: the common case
        (a final, unmasked text or binary frame outside a fragmented message) is taken
        here without it, every other frame (control frames, fragments, anything invalid)
        goes through it, in order, so its state and checks stay exact.

        Returns:
            The STOMP payload, control frames to write and, at the end, the close reason.
            At the end of the stream without a close frame ``closed`` has code 1006.
        """
        protocol = self._protocol
        if not self._fast:  # the server side: every (masked) frame through the protocol
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            parsed = [*self._early, *protocol.events_received()]
            self._early = []
            return self._decoded(parsed, protocol.data_to_send())
        chunks: list[bytes] = []
        writes: list[bytes] = []
        events: list[Event] = self._early
        self._early = []
        if not data:  # the end: what is left (an incomplete frame) is the protocol's to judge
            if self._pending:
                protocol.receive_data(self._pending)
                self._pending = b""
            protocol.receive_eof()
            return self._decoded([*events, *protocol.events_received()], protocol.data_to_send())
        if self._pending:
            data = self._pending + data
            self._pending = b""
        if events:
            self._collect(events, chunks)
        size = len(data)
        offset = 0
        slow = -1  # start of a run of frames for the protocol
        fast_ok = self._fast and protocol.state is State.OPEN
        while offset + 2 <= size:
            first, second = data[offset], data[offset + 1]
            start = offset + 2
            length = second & 0x7F
            if length == 126:
                start += 2
                if start > size:
                    break
                length = int.from_bytes(data[offset + 2 : start], "big")
            elif length == 127:
                start += 8
                if start > size:
                    break
                length = int.from_bytes(data[offset + 2 : start], "big")
            if second & 0x80:
                start += 4
            end = start + length
            if end > size:
                break
            if (
                fast_ok
                and first in (0x81, 0x82)
                and not second & 0x80
                and slow < 0
                and protocol.current_size is None  # no fragmented message open
            ):
                if length:
                    chunks.append(data[start:end])
                if first == 0x81:
                    self.text_messages += 1
                else:
                    self.binary_messages += 1
                offset = end
                continue
            if slow < 0:
                slow = offset
            offset = end
            # hand the run to the protocol before the next frame that could be fast
            if end + 2 <= size and data[end] in (0x81, 0x82) and not data[end + 1] & 0x80:
                self._through_protocol(data[slow:end], chunks, writes)
                slow = -1
                fast_ok = self._fast and protocol.state is State.OPEN
        if slow >= 0:
            self._through_protocol(data[slow:offset], chunks, writes)
        if offset < size:
            self._pending = data[offset:]
        if not chunks and not writes and not events and self._closed_info is None:
            return _NOTHING
        payload = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return WebSocketInput(bytes(payload), b"".join(writes), self._closed())

    def _through_protocol(self, frames: bytes, chunks: list[bytes], writes: list[bytes]) -> None:
        """Whole frames through websockets' protocol; their data and replies collected."""
        protocol = self._protocol
        protocol.receive_data(frames)
        self._collect(protocol.events_received(), chunks)
        writes.extend(chunk for chunk in protocol.data_to_send() if chunk)
        self._closed_info = self._closed()

    def _collect(self, events: list[Event], chunks: list[bytes]) -> None:
        for event in events:
            if not isinstance(event, Frame):
                continue
            opcode = event.opcode
            if opcode in _DATA:
                if opcode is not Opcode.CONT:
                    self._in_binary = opcode is Opcode.BINARY
                if event.data and not (self._ignore_binary and self._in_binary):
                    chunks.append(bytes(event.data))
                if opcode is Opcode.TEXT:
                    self.text_messages += 1
                elif opcode is Opcode.BINARY:
                    self.binary_messages += 1
            elif opcode is Opcode.PONG:
                self.pongs_received += 1

    def take_early(self) -> WebSocketInput:
        """What came together with the handshake (frames a server sent right after its
        answer): call once after the handshake, before the first :meth:`receive`."""
        if self._fast:  # the client: bytes that came behind the 101 wait in _pending
            data, self._pending = self._pending, b""
            return self.receive(data) if data else _NOTHING
        events, self._early = self._early, []
        return self._decoded(events, [])

    def _decoded(self, events: list[Event], writes: list[bytes]) -> WebSocketInput:
        chunks: list[bytes] = []
        self._collect(events, chunks)
        payload = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return WebSocketInput(payload, b"".join(w for w in writes if w), self._closed())

    def _closed(self) -> CloseInfo | None:
        protocol = self._protocol
        received = protocol.close_rcvd
        if received is not None:
            return CloseInfo(received.code, received.reason)
        exc = protocol.parser_exc
        if isinstance(exc, EOFError) or (exc is None and protocol.reader.eof):
            return CloseInfo(1006, "the stream ended without a close frame")
        if exc is not None:
            return CloseInfo(protocol.close_sent.code if protocol.close_sent else 1002, str(exc))
        return None


#: The subprotocol ActiveMQ Classic (5.18) answers when it knows none of the offered ones
#: (or none was offered), although nobody offered it: taken as "no version chosen".
GENERIC_SUBPROTOCOL = "stomp"


class _StompClientProtocol(ClientProtocol):
    """websockets' client protocol, also accepting ActiveMQ's unrequested ``stomp`` answer."""

    def process_subprotocol(self, headers: Headers) -> Subprotocol | None:
        if headers.get_all("Sec-WebSocket-Protocol") == [GENERIC_SUBPROTOCOL]:
            return Subprotocol(GENERIC_SUBPROTOCOL)
        return super().process_subprotocol(headers)


class WebSocketClient(_Endpoint):
    """The client side of one WebSocket connection (sans-I/O).

    Args:
        host: the host to name in the ``Host`` header (the URL's).
        port: the port (left out of ``Host`` when it is the default of the scheme).
        secure: ``wss`` (decides the default port in ``Host``; TLS itself is the
            transport's).
        resource: the request target: path and query, e.g. ``"/ws"`` or ``"/stomp?x=1"``.
        versions: the STOMP versions configured; their subprotocols are offered.
        extra_headers: more request headers (``Authorization``, ``Cookie``, ``Origin``...);
            never logged, never in a repr or error message.
        text: send text WebSocket messages instead of binary ones.
        pack: the transport's packing of whole STOMP frames per message, in bytes (0: one
            frame per message; None: automatic, decided by :meth:`adopt_server` from the
            CONNECTED frame); see :class:`~stomp_enterprise.transport.WebSocketOptions`.
        url: the credential-free URL named in errors.

    Raises:
        ConfigError: an extra header would replace one the handshake needs, or is not
            valid in an HTTP header.
    """

    _mask = True
    _fast = True

    def __init__(
        self,
        host: str,
        port: int,
        *,
        secure: bool,
        resource: str = "/",
        versions: Sequence[str] = ("1.2", "1.1", "1.0"),
        extra_headers: Mapping[str, str] | None = None,
        text: bool = False,
        pack: int | None = 0,
        url: str | None = None,
    ) -> None:
        scheme = "wss" if secure else "ws"
        shown = f"[{host}]" if ":" in host else host
        if not resource.startswith("/"):
            resource = "/" + resource
        self.url = url or f"{scheme}://{shown}:{port}{resource}"
        self.text = text
        self.pack = pack or 0
        self._auto_pack = pack is None
        self.versions = tuple(versions)
        self._offered = [Subprotocol(name) for name in subprotocols_for(versions)]
        uri = parse_uri(f"{scheme}://{shown}:{port}{resource}")
        self._client = _StompClientProtocol(
            uri, subprotocols=self._offered, max_size=None, logger=_SILENT
        )
        self._protocol = self._client
        self._headers: list[tuple[str, str]] = []
        for name, value in (extra_headers or {}).items():
            if name.lower() in _RESERVED:
                raise ConfigError(f"WebSocket header {name!r} is set by the handshake itself")
            if not _is_token(name) or any(c in value for c in "\r\n\0"):
                raise ConfigError(f"WebSocket header {name!r} is not a valid HTTP header")
            self._headers.append((name, value))
        self.subprotocol: str | None = None
        self._done = False
        self._head = b""  # the response so far, until its head is complete
        self._early = []

    def __repr__(self) -> str:
        extra = f", {len(self._headers)} extra header(s)" if self._headers else ""
        return f"<WebSocketClient {self.url} subprotocol={self.subprotocol!r}{extra}>"

    def handshake_request(self) -> bytes:
        """The HTTP upgrade request to write first (call once)."""
        protocol = self._client
        request = protocol.connect()
        for name, value in self._headers:
            request.headers[name] = value
        protocol.send_request(request)
        return b"".join(protocol.data_to_send())

    def receive_handshake(self, data: bytes) -> bool:
        """Take response bytes (``b""`` when the server closed the stream).

        Returns:
            True once the server accepted (``101``): :attr:`subprotocol` is set; bytes the
            server sent after the response are returned by the next :meth:`receive`.
            False while the response is incomplete.

        Raises:
            ConnectFailed: the server answered another status (named, with the URL), its
                answer was not a valid WebSocket handshake, or it closed the stream.
        """
        protocol = self._protocol
        if data:
            # A 101 has no body: the protocol gets its head only, frames behind it wait
            # for receive(), which cuts frames itself (see there). Any other answer goes
            # to the protocol whole (it reads a body to report the refusal).
            head = self._head + data
            end = head.find(b"\r\n\r\n")
            if end < 0 and len(head) < _MAX_HEAD:
                self._head = head
                return False
            self._head = b""
            if head.startswith(b"HTTP/1.1 101 ") and end >= 0:
                head, self._pending = head[: end + 4], head[end + 4 :]
            protocol.receive_data(head)
        else:
            if self._head:
                protocol.receive_data(self._head)
            protocol.receive_eof()
        exc = protocol.handshake_exc
        if exc is not None:
            raise ConnectFailed(self._refusal(exc)) from exc
        if protocol.state is State.OPEN:
            self._done = True
            events = protocol.events_received()
            response = next(e for e in events if isinstance(e, Response))
            self.subprotocol = _accepted(response.headers)
            return True
        if not data:
            raise ConnectFailed(
                f"{self.url}: the server closed the connection during the handshake"
            )
        return False

    def _refusal(self, exc: Exception) -> str:
        if isinstance(exc, InvalidStatus):
            response = exc.response
            text = f"{self.url}: WebSocket upgrade refused: HTTP {response.status_code}"
            if response.reason_phrase:
                text += f" {response.reason_phrase}"
            if response.status_code == 400 and self._offered:
                text += f" (subprotocols offered: {', '.join(self._offered)})"
            return text
        if isinstance(exc, NegotiationError):
            return f"{self.url}: WebSocket handshake failed: {exc}"
        if isinstance(exc, InvalidHandshake):
            return f"{self.url}: not a WebSocket server ({exc})"
        return f"{self.url}: WebSocket handshake failed ({exc})"

    def adopt_server(self, server: str | None) -> None:
        """Automatic packing (``pack=None``): after CONNECTED, pack up to :data:`AUTO_PACK`
        bytes per message when its ``server`` header names a broker known to read every
        STOMP frame of a WebSocket message (Artemis, RabbitMQ); one frame per message for
        any other (ActiveMQ Classic reads only the first frame of a message). A ``pack``
        given explicitly is kept. Call from the thread that ran the handshake, before the
        first :meth:`wire` of the connection's writer."""
        if self._auto_pack:
            self.pack = AUTO_PACK if flavour_of(server) in _PACKING_BROKERS else 0

    def wire(self, frames: Sequence[bytes]) -> list[bytes]:
        """Whole STOMP ``frames`` as messages, a list parallel to ``frames``: one message
        per frame, or with :attr:`pack` consecutive frames packed up to that many bytes (a
        bigger frame alone), the message's bytes at its first frame and ``b""`` at the
        others, so a message cut in the middle counts none of its frames as written (a
        broker parses whole messages only). Any thread."""
        pack = self.pack
        if not pack:
            return self.encode_many(frames)
        wire = [b""] * len(frames)
        firsts: list[int] = []
        payloads: list[bytes] = []
        index, count = 0, len(frames)
        while index < count:
            end, size = index + 1, len(frames[index])
            while end < count and size + len(frames[end]) <= pack:
                size += len(frames[end])
                end += 1
            firsts.append(index)
            payloads.append(frames[index] if end == index + 1 else b"".join(frames[index:end]))
            index = end
        for first, message in zip(firsts, self.encode_many(payloads), strict=True):
            wire[first] = message
        return wire

    def stomp_versions(self) -> tuple[str, ...]:
        """The STOMP versions to offer in CONNECT (see :func:`versions_for`); after the
        handshake."""
        return versions_for(self.subprotocol, self.versions)

    def receive(self, data: bytes) -> WebSocketInput:
        """See :meth:`_Endpoint.receive`; call only after the handshake succeeded."""
        if not self._done:
            raise ConnectFailed(f"{self.url}: WebSocket data before the handshake ended")
        return super().receive(data)


def _accepted(headers: Headers) -> str | None:
    values = headers.get_all("Sec-WebSocket-Protocol")
    return values[0].strip() if values else None


def _is_token(name: str) -> bool:
    return bool(name) and all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in name)


class WebSocketServer(_Endpoint):
    """The server side of one WebSocket connection (sans-I/O), for the test broker.

    Args:
        subprotocols: the subprotocols accepted, preferred first; an offer with none of
            them (or no offer) is accepted without a subprotocol, as ActiveMQ does.
        text: send text WebSocket messages instead of binary ones.
        reject: answer every upgrade with this HTTP status instead of 101 (fault injection).
        ignore_binary: drop binary messages unread, as ActiveMQ Classic 5.18 does (only text
            messages carry STOMP there).
    """

    _mask = False

    def __init__(
        self,
        subprotocols: Sequence[str] = tuple(SUBPROTOCOLS.values()),
        *,
        text: bool = False,
        reject: int | None = None,
        ignore_binary: bool = False,
    ) -> None:
        self.text = text
        self._ignore_binary = ignore_binary
        self._accept = [Subprotocol(name) for name in subprotocols]
        self._reject = reject
        self._server = ServerProtocol(
            subprotocols=self._accept,
            select_subprotocol=_select_or_none,
            max_size=None,
            logger=_SILENT,
        )
        self._protocol = self._server
        self.subprotocol: str | None = None
        self.request: Request | None = None
        self._early = []

    def receive_handshake(
        self, data: bytes, *, path: str | None = None
    ) -> tuple[bytes, bool] | None:
        """Take request bytes (``b""`` at the end of the stream); a request for another
        ``path`` than the one given (if any) is answered 404.

        Returns:
            ``None`` while the request is incomplete; else the response bytes to write and
            whether the connection was accepted (when not, close after writing them).
        """
        protocol = self._server
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        events = protocol.events_received()
        request = next((e for e in events if isinstance(e, Request)), None)
        if request is None:
            if data and protocol.handshake_exc is None:
                return None
            return b"".join(protocol.data_to_send()), False
        self.request = request
        self._early = [e for e in events if isinstance(e, Frame)]
        if self._reject is not None:
            response = protocol.reject(self._reject, "refused by the test broker\n")
        elif path is not None and request.path.partition("?")[0] != path:
            response = protocol.reject(404, "no WebSocket endpoint here\n")
        else:
            response = protocol.accept(request)
        protocol.send_response(response)
        accepted = response.status_code == 101
        if accepted:
            self.subprotocol = _accepted(response.headers)
        return b"".join(protocol.data_to_send()), accepted


def _select_or_none(protocol: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    for name in protocol.available_subprotocols or ():
        if name in offered:
            return name
    return None
