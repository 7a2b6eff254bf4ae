"""Posts: Markdown files with YAML front matter, read and rendered once for every output.

`scan` reads every `posts/**/*.md` (and `.markdown`, `.mkd`), reuses what the cache
already holds for unchanged files (same bytes, same renderer settings), parses the rest
(across all cores when there are many), and reports every problem of every post at once,
and every file it skipped. `load_posts` is the same for callers that only want good
posts or an exception.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from publisher import parallel
from publisher.config import Config
from publisher.content import foreign, frontmatter, yamlfront
from publisher.content.cache import PostCache, Stamp, digest
from publisher.errors import ContentError, ContentErrors, PublisherError
from publisher.limits import time_limit

if TYPE_CHECKING:
    from publisher.content.markup import Rendered

log = logging.getLogger("publisher")

PARALLEL_THRESHOLD = 64  # fewer posts to parse than this: not worth starting processes
WORDS_PER_MINUTE = 220
RENDER_SECONDS = 10.0  # one post's Markdown taking longer is an error (docs/staff/writing.md)
MAX_HTML_CHARS = 10_000_000  # nor may it turn into more HTML (highlighted code grows ~5x)


@dataclass(frozen=True)
class Post:
    """One post, parsed and rendered: what the site, the emails and the scheduler consume."""

    source: Path  # relative to the site root, e.g. posts/2026-03-01-sleep.md
    slug: str
    title: str
    date: datetime  # publish time, aware, UTC
    tags: tuple[str, ...]
    summary: str  # plain text
    description: str  # for <meta name=description>; defaults to summary
    author: str
    image: str  # as written (may be relative); "" when none
    image_alt: str  # what the picture shows, for people who cannot see it; "" when none
    draft: bool
    email: bool  # announce by email
    aliases: tuple[frontmatter.OldPath, ...]  # old addresses that redirect here
    html: str  # rendered body; links as written in the post
    toc: str  # rendered table of contents (HTML), "" when no headings
    word_count: int
    reading_time: int  # minutes, at least 1
    digest: str  # hash of the source bytes
    slug_line: int = 1  # the front matter line the slug comes from (slug:, else title:)
    email_at: datetime | None = None  # when it is announced, if not when it goes live
    email_subject: str = ""  # the email's subject, if not the title
    email_preheader: str = ""  # the email's preheader, if not the summary
    email_only: bool = False  # a letter: emailed and archived, no page, feed or tag entry

    def is_live(self, now: datetime) -> bool:
        """Published: not a draft and its date has come."""
        return not self.draft and self.date <= now


@dataclass(frozen=True)
class Scan:
    """Everything found in `posts/`: good posts newest first, and every problem."""

    posts: list[Post]
    errors: list[ContentError]
    warnings: list[str]
    parsed: int  # files parsed by this call; the others came from the cache
    files: int  # post files found, good or bad

    @property
    def publishable(self) -> list[Post]:
        """The posts whose file has no error (the second file of a duplicate slug has one)."""
        broken = {error.path for error in self.errors}
        return [post for post in self.posts if post.source.as_posix() not in broken]


@dataclass
class FileResult:
    """What parsing one file gave; cached as is. Problems are (line, message) pairs."""

    source: str
    digest: str
    post: Post | None = None
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_post(source: str, data: bytes, tz: tzinfo) -> FileResult:
    """Read and render one post; every problem found is in the result, nothing raises."""
    result = FileResult(source, digest(data))
    fields = frontmatter.read(source, data, tz)
    result.errors, result.warnings = fields.errors, fields.warnings
    left = foreign.leftovers(fields.body, fields.body_line)
    result.warnings += [f"{source}:{line}: {message}" for line, message in left]
    if fields.errors or fields.date is None:
        return result

    from publisher.content import markup  # lazy: with Markdown and Pygments, 22 ms to import

    try:
        rendered = _render(fields.body)
    except _Unrenderable as problem:
        result.errors.append((fields.body_line + problem.line - 1, problem.message))
        return result
    if not fields.draft:
        result.errors += untouched_placeholders(fields.body, fields.body_line)
    words = markup.count_words(rendered.html)
    summary = fields.summary or markup.first_paragraph(rendered.html)
    result.post = Post(
        source=Path(source),
        slug=fields.slug,
        title=fields.title,
        date=fields.date,
        tags=fields.tags,
        summary=summary,
        description=fields.description or summary,
        author=fields.author,
        image=fields.image,
        image_alt=fields.image_alt,
        draft=fields.draft,
        email=fields.email,
        aliases=fields.aliases,
        html=rendered.html,
        toc=rendered.toc,
        word_count=words,
        reading_time=max(1, round(words / WORDS_PER_MINUTE)),
        digest=result.digest,
        slug_line=fields.slug_line,
        email_at=fields.email_at,
        email_subject=fields.email_subject,
        email_preheader=fields.email_preheader,
        email_only=fields.email_only,
    )
    return result


class _Unrenderable(Exception):
    """A body that would cost too much to render; `line` counts from the body's first."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _render(body: str) -> Rendered:
    """The body as HTML, within the caps on nesting, time and size (docs/staff/writing.md):
    one hostile post must not stall a build or fill the cache."""
    from publisher.content import markup  # lazy, as in parse_post

    deep = markup.deep_nesting(body)
    if deep:
        line, depth = deep
        raise _Unrenderable(
            line,
            f"brackets [ ( nested {depth} deep; write at most {markup.MAX_NESTING} nested "
            "(Markdown slows down badly)",
        )
    try:
        with time_limit(RENDER_SECONDS):
            rendered = markup.render(body)
    except TimeoutError:
        markup.forget_converter()  # stopped halfway: its state is unknown
        raise _Unrenderable(
            1,
            f"the text took over {RENDER_SECONDS:g} s to turn into HTML; look for long runs "
            "of [ ( < * _ or ` and break them up",
        ) from None
    if len(rendered.html) > MAX_HTML_CHARS:
        raise _Unrenderable(
            1,
            f"the text turns into over {MAX_HTML_CHARS:,} characters of HTML; look for a link "
            "or footnote used many times",
        )
    return rendered


