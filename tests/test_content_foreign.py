"""Posts written for other blog engines, read directly: what Pelican, Jekyll and Hugo files
put in `posts/` give. Nothing is skipped silently, and no foreign draft key publishes a
post by mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.config import load_config
from publisher.content import posts as content

from conftest import run_publisher, write_post

GOOD = "title: Sleep well\ndate: 2026-03-02 09:00"


def scan(site: Path) -> content.Scan:
    return content.scan(load_config(site / "config" / "site.toml", env={}))


@pytest.mark.parametrize("name", ["a.markdown", "a.mkd"])
def test_markdown_and_mkd_files_are_posts(site: Path, name: str) -> None:
    write_post(site, name, GOOD)
    result = scan(site)
    assert [p.title for p in result.posts] == ["Sleep well"]
    assert result.warnings == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("notes.txt", "not a post (posts end in .md, .markdown or .mkd)"),
        ("old.rst", "not a post (posts end in .md, .markdown or .mkd)"),
        (".hidden.md", "a hidden file"),
        ("a.md~", "an editor backup"),
        ("#a.md#", "an editor backup"),
        ("a.md.bak", "an editor backup"),
    ],
)
def test_a_skipped_file_is_named(site: Path, name: str, reason: str) -> None:
    (site / "posts" / name).write_text("---\ntitle: x\n---\n", encoding="utf-8")
    result = scan(site)
    assert result.posts == [] and result.errors == []
    assert result.warnings == [f"posts/{name}: skipped: {reason}"]


def test_a_hidden_folder_is_named_once(site: Path) -> None:
    (site / "posts" / ".git" / "objects").mkdir(parents=True)
    (site / "posts" / ".git" / "HEAD").write_text("ref\n")
    (site / "posts" / ".git" / "objects" / "x").write_text("x\n")
    assert scan(site).warnings == ["posts/.git/: skipped: a hidden folder"]


def test_build_and_check_report_skipped_files(site: Path) -> None:
    write_post(site, "a.md", GOOD)
    (site / "posts" / "notes.txt").write_text("ideas\n")
    for command in ("check", "build"):
        done = run_publisher(command, "--now", "2026-04-01", cwd=site)
        assert done.returncode == 0, done.stderr
        assert "posts/notes.txt: skipped: not a post" in done.stderr


PELICAN = """\
Title: My super title
Date: 2010-12-03 10:20
Tags: thats, awesome
Slug: my-super-post

