"""Private real brokers that serve STOMP over WebSocket, for the WebSocket benchmark and for
developing against them without touching the shared brokers (``integration/brokers``).

* RabbitMQ with ``rabbitmq_web_stomp``: :class:`PrivateWebRabbitMQ` (``ws://127.0.0.1:PORT/ws``
  next to its plain STOMP listener).
* ActiveMQ Classic (the Apache distribution ``install.sh`` unpacks) with a ``ws`` connector:
  :class:`PrivateWebActiveMQ`. The shared ActiveMQ of ``start.sh`` has one too
  (``ACTIVEMQ_WS_PORT``).
* Artemis needs no private instance: its STOMP acceptor answers a WebSocket upgrade on the
  same port (``ws://127.0.0.1:61730/``).

Run ``python -m integration.websocket_brokers rabbitmq`` (or ``activemq``) to start one and
print its URLs (Ctrl-C stops it).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from integration.chaos import PrivateActiveMQ, PrivateRabbitMQ, free_port


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


#: ActiveMQ's ws connector takes text messages up to 64 KiB by default (Jetty's limit; a
#: bigger one closes the connection with 1009): raised to the STOMP connector's frame limit
WS_MAX_TEXT = 8 * 1024 * 1024


class PrivateWebActiveMQ(PrivateActiveMQ):
    """:class:`~integration.chaos.PrivateActiveMQ` (the Apache distribution that
    ``integration/brokers/install.sh activemq`` unpacks, or ``home``) with a ``ws`` connector
    on :attr:`ws_port` next to its STOMP one."""

    name = "activemq-ws"

    def __init__(self, root: Path, home: Path | None = None) -> None:
        super().__init__(root, home)
        self.ws_port = free_port()

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/``."""
        return f"ws://127.0.0.1:{self.ws_port}/"

    def _configure(self) -> None:
        super()._configure()
        conf = self.root / "conf" / "activemq.xml"
        stomp = '<transportConnector name="stomp"'
        conf.write_text(
            conf.read_text().replace(
                stomp,
                f'<transportConnector name="ws" uri="ws://127.0.0.1:{self.ws_port}'
                f'?websocket.maxTextMessageSize={WS_MAX_TEXT}"/>\n      ' + stomp,
            )
        )


@contextmanager
def private_web_rabbitmq(root: Path) -> Iterator[PrivateWebRabbitMQ]:
    """Start a private RabbitMQ with Web STOMP on a clean store; stopped on exit."""
    broker = PrivateWebRabbitMQ(root)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (and SIGINT of a background job) stop the broker

    signal.signal(signal.SIGTERM, interrupt)
    try:
        broker.start(clean=True)
        yield broker
    finally:
        broker.stop()


def main(argv: list[str]) -> int:
    """Start the broker named in ``argv`` and print its URLs until interrupted."""
    import tempfile

    if argv[:1] == ["rabbitmq"]:
        root = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="stomp-ws-"))
        broker: PrivateWebRabbitMQ | PrivateWebActiveMQ = PrivateWebRabbitMQ(root)
    elif argv[:1] == ["activemq"]:
        root = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="stomp-ws-"))
        broker = PrivateWebActiveMQ(root)
    else:
        print(
            "usage: python -m integration.websocket_brokers rabbitmq|activemq [DIR]",
            file=sys.stderr,
        )
        return 2

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (and SIGINT of a background job) stop the broker

    signal.signal(signal.SIGTERM, interrupt)
    try:
        broker.start(clean=True)
        print(f"tcp={broker.url} ws={broker.ws_url}", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
