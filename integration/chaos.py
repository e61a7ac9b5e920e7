"""Chaos harness: private, persistent ActiveMQ and RabbitMQ instances that can be SIGKILLed and
restarted, and the "nothing accepted is lost" scenario run against them (issue 13).

The standard integration brokers (``integration/brokers/ports.env``, started by ``start.sh``) are
never touched: every instance here has its own free loopback ports, its own data directory
(under ``$STOMP_CHAOS_DIR``, default a fresh ``/tmp/stomp-chaos-*``), its own Erlang node name
and epmd port, and is signalled only by the PID this module started.

Used by ``integration/test_chaos.py``; also runnable by hand::

    python -m integration.chaos run activemq tracked        # one scenario, figures to stdout
    python -m integration.chaos render                      # docs/reliability.md's table

Figures go to ``integration/chaos-results.json`` (gitignored; one entry per broker x mode x
phase, the newest wins). ``integration/chaos-before.json`` keeps the figures measured on the
code before tracked sends existed (they cannot be measured again on later code).
"""

from __future__ import annotations

import abc
import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from integration import settings
from stomp_enterprise import Client, ConfigError, Message, StompError
from stomp_enterprise.client.listeners import EVENTS

__all__ = [
    "MODES",
    "ChaosResult",
    "PrivateActiveMQ",
    "PrivateBroker",
    "PrivateRabbitMQ",
    "BrokerUnavailable",
    "load_results",
    "make_broker",
    "render_table",
    "run_scenario",
    "tracking_supported",
    "write_result",
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WAIT_STOMP = HERE / "brokers" / "wait_stomp.py"
RESULTS = Path(os.environ.get("STOMP_CHAOS_RESULTS", HERE / "chaos-results.json"))
BEFORE = HERE / "chaos-before.json"
DOC = ROOT / "docs" / "reliability.md"
#: ActiveMQ Classic: the Apache distribution ``integration/brokers/install.sh`` unpacks
ACTIVEMQ_HOME = Path(settings.activemq_home())
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
LOGIN = PASSCODE = "guest"
START_TIMEOUT = float(os.environ.get("STOMP_CHAOS_START_TIMEOUT", "120"))
STOP_TIMEOUT = 20.0

#: ``untracked``: fire-and-forget on a failover URI; ``tracked``: the same with
#: ``trackMessages=true``; ``receipted``: ``send(receipt=True)`` from several threads.
#: Fire-and-forget sends are paced; the ``-burst`` variants send as fast as the client goes
#: (its outbound queue is full at every kill).
MODES: tuple[str, ...] = (
    "tracked",
    "tracked-burst",
    "untracked",
    "untracked-burst",
    "receipted",
)
RECEIPT_THREADS = 16
_BATCH = 100


class BrokerUnavailable(RuntimeError):
    """The broker is not installed, or did not come up within the start timeout."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------- private brokers


class PrivateBroker(abc.ABC):
    """One private broker process with a persistent store.

    ``start()`` boots it (``clean=True`` wipes the store first) and waits until a real CONNECT
    is answered; ``kill()`` SIGKILLs the PID it started; ``stop()`` ends it politely (SIGTERM,
    then SIGKILL). Only PIDs this object started are ever signalled.
    """

    name = "broker"
    vhost = "/"

    def __init__(self, root: Path) -> None:
        self.root = root / self.name
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.kills = 0
        self.restart_seconds: list[float] = []

    # -- per broker
    @abc.abstractmethod
    def installed(self) -> bool:
        """Whether the broker's package (and Java, for ActiveMQ) is on this machine."""

    @abc.abstractmethod
    def _configure(self) -> None:
        """Write the broker's configuration under ``root`` (every start: same ports)."""

    @abc.abstractmethod
    def data_dirs(self) -> list[Path]:
        """The store directories (wiped by ``start(clean=True)``)."""

    @abc.abstractmethod
    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start the broker's process in its own session, output to ``log_path``."""

    def _launch(
        self, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Run ``command`` in the broker's dir and its own session, output appended to
        ``log_path`` (what every ``_spawn`` does once it has its command line)."""
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @abc.abstractmethod
    def prefetch_headers(self, count: int) -> dict[str, str]:
        """SUBSCRIBE headers that bound the broker's prefetch to ``count`` messages."""

    def _broker_pid(self, process: subprocess.Popen[bytes]) -> int:
        """The PID to signal once the broker answers (the spawned one by default)."""
        return process.pid

    # -- common
    @property
    def url(self) -> str:
        """``tcp://127.0.0.1:port``."""
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """The broker's console log (appended to across restarts)."""
        return self.root / f"{self.name}.log"

    def start(self, *, clean: bool = False) -> float:
        """Start the broker and wait for CONNECTED; returns the seconds it took.

        Raises:
            BrokerUnavailable: not installed, exited during startup, or no CONNECTED in time.
        """
        if not self.installed():
            raise BrokerUnavailable(
                f"{self.name} is not installed (integration/brokers/install.sh)"
            )
        if self.pid is not None and _alive(self.pid):
            raise RuntimeError(f"{self.name} is already running as PID {self.pid}")
        if clean:
            for path in self.data_dirs():
                shutil.rmtree(path, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self._configure()
        began = time.monotonic()
        self.process = self._spawn()
        self.pid = self.process.pid
        deadline = began + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise BrokerUnavailable(
                    f"{self.name} exited with {self.process.returncode} during startup: "
                    + self._log_tail()
                )
            if self._answers(min(5.0, max(0.5, deadline - time.monotonic()))):
                break
            if time.monotonic() > deadline:
                raise BrokerUnavailable(
                    f"{self.name}: no CONNECTED on {self.port} within {START_TIMEOUT:g}s: "
                    + self._log_tail()
                )
            time.sleep(0.2)
        self.pid = self._broker_pid(self.process)
        return time.monotonic() - began

    def _answers(self, timeout: float) -> bool:
        done = subprocess.run(
            [
                sys.executable,
                str(WAIT_STOMP),
                "127.0.0.1",
                str(self.port),
                "--host",
                self.vhost,
                "--login",
                LOGIN,
                "--passcode",
                PASSCODE,
                "--timeout",
                f"{timeout:.1f}",
            ],
            capture_output=True,
            timeout=timeout + 15,
            check=False,
        )
        return done.returncode == 0

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return "(no log)"

    def _reap(self) -> None:
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL the broker process (the PID this object started) and reap it."""
        if self.pid is None or not _alive(self.pid):
            raise RuntimeError(f"{self.name} is not running")
        os.kill(self.pid, signal.SIGKILL)
        if not _wait_gone(self.pid, 10):
            raise RuntimeError(f"{self.name}: PID {self.pid} survived SIGKILL")
        self._reap()
        self.kills += 1

    def kill_and_restart(self) -> None:
        """SIGKILL, then start again on the same store and port."""
        self.kill()
        self.restart_seconds.append(self.start())

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period. Idempotent."""
        pid, self.pid = self.pid, None
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, STOP_TIMEOUT):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 10)
        self._reap()
        self.process = None


#: ActiveMQ 5.18 logs through log4j2: the file ``-Dlog4j2.configurationFile`` names
LOG4J2 = "log4j2.properties"


def activemq_log4j2(*info: str) -> str:
    """ActiveMQ's log4j2 configuration: WARN to the console (the broker's log file), INFO for
    the broker service and the ``info`` loggers."""
    lines = [
        "rootLogger.level=WARN",
        "rootLogger.appenderRef.console.ref=Console",
        "appender.console.type=Console",
        "appender.console.name=Console",
        "appender.console.layout.type=PatternLayout",
        "appender.console.layout.pattern=%d %-5p [%t] %c{1} - %m%n",
    ]
    for index, name in enumerate(("org.apache.activemq.broker.BrokerService", *info)):
        lines += [f"logger.l{index}.name={name}", f"logger.l{index}.level=INFO"]
    return "\n".join(lines) + "\n"


class PrivateActiveMQ(PrivateBroker):
    """ActiveMQ Classic (the Apache distribution at :data:`ACTIVEMQ_HOME`) with a KahaDB store,
    STOMP only, no JMX. The store survives restarts (no ``deleteAllMessagesOnStartup``);
    ``start(clean=True)`` wipes it."""

    name = "activemq"

    def __init__(self, root: Path, home: Path | None = None) -> None:
        super().__init__(root)
        self.home = home or ACTIVEMQ_HOME

    def installed(self) -> bool:
        return (self.home / "bin" / "activemq.jar").is_file() and shutil.which("java") is not None

    def data_dirs(self) -> list[Path]:
        return [self.root / "data"]

    def prefetch_headers(self, count: int) -> dict[str, str]:
        return {"activemq.prefetchSize": str(count)}

    def _configure(self) -> None:
        conf = self.root / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (self.root / "data").mkdir(exist_ok=True)
        (conf / LOG4J2).write_text(activemq_log4j2("org.apache.activemq.store.kahadb"))
        data = self.root / "data"
        (conf / "activemq.xml").write_text(f"""\
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
                           http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="stomp-chaos"
          dataDirectory="{data}" persistent="true" useJmx="false" schedulerSupport="false"
          advisorySupport="false">
    <persistenceAdapter>
      <kahaDB directory="{data}/kahadb"/>
    </persistenceAdapter>
    <plugins>
      <simpleAuthenticationPlugin anonymousAccessAllowed="false">
        <users>
          <authenticationUser username="{LOGIN}" password="{PASSCODE}" groups="users,admins"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage percentOfJvmHeap="60"/></memoryUsage>
        <storeUsage><storeUsage limit="4 gb"/></storeUsage>
        <tempUsage><tempUsage limit="1 gb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <transportConnector name="stomp"
          uri="stomp://127.0.0.1:{self.port}?transport.maxFrameSize=8388608"/>
    </transportConnectors>
  </broker>
</beans>
""")

    def _spawn(self) -> subprocess.Popen[bytes]:
        conf = self.root / "conf"
        data = self.root / "data"
        command = [
            "java",
            "-Xms64m",
            "-Xmx512m",
            "-Djava.awt.headless=true",
            f"-Dactivemq.home={self.home}",
            f"-Dactivemq.base={self.root}",
            f"-Dactivemq.conf={conf}",
            f"-Dactivemq.data={data}",
            f"-Djava.io.tmpdir={data}",
            f"-Dlog4j2.configurationFile={(conf / LOG4J2).as_uri()}",
            "-jar",
            str(self.home / "bin" / "activemq.jar"),
            "start",
            f"xbean:file:{conf}/activemq.xml",
        ]
        return self._launch(command)


class PrivateRabbitMQ(PrivateBroker):
    """RabbitMQ (Debian ``rabbitmq-server``) with the STOMP plugin: its own node name, HOME and
    cookie, mnesia dir, distribution port and epmd port. ``/queue/...`` destinations are durable
    queues; the scenario sends ``persistent:true``. The PID signalled is the Erlang VM's
    (``RABBITMQ_PID_FILE``), not the shell wrapper's."""

    name = "rabbitmq"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"chaos{os.getpid()}@localhost"

    def installed(self) -> bool:
        return (RABBITMQ_BIN / "rabbitmq-server").is_file()

    def data_dirs(self) -> list[Path]:
        return [self.root / "mnesia"]

    def prefetch_headers(self, count: int) -> dict[str, str]:
        return {"prefetch-count": str(count)}

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.root / "home"),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_USE_LONGNAME="false",
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONFIG_FILE=str(self.root / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.root / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(self.root / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.root / "log"),
            RABBITMQ_PID_FILE=str(self.root / "beam.pid"),
            RABBITMQ_CONF_ENV_FILE=str(self.root / "rabbitmq-env.conf"),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            STOMP_CHAOS_MARKER=str(self.root),
        )
        return env

    def _configure(self) -> None:
        home = self.root / "home"
        for sub in ("home", "mnesia", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(uuid.uuid4().hex)
            cookie.chmod(0o400)
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            f"stomp.listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            "log.file.level = warning\n"
            "log.console = false\n"
        )
        (self.root / "advanced.config").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")
        (self.root / "enabled_plugins").write_text("[rabbitmq_stomp].\n")
        with contextlib.suppress(FileNotFoundError):
            (self.root / "beam.pid").unlink()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return self._launch([str(RABBITMQ_BIN / "rabbitmq-server")], self._env())

    def _broker_pid(self, process: subprocess.Popen[bytes]) -> int:
        try:
            beam = int((self.root / "beam.pid").read_text().strip())
        except (OSError, ValueError) as exc:
            raise BrokerUnavailable(f"rabbitmq: no Erlang VM PID in beam.pid: {exc}") from exc
        if not _alive(beam):
            raise BrokerUnavailable(f"rabbitmq: the Erlang VM {beam} is not running")
        return beam

    def _epmd_pid(self) -> int | None:
        """The epmd our node started on its private port (checked by its environment)."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if proc.joinpath("comm").read_text().strip() != "epmd":
                    continue
                environ = proc.joinpath("environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"ERL_EPMD_PORT={self.epmd_port}".encode() in environ:
                return int(proc.name)
        return None

    def stop(self) -> None:
        super().stop()
        epmd = self._epmd_pid()
        if epmd is not None:
            os.kill(epmd, signal.SIGTERM)
            if not _wait_gone(epmd, 5):
                os.kill(epmd, signal.SIGKILL)


def make_broker(name: str, root: Path) -> PrivateBroker:
    """A private ``activemq`` or ``rabbitmq`` rooted in ``root`` (not started)."""
    kinds: dict[str, type[PrivateBroker]] = {
        "activemq": PrivateActiveMQ,
        "rabbitmq": PrivateRabbitMQ,
    }
    if name not in kinds:
        raise ValueError(f"no private {name!r}: choose from {', '.join(kinds)}")
    return kinds[name](root)


@contextlib.contextmanager
def private_broker(name: str, root: Path | None = None) -> Iterator[PrivateBroker]:
    """Start a private broker on a clean store; always stopped on exit, and its store removed
    (its logs are kept when ``root`` is given; ``STOMP_CHAOS_KEEP=1`` keeps everything)."""
    base = root or Path(
        tempfile.mkdtemp(prefix="stomp-chaos-", dir=os.environ.get("STOMP_CHAOS_DIR"))
    )
    broker = make_broker(name, base)
    try:
        broker.start(clean=True)
        yield broker
    finally:
        broker.stop()
        if not os.environ.get("STOMP_CHAOS_KEEP"):
            for path in [base] if root is None else broker.data_dirs():
                shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- the scenario


def tracking_supported() -> bool:
    """Whether this client accepts ``trackMessages=true`` in a failover URI."""
    try:
        Client("failover:(tcp://127.0.0.1:1)?trackMessages=true")
    except ConfigError:
        return False
    return True


def code_revision() -> str:
    """``git describe`` of the working tree (``+dirty`` when it has changes)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty=+dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


