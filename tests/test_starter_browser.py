"""A site made by `publisher init`, in headless Chromium at phone and desktop widths: it
fits the screen, logs no error, loads every asset, and shows nothing of the sample clinic.

A second post with a wide picture and a tag in Cyrillic is added, so the image card and a
percent-encoded tag link are on the pages. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import clean_environment, run_publisher, serve_folder, watched_page, write_post

pytestmark = pytest.mark.browser
NOW = "2026-12-01T15:00:00+00:00"
WIDE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="2400" height="900" viewBox="0 0 2400 900">'
    '<rect width="2400" height="900" fill="#cde"/></svg>'
)
CLINIC = ("medical", "riverbend", "psychiatry", "clinic")


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    clean_environment(monkeypatch)
    root = tmp_path / "mine"
    made = run_publisher(
        "init",
        str(root),
        "--now",
        NOW,
        "--title",
        "Pebble Notes",
        "--url",
        "https://pebble.example.net",
    )
    assert made.returncode == 0, made.stderr
    images = root / "templates/site/static/images"
    images.mkdir(parents=True)
    (images / "wide.svg").write_text(WIDE)
    write_post(
        root,
        "2026-11-30-stones.md",
        "title: Stones of the riverbed, a very long title that has to wrap on a phone screen\n"
        "date: 2026-11-30 10:00\ntags: [камни, welcome]\nimage: /static/images/wide.svg",
        "A paragraph with an unbreakable https://example.org/a/very/long/address/that/goes/on/and/on/forever.\n",
    )
    built = run_publisher("build", "--now", NOW, cwd=root)
    assert built.returncode == 0, built.stderr
    with serve_folder(root / "public") as base:
        yield base


@pytest.mark.parametrize("width", [375, 1280])
def test_a_new_site_fits_the_screen_without_errors(
    browser, started, artifacts: Path, width: int
) -> None:
    with watched_page(browser, width) as (page, errors):
        for name, path in (
            ("index", "/"),
            ("post", "/posts/welcome/"),
            ("tag", f"/tags/{quote('камни')}/"),
            ("404", "/404.html"),
        ):
            response = page.goto(started + path)
            assert response is not None and response.status == 200, path
            page.wait_for_load_state("load")
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= page.evaluate("window.innerWidth"), f"{path} scrolls sideways"
            assert page.locator("h1").count() == 1
            text = page.content().lower()
            assert not [word for word in CLINIC if word in text], path
            page.screenshot(path=artifacts / f"starter-{name}-{width}.png", full_page=True)
        page.goto(started + "/")
        card = page.locator("img.card-image")
        assert card.count() == 1
        card.scroll_into_view_if_needed()
        page.wait_for_function("document.querySelector('img.card-image').complete")
        box = card.bounding_box()
        assert box is not None and box["width"] <= width
        # Cropped to the card's 16:9, not stretched to the picture's 8:3.
        assert abs(box["width"] / box["height"] - 16 / 9) < 0.02
        assert page.locator(f"a[href='/tags/{quote('камни')}/']").count() >= 1
        accent = page.evaluate(
            "(() => { const a = document.createElement('a'); a.href = '#';"
            " document.querySelector('main').append(a); return getComputedStyle(a).color; })()"
        )
        assert accent == "rgb(47, 95, 143)"  # [site] accent_color's default, #2f5f8f
        assert errors == []
