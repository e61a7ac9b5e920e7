"""Private real brokers that serve STOMP over WebSocket, for the WebSocket benchmark and for
developing against them without touching the shared brokers (``integration/brokers``).

* RabbitMQ with ``rabbitmq_web_stomp``: :class:`PrivateWebRabbitMQ` (``ws://127.0.0.1:PORT/ws``
  next to its plain STOMP listener).
* ActiveMQ Classic from an Apache distribution with a ``ws`` connector:
  :class:`PrivateWebActiveMQ`.
* Artemis needs no private instance: its STOMP acceptor answers a WebSocket upgrade on the
  same port (``ws://127.0.0.1:61730/``).

Run ``python -m integration.websocket_brokers rabbitmq`` to start one and print its URLs
(Ctrl-C stops it).
"""

from __future__ import annotations

import signal
import subprocess
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
    """:class:`~integration.chaos.PrivateActiveMQ` from an Apache distribution (``home``:
    Debian's package lacks the ``activemq-http`` module and Jetty) with a ``ws`` connector on
    :attr:`ws_port` next to its STOMP one. Get one with ``mvn dependency:copy
    -Dartifact=org.apache.activemq:apache-activemq:5.18.3:tar.gz:bin``."""

    name = "activemq-ws"

    def __init__(self, root: Path, home: Path) -> None:
        super().__init__(root)
        self.home = home
        self.ws_port = free_port()

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/``."""
        return f"ws://127.0.0.1:{self.ws_port}/"

    def installed(self) -> bool:
        return (self.home / "bin" / "activemq.jar").is_file()

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

    def _spawn(self) -> subprocess.Popen[bytes]:
        conf = self.root / "conf"
        data = self.root / "data"
        return self._launch(
            [
                "java",
                "-Xms64m",
                "-Xmx512m",
                "-Djava.awt.headless=true",
                f"-Dactivemq.home={self.home}",
                f"-Dactivemq.base={self.root}",
                f"-Dactivemq.conf={conf}",
                f"-Dactivemq.data={data}",
                f"-Djava.io.tmpdir={data}",
                "-jar",
                str(self.home / "bin" / "activemq.jar"),
                "start",
                f"xbean:file:{conf}/activemq.xml",
            ]
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
    elif argv[:1] == ["activemq"] and len(argv) > 1:
        root = Path(argv[2]) if len(argv) > 2 else Path(tempfile.mkdtemp(prefix="stomp-ws-"))
        broker = PrivateWebActiveMQ(root, Path(argv[1]))
    else:
        print(
            "usage: python -m integration.websocket_brokers rabbitmq [DIR]\n"
            "       python -m integration.websocket_brokers activemq ACTIVEMQ_HOME [DIR]",
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
