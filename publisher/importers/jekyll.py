"""Jekyll: `_posts/YYYY-MM-DD-title.md` (in any folder; the folders above are categories)
and `_drafts/`, YAML front matter, Liquid in the body.

The date comes from the front matter, else the file name; the slug from the file name.
`published: false` and `_drafts/` become drafts. The old address is the post's
`permalink:`, else the site's `permalink` from `_config.yml` (a style name or a pattern;
Jekyll's default is `date`: `/:categories/:year/:month/:day/:title.html`), plus any
`redirect_from:` (the jekyll-redirect-from plugin).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from publisher.config import Config
from publisher.content.frontmatter import slugify
from publisher.errors import PublisherError
from publisher.importers import addresses, body, media, reading, tree
from publisher.importers.model import Harvest, ImportedPost

STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_NAME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-(.+)$")
_POST_LINK = re.compile(
    r"\{%-?\s*(?:post_url\s+([\w./-]+)|link\s+([\w./-]*_posts/[\w./-]+))\s*-?%\}"
)
_USED = {"title", "date", "tags", "categories", "category", "published", "permalink", "slug"}
_USED |= {"excerpt", "description", "image", "author", "redirect_from", "excerpt_separator"}


def harvest(src: Path, config: Config) -> Harvest:
    """Every post and draft of the Jekyll site at `src`."""
    folders = sorted(p for p in src.rglob("_posts") if p.is_dir() and "_site" not in p.parts)
    drafts = src / "_drafts"
    if not folders and not drafts.is_dir():
        raise PublisherError(f"{src}: no _posts folder; give the folder of a Jekyll site")
    found = Harvest(src)
    settings = _settings(found)
    opened: list[_Opened] = []
    for folder in folders:
        categories = [p for p in folder.parent.relative_to(src).parts if p]
        opened += [_open(path, categories, False, found) for path in tree.files(found, folder)]
    for path in tree.files(found, drafts) if drafts.is_dir() else []:
        opened.append(_open(path, [], True, found))
    posts = [post for post in opened if post is not None]
    slugs = {post.path.stem: slugify(_slug(post)) for post in posts}
    layout = media.Layout(
        (src,), media.hosts(settings.get("url")), str(settings.get("baseurl") or "")
    )
    for post in posts:
        _one(post, settings, slugs, config, media.Media(found, layout))
    found.feeds = _feeds(found, settings)
    return found


def _feeds(found: Harvest, settings: dict[str, Any]) -> list[str]:
    """Where the old feed was: jekyll-feed's `feed: path:` (feed.xml unless set), and any
    feed template at the top of the site (atom.xml, rss.xml)."""
    plugins = reading.words(settings.get("plugins"), None) + reading.words(
        settings.get("gems"), None
    )
    feed = settings.get("feed")
    paths = []
    if "jekyll-feed" in plugins or isinstance(feed, dict):
        paths.append(
            str(feed.get("path") if isinstance(feed, dict) and feed.get("path") else "feed.xml")
        )
    for path in sorted(found.src.glob("*.xml")):
        text = tree.settings_text(found, path.name) or ""
        if text.startswith("---") and ("<feed" in text or "<rss" in text):
            paths.append(path.name)
    return paths


@dataclass(frozen=True)
class _Opened:
    """A post file that could be read, before it is converted."""

    path: Path
    front: reading.Front
    categories: list[str]
    draft: bool  # in _drafts/
    named: re.Match[str] | None  # YYYY-MM-DD-title


def _open(path: Path, categories: list[str], draft: bool, found: Harvest) -> _Opened | None:
    named = _NAME.match(path.stem)
    if not named and not draft and not reading.skip_reason(path):
        found.skip(path, "not named YYYY-MM-DD-title (Jekyll leaves it out too)")
        return None
    front = reading.open_post(path, found)
    return _Opened(path, front, categories, draft, named) if front else None


def _slug(post: _Opened) -> str:
    """The post's `slug:`, else its file name's words (what `:title` is made of)."""
    words = post.named.group(4) if post.named else post.path.stem
    return reading.text(post.front.get("slug")) or words


def _post_links(text: str, slugs: dict[str, str]) -> str:
    """`{% post_url 2019-05-01-title %}` and `{% link _posts/2019-05-01-title.md %}` to a
    post of this import become its new address; others stay (and are reported)."""

    def address(match: re.Match[str]) -> str:
        name = match.group(1) or Path(match.group(2)).stem  # post_url has no extension
        slug = slugs.get(name.rpartition("/")[2])
        return f"/posts/{slug}/" if slug else match.group(0)

    return _POST_LINK.sub(address, text)


def _settings(found: Harvest) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(tree.settings_text(found, "_config.yml") or "")
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _one(
    opened: _Opened,
    settings: dict[str, Any],
    slugs: dict[str, str],
    config: Config,
    files: media.Media,
) -> None:
    found = files.found
    path, front, named, draft = opened.path, opened.front, opened.named, opened.draft
    slug_words = named.group(4) if named else path.stem
    named_date = date(*(int(part) for part in named.groups()[:3])) if named else None
    moment = reading.date_of(front, path, found, "date", fallback=named_date)
    categories = opened.categories + reading.words(front.get("categories", "category"), None)
    if front.get("categories", "category"):
        found.notes["categories became tags (publisher has tags only)"] += 1
    text = _post_links(front.body, slugs)
    text = body.convert(text, front.body_line, path, body.LIQUID, files)
    separator = str(front.get("excerpt_separator") or settings.get("excerpt_separator") or "")
    summary = reading.text(front.get("excerpt"))
    if separator.strip():  # Jekyll's default, a blank line, is our first paragraph
        text, before = body.excerpt(text, re.compile(re.escape(separator)))
        summary = summary or before
    post = ImportedPost(
        origin=path,
        title=reading.text(front.get("title")) or reading.titled(slug_words),
        date=moment,
        slug=_slug(opened),
        body=text,
        tags=reading.words(front.get("tags"), None) + categories,
        summary=summary,
        description=reading.text(front.get("description")),
        author=reading.text(front.get("author")),
        image=files.image(reading.picture(front.get("image")), path, front.line("image")),
        draft=draft or reading.flag(front.values.get("published")) is False,
    )
    pattern = front.get("permalink") or _site_permalink(settings)
    # A draft never had an address; its `redirect_from:` is still kept.
    old = None if post.draft else _old_address(str(pattern), post, categories, settings, config)
    if old is None and not post.draft:
        found.fix(
            path,
            front.line("permalink"),
            "cannot work out the old address from the "
            "permalink; add it by hand as aliases: [/old/address/]",
        )
    post.aliases = [a for a in [old, *reading.words(front.get("redirect_from"))] if a]
    reading.note_unused(front, _USED, found)
    found.posts.append(post)


def _site_permalink(settings: dict[str, Any]) -> str:
    """The posts' permalink in _config.yml: the posts collection's, a front matter default
    for posts, the site's, else Jekyll's default style `date`."""
    collections = settings.get("collections")
    collection = collections.get("posts") if isinstance(collections, dict) else None
    if isinstance(collection, dict) and collection.get("permalink"):
        return str(collection["permalink"])
    for default in settings.get("defaults") or []:
        if not isinstance(default, dict):
            continue
        scope, values = default.get("scope") or {}, default.get("values") or {}
        posts = scope.get("type") == "posts" or str(scope.get("path", "")).strip("/") == "_posts"
        if posts and values.get("permalink"):
            return str(values["permalink"])
    return str(settings.get("permalink") or "date")


def _old_address(
    pattern: str,
    post: ImportedPost,
    categories: list[str],
    settings: dict[str, Any],
    config: Config,
) -> str | None:
    """The address Jekyll gave the post; None when the pattern uses what we cannot know.

    `:title` is the slug as written (the file name's words, case kept), `:slug` its
    lowercase form, `:categories` the categories lowercased, joined by /.
    """
    pattern = STYLES.get(pattern, pattern)
    if post.date is None:
        return None
    where = addresses.zone(settings.get("timezone"), config)
    values = addresses.date_values(post.date, where) | {
        "title": post.slug,
        "slug": slugify(post.slug),
        "name": post.slug,
        "categories": "/".join(dict.fromkeys(c.lower() for c in categories)),
        "output_ext": ".html",
    }
    return addresses.expand(pattern, values)
