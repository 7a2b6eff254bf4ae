"""Posts: front matter, rendering, every bad-input message, the cache, the parallel path."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import markdown
import pytest
from click.testing import CliRunner

from publisher.cli import main
from publisher.config import load_config
from publisher.content import markup
from publisher.content import posts as content
from publisher.content.cache import CACHE_NAME
from publisher.content.frontmatter import slugify
from publisher.content.lookup import find_post
from publisher.errors import ContentErrors, PublisherError

from conftest import png, run_publisher, write_post

GOOD = "title: Sleep well\ndate: 2026-03-02 09:00"


def scan(site: Path) -> content.Scan:
    return content.scan(load_config(site / "config" / "site.toml", env={}))


def only_post(site: Path) -> content.Post:
    result = scan(site)
    assert result.errors == [] and len(result.posts) == 1
    return result.posts[0]


def errors(site: Path) -> list[str]:
    return [str(e) for e in scan(site).errors]


# --- bad input: each with its exact message ---------------------------------------------

BAD = [
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\ntags: [a, b\n---\nBody\n",
        "posts/bad.md:5: front matter is not valid YAML (did not find expected ',' or ']'); "
        "write one 'key: value' per line and put values containing ': ' or ' #' in quotes",
        id="yaml",
    ),
    pytest.param(
        b"---\ndate: 2026-03-02\n---\nBody\n",
        "posts/bad.md:1: missing title; add a line such as title: How to sleep better",
        id="no-title",
    ),
    pytest.param(
        b"---\ntitle: Sleep\n---\nBody\n",
        "posts/bad.md:1: missing date; add a line such as date: 2026-03-02 09:00",
        id="no-date",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: next tuesday\n---\nBody\n",
        "posts/bad.md:3: date: expected a date such as 2026-03-02 09:00, got 'next tuesday'",
        id="bad-date",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-02-30\n---\nBody\n",
        "posts/bad.md:3: date: expected a date such as 2026-03-02 09:00, got '2026-02-30'",
        id="impossible-date",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\ntags:\n  - sleep\n  - 2024\n---\nBody\n",
        "posts/bad.md:6: tags: each tag must be text, got 2024; put it in quotes",
        id="tag-not-text",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\ntags: {a: b}\n---\nBody\n",
        "posts/bad.md:4: tags: expected a list such as [sleep, anxiety] or 'sleep, anxiety'",
        id="tags-mapping",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\ndraft: maybe\n---\nBody\n",
        "posts/bad.md:4: draft: expected true or false, got 'maybe'",
        id="draft-not-bool",
    ),
    pytest.param(
        b"---\ntitle: [a, b]\ndate: 2026-03-02\n---\nBody\n",
        "posts/bad.md:2: title: expected text, got ['a', 'b']; write title: some words",
        id="title-list",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\n---\nfine\nthen caf\xe9\n",
        "posts/bad.md:6: not UTF-8 text (byte 0xe9); save the file as UTF-8",
        id="not-utf8",
    ),
    pytest.param(
        b"",
        "posts/bad.md:1: the file is empty; write front matter (---, title:, date:, ---) and the post",
        id="empty",
    ),
    pytest.param(
        b"\n  \n",
        "posts/bad.md:1: the file is empty; write front matter (---, title:, date:, ---) and the post",
        id="blank",
    ),
    pytest.param(
        b"# Sleep\n\nBody\n",
        "posts/bad.md:1: no front matter; start the file with a line ---, then title: and date:, then ---",
        id="no-front-matter",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\n\nBody\n",
        "posts/bad.md:1: front matter is not closed; add a line --- after the date: line",
        id="not-closed",
    ),
    pytest.param(
        b"---\n- title\n- date\n---\nBody\n",
        "posts/bad.md:2: front matter must be 'key: value' lines such as title: and date:",
        id="not-a-mapping",
    ),
    pytest.param(
        "---\ntitle: \u2603\u2603\ndate: 2026-03-02\n---\nBody\n".encode(),
        "posts/bad.md:2: cannot make a web address from this; add a line such as slug: sleep-better",
        id="no-slug",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\na: &a [x, x]\nb: [*a, *a]\n---\nBody\n",
        "posts/bad.md:4: front matter uses YAML anchors/aliases (&, *); write the values out",
        id="anchor",
    ),
    pytest.param(
        b"---\ntitle: *a\ndate: 2026-03-02\n---\nBody\n",
        "posts/bad.md:2: front matter uses YAML anchors/aliases (&, *); write the values out",
        id="alias",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\ntags: " + b"[" * 40 + b"]" * 40 + b"\n---\nBody\n",
        "posts/bad.md:4: front matter nests lists or mappings more than 8 deep; "
        "write one 'key: value' per line",
        id="deep-yaml",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\nsummary: " + b"x" * 17_000 + b"\n---\nBody\n",
        "posts/bad.md:1: front matter is over 16 KB; keep it to the keys such as title: and "
        "date:, and put long text in the post",
        id="front-too-big",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\n---\n" + b"word " * 210_000,
        "posts/bad.md:1: the file is over 1 MB; split the post into parts",
        id="file-too-big",
    ),
    pytest.param(
        b'---\ntitle: "Sleep\\nBcc: all@example.org"\ndate: 2026-03-02\n---\nBody\n',
        "posts/bad.md:2: title: contains a line break or control character; write it on one line",
        id="title-line-break",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: " + b"9" * 500 + b"\n---\nBody\n",
        "posts/bad.md:3: date: expected a date such as 2026-03-02 09:00, got " + "9" * 77 + "...",
        id="long-value-shown-cut",
    ),
    pytest.param(
        b"---\ntitle: Sleep\ndate: 2026-03-02\n---\nIntro\n\n" + b"[" * 10_000 + b"\n",
        "posts/bad.md:7: brackets [ ( nested 10000 deep; write at most 64 nested "
        "(Markdown slows down badly)",
        id="deep-markdown",
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_bad_input_message(site: Path, data: bytes, message: str) -> None:
    (site / "posts" / "bad.md").write_bytes(data)
    assert errors(site) == [message]


def billion_laughs() -> bytes:
    """427 bytes of YAML that expand to 9**9 strings when built."""
    lines = ["---", "title: Laughs", "date: 2026-03-02", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join([*lines, "description: *i", "---", "Body", ""]).encode()


def test_billion_laughs_is_refused_with_one_short_line_and_a_small_cache(site: Path) -> None:
    (site / "posts" / "laughs.md").write_bytes(billion_laughs())
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: posts/laughs.md:4: front matter uses YAML anchors/aliases (&, *); "
        "write the values out\n"
    )
    cache = site / "data" / "cache" / "posts"
    assert sum(f.stat().st_size for f in cache.iterdir()) < 100_000


SLOW_RENDER_CHECK = """
import sys
from publisher import parallel
from publisher.config import load_config
from publisher.content import posts
posts.RENDER_SECONDS = 2.0  # the slow post needs minutes; the fine one must fit under load
posts.PARALLEL_THRESHOLD = 0 if sys.argv[1] == "workers" else 64
assert parallel.can_fork() or sys.argv[1] == "here"
result = posts.scan(load_config("config/site.toml", env={}))
print([p.slug for p in result.posts])
print("\\n".join(str(e) for e in result.errors))
"""


@pytest.mark.parametrize("where", ["here", "workers"])
def test_rendering_longer_than_the_limit_is_an_error_naming_the_post(
    site: Path, where: str
) -> None:
    """In this process or in forked workers (large builds), the limit holds. In a fresh
    process, where no test's thread keeps the pool from forking (a spawned worker would
    not see the shortened limit)."""
    write_post(site, "slow.md", GOOD, "Intro\n\n" + "<a " * 20_000)
    write_post(site, "fine.md", "title: Fine\ndate: 2026-03-02")
    command = [sys.executable, "-c", SLOW_RENDER_CHECK, where]
    done = subprocess.run(command, cwd=site, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "['fine']",
        "posts/slow.md:5: the text took over 2 s to turn into HTML; look for long runs "
        "of [ ( < * _ or ` and break them up",
    ]


def test_html_over_the_cap_is_an_error_and_not_cached(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short body can expand a lot: one long link target used many times."""
    monkeypatch.setattr(content, "MAX_HTML_CHARS", 100_000)
    # Only the size cap is under test: on a loaded machine this body has taken over the
    # 10 s time cap, which then answered first.
    monkeypatch.setattr(content, "RENDER_SECONDS", 600.0)
    write_post(site, "big.md", GOOD, "[a][b] " * 1000 + f"\n\n[b]: http://x.org/{'a' * 200}\n")
    assert errors(site) == [
        "posts/big.md:5: the text turns into over 100,000 characters of HTML; look for a link "
        "or footnote used many times"
    ]
    cache = site / "data" / "cache" / "posts"
    assert sum(f.stat().st_size for f in cache.iterdir()) < 20_000


