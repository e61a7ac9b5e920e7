"""Suite-wide fixtures: every test must leave no thread and no socket behind."""

from __future__ import annotations

import gc
import importlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

_GRACE = 5.0  # seconds a test's threads get to finish after it returns


PLUGIN = "stomp_enterprise.testing.pytest_plugin"
pytest_plugins = ["pytester"]  # inner pytest sessions (tests/test_integration_lifecycle.py)


def pytest_configure(config: pytest.Config) -> None:
    """The fixtures come from the ``pytest11`` entry point of the installed package; a checkout
    run without that metadata (``PYTHONPATH=.`` over an older install) registers the plugin
    here instead, once: never twice, which pluggy refuses."""
    manager = config.pluginmanager
    if not manager.has_plugin(PLUGIN) and not manager.is_blocked(PLUGIN):
        manager.register(importlib.import_module(PLUGIN), PLUGIN)


def _open_sockets() -> set[str]:
    """Inodes of this process's open sockets (Linux)."""
    found: set[str] = set()
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread or a socket behind."""
    threads_before = set(threading.enumerate())
    sockets_before = _open_sockets()
    yield
    deadline = time.monotonic() + _GRACE
    while True:
        extra_threads = [
            t for t in threading.enumerate() if t not in threads_before and t.is_alive()
        ]
        gc.collect()
        extra_sockets = _open_sockets() - sockets_before
        if not extra_threads and not extra_sockets:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if extra_threads:
        problems.append("threads left running: " + ", ".join(t.name for t in extra_threads))
    if extra_sockets:
        problems.append(f"{len(extra_sockets)} socket(s) left open")
    pytest.fail("; ".join(problems))


@contextmanager
def sans_io_leak_check(layer: str) -> Iterator[None]:
    """``no_leaks`` for the sans-I/O layers (protocol, core): the same thread and socket check
    without the ``gc.collect()`` pass, which dominates hundreds of tiny cases there (nothing in
    those layers could have made a socket for gc to reclaim)."""
    threads_before = set(threading.enumerate())
    sockets_before = _open_sockets()
    yield
    extra_threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    extra_sockets = _open_sockets() - sockets_before
    if extra_threads or extra_sockets:
        pytest.fail(
            f"{layer} test left threads {[t.name for t in extra_threads]} "
            f"and {len(extra_sockets)} socket(s) behind"
        )
