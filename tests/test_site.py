"""The site build on real posts in temp folders: pages, links, feeds, sitemap, cache, errors."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import httpx
import pytest

from publisher.config import load_config
from publisher.errors import ContentErrors, PublisherError, TemplateError
from publisher.site import build as site
from publisher.site import writer as writer_module
from publisher.site.writer import Writer

from conftest import (
    broken_links,
    free_port,
    page,
    png,
    run_publisher,
    tree,
    wait_for,
    write_post,
)

NOW = "2026-03-10T12:00:00+00:00"
BASE = "https://blog.example.org"


def build(root: Path, now: str = NOW, **options) -> site.BuildResult:
    return site.build(load_config(root / "config" / "site.toml", now), **options)


def add_posts(root: Path) -> None:
    """Five live posts over two months, a draft, and one scheduled after NOW."""
    specs = [
        ("a-sleep.md", "Sleep and mood", "2026-01-20 09:00", "[Sleep, Mood]"),
        ("b-food.md", "Food and the brain", "2026-02-03 09:00", "[Nutrition]"),
        ("c-walks.md", "Walking for anxiety", "2026-02-18 09:00", "[Anxiety, Exercise]"),
        ("d-light.md", "Morning light", "2026-03-02 09:00", "[Sleep]"),
        ("e-worry.md", "Worry at night", "2026-03-05 09:00", "[Sleep, Anxiety, Mood]"),
    ]
    for name, title, date, tags in specs:
        body = (
            f"First paragraph of {title}, see [light](/posts/morning-light/) and "
            "[the icon](/static/favicon.svg).\n\n## Details\n\nMore text.[^1]\n\n"
            "| Measure | Before | After |\n|---|---|---|\n| Sleep | 5 h | 7 h |\n\n"
            "[^1]: A reference.\n"
        )
        write_post(root, name, f"title: {title}\ndate: {date}\ntags: {tags}", body)
    write_post(root, "f-draft.md", "title: Unfinished thoughts\ndate: 2026-03-01\ndraft: true")
    write_post(root, "g-later.md", "title: Coming soon\ndate: 2026-04-01 08:00\ntags: [Sleep]")


# --- Pages ----------------------------------------------------------------------------


def test_post_page_has_metadata_navigation_related_and_subscribe_form(site: Path) -> None:
    add_posts(site)
    result = build(site)
    post = page(result.output, "posts/worry-at-night/")

    assert post.find("html")[0]["lang"] == "en"
    assert post.text["h1"] == ["Worry at night"]
    assert post.text["title"] == ["Worry at night · Test Clinic Blog"]
    for landmark in ("header", "nav", "main", "article", "footer"):
        assert post.find(landmark), landmark
    assert post.find("a", class_="skip-link", href="#main")
    assert post.find("link", rel="canonical")[0]["href"] == f"{BASE}/posts/worry-at-night/"
    assert post.meta(name="description").startswith("First paragraph of Worry at night")
    assert post.meta(property="og:type") == "article"
    assert post.meta(property="og:url") == f"{BASE}/posts/worry-at-night/"
    assert post.meta(name="twitter:title") == "Worry at night"
    data = json.loads(post.text["script"][0])
    assert data["@type"] == "BlogPosting"
    assert data["headline"] == "Worry at night"
    assert data["datePublished"] == "2026-03-05T09:00:00-06:00"  # site time zone

    assert post.find("a", rel="prev")[0]["href"] == "/posts/morning-light/"
    assert not post.find("a", rel="next")  # the newest post
    html = (result.output / "posts/worry-at-night/index.html").read_text()
    section = html[html.index("More on this topic") : html.index('id="subscribe"')]
    cards = [
        line.split('href="')[1].split('"')[0]
        for line in section.splitlines()
        if "card-title" in line
    ]
    # Most shared tags first (Sleep+Mood: 2, then 1 each), newer first among equals.
    assert cards == [
        "/posts/sleep-and-mood/",
        "/posts/morning-light/",
        "/posts/walking-for-anxiety/",
    ]

    form = post.find("form")[0]
    assert form["method"] == "post" and form["action"] == f"{BASE}/subscribe"
    assert post.find("input", name="email", type="email")
    assert post.find("input", name="name")
    assert {a["value"] for a in post.find("input", name="frequency", type="radio")} == {
        "each",
        "digest",
    }
    honeypot = post.find("input", name="website")[0]
    assert honeypot["tabindex"] == "-1" and honeypot["autocomplete"] == "off"
    assert 'class="visually-hidden" aria-hidden="true"' in html.split('name="website"')[0][-400:]


def test_the_sites_own_pictures_get_their_width_and_height(site: Path) -> None:
    uploads = site / "templates/site/static/uploads/2026"
    uploads.mkdir(parents=True)
    (uploads / "walk.png").write_bytes(png(800, 450))
    (uploads / "wide.png").write_bytes(png(1600, 400))
    body = (
        "![A path](/static/uploads/2026/walk.png)\n\n"
        '<img src="/static/uploads/2026/wide.png" width="400" alt="Sized by hand">\n\n'
        "![Elsewhere](https://pictures.example.net/a.png) ![Beside](walk.png)\n"
    )
    front = "title: A walk\ndate: 2026-03-01 09:00\nimage: /static/uploads/2026/wide.png"
    write_post(site, "walk.md", front, body)
    result = build(site)
    post = page(result.output, "posts/a-walk/")
    [hero] = post.find("img", class_="post-image")
    assert (hero["width"], hero["height"]) == ("1600", "400")
    shown = {img["alt"]: (img.get("width"), img.get("height")) for img in post.find("img")}
    assert shown["A path"] == ("800", "450")
    assert shown["Sized by hand"] == ("400", None)  # what the post's HTML says wins
    assert shown["Elsewhere"] == shown["Beside"] == (None, None)  # not the site's files


def test_index_pagination_tags_archive_in_site_time_zone(site: Path) -> None:
    config = (
        (site / "config" / "site.toml")
        .read_text()
        .replace('timezone = "America/Chicago"', 'timezone = "America/Chicago"\nposts_per_page = 2')
    )
    (site / "config" / "site.toml").write_text(config)
    add_posts(site)
    # 03:00 UTC on March 1st is still February 28th in Chicago.
    # Its tag differs from "Sleep" only in case: one page, named "Sleep".
    write_post(
        site, "h-late.md", "title: Late night\ndate: 2026-03-01T03:00:00+00:00\ntags: [sleep]"
    )
    output = build(site).output

    first, second, third = page(output, ""), page(output, "page/2/"), page(output, "page/3/")
    assert len(first.find("h2", class_="card-title")) == 2
    assert first.find("a", rel="next")[0]["href"] == "/page/2/"
    assert second.find("a", rel="prev")[0]["href"] == "/"
    assert len(third.find("h2", class_="card-title")) == 2
    assert not (output / "page/4").exists()

    sleep = page(output, "tags/sleep/")
    assert sleep.text["h1"] == ["Sleep"]
    assert len(sleep.find("h2", class_="card-title")) == 4
    assert page(output, "tags/").find("a", href="/tags/anxiety/")

    archive = (output / "archive/index.html").read_text()
    assert (
        archive.index("March 2026") < archive.index("February 2026") < archive.index("January 2026")
    )
    february = (output / "archive/2026/02/index.html").read_text()
    assert "Late night" in february and "Feb 28" in february
    assert "Late night" not in (output / "archive/2026/03/index.html").read_text()
    assert (output / "404.html").is_file() and (output / "static/style.css").is_file()


def test_every_internal_link_and_asset_resolves(site: Path) -> None:
    add_posts(site)
    output = build(site, drafts=True, future=True).output
    assert len(list(output.rglob("*.html"))) > 15
    assert broken_links(output) == []


def test_sample_site_builds_with_no_broken_links(sample_site: Path) -> None:
    if not any((sample_site / "posts").glob("*.md")):
        pytest.skip("the sample posts are not written yet")
    config = load_config(sample_site / "config" / "site.toml", "2026-12-15T12:00:00+00:00")
    result = site.build(config)
    assert result.posts >= 4
    assert broken_links(result.output) == []
    preview = site.build(config, drafts=True, future=True, output=sample_site / "preview")
    assert preview.posts > result.posts
    assert broken_links(preview.output) == []


def test_theme_override_and_duplicate_output_path(site: Path) -> None:
    add_posts(site)
    (site / "templates/site/partials").mkdir(parents=True)
    (site / "templates/site/404.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Lost</h1>{% endblock %}'
    )
    output = build(site).output
    assert "<h1>Lost</h1>" in (output / "404.html").read_text()
    assert "Worry at night" in (output / "index.html").read_text()  # default theme for the rest

    with Writer(site / "other") as writer:
        writer.write("a/index.html", "one")
        with pytest.raises(PublisherError, match="a/index.html: two pages"):
            writer.write("a/index.html", "two")
    assert not (site / "other").exists()


def test_writer_swaps_with_or_without_renameat2_and_survives_a_concurrent_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "public"
    for exchange in (True, False):
        monkeypatch.setattr(
            "publisher.site.writer._exchange",
            writer_module._exchange if exchange else lambda a, b: False,
        )
        first, second = Writer(output), Writer(output)  # two builds at the same time
        first.write("index.html", "first")
        second.write("index.html", "second")
        second.write("old.html", "stale")
        first.commit()
        second.commit()
        assert (output / "index.html").read_text() == "second"
        with Writer(output) as third:  # recycles the spare; old.html is not part of it
            third.write("index.html", "third")
            third.commit()
        assert sorted(p.name for p in output.iterdir()) == ["index.html"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["public", "public.spare"]


def test_a_killed_builds_staging_folder_is_removed_by_the_next_build(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])  # a process id that is gone
    gone.wait()
    old = time.time() - 3 * 24 * 3600
    folders = {
        "killed": tmp_path / f"public.tmp-{gone.pid}-abc123",
        "running": tmp_path / f"public.tmp-{os.getpid()}-def456",
        "ancient": tmp_path / "public.tmp-ghi789",
        "recent": tmp_path / "public.tmp-jkl012",
    }
    for folder in folders.values():
        (folder / "posts").mkdir(parents=True)
        (folder / "posts" / "index.html").write_text("half a build")
    os.utime(folders["ancient"], (old, old))
    with Writer(tmp_path / "public") as writer:
        writer.write("index.html", "new")
        writer.commit()
    left = {name for name, folder in folders.items() if folder.exists()}
    assert left == {"running", "recent"}


def test_a_full_disk_is_one_line_exit_1_and_the_live_site_stays(
    site: Path, small_disk: Path
) -> None:
    add_posts(site)
    config = (site / "config" / "site.toml").read_text()
    (site / "config" / "site.toml").write_text(
        config.replace("[site]\n", f'[site]\noutput = "{small_disk}/public"\n')
    )
    build(site)
    before = tree(small_disk / "public")
    write_post(site, "z-big.md", "title: Big\ndate: 2026-03-01", "word " * 60_000)
    failed = run_publisher("build", "--now", NOW)
    assert failed.returncode == 1, failed.stderr
    assert failed.stderr.startswith(f"error: {small_disk}/public/") and "Traceback" not in (
        failed.stderr
    )
    assert "No space left on device" in failed.stderr and len(failed.stderr.splitlines()) == 1
    assert tree(small_disk / "public") == before
    assert [p.name for p in small_disk.iterdir() if ".tmp-" in p.name] == []


def test_a_read_only_output_is_one_line_exit_1_and_the_live_site_stays(
    site: Path, small_disk: Path
) -> None:
    add_posts(site)
    output = small_disk / "public"
    build(site, output=output)
    before = tree(output)
    write_post(site, "z-new.md", "title: New\ndate: 2026-03-01")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(PublisherError) as error:
        build(site, output=output)
    assert error.value.exit_code == 1
    assert str(error.value).startswith(f"{small_disk}/") and "Read-only file system" in str(
        error.value
    )
    assert tree(output) == before


# --- Drafts and scheduled posts -------------------------------------------------------


def test_drafts_and_scheduled_posts_only_in_previews_and_never_in_feeds(site: Path) -> None:
    add_posts(site)
    output = build(site).output
    everything = b"".join(tree(output).values()).decode()
    assert "Unfinished thoughts" not in everything and "Coming soon" not in everything
    assert not (output / "posts/unfinished-thoughts").exists()

    result = build(site, drafts=True, future=True)
    draft = (output / "posts/unfinished-thoughts/index.html").read_text()
    later = (output / "posts/coming-soon/index.html").read_text()
    assert "Draft: not published" in draft and 'content="noindex"' in draft
    assert "Scheduled for April 1, 2026 at 8:00 AM CDT" in later
    assert "Coming soon" in (output / "index.html").read_text()
    for name in ("feed.xml", "rss.xml", "sitemap.xml"):
        text = (result.output / name).read_text()
        assert "unfinished" not in text and "coming-soon" not in text, name


# --- Feeds and sitemap ---------------------------------------------------------------


def test_feeds_parse_with_full_content_and_absolute_links(site: Path) -> None:
    add_posts(site)
    output = build(site).output
    for name, version in (("feed.xml", "atom10"), ("rss.xml", "rss20")):
        feed = feedparser.parse((output / name).read_bytes())
        assert feed.bozo == 0, feed.get("bozo_exception")
        assert feed.version == version
        assert [e.title for e in feed.entries][:2] == ["Worry at night", "Morning light"]
        assert len(feed.entries) == 5
        entry = feed.entries[0]
        assert entry.link == f"{BASE}/posts/worry-at-night/"
        assert entry.published_parsed[:5] == (2026, 3, 5, 15, 0)  # 09:00 in Chicago, in UTC
        body = entry.content[0].value if version == "atom10" else entry.description
        assert f'href="{BASE}/posts/morning-light/"' in body
        assert f'href="{BASE}/static/favicon.svg"' in body
        assert f'href="{BASE}/posts/worry-at-night/#fn:1"' in body
        assert "<table>" in body
    atom = feedparser.parse((output / "feed.xml").read_bytes())
    assert atom.feed.updated_parsed[:5] == (2026, 3, 5, 15, 0)  # newest post, not build time


def test_the_feed_is_also_written_at_its_old_addresses(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[site] old_feeds`: the addresses the feed had before the blog moved answer with the
    feed itself (a redirect page does not move a feed reader): RSS where the name says rss
    or is Hugo's index.xml, else Atom. An old address of a post cannot take one."""
    add_posts(site)
    monkeypatch.setenv(
        "PUBLISHER_SITE_OLD_FEEDS", "/atom.xml, feeds/all.rss.xml ,/index.xml, /feed.xml"
    )
    output = build(site).output
    for name, version in (
        ("atom.xml", "atom10"),
        ("feeds/all.rss.xml", "rss20"),
        ("index.xml", "rss20"),
    ):
        feed = feedparser.parse((output / name).read_bytes())
        assert (feed.bozo, feed.version, len(feed.entries)) == (0, version, 5), name
    assert (output / "atom.xml").read_bytes() == (output / "feed.xml").read_bytes()
    assert (output / "index.xml").read_bytes() == (output / "rss.xml").read_bytes()
    write_post(site, "h.md", "title: H\ndate: 2026-03-06\naliases: [/feeds/all.rss.xml]")
    with pytest.raises(ContentErrors) as raised:
        build(site)
    assert "aliases: /feeds/all.rss.xml is a page of this site" in str(raised.value)


