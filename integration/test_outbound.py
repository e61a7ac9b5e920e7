"""Issue 13 items 1-2 on real brokers: fire-and-forget sends across a cut connection.

The client talks to the broker through a loopback TCP proxy that the test can make stop
forwarding (bytes the client wrote pile up in the proxy, as in a broker's socket buffers)
and then cut (RST both ways: everything in flight is lost). With ``trackMessages=true`` the
client's marker receipts are answered by the real broker and every ``send()`` that returned
is stored at least once. No broker is stopped or killed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from integration.conftest import ClientFactory
from integration.helpers import wait_until
from integration.settings import Broker

OPTIONS = "initialReconnectDelay=50&maxReconnectDelay=500&startupMaxReconnectAttempts=0"
COUNT = 3000


class CuttingProxy:
    """Forwards 127.0.0.1:``port`` to the broker; :meth:`hold` stops forwarding client bytes,
    :meth:`cut` resets every connection (what was held or in flight is lost)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._held = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._start(self._accept, "proxy-accept")

    def _start(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._pairs.append((client, upstream))
                self._start(self._pump, "proxy-up", client, upstream, True)
                self._start(self._pump, "proxy-down", upstream, client, False)

    def _pump(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        source.settimeout(0.05)
        with contextlib.suppress(OSError):
            while True:
                if upward and self._held.is_set():
                    if self._stop.wait(0.02) or source.fileno() < 0:
                        return
                    continue
                try:
                    data = source.recv(65536)
                except TimeoutError:
                    if source.fileno() < 0:
                        return
                    continue
                if not data:
                    return
                sink.sendall(data)

    def hold(self) -> None:
        """Stop forwarding what clients write (it waits in the proxy's sockets)."""
        self._held.set()

    def cut(self) -> None:
        """Reset every connection (held bytes are dropped) and forward again."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._held.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._stop.set()
        self.cut()
        self._listener.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def proxy(broker: Broker) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(broker.host, broker.port)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.mark.timeout(180)
def test_tracked_fire_and_forget_sends_survive_a_cut_connection(
    broker: Broker, proxy: CuttingProxy, make_client: ClientFactory, names
) -> None:
    """Sends written to a connection that is then cut (with bytes lost in flight) are
    written again on the next one: every send that returned is stored at least once, and
    the marker receipts keep the tracking cache small while the broker answers."""
    destination = names("queue")
    producer = make_client(
        url=f"failover:(tcp://127.0.0.1:{proxy.port})?trackMessages=true&{OPTIONS}",
        heart_beats=(0, 0),
        timeouts={"receipt": 30.0, "send": 60.0, "connect": 10.0, "connected": 10.0},
    )
    persistent = {"persistent": "true"}
    for number in range(COUNT // 3):
        producer.send(destination, b"%06d" % number, persistent)
    producer.send(destination, b"first third", persistent, receipt=True)

    proxy.hold()  # what the client writes now never reaches the broker...
    for number in range(COUNT // 3, 2 * COUNT // 3):
        producer.send(destination, b"%06d" % number, persistent)
    assert wait_until(lambda: producer.pending_bytes == 0, 30)  # ...though it was written
    proxy.cut()
    for number in range(2 * COUNT // 3, COUNT):
        producer.send(destination, b"%06d" % number, persistent)
    producer.send(destination, b"last", persistent, receipt=True)
    assert producer.reconnects == 1
    assert producer.resent > 0

    consumer = make_client(heart_beats=(0, 0))
    sub = consumer.subscribe(destination, ack="client-individual")
    seen: list[bytes] = []
    while b"last" not in seen:
        message = sub.get(timeout=30)
        seen.append(message.body)
        message.ack()
    numbers = [int(body) for body in seen if body.isdigit()]
    assert set(numbers) == set(range(COUNT))  # every send() that returned: at least once
    duplicates = len(numbers) - COUNT
    assert duplicates <= producer.resent
    print(
        f"{broker.name}: {COUNT} sent, {len(numbers)} consumed, {duplicates} duplicates, "
        f"{producer.resent} resent"
    )
