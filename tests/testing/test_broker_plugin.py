"""The public surface: ``__all__`` and the pytest plugin."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import stomp_enterprise.testing as testing
from stomp_enterprise.testing import Broker


def test_all_is_the_public_names():
    # (names that are not identifiers, "@py_builtins"..., are pytest's assertion rewriting: the
    # pytest11 entry point makes pytest rewrite the plugin's distribution)
    public = {name for name in vars(testing) if name.isidentifier() and not name.startswith("_")}
    # submodules, the __future__ import and the typing guard
    public -= {"annotations", "broker", "pytest_plugin", "TYPE_CHECKING"}
    assert set(testing.__all__) == public
    assert "Broker" in testing.__all__


def test_stomp_broker_fixture(stomp_broker: Broker):
    assert stomp_broker.running
    assert stomp_broker.port != 0


def test_stomp_broker_factory(stomp_broker_factory):
    a = stomp_broker_factory()
    b = stomp_broker_factory(versions=("1.2",))
    assert a.running
    assert b.running
    assert a.port != b.port


def test_plugin_is_enabled_with_pytest_plugins(tmp_path: Path):
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["stomp_enterprise.testing.pytest_plugin"]\n'
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import threading

            def test_uses_broker(stomp_broker, stomp_broker_factory):
                other = stomp_broker_factory(users={"u": "p"})
                assert stomp_broker.url.startswith("tcp://127.0.0.1:")
                assert other.port != stomp_broker.port

            def test_nothing_left():
                names = [t.name for t in threading.enumerate()]
                assert not [n for n in names if n.startswith("stomp-testing")], names
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
