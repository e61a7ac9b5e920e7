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
import argparse
import bisect
import contextlib
import importlib
import json
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from integration import chaos
from stomp_enterprise import Client, Message, StompError

__all__ = [
    "CLUSTERS",
    "SCENARIOS",
    "Cluster",
    "ClusterResult",
    "ClientFactory",
    "load_cluster",
    "load_results",
    "render_doc",
    "render_tables",
    "run_scenario",
    "running_cluster",
    "threaded_client",
    "write_result",
]

HERE = Path(__file__).resolve().parent
RESULTS = Path(os.environ.get("STOMP_CLUSTER_RESULTS", HERE / "cluster-results.json"))
DOC = HERE.parent / "docs" / "clusters.md"

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


@contextlib.contextmanager
def running_cluster(name: str, root: Path | None = None) -> Iterator[Cluster]:
    """Build cluster ``name`` on ``root`` (default a fresh temporary directory), start it, and
    always stop it on exit; its node stores are removed (``STOMP_CHAOS_KEEP=1`` keeps them;
    with ``root`` given the logs are kept). ``cluster.start_seconds`` and ``cluster.rss_mb``
    hold what the start took (wall clock) and each node's resident memory after it.

    Raises:
        chaos.BrokerUnavailable: the software is missing or the cluster did not start.
    """
    base = root or Path(
        tempfile.mkdtemp(prefix="stomp-cluster-", dir=os.environ.get("STOMP_CHAOS_DIR"))
    )
    try:
        cluster = load_cluster(name, base)
    except BaseException:
        if root is None:
            shutil.rmtree(base, ignore_errors=True)
        raise
    try:
        if not cluster.installed():
            raise chaos.BrokerUnavailable(f"{name} is not installed")
        began = time.monotonic()
        cluster.start()
        cluster.start_seconds = time.monotonic() - began  # type: ignore[attr-defined]
        cluster.rss_mb = [_rss_mb(node.pid) for node in cluster.nodes]  # type: ignore[attr-defined]
        yield cluster
    finally:
        cluster.stop()
        if not os.environ.get("STOMP_CHAOS_KEEP"):
            dirs = [base] if root is None else [p for n in cluster.nodes for p in n.data_dirs()]
            for path in dirs:
                shutil.rmtree(path, ignore_errors=True)


def _rss_mb(pid: int | None) -> int:
    """Resident memory of ``pid`` in MiB (0: not running)."""
    if pid is None:
        return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


# ---------------------------------------------------------------- the scenarios

#: ``receipted``: ``send(receipt=True)`` from several threads, the producer's node SIGKILLed
#: and restarted 3 times; ``tracked``: fire-and-forget with ``trackMessages=true``, same kills;
#: ``rolling-*``: the same sends while every node is stopped (SIGTERM) and restarted in turn.
SCENARIOS: tuple[str, ...] = ("receipted", "tracked", "rolling-receipted", "rolling-tracked")
SEND_THREADS = 8
PREFETCH = 500
KILLS = 3
FAILOVER_OPTIONS = (
    "initialReconnectDelay=100&maxReconnectDelay=1000&useExponentialBackOff=true"
    "&maxReconnectAttempts=-1&startupMaxReconnectAttempts=0&randomize=false"
)

#: Builds a client for ``url`` on ``cluster`` (the threaded ``Client`` by default; an asyncio
#: shell can be driven by a factory of its own once it exists).
ClientFactory = Callable[["Cluster", str], Client]


def threaded_client(cluster: Cluster, url: str) -> Client:
    """The threaded client with the scenario's credentials, vhost and timeouts."""
    return Client(
        url,
        login=chaos.LOGIN,
        passcode=chaos.PASSCODE,
        vhost=cluster.vhost,
        timeouts={"connect": 10.0, "connected": 10.0, "receipt": 60.0, "send": 120.0},
    )