@pytest.mark.parametrize("value", ["/feed/", "/../x.xml", "https://old.example.org/atom.xml"])
def test_an_old_feed_address_must_be_a_feed_file_of_the_site(site: Path, value: str) -> None:
    env = {"PUBLISHER_SITE_OLD_FEEDS": f"/atom.xml, {value}"}
    with pytest.raises(PublisherError) as raised:
        load_config(site / "config" / "site.toml", NOW, env=env)
    shown = value.strip("/")
    assert f"[site] old_feeds: {shown!r} is not a feed file's path, as /atom.xml" in str(
        raised.value
    )


def test_sitemap_and_robots(site: Path) -> None:
    add_posts(site)
    output = build(site, drafts=True, future=True).output
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.parse(output / "sitemap.xml").getroot()
    urls = {
        u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns) for u in root
    }
    assert urls[f"{BASE}/posts/worry-at-night/"] == "2026-03-05T15:00:00Z"
    assert (
        f"{BASE}/" in urls and f"{BASE}/tags/sleep/" in urls and f"{BASE}/archive/2026/02/" in urls
    )
    assert (
        f"{BASE}/posts/coming-soon/" not in urls
        and f"{BASE}/posts/unfinished-thoughts/" not in urls
    )
    assert all(url.startswith(BASE) for url in urls)
    assert f"Sitemap: {BASE}/sitemap.xml" in (output / "robots.txt").read_text()


