"""The email HTML in headless Chromium: phone and desktop layouts, dark mode, no errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from premailer import Premailer

from publisher.config import load_config
from publisher.content.posts import load_posts
from publisher.mail import newsletter

from conftest import message_to_ann, open_email, write_post

pytestmark = pytest.mark.browser

NOW = "2026-03-02T15:00:00+00:00"
BODY = """\
A paragraph with a very long link: [https://blog.example.org/a/very/long/path/that/does/not/wrap/easily/at/all/on/a/phone/screen/index.html](https://blog.example.org/x/).

![A wide chart](chart.png)

```
a_code_line_that_is_far_too_long_for_a_phone_screen = compute(something, something_else, and_more)
```

| Column one | Column two |
|---|---|
| a | b |
"""


@pytest.fixture
def email_html(site: Path) -> str:
    return received_html(site)


def received_html(site: Path) -> str:
    """The HTML part of a real message, as a subscriber's mail client receives it."""
    write_post(site, "2026-03-01-wide.md", "title: Wide things\ndate: 2026-03-01", BODY)
    config = load_config(site / "config" / "site.toml", now=NOW, env={})
    rendered = newsletter.render_post(config, load_posts(config)[0])
    message = message_to_ann(config, rendered, "1")
    return message.get_body(preferencelist=("html",)).get_content()


def layout(page) -> dict:
    return page.evaluate(
        """() => {
            const card = document.querySelector('.card');
            const content = document.querySelector('.content');
            const images = [...document.images].map(i => i.getBoundingClientRect().right);
            return {
                scroll: document.documentElement.scrollWidth,
                viewport: window.innerWidth,
                card: card.getBoundingClientRect().width,
                padding: getComputedStyle(content).paddingLeft,
                imagesRight: Math.max(...images),
                imagesLoaded: [...document.images].every(i => i.complete && i.naturalWidth > 0),
                background: getComputedStyle(document.body).backgroundColor,
            };
        }"""
    )


@pytest.mark.parametrize("width", [375, 600, 800])
def test_email_fits_the_screen_without_errors(browser, email_html, artifacts, width):
    page, errors = open_email(browser, email_html, width)
    try:
        found = layout(page)
        page.screenshot(path=str(artifacts / f"email-{width}.png"), full_page=True)
    finally:
        page.close()
    assert errors == []
    assert found["imagesLoaded"]
    assert found["scroll"] <= found["viewport"], found  # no horizontal scroll
    assert found["imagesRight"] <= found["viewport"]
    if width < 620:  # the phone rule (@media max-width: 620px) applies
        assert found["card"] == width and found["padding"] == "18px", found
    else:
        assert found["card"] == 600 and found["padding"] == "32px", found


def test_dark_mode_follows_the_reader(browser, email_html, artifacts):
    page, errors = open_email(browser, email_html, 600, scheme="dark")
    try:
        found = layout(page)
        page.screenshot(path=str(artifacts / "email-600-dark.png"), full_page=True)
    finally:
        page.close()
    assert errors == []
    assert found["background"] == "rgb(18, 26, 28)"


def test_premailer_defaults_would_break_the_desktop_layout(browser, site, monkeypatch):
    """Issue 241: with premailer's default strip_important=True the inline styles win over
    every @media rule: the phone's paddings (inline, so a client without <style> fits a
    phone) would stay on a desktop screen.

    Proves the layout test above notices the bug our inlining avoids.
    """

    def default_inlining(html: str) -> str:
        return Premailer(html, allow_network=False, disable_link_rewrites=True).transform()

    monkeypatch.setattr(newsletter, "inline_css", default_inlining)
    page, _ = open_email(browser, received_html(site), 800)
    try:
        found = layout(page)
    finally:
        page.close()
    assert found["card"] == 600 and found["padding"] == "18px"
