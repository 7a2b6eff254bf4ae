"""Hugo: `content/<section>/...` (a file, or a page bundle `name/index.md`), TOML (`+++`)
or YAML (`---`) front matter, shortcodes in the body.

`draft = true` stays a draft; `<!--more-->` becomes the summary; `ref` and `relref` to a
page of the import become its new address (so every page is opened before any is
converted). The new slug is `slug`, else the file name; a date in front of the file name
(`2016-01-02-title.md`, or `2016-01-title.md`) is left out of the slug, and a whole date
is the post's date when it has none.
The old address is the
post's `url`, else the site's `[permalinks]` pattern for its section (`hugo.toml` or
`config.toml`/`.yaml`), else Hugo's default `/<section>/<slug or file name>/`, lowercased
as Hugo does; `aliases` are kept (relative ones are under the section, as in Hugo).
Categories, series and the site's own `[taxonomies]` (`topics = [...]`) become tags.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from publisher.config import Config
from publisher.content.frontmatter import slugify
from publisher.errors import PublisherError
from publisher.importers import addresses, body, media, reading, tree
from publisher.importers.model import Harvest, ImportedPost

_DATED = re.compile(r"^(\d{4}-\d{2}(?:-\d{2})?)[-_](.+)$")  # 2016-01-02-title, 2016-01-title
_REF = re.compile(r"""\{\{[<%]\s*(?:rel)?ref\s+"([^"#]*)(#[^"]*)?"\s*[%>]\}\}""")
CONFIG_FILES = ("hugo.toml", "config.toml", "hugo.yaml", "config.yaml", "hugo.yml", "config.yml")
_USED = {"title", "date", "publishdate", "draft", "tags", "categories", "series", "slug"}
_USED |= {"url", "aliases", "summary", "description", "images", "image", "author", "authors"}
_USED |= {"featured_image", "lastmod"}
_IMAGE_KEYS = ("images", "image", "featured_image")


def harvest(src: Path, config: Config) -> Harvest:
    """Every page in a section of the Hugo site at `src`."""
    content = tree.folder(src, "content")
    if not content.is_dir():
        raise PublisherError(f"{src}: no content folder; give the folder of a Hugo site")
    found = Harvest(src)
    settings = _settings(found)
    opened: list[tuple[Path, tuple[str, ...], reading.Front]] = []
    for path in tree.files(found, content):
        parts = path.relative_to(content).parts
        bundle = _bundle_of(path, content)
        if bundle and bundle != path:
            found.skip(path, reading.UNUSED)
        elif len(parts) < (3 if bundle else 2):
            found.skip(path, "a page outside any section, not a post")
        elif path.stem.partition(".")[0] == "_index":  # _index.md, _index.fr.md
            found.skip(path, "a section's list page, not a post")
        else:
            front = reading.open_post(path, found)
            opened += [(path, parts, front)] if front else []
    slugs: dict[str, str] = {}
    for path, parts, front in opened:
        slug = slugify(_slug(front, _name(path)))
        slugs[_page_key("/".join(parts))] = slugs[_name(path)] = slug
    base = urlsplit(str(settings.get("baseURL") or settings.get("baseurl") or ""))
    layout = media.Layout((src / "static", content), media.hosts(base.geturl()), base.path)
    for path, parts, front in opened:
        _one(path, parts, front, settings, slugs, config, media.Media(found, layout))
    kinds = [str(kind).lower() for kind in reading.words(settings.get("disableKinds"))]
    sections = sorted({parts[0] for _, parts, _ in opened})
    # Hugo's RSS: the home page's and each section's, unless the site turned RSS off
    found.feeds = [] if "rss" in kinds else ["index.xml", *(f"{s}/index.xml" for s in sections)]
    return found


def _name(path: Path) -> str:
    """A page's file name, or its bundle's folder name."""
    return path.parent.name if path.stem == "index" else path.stem


def _slug(front: reading.Front, name: str) -> str:
    """The new slug: `slug:`, else the file name without a date in front (the post's file
    gets the date anyway: 2016-01-02-2016-01-02-a.md would say it twice)."""
    dated = _DATED.match(name)
    return reading.text(front.get("slug")) or (dated.group(2) if dated else name)


def _page_key(reference: str) -> str:
    """A page path as `ref` names it: 'posts/a.md', '/posts/a/', 'posts/b/index.md' ->
    'posts/a', 'posts/b'."""
    key = reference.strip().strip("/")
    for suffix in reading.MARKDOWN_SUFFIXES:
        key = key.removesuffix(suffix)
    return key.removesuffix("/index").removesuffix("/_index")


def _refs(text: str, slugs: dict[str, str]) -> str:
    """`{{< ref "posts/a.md" >}}` and `relref` to a page of this import become its new
    address; others stay (and are reported)."""

    def address(match: re.Match[str]) -> str:
        key = _page_key(match.group(1))
        slug = slugs.get(key) or slugs.get(key.rpartition("/")[2])
        return f"/posts/{slug}/{match.group(2) or ''}" if slug else match.group(0)

    return _REF.sub(address, text)


def _bundle_of(path: Path, content: Path) -> Path | None:
    """The `index.md` of the page bundle holding `path` (itself when it is one), or None."""
    for folder in path.relative_to(content).parents:
        for name in ("index.md", "index.markdown"):
            index = content / folder / name
            if folder != Path(".") and index.is_file():
                return index
    return None


def _settings(found: Harvest) -> dict[str, Any]:
    for name in CONFIG_FILES:
        if os.path.lexists(found.src / name):
            text = tree.settings_text(found, name) or ""
            try:
                loaded = tomllib.loads(text) if name.endswith(".toml") else yaml.safe_load(text)
            except (tomllib.TOMLDecodeError, yaml.YAMLError):
                return {}
            return loaded if isinstance(loaded, dict) else {}
    return {}


def _one(
    path: Path,
    parts: tuple[str, ...],
    front: reading.Front,
    settings: dict[str, Any],
    slugs: dict[str, str],
    config: Config,
    files: media.Media,
) -> None:
    found = files.found
    bundle = path.stem == "index"
    name = _name(path)
    dated = _DATED.match(name)
    day = dated.group(1) if dated and len(dated.group(1)) == len("2016-01-02") else None
    moment = reading.date_of(front, path, found, "date", "publishdate", fallback=day)
    title = reading.text(front.get("title")) or reading.titled(name)
    text, before = body.excerpt(
        body.convert(_refs(front.body, slugs), front.body_line, path, body.SHORTCODES, files),
        body.MORE,
    )
    if before and not front.get("summary"):
        found.notes["<!--more--> became the summary"] += 1
    categories = reading.words(front.get("categories")) + reading.words(front.get("series"))
    custom = _taxonomies(settings)
    terms = [term for name in custom for term in reading.words(front.get(name))]
    if terms:
        found.notes[f"custom taxonomies ({', '.join(custom)}) became tags"] += 1
    if categories:
        found.notes["categories (and series) became tags (publisher has tags only)"] += 1
    post = ImportedPost(
        origin=path,
        title=title,
        date=moment,
        slug=_slug(front, name),
        body=text,
        tags=reading.words(front.get("tags")) + categories + terms,
        summary=reading.text(front.get("summary")) or before,
        description=reading.text(front.get("description")),
        author=reading.text(front.get("author", "authors")),
        image=files.image(reading.picture(front.get(*_IMAGE_KEYS)), path, front.line(*_IMAGE_KEYS)),
        draft=reading.flag(front.values.get("draft")) is True,
    )
    section = "/".join(parts[:-2] if bundle else parts[:-1])
    old = _old_address(front, post, section, name, settings, config)
    if old is None:
        found.fix(
            path,
            1,
            "cannot work out the old address from [permalinks]; add it by "
            "hand as aliases: [/old/address/]",
        )
    relative = [
        a if a.startswith("/") else f"/{parts[0]}/{a}" for a in reading.words(front.get("aliases"))
    ]
    post.aliases = [a for a in [old, *relative] if a]
    reading.note_unused(front, _USED | set(custom), found)
    found.posts.append(post)


def _taxonomies(settings: dict[str, Any]) -> list[str]:
    """The site's own taxonomies (`[taxonomies] topic = "topics"`): their front matter
    keys, lowercased; tags, categories, series and authors are read anyway."""
    declared = settings.get("taxonomies")
    names = [str(v).lower() for v in declared.values()] if isinstance(declared, dict) else []
    return [name for name in names if name not in ("tags", "categories", "series", "authors")]


def _old_address(
    front: reading.Front,
    post: ImportedPost,
    section: str,
    name: str,
    settings: dict[str, Any],
    config: Config,
) -> str | None:
    """The address Hugo gave the page; None when the pattern uses what we cannot know."""
    if front.get("url"):
        return reading.text(front.get("url"))
    permalinks = settings.get("permalinks")
    permalinks = permalinks if isinstance(permalinks, dict) else {}
    if isinstance(permalinks.get("page"), dict):  # Hugo 0.120+: [permalinks.page]
        permalinks = permalinks["page"]
    pattern = permalinks.get(section.split("/")[0])
    slug = reading.text(front.get("slug")) or name
    if not isinstance(pattern, str):
        return f"/{section}/{slug}/".lower()
    if post.date is None:
        return None
    where = addresses.zone(settings.get("timeZone") or settings.get("timezone"), config)
    values = addresses.date_values(post.date, where) | {
        "section": section.split("/")[0],
        "sections": section,
        "title": slugify(post.title),
        "slug": slugify(reading.text(front.get("slug")) or post.title),
        "slugorfilename": slug,
        "slugorcontentbasename": slug,
        "filename": name,
        "contentbasename": name,
    }
    address = addresses.expand(pattern, values)
    return address.lower() if address else None
