"""docs/production.md states the real defaults: every row of its tables is read from the code.

A row's first cell names the setting (``name``: ``ClientConfig``; ``timeouts.name``:
``Timeouts``; ``tls.name``: ``TlsOptions``; ``?name``: the failover URI option of that
ActiveMQ name; ``subscribe(name=)``/``send(name=)``: a keyword of that ``Client`` method),
the second its default as a Python expression (literals, ``*``, and ``ssl.`` names).
The observability table names ``Client`` properties and events: each must exist.
"""

from __future__ import annotations

import ast
import inspect
import re
import ssl
from pathlib import Path
from typing import Any

import pytest

from stomp_enterprise import Client, ClientConfig, Timeouts, TlsOptions, WebSocketOptions
from stomp_enterprise.client.listeners import EVENTS
from stomp_enterprise.protocol.failover import FailoverPolicy

PAGE = Path(__file__).resolve().parent.parent / "docs" / "production.md"
CELL_CODE = re.compile(r"`([^`]+)`")
#: the sections the issue asks for, each with at least one checked row (or table)
SECTIONS = [
    "Timeouts",
    "Failover URI and back-off",
    "TLS",
    "Heart-beats",
    "Tracking and flow control",
    "Error policies and error destinations",
    "Prefetch",
    "Observability",
]


def tables(text: str) -> dict[str, list[list[str]]]:
    """section title -> rows (cells) of the tables under it, header and rule left out."""
    found: dict[str, list[list[str]]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if set(cells[0]) <= {"-", " ", ":"} or cells[0] in ("setting", "watch"):
                continue
            found.setdefault(section, []).append(cells)
    return found


def evaluate(expression: str) -> Any:
    """A default written in the page: literals, products (``16 * 1024 * 1024``), ``ssl.X.Y``."""

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(value(e) for e in node.elts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            return value(node.left) * value(node.right)
        if isinstance(node, ast.Attribute):
            return getattr(value(node.value), node.attr)
        if isinstance(node, ast.Name) and node.id == "ssl":
            return ssl
        raise ValueError(f"not a plain default: {ast.dump(node)}")

    return value(ast.parse(expression, mode="eval").body)


def code_default(setting: str) -> Any:
    """The default of ``setting`` (the page's first cell) read from the code."""
    if setting.startswith("timeouts."):
        return Timeouts.model_fields[setting.removeprefix("timeouts.")].get_default()
    if setting.startswith("tls."):
        return TlsOptions.model_fields[setting.removeprefix("tls.")].get_default()
    if setting.startswith("websocket."):
        return WebSocketOptions.model_fields[setting.removeprefix("websocket.")].get_default()
    if setting.startswith("?"):
        alias = setting[1:]
        (field,) = [f for f in FailoverPolicy.model_fields.values() if f.alias == alias]
        return field.get_default()
    method = re.fullmatch(r"(\w+)\((\w+)=\)", setting)
    if method:
        parameter = inspect.signature(getattr(Client, method[1])).parameters[method[2]]
        assert parameter.default is not inspect.Parameter.empty, setting
        return parameter.default
    return ClientConfig.model_fields[setting].get_default(call_default_factory=True)


TABLES = tables(PAGE.read_text(encoding="utf-8"))
ROWS = [
    (section, cells)
    for section, rows in TABLES.items()
    if section != "Observability"
    for cells in rows
]


def test_every_section_of_the_checklist_has_a_table() -> None:
    assert [s for s in SECTIONS if not TABLES.get(s)] == []


@pytest.mark.parametrize(
    ("section", "cells"), ROWS, ids=[CELL_CODE.findall(c[0])[0] for _, c in ROWS]
)
def test_the_stated_default_is_the_code_default(section: str, cells: list[str]) -> None:
    setting_cell, default_cell, reason = cells
    (setting,) = CELL_CODE.findall(setting_cell)
    (default,) = CELL_CODE.findall(default_cell)
    assert evaluate(default) == code_default(setting), f"{section}: {setting}"
    assert reason.endswith("."), f"{setting}: give a one-line reason"
    assert len(reason) > 20, f"{setting}: give a one-line reason"


def test_every_client_config_field_that_matters_in_production_is_listed() -> None:
    listed = {CELL_CODE.findall(cells[0])[0] for _, cells in ROWS}
    listed |= {name.split(".")[0] for name in listed if name.startswith("websocket.")}
    wanted = {
        name for name in ClientConfig.model_fields if name not in ("url", "login", "passcode")
    } - {"timeouts", "vhost", "versions", "content_length", "client_id", "connect_headers", "seed"}
    assert wanted - listed == set()
    assert {f"timeouts.{name}" for name in Timeouts.model_fields} <= listed


def test_the_observability_table_names_real_properties_and_events() -> None:
    rows = TABLES["Observability"]
    properties = {n for cells in rows for n in re.findall(r"`Client\.(\w+)`", cells[1])}
    events = {n for cells in rows for n in re.findall(r"events? ((?:`\w+`(?: / |, )?)+)", cells[1])}
    named_events = {e for group in events for e in CELL_CODE.findall(group)}
    assert properties, "no Client property named"
    assert [p for p in properties if not isinstance(getattr(Client, p, None), property)] == []
    assert named_events - set(EVENTS) == set()
    assert set(EVENTS) - named_events == {"receipt"}  # every event but per-receipt noise


def test_the_evaluator_refuses_what_is_not_a_plain_default() -> None:
    with pytest.raises(ValueError, match="not a plain default"):
        evaluate("__import__('os')")
