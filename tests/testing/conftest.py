"""Fixtures for the testing-broker tests; the broker fixtures come from the shipped plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stomp_enterprise.testing.pytest_plugin import stomp_broker, stomp_broker_factory
from tests.testing.helpers import RawClient

__all__ = ["clients", "stomp_broker", "stomp_broker_factory"]


@pytest.fixture
def clients() -> Iterator[Callable[..., RawClient]]:
    """``open(broker, **kw) -> RawClient``; every client is closed after the test."""
    opened: list[RawClient] = []

    def open_client(broker: Any, **kwargs: Any) -> RawClient:
        client = RawClient(broker, **kwargs)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()
