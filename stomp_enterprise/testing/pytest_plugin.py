"""pytest fixtures for the in-process broker.

Installed with the package: ``pyproject.toml`` registers this module as a ``pytest11`` entry
point named after the module, so every pytest run in an environment where the package is
installed has the fixtures, with no ``conftest.py`` line; an old
``pytest_plugins = ["stomp_enterprise.testing.pytest_plugin"]`` line finds it registered and is
harmless. ``-p no:stomp_enterprise.testing.pytest_plugin`` turns the plugin off.

Fixtures:

* ``stomp_broker``: a started :class:`~stomp_enterprise.testing.Broker` on ``127.0.0.1`` and
  a free port, stopped after the test.
* ``stomp_broker_factory``: ``make(**kwargs) -> Broker`` (same arguments as ``Broker``); every
  broker it made is started at once and stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stomp_enterprise.testing.broker import Broker

__all__ = ["stomp_broker", "stomp_broker_factory"]


@pytest.fixture
def stomp_broker() -> Iterator[Broker]:
    """A running broker on ``127.0.0.1:<free port>``; stopped (threads joined) afterwards."""
    with Broker() as broker:
        yield broker


@pytest.fixture
def stomp_broker_factory() -> Iterator[Callable[..., Broker]]:
    """Make started brokers with ``make(**broker_kwargs)``; all are stopped afterwards."""
    brokers: list[Broker] = []

    def make(**kwargs: Any) -> Broker:
        broker = Broker(**kwargs)
        broker.start()
        brokers.append(broker)
        return broker

    yield make
    for broker in reversed(brokers):
        broker.stop()