@dataclass
class ChaosResult:
    """What one scenario measured. ``lost`` counts sends that returned and were never
    consumed; ``duplicates`` deliveries beyond the first of a body; ``redeliveries`` MESSAGE
    frames marked ``redelivered``; ``stored`` is what the broker kept and delivered (distinct
    bodies consumed: the consumer drains the queue until it is quiet)."""

    broker: str
    mode: str
    rate: float | None
    phase: str
    code: str
    messages: int
    kills: int
    returned: int = 0
    raised: int = 0
    raised_by_type: dict[str, int] = field(default_factory=dict)
    stored: int = 0
    consumed: int = 0
    lost: int = 0
    duplicates: int = 0
    deliveries: int = 0
    redeliveries: int = 0
    unexpected: int = 0
    ack_failures: int = 0
    producer_disconnected_s: float = 0.0
    consumer_disconnected_s: float = 0.0
    producer_reconnects: int = 0
    resent: int | None = None
    undelivered: int | None = None
    undelivered_events: int = 0
    send_seconds: float = 0.0
    total_seconds: float = 0.0
    restart_seconds: list[float] = field(default_factory=list)
    lost_sample: list[int] = field(default_factory=list)
    when: str = ""


class _Consumer:
    """Counts deliveries per message number (client-individual acks, bounded prefetch)."""

    def __init__(self, messages: int) -> None:
        self.counts = bytearray(messages)  # saturates at 255
        self.lock = threading.Lock()
        self.deliveries = 0
        self.redeliveries = 0
        self.unexpected = 0
        self.ack_failures = 0
        self.last = time.monotonic()

    def handle(self, message: Message) -> None:
        try:
            number = int(message.body[:10])
        except ValueError:
            number = -1
        with self.lock:
            self.deliveries += 1
            self.last = time.monotonic()
            if message.headers.get("redelivered") == "true":
                self.redeliveries += 1
            if 0 <= number < len(self.counts):
                if self.counts[number] < 255:
                    self.counts[number] += 1
            else:
                self.unexpected += 1
        try:
            message.ack()
        except StompError:
            # the connection it came on is gone: the broker redelivers it
            with self.lock:
                self.ack_failures += 1

    def distinct(self) -> int:
        with self.lock:
            return len(self.counts) - self.counts.count(0)


