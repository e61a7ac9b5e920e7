"""Broker clusters (issue 18): the node a producer is connected to dies, the client moves to
another node, and nothing the broker confirmed is lost.

For each cluster of ``integration.cluster.CLUSTERS`` (RabbitMQ: 3 nodes with quorum queues;
ActiveMQ Classic: shared-store master/slave; Artemis: live/backup), started once on private
loopback ports (the standard brokers of ``ports.env`` are never touched), a producer on a
failover URI naming every node sends 20,000 persistent, numbered messages while its node is
SIGKILLed and restarted 3 times (then, separately, while every node is stopped and restarted in
turn), and a consumer on another connection (client-individual acks) consumes throughout:

- ``receipted``: ``send(receipt=True)`` from several threads; every confirmed send is consumed.
- ``tracked``: fire-and-forget with ``trackMessages=true``; every returned send is consumed.
- ``rolling-*``: the same during a rolling restart; the consumer is moved too, and its
  subscription, replayed on the new node, keeps delivering.

Figures go to ``integration/cluster-results.json``; ``python -m integration.cluster render``
writes docs/clusters.md. Run alone with ``pytest integration -m cluster``. A cluster whose
software (or module) is missing or that does not start fails when ``CI`` is set, skips
otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar, TypeVar

import pytest

from integration import chaos, settings
from integration import cluster as clusters
from integration.cluster_rabbitmq import RabbitMQCluster
from integration.conftest import leak_check

F = TypeVar("F", bound=Callable[..., None])

MESSAGES = int(os.environ.get("STOMP_CLUSTER_MESSAGES", "20000"))


def cluster_scenario(test: F) -> F:
    """Marks of a scenario: ``cluster``, ``slow`` (run last), and its own timeout."""
    marked: F = pytest.mark.cluster(pytest.mark.slow(pytest.mark.timeout(480)(test)))
    return marked


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """The suite's leak check, without ``provisioned``: these tests run their own brokers and
    must not start (or wait for) the standard ones."""
    with leak_check():
        yield


def _unavailable(name: str, why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{name} cluster unavailable in CI: {why}")
    pytest.skip(f"{name} cluster unavailable: {why} (set CI=1 to make this a failure)")


@pytest.fixture(scope="module", params=list(clusters.CLUSTERS))
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[clusters.Cluster]:
    """A started cluster (once per module and cluster), stopped by its nodes' PIDs after."""
    name: str = request.param
    if name not in settings.select(request.config.getoption("--brokers")):
        pytest.skip(f"{name} not selected (--brokers / STOMP_INTEGRATION_BROKERS)")
    root: Path = tmp_path_factory.mktemp(f"cluster-{name}")
    try:
        with clusters.running_cluster(name, root) as running:
            yield running
    except ModuleNotFoundError as exc:
        _unavailable(name, f"no module: {exc}")
    except chaos.BrokerUnavailable as exc:
        _unavailable(name, str(exc))


def _run(cluster: clusters.Cluster, scenario: str) -> clusters.ClusterResult:
    result = clusters.run_scenario(cluster, scenario, messages=MESSAGES)
    clusters.write_result(result)
    print(f"\ncluster {cluster.name} {scenario}: {result}")
    assert result.unexpected == 0, "bodies this scenario never sent were consumed"
    assert result.sent + result.raised == MESSAGES
    assert result.sent == MESSAGES, result.raised_by_type
    assert result.lost == 0, (
        f"{result.lost} confirmed sends never consumed (first: {result.lost_sample})"
    )
    assert result.consumed == MESSAGES
    return result


@cluster_scenario
def test_receipted_sends_survive_node_kills(cluster: clusters.Cluster) -> None:
    """The producer's node is SIGKILLed 3 times during receipted sends: the client moves to
    another node each time, every confirmed send is consumed, the next send is confirmed."""
    result = _run(cluster, "receipted")
    assert result.producer_reconnects >= clusters.KILLS
    assert len(result.failover_s) == clusters.KILLS, "a kill without a later confirmed send"


