"""Every runnable code example in docs/*.md and README.md runs against the in-process broker.

Convention: a fenced ``python`` block directly preceded by the line ``<!-- test: run -->``
(invisible in the rendered site) is executed. Broker URLs written as ``tcp://localhost:PORT``
in such a block are replaced by in-process brokers, one per distinct port. Other ``python``
blocks (Django settings, gunicorn hooks, ...) must still compile.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from stomp_enterprise.testing import Broker

ROOT = Path(__file__).resolve().parent.parent
MARK = "<!-- test: run -->"
LOCAL_URL = re.compile(r"tcp://localhost:(\d+)")
#: pages whose main examples must be runnable
REQUIRED = [
    "README.md",
    "quickstart.md",
    "transactions.md",
    "acks.md",
    "failover.md",
    "testing.md",
    "patterns.md",
    "request-reply.md",
    "observability.md",
]


class Block(NamedTuple):
    path: Path
    line: int
    code: str
    runnable: bool

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"


def documents() -> list[Path]:
    return [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def python_blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = lines[index].strip()
        if fence.startswith("```") and fence[3:].strip().split(" ")[0] in ("python", "py"):
            indent = len(lines[index]) - len(lines[index].lstrip())
            start = index + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            previous = lines[index - 1].strip() if index > 0 else ""
            code = "\n".join(line[indent:] for line in lines[start:end])
            yield Block(path, index + 1, code + "\n", previous == MARK)
            index = end + 1
        else:
            index += 1


ALL = [block for path in documents() for block in python_blocks(path)]
RUNNABLE = [block for block in ALL if block.runnable]


def test_required_pages_have_runnable_examples() -> None:
    pages = {block.path.name for block in RUNNABLE}
    assert set(REQUIRED) <= pages, f"no runnable example in {sorted(set(REQUIRED) - pages)}"


def test_every_marker_is_followed_by_a_python_block() -> None:
    for path in documents():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines[:-1], start=1):
            if line.strip() == MARK:
                assert lines[number].strip() in ("```python", "```py"), f"{path.name}:{number}"


@pytest.mark.parametrize("block", ALL, ids=[b.name for b in ALL])
def test_python_blocks_compile(block: Block) -> None:
    compile(block.code, block.name, "exec")


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_runnable_example(block: Block, stomp_broker_factory: Callable[..., Broker]) -> None:
    brokers: dict[str, Broker] = {}

    def local(match: re.Match[str]) -> str:
        port = match.group(1)
        if port not in brokers:
            brokers[port] = stomp_broker_factory()
        return brokers[port].url

    code = LOCAL_URL.sub(local, block.code)
    namespace = {"__name__": f"docs_example_{block.path.stem}"}
    exec(compile(code, block.name, "exec"), namespace)
