"""Fixtures for client tests against the in-process broker."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stomp_enterprise import Client
from stomp_enterprise.testing import Broker


class Recorder:
    """Collects calls from any thread; ``wait(n)`` blocks (bounded) until n arrived."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, *args: Any) -> None:
        with self._cond:
            self.items.append(args[0] if len(args) == 1 else args)
            self._cond.notify_all()

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.items) >= count, timeout):
                raise AssertionError(f"got {len(self.items)} of {count} calls: {self.items!r}")
            return list(self.items)


@pytest.fixture
def recorder() -> Callable[[], Recorder]:
    return Recorder


@pytest.fixture
def make_client(stomp_broker: Broker) -> Iterator[Callable[..., Client]]:
    """Build clients for the test's broker (``url`` may be overridden); all are disconnected
    after the test."""
    clients: list[Client] = []

    def make(url: str | None = None, **options: Any) -> Client:
        options.setdefault("heart_beats", (0, 0))
        options.setdefault("timeouts", {"receipt": 5.0, "disconnect": 2.0})
        client = Client(url or stomp_broker.url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.disconnect()
