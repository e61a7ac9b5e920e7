"""The client-agnostic core is sans-I/O: it cannot start a thread or open a socket.

The suite-wide ``no_leaks`` fixture runs ``gc.collect()`` after every test so that a dropped
socket is noticed; with hundreds of small parser/serializer cases that collection dominates the
run time. Here the same check runs without the collection: a leaked thread or socket still
fails the test (nothing in ``core`` could have made one for gc to reclaim).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.conftest import _open_sockets


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread or a socket behind (no gc pass: nothing to reclaim)."""
    threads_before = set(threading.enumerate())
    sockets_before = _open_sockets()
    yield
    extra_threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    extra_sockets = _open_sockets() - sockets_before
    if extra_threads or extra_sockets:
        pytest.fail(
            f"core test left threads {[t.name for t in extra_threads]} "
            f"and {len(extra_sockets)} socket(s) behind"
        )
