"""ActiveMQ Classic shared-store master/slave pair on loopback (issue 18).

Two private ActiveMQ Classic 5.18 brokers (the Apache distribution), each with its own STOMP port,
its own data directory (temporary files) and its own console log, share ONE KahaDB directory.
KahaDB's shared-file locker takes a POSIX lock on ``<store>/lock``: the broker holding it is the
master and opens its STOMP connector; the other one loops on the lock every
``LOCK_ACQUIRE_MS`` and opens nothing. When the master dies (SIGKILL included) the kernel drops
its lock, the slave gets it, recovers the journal and opens its own port. A restarted node
finds the lock taken and waits as the new slave.

Who is master is read from ``/proc/locks`` (the PID holding the lock file's inode), never
guessed from a port. Only PIDs started here are ever signalled; the standard brokers of
``integration/brokers/ports.env`` are never touched.

By hand (a smoke run: start, kill the master 3 times, figures to stdout)::

    python -m integration.cluster_activemq [--kills 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from integration import chaos
from integration.cluster import Cluster, _rss_mb

__all__ = ["ActiveMQCluster", "ActiveMQNode"]

#: How often a slave tries the store's lock (ActiveMQ's default is 10 s): each failover waits up
#: to this long for the slave's next try.
LOCK_ACQUIRE_MS = 500
#: What a node logs (SharedFileLocker, INFO) when it found the lock taken and waits as slave.
SLAVE_MARK = b"This broker is now in slave mode waiting a lock to be acquired"
_PROBE_TIMEOUT = 2.0
#: Queues remember, in the store, that a message was dispatched: the new master then marks what
#: the dead one had delivered but not seen acked ``redelivered:true`` (by default it cannot tell).
REDELIVERY_POLICY = """\
    <destinationPolicy>
      <policyMap><policyEntries>
        <policyEntry queue=">" persistJMSRedelivered="true"/>
      </policyEntries></policyMap>
    </destinationPolicy>