@dataclass
class ClusterResult:
    """What one scenario measured on one cluster.

    ``sent``: ``send()`` calls that returned; ``confirmed``: of those, the ones the broker
    confirmed (receipted: each returned send had its RECEIPT; tracked: every returned send,
    which the client keeps until a receipt covers it); ``lost``: confirmed and never
    consumed (must be 0); ``duplicates``: deliveries beyond the first of a body;
    ``failover_s``: per kill/stop of the producer's node, seconds until the next confirmed
    send (receipted) or until the producer was connected to a serving node again (tracked);
    ``reconnect_s``: the latter in both modes; ``events_log``: per kill/stop, the node and who
    was connected to it.
    """

    cluster: str
    scenario: str
    client: str
    code: str
    messages: int
    events: int
    sent: int = 0
    raised: int = 0
    raised_by_type: dict[str, int] = field(default_factory=dict)
    confirmed: int = 0
    consumed: int = 0
    lost: int = 0
    duplicates: int = 0
    deliveries: int = 0
    redeliveries: int = 0
    unexpected: int = 0
    ack_failures: int = 0
    failover_s: list[float] = field(default_factory=list)
    reconnect_s: list[float] = field(default_factory=list)
    events_log: list[str] = field(default_factory=list)
    producer_reconnects: int = 0
    consumer_reconnects: int = 0
    deliveries_after_consumer_moved: int = 0
    resent: int = 0
    undelivered: int = 0
    start_seconds: float = 0.0
    rss_mb: list[int] = field(default_factory=list)
    restart_seconds: list[float] = field(default_factory=list)
    send_seconds: float = 0.0
    total_seconds: float = 0.0
    lost_sample: list[int] = field(default_factory=list)
    when: str = ""

    @property
    def failover_p50(self) -> float | None:
        """Median of ``failover_s`` (None: no failover measured)."""
        return round(statistics.median(self.failover_s), 2) if self.failover_s else None

    @property
    def failover_max(self) -> float | None:
        """Largest of ``failover_s`` (None: no failover measured)."""
        return max(self.failover_s) if self.failover_s else None


