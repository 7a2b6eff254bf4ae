"""Pelican: Markdown articles anywhere under `content/` (`.md`, `.markdown`, `.mkd`) with
metadata lines (`Title: ...` up to the first blank line), pages under `content/pages/`.

`Status: draft` (and `hidden`) become drafts; the category (written, or the article's
folder) becomes a tag. The old address is the article's `URL:`, else `ARTICLE_URL` read
from `pelicanconf.py` (a plain string only: the file is Python and is never run), else
Pelican's default `{slug}.html`. reStructuredText articles are reported, not converted.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from publisher.config import Config
from publisher.content.frontmatter import slugify
from publisher.errors import PublisherError
from publisher.importers import addresses, body, media, reading, tree
from publisher.importers.model import Harvest, ImportedPost

DEFAULT_URL = "{slug}.html"
_SETTING = re.compile(
    r"""^(\w+)\s*=\s*(?:[uUrR]?'([^'\n]*)'|[uUrR]?"([^"\n]*)"|None)\s*(?:#.*)?$""", re.MULTILINE
)
FEEDS = {"FEED_ALL_ATOM": "feeds/all.atom.xml", "FEED_ALL_RSS": "", "FEED_ATOM": "", "FEED_RSS": ""}
_FILE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_USED = {"title", "date", "tags", "category", "slug", "author", "authors", "summary"}
_USED |= {"status", "url", "save_as", "image", "description", "modified"}


def harvest(src: Path, config: Config) -> Harvest:
    """Every article of the Pelican site at `src` (the folder holding pelicanconf.py)."""
    found = Harvest(src)
    settings = _settings(found)
    content = tree.folder(src, settings.get("PATH", "content"))
    if not content.is_dir():
        raise PublisherError(f"{src}: no content folder; give the folder of a Pelican site")
    pages = content / settings.get("PAGE_PATHS", "pages")
    site = urlsplit(settings.get("SITEURL", ""))
    files = media.Media(found, media.Layout((content,), media.hosts(site.geturl()), site.path))
    for path in tree.files(found, content):
        if path.is_relative_to(pages):
            found.skip(path, "a page, not an article")
        else:
            _one(path, content, settings, config, files)
    found.feeds = [settings.get(key, path) for key, path in FEEDS.items()]
    found.feeds = [path for path in found.feeds if path]  # None in the settings: no feed
    return found


def _settings(found: Harvest) -> dict[str, str]:
    """The plain string settings (None as "") of pelicanconf.py, then publishconf.py (the
    published site's, which wins), read as text."""
    settings = {}
    for name in ("pelicanconf.py", "publishconf.py"):
        text = tree.settings_text(found, name) or ""
        settings |= {m.group(1): m.group(2) or m.group(3) or "" for m in _SETTING.finditer(text)}
    return settings


def _one(
    path: Path, content: Path, settings: dict[str, str], config: Config, files: media.Media
) -> None:
    found = files.found
    front = reading.open_post(path, found, metadata=True)
    if front is None:
        return
    named = _FILE_DATE.match(path.stem)  # Pelican's default FILENAME_METADATA: a date
    moment = reading.date_of(front, path, found, "date", fallback=named and named.group(0))
    folder = path.parent.relative_to(content).parts
    category = reading.text(front.get("category")) or (folder[0] if folder else "")
    if category:
        found.notes["the category became a tag (publisher has tags only)"] += 1
    status = reading.text(front.get("status")).lower()
    if status == "hidden":
        found.fix(
            path,
            front.line("status"),
            "Status: hidden: imported as a draft "
            "(publisher has no hidden posts); remove draft: true to publish it",
        )
    title = reading.text(front.get("title"))
    if not title:
        found.fix(path, 1, "no Title: line; the title was made from the file name")
    post = ImportedPost(
        origin=path,
        title=title or reading.titled(path.stem),
        date=moment,
        slug=reading.text(front.get("slug")) or slugify(title or path.stem),
        body=body.convert(front.body, front.body_line, path, body.PELICAN, files),
        tags=reading.words(front.get("tags")) + ([category] if category else []),
        summary=_plain(reading.text(front.get("summary"))),
        description=reading.text(front.get("description")),
        author=reading.text(front.get("author", "authors")),
        image=files.image(reading.picture(front.get("image")), path, front.line("image")),
        draft=status in ("draft", "hidden"),
    )
    old = _old_address(front, post, category, settings, config)
    if old is None and moment is not None:  # without a date, that is the thing to fix
        found.fix(
            path,
            1,
            "cannot work out the old address from ARTICLE_URL; add it by hand "
            "as aliases: [/old/address.html]",
        )
    post.aliases = [old] if old else []
    reading.note_unused(front, _USED, found)
    found.posts.append(post)


def _plain(text: str) -> str:
    """Pelican's summary may hold Markdown or HTML; ours is plain text."""
    if not text:
        return ""
    from publisher.content import markup  # lazy: Markdown, only for a written summary

    return markup.plain_text(markup.render(text).html)


def _old_address(
    front: reading.Front,
    post: ImportedPost,
    category: str,
    settings: dict[str, str],
    config: Config,
) -> str | None:
    """The address Pelican gave the article; None when it cannot be known."""
    if front.get("url"):
        return "/" + reading.text(front.get("url")).lstrip("/")
    moment = post.date
    if moment is None:
        return None
    moment = addresses.local(moment, addresses.zone(settings.get("TIMEZONE"), config))
    pattern = settings.get("ARTICLE_URL", DEFAULT_URL)
    try:
        address = pattern.format(
            slug=slugify(post.slug),
            date=moment,
            category=slugify(category or settings.get("DEFAULT_CATEGORY", "misc")),
            author=slugify(post.author),
            lang=settings.get("DEFAULT_LANG", "en"),
        )
    except (KeyError, IndexError, ValueError, AttributeError):
        return None
    return "/" + address.lstrip("/")