def test_every_problem_of_every_post_at_once(site: Path) -> None:
    write_post(site, "a.md", "title: A\ndate: soon\ntags: [x, 1]")
    write_post(site, "b.md", "date: 2026-03-02")
    write_post(site, "c.md", GOOD)
    assert errors(site) == [
        "posts/a.md:3: date: expected a date such as 2026-03-02 09:00, got 'soon'",
        "posts/a.md:4: tags: each tag must be text, got 1; put it in quotes",
        "posts/b.md:1: missing title; add a line such as title: How to sleep better",
    ]
    result = scan(site)
    assert [p.title for p in result.posts] == ["Sleep well"]
    assert result.files == 3


def test_duplicate_slugs_name_both_files(site: Path) -> None:
    write_post(site, "a.md", GOOD)
    write_post(site, "b.md", "title: Other\nslug: sleep-well\ndate: 2026-03-03")
    assert errors(site) == [
        "posts/b.md:3: slug 'sleep-well' is also used by posts/a.md; "
        "add a different slug: line to one of them"
    ]


def test_load_posts_raises_all_errors_and_logs_warnings(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_post(site, "a.md", "title: A\ndate: 2026-03-02\nauthr: Ann\ncolour: x")
    write_post(site, "b.md", "title: B")
    write_post(site, "c.md", "date: 2026-03-02")
    config = load_config(site / "config" / "site.toml", env={})
    with caplog.at_level(logging.WARNING, logger="publisher"), pytest.raises(ContentErrors) as exc:
        content.load_posts(config)
    assert [e.path for e in exc.value.errors] == ["posts/b.md", "posts/c.md"]
    assert caplog.messages == [
        "posts/a.md:4: unknown front matter key 'authr', 'colour' (known: title, date, "
        "tags, summary, slug, author, image, image_alt, description, draft, email, email_at, "
        "email_subject, email_preheader, email_only, aliases); check the spelling "
        "(docs/reference/front-matter.md)"
    ]


def test_load_posts_returns_every_post_newest_first(site: Path) -> None:
    write_post(site, "a.md", "title: Old\ndate: 2026-01-01")
    write_post(site, "b.md", "title: Draft\ndate: 2026-02-01\ndraft: true")
    write_post(site, "c.md", "title: Future\ndate: 2027-01-12 09:00")
    config = load_config(site / "config" / "site.toml", env={}, now="2026-06-01T00:00:00Z")
    posts = content.load_posts(config)
    assert [p.title for p in posts] == ["Future", "Draft", "Old"]
    assert [p.is_live(config.now) for p in posts] == [False, False, True]


# --- front matter values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2026-01-15 09:00", datetime(2026, 1, 15, 15, 0, tzinfo=UTC)),  # CST, -06:00
        ("2026-07-15 09:00", datetime(2026, 7, 15, 14, 0, tzinfo=UTC)),  # CDT, -05:00
        ("2026-03-08 03:30", datetime(2026, 3, 8, 8, 30, tzinfo=UTC)),  # just after DST starts
        ("2026-07-15 09:00:00", datetime(2026, 7, 15, 14, 0, tzinfo=UTC)),  # YAML datetime
        ("2026-07-15", datetime(2026, 7, 15, 5, 0, tzinfo=UTC)),  # YAML date: local midnight
        ("2026-07-15T09:00:00+02:00", datetime(2026, 7, 15, 7, 0, tzinfo=UTC)),
        ("2026-07-15 09:00:00 +02:00", datetime(2026, 7, 15, 7, 0, tzinfo=UTC)),
        ("'2026-07-15T09:00Z'", datetime(2026, 7, 15, 9, 0, tzinfo=UTC)),
    ],
)
def test_dates(site: Path, written: str, utc: datetime) -> None:
    write_post(site, "a.md", f"title: T\ndate: {written}")
    post = only_post(site)
    assert post.date == utc
    assert post.date.tzinfo == UTC


