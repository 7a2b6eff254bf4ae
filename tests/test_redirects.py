"""Old addresses (`aliases:`) answer with redirect pages in the built site, served over real
HTTP; paths that leave the site or take a real page are errors naming the post and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.config import load_config
from publisher.content import posts as content

from conftest import follow_redirect, run_publisher, serve_folder, write_post

NOW = "2026-04-01T12:00:00Z"


def build(site: Path):
    return run_publisher("build", "--now", NOW, cwd=site)


def test_aliases_are_parsed_and_normalised(site: Path) -> None:
    write_post(
        site,
        "a.md",
        """\
        title: Old post
        date: 2026-03-02
        aliases:
          - /2019/05/01/old-post.html
          - blog//old-post/
          - /caf%C3%A9/
        """,
    )
    [post] = content.scan(load_config(site / "config" / "site.toml", env={})).posts
    assert [(a.path, a.line) for a in post.aliases] == [
        ("2019/05/01/old-post.html", 5),
        ("blog/old-post/", 6),
        ("café/", 7),
    ]


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("../../etc/x.html", "leaves the site's folder (. or ..)"),
        ("https://old.example.org/a/", "is not a path on this site"),
        ("//old.example.org/a/", "is not a path on this site"),
        ("/a?p=1", "is not a path on this site"),
        ("/", "is the home page"),
    ],
)
def test_bad_aliases_are_errors_naming_the_line(site: Path, alias: str, message: str) -> None:
    write_post(site, "a.md", f"title: A\ndate: 2026-03-02\naliases: ['{alias}']")
    done = run_publisher("check", "--now", NOW, cwd=site)
    assert done.returncode == 2
    assert f"error: posts/a.md:4: aliases: '{alias}' {message}" in done.stderr


def test_every_old_address_redirects_to_its_post_over_http(site: Path) -> None:
    write_post(
        site,
        "a.md",
        "title: Sleep well\ndate: 2026-03-02\n"
        "aliases: [/2019/05/01/sleep-well.html, /blog/sleep-well/, /old]",
    )
    done = build(site)
    assert done.returncode == 0, done.stderr
    public = site / "public"
    assert (public / "2019/05/01/sleep-well.html").is_file()
    assert (public / "blog/sleep-well/index.html").is_file()
    assert (public / "old/index.html").is_file()
    page = (public / "blog/sleep-well/index.html").read_text()
    assert '<meta name="robots" content="noindex">' in page
    assert '<link rel="canonical" href="https://blog.example.org/posts/sleep-well/">' in page
    assert '<a href="/posts/sleep-well/">Sleep well</a>' in page
    with serve_folder(public) as base:
        for old in ("/2019/05/01/sleep-well.html", "/blog/sleep-well/", "/old/"):
            url, html = follow_redirect(base + old)
            assert url == base + "/posts/sleep-well/"
            assert "<h1" in html and "Sleep well" in html
    assert "2019/05/01" not in (public / "sitemap.xml").read_text()


def test_a_drafts_old_addresses_are_not_in_the_site(site: Path) -> None:
    write_post(site, "a.md", "title: A\ndate: 2026-03-02\ndraft: true\naliases: [/old.html]")
    assert build(site).returncode == 0
    assert not (site / "public" / "old.html").exists()


@pytest.mark.parametrize(
    ("alias", "file"),
    [
        ("/tags/", "tags/index.html"),
        ("/feed.xml/", "feed.xml/index.html"),
        ("/static/style.css/x.html", "static/style.css/x.html"),
        ("/posts/b/", "posts/b/index.html"),
    ],
)
def test_an_alias_taking_a_real_page_is_an_error_and_nothing_is_written(
    site: Path, alias: str, file: str
) -> None:
    write_post(site, "a.md", f"title: A\ndate: 2026-03-02\naliases: ['{alias}']")
    write_post(site, "b.md", "title: B\ndate: 2026-03-01")
    done = build(site)
    assert done.returncode == 2
    assert done.stderr == (
        f"error: posts/a.md:4: aliases: {alias.rstrip('/') + '/' if alias.endswith('/') else alias}"
        f" is a page of this site ({file}); remove it from aliases\n"
    )
    assert not (site / "public").exists()


def test_two_posts_with_one_old_address_is_an_error_naming_both(site: Path) -> None:
    write_post(site, "a.md", "title: A\ndate: 2026-03-02\naliases: [/old.html]")
    write_post(site, "b.md", "title: B\ndate: 2026-03-01\naliases: [/old.html]")
    done = build(site)
    assert done.returncode == 2
    assert "posts/b.md:4: aliases: /old.html is also an old address of posts/a.md" in done.stderr


def test_check_reports_an_alias_taking_a_real_page(site: Path) -> None:
    write_post(site, "a.md", "title: A\ndate: 2026-03-02\naliases: [/archive/]")
    done = run_publisher("check", "--now", NOW, cwd=site)
    assert done.returncode == 2
    assert (
        "error: posts/a.md:4: aliases: /archive/ is a page of this site (archive/index.html); "
        "remove it from aliases" in done.stderr
    )


def test_one_address_with_and_without_a_final_slash_is_one_redirect(site: Path) -> None:
    """/old-post and /old-post/ are one old address (one redirect page): a post listing
    both (jekyll-redirect-from sites often do) does not conflict with itself; another post
    taking it still does."""
    write_post(site, "a.md", "title: A\ndate: 2026-03-02\naliases: [/old-post/, /old-post]")
    [post] = content.scan(load_config(site / "config" / "site.toml", env={})).posts
    assert [(a.path, a.line) for a in post.aliases] == [("old-post/", 4)]
    done = build(site)
    assert done.returncode == 0, done.stderr
    with serve_folder(site / "public") as base:
        for old in ("/old-post/", "/old-post"):
            assert follow_redirect(base + old)[0] == f"{base}/posts/a/"
    write_post(site, "b.md", "title: B\ndate: 2026-03-01\naliases: [/old-post]")
    done = build(site)
    assert done.returncode == 2
    assert "posts/b.md:4: aliases: /old-post is also an old address of posts/a.md" in done.stderr