This is the content of my super blog post.
"""


def test_pelican_metadata_lines_are_named(site: Path) -> None:
    (site / "posts" / "a.md").write_text(PELICAN)
    assert [str(e) for e in scan(site).errors] == [
        "posts/a.md:1: no front matter: these look like Pelican metadata lines; put them "
        "between two --- lines with lowercase keys (title:, date:), or convert the blog with "
        "publisher import pelican"
    ]


def test_toml_front_matter_is_named(site: Path) -> None:
    (site / "posts" / "a.md").write_text('+++\ntitle = "A"\ndate = 2020-01-01\n+++\nBody\n')
    assert [str(e) for e in scan(site).errors] == [
        "posts/a.md:1: front matter in TOML (+++) is not read; write it as YAML between two "
        "--- lines (title: A), or convert the blog with publisher import hugo"
    ]


def test_capitalised_keys_are_errors_that_name_the_lowercase_key(site: Path) -> None:
    (site / "posts" / "a.md").write_text(
        "---\nTitle: My super title\nDate: 2010-12-03 10:20\n---\nBody\n"
    )
    assert [str(e) for e in scan(site).errors] == [
        "posts/a.md:2: 'Title': keys are lowercase: write 'title'",
        "posts/a.md:3: 'Date': keys are lowercase: write 'date'",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "status: draft",
            "status: publisher does not read this key; to keep the post off the site "
            "write draft: true instead",
        ),
        (
            "Status: draft",
            "status: publisher does not read this key; to keep the post off the site "
            "write draft: true instead",
        ),
        (
            "published: false",
            "published: publisher does not read this key; to keep the post off the site "
            "write draft: true instead",
        ),
        (
            "published: true",
            "published: publisher does not read this key; posts are published at their "
            "date unless draft: true: remove it",
        ),
        (
            "status: published",
            "status: publisher does not read this key; posts are published at their "
            "date unless draft: true: remove it",
        ),
    ],
)
def test_foreign_draft_keys_are_errors_so_no_draft_is_published(
    site: Path, line: str, message: str
) -> None:
    write_post(site, "a.md", f"{GOOD}\n{line}")
    result = scan(site)
    assert [str(e) for e in result.errors] == [f"posts/a.md:4: {message}"]
    assert result.publishable == []


def test_a_foreign_draft_key_stops_the_build(site: Path) -> None:
    write_post(site, "a.md", f"{GOOD}\npublished: false")
    done = run_publisher("build", "--now", "2026-04-01", cwd=site)
    assert done.returncode == 2
    assert "error: posts/a.md:4: published: publisher does not read this key" in done.stderr
    assert not (site / "public").exists()


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("permalink: /2019/05/01/a.html", "to keep an old address working write aliases:"),
        ("categories: [x]", "write tags: instead"),
    ],
)
def test_other_foreign_keys_warn_with_a_hint(site: Path, line: str, hint: str) -> None:
    write_post(site, "a.md", f"{GOOD}\n{line}")
    result = scan(site)
    assert result.errors == [] and len(result.posts) == 1
    assert len(result.warnings) == 1 and hint in result.warnings[0]
    assert result.warnings[0].startswith("posts/a.md:4: ")


def test_skipped_files_are_named_on_every_scan_not_only_the_first(site: Path) -> None:
    """The parse cache holds posts; skipped files are found by each scan itself."""
    write_post(site, "a.md", GOOD)
    (site / "posts" / "b.markdown~").write_text("backup\n")
    first, second = scan(site), scan(site)
    assert second.parsed == 0 and first.warnings == second.warnings
    assert second.warnings == ["posts/b.markdown~: skipped: an editor backup"]


def test_the_parse_cache_is_keyed_by_every_module_of_content(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change to any module that reads posts (foreign keys too) invalidates the cache."""
    from publisher.content import cache

    config = load_config(site / "config" / "site.toml", env={})
    before = cache.renderer_key(config)
    read_bytes = Path.read_bytes

    def changed(path: Path) -> bytes:
        return read_bytes(path) + (b"# changed" if path.name == "foreign.py" else b"")

    monkeypatch.setattr(Path, "read_bytes", changed)
    assert cache.renderer_key(config) != before


def test_renaming_a_post_to_markdown_keeps_it(site: Path) -> None:
    path = write_post(site, "a.md", GOOD)
    assert [p.source.name for p in scan(site).posts] == ["a.md"]
    path.rename(site / "posts" / "a.markdown")
    result = scan(site)
    assert [p.source.name for p in result.posts] == ["a.markdown"] and result.parsed == 1


def test_a_jekyll_file_name_date_is_named_in_the_missing_date_error(site: Path) -> None:
    write_post(site, "2019-05-01-welcome.markdown", "title: Welcome")
    assert [str(e) for e in scan(site).errors] == [
        "posts/2019-05-01-welcome.markdown:1: missing date; add a line such as "
        "date: 2019-05-01 (the file name's date is not read)"
    ]


@pytest.mark.parametrize("command", ["check", "build", "tick"])
def test_a_symlink_in_posts_to_a_file_outside_is_refused(site: Path, command: str) -> None:
    """A post that is a symlink to a key file (in the site, or anywhere) is refused with
    its file and the reason, and its text reaches no page; the other posts still go out
    from a tick."""
    write_post(site, "a.md", GOOD)
    (site / "config" / "dkim.pem").write_text("title: Key\ndate: 2026-03-01\nsecret-key\n")
    (site / "posts" / "key.md").symlink_to(site / "config" / "dkim.pem")
    (site / "posts" / "linked").symlink_to(site / "config", target_is_directory=True)
    done = run_publisher(command, "--now", "2026-04-01", cwd=site)
    assert done.returncode == (1 if command == "tick" else 2), done.stderr
    for name in ("key.md", "linked"):
        assert (
            f"posts/{name}:1: a symbolic link to something outside posts/; publisher "
            "does not follow it (it could publish any file on this machine): move the post "
            "itself into posts/"
        ) in done.stderr
    public = site / "public"
    if command == "tick":
        assert (public / "posts" / "sleep-well" / "index.html").exists()
    for path in public.rglob("*") if public.exists() else []:
        assert path.is_dir() or b"secret-key" not in path.read_bytes()