def test_fields_and_defaults(site: Path) -> None:
    write_post(
        site,
        "a.md",
        """
        title: 1984
        date: 2026-03-02
        tags: sleep, Mood , sleep
        author: Dr. Ann Lee
        image: images/a.svg
        """,
        'Intro with a note[^n] and **bold** &amp; "quotes".\n\nSecond.\n\n[^n]: The note.\n',
    )
    post = only_post(site)
    assert (post.title, post.slug, post.tags) == ("1984", "1984", ("sleep", "Mood"))
    assert post.summary == "Intro with a note and bold & \u201cquotes\u201d."
    assert post.description == post.summary
    assert (post.author, post.image, post.draft, post.email) == (
        "Dr. Ann Lee",
        "images/a.svg",
        False,
        True,
    )
    assert post.source == Path("posts/a.md")
    assert len(post.digest) == 32


def test_explicit_summary_description_slug_flags(site: Path) -> None:
    write_post(
        site,
        "a.md",
        """
        title: Sleep
        date: 2026-03-02
        tags: [sleep, "2024"]
        summary: Short.
        description: For search engines.
        slug: better-sleep-10.8
        draft: true
        email: false
        """,
    )
    post = only_post(site)
    assert (post.summary, post.description, post.slug) == (
        "Short.",
        "For search engines.",
        "better-sleep-10.8",  # as written: never silently changed
    )
    assert (post.tags, post.draft, post.email) == (("sleep", "2024"), True, False)


