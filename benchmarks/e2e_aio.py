"""The asyncio clients of the end-to-end benchmark (``python -m benchmarks.e2e --asyncio``).

Each adapter runs one case in one ``asyncio.run()`` (the default event loop, or uvloop with
``--loop uvloop``) inside the per-measurement process of :mod:`benchmarks.e2e_peers`: it
connects, runs the timed region, and disconnects, all in one task. CPU time is
``time.process_time()`` of that process over the timed region, as for the threaded clients
(asyncio clients start no thread, so it is the event loop's work alone).

Clients:

* ``raw-aio``: a minimal hand-written STOMP 1.2 client over asyncio streams, the asyncio twin
  of the ``raw`` client: pre-built frames, SENDs batched 64 per ``write()`` + ``drain()``,
  all ACKs of one ``read()`` in one ``write()``; the broker's limit for an asyncio client.
* ``ours-aio``: :class:`stomp_enterprise.aio.Client` (coroutine handler, ``await
  message.ack()``).
* ``stompman``: ``stompman.Client`` 3.16 (STOMP 1.2 only). Configured as its documentation
  shows, with two things made explicit: heart-beats stay at its default ``Heartbeat(1000,
  1000)`` (with ``0,0`` the broker answers ``heart-beat:0,0`` and stompman's heart-beat task
  then writes a heart-beat in a ``sleep(0)`` loop: it needs heart-beats), and the CONNECT
  ``host`` header is the broker's virtual host (``/``) rather than the TCP host name, which
  stompman always sends and RabbitMQ refuses ("access to vhost '127.0.0.1' refused"); we
  give ``ConnectionParameters(host="/")`` and a ``Connection`` subclass whose ``connect()``
  opens the TCP connection to the real address (nothing on the per-frame path changes).
  Consume uses ``subscribe_with_manual_ack`` and ``await frame.ack()``; its
  ``max_concurrent_handlers`` stays at its default (100).
* ``aiostomp``: ``aiostomp.AioStomp`` 1.7.3 (STOMP 1.1 only, no receipts API), heart-beats
  off. It neither exposes CONNECTED nor RECEIPT frames, so the adapter installs a
  ``StompReader`` subclass (in this process only) whose handler table also maps CONNECTED
  (to wait for it before timing), ERROR (to fail instead of waiting) and RECEIPT (for the
  final receipted SEND), and which adds the ``host`` header STOMP 1.1 requires and aiostomp
  omits (ActiveMQ and RabbitMQ accept a CONNECT without it; the in-process broker of the
  smoke test does not); message handling, sending and acking are aiostomp's own.
  Consume acks through aiostomp's ``auto_ack`` path (the handler returns ``True``).

The threaded :class:`stomp_enterprise.Client` (``ours``) is measured in the same run as the
reference for the asyncio client's CPU per message.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from benchmarks.e2e_peers import (
    _BATCH,
    _RECV,
    APP_HEADERS,
    CONTENT_TYPE,
    LOGIN,
    PASSCODE,
    Meter,
    NotApplicable,
    _header,
    connect_frame,
    host_port,
    send_frame,
    split_frames,
)

#: the cases of the asyncio section (the others are n/a for these adapters)
AIO_CASES: tuple[str, ...] = ("produce", "produce-headers", "consume", "consume-headers")
_WAIT = 300.0  # seconds: the longest a case waits for the broker (a guard, never reached)


def run_loop(main: Coroutine[Any, Any, int], loop: str) -> int:
    """Run ``main`` to completion on a fresh event loop of the kind ``loop`` names
    (``asyncio``: the default loop; ``uvloop``)."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


