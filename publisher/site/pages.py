"""The pages of the site, planned before anything is rendered: each page's file, its
template and the data it shows.

A post becomes an `Entry` (its URL, status and tag pages); entries become the index pages,
one page per post (with its related posts), one per tag, and the archive by month.
"""

from __future__ import annotations

import dataclasses
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from publisher.config import Config
from publisher.content.posts import Post
from publisher.site.tags import Tag, make_tags

RELATED_POSTS = 3


@dataclass(frozen=True)
class Entry:
    """A post as the site shows it: where it lives, whether it is out, its tag pages.

    Attributes the entry lacks (title, date, html, ...) are the post's.
    """

    post: Post
    url: str  # site-relative, e.g. "posts/sleep/"
    status: str  # "live", "draft" or "scheduled"
    tags: tuple[Tag, ...]
    key: str  # what the post holds (its file, the file's hash), its status and tag names

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.post, name)


# The post's fields as properties too: templates read them tens of thousands of times on a
# large site, and __getattr__ is only reached after a failed lookup, the slowest path.
for _field in dataclasses.fields(Post):
    if _field.name not in Entry.__dataclass_fields__:
        setattr(Entry, _field.name, property(operator.attrgetter(f"post.{_field.name}")))


@dataclass(frozen=True)
class Pagination:
    number: int
    count: int
    newer_url: str | None
    older_url: str | None


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    entries: tuple[Entry, ...]

    @property
    def url(self) -> str:
        return f"archive/{self.year}/{self.month:02d}/"

    @property
    def label(self) -> str:
        return datetime(self.year, self.month, 1).strftime("%B %Y")


@dataclass(frozen=True)
class Page:
    """One HTML file of the site and everything its template shows."""

    url: str  # site-relative URL ("" for the home page)
    template: str
    context: dict[str, Any]
    path: str = ""  # output file; default <url>index.html

    @property
    def file(self) -> str:
        return self.path or f"{self.url}index.html"


def make_entries(config: Config, posts: Iterable[Post], drafts: bool, future: bool) -> list[Entry]:
    """The posts this build shows, newest first, with their URLs, status and tags. A
    letter (`email_only`) is not among them: no page, no feed entry, no tag page (the
    newsletter archive shows it once it is sent).

    Tags that differ only in case or punctuation ("Sleep", "sleep") share one page, named
    after the first spelling in alphabetical order.
    """
    shown = []
    for post in (p for p in posts if not p.email_only):
        status = "live" if post.is_live(config.now) else "draft" if post.draft else "scheduled"
        if status == "live" or (status == "draft" and drafts) or (status == "scheduled" and future):
            shown.append((post, status))
    tag = make_tags(name for post, _ in shown for name in post.tags)
    entries = []
    for post, status in shown:
        tags = tuple(dict.fromkeys(tag[name] for name in post.tags))
        # The tag names come from all posts' spellings, so they are not in the post's hash.
        names = ",".join(tag.name for tag in tags)
        key = f"{post.source.as_posix()}:{post.digest}:{status}:{names}"
        entries.append(Entry(post, f"posts/{post.slug}/", status, tags, key))
    entries.sort(key=lambda e: e.post.slug)
    entries.sort(key=lambda e: e.post.date, reverse=True)
    return entries


def plan_pages(config: Config, entries: list[Entry]) -> list[Page]:
    """Every HTML page of the site, in a fixed order."""
    return [
        *index_pages(entries, config.site.posts_per_page),
        *post_pages(entries),
        *tag_pages(entries),
        *archive_pages(config, entries),
        Page("", "404.html", {}, path="404.html"),
    ]


def index_pages(entries: list[Entry], per_page: int) -> list[Page]:
    chunks = [entries[i : i + per_page] for i in range(0, len(entries), per_page)] or [[]]
    pages = []
    for number, chunk in enumerate(chunks, 1):
        pagination = Pagination(
            number=number,
            count=len(chunks),
            newer_url=index_url(number - 1) if number > 1 else None,
            older_url=index_url(number + 1) if number < len(chunks) else None,
        )
        pages.append(
            Page(index_url(number), "index.html", {"entries": chunk, "pagination": pagination})
        )
    return pages


