"""One test body, both clients: every test here runs once with the threaded
:class:`stomp_enterprise.Client` and once with :class:`stomp_enterprise.aio.Client` driven
through the blocking test facade (``tests/sync_aio.py``).

Fixtures:

* ``client_kind``: ``"threaded"`` or ``"asyncio"`` (the parametrization, in every test's id);
* ``new_client(url, **options)``: a client of that kind with exactly the given options (what
  ``Client(url, **options)`` was in a threaded-only test); closed after the test;
* ``make_client(url=None, **options)``: the same with the defaults of ``tests/client``
  (the test's broker, no heart-beats, short receipt and disconnect timeouts);
* ``recorder``: as in ``tests/client``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stomp_enterprise import Client
from stomp_enterprise.testing import Broker
from tests.client.conftest import Recorder
from tests.sync_aio import SyncAioClient, mark_aio_known_bugs

CLIENT_KINDS = ("threaded", "asyncio")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_aio_known_bugs(items)


@pytest.fixture(params=CLIENT_KINDS)
def client_kind(request: pytest.FixtureRequest) -> str:
    """Which client this run of the test drives."""
    return str(request.param)


@pytest.fixture
def new_client(client_kind: str) -> Iterator[Callable[..., Any]]:
    """``new_client(url, **options)``: ``Client(url, **options)`` of this run's kind."""
    made: list[Any] = []

    def make(url: str, **options: Any) -> Any:
        client: Any = (
            Client(url, **options) if client_kind == "threaded" else SyncAioClient(url, **options)
        )
        made.append(client)
        return client

    yield make
    for client in reversed(made):
        if isinstance(client, SyncAioClient):
            client.close()
        else:
            client.disconnect()


@pytest.fixture
def make_client(stomp_broker: Broker, new_client: Callable[..., Any]) -> Callable[..., Any]:
    """Build clients for the test's broker (``url`` may be overridden); all are disconnected
    after the test."""

    def make(url: str | None = None, **options: Any) -> Any:
        options.setdefault("heart_beats", (0, 0))
        options.setdefault("timeouts", {"receipt": 5.0, "disconnect": 2.0})
        return new_client(url or stomp_broker.url, **options)

    return make


@pytest.fixture
def recorder() -> Callable[[], Recorder]:
    return Recorder
