"""The package version: the one place it is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``stomp_enterprise.__version__``
re-exports it, and ``CHANGELOG.md``'s newest release heading must match it (a test checks).
"""

from __future__ import annotations

__version__ = "0.1.0"
