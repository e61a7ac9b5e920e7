"""The documentation site as a reader sees it: built with mkdocs (strict), every page opened in
headless Chromium at 1280 px, charts loaded and drawn, no page wider than the window, the API
reference carrying every public name.

The browser is Debian's ``chromium`` package driven by playwright (``executable_path``: no
browser download). ``.ci/run`` installs it; elsewhere a missing browser skips these tests with
the reason, and fails them when ``CI`` is set (as the integration suite does for brokers).
Set ``STOMP_DOCS_SCREENSHOTS=DIR`` to keep a full-page PNG of every page.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.modules import load_file

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
WIDTH, HEIGHT = 1280, 900
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.glob("*.md"))
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _url_path(page: str) -> str:
    """docs/x.md -> x/index.html (use_directory_urls), index.md -> index.html."""
    stem = page.removesuffix(".md")
    return "index.html" if stem == "index" else f"{stem}/index.html"


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"docs site check cannot run in CI: {why}")
    pytest.skip(f"{why} (apt-get install chromium; set CI=1 to make this a failure)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built from this checkout (strict: any warning fails the build)."""
    if importlib.util.find_spec("mkdocs") is None:
        _unavailable("mkdocs is not installed (pip install -e '.[test]')")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def browser_page(site: Path) -> Iterator[Any]:
    """One headless Chromium tab at 1280 x 900 (module-wide: started once)."""
    executable = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if executable is None:
        _unavailable("no Chromium on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            tab = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            # a first page and a screenshot to a file start the helper thread playwright's
            # event loop keeps for file writes: here, not inside a test's leak check
            tab.goto((site / "index.html").as_uri(), wait_until="load")
            tab.screenshot(path=str(site.parent / "warm-up.png"))
            yield tab
        finally:
            browser.close()


OVERFLOW_JS = """() => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > root.clientWidth + 1)
    .filter(e => !e.closest('.md-typeset__scrollwrap, pre, .md-sidebar, .md-search'))
    .slice(0, 5).map(e => e.tagName + '.' + e.className);
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide: wide};
}"""

IMAGES_JS = """() => [...document.querySelectorAll('article img')].map(img => ({
  src: img.getAttribute('src'), complete: img.complete, natural: img.naturalWidth,
  width: img.getBoundingClientRect().width, height: img.getBoundingClientRect().height}))"""


def open_page(tab: Any, site: Path, page: str) -> None:
    tab.goto((site / _url_path(page)).as_uri(), wait_until="load")
    keep = os.environ.get("STOMP_DOCS_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        # bytes, written here: a path would go through playwright's executor thread pool
        png = tab.screenshot(full_page=True)
        (Path(keep) / f"{page.removesuffix('.md')}.png").write_bytes(png)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_has_no_horizontal_overflow_at_1280px(browser_page: Any, site: Path, page) -> None:
    open_page(browser_page, site, page)
    found = browser_page.evaluate(OVERFLOW_JS)
    assert found["scrollWidth"] <= found["clientWidth"], f"{page}: wider than the window {found}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_image_on_the_page_loads_and_is_drawn(browser_page: Any, site: Path, page) -> None:
    open_page(browser_page, site, page)
    for image in browser_page.evaluate(IMAGES_JS):
        assert image["complete"], f"{page}: {image['src']} did not load"
        assert image["natural"] > 0, f"{page}: {image['src']} is empty or broken"
        assert image["width"] > 100, f"{page}: {image['src']} is drawn {image['width']} px wide"
        assert image["width"] <= WIDTH, f"{page}: {image['src']} wider than the window"
        assert image["height"] > 50, f"{page}: {image['src']} is drawn {image['height']} px high"


@pytest.mark.slow
def test_the_benchmark_charts_render(browser_page: Any, site: Path) -> None:
    open_page(browser_page, site, "benchmarks.md")
    charts = [i for i in browser_page.evaluate(IMAGES_JS) if i["src"].endswith(".svg")]
    expected = len(list((DOCS / "bench").glob("*.svg")))
    assert expected >= 3
    assert len(charts) == expected
    assert all(c["complete"] and c["natural"] > 0 and c["width"] > 300 for c in charts), charts


@pytest.mark.slow
def test_wide_tables_scroll_inside_the_page(browser_page: Any, site: Path) -> None:
    """The benchmark tables have up to 13 columns: they scroll in their own box
    (docs/stylesheets/extra.css)."""
    open_page(browser_page, site, "benchmarks.md")
    boxes = browser_page.evaluate(
        """() => [...document.querySelectorAll('article table')].map(t => {
             const box = t.closest('.md-typeset__scrollwrap');
             return {wrapped: box !== null, scrolls: box ? getComputedStyle(box).overflowX : '',
                     table: t.scrollWidth, box: box ? box.clientWidth : 0,
                     sticky: getComputedStyle(t.querySelector('td')).position};
           })"""
    )
    assert boxes
    assert all(b["wrapped"] and b["scrolls"] == "auto" for b in boxes), boxes
    assert any(b["table"] > b["box"] for b in boxes)  # some really are wider: they scroll
    # and their first column (the case, the client) stays in view while they do
    assert all(b["sticky"] == "sticky" for b in boxes), boxes


@pytest.mark.slow
def test_the_api_reference_page_has_every_public_name(browser_page: Any, site: Path) -> None:
    hooks = load_file("docs_hooks", ROOT / "tools" / "docs_hooks.py")
    open_page(browser_page, site, "api.md")
    wanted = [f"{s.module}.{name}" for s in hooks.sections() for name in s.names]
    missing = browser_page.evaluate(
        "ids => ids.filter(id => document.getElementById(id) === null)", wanted
    )
    assert missing == []
    assert len(wanted) > 100
    text = browser_page.inner_text("article")
    assert [role for role in (":class:", ":func:", ":meth:", ":mod:") if role in text] == []
