"""Tag pages readable in any script (issue 13: non-Latin tags got slugs like `tag-91e288e7`),
published ASCII slugs unchanged, collisions told apart."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from publisher.config import load_config
from publisher.site import build as site
from publisher.site.tags import make_tags

from conftest import broken_links, page, write_post

NOW = "2026-03-10T12:00:00+00:00"


@pytest.mark.parametrize(
    ("tag", "slug"),
    [
        ("Сон и настроение", "сон-и-настроение"),  # Cyrillic
        ("Ύπνος", "ύπνος"),  # Greek, lower-cased with its accent
        ("睡眠と気分", "睡眠と気分"),  # CJK
        ("النوم الجيد", "النوم-الجيد"),  # Arabic
        ("Ｓｌｅｅｐ", "sleep"),  # full-width Latin: NFKC makes it plain
    ],
)
def test_a_tag_in_any_script_keeps_its_letters(tag: str, slug: str) -> None:
    assert make_tags([tag])[tag].slug == slug
    assert make_tags([tag])[tag].url == f"tags/{quote(slug)}/"


@pytest.mark.parametrize(
    ("tag", "slug"),
    [
        ("sleep", "sleep"),
        ("Getting Started", "getting-started"),
        ("What’s New?", "whats-new"),
        ("café & crème", "cafe-creme"),
        ("C++", "c"),
        ("2024", "2024"),
        ("sleep – mood", "sleep-mood"),
        ("Straße", "strae"),  # not pretty, but published
        ("Сон 2024", "2024"),  # had an ASCII slug: keeps it
    ],
)
def test_latin_tags_keep_the_slugs_already_published(tag: str, slug: str) -> None:
    assert make_tags([tag])[tag].slug == slug


def test_spellings_of_one_tag_share_a_page_and_different_tags_never_do() -> None:
    tags = make_tags(["Sleep", "sleep!", "СОН", "сон", "🙂", "🙃"])
    assert tags["Sleep"] == tags["sleep!"] and tags["Sleep"].name == "Sleep"
    assert tags["СОН"] == tags["сон"]
    assert tags["🙂"].slug.startswith("tag-") and tags["🙂"].slug != tags["🙃"].slug


def test_a_tag_that_asks_for_the_slug_of_another_gets_its_own() -> None:
    """ "Сон sleep" had the slug `sleep` and shared the page of "sleep": now the tag whose
    slug it is keeps it, whichever comes first, and the other gets a distinct one."""
    for order in (["Сон sleep", "sleep"], ["sleep", "Сон sleep"]):
        tags = make_tags(order)
        assert tags["sleep"].slug == "sleep"
        assert tags["Сон sleep"].slug.startswith("sleep-") and tags["Сон sleep"].name == "Сон sleep"


def test_tags_cut_at_the_same_place_get_distinct_stable_slugs() -> None:
    for long in ("очень " * 20, "very " * 20):
        first, second = long + "first", long + "second"
        tags = make_tags([first, second])
        assert tags[first].slug != tags[second].slug
        assert all(len(tag.slug) <= 80 for tag in tags.values())
        assert make_tags([second, first]) == tags  # the order of the posts does not matter
        alone = make_tags([first, second, "другое"])
        assert alone[first] == tags[first] and alone[second] == tags[second]


def test_non_latin_tag_pages_are_built_and_linked_percent_encoded(site: Path) -> None:
    tags = ["Сон", "Ύπνος", "睡眠", "النوم", "sleep"]
    write_post(site, "a.md", f"title: Many scripts\ndate: 2026-03-01\ntags: [{', '.join(tags)}]")
    output = site_output(site)
    for tag, slug in zip(tags, ["сон", "ύπνος", "睡眠", "النوم", "sleep"], strict=True):
        assert (output / "tags" / slug / "index.html").is_file(), tag
        assert page(output, f"tags/{slug}/").text["h1"] == [tag]
        href = f"/tags/{quote(slug)}/"
        assert page(output, "tags/").find("a", href=href), href
        assert page(output, "posts/many-scripts/").find("a", href=href), href
    sitemap = (output / "sitemap.xml").read_text()
    assert f"https://blog.example.org/tags/{quote('сон')}/" in sitemap
    assert "tag-" not in "".join(p.name for p in (output / "tags").iterdir())
    assert broken_links(output) == []


def site_output(root: Path) -> Path:
    return site.build(load_config(root / "config" / "site.toml", NOW)).output
