"""The built sample site in headless Chromium, at phone and desktop widths.

The output is served over real HTTP (http.server in a thread); screenshots of every page
and width go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from publisher.config import load_config
from publisher.site import build as site

from conftest import serve_folder, watched_page

pytestmark = pytest.mark.browser
NOW = "2026-12-15T12:00:00+00:00"  # after every sample post but the queued one


@pytest.fixture
def served(sample_site: Path) -> Iterator[tuple[str, Path]]:
    if not any((sample_site / "posts").glob("*.md")):
        pytest.skip("the sample posts are not written yet")
    config = load_config(sample_site / "config" / "site.toml", NOW)
    output = site.build(config).output
    with serve_folder(output) as base:
        yield base, output


def longest_post(output: Path) -> str:
    """The post page with the most content (tables, TOC): the hardest one to lay out."""
    pages = sorted(output.glob("posts/*/index.html"), key=lambda p: (p.stat().st_size, p.name))
    return "/" + pages[-1].parent.relative_to(output).as_posix() + "/"


@pytest.mark.parametrize("width", [375, 1280])
def test_pages_fit_the_screen_without_errors(browser, served, artifacts: Path, width: int) -> None:
    base, output = served
    with watched_page(browser, width) as (page, errors):
        for name, path in (
            ("index", "/"),
            ("post", longest_post(output)),
            ("archive", "/archive/"),
        ):
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= page.evaluate("window.innerWidth"), f"{path} scrolls sideways"
            heading = page.locator("h1")
            assert heading.count() == 1 and heading.is_visible()
            box = heading.bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 800
            assert page.title()
            page.screenshot(path=artifacts / f"site-{name}-{width}.png", full_page=True)
        assert errors == []


def test_dark_mode_and_keyboard_focus(browser, served, artifacts: Path) -> None:
    base, _ = served
    context = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(base + "/")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 26, 28)"
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.className")
        assert focused == "skip-link"
        assert page.locator(".skip-link").is_visible()
        page.screenshot(path=artifacts / "site-index-375-dark.png")
    finally:
        context.close()