def test_empty_site_builds_valid_deterministic_feeds(site: Path) -> None:
    output = build(site).output
    first = tree(output)
    assert feedparser.parse(first["feed.xml"]).bozo == 0
    assert "No articles yet" in first["index.html"].decode()
    (site / "data").rename(site / "data-old")
    assert tree(build(site, now="2027-01-01T00:00:00+00:00").output) == first


# --- Build behaviour -----------------------------------------------------------------


def test_second_build_reuses_everything_and_is_byte_identical(site: Path) -> None:
    add_posts(site)
    first = build(site)
    before = tree(first.output)
    again = build(site)
    assert (again.pages_rendered, again.pages_reused) == (0, first.pages)
    assert tree(again.output) == before
    # A full build from scratch gives the same bytes too.
    (site / "data").rename(site / "data-old")
    fresh = build(site)
    assert fresh.pages_rendered == fresh.pages and tree(fresh.output) == before


def test_pages_rendered_on_all_cores_equal_the_serial_build(site: Path) -> None:
    """In a fresh process (no test threads, so the workers really fork), every page
    rendered by the pool: the same bytes as rendering them in order."""
    add_posts(site)
    serial = tree(build(site).output)
    (site / "data").rename(site / "data-serial")
    script = (
        "import sys\n"
        "from publisher import parallel\n"
        "from publisher.site import build as site\n"
        "from publisher.config import load_config\n"
        "site.PARALLEL_PAGES = 1\n"
        "parallel.cores = lambda: 2\n"
        "assert parallel.can_fork()\n"
        f"result = site.build(load_config('config/site.toml', {NOW!r}))\n"
        "assert result.pages_rendered == result.pages, result\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=site, check=True)
    assert tree(site / "public") == serial


def test_changing_one_post_rerenders_only_it_and_the_pages_listing_it(site: Path) -> None:
    add_posts(site)
    for i in range(12):
        write_post(
            site, f"x{i:02}.md", f"title: Extra {i}\ndate: 2025-12-{i + 1:02} 10:00\ntags: [Extra]"
        )
    build(site)
    build(site)
    path = site / "posts/c-walks.md"
    path.write_text(path.read_text().replace("First paragraph of", "A revised summary of"))
    result = build(site)

    linking = {
        file
        for file, data in tree(result.output).items()
        if file.endswith(".html") and b'href="/posts/walking-for-anxiety/"' in data
    }
    assert "index.html" in linking and "tags/anxiety/index.html" in linking
    assert set(result.rendered) == linking | {"posts/walking-for-anxiety/index.html"}
    assert result.pages_reused == result.pages - len(result.rendered) > 10
    # The incremental output equals a full build of the same posts.
    incremental = tree(result.output)
    (site / "data").rename(site / "data-old")
    assert tree(build(site).output) == incremental


def test_a_tag_renamed_by_another_post_is_renamed_on_every_page(site: Path) -> None:
    """A tag page is named after the first spelling: an old post can rename it everywhere,
    also on pages that do not list that post (Alpha's neighbours and related posts)."""
    write_post(site, "a.md", "title: Alpha\ndate: 2026-03-01\ntags: [Sleep]")
    for day in (5, 6, 7):
        write_post(site, f"c{day}.md", f"title: Newer {day}\ndate: 2026-03-0{day}\ntags: [Sleep]")
    write_post(site, "d.md", "title: Older\ndate: 2026-02-01")
    build(site)
    write_post(site, "b.md", "title: Oldest\ndate: 2026-01-01\ntags: [SLEEP]")
    result = build(site)
    assert "posts/alpha/index.html" in result.rendered
    assert page(result.output, "posts/alpha/").meta(property="article:tag") == "SLEEP"
    incremental = tree(result.output)
    (site / "data").rename(site / "data-old")
    assert tree(build(site).output) == incremental


def test_feeds_are_rewritten_only_when_a_post_they_show_changes(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("publisher.site.build.FEED_POSTS", 2)  # Worry at night, Morning light
    add_posts(site)
    output = build(site).output
    feeds = ("feed.xml", "rss.xml")
    first = {name: (output / name).stat().st_ino for name in feeds}

    path = site / "posts/c-walks.md"
    path.write_text(path.read_text().replace("Walking for anxiety", "Walking it off"))
    build(site)
    assert {name: (output / name).stat().st_ino for name in feeds} == first  # the same files

    path = site / "posts/d-light.md"
    path.write_text(path.read_text().replace("Morning light", "Early light"))
    build(site)
    for name in feeds:
        assert (output / name).stat().st_ino != first[name]
        assert [e.title for e in feedparser.parse((output / name).read_bytes()).entries] == [
            "Worry at night",
            "Early light",
        ]


def test_deleted_post_disappears_everywhere(site: Path) -> None:
    add_posts(site)
    build(site)
    build(site)  # the third build recycles the first one's folder: stale files must go
    (site / "posts/b-food.md").unlink()
    result = build(site)
    files = tree(result.output)
    assert "posts/food-and-the-brain/index.html" not in files
    assert "tags/nutrition/index.html" not in files
    assert not [
        f
        for f, data in files.items()
        if b"food-and-the-brain" in data or b"Food and the brain" in data
    ]


def test_build_gives_back_the_garbage_collector_settings(site: Path) -> None:
    before = gc.get_threshold()
    add_posts(site)
    build(site)
    assert gc.get_threshold() == before
    write_post(site, "z-bad.md", "date: 2026-01-01")
    with pytest.raises(ContentErrors):
        build(site)
    assert gc.get_threshold() == before


def test_template_error_names_template_and_line_and_keeps_the_old_site(site: Path) -> None:
    add_posts(site)
    output = build(site).output
    before = tree(output)
    post = site / "templates/site/post.html"
    post.parent.mkdir(parents=True)
    post.write_text(
        '{% extends "base.html" %}\n{% block main %}\n<h1>{{ entry.titel }}</h1>\n{% endblock %}\n'
    )
    with pytest.raises(TemplateError, match=r"post\.html:3: .*titel"):
        build(site)
    assert tree(output) == before
    post.write_text('{% extends "base.html" %}\n{% block main %}\n{% if %}\n{% endblock %}\n')
    with pytest.raises(TemplateError, match=r"post\.html:3: "):
        build(site)
    assert tree(output) == before
    # No staging folders left behind; the spare (old output kept for recycling) may stay.
    assert {p.name for p in site.iterdir() if p.name.startswith("public")} <= {
        "public",
        "public.spare",
    }


def test_bad_post_lists_every_error_and_keeps_the_old_site(site: Path) -> None:
    add_posts(site)
    output = build(site).output
    before = tree(output)
    write_post(site, "z-bad.md", "date: 2026-01-01")
    (site / "posts/z-empty.md").write_text("")
    with pytest.raises(ContentErrors) as error:
        build(site)
    assert [line.split(":")[0] for line in error.value.lines()] == [
        "posts/z-bad.md",
        "posts/z-empty.md",
    ]
    assert tree(output) == before


def test_cli_build_prints_summary_and_reports_errors(site: Path) -> None:
    add_posts(site)
    done = run_publisher("build", "--now", NOW)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("built 5 posts, ")
    assert " rendered, 0 unchanged) into public/ in " in done.stdout and done.stderr == ""
    again = run_publisher("build", "--now", NOW, "--drafts", "--future")
    assert again.stdout.startswith("built 7 posts, ")

    before = tree(site / "public")
    (site / "templates/site").mkdir(parents=True)
    (site / "templates/site/tag.html").write_text("{{ nope }}\n")
    failed = run_publisher("build", "--now", NOW)
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: tag.html:1: ") and len(failed.stderr.splitlines()) == 1
    assert tree(site / "public") == before


# --- Preview server -----------------------------------------------------------------


def test_preview_serves_drafts_and_shows_build_errors_until_fixed(site: Path) -> None:
    import uvicorn

    from publisher.web.serve import preview_app

    add_posts(site)
    config = load_config(site / "config" / "site.toml", NOW)
    app = preview_app(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    preview = app.state.preview
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            wait_for(lambda: server.started)
            assert "Unfinished thoughts" in client.get("/").text
            assert client.get("/", headers={"Host": f"localhost:{port}"}).status_code == 200
            for rebound in ("drafts.attacker.example", f"attacker.example:{port}"):
                refused = client.get("/posts/coming-soon/", headers={"Host": rebound})
                assert refused.status_code == 400 and "Coming" not in refused.text
            assert client.get("/posts/coming-soon/").status_code == 200
            assert client.get("/posts/coming-soon").status_code in (200, 307)
            missing = client.get("/nope/")
            assert missing.status_code == 404 and "Page not found" in missing.text
            assert not (site / "public").exists()  # previews never touch the real output

            builds = preview.builds
            write_post(site, "z-bad.md", "date: 2026-01-01")
            wait_for(lambda: preview.builds > builds)
            broken = client.get("/posts/morning-light/")
            assert broken.status_code == 500 and "posts/z-bad.md" in broken.text

            builds = preview.builds
            (site / "posts/z-bad.md").unlink()
            wait_for(lambda: preview.builds > builds)
            assert client.get("/posts/morning-light/").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
