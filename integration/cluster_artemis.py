"""ActiveMQ Artemis 2.40 primary/backup pair on a shared store, on loopback (issue 18).

Two brokers, ``artemis-0`` (configured *primary*) and ``artemis-1`` (configured *backup*), share
one journal directory (``<root>/artemis-store``: bindings, journal, paging, large messages). The
one holding the journal's primary file lock (``serverlock.1``, a POSIX ``fcntl`` lock the kernel
drops the moment its holder dies) is active and serves STOMP on its own port; the other waits for
that lock with its STOMP acceptor closed. SIGKILL the active one and the waiting one takes the
lock, loads the journal and opens its acceptor: the client's ``failover:`` URI names both ports.

Why shared store and not replication: with one pair, a replicating backup that loses its primary
cannot tell a dead primary from a broken link (no third voter), so it activates anyway and risks
a split brain (both active on diverging journals) unless a quorum is added (3+ pairs, or
ZooKeeper); and a primary that comes back must first copy the whole journal from the backup
before it is a backup again. On one machine the shared store is exact instead: the kernel lock
decides who is active, there is one journal so nothing is replicated late or diverges, and a
restarted node is the waiting backup again as soon as its JVM is up. (In production the same
layout needs a shared file system with working locks, e.g. NFSv4 or a SAN.)

The roles stay where they are after a failover (``allow-failback=false``): a killed node that is
started again becomes the waiting one, so each restart costs the clients nothing and each kill
exactly one failover. ``failover-on-shutdown=true`` on both makes a polite stop (SIGTERM, as in a
rolling restart) hand over too (by default a stopped node marks the journal *paused* and the
other does not take over).

Runnable by hand (a smoke test: start, kill the active node, check the other takes over)::

    python -m integration.cluster_artemis
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import ClassVar

from integration import chaos
from integration.cluster import Cluster, _rss_mb
from stomp_enterprise import Client

__all__ = ["ARTEMIS_HOME", "ArtemisCluster", "ArtemisNode"]

ARTEMIS_VERSION = os.environ.get("ARTEMIS_VERSION", "2.40.0")
ARTEMIS_HOME = (
    Path(os.environ.get("STOMP_BROKERS_INSTALL_DIR", "/opt/stomp-enterprise-brokers"))
    / f"apache-artemis-{ARTEMIS_VERSION}"
)
#: Heap of each node (the journal and 20,000 small messages need far less; ``global-max-size``
#: defaults to half of it, beyond which an address pages to disk).
HEAP = os.environ.get("STOMP_ARTEMIS_HEAP", "256M")
JAVA_ARGS = (
    f"-XX:AutoBoxCacheMax=20000 -XX:+UseG1GC -Xms64M -Xmx{HEAP} -Djava.awt.headless=true "
    "-Dlog4j2.disableJmx=true --add-opens java.base/jdk.internal.misc=ALL-UNNAMED"
)

# console log lines that tell the role a node took (ActiveMQServerLogger, 2.40)
ACTIVE = ("AMQ221007", "AMQ221010")  # (Backup) Server is now active
BACKUP_WAITING = "AMQ221109"  # Backup Server ... started; waiting for primary to fail
PRIMARY_WAITING = "AMQ221034"  # Waiting {indefinitely} to obtain primary lock
PRIMARY_LOCKED = "AMQ221035"  # Primary Server Obtained primary lock
# FileLockNodeManager (2.40): <journal>/server.lock holds the state byte, serverlock.1 is the
# primary lock and serverlock.2 the backup lock (whole-file fcntl locks)
PRIMARY_LOCK_FILE = "serverlock.1"


def primary_lock_holder(store: Path) -> int | None:
    """The PID holding the primary lock of the journal in ``store`` (-1: held, by an open file
    description lock), or None when nobody holds it (or there is no lock file yet).

    Artemis takes it with ``FileChannel.lock``, an ``fcntl`` record lock; ``F_GETLK`` reports a
    conflicting one without taking anything.
    """
    try:
        fd = os.open(store / "journal" / PRIMARY_LOCK_FILE, os.O_RDWR)
    except OSError:
        return None
    try:
        # struct flock (Linux, 64-bit): short type, short whence, off_t start, off_t len, pid_t
        query = struct.pack("hhqqii", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0, 0)  # the whole file
        kind, _, _, _, pid, _ = struct.unpack("hhqqii", fcntl.fcntl(fd, fcntl.F_GETLK, query))
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else (pid or -1)


def _broker_xml(name: str, role: str, port: int, store: Path) -> str:
    """broker.xml of one node: persistent NIO journal on the shared ``store``, one STOMP acceptor,
    the shared-store HA policy of ``role`` (``primary`` or ``backup``)."""
    if role == "primary":
        policy = "<primary><failover-on-shutdown>true</failover-on-shutdown></primary>"
    else:
        policy = (
            "<backup><allow-failback>false</allow-failback>"
            "<failover-on-shutdown>true</failover-on-shutdown></backup>"
        )
    return f"""\
