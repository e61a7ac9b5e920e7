"""The testcontainers path (``--provision=containers``) is at least import-tested here, where
no Docker engine exists; with an engine, the same definitions are what provisioning uses."""

from __future__ import annotations

import importlib

import pytest

from integration import containers, settings


def test_container_definition(broker_name: str) -> None:
    """Each broker has a container definition publishing STOMP on the fixed port; without a
    Docker engine, starting one fails fast with a clear RuntimeError."""
    module = importlib.reload(containers)
    spec = module.CONTAINER_SPECS[broker_name]
    assert ":" in spec.image_for(broker_name)
    assert spec.login
    assert spec.passcode
    assert spec.start_timeout > 0
    broker = settings.load_brokers()[broker_name]
    if module.docker_available():
        assert module.STOMP_PORT == 61613
        return
    with pytest.raises(RuntimeError, match="Docker"):
        module.start(broker)