# --- Many files: processes, cross-file checks ---------------------------------


def _parse_many(items: list[tuple[str, bytes]], timezone: str) -> list[FileResult]:
    tz = ZoneInfo(timezone)
    return [parse_post(source, data, tz) for source, data in items]


def _parse_all(items: list[tuple[str, bytes]], timezone: str) -> list[FileResult]:
    """Parse in this process, or across all cores when there are many posts."""
    if len(items) <= PARALLEL_THRESHOLD:
        return _parse_many(items, timezone)
    return list(parallel.chunked_map(_parse_many, items, timezone))


POST_SUFFIXES = (".md", ".markdown", ".mkd")  # Jekyll, Hugo and Pelican write all three
BACKUP_SUFFIXES = ("~", ".bak", ".orig", ".swp", ".tmp")


@dataclass
class _Sources:
    """What `posts/` holds: (name relative to the site root, absolute path) of every post,
    a warning naming each file or folder skipped, and each link refused."""

    found: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[ContentError] = field(default_factory=list)


OUTSIDE = (
    "a symbolic link to something outside posts/; publisher does not follow it (it could "
    "publish any file on this machine): move the post itself into posts/"
)


def _sources(config: Config) -> _Sources:
    """Every post in `posts/`, in a stable order, and every file that is not one.

    Hidden files and folders, editor backups and other files are skipped, but never
    silently: a post saved as `.markdown` must not just vanish. A symbolic link out of
    `posts/` is refused (an error): a link to `config/dkim.pem` would publish the key.
    Plain strings and `os.walk`: pathlib costs more than reading the files on a large site.
    """
    prefix, sources = os.path.join(config.root, ""), _Sources()
    home = os.path.join(os.path.realpath(config.posts_dir), "")

    def relative(path: str) -> str:
        return path.removeprefix(prefix).replace(os.sep, "/")

    def linked_out(path: str) -> bool:
        outside = not os.path.realpath(path).startswith(home)
        if outside:
            sources.refused.append(ContentError(relative(path), 1, OUTSIDE))
        return outside

    for folder, dirs, files in os.walk(config.posts_dir):  # never enters a linked folder
        dirs.sort()
        for name in list(dirs):
            path = os.path.join(folder, name)
            if name.startswith(".") or (os.path.islink(path) and not linked_out(path)):
                why = "a hidden folder" if name.startswith(".") else "a link to a folder"
                sources.skipped.append(f"{relative(path)}/: skipped: {why}")
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(files):
            path = os.path.join(folder, name)
            reason = _skip_reason(name)
            if reason:
                sources.skipped.append(f"{relative(path)}: skipped: {reason}")
            elif not (os.path.islink(path) and linked_out(path)):
                sources.found.append((relative(path), path))
    sources.found.sort()
    sources.skipped.sort()
    return sources


def is_backup(name: str) -> bool:
    """An editor's backup or autosave: `a.md~`, `a.md.bak`, Emacs' `#a.md#`."""
    return name.endswith(BACKUP_SUFFIXES) or (name.startswith("#") and name.endswith("#"))


def _skip_reason(name: str) -> str:
    """Why a file in `posts/` is not a post, or "" when it is one."""
    if name.startswith("."):
        return "a hidden file"
    if is_backup(name):
        return "an editor backup"
    if not name.endswith(POST_SUFFIXES):
        return f"not a post (posts end in {', '.join(POST_SUFFIXES[:-1])} or {POST_SUFFIXES[-1]})"
    return ""


