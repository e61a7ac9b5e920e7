"""Heart-beat silence limits, and ActiveMQ Classic's timer-driven heart-beats (issue 18: the
tracked producer of the cluster scenario, idle after its resent frames were receipted, was
dropped by a false heart-beat timeout on every failover to a fresh ActiveMQ master)."""

from __future__ import annotations

import pytest

from stomp_enterprise.core.liveness import silence_limit


@pytest.mark.parametrize(
    ("server", "heard", "expected"),
    [
        ("RabbitMQ/3.10.8", True, 15.0),
        ("ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine", True, 15.0),
        (None, True, 15.0),
        ("RabbitMQ/3.10.8", False, 25.0),  # the first heart-beat may come late anywhere
        ("ActiveMQ/5.17.2", False, 25.0),
        ("ActiveMQ/5.17.2", True, 25.0),  # Classic: up to 2 intervals after any frame
        ("ActiveMQ/6.1.0", True, 25.0),
    ],
)
def test_silence_limit_allows_activemq_classic_two_intervals_after_any_frame(
    server: str | None, heard: bool, expected: float
) -> None:
    assert silence_limit(10.0, 1.5, server, heard=heard) == pytest.approx(expected)


def test_silence_limit_is_zero_without_heart_beats() -> None:
    assert silence_limit(0.0, 1.5, "ActiveMQ/5.17.2", heard=False) == 0.0