class AsyncAdapter(abc.ABC):
    """The synchronous face :func:`benchmarks.e2e_peers.measure` calls; each case runs
    connect, the timed region and disconnect in one task on a fresh event loop."""

    name = "?"
    loop = "asyncio"

    def __init__(self, url: str, vhost: str | None) -> None:
        self.url, self.vhost = url, vhost

    # -- what each client implements --------------------------------------------------------

    @abc.abstractmethod
    async def connect(self) -> None:
        """Connect (not timed)."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Disconnect (not timed)."""

    @abc.abstractmethod
    async def produce_async(
        self, dest: str, count: int, body: bytes, meter: Meter, with_headers: bool
    ) -> int:
        """N-1 SENDs without receipt, then one receipted SEND; timed until its RECEIPT.
        ``with_headers``: content type + 3 application headers on every SEND."""

    @abc.abstractmethod
    async def consume_async(self, dest: str, count: int, meter: Meter, read: bool) -> int:
        """Subscribe client-individual and ACK each of N messages; timed from SUBSCRIBE to
        the N-th ACK written. ``read``: the handler reads two headers and the text body
        (returns how many had them, which must equal N)."""

    # -- the cases ------------------------------------------------------------------------

    def _run(self, case: Callable[[], Awaitable[int]]) -> int:
        async def session() -> int:
            await self.connect()
            try:
                return await case()
            finally:
                await self.disconnect()

        return run_loop(session(), self.loop)

    def close(self) -> None:  # noqa: B027 - measure() calls it; nothing is left open here
        """Nothing to do: every case disconnects in its own event loop."""

    def produce(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        return self._run(lambda: self.produce_async(dest, count, body, meter, False))

    def produce_headers(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        return self._run(lambda: self.produce_async(dest, count, body, meter, True))

    def consume(self, dest: str, count: int, meter: Meter) -> int:
        return self._run(lambda: self.consume_async(dest, count, meter, False))

    def consume_headers(self, dest: str, count: int, meter: Meter) -> int:
        return self._run(lambda: self.consume_async(dest, count, meter, True))

    def __getattr__(self, case: str) -> Callable[..., Any]:
        """Every other case of :mod:`benchmarks.e2e_peers` is n/a here."""
        if case.startswith("_"):
            raise AttributeError(case)

        def not_applicable(*args: Any, **kwargs: Any) -> Any:
            raise NotApplicable(f"the asyncio section runs {', '.join(AIO_CASES)} only")

        return not_applicable


def _read_ok(headers: Any, text: str) -> bool:
    """What the ``consume-headers`` handler reads: two application headers and the text."""
    return bool(headers["x-app-id"] and headers["x-trace"] and text)


# --------------------------------------------------------------------------------------------
# raw asyncio
# --------------------------------------------------------------------------------------------


class RawAio(AsyncAdapter):
    name = "raw-aio"

    async def connect(self) -> None:
        host, port = host_port(self.url)
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self._buf = b""
        self.writer.write(connect_frame(self.vhost))
        command, head, body = (await self.frames(wanted=1))[0]
        if command != b"CONNECTED":
            raise ConnectionError(f"CONNECT refused: {command!r} {head!r} {body!r}")

    async def disconnect(self) -> None:
        self.writer.write(b"DISCONNECT\n\n\0")
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def frames(self, wanted: int = 0) -> list[tuple[bytes, bytes, bytes]]:
        """Read at least once, until at least ``wanted`` complete frames are buffered."""
        out: list[tuple[bytes, bytes, bytes]] = []
        while True:
            data = await self.reader.read(_RECV)
            if not data:
                raise ConnectionError("broker closed the connection")
            frames, self._buf = split_frames(self._buf + data if self._buf else data)
            out += frames
            if len(out) >= wanted:
                return out

    async def wait_receipt(self, receipt: bytes) -> None:
        while True:
            for command, head, body in await self.frames():
                if command == b"RECEIPT" and _header(head, b"receipt-id") == receipt:
                    return
                if command == b"ERROR":
                    raise ConnectionError(f"ERROR: {head!r} {body!r}")

    async def produce_async(
        self, dest: str, count: int, body: bytes, meter: Meter, with_headers: bool
    ) -> int:
        headers = {"content-type": CONTENT_TYPE, **APP_HEADERS} if with_headers else None
        writer = self.writer
        frame = send_frame(dest, body, headers=headers)
        meter.start()
        remaining = count - 1
        while remaining > 0:
            n = min(_BATCH, remaining)
            writer.write(frame * n)
            await writer.drain()
            remaining -= n
        writer.write(send_frame(dest, body, "done", headers))
        await self.wait_receipt(b"done")
        meter.stop()
        return count

    async def consume_async(self, dest: str, count: int, meter: Meter, read: bool) -> int:
        writer = self.writer
        got = seen = 0
        meter.start()
        subscribe = b"SUBSCRIBE\nid:s1\ndestination:%s\nack:client-individual\n\n\0"
        writer.write(subscribe % dest.encode())
        while got < count:
            acks = []
            for command, head, body in await self.frames():
                if command == b"MESSAGE":
                    if read and _header(head, b"x-app-id") and _header(head, b"x-trace"):
                        seen += len(body.decode("utf-8")) > 0
                    acks.append(b"ACK\nid:%s\n\n\0" % _header(head, b"ack"))
            if acks:
                writer.write(b"".join(acks))
                await writer.drain()
                got += len(acks)
        meter.stop()
        writer.write(b"UNSUBSCRIBE\nid:s1\n\n\0")
        return got if not read or seen == got else seen


# --------------------------------------------------------------------------------------------
# ours (stomp_enterprise.aio)
# --------------------------------------------------------------------------------------------


class OursAio(AsyncAdapter):
    name = "ours-aio"

    async def connect(self) -> None:
        from stomp_enterprise.aio import Client

        self.client = Client(
            self.url, login=LOGIN, passcode=PASSCODE, vhost=self.vhost, heart_beats=(0, 0)
        )
        await self.client.connect()

    async def disconnect(self) -> None:
        await self.client.disconnect()

    async def produce_async(
        self, dest: str, count: int, body: bytes, meter: Meter, with_headers: bool
    ) -> int:
        send = self.client.send
        headers = APP_HEADERS if with_headers else None
        content_type = CONTENT_TYPE if with_headers else None
        meter.start()
        for _ in range(count - 1):
            await send(dest, body, headers, content_type)
        await send(dest, body, headers, content_type, receipt=True)
        meter.stop()
        return count

    async def consume_async(self, dest: str, count: int, meter: Meter, read: bool) -> int:
        done = asyncio.Event()
        got = [0, 0]

        async def handler(message: Any) -> None:
            if read and _read_ok(message.headers, message.text):
                got[1] += 1
            await message.ack()
            got[0] += 1
            if got[0] >= count:
                done.set()

        meter.start()
        sub = await self.client.subscribe(dest, handler, ack="client-individual")
        await asyncio.wait_for(done.wait(), _WAIT)
        meter.stop()
        await sub.unsubscribe()
        return got[0] if not read or got[0] == got[1] else got[1]


# --------------------------------------------------------------------------------------------
# stompman
# --------------------------------------------------------------------------------------------


class Stompman(AsyncAdapter):
    name = "stompman"

    async def connect(self) -> None:
        import stompman
        from stompman.connection import Connection

        address, port = host_port(self.url)

        class VhostConnection(Connection):
            """stompman's connection, opened to ``address`` whatever ``host`` says (the
            CONNECT ``host`` header is then the virtual host: see the module doc)."""

            @classmethod
            async def connect(cls, *, host: str, port: int, **kwargs: Any) -> Any:
                return await super().connect(host=address, port=port, **kwargs)

        self.stack = contextlib.AsyncExitStack()
        params = stompman.ConnectionParameters(
            host=self.vhost or "/", port=port, login=LOGIN, passcode=PASSCODE
        )
        self.client = await self.stack.enter_async_context(
            stompman.Client(servers=[params], connection_class=VhostConnection)
        )

    async def disconnect(self) -> None:
        await self.stack.aclose()

    async def produce_async(
        self, dest: str, count: int, body: bytes, meter: Meter, with_headers: bool
    ) -> int:
        send = self.client.send
        headers = APP_HEADERS if with_headers else None
        content_type = CONTENT_TYPE if with_headers else None
        meter.start()
        for _ in range(count - 1):
            await send(body, dest, content_type=content_type, headers=headers)
        await send(body, dest, content_type=content_type, headers=headers, receipt_timeout=_WAIT)
        meter.stop()
        return count

    async def consume_async(self, dest: str, count: int, meter: Meter, read: bool) -> int:
        done = asyncio.Event()
        got = [0, 0]

        async def handler(frame: Any) -> None:
            if read and _read_ok(frame.headers, frame.body.decode("utf-8")):
                got[1] += 1
            await frame.ack()
            got[0] += 1
            if got[0] >= count:
                done.set()

        meter.start()
        sub = await self.client.subscribe_with_manual_ack(dest, handler, ack="client-individual")
        await asyncio.wait_for(done.wait(), _WAIT)
        meter.stop()
        await sub.unsubscribe()
        return got[0] if not read or got[0] == got[1] else got[1]


# --------------------------------------------------------------------------------------------
# aiostomp
# --------------------------------------------------------------------------------------------


def _bench_reader(vhost: str) -> Any:
    """aiostomp's ``StompReader`` with CONNECTED, RECEIPT and a CONNECT ``host`` header
    (see the module doc)."""
    from aiostomp.aiostomp import StompReader

    class BenchReader(StompReader):  # type: ignore[misc]
        last: BenchReader

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._connect_headers["host"] = vhost
            self.connected = asyncio.Event()
            self.refused: str | None = None
            self.receipts: set[str] = set()
            self.receipt = asyncio.Event()
            self.handlers_map["CONNECTED"] = self._bench_connected
            self.handlers_map["RECEIPT"] = self._bench_receipt
            self.handlers_map["ERROR"] = self._bench_error
            BenchReader.last = self

        async def _bench_connected(self, frame: Any) -> None:
            await self._handle_connect(frame)
            self.connected.set()

        async def _bench_error(self, frame: Any) -> None:
            self.refused = f"ERROR {frame.headers.get('message')}"
            self.connected.set()
            await self._handle_error(frame)

        async def _bench_receipt(self, frame: Any) -> None:
            self.receipts.add(frame.headers.get("receipt-id"))
            self.receipt.set()

    return BenchReader


class Aiostomp(AsyncAdapter):
    name = "aiostomp"

    async def connect(self) -> None:
        import aiostomp.aiostomp as module

        reader = module.StompReader = _bench_reader(self.vhost or "/")  # this process only
        host, port = host_port(self.url)
        self.client = module.AioStomp(host, port, heartbeat=False, reconnect_max_attempts=1)
        await self.client.connect(username=LOGIN, password=PASSCODE)
        self.reader = reader.last
        await asyncio.wait_for(self.reader.connected.wait(), 30.0)
        if self.reader.refused:
            self.client.close()
            raise ConnectionError(self.reader.refused)

    async def disconnect(self) -> None:
        self.client.close()
        await asyncio.sleep(0)  # let the transport close

    async def wait_receipt(self, receipt: str) -> None:
        reader = self.reader
        while receipt not in reader.receipts:
            reader.receipt.clear()
            await asyncio.wait_for(reader.receipt.wait(), _WAIT)

    async def produce_async(
        self, dest: str, count: int, body: bytes, meter: Meter, with_headers: bool
    ) -> int:
        send = self.client.send
        meter.start()
        if with_headers:
            headers = {"content-type": CONTENT_TYPE, **APP_HEADERS}
            for _ in range(count - 1):
                send(dest, body, headers=headers)  # (aiostomp adds its own keys to the dict)
            send(dest, body, headers={**headers, "receipt": "done"})
        else:
            for _ in range(count - 1):
                send(dest, body)
            send(dest, body, headers={"receipt": "done"})
        await self.wait_receipt("done")
        meter.stop()
        return count

    async def consume_async(self, dest: str, count: int, meter: Meter, read: bool) -> int:
        done = asyncio.Event()
        got = [0, 0]

        async def handler(frame: Any, body: bytes) -> bool:
            if read and _read_ok(frame.headers, body.decode("utf-8")):
                got[1] += 1
            got[0] += 1
            if got[0] >= count:
                done.set()
            return True  # aiostomp ACKs when the handler returns a true value

        meter.start()
        sub = self.client.subscribe(dest, ack="client-individual", handler=handler, auto_ack=True)
        await asyncio.wait_for(done.wait(), _WAIT)  # (the N-th ACK was written in the step
        meter.stop()  # that set ``done``: aiostomp writes it as the handler returns)
        self.client.unsubscribe(sub)
        return got[0] if not read or got[0] == got[1] else got[1]


AIO_ADAPTERS: dict[str, type[AsyncAdapter]] = {
    "raw-aio": RawAio,
    "ours-aio": OursAio,
    "stompman": Stompman,
    "aiostomp": Aiostomp,
}
