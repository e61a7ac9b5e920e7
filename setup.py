"""Build of the optional C accelerator (``stomp_enterprise/protocol/_speedups.c``).

Everything else is declared in ``pyproject.toml``. The extension is optional: where it cannot
be compiled the package installs and runs as pure Python (the parser is the same either way).
Set ``STOMP_ENTERPRISE_REQUIRE_SPEEDUPS=1`` to make a failed compile an error instead (CI does).
"""

import os

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "stomp_enterprise.protocol._speedups",
            ["stomp_enterprise/protocol/_speedups.c"],
            optional=not os.environ.get("STOMP_ENTERPRISE_REQUIRE_SPEEDUPS"),
        )
    ]
)
