"""Redirect pages: an old address keeps answering, and sends the reader to the page it became.

A static site cannot answer with an HTTP 301, so each old path becomes a small HTML file
with a meta refresh, a canonical link (search engines move their index to the target), a
plain link for anyone whose browser does not follow the refresh, and `noindex`. A path
ending in `.html` is written as that file (`2019/05/01/old.html`), any other as
`<path>/index.html`. Posts ask for them with `aliases:` (an imported blog's old URLs); any
other old address (a renamed slug) can be handed over as a `Redirect` too.

Every redirect is checked before anything is written: it must stay inside the output
folder and must not take the file (or the folder) of a real page, a feed or a static file,
nor another redirect's; each problem names the post's file and line.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

import jinja2

from publisher.config import Config
from publisher.content.frontmatter import old_path
from publisher.errors import ContentError
from publisher.site import feeds, theme
from publisher.site.pages import Entry, Page

FIXED_FILES = ("feed.xml", "rss.xml", "sitemap.xml", "robots.txt")  # written by every build


@dataclass(frozen=True)
class Redirect:
    """One old address: the file answering it, the page it sends to, who asked for it."""

    path: str  # the old path as written, site-relative: "2019/05/01/old.html", "old/"
    target: str  # site-relative URL of the page, e.g. "posts/old/"
    title: str  # the page's title, for the link
    source: str  # the file that asked for it (posts/a.md), for messages
    line: int

    @property
    def file(self) -> str:
        return self.path if self.path.endswith(".html") else self.path.rstrip("/") + "/index.html"


def post_redirects(entries: Iterable[Entry]) -> list[Redirect]:
    """The redirects the posts of this build ask for with `aliases:`."""
    return [
        Redirect(alias.path, entry.url, entry.post.title, entry.post.source.as_posix(), alias.line)
        for entry in entries
        for alias in entry.post.aliases
    ]


def site_files(config: Config, pages: Iterable[Page]) -> set[str]:
    """Every file a build writes besides redirects: pages, feeds and static files."""
    static = (path for _, path in theme.static_files(config))
    fixed = {*FIXED_FILES, *feeds.old_feed_files(config)}
    return {page.file for page in pages} | fixed | set(static)


def problems(redirects: Iterable[Redirect], taken: set[str]) -> list[ContentError]:
    """One error per redirect that leaves the output folder or takes a file (or a folder)
    that a page, a feed, a static file or an earlier redirect needs."""
    folders = {parent for file in taken for parent in _parents(file)}
    owners: dict[str, Redirect] = {}
    errors = []
    for redirect in redirects:
        message = _problem(redirect, taken, folders, owners)
        if message:
            errors.append(ContentError(redirect.source, redirect.line, message))
            continue
        owners[redirect.file] = redirect
        folders.update(_parents(redirect.file))
    return errors


def _problem(
    redirect: Redirect, taken: set[str], folders: set[str], owners: dict[str, Redirect]
) -> str:
    where = f"aliases: /{redirect.path}"
    try:
        inside = old_path(redirect.path) == redirect.path
    except ValueError as exc:
        return f"{where} {exc}"
    file = redirect.file
    if not inside or posixpath.normpath(file) != file or file.startswith(("/", "..")):
        return f"{where} leaves the site's folder; write a path such as /2019/05/old-post.html"
    if file in taken or file in folders or any(p in taken for p in _parents(file)):
        return f"{where} is a page of this site ({file}); remove it from aliases"
    if file in owners or any(p in owners for p in _parents(file)):
        other = owners.get(file) or next(owners[p] for p in _parents(file) if p in owners)
        return f"{where} is also an old address of {other.source}; keep it in one post only"
    return ""


def _parents(file: str) -> list[str]:
    """The folders above `file`: 'a/b/c.html' -> ['a', 'a/b']."""
    parts = file.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def render(env: jinja2.Environment, redirect: Redirect) -> str:
    """The redirect page (the theme's `redirect.html`)."""
    return theme.render(
        env, "redirect.html", page_url=redirect.path, target=redirect.target, title=redirect.title
    )
