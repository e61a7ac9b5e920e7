"""The API reference is complete and says the thread of every public method.

``tools/docs_hooks.py`` generates the reference from the modules (every public module's
``__all__``); these tests hold the generator and the docstrings to that. The built site is
checked in ``tests/test_docs_site.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from tests.modules import load_file

ROOT = Path(__file__).resolve().parent.parent
#: what a method's docstring must say: the thread(s) or asyncio task(s) that may call it
THREAD_WORDS = re.compile(r"\b(threads?|tasks?|thread-safe)\b", re.IGNORECASE)


hooks = load_file("docs_hooks", ROOT / "tools" / "docs_hooks.py")
CALLABLES = list(hooks.public_callables())


def test_the_reference_covers_every_public_package_and_the_extras() -> None:
    modules = hooks.public_modules()
    for expected in (
        "stomp_enterprise.client",
        "stomp_enterprise.config",
        "stomp_enterprise.core",
        "stomp_enterprise.errors",
        "stomp_enterprise.protocol",
        "stomp_enterprise.testing",
        "stomp_enterprise.transport",
        "stomp_enterprise.cli",
        *hooks.EXTRA_MODULES,
    ):
        assert expected in modules
    # a package that lands later (stomp_enterprise.aio) is found the same way
    if importlib.util.find_spec("stomp_enterprise.aio") is not None:
        assert "stomp_enterprise.aio" in modules


def test_every_public_name_is_in_the_generated_page() -> None:
    text = hooks.markdown()
    documented = {
        (module, name)
        for section in hooks.sections()
        for name in section.names
        for module in [section.module]
    }
    for module_name in hooks.public_modules()[1:]:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.ismodule(value):  # a public submodule gets a section of its own
                assert f"::: {value.__name__}\n" in text, f"{module_name}.{name}"
                continue
            places = [m for m, n in documented if getattr(importlib.import_module(m), n) is value]
            assert places, f"{module_name}.{name} is in no section of the reference"
            assert any(f"::: {m}\n" in text for m in places)
    top = importlib.import_module("stomp_enterprise")
    for name in top.__all__:
        if name != "__version__":
            assert any(
                getattr(importlib.import_module(m), n) is getattr(top, name) for m, n in documented
            ), name


def test_the_marker_in_api_md_is_replaced() -> None:
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert hooks.MARKER in page
    out = hooks.on_page_markdown(page, page=None, config=None, files=None)
    assert hooks.MARKER not in out
    assert "::: stomp_enterprise.client\n" in out
    assert "        - Client\n" in out


def test_a_name_reexported_at_the_top_but_documented_nowhere_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    top = importlib.import_module("stomp_enterprise")
    monkeypatch.setattr(top, "__all__", [*top.__all__, "Undocumented"], raising=True)
    monkeypatch.setattr(top, "Undocumented", type("Undocumented", (), {}), raising=False)
    with pytest.raises(RuntimeError, match="Undocumented"):
        hooks.sections()


def test_there_are_public_methods_to_check() -> None:
    names = {name for name, _ in CALLABLES}
    assert "stomp_enterprise.client.Client.send" in names
    assert "stomp_enterprise.protocol.Session.receive_data" in names
    assert "stomp_enterprise.testing.Broker.drop_connections" in names
    assert "stomp_enterprise.protocol.commands.send" in names


@pytest.mark.parametrize(("name", "function"), CALLABLES, ids=[n for n, _ in CALLABLES])
def test_every_public_method_says_which_thread_may_call_it(name: str, function: object) -> None:
    doc = inspect.getdoc(function) or ""
    assert THREAD_WORDS.search(doc), f"{name}: the docstring does not say its thread or task"


def test_sphinx_roles_in_docstrings_render_as_plain_code() -> None:
    html = "see :class:<code>~stomp_enterprise.testing.Broker</code> and :func:<code>main</code>"
    assert hooks.on_page_content(html, page=None, config=None, files=None) == (
        "see <code>Broker</code> and <code>main</code>"
    )
