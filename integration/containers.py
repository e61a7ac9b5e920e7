"""testcontainers definitions of the four brokers, for machines with a Docker engine.

Used by ``--provision=containers`` (or ``STOMP_INTEGRATION_PROVISION=containers``). Each
container publishes its STOMP port on the *same fixed loopback port* as the process brokers
(``ports.env``), so URLs, failover URIs and restarts (``docker stop``/``docker start`` keep
the port bindings) work exactly as with ``integration/brokers/*.sh``.

testcontainers and the Docker SDK are imported lazily: importing this module never needs
them, and :func:`docker_available` answers False when either is missing or no engine answers.

Images (pin them in CI; override with ``STOMP_IMAGE_<NAME>``):

* ActiveMQ Classic: ``apache/activemq-classic:5.18.6``. The image's ``activemq.xml`` has a
  STOMP connector on 61613 (``transport.maxFrameSize=104857600``, 100 MiB, so ``max_frame`` is
  that); ``ACTIVEMQ_CONNECTION_USER``/``_PASSWORD`` turn on simple authentication.
* RabbitMQ: ``rabbitmq:3-management``. The command enables ``rabbitmq_stomp`` offline,
  lets ``guest`` log in from outside the container's loopback (the port mapping is not
  loopback for RabbitMQ) and sets ``max_message_size`` to 8 MiB, then runs the entrypoint.
* Artemis: ``apache/activemq-artemis:2.40.0`` (``ARTEMIS_USER``/``ARTEMIS_PASSWORD``); its
  default ``broker.xml`` has a STOMP acceptor on 61613 without a frame limit.
* Apollo 1.7.1: ``rmohr/activemq-apollo:1.7.1`` (a community image; Apache never published
  one). Its default ``apollo.xml`` knows the users ``admin``/``password`` and the host names
  ``localhost``/``127.0.0.1``/the broker's name, and has ``max_data_length`` 100 MiB, so this
  definition connects as ``admin`` with ``host:localhost``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from integration.settings import BROKERS_DIR, Broker

__all__ = ["CONTAINER_SPECS", "ContainerSpec", "RunningContainer", "docker_available", "start"]

STOMP_PORT = 61613


@dataclass(frozen=True)
class ContainerSpec:
    """How to run one broker in a container.

    Attributes:
        image: the image (``STOMP_IMAGE_<NAME>`` overrides it).
        env: container environment.
        command: entrypoint command, or None for the image's.
        login / passcode / vhost: what the image accepts (override the process defaults).
        max_frame / oversize_error: the image's frame limit and its ERROR text.
        start_timeout: bound for the first CONNECTED.
    """

    image: str
    env: dict[str, str] = field(default_factory=dict)
    command: str | list[str] | None = None
    login: str = "guest"
    passcode: str = "guest"
    vhost: str = "/"
    max_frame: int | None = None
    oversize_error: str | None = None
    start_timeout: float = 120.0

    def image_for(self, name: str) -> str:
        return os.environ.get(f"STOMP_IMAGE_{name.upper()}", self.image)


_RABBITMQ_BOOT = (
    "rabbitmq-plugins enable --offline rabbitmq_stomp"
    " && printf 'loopback_users.guest = false\\nmax_message_size = 8388608\\n"
    "stomp.listeners.tcp.1 = 61613\\n' > /etc/rabbitmq/conf.d/90-stomp-enterprise.conf"
    " && exec docker-entrypoint.sh rabbitmq-server"
)

CONTAINER_SPECS: dict[str, ContainerSpec] = {
    "activemq": ContainerSpec(
        image="apache/activemq-classic:5.18.6",
        env={"ACTIVEMQ_CONNECTION_USER": "guest", "ACTIVEMQ_CONNECTION_PASSWORD": "guest"},
        max_frame=104_857_600,
    ),
    "rabbitmq": ContainerSpec(
        image="rabbitmq:3-management",
        command=["bash", "-c", _RABBITMQ_BOOT],
        env={"RABBITMQ_DEFAULT_USER": "guest", "RABBITMQ_DEFAULT_PASS": "guest"},
    ),
    "artemis": ContainerSpec(
        image="apache/activemq-artemis:2.40.0",
        env={"ARTEMIS_USER": "guest", "ARTEMIS_PASSWORD": "guest", "ANONYMOUS_LOGIN": "false"},
    ),
    "apollo": ContainerSpec(
        image="rmohr/activemq-apollo:1.7.1",
        login="admin",
        passcode="password",
        vhost="localhost",
        max_frame=104_857_600,
    ),
}


def docker_available() -> bool:
    """True when testcontainers is installed and a Docker engine answers a ping."""
    try:
        import docker  # the Docker SDK testcontainers uses
        import testcontainers.core.container  # noqa: F401
    except ImportError:
        return False
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not os.path.exists("/var/run/docker.sock"):
        # nothing to talk to; the SDK would leak its socket on the failed version probe
        return False
    try:
        client = docker.from_env(timeout=5)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def wait_stomp(broker: Broker, timeout: float) -> bool:
    """Wait (bounded) until ``broker`` answers CONNECT with CONNECTED (``wait_stomp.py``)."""
    args = [
        sys.executable,
        str(BROKERS_DIR / "wait_stomp.py"),
        broker.host,
        str(broker.port),
        "--timeout",
        str(int(timeout)),
        "--host",
        broker.vhost,
        "--login",
        broker.login,
        "--passcode",
        broker.passcode,
    ]
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout + 10, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


@dataclass
class RunningContainer:
    """A started broker container: its :class:`Broker` and stop/start/remove hooks."""

    broker: Broker
    container: Any
    spec: ContainerSpec

    def stop_broker(self) -> None:
        """``docker stop`` (the port binding survives)."""
        self.container.get_wrapped_container().stop(timeout=20)

    def start_broker(self) -> None:
        """``docker start`` and wait for CONNECTED."""
        self.container.get_wrapped_container().start()
        if not wait_stomp(self.broker, self.spec.start_timeout):
            raise RuntimeError(f"{self.broker.name} container gave no CONNECTED after restart")

    def remove(self) -> None:
        """Stop and remove the container."""
        self.container.stop()


def start(broker: Broker, log: Callable[[str], None] = lambda _msg: None) -> RunningContainer:
    """Start ``broker``'s container with its STOMP port published on ``broker.port``.

    Raises:
        RuntimeError: testcontainers missing, or the broker gave no CONNECTED in time.
    """
    try:
        from testcontainers.core.container import DockerContainer
    except ImportError as exc:
        raise RuntimeError("--provision=containers needs `pip install testcontainers`") from exc
    if not docker_available():
        raise RuntimeError("no Docker engine answers (testcontainers needs one)")
    spec = CONTAINER_SPECS[broker.name]
    image = spec.image_for(broker.name)
    container = DockerContainer(image).with_bind_ports(STOMP_PORT, broker.port)
    for key, value in spec.env.items():
        container = container.with_env(key, value)
    if spec.command is not None:
        container = container.with_command(spec.command)
    log(f"starting {image} for {broker.name} on port {broker.port}")
    container.start()
    try:
        host = container.get_container_host_ip()
        described = replace(
            broker.with_address(host, broker.port),
            login=spec.login,
            passcode=spec.passcode,
            vhost=spec.vhost,
            version=image.rpartition(":")[2] or "latest",
            max_frame=broker.max_frame if spec.max_frame is None else spec.max_frame,
            provision="containers",
        )
        if not wait_stomp(described, spec.start_timeout):
            raise RuntimeError(f"{broker.name} ({image}) gave no CONNECTED on port {broker.port}")
    except BaseException:
        container.stop()
        raise
    return RunningContainer(described, container, spec)
