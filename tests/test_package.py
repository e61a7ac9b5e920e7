"""Package-level contracts: public names and the direction of imports between layers."""

from __future__ import annotations

import ast
import json
import pathlib

import pytest

import stomp_enterprise
from tests.subproc import run_python

PACKAGE = pathlib.Path(stomp_enterprise.__file__).parent

# layer -> layers it must never import
# (core/ does not exist yet; when it does it may import protocol and errors only)
FORBIDDEN = {
    "protocol": ("transport", "client", "testing", "cli", "core", "aio"),
    "core": ("transport", "client", "testing", "cli", "aio", "config"),
    "transport": ("client", "testing", "cli"),
    "client": ("testing", "cli"),
}


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_layers_import_one_way() -> None:
    assert _wrong_arrows(PACKAGE, FORBIDDEN) == []


def _wrong_arrows(package: pathlib.Path, forbidden: dict[str, tuple[str, ...]]) -> list[str]:
    wrong = []
    for layer, others in forbidden.items():
        for path in (package / layer).rglob("*.py"):
            for module in _imports(path):
                for other in others:
                    if module == f"stomp_enterprise.{other}" or module.startswith(
                        f"stomp_enterprise.{other}."
                    ):
                        wrong.append(f"{path.relative_to(package)} imports {module}")
    return wrong


def test_a_future_core_package_may_import_protocol_and_errors_only(tmp_path) -> None:
    core = tmp_path / "core"
    core.mkdir()
    (core / "ok.py").write_text(
        "from stomp_enterprise.protocol.frames import Frame\nfrom stomp_enterprise import errors\n"
    )
    (core / "bad.py").write_text(
        "import stomp_enterprise.client.connection\nfrom stomp_enterprise.transport import x\n"
    )
    assert sorted(_wrong_arrows(tmp_path, {"core": FORBIDDEN["core"]})) == [
        "core/bad.py imports stomp_enterprise.client.connection",
        "core/bad.py imports stomp_enterprise.transport",
    ]


BANNED_IN_CORE = {"socket", "ssl", "threading", "time", "select", "selectors", "asyncio"}


@pytest.mark.parametrize("layer", ["protocol", "core"])
def test_sans_io_layers_do_no_io(layer) -> None:
    wrong = [
        f"{path.name} imports {module}"
        for path in (PACKAGE / layer).rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] in BANNED_IN_CORE
    ]
    assert wrong == []


_PROBE = """
import json, sys
before = set(sys.modules)
import {module}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _modules_added_by(module: str) -> set[str]:
    """What ``import module`` adds to ``sys.modules`` in a fresh interpreter (what the
    interpreter and site load by themselves, e.g. ``threading``, is in ``before``)."""
    return set(json.loads(run_python(_PROBE.format(module=module), measured=False)))


@pytest.mark.parametrize("module", ["stomp_enterprise.protocol", "stomp_enterprise.errors"])
def test_the_sans_io_core_imports_alone(module) -> None:
    added = _modules_added_by(module)
    heavy = {
        name
        for name in added
        if name.split(".")[0] in {"socket", "ssl", "threading", "tenacity", "select", "asyncio"}
        or name.startswith(
            ("stomp_enterprise.client", "stomp_enterprise.transport", "stomp_enterprise.testing")
        )
        or name in {"stomp_enterprise.config", "stomp_enterprise.cli", "concurrent.futures"}
    }
    assert heavy == set(), sorted(heavy)


def test_the_probe_sees_what_the_full_client_loads() -> None:
    # the check above can fail: importing the client does load these
    added = _modules_added_by("stomp_enterprise.client")
    assert {"tenacity", "stomp_enterprise.transport", "socket"} <= added


def test_core_imports_only_protocol_and_errors() -> None:
    allowed = ("stomp_enterprise.core", "stomp_enterprise.protocol", "stomp_enterprise.errors")
    wrong = [
        f"{path.name} imports {module}"
        for path in (PACKAGE / "core").rglob("*.py")
        for module in _imports(path)
        if module.startswith("stomp_enterprise") and not module.startswith(allowed)
    ]
    assert (PACKAGE / "core" / "outbox.py").exists()
    assert wrong == []


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name in dir(stomp_enterprise)
        if not name.startswith("_")
        and not isinstance(getattr(stomp_enterprise, name), type(stomp_enterprise))
        and name not in {"annotations", "importlib", "TYPE_CHECKING", "Any", "errors"}
    }
    assert set(stomp_enterprise.__all__) - {"__version__"} == public
    for name in stomp_enterprise.__all__:
        assert getattr(stomp_enterprise, name) is not None


def test_lazy_package_refuses_unknown_names() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = stomp_enterprise.Nope  # type: ignore[attr-defined]
    assert stomp_enterprise.Client is stomp_enterprise.client.Client


def test_errors_form_one_tree() -> None:
    from stomp_enterprise import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.StompError), name
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.StompTimeout, TimeoutError)
    assert not issubclass(errors.StompConnectionError, ConnectionError)
