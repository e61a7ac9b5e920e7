"""The protocol core is sans-I/O: it cannot start a thread or open a socket, so its
tests use the light leak check (see ``tests.conftest.sans_io_leak_check``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import sans_io_leak_check


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread or a socket behind (no gc pass: nothing to reclaim)."""
    with sans_io_leak_check("protocol"):
        yield
