"""Machine-read files of the site: Atom and RSS feeds, sitemap.xml, robots.txt.

Feeds carry the full post with every link made absolute (a feed reader has no base URL).
Nothing here reads the clock: a feed's `updated` is its newest post's date, so two builds
of the same posts are byte-identical.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Protocol
from urllib.parse import urljoin

from publisher.config import Config
from publisher.site.theme import absolute_url

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # `updated` of a feed with no posts yet
LINK_ATTRIBUTE = re.compile(r'(\s(?:href|src)=")([^"]*)(")')


class FeedPost(Protocol):
    """What a feed needs of a post (the site's `Entry`)."""

    url: str
    title: str
    date: datetime
    summary: str
    html: str
    author: str
    tags: Sequence


@functools.cache
def _feed_class(kind: str) -> type:
    """feedgenerator's Atom or RSS feed, dated by its newest post: an empty feed is dated
    1970, not "now".

    Imported here rather than at the top: feedgenerator brings urllib.request and
    http.client, about 10 ms that a build reusing its feeds does not need.
    """
    import feedgenerator

    base = feedgenerator.Atom1Feed if kind == "atom" else feedgenerator.Rss201rev2Feed

    class Feed(base):  # type: ignore[misc,valid-type]
        def latest_post_date(self) -> datetime:
            return max((item["pubdate"] for item in self.items), default=EPOCH)

    return Feed


def absolute_links(html: str, base: str) -> str:
    """`html` with every href and src resolved against `base` (the page's absolute URL)."""
    return LINK_ATTRIBUTE.sub(lambda m: m[1] + urljoin(base, m[2]) + m[3], html)


def _feed(kind: str, config: Config, path: str, posts: Iterable[FeedPost]) -> str:
    site = config.site
    feed = _feed_class(kind)(
        title=site.title,
        link=absolute_url(site.url, ""),
        description=site.description,
        language=site.language,
        feed_url=absolute_url(site.url, path),
        feed_guid=absolute_url(site.url, path),
        author_name=site.title,
    )
    for post in posts:
        link = absolute_url(site.url, post.url)
        html = absolute_links(post.html, link)
        feed.add_item(
            title=post.title,
            link=link,
            unique_id=link,
            pubdate=post.date,
            author_name=post.author or None,
            categories=[tag.name for tag in post.tags],
            description=post.summary if kind == "atom" else html,
            content=html if kind == "atom" else None,
        )
    out = io.StringIO()
    feed.write(out, "utf-8")
    return out.getvalue() + "\n"


def atom(config: Config, posts: Iterable[FeedPost]) -> str:
    """feed.xml: Atom 1.0 with each post's full content."""
    return _feed("atom", config, "feed.xml", posts)


def rss(config: Config, posts: Iterable[FeedPost]) -> str:
    """rss.xml: RSS 2.0, each item's description holding the full post."""
    return _feed("rss", config, "rss.xml", posts)


def old_feeds(config: Config) -> list[tuple[str, Callable[[Config, Iterable[FeedPost]], str]]]:
    """(file, maker) of the feed at each of `[site] old_feeds`, the addresses the blog's
    feed had before it moved (a redirect page does not move a feed reader): RSS where the
    name says rss or is Hugo's index.xml, Atom elsewhere. Their content is the site's own
    feed's, which names its new address."""
    return [
        (path, rss if "rss" in path.rpartition("/")[2] or path.endswith("index.xml") else atom)
        for path in old_feed_files(config)
        if path not in ("feed.xml", "rss.xml")
    ]


def old_feed_files(config: Config) -> tuple[str, ...]:
    """`[site] old_feeds` as site-relative files: ('atom.xml', 'feeds/all.atom.xml')."""
    paths = (path.strip().strip("/") for path in config.site.old_feeds.split(","))
    return tuple(path for path in paths if path)


NEWSLETTER_FEED = "newsletter/feed.xml"


def newsletter_atom(config: Config, issues: Iterable[FeedPost]) -> str:
    """newsletter/feed.xml: Atom 1.0 of the newsletter's archive, each issue's page."""
    return _feed("atom", config, NEWSLETTER_FEED, issues)


def sitemap(config: Config, urls: Iterable[tuple[str, datetime | None]]) -> str:
    """sitemap.xml from (site-relative URL such as "posts/x/", last modified or None)."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    base = absolute_url(config.site.url, "")
    for url, modified in urls:
        lastmod = (
            f"<lastmod>{modified.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}</lastmod>" if modified else ""
        )
        lines.append(f"<url><loc>{escape(base + url, quote=False)}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots(config: Config) -> str:
    return f"User-agent: *\nAllow: /\n\nSitemap: {absolute_url(config.site.url, 'sitemap.xml')}\n"
