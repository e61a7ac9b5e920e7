"""Package-level contracts: public names and the direction of imports between layers."""

from __future__ import annotations

import ast
import pathlib

import pytest

import stomp_enterprise

PACKAGE = pathlib.Path(stomp_enterprise.__file__).parent

# layer -> layers it must never import
FORBIDDEN = {
    "protocol": ("core", "transport", "client", "testing", "cli"),
    "core": ("transport", "client", "testing", "cli", "config"),
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
    wrong = []
    for layer, forbidden in FORBIDDEN.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            for module in _imports(path):
                for other in forbidden:
                    if module == f"stomp_enterprise.{other}" or module.startswith(
                        f"stomp_enterprise.{other}."
                    ):
                        wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert wrong == []


@pytest.mark.parametrize("layer", ["protocol", "core"])
def test_sans_io_layers_do_no_io(layer: str) -> None:
    banned = {"socket", "ssl", "threading", "time", "select", "selectors", "asyncio"}
    wrong = [
        f"{path.name} imports {module}"
        for path in (PACKAGE / layer).rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] in banned
    ]
    assert wrong == []


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
        for name, value in vars(stomp_enterprise).items()
        if not name.startswith("_")
        and not isinstance(value, type(stomp_enterprise))
        and name != "annotations"  # from __future__
    }
    assert set(stomp_enterprise.__all__) - {"__version__"} == public


def test_errors_form_one_tree() -> None:
    from stomp_enterprise import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.StompError), name
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.StompTimeout, TimeoutError)
    assert not issubclass(errors.StompConnectionError, ConnectionError)