@cluster_scenario
def test_tracked_sends_survive_node_kills(cluster: clusters.Cluster) -> None:
    """The same with fire-and-forget sends and ``trackMessages=true``."""
    result = _run(cluster, "tracked")
    assert result.producer_reconnects >= clusters.KILLS
    assert len(result.failover_s) == clusters.KILLS
    assert result.undelivered == 0


@cluster_scenario
def test_rolling_restart_receipted(cluster: clusters.Cluster) -> None:
    """Every node stopped and restarted in turn during receipted sends: nothing lost, and the
    consumer, moved to another node, goes on receiving on its replayed subscription."""
    result = _run(cluster, "rolling-receipted")
    assert result.events == len(cluster.nodes)
    assert result.consumer_reconnects >= 1, "the rolling restart never moved the consumer"
    assert result.deliveries_after_consumer_moved > 0, "subscription not replayed"


@cluster_scenario
def test_rolling_restart_tracked(cluster: clusters.Cluster) -> None:
    """The rolling restart with tracked fire-and-forget sends."""
    result = _run(cluster, "rolling-tracked")
    assert result.consumer_reconnects >= 1
    assert result.deliveries_after_consumer_moved > 0
    assert result.undelivered == 0


@pytest.mark.parametrize("cluster", ["rabbitmq"], indirect=True)
@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_durable_topic_subscription_keeps_its_messages_across_a_node_kill(
    cluster: clusters.Cluster,
) -> None:
    """RabbitMQ: a durable topic subscription (its queue a quorum queue) made on one node
    keeps the messages published while its subscriber is away; that node is SIGKILLed, and a
    subscriber with the same id on another node receives every one of them."""
    assert isinstance(cluster, RabbitMQCluster)
    topic = f"/topic/cluster-durable-{uuid.uuid4().hex[:8]}"
    headers = {**cluster.durable_subscribe_headers(), "prefetch-count": "100"}
    reverse = "failover:(" + ",".join(n.url for n in reversed(cluster.nodes)) + ")?"
    url = reverse + clusters.FAILOVER_OPTIONS
    count = 500
    first = clusters.threaded_client(cluster, url)
    with first:
        first.subscribe(
            topic, ack="client-individual", headers=headers, id="durable-1", receipt=True
        )
        home = cluster.node_of(first.broker or "")
    producer = clusters.threaded_client(cluster, cluster.failover_url(clusters.FAILOVER_OPTIONS))
    with producer:
        for number in range(count):
            producer.send(topic, chaos.body_of(number), {"persistent": "true"}, receipt=True)
    home.kill()
    cluster.wait_serving(60)
    second = clusters.threaded_client(cluster, url)
    try:
        with second:
            assert cluster.node_of(second.broker or "") is not home
            inbox = second.subscribe(
                topic, ack="client-individual", headers=headers, id="durable-1", receipt=True
            )
            seen: set[int] = set()
            while len(seen) < count:
                message = inbox.get(timeout=30)
                seen.add(int(message.body[:10]))
                message.ack()
            assert seen == set(range(count))
    finally:
        cluster.restart(home)


# ---------------------------------------------------------------- the harness itself (offline)


class _Node(chaos.PrivateRabbitMQ):
    """A node that is never started: ports and URL only."""


class _Paper(clusters.Cluster):
    """A cluster on paper, for the ABC's shared methods."""

    name: ClassVar[str] = "paper"
    description: ClassVar[str] = "on paper"
    vhost: ClassVar[str | None] = None

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.nodes = [_Node(root / str(i)) for i in range(3)]

    def installed(self) -> bool:
        return False

    def start(self) -> None:
        raise chaos.BrokerUnavailable("on paper")

    def restart(self, node: chaos.PrivateBroker) -> None:
        raise chaos.BrokerUnavailable("on paper")

    def wait_serving(self, timeout: float) -> None:
        raise chaos.BrokerUnavailable("on paper")

    def queue(self, name: str) -> str:
        return f"/queue/{name}"

    def send_headers(self) -> dict[str, str]:
        return {"persistent": "true"}

    def subscribe_headers(self, prefetch: int) -> dict[str, str]:
        return {}


