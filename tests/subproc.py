"""Run a snippet in a fresh interpreter with this worktree's package first on the path."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

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