def test_unknown_keys_warn_but_post_is_kept(site: Path) -> None:
    write_post(site, "a.md", f"{GOOD}\ncolours: [x]")
    result = scan(site)
    assert [p.title for p in result.posts] == ["Sleep well"]
    assert result.warnings == [
        "posts/a.md:4: unknown front matter key 'colours' (known: title, date, tags, "
        "summary, slug, author, image, image_alt, description, draft, email, email_at, "
        "email_subject, email_preheader, email_only, aliases); check the spelling "
        "(docs/reference/front-matter.md)"
    ]


def test_crlf_and_bom_are_accepted(site: Path) -> None:
    (site / "posts" / "a.md").write_bytes(
        b"\xef\xbb\xbf---\r\ntitle: Sleep\r\ndate: 2026-03-02\r\n---\r\n\r\nHello.\r\n"
    )
    assert only_post(site).html == "<p>Hello.</p>"


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Sleep & Mood: What\u2019s New?", "sleep-mood-whats-new"),
        ("Caf\u00e9 na\u00efve \u00fcber", "cafe-naive-uber"),
        ("  --Don't panic--  ", "dont-panic"),
        ("\u7761\u7720", ""),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


# --- rendering ----------------------------------------------------------------------------

BODY = """\
Intro paragraph.

## Why sleep matters

Text with a footnote.[^1]

### Table

| Hours | Effect |
|-------|--------|
| 7-9   | rested |

```python
def rest():
    return True
```

```
plain block
```

[^1]: Walker, *Why We Sleep*.
"""


def test_render_toc_tables_footnotes_code(site: Path) -> None:
    write_post(site, "a.md", GOOD, BODY)
    post = only_post(site)
    assert '<h2 id="why-sleep-matters">Why sleep matters<a class="headerlink"' in post.html
    assert '<a href="#why-sleep-matters">Why sleep matters</a>' in post.toc
    assert '<a href="#table">Table</a>' in post.toc
    assert "<table>" in post.html and "<td>rested</td>" in post.html
    assert 'class="footnote-ref"' in post.html and 'id="fn:1"' in post.html
    python, plain = post.html.split('<div class="highlight">')[1:3]
    assert '<span class="k">def</span>' in python
    assert "<span class=" not in plain.split("</div>")[0].replace("<span></span>", "")
    assert post.summary == "Intro paragraph."


def test_no_headings_no_toc(site: Path) -> None:
    write_post(site, "a.md", GOOD, "Just text.\n")
    assert only_post(site).toc == ""


def test_word_count_and_reading_time(site: Path) -> None:
    write_post(site, "a.md", GOOD, "## Heading here\n\n" + "Don't stop-now word. " * 250 + "\n")
    post = only_post(site)
    assert post.word_count == 2 + 750
    assert post.reading_time == 3  # 752 / 220 = 3.4
    write_post(site, "a.md", GOOD, "Short.\n")
    assert only_post(site).reading_time == 1


