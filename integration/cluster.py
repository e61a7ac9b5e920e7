"""Broker clusters (issue 18): the ``Cluster`` interface every cluster module implements, the
registry that loads them by name, the failover scenarios run against them, their results
file and the figures tables of ``docs/clusters.md``.

A cluster is a set of private nodes (``integration.chaos.PrivateBroker``: free loopback ports,
own store, signalled only by the PID it started). The standard brokers of
``integration/brokers/ports.env`` are never touched.

Runnable by hand::

    python -m integration.cluster run rabbitmq receipted      # one scenario, figures to stdout
    python -m integration.cluster render                      # docs/clusters.md's tables
"""

from __future__ import annotations

import abc
import importlib
from pathlib import Path
from typing import ClassVar

from integration import chaos

__all__ = [
    "CLUSTERS",
    "Cluster",
    "load_cluster",
]

#: Cluster name -> ``module:Class``, imported only when that cluster is asked for.
CLUSTERS: dict[str, str] = {
    "rabbitmq": "integration.cluster_rabbitmq:RabbitMQCluster",
    "activemq": "integration.cluster_activemq:ActiveMQCluster",
    "artemis": "integration.cluster_artemis:ArtemisCluster",
}


class Cluster(abc.ABC):
    """A broker cluster of private nodes on loopback.

    ``start()`` brings every node up on a clean store and returns once the cluster serves STOMP
    on its active node(s); the scenario then SIGKILLs the node a client is connected to
    (``node_of(client.broker).kill()``), waits for another node to serve
    (``wait_serving``) and brings the killed node back (``restart``). ``stop()`` ends every
    node. Only PIDs the nodes started are ever signalled.
    """

    #: ``"rabbitmq"``, ``"activemq"``, ``"artemis"`` (the registry key).
    name: ClassVar[str]
    #: Markdown for docs/clusters.md: how it is run (topology, replication, ports), memory (RSS
    #: per node, measured), start-up time (measured), and what a user must set broker-side for
    #: no loss.
    description: ClassVar[str]
    #: The CONNECT ``host`` header (``"/"`` for RabbitMQ; None: the client's default).
    vhost: ClassVar[str | None]

    def __init__(self, root: Path) -> None:
        """``root``: a scratch directory of the cluster's own (node stores, configs, logs)."""
        self.root = root
        self.nodes: list[chaos.PrivateBroker] = []

    @abc.abstractmethod
    def installed(self) -> bool:
        """Whether the broker software (and its runtime) is on this machine."""

    @abc.abstractmethod
    def start(self) -> None:
        """Clean start of every node; returns when the cluster serves STOMP on its active
        node(s).

        Raises:
            chaos.BrokerUnavailable: not installed, or not serving within the start timeout.
        """

    def stop(self) -> None:
        """Stop every node (last first). Idempotent; never raises."""
        for node in reversed(self.nodes):
            try:
                node.stop()
            except Exception:  # a node that will not stop must not keep the others running
                continue

    def failover_url(self, options: str) -> str:
        """``failover:(url1,url2,...)?`` + ``options``, naming every node in order."""
        urls = ",".join(node.url for node in self.nodes)
        return f"failover:({urls})?{options}" if options else f"failover:({urls})"

    def node_of(self, url: str) -> chaos.PrivateBroker:
        """The node behind ``url`` (``client.broker``: ``tcp://host:port``).

        Raises:
            LookupError: no node of this cluster listens there.
        """
        port = url.rstrip("/").rsplit(":", 1)[-1]
        for node in self.nodes:
            if str(node.port) == port:
                return node
        raise LookupError(f"{self.name}: no node behind {url}")

    @abc.abstractmethod
    def restart(self, node: chaos.PrivateBroker) -> None:
        """Start a killed or stopped ``node`` again and wait until it has rejoined (RabbitMQ: a
        running cluster member; ActiveMQ/Artemis: the waiting slave/backup again)."""

    @abc.abstractmethod
    def wait_serving(self, timeout: float) -> None:
        """After a kill: return once some node answers a STOMP CONNECT.

        Raises:
            chaos.BrokerUnavailable: no node serves within ``timeout`` seconds.
        """

    @abc.abstractmethod
    def queue(self, name: str) -> str:
        """The destination of test queue ``name`` (replicated/persistent as the broker
        needs)."""

    @abc.abstractmethod
    def send_headers(self) -> dict[str, str]:
        """SEND headers of the scenario's messages (``persistent: true`` etc.)."""

    @abc.abstractmethod
    def subscribe_headers(self, prefetch: int) -> dict[str, str]:
        """SUBSCRIBE headers: prefetch bounded to ``prefetch`` messages, queue type etc."""


def load_cluster(name: str, root: Path) -> Cluster:
    """Import the module of cluster ``name`` (lazily) and build it on ``root``.

    Raises:
        ValueError: ``name`` is not in ``CLUSTERS``.
        ModuleNotFoundError: its module is not present (yet).
    """
    if name not in CLUSTERS:
        raise ValueError(f"no cluster {name!r}: choose from {', '.join(CLUSTERS)}")
    module_name, _, class_name = CLUSTERS[name].partition(":")
    module = importlib.import_module(module_name)
    kind = getattr(module, class_name)
    if not (isinstance(kind, type) and issubclass(kind, Cluster)):
        raise TypeError(f"{CLUSTERS[name]} is not a Cluster")
    return kind(root)