<?xml version='1.0'?>
<configuration xmlns="urn:activemq" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
               xsi:schemaLocation="urn:activemq /schema/artemis-configuration.xsd">
  <core xmlns="urn:activemq:core">
    <name>{name}</name>
    <persistence-enabled>true</persistence-enabled>
    <journal-type>NIO</journal-type>
    <!-- fsync before a persistent send is confirmed (the RECEIPT waits for it) -->
    <journal-datasync>true</journal-datasync>
    <journal-min-files>2</journal-min-files>
    <journal-pool-files>10</journal-pool-files>
    <journal-file-size>10M</journal-file-size>
    <bindings-directory>{store}/bindings</bindings-directory>
    <journal-directory>{store}/journal</journal-directory>
    <paging-directory>{store}/paging</paging-directory>
    <large-messages-directory>{store}/large-messages</large-messages-directory>
    <!-- a test machine's disk may be fuller than Artemis' default 90 %: never block on it -->
    <max-disk-usage>100</max-disk-usage>
    <!-- a loaded 2-core machine can stall a thread for long: log it, do not halt the JVM -->
    <critical-analyzer-policy>LOG</critical-analyzer-policy>
    <acceptors>
      <acceptor name="stomp">tcp://127.0.0.1:{port}?protocols=STOMP;useEpoll=true;anycastPrefix=/queue/;multicastPrefix=/topic/</acceptor>
    </acceptors>
    <ha-policy><shared-store>{policy}</shared-store></ha-policy>
    <security-settings>
      <security-setting match="#">
        <permission type="createNonDurableQueue" roles="amq"/>
        <permission type="deleteNonDurableQueue" roles="amq"/>
        <permission type="createDurableQueue" roles="amq"/>
        <permission type="deleteDurableQueue" roles="amq"/>
        <permission type="createAddress" roles="amq"/>
        <permission type="deleteAddress" roles="amq"/>
        <permission type="consume" roles="amq"/>
        <permission type="browse" roles="amq"/>
        <permission type="send" roles="amq"/>
        <permission type="manage" roles="amq"/>
      </security-setting>
    </security-settings>
    <address-settings>
      <address-setting match="#">
        <dead-letter-address>DLQ</dead-letter-address>
        <expiry-address>ExpiryQueue</expiry-address>
        <redelivery-delay>0</redelivery-delay>
        <!-- the default (10) moves a message redelivered by 10 failovers to the DLQ -->
        <max-delivery-attempts>-1</max-delivery-attempts>
        <address-full-policy>PAGE</address-full-policy>
        <auto-create-queues>true</auto-create-queues>
        <auto-create-addresses>true</auto-create-addresses>
        <auto-delete-queues>false</auto-delete-queues>
        <auto-delete-addresses>false</auto-delete-addresses>
      </address-setting>
    </address-settings>
    <addresses>
      <address name="DLQ"><anycast><queue name="DLQ"/></anycast></address>
      <address name="ExpiryQueue"><anycast><queue name="ExpiryQueue"/></anycast></address>
    </addresses>
  </core>
