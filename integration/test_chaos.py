"""Chaos: SIGKILL a real, persistent broker 5 times during 50,000 sends; nothing accepted is lost.

Each test boots a PRIVATE ActiveMQ (KahaDB) or RabbitMQ (durable queue, ``persistent:true``)
on a clean store and free loopback ports (``integration/chaos.py``; the standard brokers of
``ports.env`` are never touched), SIGKILLs it by its PID and restarts it 5 times at spread-out
points of the send sequence, while a consumer on another client (client-individual acks)
consumes throughout and after.

- ``tracked``: a failover URI with ``trackMessages=true``: every ``send()`` that returned is
  consumed at least once (asserted); duplicates are counted.
- ``receipted``: ``send(receipt=True)`` from several threads: every send that returned was
  confirmed by the broker and is consumed (asserted).
- ``untracked``: plain fire-and-forget on a failover URI: figures only (what a persistent
  store keeps of frames that were written but not yet stored is the broker's business).

Figures go to ``integration/chaos-results.json``; ``python -m integration.chaos render``
writes docs/reliability.md's table. Run alone with ``pytest integration -m chaos``. A broker
that is not installed or does not start fails these tests when ``CI`` is set, skips them
otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from integration import chaos, settings
from integration.conftest import leak_check

F = TypeVar("F", bound=Callable[..., None])


def chaos_scenario(test: F) -> F:
    """Marks of a scenario: ``chaos``, ``slow`` (run last), and its own timeout."""
    marked: F = pytest.mark.chaos(pytest.mark.slow(pytest.mark.timeout(420)(test)))
    return marked


MESSAGES = int(os.environ.get("STOMP_CHAOS_MESSAGES", "50000"))
KILLS = 5


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """The suite's leak check, without ``provisioned``: these tests run their own brokers and
    must not start (or wait for) the standard ones."""
    with leak_check():
        yield


@pytest.fixture(params=["activemq", "rabbitmq"])
def private_broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[chaos.PrivateBroker]:
    """A private broker on a clean persistent store, stopped (by its PID) afterwards."""
    name: str = request.param
    selected = settings.select(request.config.getoption("--brokers"))
    if name not in selected:
        pytest.skip(f"{name} not selected (--brokers / STOMP_INTEGRATION_BROKERS)")
    root: Path = tmp_path_factory.mktemp(f"chaos-{name}")
    try:
        with chaos.private_broker(name, root) as broker:
            yield broker
    except chaos.BrokerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"private {name} unavailable in CI: {exc}")
        pytest.skip(f"private {name} unavailable: {exc} (set CI=1 to make this a failure)")


def _run(broker: chaos.PrivateBroker, mode: str) -> chaos.ChaosResult:
    result = chaos.run_scenario(broker, mode, messages=MESSAGES, kills=KILLS)
    chaos.write_result(result)
    print(f"\nchaos {broker.name} {mode}: {result}")
    assert broker.kills == KILLS
    assert result.producer_reconnects >= KILLS, "a kill went unnoticed by the producer"
    assert result.unexpected == 0, "bodies this scenario never sent were consumed"
    assert result.consumed <= MESSAGES
    assert result.returned + result.raised == MESSAGES
    return result


@chaos_scenario
def test_tracked_sends_survive_sigkill(private_broker: chaos.PrivateBroker) -> None:
    """trackMessages=true: 5 SIGKILLs during 50,000 fire-and-forget persistent sends, and
    every send() that returned is consumed at least once."""
    result = _run(private_broker, "tracked")
    assert result.lost == 0, (
        f"{result.lost} returned sends never consumed (first: {result.lost_sample})"
    )
    assert result.returned == MESSAGES, result.raised_by_type


@chaos_scenario
def test_receipted_sends_survive_sigkill(private_broker: chaos.PrivateBroker) -> None:
    """send(receipt=True) from several threads: what the broker confirmed is never lost."""
    result = _run(private_broker, "receipted")
    assert result.lost == 0, (
        f"{result.lost} confirmed sends never consumed (first: {result.lost_sample})"
    )


@chaos_scenario
def test_untracked_sends_under_sigkill(private_broker: chaos.PrivateBroker) -> None:
    """Plain fire-and-forget on a failover URI: recorded for the figures (written-but-not-
    stored frames may be lost); nothing is reported undelivered, since reconnect never gives
    up and frames never written are carried over."""
    result = _run(private_broker, "untracked")
    assert result.undelivered in (None, 0)
    assert result.undelivered_events == 0


@pytest.mark.chaos
def test_results_file_keeps_the_newest_entry_per_scenario(tmp_path: Path) -> None:
    """write_result replaces an entry of the same broker, mode and phase, keeps the others,
    and the rendered table shows each with its loss in bold."""
    path = tmp_path / "results.json"
    first = chaos.ChaosResult("activemq", "tracked", 5000.0, "after", "abc", 10, 5, lost=3)
    other = chaos.ChaosResult("rabbitmq", "tracked", 5000.0, "after", "abc", 10, 5, lost=7)
    newer = chaos.ChaosResult("activemq", "tracked", 5000.0, "after", "def", 10, 5, lost=0)
    for result in (first, other, newer):
        chaos.write_result(result, path)
    entries = chaos.load_results(path)
    assert [(e["broker"], e["code"], e["lost"]) for e in entries] == [
        ("activemq", "def", 0),
        ("rabbitmq", "abc", 7),
    ]
    table = chaos.render_table(entries).splitlines()
    assert len(table) == 4
    assert "| **0** |" in table[2]
    assert "| **7** |" in table[3]