def index_url(number: int) -> str:
    return "" if number == 1 else f"page/{number}/"


def post_pages(entries: list[Entry]) -> list[Page]:
    related = related_entries(entries, RELATED_POSTS)
    pages = []
    for i, entry in enumerate(entries):
        context = {
            "entry": entry,
            "newer": entries[i - 1] if i > 0 else None,
            "older": entries[i + 1] if i + 1 < len(entries) else None,
            "related": related[i],
        }
        pages.append(Page(entry.url, "post.html", context))
    return pages


def related_entries(entries: list[Entry], limit: int) -> list[list[Entry]]:
    """For each entry, up to `limit` others sharing the most tags; newer first among equals.

    Each tag is a bit mask over the entries (bit i = entries[i]), so "shares at least n of
    my tags" is a few big-integer operations per entry instead of a loop over all others.
    """
    masks: dict[str, int] = defaultdict(int)
    for i, entry in enumerate(entries):
        for tag in entry.tags:
            masks[tag.slug] |= 1 << i
    related = []
    for i, entry in enumerate(entries):
        # [n]: the other entries sharing at least n tags; each is a subset of the one before.
        at_least = [~(1 << i)] + [0] * (len(entry.tags) + 1)
        for tag in entry.tags:
            for n in range(len(entry.tags), 0, -1):
                at_least[n] |= at_least[n - 1] & masks[tag.slug]
        chosen: list[Entry] = []
        for n in range(len(entry.tags), 0, -1):
            exactly = at_least[n] ^ at_least[n + 1]
            while exactly and len(chosen) < limit:
                lowest = exactly & -exactly
                chosen.append(entries[lowest.bit_length() - 1])
                exactly ^= lowest
        related.append(chosen)
    return related


def tag_pages(entries: list[Entry]) -> list[Page]:
    by_tag: dict[Tag, list[Entry]] = defaultdict(list)
    for entry in entries:
        for tag in entry.tags:
            by_tag[tag].append(entry)
    tags = sorted(by_tag, key=lambda t: (t.slug, t.name))
    counts = [(tag, len(by_tag[tag])) for tag in tags]
    return [
        Page("tags/", "tags.html", {"tags": counts}),
        *(
            Page(tag.url, "tag.html", {"tag": tag, "entries": by_tag[tag]}, path=tag.file)
            for tag in tags
        ),
    ]


def archive_pages(config: Config, entries: list[Entry]) -> list[Page]:
    """/archive/ with every month, and one page per month; months in the site's time zone."""
    by_month: dict[tuple[int, int], list[Entry]] = defaultdict(list)
    for entry in entries:
        local = config.local(entry.post.date)
        by_month[(local.year, local.month)].append(entry)
    months = [Month(y, m, tuple(by_month[(y, m)])) for y, m in sorted(by_month, reverse=True)]
    return [
        Page("archive/", "archive.html", {"months": months, "month": None}),
        *(Page(m.url, "archive.html", {"months": [m], "month": m}) for m in months),
    ]


def sitemap_urls(pages: list[Page]) -> list[tuple[str, datetime | None]]:
    """(URL, last modified) of the published pages worth indexing: no previews, no 404."""
    urls = []
    for page in pages:
        newest = next((e.post.date for e in page_entries(page) if e.status == "live"), None)
        if page.template == "404.html" or (page.template == "post.html" and newest is None):
            continue
        urls.append((page.url, newest))
    return urls


def page_entries(page: Page) -> Iterable[Entry]:
    """The entries a page shows, newest first."""
    context = page.context
    if "entry" in context:
        return [context["entry"]]
    if "months" in context:
        return (e for month in context["months"] for e in month.entries)
    return context.get("entries", [])
