"""One end-to-end measurement of one STOMP client, in its own process.

Run by :mod:`benchmarks.e2e` as::

    python -m benchmarks.e2e_peers CLIENT CASE --url tcp://127.0.0.1:61720 --dest /queue/x ...

and prints ONE JSON line (the last line of stdout) with what it measured. Running every
measurement in a fresh interpreter keeps CPU time and RSS per client, and keeps one library's
imports and threads from slowing down another.

Clients:

* ``raw``: plain sockets writing pre-built frames (SENDs batched 64 per ``sendall``, the ACKs of
  one ``recv`` in one ``sendall``) and a minimal parser: what the broker can do for a client
  that spends almost nothing per message.
* ``ours``: :class:`stomp_enterprise.Client`.
* ``stomp.py``: ``stomp.Connection12`` (its receiver thread calls our listener; acks from the
  listener).
* ``stompest``: ``stompest.sync.Stomp`` (single-threaded: ``receiveFrame()`` loop).
* ``raw-aio``, ``ours-aio``, ``stompman``, ``aiostomp``: the asyncio clients, see
  :mod:`benchmarks.e2e_aio` (cases ``produce``, ``produce-headers``, ``consume``,
  ``consume-headers``; ``--loop uvloop`` runs them on uvloop).

Cases (every one counts what moved; the parent checks the queue afterwards):

* ``produce``: N-1 SENDs without receipt, then one with a receipt; timed until that RECEIPT.
* ``consume``: the queue holds N messages (pre-loaded by the parent); subscribe with
  ``client-individual`` and ACK every message; timed until the N-th ACK has been written.
* ``receipt-single``: N SENDs, each waiting for its RECEIPT.
* ``receipt-pipelined``: N receipted SENDs with up to ``--window`` outstanding.
* ``threads``: ``--threads`` threads share one client and send N-1 messages between them; then
  one receipted SEND. stompest's sync client is not thread-safe: n/a.
* ``latency``: send timestamped messages at ``--rate`` msg/s to a queue this process consumes
  (auto ack); send->receive latency percentiles. stompest's sync client cannot send while it
  blocks in ``receiveFrame()``, so it uses two connections (one per thread).
* ``produce-failover``, ``produce-tracked``, ``consume-failover``, ``consume-tracked`` (ours
  only; n/a for the others, which have no ``trackMessages``): ``produce`` / ``consume`` with
  ours connected through ``failover:(URL)``, without and with ``?trackMessages=true``, so that
  only send tracking differs between the two.
* ``produce-headers``: ``produce`` with ``content-type: application/json`` and 3 application
  headers on every SEND.
* ``produce-tx``: N SENDs in transactions of ``TX_SIZE``, BEGIN and COMMIT included (ours:
  ``with client.transaction()``, whose COMMIT waits for a receipt by default; the
  others send them unreceipted); timed until the RECEIPT of the last COMMIT.
* ``produce-tx-confirmed``: ``produce-tx`` with every COMMIT receipted and its RECEIPT
  waited for before the next transaction, by every client (ours as in ``produce-tx``): the
  same guarantee for all, that each transaction was applied.
* ``consume-headers``: the queue holds N messages with ``content-type:
  text/plain;charset=utf-8`` and 5 application headers; the handler reads two of them and
  the text body, then ACKs it (client-individual).
* ``ack-tx``: ``consume``, each ACK inside a transaction committed every ``TX_SIZE`` ACKs;
  timed until the RECEIPT of the last COMMIT.
* ``rss``: N messages through one auto-ack subscription (fed by a raw-socket producer thread in
  this process, at most ``--window`` ahead of the consumer); RSS after ``--warmup`` messages and
  at the end. Gives up (``skipped``) when the projected time exceeds ``--max-seconds``.

CPU time is ``time.process_time()`` (all threads of this process) over the timed region.
``--profile PATH`` (ours/stomp.py/stompest) writes cProfile stats of every thread.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import json
import os
import resource
import socket
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

LOGIN = "guest"
PASSCODE = "guest"
CLIENTS: tuple[str, ...] = ("raw", "ours", "stomp.py", "stompest")
#: the asyncio clients (adapters in :mod:`benchmarks.e2e_aio`, imported only when asked for)
AIO_CLIENTS: tuple[str, ...] = ("raw-aio", "ours-aio", "stompman", "aiostomp")
CASES: tuple[str, ...] = (
    "produce",
    "consume",
    "receipt-single",
    "receipt-pipelined",
    "threads",
    "latency",
    "rss",
    "produce-headers",
    "produce-tx",
    "produce-tx-confirmed",
    "consume-headers",
    "ack-tx",
    "produce-failover",
    "produce-tracked",
    "consume-failover",
    "consume-tracked",
)
#: ours-only cases: (the case they run, the URI ours connects with) -- through a failover URI,
#: without / with send tracking
FAILOVER_CASES: dict[str, tuple[str, str]] = {
    "produce-failover": ("produce", "failover:({url})"),
    "produce-tracked": ("produce", "failover:({url})?trackMessages=true"),
    "consume-failover": ("consume", "failover:({url})"),
    "consume-tracked": ("consume", "failover:({url})?trackMessages=true"),
}
#: what the header cases put on every SEND / MESSAGE
APP_HEADERS: dict[str, str] = {"x-app-id": "orders", "x-tenant": "acme", "x-trace": "a1b2c3"}
CONTENT_TYPE = "application/json"
MESSAGE_HEADERS: dict[str, str] = {
    "x-app-id": "orders",
    "x-tenant": "acme",
    "x-trace": "a1b2c3d4",
    "x-priority-class": "gold",
    "x-source": "bench",
}
MESSAGE_CONTENT_TYPE = "text/plain;charset=utf-8"
TX_SIZE = 100
_RECV = 256 * 1024
_BATCH = 64
_TS_DIGITS = 20


class NotApplicable(Exception):
    """This client cannot run this case honestly."""


# --------------------------------------------------------------------------------------------
# measurement helpers
# --------------------------------------------------------------------------------------------


def rss_mb() -> float:
    """Current resident set size of this process in MB (from /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def max_rss_mb() -> float:
    """Peak RSS of this process in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Meter:
    """Wall and process-CPU time of the timed region (and the CPU split into user and
    system time, which tells the interpreter's work from the kernel's socket work)."""

    def __init__(self) -> None:
        self.wall0 = self.cpu0 = 0.0
        self.elapsed = self.cpu = 0.0
        self.times0 = self.times = os.times()
        self.user = self.system = 0.0

    def start(self) -> None:
        self.times0 = os.times()
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()

    def stop(self) -> None:
        self.elapsed = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        self.times = os.times()
        self.user = self.times.user - self.times0.user
        self.system = self.times.system - self.times0.system


class Profiler:
    """cProfile for every thread: one profiler per thread started after :meth:`install`.

    ``cpu=True`` (the asyncio clients, which run one thread) times with the thread's CPU
    clock instead of the wall clock, so that a process descheduled on a busy machine does
    not charge the wait to whatever call it was in."""

    def __init__(self, cpu: bool = False) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._main = cProfile.Profile(time.thread_time) if cpu else cProfile.Profile()

    def install(self) -> None:
        def hook(frame: Any, event: str, arg: Any) -> None:
            prof = cProfile.Profile()
            self.profiles.append(prof)
            prof.enable()  # replaces this hook for the calling thread

        threading.setprofile(hook)

    @contextlib.contextmanager
    def main_thread(self) -> Iterator[None]:
        self._main.enable()
        try:
            yield
        finally:
            self._main.disable()

    def dump(self, path: str) -> None:
        import pstats

        threading.setprofile(None)
        stats = pstats.Stats(self._main)
        for prof in self.profiles:
            with contextlib.suppress(TypeError):  # a profiler that never saw a call
                stats.add(prof)
        stats.dump_stats(path)


def timestamped(size: int) -> Callable[[], bytes]:
    """A factory of ``size``-byte bodies starting with ``perf_counter_ns()``."""
    pad = b"x" * max(0, size - _TS_DIGITS)

    def make() -> bytes:
        return b"%020d" % time.perf_counter_ns() + pad

    return make


def latency_of(body: bytes) -> float:
    """Seconds since the body's timestamp was taken."""
    return (time.perf_counter_ns() - int(body[:_TS_DIGITS])) / 1e9


def split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal integers."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 61613


# --------------------------------------------------------------------------------------------
# raw sockets
# --------------------------------------------------------------------------------------------


def _header(block: bytes, name: bytes) -> bytes | None:
    """Value of header ``name`` in a frame's header block (first occurrence)."""
    key = b"\n" + name + b":"
    i = block.find(key)
    if i < 0:
        return None
    i += len(key)
    j = block.find(b"\n", i)
    value = block[i:] if j < 0 else block[i:j]
    return value[:-1] if value.endswith(b"\r") else value


def send_frame(
    destination: str,
    body: bytes,
    receipt: str | None = None,
    headers: dict[str, str] | None = None,
    transaction: str | None = None,
) -> bytes:
    """Wire bytes of a SEND frame (as the raw client writes it)."""
    head = b"SEND\ndestination:%s\ncontent-length:%d\n" % (destination.encode(), len(body))
    for name, value in (headers or {}).items():
        head += b"%s:%s\n" % (name.encode(), value.encode())
    if transaction is not None:
        head += b"transaction:%s\n" % transaction.encode()
    if receipt is not None:
        head += b"receipt:%s\n" % receipt.encode()
    return head + b"\n" + body + b"\0"


def text_message_headers() -> dict[str, str]:
    """The headers the ``consume-headers`` case's messages carry."""
    return {"content-type": MESSAGE_CONTENT_TYPE, **MESSAGE_HEADERS}


def connect_frame(vhost: str | None) -> bytes:
    """The raw clients' CONNECT: STOMP 1.2, no heart-beats."""
    return (
        f"CONNECT\naccept-version:1.2\nhost:{vhost or '/'}\nlogin:{LOGIN}\n"
        f"passcode:{PASSCODE}\nheart-beat:0,0\n\n\0"
    ).encode()


def split_frames(buf: bytes) -> tuple[list[tuple[bytes, bytes, bytes]], bytes]:
    """The complete frames at the start of ``buf`` (``(command, header block, body)``) and
    the bytes left over: the raw clients' minimal frame splitter (no unescaping, no checks)."""
    out: list[tuple[bytes, bytes, bytes]] = []
    pos, size = 0, len(buf)
    while pos < size:
        while pos < size and buf[pos] in (10, 13):  # heart-beats / EOLs between frames
            pos += 1
        end_head = buf.find(b"\n\n", pos)
        if end_head < 0:
            break
        head = buf[pos:end_head]
        start = end_head + 2
        length = _header(head, b"content-length")
        if length is not None:
            end = start + int(length)
            if end >= size:
                break
        else:
            end = buf.find(b"\0", start)
            if end < 0:
                break
        nl = head.find(b"\n")
        command = head if nl < 0 else head[:nl]
        out.append((command.rstrip(b"\r"), head, buf[start:end]))
        pos = end + 1
    return out, buf[pos:]


class RawConnection:
    """A STOMP 1.2 connection on a plain socket, with a minimal frame splitter."""

    def __init__(self, url: str, vhost: str | None, timeout: float = 30.0) -> None:
        host, port = host_port(url)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self.sock.sendall(connect_frame(vhost))
        command, headers, body = self.next_frame()
        if command != b"CONNECTED":
            raise ConnectionError(f"CONNECT refused: {command!r} {headers!r} {body!r}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"DISCONNECT\n\n\0")
        self.sock.close()

    def frames(self) -> list[tuple[bytes, bytes, bytes]]:
        """Block for at least one ``recv`` and return the complete frames buffered so far
        (``(command, header block, body)``; may be empty)."""
        data = self.sock.recv(_RECV)
        if not data:
            raise ConnectionError("broker closed the connection")
        out, self._buf = split_frames(self._buf + data if self._buf else data)
        return out

    def next_frame(self) -> tuple[bytes, bytes, bytes]:
        while True:
            pending = getattr(self, "_pending", None)
            if pending:
                return pending.popleft()  # type: ignore[no-any-return]
            self._pending = deque(self.frames())

    def subscribe(self, destination: str, ack: str = "auto", sub_id: str = "s1") -> None:
        self.sock.sendall(
            b"SUBSCRIBE\nid:%s\ndestination:%s\nack:%s\n\n\0"
            % (sub_id.encode(), destination.encode(), ack.encode())
        )

    def wait_receipts(self, receipt_ids: set[bytes]) -> None:
        while receipt_ids:
            command, head, body = self.next_frame()
            if command == b"RECEIPT":
                receipt_ids.discard(_header(head, b"receipt-id") or b"")
            elif command == b"ERROR":
                raise ConnectionError(f"ERROR: {head!r} {body!r}")


def raw_produce(
    url: str,
    vhost: str | None,
    dest: str,
    count: int,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> None:
    """Put ``count`` messages on ``dest`` (the last one receipted), as fast as sockets go."""
    conn = RawConnection(url, vhost)
    try:
        frame = send_frame(dest, body, headers=headers)
        remaining = count - 1
        while remaining > 0:
            n = min(_BATCH, remaining)
            conn.sock.sendall(frame * n)
            remaining -= n
        conn.sock.sendall(send_frame(dest, body, "done", headers))
        conn.wait_receipts({b"done"})
    finally:
        conn.close()


def raw_drain(url: str, vhost: str | None, dest: str, expect: int, idle: float = 1.0) -> int:
    """Consume (auto ack) what is on ``dest``; stop after ``expect`` messages plus ``idle``
    seconds of silence, or after ``idle`` seconds of silence. Returns how many came."""
    conn = RawConnection(url, vhost)
    got = 0
    try:
        conn.subscribe(dest, "auto", "drain")
        conn.sock.settimeout(idle if got >= expect else max(idle, 10.0))
        while True:
            try:
                frames = conn.frames()
            except TimeoutError:
                break
            got += sum(1 for f in frames if f[0] == b"MESSAGE")
            conn.sock.settimeout(idle if got >= expect else max(idle, 10.0))
        with contextlib.suppress(OSError):
            conn.sock.sendall(b"UNSUBSCRIBE\nid:drain\n\n\0")
    finally:
        conn.close()
    return got


class Raw:
    name = "raw"

    def __init__(self, url: str, vhost: str | None) -> None:
        self.url, self.vhost = url, vhost
        self.conn = RawConnection(url, vhost)

    def close(self) -> None:
        self.conn.close()

    def produce(
        self,
        dest: str,
        count: int,
        body: bytes,
        meter: Meter,
        headers: dict[str, str] | None = None,
    ) -> int:
        sock = self.conn.sock
        frame = send_frame(dest, body, headers=headers)
        meter.start()
        remaining = count - 1
        while remaining > 0:
            n = min(_BATCH, remaining)
            sock.sendall(frame * n)
            remaining -= n
        sock.sendall(send_frame(dest, body, "done", headers))
        self.conn.wait_receipts({b"done"})
        meter.stop()
        return count

    def consume(self, dest: str, count: int, meter: Meter) -> int:
        conn = self.conn
        sock = conn.sock
        got = 0
        meter.start()
        conn.subscribe(dest, "client-individual")
        while got < count:
            acks = []
            for command, head, _body in conn.frames():
                if command == b"MESSAGE":
                    acks.append(b"ACK\nid:%s\n\n\0" % _header(head, b"ack"))
            if acks:
                sock.sendall(b"".join(acks))
                got += len(acks)
        meter.stop()
        return got

    def produce_headers(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        return self.produce(
            dest, count, body, meter, headers={"content-type": CONTENT_TYPE, **APP_HEADERS}
        )

    def produce_tx(
        self, dest: str, count: int, body: bytes, meter: Meter, *, confirmed: bool = False
    ) -> int:
        sock = self.conn.sock
        meter.start()
        for n, start in enumerate(range(0, count, TX_SIZE)):
            tx = f"tx-{n}"
            size = min(TX_SIZE, count - start)
            last = start + size >= count
            receipt = b"c-%d" % n if confirmed else b"done" if last else None
            commit = b"COMMIT\ntransaction:%s\n%s\n\0" % (
                tx.encode(),
                b"receipt:%s\n" % receipt if receipt else b"",
            )
            frame = send_frame(dest, body, transaction=tx)
            sock.sendall(b"BEGIN\ntransaction:%s\n\n\0" % tx.encode() + frame * size + commit)
            if receipt:  # every COMMIT when confirmed, else the last one
                self.conn.wait_receipts({receipt})
        meter.stop()
        return count

    def consume_headers(self, dest: str, count: int, meter: Meter) -> int:
        conn = self.conn
        sock = conn.sock
        got = 0
        seen = 0
        meter.start()
        conn.subscribe(dest, "client-individual")
        while got < count:
            acks = []
            for command, head, body in conn.frames():
                if command == b"MESSAGE":
                    if _header(head, b"x-app-id") and _header(head, b"x-trace"):
                        seen += len(body.decode("utf-8")) > 0
                    acks.append(b"ACK\nid:%s\n\n\0" % _header(head, b"ack"))
            if acks:
                sock.sendall(b"".join(acks))
                got += len(acks)
        meter.stop()
        return got if seen == got else seen

    def ack_tx(self, dest: str, count: int, meter: Meter) -> int:
        conn = self.conn
        sock = conn.sock
        got = 0
        meter.start()
        conn.subscribe(dest, "client-individual")
        out: list[bytes] = []
        while got < count:
            for command, head, _body in conn.frames():
                if command != b"MESSAGE":
                    continue
                tx = b"tx-%d" % (got // TX_SIZE)
                if got % TX_SIZE == 0:
                    out.append(b"BEGIN\ntransaction:%s\n\n\0" % tx)
                out.append(b"ACK\nid:%s\ntransaction:%s\n\n\0" % (_header(head, b"ack"), tx))
                got += 1
                if got % TX_SIZE == 0 or got == count:
                    receipt = b"receipt:done\n" if got == count else b""
                    out.append(b"COMMIT\ntransaction:%s\n%s\n\0" % (tx, receipt))
            if out:
                sock.sendall(b"".join(out))
                out.clear()
        conn.wait_receipts({b"done"})
        meter.stop()
        return got

    def receipt_single(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        conn = self.conn
        meter.start()
        for i in range(count):
            rid = b"%d" % i
            conn.sock.sendall(send_frame(dest, body, rid.decode()))
            conn.wait_receipts({rid})
        meter.stop()
        return count

    def receipt_pipelined(
        self, dest: str, count: int, body: bytes, window: int, meter: Meter
    ) -> int:
        conn = self.conn
        outstanding = 0
        confirmed = 0
        meter.start()
        for i in range(count):
            conn.sock.sendall(send_frame(dest, body, str(i)))
            outstanding += 1
            while outstanding >= window:
                for command, _h, _b in conn.frames():
                    if command == b"RECEIPT":
                        outstanding -= 1
                        confirmed += 1
        while outstanding:
            for command, _h, _b in conn.frames():
                if command == b"RECEIPT":
                    outstanding -= 1
                    confirmed += 1
        meter.stop()
        return confirmed

    def threads(self, dest: str, count: int, body: bytes, nthreads: int, meter: Meter) -> int:
        sock = self.conn.sock
        frame = send_frame(dest, body)
        lock = threading.Lock()

        def work(n: int) -> None:
            for _ in range(n):
                with lock:
                    sock.sendall(frame)

        workers = [threading.Thread(target=work, args=(n,)) for n in split(count - 1, nthreads)]
        meter.start()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        sock.sendall(send_frame(dest, body, "done"))
        self.conn.wait_receipts({b"done"})
        meter.stop()
        return count

    def latency(
        self, dest: str, count: int, size: int, rate: float, meter: Meter
    ) -> tuple[int, list[float]]:
        conn = self.conn
        samples: list[float] = []
        done = threading.Event()
        conn.subscribe(dest, "auto")

        def reader() -> None:
            while len(samples) < count:
                for command, _head, body in conn.frames():
                    if command == b"MESSAGE":
                        samples.append(latency_of(body))
            done.set()

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        make = timestamped(size)
        meter.start()
        pace(count, rate, lambda: conn.sock.sendall(send_frame(dest, make())))
        done.wait(60)
        meter.stop()
        return len(samples), samples


def pace(count: int, rate: float, send: Callable[[], object]) -> None:
    """Call ``send`` ``count`` times at ``rate`` per second (absolute schedule)."""
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(count):
        due = start + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send()


def rss_case(
    subscribe: Callable[[Callable[[], None]], None],
    url: str,
    vhost: str | None,
    dest: str,
    count: int,
    size: int,
    window: int,
    warmup: int,
    max_seconds: float,
    meter: Meter,
) -> dict[str, Any]:
    """Drive ``count`` messages through a subscription made by ``subscribe(on_message)``."""
    state = {"received": 0}
    lock = threading.Lock()

    def on_message() -> None:
        with lock:
            state["received"] += 1

    subscribe(on_message)
    producer_conn = RawConnection(url, vhost)
    frame = send_frame(dest, b"r" * size)
    stop = threading.Event()
    sent = [0]

    def produce() -> None:
        sock = producer_conn.sock
        while sent[0] < count and not stop.is_set():
            if sent[0] - state["received"] >= window:
                time.sleep(0.0005)
                continue
            n = min(_BATCH, count - sent[0])
            sock.sendall(frame * n)
            sent[0] += n

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    result: dict[str, Any] = {"rss_samples": []}
    t0 = time.perf_counter()
    while state["received"] < min(warmup, count):
        time.sleep(0.01)
        if time.perf_counter() - t0 > max_seconds:
            break
    gc.collect()
    result["rss_start_mb"] = rss_mb()
    meter.start()
    base = state["received"]
    next_sample = base
    step = max(1, (count - base) // 20)
    while state["received"] < count:
        time.sleep(0.02)
        got = state["received"]
        if got >= next_sample:
            result["rss_samples"].append([got, round(rss_mb(), 2)])
            next_sample += step
        spent = time.perf_counter() - meter.wall0
        if spent > 3.0 and got > base:
            projected = spent * (count - base) / (got - base)
            if projected > max_seconds:
                stop.set()
                result["skipped"] = (
                    f"projected {projected:.0f} s for {count} messages > {max_seconds:.0f} s"
                )
                break
    meter.stop()
    gc.collect()
    result["rss_end_mb"] = rss_mb()
    result["rss_growth_mb"] = result["rss_end_mb"] - result["rss_start_mb"]
    result["moved"] = state["received"]
    result["measured_messages"] = state["received"] - base
    stop.set()
    producer.join(10)
    producer_conn.close()
    return result


# --------------------------------------------------------------------------------------------
# ours
# --------------------------------------------------------------------------------------------


class Ours:
    name = "ours"
    #: ``WebSocketOptions(pack=...)`` over ws:// (``--ws-pack``; None: automatic, by broker)
    ws_pack: int | None = None
    ws_text = False  #: ``WebSocketOptions(text=True)`` (``--ws-text``)

    def __init__(self, url: str, vhost: str | None) -> None:
        from stomp_enterprise import Client, WebSocketOptions

        self.client = Client(
            url,
            login=LOGIN,
            passcode=PASSCODE,
            vhost=vhost,
            heart_beats=(0, 0),
            websocket=WebSocketOptions(pack=self.ws_pack, text=self.ws_text),
        )
        self.client.connect()

    def close(self) -> None:
        self.client.disconnect()

    def produce(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        send = self.client.send
        meter.start()
        for _ in range(count - 1):
            send(dest, body)
        send(dest, body, receipt=True)
        meter.stop()
        return count

    def consume(self, dest: str, count: int, meter: Meter) -> int:
        done = threading.Event()
        got = [0]

        def handler(message: Any) -> None:
            message.ack()
            got[0] += 1
            if got[0] >= count:
                done.set()

        meter.start()
        sub = self.client.subscribe(dest, handler, ack="client-individual")
        done.wait(300)
        meter.stop()
        sub.unsubscribe()
        return got[0]

    def produce_headers(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        send = self.client.send
        headers = APP_HEADERS
        meter.start()
        for _ in range(count - 1):
            send(dest, body, headers, content_type=CONTENT_TYPE)
        send(dest, body, headers, content_type=CONTENT_TYPE, receipt=True)
        meter.stop()
        return count

    def produce_tx(
        self, dest: str, count: int, body: bytes, meter: Meter, *, confirmed: bool = False
    ) -> int:
        # every COMMIT waits for its RECEIPT by default: ``confirmed`` changes nothing here
        transaction = self.client.transaction
        meter.start()
        for start in range(0, count, TX_SIZE):
            with transaction() as tx:
                send = tx.send
                for _ in range(min(TX_SIZE, count - start)):
                    send(dest, body)
        meter.stop()
        return count

    def consume_headers(self, dest: str, count: int, meter: Meter) -> int:
        done = threading.Event()
        got = [0, 0]

        def handler(message: Any) -> None:
            headers = message.headers
            if headers["x-app-id"] and headers["x-trace"] and message.text:
                got[1] += 1
            message.ack()
            got[0] += 1
            if got[0] >= count:
                done.set()

        meter.start()
        sub = self.client.subscribe(dest, handler, ack="client-individual")
        done.wait(300)
        meter.stop()
        sub.unsubscribe()
        return got[0] if got[0] == got[1] else got[1]

    def ack_tx(self, dest: str, count: int, meter: Meter) -> int:
        done = threading.Event()
        got = [0]
        client = self.client
        current: list[Any] = [None]

        def handler(message: Any) -> None:
            tx = current[0]
            if tx is None:
                tx = current[0] = client.transaction().begin()
            tx.ack(message)
            got[0] += 1
            if got[0] % TX_SIZE == 0 or got[0] >= count:
                tx.commit()
                current[0] = None
            if got[0] >= count:
                done.set()

        meter.start()
        sub = client.subscribe(dest, handler, ack="client-individual")
        done.wait(300)
        meter.stop()
        sub.unsubscribe()
        return got[0]

    def receipt_single(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        send = self.client.send
        meter.start()
        for _ in range(count):
            send(dest, body, receipt=True)
        meter.stop()
        return count

    def receipt_pipelined(
        self, dest: str, count: int, body: bytes, window: int, meter: Meter
    ) -> int:
        send_async = self.client.send_async
        pending: deque[Any] = deque()
        confirmed = 0
        meter.start()
        for _ in range(count):
            if len(pending) >= window:
                pending.popleft().result(60)
                confirmed += 1
            pending.append(send_async(dest, body))
        for future in pending:
            future.result(60)
            confirmed += 1
        meter.stop()
        return confirmed

    def threads(self, dest: str, count: int, body: bytes, nthreads: int, meter: Meter) -> int:
        send = self.client.send

        def work(n: int) -> None:
            for _ in range(n):
                send(dest, body)

        workers = [threading.Thread(target=work, args=(n,)) for n in split(count - 1, nthreads)]
        meter.start()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        send(dest, body, receipt=True)
        meter.stop()
        return count

    def latency(
        self, dest: str, count: int, size: int, rate: float, meter: Meter
    ) -> tuple[int, list[float]]:
        samples: list[float] = []
        done = threading.Event()

        def handler(message: Any) -> None:
            samples.append(latency_of(message.body))
            if len(samples) >= count:
                done.set()

        sub = self.client.subscribe(dest, handler)
        make = timestamped(size)
        send = self.client.send
        meter.start()
        pace(count, rate, lambda: send(dest, make()))
        done.wait(60)
        meter.stop()
        sub.unsubscribe()
        return len(samples), samples

    def rss_subscribe(self, dest: str) -> Callable[[Callable[[], None]], None]:
        def subscribe(on_message: Callable[[], None]) -> None:
            self.client.subscribe(dest, lambda message: on_message())

        return subscribe


# --------------------------------------------------------------------------------------------
# stomp.py
# --------------------------------------------------------------------------------------------


class StompPy:
    name = "stomp.py"

    def __init__(self, url: str, vhost: str | None) -> None:
        import stomp

        host, port = host_port(url)
        self.cond = threading.Condition()
        self.receipts: set[str] = set()
        self.receipt_count = 0
        self.on_message: Callable[[Any], None] = lambda frame: None
        owner = self

        class Listener(stomp.ConnectionListener):  # type: ignore[misc]
            def on_receipt(self, frame: Any) -> None:
                with owner.cond:
                    owner.receipts.add(frame.headers.get("receipt-id"))
                    owner.receipt_count += 1
                    owner.cond.notify_all()

            def on_message(self, frame: Any) -> None:
                owner.on_message(frame)

        if url.startswith("ws://"):  # stomp.py's WebSocket transport (websocket-client)
            self.conn = stomp.WSStompConnection(
                [(host, port)],
                ws_path=urlsplit(url).path or "/",
                heartbeats=(0, 0),
                vhost=vhost or "/",
                auto_decode=False,
            )
        else:
            self.conn = stomp.Connection12(
                [(host, port)], heartbeats=(0, 0), vhost=vhost or "/", auto_decode=False
            )
        self.conn.set_listener("bench", Listener())
        self.conn.connect(LOGIN, PASSCODE, wait=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.disconnect()

    def wait_receipt(self, rid: str, timeout: float = 60.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.receipts, timeout):
                raise TimeoutError(f"no RECEIPT {rid}")
            self.receipts.discard(rid)

    def produce(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        send = self.conn.send
        meter.start()
        for _ in range(count - 1):
            send(dest, body)
        send(dest, body, receipt="done")
        self.wait_receipt("done")
        meter.stop()
        return count

    def consume(self, dest: str, count: int, meter: Meter) -> int:
        done = threading.Event()
        got = [0]
        ack = self.conn.ack

        def on_message(frame: Any) -> None:
            headers = frame.headers
            ack(headers.get("ack") or headers["message-id"])
            got[0] += 1
            if got[0] >= count:
                done.set()

        self.on_message = on_message
        meter.start()
        self.conn.subscribe(dest, "s1", ack="client-individual")
        done.wait(300)
        meter.stop()
        self.conn.unsubscribe("s1")
        return got[0]

    def produce_headers(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        send = self.conn.send
        headers = APP_HEADERS
        meter.start()
        for _ in range(count - 1):
            send(dest, body, content_type=CONTENT_TYPE, headers=headers)
        send(dest, body, content_type=CONTENT_TYPE, headers=headers, receipt="done")
        self.wait_receipt("done")
        meter.stop()
        return count

    def produce_tx(
        self, dest: str, count: int, body: bytes, meter: Meter, *, confirmed: bool = False
    ) -> int:
        conn = self.conn
        send = conn.send
        meter.start()
        for n, start in enumerate(range(0, count, TX_SIZE)):
            tx = conn.begin()
            for _ in range(min(TX_SIZE, count - start)):
                send(dest, body, transaction=tx)
            if confirmed:
                conn.commit(tx, receipt=f"c-{n}")
                self.wait_receipt(f"c-{n}")
            elif start + TX_SIZE >= count:
                conn.commit(tx, receipt="done")
                self.wait_receipt("done")
            else:
                conn.commit(tx)
        meter.stop()
        return count

    def consume_headers(self, dest: str, count: int, meter: Meter) -> int:
        done = threading.Event()
        got = [0, 0]
        ack = self.conn.ack

        def on_message(frame: Any) -> None:
            headers = frame.headers
            if headers["x-app-id"] and headers["x-trace"] and frame.body.decode("utf-8"):
                got[1] += 1
            ack(headers.get("ack") or headers["message-id"])
            got[0] += 1
            if got[0] >= count:
                done.set()

        self.on_message = on_message
        meter.start()
        self.conn.subscribe(dest, "s1", ack="client-individual")
        done.wait(300)
        meter.stop()
        self.conn.unsubscribe("s1")
        return got[0] if got[0] == got[1] else got[1]

    def ack_tx(self, dest: str, count: int, meter: Meter) -> int:
        conn = self.conn
        ack = conn.ack
        got = [0]
        current: list[Any] = [None]

        def on_message(frame: Any) -> None:
            tx = current[0]
            if tx is None:
                tx = current[0] = conn.begin()
            headers = frame.headers
            ack(headers.get("ack") or headers["message-id"], transaction=tx)
            got[0] += 1
            if got[0] >= count:
                conn.commit(tx, receipt="done")
                current[0] = None
            elif got[0] % TX_SIZE == 0:
                conn.commit(tx)
                current[0] = None

        self.on_message = on_message
        meter.start()
        conn.subscribe(dest, "s1", ack="client-individual")
        self.wait_receipt("done", 300)
        meter.stop()
        conn.unsubscribe("s1")
        return got[0]

    def receipt_single(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        send = self.conn.send
        meter.start()
        for i in range(count):
            rid = str(i)
            send(dest, body, receipt=rid)
            self.wait_receipt(rid)
        meter.stop()
        return count

    def _receipts_above(self, floor: int) -> bool:
        return self.receipt_count > floor

    def receipt_pipelined(
        self, dest: str, count: int, body: bytes, window: int, meter: Meter
    ) -> int:
        send = self.conn.send
        cond = self.cond
        meter.start()
        for i in range(count):
            if i - self.receipt_count >= window:
                with cond:  # until more than i - window receipts came
                    cond.wait_for(functools.partial(self._receipts_above, i - window), 60)
            send(dest, body, receipt=str(i))
        with cond:
            cond.wait_for(functools.partial(self._receipts_above, count - 1), 60)
        meter.stop()
        return self.receipt_count

    def threads(self, dest: str, count: int, body: bytes, nthreads: int, meter: Meter) -> int:
        send = self.conn.send

        def work(n: int) -> None:
            for _ in range(n):
                send(dest, body)

        workers = [threading.Thread(target=work, args=(n,)) for n in split(count - 1, nthreads)]
        meter.start()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        send(dest, body, receipt="done")
        self.wait_receipt("done")
        meter.stop()
        return count

    def latency(
        self, dest: str, count: int, size: int, rate: float, meter: Meter
    ) -> tuple[int, list[float]]:
        samples: list[float] = []
        done = threading.Event()

        def on_message(frame: Any) -> None:
            samples.append(latency_of(frame.body))
            if len(samples) >= count:
                done.set()

        self.on_message = on_message
        self.conn.subscribe(dest, "lat")
        make = timestamped(size)
        send = self.conn.send
        meter.start()
        pace(count, rate, lambda: send(dest, make()))
        done.wait(60)
        meter.stop()
        self.conn.unsubscribe("lat")
        return len(samples), samples

    def rss_subscribe(self, dest: str) -> Callable[[Callable[[], None]], None]:
        def subscribe(on_message: Callable[[], None]) -> None:
            self.on_message = lambda frame: on_message()
            self.conn.subscribe(dest, "rss")

        return subscribe


# --------------------------------------------------------------------------------------------
# stompest
# --------------------------------------------------------------------------------------------


def _stompest_connect(url: str, vhost: str | None) -> Any:
    from stompest.config import StompConfig
    from stompest.sync import Stomp

    host, port = host_port(url)
    config = StompConfig(f"tcp://{host}:{port}", login=LOGIN, passcode=PASSCODE, version="1.2")
    client = Stomp(config)
    client.connect(host=vhost or "/", heartBeats=(0, 0))
    return client


class Stompest:
    name = "stompest"

    def __init__(self, url: str, vhost: str | None) -> None:
        self.url, self.vhost = url, vhost
        self.client = _stompest_connect(url, vhost)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        with contextlib.suppress(Exception):
            self.client.close(flush=False)

    def _wait_receipts(self, client: Any, count: int) -> None:
        seen = 0
        while seen < count:
            frame = client.receiveFrame()
            if frame.command == "RECEIPT":
                seen += 1

    def produce(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        client = self.client
        send = client.send
        meter.start()
        for _ in range(count - 1):
            send(dest, body)
        send(dest, body, receipt="done")
        self._wait_receipts(client, 1)
        meter.stop()
        return count

    def consume(self, dest: str, count: int, meter: Meter) -> int:
        client = self.client
        got = 0
        meter.start()
        token = client.subscribe(dest, {"ack": "client-individual", "id": "s1"})
        receive, ack = client.receiveFrame, client.ack
        while got < count:
            frame = receive()
            if frame.command == "MESSAGE":
                ack(frame)
                got += 1
        meter.stop()
        client.unsubscribe(token)
        return got

    def produce_headers(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        client = self.client
        send = client.send
        headers = {"content-type": CONTENT_TYPE, **APP_HEADERS}
        meter.start()
        for _ in range(count - 1):
            send(dest, body, headers)
        send(dest, body, headers, receipt="done")
        self._wait_receipts(client, 1)
        meter.stop()
        return count

    def produce_tx(
        self, dest: str, count: int, body: bytes, meter: Meter, *, confirmed: bool = False
    ) -> int:
        client = self.client
        send = client.send
        meter.start()
        for n, start in enumerate(range(0, count, TX_SIZE)):
            tx = f"tx-{n}"
            client.begin(tx)
            headers = {"transaction": tx}
            for _ in range(min(TX_SIZE, count - start)):
                send(dest, body, headers)
            last = start + TX_SIZE >= count
            client.commit(tx, receipt=f"c-{n}" if confirmed or last else None)
            if confirmed or last:
                self._wait_receipts(client, 1)
        meter.stop()
        return count

    def consume_headers(self, dest: str, count: int, meter: Meter) -> int:
        client = self.client
        got = seen = 0
        meter.start()
        token = client.subscribe(dest, {"ack": "client-individual", "id": "s1"})
        receive, ack = client.receiveFrame, client.ack
        while got < count:
            frame = receive()
            if frame.command == "MESSAGE":
                headers = frame.headers
                if headers["x-app-id"] and headers["x-trace"] and frame.body.decode("utf-8"):
                    seen += 1
                ack(frame)
                got += 1
        meter.stop()
        client.unsubscribe(token)
        return got if got == seen else seen

    def ack_tx(self, dest: str, count: int, meter: Meter) -> int:
        client = self.client
        got = 0
        meter.start()
        token = client.subscribe(dest, {"ack": "client-individual", "id": "s1"})
        receive, send_frame_, session = client.receiveFrame, client.sendFrame, client.session
        while got < count:
            frame = receive()
            if frame.command != "MESSAGE":
                continue
            tx = f"tx-{got // TX_SIZE}"
            if got % TX_SIZE == 0:
                client.begin(tx)
            ack = session.ack(frame)
            ack.headers["transaction"] = tx
            send_frame_(ack)
            got += 1
            if got % TX_SIZE == 0 or got == count:
                client.commit(tx, receipt="done" if got == count else None)
        self._wait_receipts(client, 1)
        meter.stop()
        client.unsubscribe(token)
        return got

    def receipt_single(self, dest: str, count: int, body: bytes, meter: Meter) -> int:
        client = self.client
        meter.start()
        for i in range(count):
            client.send(dest, body, receipt=str(i))
            self._wait_receipts(client, 1)
        meter.stop()
        return count

    def receipt_pipelined(
        self, dest: str, count: int, body: bytes, window: int, meter: Meter
    ) -> int:
        client = self.client
        outstanding = confirmed = 0
        meter.start()
        for i in range(count):
            client.send(dest, body, receipt=str(i))
            outstanding += 1
            if outstanding >= window:
                self._wait_receipts(client, 1)
                outstanding -= 1
                confirmed += 1
        self._wait_receipts(client, outstanding)
        confirmed += outstanding
        meter.stop()
        return confirmed

    def threads(self, dest: str, count: int, body: bytes, nthreads: int, meter: Meter) -> int:
        raise NotApplicable("stompest.sync.Stomp is not thread-safe")

    def latency(
        self, dest: str, count: int, size: int, rate: float, meter: Meter
    ) -> tuple[int, list[float]]:
        consumer = _stompest_connect(self.url, self.vhost)  # 2nd connection: see module doc
        samples: list[float] = []
        try:
            consumer.subscribe(dest, {"ack": "auto", "id": "lat"})

            def reader() -> None:
                while len(samples) < count:
                    frame = consumer.receiveFrame()
                    if frame.command == "MESSAGE":
                        samples.append(latency_of(frame.body))

            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            make = timestamped(size)
            send = self.client.send
            meter.start()
            pace(count, rate, lambda: send(dest, make()))
            thread.join(60)
            meter.stop()
        finally:
            with contextlib.suppress(Exception):
                consumer.disconnect()
            with contextlib.suppress(Exception):
                consumer.close(flush=False)
        return len(samples), samples

    def rss_subscribe(self, dest: str) -> Callable[[Callable[[], None]], None]:
        raise NotApplicable("RSS case runs ours and stomp.py only")


ADAPTERS: dict[str, Callable[[str, str | None], Any]] = {
    "raw": Raw,
    "ours": Ours,
    "stomp.py": StompPy,
    "stompest": Stompest,
}


# --------------------------------------------------------------------------------------------
# one measurement
# --------------------------------------------------------------------------------------------


def adapter_for(client: str) -> Callable[[str, str | None], Any]:
    """The adapter class of ``client`` (the asyncio ones are imported only when asked for)."""
    if client in ADAPTERS:
        return ADAPTERS[client]
    from benchmarks.e2e_aio import AIO_ADAPTERS

    return AIO_ADAPTERS[client]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[index]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``args.case`` with ``args.client``; the result dict printed as JSON."""
    result: dict[str, Any] = {"client": args.client, "case": args.case, "count": args.count}
    if args.client in ("raw", "stompest") and args.case == "rss":
        result["na"] = "RSS case runs ours and stomp.py only"
        return result
    if args.client == "stompest" and args.case == "threads":
        result["na"] = "stompest.sync.Stomp is not thread-safe"
        return result
    url, case = args.url, args.case
    if case in FAILOVER_CASES:
        if args.client != "ours":
            result["na"] = "trackMessages is a stomp_enterprise failover option"
            return result
        case, template = FAILOVER_CASES[case]
        url = template.format(url=url)
    Ours.ws_pack, Ours.ws_text = args.ws_pack, args.ws_text
    profiler = Profiler(cpu=args.client in AIO_CLIENTS) if args.profile else None
    if profiler is not None:
        profiler.install()
    adapter = adapter_for(args.client)(url, args.vhost or None)
    if args.client in AIO_CLIENTS:
        adapter.loop = args.loop  # the event loop each case runs on
    meter = Meter()
    body = b"b" * args.size
    try:
        ctx = profiler.main_thread() if profiler is not None else contextlib.nullcontext()
        with ctx:
            if case == "produce":
                moved = adapter.produce(args.dest, args.count, body, meter)
            elif case == "consume":
                moved = adapter.consume(args.dest, args.count, meter)
            elif case == "produce-headers":
                moved = adapter.produce_headers(args.dest, args.count, body, meter)
            elif case in ("produce-tx", "produce-tx-confirmed"):
                moved = adapter.produce_tx(
                    args.dest, args.count, body, meter, confirmed=case == "produce-tx-confirmed"
                )
            elif case == "consume-headers":
                moved = adapter.consume_headers(args.dest, args.count, meter)
            elif case == "ack-tx":
                moved = adapter.ack_tx(args.dest, args.count, meter)
            elif case == "receipt-single":
                moved = adapter.receipt_single(args.dest, args.count, body, meter)
            elif case == "receipt-pipelined":
                moved = adapter.receipt_pipelined(args.dest, args.count, body, args.window, meter)
            elif case == "threads":
                moved = adapter.threads(args.dest, args.count, body, args.threads, meter)
            elif case == "latency":
                moved, samples = adapter.latency(args.dest, args.count, args.size, args.rate, meter)
                skip = min(len(samples) // 10, 200)  # first messages warm up the path
                kept = samples[skip:]
                result["p50_ms"] = percentile(kept, 50) * 1e3
                result["p99_ms"] = percentile(kept, 99) * 1e3
                result["max_ms"] = max(kept) * 1e3 if kept else float("nan")
                result["mean_ms"] = statistics.fmean(kept) * 1e3 if kept else float("nan")
                result["rate"] = args.rate
            elif case == "rss":
                rss = rss_case(
                    adapter.rss_subscribe(args.dest),
                    args.url,
                    args.vhost or None,
                    args.dest,
                    args.count,
                    args.size,
                    args.window,
                    args.warmup,
                    args.max_seconds,
                    meter,
                )
                moved = rss.pop("moved")
                result.update(rss)
            else:
                raise SystemExit(f"unknown case {args.case!r}")
    except NotApplicable as exc:
        result["na"] = str(exc)
        adapter.close()
        return result
    adapter.close()
    if profiler is not None:
        profiler.dump(args.profile)
    measured = result.get("measured_messages", moved)
    result["moved"] = moved
    result["elapsed"] = meter.elapsed
    result["cpu"] = meter.cpu
    if meter.elapsed > 0 and measured:
        result["msgs_per_s"] = measured / meter.elapsed
        result["cpu_us_per_msg"] = meter.cpu / measured * 1e6
        result["user_us_per_msg"] = meter.user / measured * 1e6  # os.times(): 10 ms ticks
        result["system_us_per_msg"] = meter.system / measured * 1e6
    result["max_rss_mb"] = max_rss_mb()
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("client", choices=(*CLIENTS, *AIO_CLIENTS))
    parser.add_argument("case", choices=CASES)
    parser.add_argument("--url", required=True)
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--dest", required=True)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--warmup", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--profile", default=None, help="write cProfile stats here")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument(
        "--ws-pack",
        type=int,
        default=None,
        help="ours over ws://: WebSocketOptions(pack=N) (default: automatic, by broker)",
    )
    parser.add_argument(
        "--ws-text",
        action="store_true",
        help="ours over ws://: text messages (ActiveMQ Classic ignores binary ones)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = measure(args)
    except Exception as exc:
        result = {"client": args.client, "case": args.case, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)
        os._exit(1)  # a peer's threads may hang on a broken connection
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # do not wait for a peer's lingering non-daemon threads


if __name__ == "__main__":
    sys.exit(main())