def _duplicate_slugs(results: Iterable[FileResult]) -> list[ContentError]:
    first: dict[str, FileResult] = {}
    errors = []
    for result in results:
        if result.post is None:
            continue
        slug = result.post.slug
        if slug in first:
            errors.append(
                ContentError(
                    result.source,
                    result.post.slug_line,
                    f"slug '{slug}' is also used by {first[slug].source}; "
                    f"add a different slug: line to one of them",
                )
            )
        else:
            first[slug] = result
    return errors


def scan(config: Config) -> Scan:
    """Read every post, from the cache when unchanged; collect all problems of all posts.

    A file whose stamp is the one it had when it was hashed is not even read; any other
    file is read, and its hash decides (see `cache`).
    """
    cache = PostCache(config)
    results: dict[str, FileResult] = {}
    pending: list[tuple[str, bytes]] = []
    stamps: dict[str, Stamp] = {}
    sources = _sources(config)
    for source, path in sources.found:
        info = os.stat(path)  # before reading: a later change gives a new stamp
        stamp = cache.stamp(info)
        if stamp:
            stamps[source] = stamp
        hit = cache.unread(source, info)
        if hit is None:
            with open(path, "rb") as file:
                data = file.read(yamlfront.MAX_POST_BYTES + 1)  # more is refused anyway
            hit = cache.matching(source, data)
            if hit is None:
                pending.append((source, data))
                continue
        results[source] = hit
    for result in _parse_all(pending, config.site.timezone):
        results[result.source] = result
    cache.save(results, (source for source, _ in pending), stamps)
    results = dict(sorted(results.items()))

    errors = [ContentError(r.source, line, msg) for r in results.values() for line, msg in r.errors]
    errors += _duplicate_slugs(results.values()) + sources.refused
    errors.sort(key=lambda e: (e.path, e.line))
    posts = [r.post for r in results.values() if r.post is not None]
    posts.sort(key=lambda p: (p.date, p.slug), reverse=True)
    warnings = sources.skipped + [w for r in results.values() for w in r.warnings]
    return Scan(posts, errors, warnings, parsed=len(pending), files=len(results))


def scan_logged(config: Config) -> Scan:
    """`scan`, with the warnings logged."""
    result = scan(config)
    for warning in result.warnings:
        log.warning(warning)
    return result


def load_posts(config: Config) -> list[Post]:
    """All posts (drafts and future ones too), newest first; ContentErrors if any is bad."""
    result = scan_logged(config)
    if result.errors:
        raise ContentErrors(result.errors)
    return result.posts


# --- A new post ----------------------------------------------------------------------

NEW_POST = """\
---
title: {title}
date: {date}
# While draft is true the post stays off the site and out of emails (preview it with
# `publisher build --drafts`). When it is ready, set draft: false: it goes live at the
# date above, so a date in the future queues it (and its email) until then.
draft: true
tags: []
# summary: one or two sentences for the index, feeds and emails (default: first paragraph)
# description: text for search engines (default: the summary)
# author: Your Name
# image: /static/images/picture.jpg  (a JPEG or PNG put in templates/site/static/images/)
# image_alt: what the picture shows, for readers who cannot see it
# email: false  # do not announce this post by email
---

Write the first paragraph here: readers see it on the index and in the email.

## A heading

More text.
"""


PLACEHOLDERS = ("Write the first paragraph here", "## A heading", "More text.")


def untouched_placeholders(body: str, first_line: int) -> list[tuple[int, str]]:
    """The lines of a post that still hold the example text `new` wrote: an error once
    the post is no longer a draft, so it never reaches the site or an inbox."""
    return [
        (first_line + n, f"still holds the example text {line.strip()[:40]!r}; write your own")
        for n, line in enumerate(body.splitlines())
        if line.strip().startswith(PLACEHOLDERS) and line.strip() in NEW_POST.splitlines()
    ]


def new_post(config: Config, title: str, moment: datetime | None = None) -> Path:
    """Create posts/<date>-<slug>.md with its front matter filled in; never overwrite,
    and never give a second post a slug one already has (on another date, a new file)."""
    slug = frontmatter.slugify(title)
    if not slug:
        raise PublisherError(f"cannot make a file name from {title!r}; use a title with words")
    local = config.local(moment or config.now).replace(second=0, microsecond=0)
    path = config.posts_dir / f"{local:%Y-%m-%d}-{slug}.md"
    owners = [p.source for p in scan(config).posts if p.slug == slug]
    if owners and config.root / owners[0] != path:
        raise PublisherError(
            f"{owners[0].as_posix()} already has the slug {slug!r} (its web address); "
            "edit that post, or choose another title"
        )
    text = NEW_POST.format(title=_quoted(title), date=f"{local:%Y-%m-%d %H:%M}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise PublisherError(
            f"{path.relative_to(config.root)} already exists; choose another title or --date"
        ) from None
    return path


def _quoted(text: str) -> str:
    """A YAML double-quoted string (JSON's syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)
