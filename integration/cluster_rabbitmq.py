"""A 3-node RabbitMQ cluster on loopback (issue 18): one Erlang cookie, one private epmd, the
STOMP plugin on every node, quorum queues for the test destinations.

Each node is an ``integration.chaos.PrivateRabbitMQ`` with its own node name, ports (AMQP,
STOMP, distribution) and mnesia directory; all share a private epmd port (the nodes find each
other through it) and a cookie. Node 1 boots alone; nodes 2 and 3 boot with
``cluster_formation.peer_discovery_backend = classic_config`` naming node 1 and join it. A
restarted node keeps its mnesia directory, so it rejoins as the member it was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import ClassVar

from integration import chaos
from integration.cluster import Cluster

__all__ = ["RabbitMQCluster", "RabbitNode"]

NODES = 3
_CTL_TIMEOUT = 60.0


class RabbitNode(chaos.PrivateRabbitMQ):
    """One cluster member: a private RabbitMQ whose node name, cookie and epmd port are the
    cluster's. Stopping a node leaves the shared epmd alone (the cluster stops it last)."""

    def __init__(self, root: Path, index: int, cookie: str, epmd_port: int) -> None:
        self.name = f"rabbit{index}"
        super().__init__(root)
        self.index = index
        self.cookie = cookie
        self.epmd_port = epmd_port
        self.node = f"{self.name}-{os.getpid()}@localhost"
        self.seeds: list[str] = []  # nodes a blank node joins at its first boot

    def _env(self) -> dict[str, str]:
        env = super()._env()
        # one scheduler per core and no busy-waiting: three VMs share a small machine
        env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] += " +sbwt none +sbwtdcpu none +sbwtdio none"
        return env

    def _configure(self) -> None:
        cookie = self.root / "home" / ".erlang.cookie"
        if not cookie.exists():
            cookie.parent.mkdir(parents=True, exist_ok=True)
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        super()._configure()
        lines = [
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}",
            f"stomp.listeners.tcp.1 = 127.0.0.1:{self.port}",
            "loopback_users.guest = true",
            "log.file.level = warning",
            "log.console = false",
            # a node that lost its peers keeps serving what has a majority (quorum queues)
            "cluster_partition_handling = pause_minority",
        ]
        if self.seeds:
            lines.append("cluster_formation.peer_discovery_backend = classic_config")
            lines += [
                f"cluster_formation.classic_config.nodes.{i} = {seed}"
                for i, seed in enumerate(self.seeds, 1)
            ]
        (self.root / "rabbitmq.conf").write_text("\n".join(lines) + "\n")

    def ctl(
        self, *args: str, tool: str = "rabbitmqctl", timeout: float = _CTL_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``<tool> -n <this node> args...`` (``rabbitmqctl``, ``rabbitmq-upgrade``, ...)
        with the cluster's cookie and epmd."""
        return subprocess.run(
            [str(chaos.RABBITMQ_BIN / tool), "-n", self.node, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def running_nodes(self) -> set[str]:
        """The cluster's running members as this node sees them (empty: it does not answer)."""
        try:
            done = self.ctl("cluster_status", "--formatter", "json", timeout=30)
        except subprocess.TimeoutExpired:
            return set()
        if done.returncode != 0:
            return set()
        try:
            return set(json.loads(done.stdout).get("running_nodes", []))
        except ValueError:
            return set()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; the shared epmd keeps running. Idempotent."""
        chaos.PrivateBroker.stop(self)

    def rss_bytes(self) -> int:
        """Resident memory of the Erlang VM (0 when not running)."""
        return _rss(self.pid)


def _rss(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


class RabbitMQCluster(Cluster):
    """Three RabbitMQ 3.10 nodes clustered on loopback, quorum queues, STOMP on each node."""

    name: ClassVar[str] = "rabbitmq"
    vhost: ClassVar[str | None] = "/"
    description: ClassVar[str] = """\
Three RabbitMQ 3.10.8 nodes (Debian `rabbitmq-server`, Erlang/OTP 25) on 127.0.0.1, started
as plain processes by `integration/cluster_rabbitmq.py`: each node has its own node name
(`rabbitN-<pid>@localhost`), AMQP, STOMP and distribution ports (free ports), mnesia
directory and log; all share one Erlang cookie and one private epmd port. Node 1 boots alone,
nodes 2 and 3 join it at their first boot (`cluster_formation.peer_discovery_backend =
classic_config`); a restarted node keeps its mnesia directory and rejoins as a member.
`cluster_partition_handling = pause_minority`. The STOMP plugin is enabled on every node; the
client's failover URI names the three STOMP ports.

Measured here (2 cores shared with other work): the cluster starts in 11-26 s (node 1, then
nodes 2 and 3 in parallel, until all three list each other as running), each node holds
125-150 MiB resident; a killed or stopped node is back, a member again with its quorum
queues online, in 6-15 s. The four scenarios with the start take about 3 min 40 s.

The test queues are **quorum queues** (Raft, replicated on all three nodes; a message is
confirmed once a majority has it on disk): the plugin declares a `/queue/<name>` destination
with the queue arguments found on the SEND or SUBSCRIBE frame, so both carry
`x-queue-type:quorum` (they must agree, or the second declaration fails with
`PRECONDITION_FAILED`). Sends carry `persistent:true`; subscriptions `prefetch-count`.

**For no loss, broker side:** declare the queues as quorum queues (`x-queue-type:quorum` on
every SEND and SUBSCRIBE of the destination, or a policy/AMQP declaration beforehand), keep
at least three nodes (a majority must survive a node loss), send `persistent:true`, and use
receipts (the plugin sends the RECEIPT of a SEND after the queue's publisher confirm, i.e.
after a majority stored it) or `trackMessages=true`. Consume with `client-individual` (or
`client`) acks: a message whose ACK did not reach the broker is redelivered.
"""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        cookie = uuid.uuid4().hex
        self.epmd_port = chaos.free_port()
        self.rabbit_nodes = [
            RabbitNode(root, index, cookie, self.epmd_port) for index in range(1, NODES + 1)
        ]
        for node in self.rabbit_nodes[1:]:
            node.seeds = [self.rabbit_nodes[0].node]
        self.nodes: list[chaos.PrivateBroker] = list(self.rabbit_nodes)
        self.start_seconds = 0.0

    def installed(self) -> bool:
        return (chaos.RABBITMQ_BIN / "rabbitmq-server").is_file()

    def start(self) -> None:
        """Node 1 on a clean store, then nodes 2 and 3 (in parallel) joining it; returns once
        every node serves STOMP and node 1 lists all three as running members."""
        began = time.monotonic()
        first, *others = self.rabbit_nodes
        first.start(clean=True)
        errors: list[BaseException] = []

        def boot(node: RabbitNode) -> None:
            try:
                node.start(clean=True)
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=boot, args=(node,), name=f"boot-{node.name}") for node in others
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        self._wait_members(first, {node.node for node in self.rabbit_nodes})
        self.start_seconds = time.monotonic() - began

    def _wait_members(self, asked: RabbitNode, members: set[str]) -> None:
        deadline = time.monotonic() + chaos.START_TIMEOUT
        while True:
            running = asked.running_nodes()
            if members <= running:
                return
            if time.monotonic() > deadline:
                raise chaos.BrokerUnavailable(
                    f"rabbitmq cluster: {asked.node} sees {sorted(running)} running, "
                    f"not all of {sorted(members)}"
                )
            time.sleep(0.5)

    def restart(self, node: chaos.PrivateBroker) -> None:
        """Start ``node`` on its kept store, wait until another member lists it running and
        until its quorum queues have a majority plus one online (``rabbitmq-upgrade
        await_online_quorum_plus_one``)."""
        node.restart_seconds.append(node.start())
        assert isinstance(node, RabbitNode)
        witness = next(
            (n for n in self.rabbit_nodes if n is not node and n.pid and chaos._alive(n.pid)),
            node,
        )
        self._wait_members(witness, {node.node})
        # its quorum queue members are online again: another node may go now (what RabbitMQ's
        # rolling-upgrade guide checks before stopping the next node)
        done = node.ctl(
            "await_online_quorum_plus_one", "-t", "120", tool="rabbitmq-upgrade", timeout=150
        )
        if done.returncode != 0:
            raise chaos.BrokerUnavailable(
                f"rabbitmq cluster: {node.node}'s quorum queues are not back online: "
                + (done.stdout + done.stderr)[-500:]
            )

    def wait_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for node in self.rabbit_nodes:
                if node.pid is not None and chaos._alive(node.pid) and node._answers(1.0):
                    return
            if time.monotonic() > deadline:
                raise chaos.BrokerUnavailable(f"rabbitmq cluster: no node serves in {timeout}s")
            time.sleep(0.1)

    def queue(self, name: str) -> str:
        return f"/queue/{name}"

    def send_headers(self) -> dict[str, str]:
        return {"persistent": "true", "x-queue-type": "quorum"}

    def subscribe_headers(self, prefetch: int) -> dict[str, str]:
        return {"prefetch-count": str(prefetch), "x-queue-type": "quorum"}

    def durable_subscribe_headers(self) -> dict[str, str]:
        """SUBSCRIBE headers of a durable topic subscription whose queue is a quorum queue
        (kept, with its messages, while no subscriber is connected and across node loss; the
        queue's name comes from the destination and the subscription id)."""
        return {"durable": "true", "auto-delete": "false", "x-queue-type": "quorum"}

    def stop(self) -> None:
        super().stop()
        self._stop_epmd()

    def _stop_epmd(self) -> None:
        epmd = self.rabbit_nodes[0]._epmd_pid()
        if epmd is not None:
            os.kill(epmd, signal.SIGTERM)
            if not chaos._wait_gone(epmd, 5):
                os.kill(epmd, signal.SIGKILL)