SMART = r"""
## Don't "panic" -- it's the '80s

"Quoted" text, 'single', "'nested' quotes", '"other"' and Sam's --- em -- en... dots.... x---y
'Tis the season. "Hello," she said. He said "it's 'fine'". 5'10" tall; rock 'n' roll.
A "[link](http://x.org)" and "**bold**" and '*em*' -- `code "q" -- ...` &nbsp;"x" &amp; 'y'.
\"escaped\" and \'escaped\'. ""double"" and ''single'' and "a" "b".

> "Quote in a blockquote," with a note[^1].

1. "First" item's text
2. 'Second' --- dash

| "a" | 'b' |
|-----|-----|
| it's | "c" -- d |

[^1]: Note "text" -- here's it.
"""


def test_smart_punctuation_matches_smarty() -> None:
    reference = markdown.Markdown(
        extensions=[*markup.EXTENSIONS, "smarty"],
        extension_configs=markup.EXTENSION_CONFIGS,
        output_format="html",
    )
    rendered = markup.render(SMART)
    assert rendered.html == reference.convert(SMART)
    assert rendered.toc == reference.toc  # type: ignore[attr-defined]
    assert "&ldquo;panic&rdquo; &ndash; it&rsquo;s the &rsquo;80s" in rendered.html


# --- cache and parallel -----------------------------------------------------------------


def test_cache_parses_only_what_changed(site: Path) -> None:
    for name in ("a", "b", "c"):
        write_post(site, f"{name}.md", f"title: {name}\ndate: 2026-03-02")
    write_post(site, "bad.md", "title: bad")
    first = scan(site)
    assert (first.parsed, len(first.posts), len(first.errors)) == (4, 3, 1)
    assert list((site / "data" / "cache" / CACHE_NAME).glob("*.pickle"))
    again = scan(site)
    assert again.parsed == 0
    assert again.posts == first.posts and [str(e) for e in again.errors] == [
        str(e) for e in first.errors
    ]

    write_post(site, "b.md", "title: b changed\ndate: 2026-03-02")
    changed = scan(site)
    assert changed.parsed == 1
    assert sorted(p.title for p in changed.posts) == ["a", "b changed", "c"]

    (site / "posts" / "c.md").unlink()
    (site / "posts" / "bad.md").unlink()
    gone = scan(site)
    assert (gone.parsed, gone.errors) == (0, [])
    assert sorted(p.title for p in gone.posts) == ["a", "b changed"]


def test_cache_is_dropped_when_the_time_zone_changes(site: Path) -> None:
    write_post(site, "a.md", GOOD)
    assert only_post(site).date == datetime(2026, 3, 2, 15, tzinfo=UTC)
    config = site / "config" / "site.toml"
    config.write_text(config.read_text().replace("America/Chicago", "Europe/Paris"))
    result = scan(site)
    assert result.parsed == 1
    assert result.posts[0].date == datetime(2026, 3, 2, 8, tzinfo=UTC)


def test_corrupt_cache_is_a_miss(site: Path) -> None:
    write_post(site, "a.md", GOOD)
    scan(site)
    for shard in (site / "data" / "cache" / CACHE_NAME).glob("*.pickle"):
        shard.write_bytes(b"garbage")
    assert scan(site).parsed == 1
    assert scan(site).parsed == 0


def settle(path: Path) -> None:
    """Date a file back an hour, past the window in which its stamp is not trusted."""
    old = path.stat().st_mtime_ns - 3600 * 10**9
    os.utime(path, ns=(old, old))


def test_a_settled_file_with_its_cached_stamp_is_not_read(site: Path) -> None:
    path = write_post(site, "a.md", "title: aaaa\ndate: 2026-03-02")
    settle(path)
    assert only_post(site).title == "aaaa"
    stamp = path.stat().st_mtime_ns
    path.write_text(path.read_text().replace("aaaa", "bbbb"))
    os.utime(path, ns=(stamp, stamp))  # same mtime, size and inode: trusted as unchanged
    assert only_post(site).title == "aaaa"
    os.utime(path, ns=(stamp + 1, stamp + 1))  # any change of the stamp: read, hash decides
    assert only_post(site).title == "bbbb"


def test_a_recent_file_is_read_even_with_its_cached_stamp(site: Path) -> None:
    """Two edits in one clock tick leave the same stamp, so a fresh stamp proves nothing."""
    path = write_post(site, "a.md", "title: aaaa\ndate: 2026-03-02")
    assert only_post(site).title == "aaaa"
    stamp = path.stat().st_mtime_ns
    path.write_text(path.read_text().replace("aaaa", "bbbb"))
    os.utime(path, ns=(stamp, stamp))
    assert only_post(site).title == "bbbb"