"""


def _stomp_answers(port: int, timeout: float) -> bool:
    """One CONNECT to 127.0.0.1:``port``: True when CONNECTED comes back (in-process, so a
    failover is timed to within a poll interval, not a subprocess start-up)."""
    frame = (
        "CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\n"
        f"login:{chaos.LOGIN}\npasscode:{chaos.PASSCODE}\n\n\x00"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(frame)
            answer = b""
            while b"\x00" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                answer += chunk
            if not answer.lstrip(b"\r\n").startswith(b"CONNECTED"):
                return False
            with contextlib.suppress(OSError):
                sock.sendall(b"DISCONNECT\n\n\x00")
            return True
    except OSError:  # refused (a slave's port is closed), reset, timed out
        return False


def _lock_holder(path: Path) -> int | None:
    """The PID holding a POSIX lock on ``path`` (from ``/proc/locks``), None if nobody."""
    try:
        inode = path.stat().st_ino
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        # "1: POSIX  ADVISORY  WRITE 12345 08:01:1234567 0 EOF"; a blocked waiter's line reads
        # "1: -> POSIX ..." and is skipped (Java's FileChannel.tryLock never blocks anyway)
        if len(fields) < 6 or fields[1] != "POSIX":
            continue
        with contextlib.suppress(ValueError, IndexError):
            if int(fields[5].rsplit(":", 1)[1]) == inode:
                return int(fields[4])
    return None


class ActiveMQNode(chaos.PrivateActiveMQ):
    """One broker of the pair: :class:`chaos.PrivateActiveMQ`'s configuration, with its KahaDB
    directory moved to the pair's shared ``store`` and a shared-file locker that retries every
    ``LOCK_ACQUIRE_MS``.

    ``start()`` returns once the node serves STOMP (it got the lock: master) or logged that it
    waits for the lock (slave). ``start(clean=True)`` wipes only this node's own data directory;
    the shared store belongs to :class:`ActiveMQCluster`.
    """

    def __init__(self, root: Path, index: int, store: Path) -> None:
        self.name = f"activemq-{index}"
        super().__init__(root)
        self.store = store
        self._log_offset = 0

    @property
    def lock_file(self) -> Path:
        """The shared store's lock file (KahaDB's shared-file locker)."""
        return self.store / "lock"

    def is_master(self) -> bool:
        """Whether this node's running process holds the store's lock."""
        return self.pid is not None and _lock_holder(self.lock_file) == self.pid

    def is_waiting_slave(self) -> bool:
        """Whether this node's process is alive and logged, since its last start, that it
        waits for the lock (and has not got it since)."""
        if self.pid is None or not chaos._alive(self.pid) or self.is_master():
            return False
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return SLAVE_MARK in log.read()
        except OSError:
            return False

    def serves(self, timeout: float = _PROBE_TIMEOUT) -> bool:
        """One STOMP CONNECT to this node's port is answered with CONNECTED."""
        return _stomp_answers(self.port, timeout)

    def _configure(self) -> None:
        super()._configure()
        conf = self.root / "conf"
        data = self.root / "data"
        xml = conf / "activemq.xml"
        own = f'<kahaDB directory="{data}/kahadb"/>'
        text = xml.read_text()
        if own not in text:
            raise RuntimeError(f"{xml}: chaos.PrivateActiveMQ's kahaDB element not found")
        xml.write_text(
            text.replace(
                own,
                f'<kahaDB directory="{self.store}">\n'
                "        <locker>\n"
                f'          <shared-file-locker lockAcquireSleepInterval="{LOCK_ACQUIRE_MS}"/>\n'
                "        </locker>\n"
                "      </kahaDB>",
            )
            .replace('brokerName="stomp-chaos"', 'brokerName="stomp-cluster"')
            .replace("    <persistenceAdapter>", REDELIVERY_POLICY + "    <persistenceAdapter>", 1)
        )
        (conf / chaos.LOG4J2).write_text(
            chaos.activemq_log4j2(
                "org.apache.activemq.store.kahadb", "org.apache.activemq.store.SharedFileLocker"
            )
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.store.mkdir(parents=True, exist_ok=True)
        try:
            self._log_offset = self.log_path.stat().st_size
        except FileNotFoundError:
            self._log_offset = 0
        return super()._spawn()

    def _answers(self, timeout: float) -> bool:
        """Ready for ``start()``: waiting as slave, or serving as master."""
        return self.is_waiting_slave() or self.serves(min(timeout, _PROBE_TIMEOUT))


class ActiveMQCluster(Cluster):
    """An ActiveMQ Classic shared-store master/slave pair (KahaDB lock on one directory)."""

    name: ClassVar[str] = "activemq"
    vhost: ClassVar[str | None] = None  # ActiveMQ ignores the CONNECT host header
    description: ClassVar[str] = """\
**Topology.** ActiveMQ Classic 5.18.3 (the Apache distribution `install.sh` unpacks; the
figures below were measured on Debian's 5.17.2, same configuration; Java 17), two broker
processes on loopback, each with its own STOMP port (free ports, chosen per run), sharing ONE KahaDB
directory. KahaDB's shared-file locker holds a POSIX lock on `<store>/lock`: the broker that
holds it is the master and opens its STOMP connector; the other (the slave) retries the lock
every 500 ms (`<shared-file-locker lockAcquireSleepInterval="500"/>`; the default is 10 s) and
opens no port. There is no replication: the store is shared, so it must sit on storage both
brokers see, with working POSIX locks (a local disk here; in production a SAN or NFSv4, not
NFSv3). When the master dies its lock is released by the kernel, the slave takes it, replays the
journal and opens its own port; the restarted node finds the lock taken and waits as the new
slave. The client's failover URI names both ports. Source: `integration/cluster_activemq.py`.

**Memory and start-up (measured on this 2-core machine, `python -m
integration.cluster_activemq`, 4 runs; the spread is the load of other brokers running beside
it).** Each node is one JVM (`-Xms64m -Xmx512m`): RSS idle 103-118 MiB for the master, 82-86
MiB for the waiting slave (it has loaded its configuration but opened no store), 210-260 MiB
for the master after 20,000 persistent 256-byte messages. Start-up of the pair (clean store,
master serving CONNECT, then slave waiting on the lock): 2.1-4.2 s on a quiet machine, up to
9.5 s at load average 10. Failover, SIGKILL of the master to the slave answering CONNECT:
0.6-0.8 s idle, 0.9-2.3 s under load (lock poll of 0.5 s, journal recovery, connector start);
a killed node is back as waiting slave in 0.8-3 s (7 s at load 10). In the scenarios below
(load average 11-16 from other brokers on the machine) the slave served 1.2-2.8 s after each
SIGKILL (`ActiveMQCluster.takeover_seconds`) and the client was connected to it 0.0-0.7 s
later (its reconnect back-off, 100 ms doubling up to 1 s). A durable topic subscription
(`client-id` on CONNECT, `activemq.subscriptionName` on SUBSCRIBE) kept all 500 messages sent
while its subscriber was away across a SIGKILL of the master (checked by hand).

**Broker-side settings for no loss.** Send with `persistent:true` (ActiveMQ's STOMP default is
non-persistent: a non-persistent message is in the master's memory only and dies with it); ask
for receipts (`send(receipt=True)`) or use `trackMessages=true`; keep KahaDB's journal syncs on
(`enableJournalDiskSyncs`, the default) so a receipt means "on disk"; consume with
`client-individual` (or `client`) acks so unacknowledged messages are redelivered by the new
master. By default the new master cannot tell which messages the dead one had delivered
(they come again without `redelivered:true`); this pair sets
`<policyEntry queue=">" persistJMSRedelivered="true"/>` so they are marked, at the price of
one store write per dispatch. Keep the slave's `lockAcquireSleepInterval` short: it adds up to
its own length to every failover.
"""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.store = root / "shared-kahadb"
        self.nodes = [ActiveMQNode(root, index, self.store) for index in (1, 2)]
        #: Seconds each ``wait_serving()`` waited (called right after a kill or stop: the
        #: broker's own share of a failover, without the client's reconnect back-off).
        self.takeover_seconds: list[float] = []

    def _node(self, node: chaos.PrivateBroker) -> ActiveMQNode:
        if not isinstance(node, ActiveMQNode) or node not in self.nodes:
            raise ValueError(f"{node!r} is not a node of this cluster")
        return node

    def installed(self) -> bool:
        """Whether ActiveMQ Classic and Java are on this machine."""
        return all(node.installed() for node in self.nodes)

    def start(self) -> None:
        """Clean start: wipe the shared store, start node 1 (master, serving STOMP), then
        node 2 (waiting as slave).

        Raises:
            chaos.BrokerUnavailable: not installed, or a node did not come up in its role.
        """
        self.stop()
        shutil.rmtree(self.store, ignore_errors=True)
        first, second = (self._node(node) for node in self.nodes)
        first.start(clean=True)
        if not (first.is_master() and first.serves()):
            raise chaos.BrokerUnavailable(f"{first.name} started but is not the serving master")
        second.start(clean=True)
        if not second.is_waiting_slave():
            raise chaos.BrokerUnavailable(f"{second.name} started but is not a waiting slave")

    def stop(self) -> None:
        """Stop both nodes, the slave first (stopping the master first would hand the store
        over to the slave, only to stop it too). Idempotent; never raises."""
        for node in sorted(self.nodes, key=lambda n: self._node(n).is_master()):
            with contextlib.suppress(Exception):  # one node that will not stop must not
                node.stop()  # keep the other running

    def master(self) -> ActiveMQNode | None:
        """The node holding the store's lock right now."""
        holder = _lock_holder(self.store / "lock")
        for node in self.nodes:
            if holder is not None and node.pid == holder:
                return self._node(node)
        return None

    def restart(self, node: chaos.PrivateBroker) -> None:
        """Start a killed or stopped ``node`` again on the shared store; returns when it waits
        as slave (or, with no master left, serves as master). The seconds it took go to
        ``node.restart_seconds``.

        Raises:
            chaos.BrokerUnavailable: it did not come up.
        """
        mine = self._node(node)
        mine.restart_seconds.append(mine.start())

    def wait_serving(self, timeout: float) -> None:
        """Wait until some node holds the lock and answers CONNECT.

        Raises:
            chaos.BrokerUnavailable: none did within ``timeout`` seconds.
        """
        began = time.monotonic()
        deadline = began + timeout
        while True:
            master = self.master()
            if master is not None and master.serves():
                self.takeover_seconds.append(round(time.monotonic() - began, 2))
                return
            if time.monotonic() > deadline:
                raise chaos.BrokerUnavailable(
                    f"no ActiveMQ node serves STOMP {timeout:g}s after the failover"
                )
            time.sleep(0.05)

    def queue(self, name: str) -> str:
        """``/queue/<name>`` (ActiveMQ creates it on first use)."""
        return f"/queue/{name}"

    def send_headers(self) -> dict[str, str]:
        """``persistent:true``: otherwise ActiveMQ keeps STOMP messages in memory only."""
        return {"persistent": "true"}

    def subscribe_headers(self, prefetch: int) -> dict[str, str]:
        """``activemq.prefetchSize``: the broker's prefetch for this subscription."""
        return {"activemq.prefetchSize": str(prefetch)}

    def durable_subscribe_headers(self) -> dict[str, str]:
        """SUBSCRIBE headers of a durable topic subscription (ActiveMQ also needs the CONNECT
        ``client-id``: ``Client(..., client_id=...)``, the same on every reconnect). It lives in
        the shared store, so it survives the master's death with its messages."""
        return {"activemq.subscriptionName": "cluster-durable"}

    def memory_mib(self) -> dict[str, int]:
        """Resident memory of each node (MiB, 0: not running), by node name."""
        return {node.name: _rss_mb(node.pid) for node in self.nodes}


def smoke(root: Path, kills: int) -> dict[str, object]:
    """Start the pair, then ``kills`` times: SIGKILL the master, time until the slave serves,
    restart the killed node and check it waits as slave. Returns the figures."""
    cluster = ActiveMQCluster(root)
    figures: dict[str, object] = {}
    failovers: list[float] = []
    try:
        began = time.monotonic()
        cluster.start()
        figures["start_s"] = round(time.monotonic() - began, 1)
        figures["rss_mib_idle"] = cluster.memory_mib()
        for _ in range(kills):
            master = cluster.master()
            if master is None:
                raise chaos.BrokerUnavailable("no master before the kill")
            killed_at = time.monotonic()
            master.kill()
            cluster.wait_serving(60)
            failovers.append(round(time.monotonic() - killed_at, 2))
            new = cluster.master()
            if new is None or new is master:
                raise chaos.BrokerUnavailable("the slave did not take over")
            cluster.restart(master)
            if not master.is_waiting_slave():
                raise chaos.BrokerUnavailable(f"{master.name} restarted but is not slave")
        figures["failover_s"] = failovers
        figures["restart_s"] = {
            node.name: [round(s, 1) for s in node.restart_seconds] for node in cluster.nodes
        }
        figures["rss_mib_end"] = cluster.memory_mib()
    finally:
        cluster.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integration.cluster_activemq")
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args(argv)
    root = Path(
        tempfile.mkdtemp(prefix="stomp-cluster-activemq-", dir=os.environ.get("STOMP_CHAOS_DIR"))
    )
    try:
        print(json.dumps(smoke(root, args.kills)), flush=True)
    finally:
        if not os.environ.get("STOMP_CHAOS_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
