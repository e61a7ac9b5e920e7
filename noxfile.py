"""Developer tasks. Plain ``nox`` runs what a contributor must pass before pushing."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = ["3.11"]


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package; mypy on the benchmarks."""
    session.install("-e", ".[bench]", "mypy")
    session.run("mypy", "--strict", "stomp_enterprise")
    session.run("mypy", "benchmarks")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The offline suite under coverage (branches and subprocesses included), failing below
    the floor set by ``fail_under`` in pyproject.toml's ``[tool.coverage.report]``."""
    session.install("-e", ".[test]")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", "tests", *session.posargs)
    session.run("coverage", "combine", "--quiet")
    session.run("coverage", "report")  # exits non-zero below fail_under


#: the other interpreters the package supports (pyproject's classifiers); CI runs them
#: through pyenv's shims (``.ci/run`` sets PYENV_VERSION)
OTHER_PYTHONS = ["3.10", "3.12", "3.13"]
#: the offline suite's library tests: protocol, core, both clients on the in-process broker
#: (the tool tests: docs, site, release, benchmarks, CLI run on the main interpreter)
COMPAT_TESTS = [
    "tests/protocol",
    "tests/core",
    "tests/transport",
    "tests/testing",
    "tests/client",
    "tests/aio",
    "tests/parity",
]


@nox.session(python=OTHER_PYTHONS)
def compat(session: nox.Session) -> None:
    """The library's tests on every other supported Python, with the C accelerator built for
    it (``STOMP_ENTERPRISE_REQUIRE_SPEEDUPS=1``: a failed compile fails) and the pure-Python
    fallback checked against it by the differential tests."""
    session.install("-e", ".[test]")
    session.run(
        "python",
        *("setup.py", "-q", "build_ext", "--inplace"),
        env={"STOMP_ENTERPRISE_REQUIRE_SPEEDUPS": "1"},
    )
    session.run(
        "python",
        "-c",
        "import stomp_enterprise.protocol._speedups as c; print('accelerator:', c.__file__)",
    )
    session.run("pytest", *COMPAT_TESTS, "-q", *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """The real-broker suite (testcontainers with --provision=containers where Docker runs,
    else the brokers of integration/brokers/); writes docs/broker-matrix.md."""
    session.install("-e", ".[test]")
    session.run("pytest", "integration", "--write-matrix", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Protocol and end-to-end benchmarks against stomp.py, stompest and a raw client."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks.bench_parser", *session.posargs)
    # end to end against whichever real brokers answer (integration/brokers/start.sh all)
    session.run("python", "-m", "benchmarks.e2e")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs, strict: any warning fails)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session(python=PYTHON)
def release(session: nox.Session) -> None:
    """What CI checks before a release (tools/release.py): sdist + wheel, twine check, the
    wheel in a fresh venv with its dependencies, the demo and a conftest-less project's
    pytest run from it. ``nox -s release -- --offline`` uses no package index."""
    session.install("build", "twine")
    session.run("python", "tools/release.py", *session.posargs)


@nox.session(python=PYTHON)
def charts(session: nox.Session) -> None:
    """Redraw the benchmark charts (docs/bench/*.svg) from the JSON beside them."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks.charts", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The failover demo against the embedded broker (exits 0 only if every message arrived)."""
    session.install("-e", ".")
    session.run("python", "-m", "stomp_enterprise", "demo", *session.posargs)
