"""mkdocs hooks (``hooks:`` in mkdocs.yml): the API reference is generated from the modules.

``docs/api.md`` holds the line ``<!-- api-reference -->``; at build time it is replaced by one
section per public module: the package itself and every direct child module or package of
``stomp_enterprise`` whose name does not start with ``_`` and that has an ``__all__`` (so a new
package, such as ``stomp_enterprise.aio``, appears without editing the page), plus the few
submodules in :data:`EXTRA_MODULES` whose names users need but their package does not
re-export. Each section lists exactly the module's ``__all__`` (mkdocstrings renders them from
the docstrings), minus the names an earlier section already documents (the same object
re-exported).

``tests/test_api_reference.py`` checks that every public name is in the generated page and that
every public method's docstring says which thread (or asyncio task) may call it;
``tests/test_docs_site.py`` checks the built HTML.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PACKAGE = "stomp_enterprise"
MARKER = "<!-- api-reference -->"
#: submodules documented on their own: public names their package does not re-export
EXTRA_MODULES = (
    "stomp_enterprise.protocol.failover",  # parse_uri, FailoverUri, FailoverPolicy, ...
    "stomp_enterprise.protocol.models",  # the typed frames (Send, Subscribe, ...)
    "stomp_enterprise.testing.pytest_plugin",  # the fixtures
    "stomp_enterprise.core.codecs",  # Codec, JsonCodec, register_codec (typed payloads)
)


@dataclass(frozen=True)
class Section:
    """One module of the reference and the names it documents."""

    module: str
    names: tuple[str, ...]


def public_modules() -> list[str]:
    """The package, its public direct children that have ``__all__``, and EXTRA_MODULES."""
    package = importlib.import_module(PACKAGE)
    children = sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__, f"{PACKAGE}.")
        if not info.name.rsplit(".", 1)[1].startswith("_")
    )
    found = [name for name in children if hasattr(importlib.import_module(name), "__all__")] + list(
        EXTRA_MODULES
    )
    return [PACKAGE, *sorted(set(found), key=found.index)]


def _documented(value: Any) -> bool:
    """Objects that get their own entry (classes, functions), not constants or aliases."""
    return inspect.isclass(value) or inspect.isfunction(value)


def sections() -> list[Section]:
    """The reference's sections, in order; each public name in the first module exporting it
    (the top-level package only re-exports: it gets a summary table, no entries)."""
    seen: set[int] = set()
    out: list[Section] = []
    top = importlib.import_module(PACKAGE)
    queue = public_modules()[1:]
    while queue:
        name = queue.pop(0)
        module = importlib.import_module(name)
        names = []
        for public in module.__all__:
            value = getattr(module, public)
            if inspect.ismodule(value):  # a public submodule (protocol.commands): its own section
                if value.__name__ not in queue and id(value) not in seen:
                    seen.add(id(value))
                    queue.insert(0, value.__name__)
                continue
            if _documented(value) and id(value) in seen:
                continue
            if _documented(value):
                seen.add(id(value))
            names.append(public)
        if names:
            out.append(Section(name, tuple(names)))
    missing = [n for n in top.__all__ if n != "__version__" and id(getattr(top, n)) not in seen]
    if missing:
        raise RuntimeError(f"{PACKAGE}.__all__ re-exports names no section documents: {missing}")
    return out


def markdown() -> str:
    """The generated part of ``docs/api.md``."""
    lines: list[str] = []
    for section in sections():
        lines += [f"## `{section.module}`", ""]  # the module's docstring follows, rendered
        lines += [f"::: {section.module}", "    options:", "      show_root_heading: false"]
        lines += ["      inherited_members: true"]  # a Client's shared members (ShellBase)
        lines += ["      members:", *(f"        - {name}" for name in section.names), ""]
    return "\n".join(lines)


def public_callables() -> Iterator[tuple[str, Any]]:
    """``(qualified name, function)`` for every public function and every public method of
    every public class in the reference (defined in this package; properties and dunders
    left out: they are attributes and protocol plumbing)."""
    seen: set[int] = set()
    for section in sections():
        module = importlib.import_module(section.module)
        for name in section.names:
            value = getattr(module, name)
            if id(value) in seen or not _ours(value):
                continue
            seen.add(id(value))
            if inspect.isfunction(value):
                yield f"{section.module}.{name}", value
            elif inspect.isclass(value):
                for attr, member in vars(value).items():
                    function = getattr(member, "__func__", member)
                    if attr.startswith("_") or not inspect.isfunction(function):
                        continue
                    yield f"{section.module}.{name}.{attr}", function


def _ours(value: Any) -> bool:
    name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
    return (name or "").startswith(PACKAGE)


#: a Sphinx role left in a docstring, as mkdocstrings renders it: ``:class:`~a.b.C` ``
_ROLE = re.compile(r":(?:func|class|meth|mod|attr|exc|data|obj):<code>(~?)([\w.]+)</code>")


def _plain_role(match: re.Match[str]) -> str:
    name = match[2].rsplit(".", 1)[-1] if match[1] else match[2]
    return f"<code>{name}</code>"


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs hook: docstrings use Sphinx roles (``:class:`X` ``); show them as plain code
    (``~a.b.C`` as ``C``, as Sphinx does) instead of the raw role text."""
    return _ROLE.sub(_plain_role, html)


def on_page_markdown(markdown_text: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs hook: put the generated reference where ``docs/api.md`` has the marker."""
    if MARKER not in markdown_text:
        return markdown_text
    return markdown_text.replace(MARKER, markdown())
