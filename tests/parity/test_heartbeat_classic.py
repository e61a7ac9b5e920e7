"""Heart-beat silence limits, and ActiveMQ Classic's timer-driven heart-beats (issue 18: the
tracked producer of the cluster scenario, idle after its resent frames were receipted, was
dropped by a false heart-beat timeout on every failover to a fresh ActiveMQ master)."""

from __future__ import annotations

import socket
import threading

INTERVAL_MS = 1000


class ClassicLikeBroker:
    """A STOMP peer whose heart-beats work like ActiveMQ Classic's inactivity monitor: a timer
    of one interval, first run one interval after CONNECTED, sends a heart-beat only if
    nothing was written since its previous run. It answers every frame that asks for a
    receipt with a RECEIPT."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.heart_beats = 0
        self.settled = threading.Event()  # two heart-beats sent, or the client went away
        self.stop = threading.Event()
        self._wrote = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="classic-like-broker")
        self._thread.start()

    def _write(self, conn: socket.socket, data: bytes) -> None:
        with self._lock:
            conn.sendall(data)
            self._wrote = True

    def _timer(self, conn: socket.socket) -> None:
        while not self.stop.wait(INTERVAL_MS / 1000):
            with self._lock:
                wrote, self._wrote = self._wrote, False
                if not wrote:
                    try:
                        conn.sendall(b"\n")
                    except OSError:
                        return
                    self.heart_beats += 1
                    if self.heart_beats >= 2:
                        self.settled.set()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        timer: threading.Thread | None = None
        with conn:
            conn.settimeout(0.1)
            buffer = b""
            while not self.stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                buffer += chunk
                *frames, buffer = buffer.split(b"\x00")
                for frame in frames:
                    head = frame.lstrip(b"\r\n").split(b"\n\n", 1)[0].decode()
                    command, *lines = head.split("\n")
                    if command in ("CONNECT", "STOMP"):
                        self._write(
                            conn,
                            (
                                "CONNECTED\nversion:1.2\n"
                                f"heart-beat:{INTERVAL_MS},{INTERVAL_MS}\n"
                                f"server:{self.server}\n\n\x00"
                            ).encode(),
                        )
                        timer = threading.Thread(target=self._timer, args=(conn,))
                        timer.start()
                    for line in lines:
                        if line.startswith("receipt:"):
                            receipt = line.partition(":")[2]
                            self._write(conn, f"RECEIPT\nreceipt-id:{receipt}\n\n\x00".encode())
            self.stop.set()
            self.settled.set()
            if timer is not None:
                timer.join(5)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(10)
        self.listener.close()


def test_activemq_classic_silent_two_intervals_after_a_receipt_is_not_dead(
    new_client, recorder
) -> None:
    """The RECEIPT written just after CONNECTED makes the broker's first timer run skip its
    heart-beat; the next comes ~2 intervals after the RECEIPT, more than 1.5 intervals (the
    default tolerance) of silence after a frame: the connection must survive it."""
    broker = ClassicLikeBroker("ActiveMQ/5.17.2")
    timeouts = recorder()
    try:
        client = new_client(
            broker.url, heart_beats=(INTERVAL_MS, INTERVAL_MS), timeouts={"disconnect": 2.0}
        )
        client.listeners.on("heartbeat_timeout", timeouts)
        with client:
            client.send("/queue/x", b"x", receipt=True)
            assert broker.settled.wait(15)
            assert broker.heart_beats >= 2, f"connection dropped: {timeouts.items}"
            assert timeouts.items == []
            assert client.is_connected
    finally:
        broker.close()
