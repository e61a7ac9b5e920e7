"""The asyncio byte stream (:class:`stomp_enterprise.aio.transport.Stream`) against a
scripted event-loop transport: bytes that arrive before the connection takes them, frames
the transport still buffers when it is aborted, the write watchdog."""

from __future__ import annotations

import asyncio
from typing import Any

from stomp_enterprise.aio.transport import Stream
from stomp_enterprise.errors import ConnectionLost
from stomp_enterprise.protocol.failover.address import BrokerAddress

ADDRESS = BrokerAddress(scheme="tcp", host="127.0.0.1", port=1)


class ScriptedTransport(asyncio.Transport):
    """Keeps what it is given; the test says how much the socket took (``take``)."""

    def __init__(self, protocol: Stream) -> None:
        super().__init__()
        self.protocol = protocol
        self.buffer = b""
        self.closing = False

    def write(self, data: Any) -> None:
        self.buffer += bytes(data)

    def take(self, count: int) -> None:
        self.buffer = self.buffer[count:]

    def get_write_buffer_size(self) -> int:
        return len(self.buffer)

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def abort(self) -> None:
        self.closing = True
        self.buffer = b""
        asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)


def connected() -> tuple[Stream, ScriptedTransport]:
    stream = Stream(ADDRESS, write_timeout=0.05)
    transport = ScriptedTransport(stream)
    stream.connection_made(transport)
    return stream, transport


def test_what_arrives_before_the_receiver_is_passed_to_it_in_order(run) -> None:
    """A peer that greets first (not STOMP) and closes: its bytes and the end wait for the
    connection's receiver instead of being dropped."""

    async def body() -> None:
        stream, _ = connected()
        stream.data_received(b"\x00\x00\x01\x4aActive")
        stream.data_received(b"MQ\x00")
        stream.connection_lost(None)
        got: list[bytes] = []
        ends: list[BaseException] = []
        stream.receive(got.append, ends.append, lambda: None)
        assert got == [b"\x00\x00\x01\x4aActive", b"MQ\x00"]
        [end] = ends
        assert isinstance(end, ConnectionLost)
        stream.data_received(b"later")
        assert got[-1] == b"later"

    run(body())


def test_frames_the_transport_still_buffers_at_abort_are_unwritten(run) -> None:
    async def body() -> None:
        stream, transport = connected()
        first = [b"SEND\n\nA\x00", b"SEND\n\nBB\x00"]
        second = [b"SEND\n\nCCC\x00", b"SEND\n\nDDDD\x00"]
        stream.write(b"".join(first), first)
        stream.write(b"\n")  # a heart-beat: nobody hears about it
        stream.write(b"".join(second), second)
        transport.take(len(first[0]) + 3)  # the second frame is cut in the middle
        stream.abort()
        assert stream.take_unwritten() == [first[1], *second]
        assert stream.take_unwritten() == []
        await stream.closed

    run(body())


def test_a_graceful_close_leaves_nothing_unwritten(run) -> None:
    async def body() -> None:
        stream, transport = connected()
        frames = [b"SEND\n\nA\x00"]
        stream.write(frames[0], frames)
        transport.take(len(frames[0]))
        stream.connection_lost(None)
        assert stream.take_unwritten() == []

    run(body())


def test_a_paused_write_with_no_progress_ends_the_connection(run) -> None:
    async def body() -> None:
        stream, transport = connected()
        ends: list[BaseException] = []
        stream.receive(lambda data: None, ends.append, lambda: None)
        frames = [b"SEND\n\nA\x00"]
        stream.write(frames[0], frames)
        stream.pause_writing()
        await stream.closed
        [end] = ends
        assert isinstance(end, ConnectionLost)
        assert "no room to write for 0.05s" in str(end)
        assert stream.take_unwritten() == frames
        assert transport.closing

    run(body())