def test_recording_stamps_leaves_the_cached_results_alone(site: Path) -> None:
    path = write_post(site, "a.md", GOOD)
    scan(site)  # the file is too fresh for its stamp to be kept
    folder = site / "data" / "cache" / CACHE_NAME
    [shard] = folder.glob("shard-*.pickle")
    before = shard.stat().st_ino
    settle(path)
    assert scan(site).parsed == 0
    assert shard.stat().st_ino == before and (folder / "stamps.pickle").is_file()


def test_one_changed_post_rewrites_one_cache_shard(site: Path) -> None:
    for i in range(40):
        settle(write_post(site, f"p{i:02}.md", f"title: Post {i}\ndate: 2026-03-02"))
    scan(site)
    shards = sorted((site / "data" / "cache" / CACHE_NAME).glob("shard-*.pickle"))
    before = {shard.name: shard.stat().st_ino for shard in shards}
    assert len(before) > 10  # 40 posts spread over the shards
    write_post(site, "p07.md", "title: Post 7 changed\ndate: 2026-03-02")
    assert "Post 7 changed" in [p.title for p in scan(site).posts]
    after = {shard.name: shard.stat().st_ino for shard in shards}
    assert sum(before[name] != after[name] for name in before) == 1
    assert "Post 7 changed" in [p.title for p in scan(site).posts]


@pytest.mark.parametrize("threads", [False, True], ids=["fork", "spawn"])
def test_parallel_output_equals_serial(site: Path, threads: bool) -> None:
    """With another thread alive the pool spawns instead of forking; same output."""
    items = [
        (
            f"posts/p{i:03}.md",
            f"---\ntitle: Post {i}\ndate: 2026-03-{i % 28 + 1:02}\n---\n\n{BODY}".encode(),
        )
        for i in range(content.PARALLEL_THRESHOLD + 10)
    ]
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    if threads:
        thread.start()
    try:
        parallel = content._parse_all(items, "America/Chicago")
    finally:
        stop.set()
    serial = content._parse_many(items, "America/Chicago")
    assert parallel == serial
    assert len({r.post.slug for r in parallel if r.post}) == len(items)