@pytest.mark.cluster
def test_failover_url_names_every_node_and_node_of_finds_them(tmp_path: Path) -> None:
    paper = _Paper(tmp_path)
    urls = [node.url for node in paper.nodes]
    assert paper.failover_url("randomize=false") == f"failover:({','.join(urls)})?randomize=false"
    assert paper.failover_url("") == f"failover:({','.join(urls)})"
    assert [paper.node_of(url) for url in reversed(urls)] == list(reversed(paper.nodes))
    with pytest.raises(LookupError):
        paper.node_of("tcp://127.0.0.1:1")
    paper.stop()  # nothing running: a no-op that never raises


@pytest.mark.cluster
def test_registry_loads_lazily_and_refuses_unknown_names(tmp_path: Path) -> None:
    assert set(clusters.CLUSTERS) == {"rabbitmq", "activemq", "artemis"}
    with pytest.raises(ValueError, match="no cluster 'kafka'"):
        clusters.load_cluster("kafka", tmp_path)
    rabbit = clusters.load_cluster("rabbitmq", tmp_path)
    assert rabbit.name == "rabbitmq"
    assert len(rabbit.nodes) == 3
    assert len({node.port for node in rabbit.nodes}) == 3


@pytest.mark.cluster
def test_gate_holds_senders_past_a_kill_point_until_it_fired() -> None:
    gate = clusters._Gate(messages=400, events=3)
    assert gate.points == [100, 200, 300]
    assert gate.gates == [125, 225, 325]
    gate.wait(124, timeout=0)  # before the first gate: never waits
    gate.wait(125, timeout=0)  # waits (for nothing, timeout 0) on kill 1
    assert not gate.fired[0].is_set()
    gate.fired[0].set()
    gate.wait(224, timeout=None)  # kill 1 fired: passes at once
    gate.open_all()
    gate.wait(399, timeout=None)


@pytest.mark.cluster
def test_results_file_keeps_the_newest_entry_and_renders_a_table_per_cluster(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.json"

    def result(cluster: str, scenario: str, code: str, lost: int) -> clusters.ClusterResult:
        return clusters.ClusterResult(
            cluster,
            scenario,
            "threaded",
            code,
            10,
            3,
            sent=10,
            lost=lost,
            failover_s=[0.5, 2.0],
            reconnect_s=[0.1, 0.25],
        )

    for entry in (
        result("rabbitmq", "tracked", "abc", 3),
        result("rabbitmq", "receipted", "abc", 0),
        result("activemq", "receipted", "abc", 7),
        result("rabbitmq", "tracked", "def", 0),
    ):
        clusters.write_result(entry, path)
    entries = clusters.load_results(path)
    assert [(e["cluster"], e["scenario"], e["code"]) for e in entries] == [
        ("rabbitmq", "receipted", "abc"),
        ("rabbitmq", "tracked", "def"),
        ("activemq", "receipted", "abc"),
    ]
    text = clusters.render_tables(entries)
    assert "## rabbitmq" in text
    assert "## activemq" in text
    assert RabbitMQCluster.description.strip() in text
    rows = [line for line in text.splitlines() if line.startswith("| tracked")]
    assert rows == [
        "| tracked | threaded | 10 | 0 | 0 | **0** | 0 | 1.25 / 2.00 (2) | 0.25 | 0 | 0 "
        "| 0x, 0 after | 0.0 |"
    ]
    assert "| **7** |" in text

    doc = tmp_path / "clusters.md"
    doc.write_text(f"intro\n{clusters.TABLE_BEGIN}\nSTALE-TABLE\n{clusters.TABLE_END}\noutro\n")
    clusters.render_doc(doc, path)
    rendered = doc.read_text()
    assert rendered.startswith("intro\n")
    assert rendered.endswith(f"{clusters.TABLE_END}\noutro\n")
    assert "STALE-TABLE" not in rendered
    assert "| **7** |" in rendered