</configuration>
"""


class ArtemisNode(chaos.PrivateBroker):
    """One broker of the pair: its own instance directory (the configuration ``artemis create``
    would write, written directly), STOMP port and console log; the journal is the pair's
    shared ``store``.

    ``start()`` returns when the node is either active (answers a STOMP CONNECT) or waiting for
    the primary lock (the backup); ``role`` says which. ``start(clean=True)`` wipes the shared
    journal too: only when the other node is down (``ArtemisCluster.start`` wipes it once and
    starts both nodes with ``clean=False``).
    """

    def __init__(self, root: Path, index: int, role: str, store: Path) -> None:
        self.name = f"artemis-{index}"
        super().__init__(root)
        self.configured_role = role
        self.store = store
        #: ``"active"`` or ``"backup"`` after ``start()``; ``"down"`` after kill/stop.
        self.role = "down"
        self._log_mark = 0

    @property
    def instance(self) -> Path:
        """The node's Artemis instance directory (etc/, tmp/)."""
        return self.root / "instance"

    def installed(self) -> bool:
        """Whether Artemis is unpacked at ``ARTEMIS_HOME`` and Java is on the PATH."""
        return (ARTEMIS_HOME / "lib" / "artemis-boot.jar").is_file() and shutil.which(
            "java"
        ) is not None

    def data_dirs(self) -> list[Path]:
        """The node's scratch directory and the shared journal."""
        return [self.instance / "tmp", self.store]

    def prefetch_headers(self, count: int) -> dict[str, str]:
        """Artemis bounds a STOMP consumer in bytes (``consumer-window-size``): ``count``
        messages of at least 256 bytes each (the scenario's bodies are 256 bytes, so the
        broker's encoded messages are larger and at most ``count`` are outstanding)."""
        return {"consumer-window-size": str(count * 256)}

    def _configure(self) -> None:
        # what `artemis create` would write, minus what we do not use (web console, JMX
        # policy, other protocols): creating an instance costs a JVM start (5-10 s here)
        etc = self.instance / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (self.instance / "tmp").mkdir(exist_ok=True)
        (etc / "broker.xml").write_text(
            _broker_xml(self.name, self.configured_role, self.port, self.store)
        )
        (etc / "bootstrap.xml").write_text(
            '<broker xmlns="http://activemq.apache.org/schema">\n'
            '  <jaas-security domain="activemq"/>\n'
            f'  <server configuration="{(etc / "broker.xml").as_uri()}"/>\n'
            "</broker>\n"
        )
        # `artemis run` requires it; an empty one: no JMX connector, no RBAC
        (etc / "management.xml").write_text(
            '<management-context xmlns="http://activemq.apache.org/schema"/>\n'
        )
        (etc / "login.config").write_text(
            "activemq {\n"
            "  org.apache.activemq.artemis.spi.core.security.jaas.PropertiesLoginModule required\n"
            '    org.apache.activemq.jaas.properties.user="artemis-users.properties"\n'
            '    org.apache.activemq.jaas.properties.role="artemis-roles.properties";\n'
            "};\n"
        )
        (etc / "artemis-users.properties").write_text(f"{chaos.LOGIN} = {chaos.PASSCODE}\n")
        (etc / "artemis-roles.properties").write_text(f"amq = {chaos.LOGIN}\n")
        # the role markers (ACTIVE, ...) are INFO lines of org.apache.activemq.artemis.core.server
        (etc / "log4j2.properties").write_text(
            "rootLogger.level = WARN\n"
            "rootLogger.appenderRef.console.ref = console\n"
            "logger.server.name = org.apache.activemq.artemis.core.server\n"
            "logger.server.level = INFO\n"
            "logger.boot.name = org.apache.activemq.artemis.integration.bootstrap\n"
            "logger.boot.level = INFO\n"
            "appender.console.type = Console\n"
            "appender.console.name = console\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = %d %-5level [%logger] %msg%n\n"
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        etc = self.instance / "etc"
        # what bin/artemis of an instance runs
        command = [
            "java",
            *JAVA_ARGS.split(),
            f"-Djava.security.auth.login.config={etc / 'login.config'}",
            f"-Dlog4j2.configurationFile={(etc / 'log4j2.properties').as_uri()}",
            "-classpath",
            str(ARTEMIS_HOME / "lib" / "artemis-boot.jar"),
            f"-Dartemis.home={ARTEMIS_HOME}",
            f"-Dartemis.instance={self.instance}",
            f"-Djava.io.tmpdir={self.instance / 'tmp'}",
            f"-Ddata.dir={self.store}",
            f"-Dartemis.instance.etc={etc}",
            "org.apache.activemq.artemis.boot.Artemis",
            "run",
        ]
        return self._launch(command)

    def _log_since_start(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_mark)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _waiting(self, text: str) -> bool:
        """The node waits for the primary lock: a backup says so in its log; a primary logs
        "waiting to obtain" before it tries (and gets it at once when it is free), so it waits
        only while another process holds the lock."""
        if BACKUP_WAITING in text:
            return True
        if PRIMARY_WAITING not in text or PRIMARY_LOCKED in text:
            return False
        holder = primary_lock_holder(self.store)
        return holder is not None and holder != self.pid

    @staticmethod
    def _active(text: str) -> bool:
        return any(marker in text for marker in ACTIVE)

    def start(self, *, clean: bool = False) -> float:
        """Start the node; return the seconds until it was active (answering a STOMP CONNECT)
        or waiting as the backup.

        Thread: the scenario's (one caller at a time per node).

        Raises:
            chaos.BrokerUnavailable: not installed, exited during start-up, or neither active
                nor waiting within ``chaos.START_TIMEOUT``.
        """
        if not self.installed():
            raise chaos.BrokerUnavailable(
                "artemis is not installed (integration/brokers/install.sh artemis)"
            )
        if self.pid is not None and chaos._alive(self.pid):
            raise RuntimeError(f"{self.name} is already running as PID {self.pid}")
        if clean:
            for path in self.data_dirs():
                shutil.rmtree(path, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self._configure()
        self._log_mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        began = time.monotonic()
        self.process = self._spawn()
        self.pid = self.process.pid
        deadline = began + chaos.START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise chaos.BrokerUnavailable(
                    f"{self.name} exited with {self.process.returncode} during start-up: "
                    + self._log_tail()
                )
            text = self._log_since_start()
            if self._active(text) and self._answers(
                min(5.0, max(0.5, deadline - time.monotonic()))
            ):
                self.role = "active"
                break
            if self._waiting(text):
                self.role = "backup"
                break
            if time.monotonic() > deadline:
                raise chaos.BrokerUnavailable(
                    f"{self.name}: neither active nor waiting within {chaos.START_TIMEOUT:g}s: "
                    + self._log_tail()
                )
            time.sleep(0.1)
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL the node's JVM (the PID it started) and reap it; the console log gets a line
        saying when (to read the other node's takeover against)."""
        self._note("SIGKILL")
        super().kill()
        self.role = "down"

    def stop(self) -> None:
        """SIGTERM (Artemis stops and, being ``failover-on-shutdown``, hands the journal to the
        other node), SIGKILL after a grace period. Idempotent."""
        if self.pid is not None:
            self._note("SIGTERM")
        super().stop()
        self.role = "down"

    def _note(self, what: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        millis = int(time.time() * 1000) % 1000
        with contextlib.suppress(OSError), self.log_path.open("a") as log:
            log.write(f"{stamp},{millis:03d} ----- {what} to PID {self.pid} (test harness)\n")

    def became_active(self) -> bool:
        """Whether this node (a waiting backup) has activated since it was started."""
        return self.pid is not None and self._active(self._log_since_start())

    def port_open(self) -> bool:
        """Whether the STOMP acceptor accepts TCP connections (the active node only)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


class ArtemisCluster(Cluster):
    """A primary/backup pair on one shared journal; see the module docstring."""

    name: ClassVar[str] = "artemis"
    vhost: ClassVar[str | None] = None  # Artemis ignores the CONNECT host header
    description: ClassVar[str] = """\
**Topology.** Two Artemis 2.40.0 brokers on loopback, `artemis-0` configured `primary` and
`artemis-1` `backup` in a **shared-store** HA policy: one persistent NIO journal directory
(`journal-datasync=true`) used by both; each node has its own STOMP acceptor on a free port
(`protocols=STOMP`, `anycastPrefix=/queue/`, `multicastPrefix=/topic/`). The node holding the
journal's primary file lock (`serverlock.1`, an `fcntl` lock the kernel releases when its holder
dies) is active; the other waits for that lock with its acceptor closed. The client's URI names
both: `failover:(tcp://127.0.0.1:P0,tcp://127.0.0.1:P1)?...`.

**Why shared store, not replication.** A replicating backup that loses its primary cannot tell a
dead primary from a broken link without a third voter: with one pair it activates anyway (two
active brokers on diverging journals if the primary was alive), unless a quorum is added (3+
pairs, or ZooKeeper); and a primary that comes back must copy the whole journal from the backup
before it is a backup again. The shared store is decided by a kernel lock, has one journal that
cannot diverge, and a restarted node is the waiting backup as soon as its JVM is up. In
production it needs a shared file system whose locks work (NFSv4, a SAN); on one machine it is
exact.

**Roles stay put after a failover** (`allow-failback=false` on the backup): a killed node that is
started again becomes the waiting node, so a restart causes no second failover.
`failover-on-shutdown=true` on both makes a polite stop (a rolling restart) hand over too; by
default a stopped node marks the journal *paused* and the other does not take over.

**Memory and start-up (measured on this 2-core machine while the other clusters' runs shared
it: load average 6 for the table below, 12-15 in earlier runs, in brackets).** Each node is a JVM
with `-Xms64M -Xmx256M` (G1): 145-165 MiB resident after the start, up to 186 MiB after the
scenarios. Both JVMs start at once (a backup never activates on a journal no primary has run
on): the pair serves in 3.6-4.8 s (8-18 s). A killed node is the waiting backup again 2.6-5 s
after it is launched (10-19 s). Takeover, SIGKILL to the other node serving: 1.3-2 s (2.4-8 s),
made of the lock poll (every 0.5 s), loading the journal and opening the acceptor; the client
is back within its reconnect back-off (capped at 1 s here) after that. A polite stop hands the
lock over in 0.2 s; the journal load that follows took once 24 s at load 15.

**Broker side, for no loss.** Send with `persistent:true` (Artemis stores STOMP messages
non-durably without it) and ask for receipts (Artemis sends the RECEIPT once the journal write
is synced), or use `trackMessages=true` so unconfirmed frames are sent again after a failover;
keep `journal-datasync=true` (the default); use queues that are not auto-deleted
(`auto-delete-queues=false`, the default of `artemis create`) and, for long outages,
`max-delivery-attempts=-1` (the default 10 moves a message redelivered by 10 failovers to the
DLQ); consume with `client-individual` acks. Artemis bounds a STOMP consumer in bytes
(`consumer-window-size`), not in messages. After a crash, a message the dead node had delivered
but not seen acked comes again **without** `redelivered:true` (the delivery count is not
journaled before delivery by default: 0 redeliveries counted after the kills, 8-16 after the
polite stops, where it is); `persist-delivery-count-before-delivery=true` marks them too, at
one journal write per delivery. Deduplicate by a unique id in the message either way.
"""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.store = root / "artemis-store"
        #: the nodes, typed (``nodes`` holds the same two)
        self.pair = [
            ArtemisNode(root, 0, "primary", self.store),
            ArtemisNode(root, 1, "backup", self.store),
        ]
        self.nodes = list(self.pair)
        self.start_seconds: float = 0.0

    def installed(self) -> bool:
        """Whether Artemis 2.40 and Java are on this machine."""
        return self.nodes[0].installed()

    def start(self) -> None:
        """Wipe the shared journal and start both nodes at once: the primary activates, the
        backup waits (a backup never activates on a journal no primary has run on: it waits
        while ``server.lock`` says "not started").

        Thread: the scenario's.

        Raises:
            chaos.BrokerUnavailable: not installed, or a node did not come up in time.
        """
        self.stop()
        shutil.rmtree(self.store, ignore_errors=True)
        self.store.mkdir(parents=True)
        began = time.monotonic()
        failures: list[BaseException] = []

        def start(node: chaos.PrivateBroker) -> None:
            try:
                node.start(clean=False)  # the store was wiped above, once
            except BaseException as exc:
                failures.append(exc)

        threads = [
            threading.Thread(target=start, args=(node,), name=f"start-{node.name}")
            for node in self.nodes
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            self.stop()
            raise failures[0]
        primary, backup = self.pair
        if (primary.role, backup.role) != ("active", "backup"):
            self.stop()
            raise chaos.BrokerUnavailable(
                f"artemis: roles after a clean start are {primary.role}/{backup.role}"
            )
        self.start_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Stop the waiting node first, then the active one (no pointless failover)."""
        for node in sorted(self.pair, key=lambda n: n.role == "active"):
            try:
                node.stop()
            except Exception:  # a node that will not stop must not keep the other running
                continue

    def active(self) -> ArtemisNode | None:
        """The node serving STOMP now (by its log and an open acceptor), if any."""
        for node in self.pair:
            alive = node.pid is not None and chaos._alive(node.pid)
            if alive and node.became_active() and node.port_open():
                node.role = "active"
                return node
        return None

    def wait_serving(self, timeout: float) -> None:
        """Return once a node answers a STOMP CONNECT (the backup has taken over).

        Thread: the scenario's.

        Raises:
            chaos.BrokerUnavailable: no node serves within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.active()
            if node is not None and node._answers(max(0.5, min(5.0, deadline - time.monotonic()))):
                return
            time.sleep(0.05)
        raise chaos.BrokerUnavailable(f"artemis: no node serves STOMP {timeout:g}s after a kill")

    def restart(self, node: chaos.PrivateBroker) -> None:
        """Start ``node`` again and wait until it waits for the primary lock (the other node is
        active), or is active itself (the other is down too).

        Thread: the scenario's.

        Raises:
            chaos.BrokerUnavailable: it did not come up within the start timeout.
        """
        node.restart_seconds.append(node.start())

    def queue(self, name: str) -> str:
        """``/queue/<name>``: an anycast address with a durable queue, auto-created."""
        return f"/queue/{name}"

    def send_headers(self) -> dict[str, str]:
        """``persistent: true``: Artemis journals STOMP messages only when asked."""
        return {"persistent": "true"}

    def subscribe_headers(self, prefetch: int) -> dict[str, str]:
        """``consumer-window-size`` in bytes for ``prefetch`` messages (see ArtemisNode)."""
        return self.nodes[0].prefetch_headers(prefetch)

    def durable_subscribe_headers(self, name: str) -> dict[str, str]:
        """SUBSCRIBE headers of durable topic subscription ``name``: Artemis keeps its queue
        (``<client-id>.<name>``, in the shared journal) while no subscriber is connected; the
        CONNECT must carry the same ``client-id`` (``Client(client_id=...)``) each time."""
        return {"durable-subscription-name": name}


def _durable_check(pair: ArtemisCluster, count: int = 500) -> None:
    """A durable topic subscription made on the active node keeps the ``count`` messages
    published while its subscriber is away across the SIGKILL of that node: a subscriber with
    the same client-id and name on the other node receives every one (without the durable
    headers it receives none: the messages had no subscription to go to)."""
    topic = f"/topic/cluster-durable-{uuid.uuid4().hex[:8]}"
    headers = pair.durable_subscribe_headers("durable-1")
    options = "initialReconnectDelay=100&maxReconnectDelay=1000&randomize=false"

    def client(url: str, client_id: str | None = None) -> Client:
        return Client(url, login=chaos.LOGIN, passcode=chaos.PASSCODE, client_id=client_id)

    with client(pair.failover_url(options), "durable-client") as first:
        first.subscribe(topic, ack="client-individual", headers=headers, receipt=True)
        home = pair.node_of(first.broker or "")
    with client(pair.failover_url(options)) as producer:
        for number in range(count):
            producer.send(topic, chaos.body_of(number), pair.send_headers(), receipt=True)
    home.kill()
    pair.wait_serving(60)
    seen: set[int] = set()
    with client(pair.failover_url(options), "durable-client") as second:
        if pair.node_of(second.broker or "") is home:
            raise AssertionError("the second subscriber is on the killed node")
        inbox = second.subscribe(topic, ack="client-individual", headers=headers, receipt=True)
        while len(seen) < count:
            message = inbox.get(timeout=30)
            seen.add(int(message.body[:10]))
            message.ack()
    print(f"durable subscription: {len(seen)} of {count} after the kill of {home.name}")
    pair.restart(home)


def _smoke() -> int:
    """Start the pair, kill the active node twice (each node once), print the timings, then
    the durable subscription check."""
    root = Path(tempfile.mkdtemp(prefix="stomp-artemis-"))
    print(root)
    pair = ArtemisCluster(root)
    try:
        began = time.monotonic()
        pair.start()
        print(f"started in {time.monotonic() - began:.1f}s: {[n.role for n in pair.pair]}")
        for _ in range(2):
            victim = pair.active()
            assert victim is not None
            victim.kill()
            began = time.monotonic()
            pair.wait_serving(60)
            active = pair.active()
            assert active is not None
            assert active is not victim
            took = time.monotonic() - began
            print(f"killed {victim.name}: {active.name} serves after {took:.1f}s")
            pair.restart(victim)
            print(f"{victim.name} back as {victim.role} in {victim.restart_seconds[-1]:.1f}s")
        _durable_check(pair)
        rss = [_rss_mb(node.pid) for node in pair.pair]
        print(f"resident memory now: {rss} MiB")
        return 0
    finally:
        pair.stop()
        if not os.environ.get("STOMP_CHAOS_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(_smoke())