def test_scan_in_parallel_equals_scan_serially(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = content.PARALLEL_THRESHOLD + 5
    for i in range(count):
        write_post(site, f"p{i:03}.md", f"title: Post {i}\ndate: 2026-03-{i % 28 + 1:02}", BODY)
    write_post(site, "bad.md", "title: Post 1\ndate: 2026-03-02")
    parallel = scan(site)
    shutil.rmtree(site / "data")
    monkeypatch.setattr(content, "PARALLEL_THRESHOLD", 10_000)
    serial = scan(site)
    assert parallel.parsed == serial.parsed == count + 1
    assert parallel.posts == serial.posts
    assert [str(e) for e in parallel.errors] == [str(e) for e in serial.errors]
    assert len(serial.errors) == 1  # p001.md repeats the slug of bad.md


# --- new -----------------------------------------------------------------------------------


def test_new_post_is_a_valid_draft(site: Path) -> None:
    config = load_config(site / "config" / "site.toml", env={}, now="2026-07-01T14:05:31Z")
    path = content.new_post(config, "Sleep & Mood: What\u2019s New?")
    assert path == site / "posts" / "2026-07-01-sleep-mood-whats-new.md"
    assert 'title: "Sleep & Mood: What\u2019s New?"\ndate: 2026-07-01 09:05\n' in path.read_text()
    post = only_post(site)
    assert (post.title, post.draft, post.date) == (
        "Sleep & Mood: What\u2019s New?",
        True,
        datetime(2026, 7, 1, 14, 5, tzinfo=UTC),
    )
    with pytest.raises(PublisherError, match="already exists"):
        content.new_post(config, "Sleep & Mood: What\u2019s New?")


def test_the_picture_new_suggests_passes_check_once_the_file_is_there(site: Path) -> None:
    """The template's image: line, uncommented as it says, with the picture put where it
    says: check has nothing to say about it."""
    config = load_config(site / "config" / "site.toml", env={}, now="2026-07-01T14:05:31Z")
    path = content.new_post(config, "A Picture")
    text = path.read_text()
    [line] = [x for x in text.splitlines() if x.startswith("# image:")]
    image, where = re.fullmatch(r"# image: (\S+)\s+\(a JPEG or PNG put in (\S+)\)", line).groups()
    folder = site / where
    folder.mkdir(parents=True)
    (folder / Path(image).name).write_bytes(png(4, 3))
    alt = next(x for x in text.splitlines() if x.startswith("# image_alt:"))
    path.write_text(text.replace(line, f"image: {image}").replace(alt, alt[2:]))
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert f": image {image}" not in result.stderr


# --- commands -------------------------------------------------------------------------------


def test_check_command_ok(site: Path) -> None:
    write_post(site, "a.md", GOOD)
    write_post(site, "b.md", "title: B\ndate: 2026-03-03\nfoo: 1")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 2 posts: 0 errors, 1 warning\n"
    assert result.stderr.startswith("warning: posts/b.md:4: unknown front matter key 'foo'")


def test_check_command_reports_all_errors(site: Path) -> None:
    write_post(site, "a.md", "title: A\ndate: soon")
    (site / "posts" / "b.md").write_bytes(b"")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2
    assert result.stdout == "checked 2 posts: 2 errors, 0 warnings\n"
    assert result.stderr.splitlines() == [
        "error: posts/a.md:3: date: expected a date such as 2026-03-02 09:00, got 'soon'",
        "error: posts/b.md:1: the file is empty; write front matter (---, title:, date:, ---) and the post",
    ]


def test_new_command(site: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["new", "Hello World", "--date", "2027-01-12 09:00"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "posts/2027-01-12-hello-world.md\n"
    assert only_post(site).date == datetime(2027, 1, 12, 15, tzinfo=UTC)
    again = runner.invoke(main, ["new", "Hello World", "--date", "2027-01-12 10:00"])
    assert again.exit_code == 2
    assert again.stderr == (
        "error: posts/2027-01-12-hello-world.md already exists; choose another title or --date\n"
    )
    other_day = runner.invoke(main, ["new", "Hello World!", "--date", "2027-02-01 09:00"])
    assert other_day.exit_code == 2  # one slug, one post: no second file
    assert other_day.stderr == (
        "error: posts/2027-01-12-hello-world.md already has the slug 'hello-world' (its web "
        "address); edit that post, or choose another title\n"
    )
    assert sorted(p.name for p in (site / "posts").iterdir()) == ["2027-01-12-hello-world.md"]
    bad = runner.invoke(main, ["new", "Other", "--date", "tomorrow"])
    assert bad.exit_code == 2 and "expected a time such as 2026-03-02 09:00" in bad.stderr


def test_check_in_a_real_process(site: Path) -> None:
    write_post(site, "a.md", "title: A\ndate: next tuesday")
    run = run_publisher("check", cwd=site)
    assert run.returncode == 2
    assert run.stderr == (
        "error: posts/a.md:3: date: expected a date such as 2026-03-02 09:00, got 'next tuesday'\n"
    )
    assert "Traceback" not in run.stderr + run.stdout
    debug = run_publisher("check", "--debug", cwd=site)
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert "posts/a.md:3: date: expected a date" in debug.stderr


# --- the sample site ---------------------------------------------------------------------------


def test_sample_site_posts_are_clean(sample_site: Path) -> None:
    config = load_config(env={}, now="2026-12-01T12:00:00Z")
    result = content.scan(config)
    assert (result.errors, result.warnings) == ([], [])
    assert 5 <= len(result.posts) <= 7
    assert sum(p.draft for p in result.posts) == 1
    assert [p.slug for p in result.posts if not p.draft and p.date > config.now] != []
    for post in result.posts:
        assert 600 <= post.word_count <= 1300, post.source
        assert post.tags and post.toc and "<ol>" in post.html and "<ul>" in post.html
    assert any("<table>" in p.html for p in result.posts)


@pytest.mark.parametrize(
    "typed",
    ["sleep-and-mod-why-your-nights", "sleep-mood", "your-nights", "sleep-and-mood"],
)
def test_a_wrong_slug_suggests_the_post_meant(typed: str) -> None:
    """A typo, a few of its words, a part, its start: long slugs are rarely typed whole."""
    slugs = ["sleep-and-mood-why-your-nights-shape-your-days", "food-and-mood", "welcome"]
    posts = [SimpleNamespace(slug=slug) for slug in slugs]
    with pytest.raises(PublisherError) as error:
        find_post(posts, typed)
    assert f"did you mean {slugs[0]}" in str(error.value)
    assert "welcome" not in str(error.value)
