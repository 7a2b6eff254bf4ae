"""The default theme belongs to no one site (issue 13): its colour, header image and footer
line come from `[site]` config, the clinic's own live in the sample site; lists show a
post's picture as a card.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from publisher.config import load_config
from publisher.errors import ConfigError
from publisher.site import build as site
from publisher.site.theme import mix_colors

from conftest import REPO, Html, broken_links, page, run_publisher, write_post

NOW = "2026-03-10T12:00:00+00:00"
THEME_FAVICON = REPO / "publisher/templates/site/static/favicon.svg"
SAMPLE_FAVICON = REPO / "templates/site/static/favicon.svg"


def build(root: Path) -> Path:
    return site.build(load_config(root / "config" / "site.toml", NOW)).output


def set_site_keys(root: Path, *lines: str) -> None:
    """Add TOML `lines` to the [site] table of the test config."""
    path = root / "config/site.toml"
    text = path.read_text()
    path.write_text(
        text.replace("[site]\n", "[site]\n" + "".join(f"{line}\n" for line in lines), 1)
    )


def everything(output: Path) -> str:
    return "".join(
        p.read_text() for p in output.rglob("*") if p.suffix in (".html", ".css", ".svg")
    )


def test_the_default_theme_says_nothing_of_the_clinic(site: Path) -> None:
    """On main every site's footer said "not medical advice" and showed the clinic's icon."""
    write_post(site, "a.md", "title: Hello\ndate: 2026-03-01\ntags: [news]")
    output = build(site)
    text = everything(output).lower()
    assert "medical" not in text and "riverbend" not in text and "psychiatry" not in text
    assert not page(output, "").find("p", class_="footer-note")
    assert (output / "static/favicon.svg").read_bytes() == THEME_FAVICON.read_bytes()
    assert THEME_FAVICON.read_bytes() != SAMPLE_FAVICON.read_bytes()
    assert (output / "static/theme.css").read_text().endswith(":root { --brand: #2f5f8f; }\n")


def test_the_sample_site_keeps_its_disclaimer_icon_and_colour(sample_site: Path) -> None:
    output = site.build(load_config(sample_site / "config/site.toml", "2026-12-15")).output
    footer = page(output, "").find("p", class_="footer-note")
    assert footer, "the sample's footer note is gone"
    assert "not medical advice" in (output / "index.html").read_text()
    assert (output / "static/favicon.svg").read_bytes() == SAMPLE_FAVICON.read_bytes()
    assert "--brand: #2b6a5d;" in (output / "static/theme.css").read_text()


def test_footer_note_logo_and_accent_color(site: Path) -> None:
    set_site_keys(
        site,
        'footer_note = "Opinions are my own & nobody else\'s."',
        'logo = "static/images/logo.png"',
        'accent_color = "#A0522D"',
    )
    images = site / "templates/site/static/images"
    images.mkdir(parents=True)
    (images / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    write_post(site, "a.md", "title: Hello\ndate: 2026-03-01")
    output = build(site)
    index = Html((output / "index.html").read_text())
    assert [p for p in index.find("p", class_="footer-note")]
    assert "Opinions are my own &amp; nobody else&#39;s." in (output / "index.html").read_text()
    assert index.find("link", rel="icon", href="/static/images/logo.png")
    assert not index.find("link", rel="icon", type="image/svg+xml")  # a PNG is not SVG
    assert index.find("img", src="/static/images/logo.png", alt="")
    assert (output / "static/theme.css").read_text().endswith(":root { --brand: #A0522D; }\n")
    assert broken_links(output) == []
    checked = run_publisher("check", "--now", NOW)
    assert checked.returncode == 0 and "logo" not in checked.stderr, checked.stderr
    (images / "logo.png").unlink()
    checked = run_publisher("check", "--now", NOW)
    assert checked.returncode == 0
    assert (
        "warning: [site] logo: no file 'static/images/logo.png' in the static files; put it in templates/site/static/images/logo.png"
        in checked.stderr
    )


def test_a_logo_url_and_the_colour_in_the_emails(site: Path) -> None:
    set_site_keys(site, 'logo = "https://cdn.example.org/logo.svg"', 'accent_color = "#36c"')
    write_post(site, "a.md", "title: Hello\ndate: 2026-03-01")
    output = build(site)
    index = Html((output / "index.html").read_text())
    assert index.find("link", rel="icon", href="https://cdn.example.org/logo.svg")
    assert index.find("img", src="https://cdn.example.org/logo.svg")
    previewed = run_publisher("preview", "hello", "--out", str(site / "preview"), "--now", NOW)
    assert previewed.returncode == 0, previewed.stderr
    message = message_from_bytes(
        (site / "preview/post-hello.eml").read_bytes(), policy=policy.default
    )
    html = message.get_body(("html",)).get_content()
    assert "#36c" in html and "#2b6a5d" not in html
    assert mix_colors("#36c", "#ffffff", 0.55) in html  # the dark-mode link colour


@pytest.mark.parametrize("colour", ["green", "#12345", "#ggg", "2b6a5d", "#2b6a5d;}"])
def test_accent_color_must_be_a_css_hex_colour(site: Path, colour: str) -> None:
    set_site_keys(site, f'accent_color = "{colour}"')
    with pytest.raises(ConfigError, match=r"\[site\] accent_color: expected a CSS hex colour"):
        load_config(site / "config/site.toml", NOW)
    checked = run_publisher("check", "--now", NOW)
    assert checked.returncode == 2 and "accent_color" in checked.stderr


def test_mix_colors() -> None:
    assert mix_colors("#000000", "#ffffff", 0.5) == "#808080"
    assert mix_colors("#2b6a5d", "#ffffff", 0) == "#2b6a5d"
    assert mix_colors("#fff", "#000", 1) == "#000000"


def test_lists_show_the_post_image_as_a_card(site: Path) -> None:
    """On main, index and tag pages showed no picture even when a post had one."""
    write_post(
        site,
        "a.md",
        "title: With a picture\ndate: 2026-03-01\ntags: [garden]\nimage: /static/images/a.svg",
    )
    write_post(site, "b.md", "title: Without\ndate: 2026-03-02\ntags: [garden]")
    images = site / "templates/site/static/images"
    images.mkdir(parents=True)
    (images / "a.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 9"/>')
    output = build(site)
    for url in ("", "tags/garden/"):
        cards = page(output, url).find("img", class_="card-image")
        assert len(cards) == 1, url
        card = cards[0]
        assert card["src"] == "/static/images/a.svg" and card["alt"] == ""
        assert (card["width"], card["height"], card["loading"]) == ("1200", "675", "lazy")
    assert broken_links(output) == []


def test_a_card_takes_its_alt_text_from_image_alt(site: Path) -> None:
    front = "title: Pictured\ndate: 2026-03-01\nimage: /static/a.svg\nimage_alt: A lake at dawn"
    write_post(site, "a.md", front)
    (site / "templates/site/static").mkdir(parents=True)
    (site / "templates/site/static/a.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (card,) = page(build(site), "").find("img", class_="card-image")
    assert card["alt"] == "A lake at dawn"
