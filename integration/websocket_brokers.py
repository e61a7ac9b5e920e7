"""Private real brokers that serve STOMP over WebSocket, for the WebSocket benchmark and for
developing against them without touching the shared brokers (``integration/brokers``).

* RabbitMQ with ``rabbitmq_web_stomp``: :class:`PrivateWebRabbitMQ` (``ws://127.0.0.1:PORT/ws``
  next to its plain STOMP listener).
* Artemis needs no private instance: its STOMP acceptor answers a WebSocket upgrade on the
  same port (``ws://127.0.0.1:61730/``).

Run ``python -m integration.websocket_brokers rabbitmq`` to start one and print its URLs
(Ctrl-C stops it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from integration.chaos import PrivateRabbitMQ, free_port


class PrivateWebRabbitMQ(PrivateRabbitMQ):
    """:class:`~integration.chaos.PrivateRabbitMQ` with the Web STOMP plugin listening on
    :attr:`ws_port` (path ``/ws``)."""

    name = "rabbitmq-ws"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.ws_port = free_port()

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws``."""
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    def _configure(self) -> None:
        super()._configure()
        conf = self.root / "rabbitmq.conf"
        conf.write_text(
            conf.read_text()
            + f"web_stomp.tcp.port = {self.ws_port}\n"
            + "web_stomp.tcp.ip = 127.0.0.1\n"
        )
        (self.root / "enabled_plugins").write_text("[rabbitmq_stomp,rabbitmq_web_stomp].\n")


@contextmanager
def private_web_rabbitmq(root: Path) -> Iterator[PrivateWebRabbitMQ]:
    """Start a private RabbitMQ with Web STOMP on a clean store; stopped on exit."""
    broker = PrivateWebRabbitMQ(root)
    try:
        broker.start(clean=True)
        yield broker
    finally:
        broker.stop()


def main(argv: list[str]) -> int:
    """Start the broker named in ``argv`` and print its URLs until interrupted."""
    if argv[:1] != ["rabbitmq"]:
        print("usage: python -m integration.websocket_brokers rabbitmq [DIR]", file=sys.stderr)
        return 2
    import tempfile

    root = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="stomp-ws-"))
    with private_web_rabbitmq(root) as broker:
        print(f"tcp={broker.url} ws={broker.ws_url}", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
