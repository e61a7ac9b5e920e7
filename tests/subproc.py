"""Run a snippet in a fresh interpreter with this worktree's package first on the path."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import stomp_enterprise

ROOT = pathlib.Path(stomp_enterprise.__file__).parent.parent


def run_python(code: str, *, measured: bool = True, **env: str) -> str:
    """stdout of ``python -c code`` (raises on a non-zero exit; bounded to 60 s).

    ``measured=False`` keeps coverage's subprocess measurement out of the child (coverage
    imports modules of its own at start-up, e.g. ``socket``, which an import probe must not
    see)."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    if not measured:
        environ = {k: v for k, v in environ.items() if not k.startswith("COVERAGE_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
        timeout=60,
    )
    return out.stdout


def _program(preamble: str, program: str, args: tuple[str, ...]) -> list[str]:
    """The command line of ``preamble`` + ``program`` (each dedented) with ``args``."""
    return [sys.executable, "-c", textwrap.dedent(preamble) + textwrap.dedent(program), *args]


def _program_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run_program(
    preamble: str, program: str, *args: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``preamble`` + ``program`` (each dedented) in a fresh interpreter with ``args``
    as ``sys.argv[1:]``; the process is returned whatever its exit status. ``timeout``
    (subprocess.TimeoutExpired) is the bound the caller's assertion is about."""
    return subprocess.run(
        _program(preamble, program, args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_program_env(),
    )


def start_program(preamble: str, program: str, *args: str) -> subprocess.Popen[str]:
    """:func:`run_program` without waiting: the child's stdin, stdout and stderr are pipes
    (text) for a test that talks to it while it runs. The caller kills and waits for it."""
    return subprocess.Popen(
        _program(preamble, program, args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_program_env(),
    )


def run_quick_e2e(
    tmp_path: pathlib.Path, *args: str, timeout: float = 120.0
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    """``python -m benchmarks.e2e --brokers embedded --quick --count 200 ARGS`` writing its
    JSON and its docs page under ``tmp_path``: (the process, the JSON, the page); the JSON
    and the page are empty when the run failed before writing them. ``timeout`` is a guard
    against a hang, not a speed check."""
    out, docs = tmp_path / "e2e.json", tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.e2e",
            *("--brokers", "embedded", "--quick", "--count", "200"),
            *("--json", str(out), "--docs-path", str(docs), "--write-docs"),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    data = json.loads(out.read_text()) if out.exists() else {}
    return proc, data, docs.read_text() if docs.exists() else ""
