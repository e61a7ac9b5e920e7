"""Run a snippet in a fresh interpreter with this worktree's package first on the path."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import stomp_enterprise

ROOT = pathlib.Path(stomp_enterprise.__file__).parent.parent


def run_python(code: str, **env: str) -> str:
    """stdout of ``python -c code`` (raises on a non-zero exit; bounded to 60 s)."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
        timeout=60,
    )
    return out.stdout