def _failover_url(broker: PrivateBroker, *, tracked: bool) -> str:
    url = (
        f"failover:({broker.url})?initialReconnectDelay=100&maxReconnectDelay=1000"
        "&useExponentialBackOff=true&maxReconnectAttempts=-1&startupMaxReconnectAttempts=0"
        "&randomize=false"
    )
    return url + ("&trackMessages=true" if tracked else "")


def _client(broker: PrivateBroker, url: str) -> Client:
    return Client(
        url,
        login=LOGIN,
        passcode=PASSCODE,
        vhost=broker.vhost,
        timeouts={"connect": 10.0, "connected": 10.0, "receipt": 60.0, "send": 120.0},
    )


_PAD = b" " + b"x" * 245


def body_of(number: int) -> bytes:
    """The unique, numbered body of message ``number`` (256 bytes: a 4 MiB send queue holds
    about 13,000 of them, so the producer is paced by the broker, not by its own queue)."""
    return b"%010d" % number + _PAD


def run_scenario(
    broker: PrivateBroker,
    mode: str,
    *,
    messages: int = 50_000,
    kills: int = 5,
    rate: float | None = 5_000.0,
    quiet: float = 8.0,
    drain_timeout: float = 120.0,
) -> ChaosResult:
    """Send ``messages`` persistent messages in ``mode`` while ``broker`` is SIGKILLed and
    restarted ``kills`` times (spread over the sends), with a client-individual consumer on
    another client throughout. Fire-and-forget sends are paced at ``rate`` per second (None,
    and every ``-burst`` mode: as fast as the client goes; receipted sends are never paced);
    then drain until
    every returned send is consumed or nothing arrives for ``quiet`` seconds (bounded by
    ``drain_timeout``)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: choose from {', '.join(MODES)}")
    result = ChaosResult(
        broker=broker.name,
        mode=mode,
        rate=None if mode.endswith("-burst") or mode == "receipted" else rate,
        phase="after" if tracking_supported() else "before",
        code=code_revision(),
        messages=messages,
        kills=kills,
        when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    queue = f"/queue/chaos-{mode}-{uuid.uuid4().hex[:8]}"
    consumer = _Consumer(messages)
    returned = bytearray(messages)
    progress = [0]  # sends attempted so far (for the kill points)
    raised: dict[str, int] = {}
    raised_lock = threading.Lock()
    started = time.monotonic()
    restarts_before = len(broker.restart_seconds)

    consuming = _client(broker, _failover_url(broker, tracked=False))
    tracked = mode.startswith("tracked")
    if mode.endswith("-burst"):
        rate = None
    producing = _client(broker, _failover_url(broker, tracked=tracked))
    undelivered_events: list[Any] = []
    if "undelivered" in EVENTS:  # the event exists once undelivered frames are reported
        producing.listeners.on("undelivered", lambda *args: undelivered_events.append(args))
    try:
        consuming.connect(timeout=60)
        consuming.subscribe(
            queue,
            consumer.handle,
            ack="client-individual",
            headers=broker.prefetch_headers(500),
            receipt=True,
        )
        producing.connect(timeout=60)
        headers = {"persistent": "true"}

        def send_range(numbers: range) -> None:
            receipt = mode == "receipted"
            next_at = time.monotonic()
            for number in numbers:
                if rate and not receipt and number % _BATCH == 0:
                    # paced (no catch-up burst after a disconnect): the kills land mid-stream
                    next_at += _BATCH / rate
                    ahead = next_at - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
                    else:
                        next_at -= ahead
                try:
                    producing.send(queue, body_of(number), headers, receipt=receipt)
                except StompError as exc:
                    with raised_lock:
                        name = type(exc).__name__
                        raised[name] = raised.get(name, 0) + 1
                else:
                    returned[number] = 1
                progress[0] += 1

        chaos_error: list[BaseException] = []

        def chaos() -> None:
            try:
                for k in range(1, kills + 1):
                    point = messages * k // (kills + 1)
                    while progress[0] < point and not done.is_set():
                        time.sleep(0.002)
                    broker.kill_and_restart()
                    # the next kill hits connected clients: wait for both to be back
                    until = time.monotonic() + 60
                    while not (producing.is_connected and consuming.is_connected):
                        if time.monotonic() > until:
                            raise RuntimeError(f"clients not reconnected 60 s after kill {k}")
                        time.sleep(0.01)
            except BaseException as exc:
                chaos_error.append(exc)

        done = threading.Event()
        killer = threading.Thread(target=chaos, name="chaos-killer")
        killer.start()
        sending = time.monotonic()
        if mode == "receipted":
            # receipted sends are one round trip each: several threads share the client
            step = RECEIPT_THREADS
            threads = [
                threading.Thread(
                    target=send_range, args=(range(i, messages, step),), name=f"chaos-send-{i}"
                )
                for i in range(step)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        else:
            send_range(range(messages))
        result.send_seconds = time.monotonic() - sending
        done.set()
        killer.join()
        if chaos_error:
            raise chaos_error[0]

        # drain: until every returned send was consumed, or the queue is quiet
        want = sum(returned)
        draining = time.monotonic()
        deadline = draining + drain_timeout
        while time.monotonic() < deadline:
            if all(consumer.counts[i] for i in range(messages) if returned[i]):
                break
            if time.monotonic() - max(consumer.last, draining) > quiet and producing.is_connected:
                break
            time.sleep(0.25)
        # duplicates still in flight are counted too: a short settle after the last one
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            time.sleep(0.1)

        result.returned = want
        result.raised = sum(raised.values())
        result.raised_by_type = dict(sorted(raised.items()))
        result.producer_disconnected_s = round(producing.disconnected_seconds, 2)
        result.consumer_disconnected_s = round(consuming.disconnected_seconds, 2)
        result.producer_reconnects = producing.reconnects
        result.resent = getattr(producing, "resent", None)
        result.undelivered = getattr(producing, "undelivered", None)
        result.undelivered_events = len(undelivered_events)
    finally:
        producing.disconnect()
        consuming.disconnect()

    with consumer.lock:
        counts = bytes(consumer.counts)
        result.deliveries = consumer.deliveries
        result.redeliveries = consumer.redeliveries
        result.unexpected = consumer.unexpected
        result.ack_failures = consumer.ack_failures
    lost = [i for i in range(messages) if returned[i] and not counts[i]]
    result.lost = len(lost)
    result.lost_sample = lost[:20]
    result.consumed = sum(1 for c in counts if c)
    result.stored = result.consumed
    result.duplicates = result.deliveries - result.consumed - result.unexpected
    result.total_seconds = round(time.monotonic() - started, 1)
    result.send_seconds = round(result.send_seconds, 1)
    result.restart_seconds = [round(s, 1) for s in broker.restart_seconds[restarts_before:]]
    return result


# ---------------------------------------------------------------- results and the doc


def load_results(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(data.get("results", []))


def write_result(result: ChaosResult, path: Path = RESULTS) -> None:
    """Add ``result`` to the JSON file, replacing an older entry of the same broker, mode and
    phase."""
    key = (result.broker, result.mode, result.phase)
    entries = [e for e in load_results(path) if (e["broker"], e["mode"], e["phase"]) != key]
    entries.append(asdict(result))
    entries.sort(key=lambda e: (e["broker"], MODES.index(e["mode"]), e["phase"]))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"results": entries}, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def _entries() -> list[dict[str, Any]]:
    """Before-figures from chaos-before.json (the kept reference: it wins over a "before"
    entry of chaos-results.json), everything else from chaos-results.json."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for entry in load_results(RESULTS) + load_results(BEFORE):
        merged[(entry["broker"], entry["mode"], entry["phase"])] = entry
    return sorted(
        merged.values(),
        key=lambda e: (e["broker"], MODES.index(e["mode"]), e["phase"] != "before"),
    )