def test_a_symlink_within_posts_is_read(site: Path) -> None:
    (site / "posts" / "drafts").mkdir()
    write_post(site, "drafts/a.md", GOOD)
    (site / "posts" / "a.md").symlink_to(site / "posts" / "drafts" / "a.md")
    result = scan(site)
    assert result.errors[0].message.startswith("slug 'sleep-well' is also used by")


def test_template_syntax_left_in_a_post_is_a_warning_with_its_line(site: Path) -> None:
    """Liquid, Hugo shortcodes and Pelican links would be shown to readers as written:
    `check` names each with its line; in code (a fence, an indented block, `code`) they
    are shown on purpose."""
    body = (
        "Intro {% include map.html %} and {{ site.baseurl }}.\n\n"
        "{{< youtube abc >}} then [a]({filename}/a.md)\n\n"
        "```liquid\n{% include map.html %}\n```\n\n"
        "    {{< youtube abc >}}\n\n"
        "Write `{% raw %}` and ``{{ x }}`` to show them.\n"
    )
    write_post(site, "a.md", GOOD, body)
    assert scan(site).warnings == [
        "posts/a.md:6: Liquid tag {% include map.html %} is shown to readers as written "
        "(publisher does not run Liquid); write its result in Markdown or HTML",
        "posts/a.md:6: Liquid output {{ site.baseurl }} is shown to readers as written "
        "(publisher does not run Liquid); write the value itself",
        "posts/a.md:8: Hugo shortcode {{< youtube abc >}} is shown to readers as written "
        "(publisher has no shortcodes); write its result in Markdown or HTML",
        "posts/a.md:8: Pelican link {filename}/a.md leads nowhere; link to the post "
        "(/posts/<slug>/) or the file (/static/...) instead",
    ]
    done = run_publisher("check", "--now", "2026-04-01", cwd=site)
    assert done.returncode == 0, done.stderr
    assert "warning: posts/a.md:8: Hugo shortcode {{< youtube abc >}} is shown" in done.stderr


def test_scripts_frames_forms_and_javascript_links_are_warnings_with_their_line(site: Path):
    """Issue 20 item 20: raw <script>, <iframe>, <form> and javascript: links reached the
    site and the email with no word from `check`. Shown in code, they are only text."""
    body = (
        "Intro.\n\n<script>track()</script>\n\n"
        '<IFRAME src="https://maps.example.com/embed"></IFRAME>\n\n'
        '<form action="https://evil.example.net/login"><input name="pw"></form>\n\n'
        "A [trap](javascript:alert(1)) here.\n\n"
        "```html\n<script>shown()</script>\n```\n"
    )
    write_post(site, "a.md", GOOD, body)
    email = "is left out of its email (mail clients drop or flag scripts, frames and forms)"
    assert scan(site).warnings == [
        f"posts/a.md:8: <script> runs on the post's page (make sure you mean it) and {email}",
        'posts/a.md:10: <IFRAME src="https://maps.example.com/embed"> runs on the post\'s page '
        f"(make sure you mean it) and {email}",
        'posts/a.md:12: <form action="https://evil.example.net/login"> runs on the post\'s '
        f"page (make sure you mean it) and {email}",
        "posts/a.md:14: a javascript: link runs a script on the post's page and is plain "
        "text in its email; link to a page instead",
    ]
    done = run_publisher("check", "--now", "2026-04-01", cwd=site)
    assert done.returncode == 0, done.stderr
    assert "warning: posts/a.md:8: <script> runs on the post's page" in done.stderr