class _Gate:
    """Kill points in the send sequence: a sender may run ``slack`` messages past point k
    before kill k has fired, then waits for it (so every kill lands while sends are in
    flight, however long the previous restart took)."""

    def __init__(self, messages: int, events: int) -> None:
        self.points = [messages * (k + 1) // (events + 1) for k in range(events)]
        slack = max(1, messages // (4 * (events + 1)))
        self.gates = [p + slack for p in self.points]
        self.fired = [threading.Event() for _ in range(events)]

    def wait(self, number: int, timeout: float | None = 300.0) -> None:
        k = bisect.bisect_right(self.gates, number)
        if k:
            self.fired[k - 1].wait(timeout)

    def open_all(self) -> None:
        for event in self.fired:
            event.set()


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not within {timeout:g} s")
        time.sleep(0.01)


def run_scenario(
    cluster: Cluster,
    scenario: str,
    *,
    messages: int = 20_000,
    kills: int = KILLS,
    rate: float = 2_000.0,
    client_factory: ClientFactory = threaded_client,
    client_name: str = "threaded",
    quiet: float = 8.0,
    drain_timeout: float = 120.0,
) -> ClusterResult:
    """Send ``messages`` persistent, numbered messages on a failover URI naming every node,
    while the node the producer is connected to is SIGKILLed and restarted ``kills`` times
    (``rolling-*``: while every node is stopped and restarted in turn), with a
    client-individual consumer on another client (failover URI in reverse node order)
    consuming throughout; then drain until every sent message is consumed or nothing arrives
    for ``quiet`` seconds. Fire-and-forget sends are paced at ``rate`` per second; receipted
    ones come from ``SEND_THREADS`` threads, unpaced.

    Raises:
        ValueError: unknown ``scenario``.
        RuntimeError: a client did not reconnect within 60 s of a kill.
        chaos.BrokerUnavailable: no node served, or a node did not rejoin.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario {scenario!r}: choose from {', '.join(SCENARIOS)}")
    rolling = scenario.startswith("rolling-")
    receipted = scenario.endswith("receipted")
    victims_of_rolling = list(cluster.nodes)
    events = len(victims_of_rolling) if rolling else kills
    result = ClusterResult(
        cluster=cluster.name,
        scenario=scenario,
        client=client_name,
        code=chaos.code_revision(),
        messages=messages,
        events=events,
        start_seconds=round(float(getattr(cluster, "start_seconds", 0.0)), 1),
        rss_mb=list(getattr(cluster, "rss_mb", [])),
        when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    queue = cluster.queue(f"cluster-{scenario}-{uuid.uuid4().hex[:8]}")
    consumer = chaos._Consumer(messages)
    returned = bytearray(messages)
    progress = [0]
    raised: dict[str, int] = {}
    raised_lock = threading.Lock()
    confirms: list[tuple[float, int]] = []  # (when, producer reconnects then): receipted sends
    producer_up: list[float] = []  # when the producer (re)connected
    consumer_up: list[float] = []
    started = time.monotonic()
    restarts = [len(node.restart_seconds) for node in cluster.nodes]

    options = FAILOVER_OPTIONS + ("" if receipted else "&trackMessages=true")
    producing = client_factory(cluster, cluster.failover_url(options))
    reverse = "failover:(" + ",".join(n.url for n in reversed(cluster.nodes)) + ")?"
    consuming = client_factory(cluster, reverse + FAILOVER_OPTIONS)
    producing.listeners.on("connected", lambda info: producer_up.append(time.monotonic()))
    consuming.listeners.on("connected", lambda info: consumer_up.append(time.monotonic()))
    gate = _Gate(messages, events)
    after_move = [0]  # deliveries once the consumer had reconnected (its replayed subscription)

    def consume(message: Message) -> None:
        if len(consumer_up) > 1:
            after_move[0] += 1  # only the dispatcher thread writes it
        consumer.handle(message)

    send_headers = cluster.send_headers()

    def send_range(numbers: range) -> None:
        next_at = time.monotonic()
        for number in numbers:
            gate.wait(number)
            if not receipted and number % 100 == 0:
                next_at += 100 / rate
                ahead = next_at - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                else:
                    next_at -= ahead  # no catch-up burst after a wait
            try:
                producing.send(queue, chaos.body_of(number), send_headers, receipt=receipted)
            except StompError as exc:
                with raised_lock:
                    raised[type(exc).__name__] = raised.get(type(exc).__name__, 0) + 1
            else:
                returned[number] = 1
                if receipted:
                    confirms.append((time.monotonic(), producing.reconnects))
            with raised_lock:  # += is not atomic across the sending threads
                progress[0] += 1

    failures: list[BaseException] = []
    hits: list[tuple[float, int]] = []  # (kill time, producer reconnects before it)

    def chaos_thread() -> None:
        try:
            for k in range(events):
                point = gate.points[k]

                def reached(point: int = point) -> bool:
                    return progress[0] >= point or done.is_set()

                _wait_for(reached, 600, "sends")
                gate.fired[k].set()
                time.sleep(0.3)  # senders past the gate are in flight again
                _wait_for(lambda: producing.broker is not None, 60, "producer connected")
                current = producing.broker
                victim = victims_of_rolling[k] if rolling else cluster.node_of(current or "")
                on_it = current is not None and cluster.node_of(current) is victim
                consumer_at = consuming.broker
                with_consumer = consumer_at is not None and cluster.node_of(consumer_at) is victim
                result.events_log.append(
                    f"{'stop' if rolling else 'kill'} {victim.name}"
                    + (" (producer)" if on_it else "")
                    + (" (consumer)" if with_consumer else "")
                )
                before = producing.reconnects
                hit = time.monotonic()
                if rolling:
                    victim.stop()
                else:
                    victim.kill()
                if on_it:
                    hits.append((hit, before))
                cluster.wait_serving(60)
                cluster.restart(victim)
                _wait_for(
                    lambda: producing.is_connected and consuming.is_connected,
                    60,
                    f"clients connected after event {k + 1}",
                )
        except BaseException as exc:
            failures.append(exc)
            gate.open_all()

    done = threading.Event()
    killer = threading.Thread(target=chaos_thread, name="cluster-chaos")
    try:
        consuming.connect(timeout=60)
        consuming.subscribe(
            queue,
            consume,
            ack="client-individual",
            headers=cluster.subscribe_headers(PREFETCH),
            receipt=True,
        )
        producing.connect(timeout=60)
        killer.start()
        sending = time.monotonic()
        if receipted:
            threads = [
                threading.Thread(
                    target=send_range,
                    args=(range(i, messages, SEND_THREADS),),
                    name=f"cluster-send-{i}",
                )
                for i in range(SEND_THREADS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        else:
            send_range(range(messages))
        result.send_seconds = round(time.monotonic() - sending, 1)
        done.set()
        killer.join()
        if failures:
            raise failures[0]

        draining = time.monotonic()
        deadline = draining + drain_timeout
        while time.monotonic() < deadline:
            if all(consumer.counts[i] for i in range(messages) if returned[i]):
                break
            if time.monotonic() - max(consumer.last, draining) > quiet:
                break
            time.sleep(0.25)
        time.sleep(1.0)  # duplicates still in flight are counted too

        for hit, before in hits:
            up = [when for when in producer_up if when > hit]
            if up:
                result.reconnect_s.append(round(min(up) - hit, 2))
            if receipted:
                up = [when for when, seen in confirms if when > hit and seen > before]
            if up:
                result.failover_s.append(round(min(up) - hit, 2))
        result.producer_reconnects = producing.reconnects
        result.consumer_reconnects = consuming.reconnects
        result.resent = producing.resent
        result.undelivered = producing.undelivered
    finally:
        done.set()
        gate.open_all()
        if killer.is_alive():
            killer.join(120)
        producing.disconnect()
        consuming.disconnect()

    with consumer.lock:
        counts = bytes(consumer.counts)
        result.deliveries = consumer.deliveries
        result.redeliveries = consumer.redeliveries
        result.unexpected = consumer.unexpected
        result.ack_failures = consumer.ack_failures
    result.sent = sum(returned)
    result.confirmed = result.sent
    result.raised = sum(raised.values())
    result.raised_by_type = dict(sorted(raised.items()))
    lost = [i for i in range(messages) if returned[i] and not counts[i]]
    result.lost = len(lost)
    result.lost_sample = lost[:20]
    result.consumed = sum(1 for c in counts if c)
    result.duplicates = result.deliveries - result.consumed - result.unexpected
    result.deliveries_after_consumer_moved = after_move[0]
    result.restart_seconds = [
        round(s, 1)
        for node, before in zip(cluster.nodes, restarts, strict=True)
        for s in node.restart_seconds[before:]
    ]
    result.total_seconds = round(time.monotonic() - started, 1)
    return result


# ---------------------------------------------------------------- results and the doc


def load_results(path: Path = RESULTS) -> list[dict[str, Any]]:
    """The entries of a results file (none when it is missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(data.get("results", []))


def _order(entry: dict[str, Any]) -> tuple[int, int, str]:
    names = list(CLUSTERS)
    cluster = names.index(entry["cluster"]) if entry["cluster"] in names else len(names)
    scenario = SCENARIOS.index(entry["scenario"]) if entry["scenario"] in SCENARIOS else 99
    return cluster, scenario, entry["client"]


def write_result(result: ClusterResult, path: Path = RESULTS) -> None:
    """Add ``result`` to the JSON file, replacing an older entry of the same cluster,
    scenario and client."""
    key = (result.cluster, result.scenario, result.client)
    entries = [e for e in load_results(path) if (e["cluster"], e["scenario"], e["client"]) != key]
    entries.append(asdict(result))
    entries.sort(key=_order)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"results": entries}, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def render_table(entries: list[dict[str, Any]]) -> str:
    """One cluster's Markdown table: a row per scenario and client."""
    lines = [
        "| scenario | client | sent | confirmed | consumed | lost | duplicates "
        "| failover p50 / max (s) | reconnect max (s) | redeliveries | resent | consumer moved "
        "| send (s) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for e in entries:
        times = e["failover_s"]
        failover = (
            f"{statistics.median(times):.2f} / {max(times):.2f} ({len(times)})" if times else "n/a"
        )
        moved = f"{e['consumer_reconnects']}x, {e['deliveries_after_consumer_moved']:,} after"
        reconnect = f"{max(e['reconnect_s']):.2f}" if e.get("reconnect_s") else "n/a"
        lines.append(
            f"| {e['scenario']} | {e['client']} | {e['sent']:,} | {e['confirmed']:,} "
            f"| {e['consumed']:,} | **{e['lost']:,}** | {e['duplicates']:,} | {failover} "
            f"| {reconnect} | {e['redeliveries']:,} | {e['resent']:,} | {moved} "
            f"| {e['send_seconds']:.1f} |"
        )
    return "\n".join(lines)


def _description(name: str) -> str | None:
    module_name, _, class_name = CLUSTERS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    return str(getattr(module, class_name).description)


def render_tables(entries: list[dict[str, Any]]) -> str:
    """docs/clusters.md's generated part: per cluster, how it is run (its ``description``),
    what starting it took, and its table."""
    parts: list[str] = []
    for name in CLUSTERS:
        mine = [e for e in entries if e["cluster"] == name]
        description = _description(name)
        if description is None and not mine:
            continue
        parts.append(f"## {name}\n")
        if description:
            parts.append(description.strip() + "\n")
        if not mine:
            parts.append("No figures yet (`python -m integration.cluster run " + name + "`).\n")
            continue
        newest = max(mine, key=lambda e: e["when"])
        rss = ", ".join(f"{mb} MiB" for mb in newest["rss_mb"])
        codes = ", ".join(sorted({e["code"].removesuffix("+dirty") for e in mine}))
        when = sorted(e["when"] for e in mine)
        parts.append(
            f"Measured: start of the whole cluster {newest['start_seconds']:.1f} s, resident "
            f"memory per node after the start {rss}; node restarts (kill or stop, then "
            f"rejoined) {_spread([s for e in mine for s in e['restart_seconds']])} s.\n"
        )
        parts.append(render_table(mine) + "\n")
        parts.append(f"Runs: {codes}, {when[0]} to {when[-1]}.\n")
    return "\n".join(parts)


def _spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{min(values):.1f}-{max(values):.1f}"


TABLE_BEGIN = "<!-- cluster-tables: begin (python -m integration.cluster render) -->"
TABLE_END = "<!-- cluster-tables: end -->"


def render_doc(doc: Path = DOC, results: Path = RESULTS) -> None:
    """Replace the generated part of ``doc`` (between the markers) from ``results``.

    Raises:
        SystemExit: the markers are missing.
    """
    text = doc.read_text(encoding="utf-8")
    head, sep, rest = text.partition(TABLE_BEGIN)
    _, sep2, tail = rest.partition(TABLE_END)
    if not sep or not sep2:
        raise SystemExit(f"{doc}: no {TABLE_BEGIN} ... {TABLE_END} markers")
    body = render_tables(load_results(results))
    doc.write_text(f"{head}{TABLE_BEGIN}\n\n{body}\n{TABLE_END}{tail}", encoding="utf-8")


def serve_cluster(name: str, root: Path | None) -> int:
    """Start cluster ``name``, print one ``READY <failover URI>`` line (then one ``NODE <url>``
    line per node) and keep it up until SIGTERM or SIGINT; then stop every node. Used by
    ``integration/brokers/cluster.sh``, which runs it in the background like start.sh runs a
    single broker."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with running_cluster(name, root) as cluster:
        print("READY", cluster.failover_url("randomize=false"), flush=True)
        for node in cluster.nodes:
            print("NODE", node.url, flush=True)
        while not stop.is_set():
            stop.wait(1.0)
    print("STOPPED", name, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integration.cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start a cluster, run scenarios, record the figures")
    run.add_argument("cluster", choices=tuple(CLUSTERS))
    run.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    run.add_argument("--messages", type=int, default=20_000)
    commands.add_parser("render", help="write docs/clusters.md's tables from the results file")
    serve = commands.add_parser(
        "serve", help="start a cluster and keep it up until SIGTERM/SIGINT (cluster.sh start)"
    )
    serve.add_argument("cluster", choices=tuple(CLUSTERS))
    serve.add_argument("--root", type=Path, default=None, help="its scratch dir (kept)")
    args = parser.parse_args(argv)
    if args.command == "render":
        render_doc()
        return 0
    if args.command == "serve":
        return serve_cluster(args.cluster, args.root)
    for scenario in args.scenarios:
        if scenario not in SCENARIOS:
            parser.error(f"scenario {scenario!r}: choose from {', '.join(SCENARIOS)}")
    with running_cluster(args.cluster) as cluster:
        for scenario in args.scenarios:
            result = run_scenario(cluster, scenario, messages=args.messages)
            write_result(result)
            print(json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    # run as the imported module, whose Cluster the cluster modules subclass (not __main__'s)
    raise SystemExit(importlib.import_module("integration.cluster").main())