def render_table(entries: list[dict[str, Any]]) -> str:
    """The Markdown table of docs/reliability.md."""
    lines = [
        "| broker | mode | code | sends | returned | raised | stored | consumed | lost "
        "| duplicates | redeliveries | resent | undelivered | disconnected (s) | send (s) |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]

    def opt(value: Any) -> str:
        return "n/a" if value is None else f"{value:,}"

    for e in entries:
        lines.append(
            f"| {e['broker']} | {e['mode']} | {e['phase']} | {e['messages']:,} "
            f"| {e['returned']:,} | {e['raised']:,} "
            f"| {e['stored']:,} | {e['consumed']:,} | **{e['lost']:,}** | {e['duplicates']:,} "
            f"| {e['redeliveries']:,} | {opt(e['resent'])} | {opt(e['undelivered'])} "
            f"| {e['producer_disconnected_s']:.1f} | {e['send_seconds']:.1f} |"
        )
    return "\n".join(lines)


TABLE_BEGIN = "<!-- chaos-table: begin (python -m integration.chaos render) -->"
TABLE_END = "<!-- chaos-table: end -->"


def render_doc(doc: Path = DOC) -> None:
    """Replace the table between the markers of docs/reliability.md."""
    entries = _entries()
    text = doc.read_text(encoding="utf-8")
    head, sep, rest = text.partition(TABLE_BEGIN)
    _, sep2, tail = rest.partition(TABLE_END)
    if not sep or not sep2:
        raise SystemExit(f"{doc}: no {TABLE_BEGIN} ... {TABLE_END} markers")
    runs = []
    for phase in ("before", "after"):
        mine = [e for e in entries if e["phase"] == phase]
        if mine:
            codes = ", ".join(sorted({e["code"].removesuffix("+dirty") for e in mine}))
            when = sorted(e["when"] for e in mine)
            runs.append(f"{phase}: {codes}, {when[0]} to {when[-1]}")
    body = render_table(entries) + "\n\nRuns: " + "; ".join(runs) + "."
    doc.write_text(f"{head}{TABLE_BEGIN}\n{body}\n{TABLE_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integration.chaos", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run scenarios and record their figures")
    run.add_argument("broker", choices=("activemq", "rabbitmq"))
    run.add_argument("modes", nargs="+", choices=MODES)
    run.add_argument("--messages", type=int, default=50_000)
    run.add_argument("--kills", type=int, default=5)
    run.add_argument("--rate", type=float, default=5_000.0, help="msg/s; 0: unpaced burst")
    run.add_argument("--before", action="store_true", help="also keep them in chaos-before.json")
    commands.add_parser("render", help="write docs/reliability.md's table from the JSON files")
    args = parser.parse_args(argv)
    if args.command == "render":
        render_doc()
        return 0
    with private_broker(args.broker) as broker:
        for mode in args.modes:
            rate = args.rate or None
            result = run_scenario(broker, mode, messages=args.messages, kills=args.kills, rate=rate)
            write_result(result)
            if args.before:
                write_result(result, BEFORE)
            print(json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
