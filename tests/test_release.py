"""Release readiness: one version, a wheel that installs and runs, the pytest entry point.

The wheel tests drive ``tools/release.py`` (the same code ``.ci/run`` runs) in offline mode: the
sdist and the wheel are built from a copy of the checkout without build isolation, and the
wheel goes into a fresh venv that sees this interpreter's packages (pydantic, pytest), with
``--no-deps --no-index``, so nothing is fetched.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

import pytest

import stomp_enterprise
from stomp_enterprise import _version
from tests.modules import load_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the test extra installs tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


release = load_file("tools_release", ROOT / "tools" / "release.py")


def test_the_version_is_written_in_one_place() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "stomp_enterprise._version.__version__"
    assert stomp_enterprise.__version__ == _version.__version__
    literal = re.compile(r"""__version__\s*=\s*["']""")
    writers = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "stomp_enterprise").rglob("*.py")
        if literal.search(path.read_text(encoding="utf-8"))
    ]
    assert writers == ["stomp_enterprise/_version.py"]


def test_the_changelog_describes_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert releases, "no '## [version] - date' heading"
    names = [name for name, _ in releases]
    assert names[0] == "Unreleased" or names[0] == _version.__version__
    assert _version.__version__ in names, f"CHANGELOG.md has no section for {_version.__version__}"
    for name, date in releases:
        assert name == "Unreleased" or date, f"release {name} has no date"


def test_the_pytest_plugin_is_an_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    points = project["project"]["entry-points"]["pytest11"]
    # named after the module: an old conftest's pytest_plugins line finds it registered
    assert points == {
        "stomp_enterprise.testing.pytest_plugin": "stomp_enterprise.testing.pytest_plugin"
    }


def test_our_conftest_registers_the_plugin_once(pytestconfig: pytest.Config) -> None:
    from stomp_enterprise.testing import pytest_plugin

    registered = [
        name
        for name, plugin in pytestconfig.pluginmanager.list_name_plugin()
        if plugin is pytest_plugin
    ]
    assert len(registered) == 1, registered


@pytest.fixture(scope="module")
def offline_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(work directory, the venv's python) after the build, twine check and install."""
    work = tmp_path_factory.mktemp("release")
    source = release.copy_checkout(work / "src")
    release.build(source, work / "dist", isolated=False)
    sdist, wheel = release.artifacts(work / "dist")
    release.run(
        [sys.executable, "-m", "twine", "check", "--strict", sdist, wheel], cwd=work, what="twine"
    )
    return work, release.make_venv(work / "venv", wheel, offline=True)


@pytest.mark.slow
def test_the_sdist_and_wheel_ship_the_package_and_the_optional_accelerator(
    offline_release: tuple[Path, Path],
) -> None:
    work, _ = offline_release
    sdist, wheel = release.artifacts(work / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert "stomp_enterprise/py.typed" in names
    assert "stomp_enterprise/protocol/_speedups.c" in names
    assert any(re.match(r"stomp_enterprise/protocol/_speedups\..*\.so$", n) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]" in text
    plugin = "stomp_enterprise.testing.pytest_plugin"
    assert f"{plugin} = {plugin}" in text
    assert sdist.name == f"stomp_enterprise-{_version.__version__}.tar.gz"


@pytest.mark.slow
def test_the_demo_runs_from_the_wheel_in_a_fresh_venv(offline_release: tuple[Path, Path]) -> None:
    work, python = offline_release
    empty = work / "demo-cwd"
    empty.mkdir()
    assert release.installed_from(python, empty).is_relative_to(work / "venv")
    assert "all 400 orders arrived" in release.run_demo(python, empty)


OLD_CONFTEST = 'pytest_plugins = ["stomp_enterprise.testing.pytest_plugin"]\n'


@pytest.mark.slow
@pytest.mark.parametrize("conftest", [None, OLD_CONFTEST], ids=["no-conftest", "old-conftest"])
def test_a_fresh_project_sees_stomp_broker(
    offline_release: tuple[Path, Path], conftest: str | None
) -> None:
    """No conftest: the fixtures come from the entry point. The conftest line the docs asked
    for before (upgrading users keep it) must not register the plugin twice."""
    work, python = offline_release
    project = work / ("project" if conftest is None else "old-project")
    project.mkdir()
    if conftest is not None:
        (project / "conftest.py").write_text(conftest, encoding="utf-8")
    assert "1 passed" in release.run_fresh_project(python, project)
    if conftest is None:  # the entry point's name turns them off, as documented
        with pytest.raises(release.ReleaseCheckError, match="fixture 'stomp_broker' not found"):
            release.run_fresh_project(
                python, project, "-p", "no:stomp_enterprise.testing.pytest_plugin"
            )


@pytest.mark.slow
def test_a_failed_compile_still_builds_a_pure_python_wheel(tmp_path: Path) -> None:
    source = release.copy_checkout(tmp_path / "src")
    broken = release.clean_env(CC="false")  # a compiler that always fails
    broken.pop("STOMP_ENTERPRISE_REQUIRE_SPEEDUPS", None)
    release.build(source, tmp_path / "dist", isolated=False, env=broken)
    _, wheel = release.artifacts(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert "stomp_enterprise/protocol/parser.py" in names
    assert not [n for n in names if n.endswith(".so")]
    # CI's switch makes the same failure an error
    required = {**broken, "STOMP_ENTERPRISE_REQUIRE_SPEEDUPS": "1"}
    with pytest.raises(release.ReleaseCheckError, match="_speedups"):
        release.build(source, tmp_path / "dist-required", isolated=False, env=required)
