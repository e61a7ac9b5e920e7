"""Release check: build the sdist and the wheel, ``twine check`` them, install the wheel into a
fresh virtual environment and run the demo and a fresh project's tests from it.

Run from anywhere (it works on a copy of the checkout, never in it)::

    python tools/release.py                 # what CI runs (.ci/run): a venv of its own, the
                                            # dependencies from the package index
    python tools/release.py --offline       # no index: the venv sees this interpreter's
                                            # packages (pydantic, pytest ...), the wheel goes
                                            # in with --no-deps (tests/test_release.py)
    python tools/release.py --keep DIR      # leave the sdist, wheel and venv in DIR

Steps (each prints one line with its wall time):

1. copy the files git knows (tracked, and new files not ignored) to a scratch directory, so a
   stale ``*.egg-info`` or ``build/`` of the checkout cannot leak into the sdist;
2. ``python -m build`` there: the sdist, then the wheel built *from the sdist* (so a file missing
   from the sdist breaks the wheel); with ``STOMP_ENTERPRISE_REQUIRE_SPEEDUPS=1`` a failed
   compile of the C accelerator is an error, without it the wheel is pure Python;
3. ``twine check`` on both (the README renders on the index, the metadata is complete);
4. a fresh venv, ``pip install`` of the wheel;
5. ``python -m stomp_enterprise demo`` from that venv, in an empty directory (so the checkout is
   not on the path), and an assertion that ``stomp_enterprise`` came from the venv;
6. a fresh project (one test file using the ``stomp_broker`` fixture, no conftest) whose
   ``pytest`` run passes: the fixtures come from the ``pytest11`` entry point.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: bounds every step (a wedged build or pip is an error, not a hang)
STEP_TIMEOUT = 600.0

FRESH_PROJECT_TEST = """\
from stomp_enterprise import Client


def test_the_fixture_comes_from_the_installed_package(stomp_broker):
    with Client(stomp_broker.url) as client:
        client.send("/queue/orders", "x", receipt=True)
    assert stomp_broker.queue_depth("/queue/orders") == 1
"""


class ReleaseCheckError(RuntimeError):
    """A step of the release check failed; the message carries the step's output tail."""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would put the checkout (or a coverage run of
    it) on the child's path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not k.startswith("COVERAGE_")
    }
    env.update(extra)
    return env


def run(
    args: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None, what: str
) -> str:
    """Run one step; its combined output, or :class:`ReleaseCheckError` with the output's tail."""
    started = time.monotonic()
    try:
        done = subprocess.run(  # noqa: S603 - our interpreter, its venv and our paths
            [str(a) for a in args],
            cwd=cwd,
            env=env if env is not None else clean_env(),
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReleaseCheckError(f"{what}: no result within {STEP_TIMEOUT:g} s") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise ReleaseCheckError(f"{what}: exit {done.returncode}\n{output[-3000:]}")
    print(f"release: {what}: ok ({time.monotonic() - started:.1f} s)", flush=True)
    return output


def source_files(root: Path = ROOT) -> list[str]:
    """The files git knows in ``root`` (tracked, and new ones that are not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=root,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    return sorted(name for name in out.split("\0") if name and (root / name).is_file())


def copy_checkout(destination: Path, root: Path = ROOT) -> Path:
    """Copy :func:`source_files` of ``root`` to ``destination``; returns ``destination``."""
    for name in source_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return destination


def build(source: Path, outdir: Path, *, isolated: bool, env: dict[str, str] | None = None) -> None:
    """``python -m build`` of ``source`` into ``outdir`` (sdist, then the wheel from it)."""
    args: list[str | Path] = [sys.executable, "-m", "build", "--outdir", outdir]
    if not isolated:
        args.append("--no-isolation")
    run([*args, source], cwd=source, env=env, what="python -m build (sdist + wheel)")


def artifacts(outdir: Path) -> tuple[Path, Path]:
    """The sdist and the wheel in ``outdir`` (exactly one of each)."""
    sdists = sorted(outdir.glob("*.tar.gz"))
    wheels = sorted(outdir.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise ReleaseCheckError(f"expected one sdist and one wheel in {outdir}: {sdists + wheels}")
    return sdists[0], wheels[0]


def make_venv(path: Path, wheel: Path, *, offline: bool) -> Path:
    """A venv at ``path`` with ``wheel`` installed; returns its python."""
    # without its own pip (ensurepip takes ~10 s): this interpreter's pip installs into it
    args: list[str | Path] = [sys.executable, "-m", "venv", "--without-pip"]
    if offline:
        args.append("--system-site-packages")
    run([*args, path], cwd=path.parent, what="fresh venv")
    python = path / "bin" / "python"
    install: list[str | Path] = [sys.executable, "-m", "pip", "--python", python, "install", "-q"]
    if offline:
        install += ["--no-deps", "--no-index"]
    else:  # what a user of the fixtures has: the wheel's dependencies, and pytest
        install.append("pytest")
    run([*install, wheel], cwd=path.parent, what=f"pip install {wheel.name}")
    return python


def installed_from(python: Path, cwd: Path) -> Path:
    """Where ``python`` imports ``stomp_enterprise`` from."""
    code = "import stomp_enterprise; print(stomp_enterprise.__file__)"
    out = run([python, "-c", code], cwd=cwd, what="import stomp_enterprise")
    return Path(out.strip().splitlines()[-1])


def run_demo(python: Path, cwd: Path) -> str:
    """``python -m stomp_enterprise demo`` in ``cwd``; its output."""
    return run([python, "-m", "stomp_enterprise", "demo"], cwd=cwd, what="demo from the wheel")


def run_fresh_project(python: Path, project: Path, *extra: str) -> str:
    """Write a project holding only :data:`FRESH_PROJECT_TEST` and run pytest in it."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "test_orders.py").write_text(FRESH_PROJECT_TEST, encoding="utf-8")
    args = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
    return run(args, cwd=project, what="pytest in a fresh project")


@contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    """``keep`` (created), or a scratch directory removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="stomp-release-") as scratch:
        yield Path(scratch)


def check(work: Path, *, offline: bool) -> None:
    """Every step of the module docstring, in ``work``."""
    source = copy_checkout(work / "src")
    dist = work / "dist"
    build(source, dist, isolated=not offline)
    sdist, wheel = artifacts(dist)
    run([sys.executable, "-m", "twine", "check", "--strict", sdist, wheel], cwd=work, what="twine")
    python = make_venv(work / "venv", wheel, offline=offline)
    empty = work / "empty"
    empty.mkdir()
    origin = installed_from(python, empty)
    if not origin.is_relative_to(work / "venv"):
        raise ReleaseCheckError(f"stomp_enterprise imported from {origin}, not from the venv")
    print(run_demo(python, empty).rstrip().splitlines()[-1], flush=True)
    run_fresh_project(python, work / "project")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true", help="no package index (see above)")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep the result")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        with workdir(args.keep) as work:
            check(work, offline=args.offline)
    except ReleaseCheckError as exc:
        print(f"release: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"release: all steps passed in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
