"""The asyncio shell imports the core, never the threaded shell (and vice versa), and its
public names are exactly what ``__all__`` says."""

from __future__ import annotations

import stomp_enterprise.aio
from tests.test_package import PACKAGE, _imports, _wrong_arrows

SHELLS = {
    "aio": ("client", "testing", "cli"),
    "client": ("aio", "testing", "cli"),
}


def test_the_two_shells_do_not_import_each_other() -> None:
    assert _wrong_arrows(PACKAGE, SHELLS) == []
    shared = _imports(PACKAGE / "_shell.py")
    assert not [
        m for m in shared if m.startswith(("stomp_enterprise.client", "stomp_enterprise.aio"))
    ]


def test_public_names() -> None:
    assert sorted(stomp_enterprise.aio.__all__) == [
        "Client",
        "ConnectedInfo",
        "Message",
        "Subscription",
        "Transaction",
    ]
    for name in stomp_enterprise.aio.__all__:
        assert getattr(stomp_enterprise.aio, name).__module__.startswith("stomp_enterprise.")
