"""SocketTransport with the WebSocket codec, over a socketpair (the server side decodes)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from stomp_enterprise.errors import ConnectionLost
from stomp_enterprise.protocol.failover import BrokerAddress
from stomp_enterprise.transport.socket import SocketTransport
from stomp_enterprise.transport.websocket import WebSocketClient, WebSocketServer


class Server:
    """The far end: a WebSocket server codec decoding what the transport wrote."""

    def __init__(self, sock: socket.socket, codec: WebSocketServer) -> None:
        self.sock = sock
        self.codec = codec
        self.payload = bytearray()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            received = self.codec.receive(chunk)
            with self._cond:
                self.payload += received.payload
                self._cond.notify_all()

    def wait_for(self, size: int) -> bytes:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.payload) >= size, 5.0)
            return bytes(self.payload)

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)


PACK = 16 * 1024


@pytest.fixture(params=[0, PACK], ids=["one-frame-each", "packed"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[SocketTransport, Server, socket.socket]]:
    ours, theirs = socket.socketpair()
    client = WebSocketClient("127.0.0.1", 1, secure=False, resource="/ws", pack=request.param)
    server = WebSocketServer()
    answer = server.receive_handshake(client.handshake_request())
    assert answer is not None
    assert client.receive_handshake(answer[0])
    address = BrokerAddress(scheme="ws", host="127.0.0.1", port=1, resource="/ws")
    transport = SocketTransport(ours, address, websocket=client)
    lost: list[ConnectionLost] = []
    transport.start_writer("test-writer", lost.append)
    peer = Server(theirs, server)
    yield transport, peer, theirs
    transport.close(2.0)
    peer.close()


def test_one_frame_per_message_or_packed_up_to_the_limit(
    pair: tuple[SocketTransport, Server, socket.socket],
) -> None:
    transport, peer, _ = pair
    frames = [b"ACK\nid:%d\n\n\0" % i for i in range(200)] + [b"SEND\n\n" + b"x" * PACK + b"\0"]
    transport.hold()  # queue them all, then one batch
    for frame in frames:
        transport.enqueue(frame, hold=True)
    transport.release()
    expected = b"".join(frames)
    assert peer.wait_for(len(expected)) == expected
    messages = peer.codec.binary_messages
    if transport.websocket is not None and transport.websocket.pack:
        assert 2 <= messages <= 3  # the ACKs (a few KiB) in one message, the big SEND alone
    else:
        assert messages == len(frames)  # what every broker reads (ActiveMQ: one per message)
    assert peer.codec.text_messages == 0


def test_a_ping_is_answered_by_the_writer_and_data_still_flows(
    pair: tuple[SocketTransport, Server, socket.socket],
) -> None:
    transport, peer, theirs = pair
    theirs.sendall(peer.codec.ping_frame(b"hello"))
    assert transport.read(5.0) is None  # a control frame only: no STOMP bytes
    transport.write(b"SEND\n\nafter\0")
    assert peer.wait_for(len(b"SEND\n\nafter\0")) == b"SEND\n\nafter\0"
    with peer._cond:
        assert peer._cond.wait_for(lambda: peer.codec.pongs_received == 1, 5.0)


def test_a_close_frame_is_raised_after_the_data_before_it(
    pair: tuple[SocketTransport, Server, socket.socket],
) -> None:
    transport, peer, theirs = pair
    theirs.sendall(
        peer.codec.encode(b"ERROR\nmessage:bye\n\n\0") + peer.codec.close_frame(1011, "oops")
    )
    data = b""
    while not data.endswith(b"\0"):
        chunk = transport.read(5.0)
        assert chunk is not None
        data += chunk
    assert data == b"ERROR\nmessage:bye\n\n\0"
    with pytest.raises(ConnectionLost, match=r"code 1011 \(internal error\): oops"):
        transport.read(5.0)
    assert transport.take_unsent() == []  # no control frame ever counts as an unsent frame
