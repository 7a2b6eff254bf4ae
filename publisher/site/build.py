"""The web site: posts become pages, feeds and a sitemap, in a build that gathers, then writes.

`build()` reads top to bottom: load the posts, plan every page (its file, its template and
the data it shows), render only the pages whose inputs changed since the last build and
reuse the others from the previous output, add feeds and static files, and swap the new
output in. A page's inputs are hashed (the templates, the config, the posts it shows), and
the hashes of the last build are kept in `data/cache/`, so changing one post re-renders that
post and the pages listing it, and nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import json
import operator
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from publisher import parallel
from publisher.config import Config
from publisher.content.frontmatter import slugify as slug_words
from publisher.content.posts import Post, load_posts, renderer_key
from publisher.site import feeds, theme
from publisher.site.writer import Writer, disk_errors

RELATED_POSTS = 3
FEED_POSTS = 20

Progress = Callable[[str, int, "int | None"], None]  # (stage, done, total or None)


@dataclass(frozen=True)
class Tag:
    name: str
    slug: str

    @property
    def url(self) -> str:
        return f"tags/{self.slug}/"


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


@dataclass(frozen=True)
class BuildResult:
    output: Path
    posts: int
    pages: int
    pages_rendered: int
    pages_reused: int
    rendered: tuple[str, ...]  # files of the pages rendered this time (not reused)
    files: int  # everything written: pages, feeds, sitemap, static files
    seconds: float

    def summary(self) -> str:
        return (
            f"built {self.posts} posts, {self.pages} pages ({self.pages_rendered} rendered, "
            f"{self.pages_reused} unchanged) into {self.output.name}/ in {self.seconds:.2f} s"
        )


@contextlib.contextmanager
def rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector every 100,000 new objects instead of every 700.

    A build holds a few hundred thousand objects and makes almost no cycles, so the
    frequent collections only scan the same live objects again: about a tenth of an
    incremental build at 5,000 posts. (mypy raises the threshold the same way.)
    """
    before = gc.get_threshold()
    gc.set_threshold(100_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@rare_collections()
@disk_errors()
def build(
    config: Config,
    drafts: bool = False,
    future: bool = False,
    output: Path | None = None,
    progress: Progress | None = None,
    posts: list[Post] | None = None,
) -> BuildResult:
    """Build the site into `output` (default `[site] output`); the old output stays on failure.

    `drafts` and `future` add drafts and scheduled posts, marked as such, for previews;
    feeds and the sitemap only ever list published posts. `progress(stage, done, total)`
    is called before reading posts (total None) and as each page is written. `posts`:
    the posts when the caller has already loaded them (the scheduler), else read here.
    A disk problem (full, read-only, no permission) is an OutputError naming the path.
    """
    started = time.perf_counter()
    output = (output or config.output_dir).resolve()
    if progress:
        progress("reading posts", 0, None)
    if posts is None:
        posts = load_posts(config)
    entries = make_entries(config, posts, drafts, future)
    live = [e for e in entries if e.status == "live"]
    pages = plan_pages(config, entries)

    env = environment(config)
    base_key = inputs_key(config, env)
    cache = RenderCache(config, output)
    previous = cache.load()
    keys: dict[str, str] = {}
    rendered: list[str] = []
    with Writer(output) as writer:

        def reused(file: str, key: str) -> bool:
            """Keep `file` from the current output when its inputs are the ones it was made of."""
            keys[file] = key
            return previous.get(file) == key and writer.reuse(file)

        changed = [page for page in pages if not reused(page.file, page_key(base_key, page))]
        htmls = render_pages(env, changed)
        files = zip((page.file for page in changed), htmls, strict=True)
        for done, file in enumerate(writer.write_many(files), 1):
            rendered.append(file)
            if progress:
                progress("writing pages", done, len(changed))
        newest = live[:FEED_POSTS]
        for file, make_feed in (("feed.xml", feeds.atom), ("rss.xml", feeds.rss)):
            if not reused(file, feed_key(base_key, file, newest)):
                writer.write(file, make_feed(config, newest))
        writer.write("sitemap.xml", feeds.sitemap(config, sitemap_urls(pages)))
        writer.write("robots.txt", feeds.robots(config))
        for source, path in static_files(config):
            writer.copy(source, path)
        cache.forget()
        writer.commit()
    cache.save(keys, [entry.post.source.as_posix() for entry in entries])
    return BuildResult(
        output=output,
        posts=len(entries),
        pages=len(pages),
        pages_rendered=len(rendered),
        pages_reused=len(pages) - len(rendered),
        rendered=tuple(rendered),
        files=len(writer.written),
        seconds=time.perf_counter() - started,
    )


# --- Rendering ----------------------------------------------------------------------

PARALLEL_PAGES = 300  # fewer pages to render than this: not worth starting processes
_rendering: tuple[jinja2.Environment, list[Page]] | None = None  # inherited by forked workers


def render_pages(env: jinja2.Environment, pages: list[Page]) -> Iterator[str]:
    """The HTML of each page in order, rendered on all cores when there are many (and
    written while the rest render); the same output either way.

    Workers are forked, so they inherit the environment and the pages instead of having
    them pickled; where forking is unsafe (a preview server's threads) this runs in order.
    """
    global _rendering
    if len(pages) < PARALLEL_PAGES:
        yield from _render_range(range(len(pages)), (env, pages))
        return
    _rendering = (env, pages)
    try:
        yield from parallel.chunked_map(_render_range, range(len(pages)), spawn=False)
    finally:
        _rendering = None


def _render_range(
    indices: range, job: tuple[jinja2.Environment, list[Page]] | None = None
) -> list[str]:
    env, pages = job or _rendering  # type: ignore[misc]
    return [
        theme.render(env, pages[i].template, **{"page_url": pages[i].url, **pages[i].context})
        for i in indices
    ]


# --- Gathering ----------------------------------------------------------------------


def make_entries(config: Config, posts: Iterable[Post], drafts: bool, future: bool) -> list[Entry]:
    """The posts this build shows, newest first, with their URLs, status and tags.

    Tags that differ only in case or punctuation ("Sleep", "sleep") share one page, named
    after the first spelling in alphabetical order.
    """
    shown = []
    for post in posts:
        status = "live" if post.is_live(config.now) else "draft" if post.draft else "scheduled"
        if status == "live" or (status == "draft" and drafts) or (status == "scheduled" and future):
            shown.append((post, status))
    spellings = {name for post, _ in shown for name in post.tags}
    names: dict[str, str] = {}  # slug -> the name its page shows
    for name in sorted(spellings, reverse=True):
        names[slugify(name)] = name
    tag = {name: Tag(names[slugify(name)], slugify(name)) for name in spellings}
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
        *(Page(tag.url, "tag.html", {"tag": tag, "entries": by_tag[tag]}) for tag in tags),
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


@functools.cache
def slugify(tag: str) -> str:
    """The URL part of a tag's page; a stable hash when the tag has no ASCII letters."""
    return slug_words(tag) or "tag-" + hashlib.sha256(tag.encode()).hexdigest()[:8]


def static_files(config: Config) -> list[tuple[Path, str]]:
    """(source, output path) of the theme's static files; the site's own override the default."""
    found: dict[str, Path] = {}
    for folder in (
        theme.DEFAULT_TEMPLATES / "site" / "static",
        config.templates_dir / "site" / "static",
    ):
        for source in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if source.is_file():
                found["static/" + source.relative_to(folder).as_posix()] = source
    return [(source, path) for path, source in sorted(found.items())]


# --- Rendering ----------------------------------------------------------------------


def environment(config: Config) -> jinja2.Environment:
    """The theme's environment plus what site pages need: URLs under the site's own path."""
    env = theme.environment(config, "site")
    env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(cache_folder(config)))
    root = urlsplit(config.site.url).path.rstrip("/") + "/"
    env.filters["url"] = lambda url: url if "://" in url else root + url.lstrip("/")
    env.filters["isotime"] = lambda moment: config.local(moment).isoformat()
    env.globals["subscribe"] = {
        "url": config.web.url.rstrip("/") + "/subscribe",
        "frequency": config.newsletter.frequency,
        "period": DIGEST_PERIODS.get(config.digest.every.lower(), "weekly"),
    }
    return env


DIGEST_PERIODS = {"day": "daily", "month": "monthly"}  # any weekday: "weekly"


def inputs_key(config: Config, env: jinja2.Environment) -> str:
    """Hash of what every page depends on: templates, config (not the clock), this code,
    and the post renderer (so an entry's key need only name its post's file and bytes)."""
    digest = hashlib.sha256(repr(dataclasses.replace(config, now=datetime.min)).encode())
    digest.update(renderer_key(config).encode())
    for name in sorted(env.list_templates(filter_func=lambda n: not n.startswith("static/"))):
        source, filename, _ = env.loader.get_source(env, name)
        digest.update(f"\0{name}\0{filename}\0{source}".encode())
    for code in (Path(__file__), Path(theme.__file__), Path(feeds.__file__)):
        digest.update(code.read_bytes())
    return digest.hexdigest()


def page_key(base_key: str, page: Page) -> str:
    data = _KEY_ENCODER.encode([page.url, page.template, page.context])
    return hashlib.sha256((base_key + data).encode()).hexdigest()


def feed_key(base_key: str, file: str, entries: list[Entry]) -> str:
    return hashlib.sha256(
        "\0".join([base_key, file, *(e.key for e in entries)]).encode()
    ).hexdigest()


def _plain(value: Any) -> Any:
    """JSON stand-in for the objects in page contexts (entries by their hash)."""
    if isinstance(value, Entry):
        return value.key
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__} in a page context")


# One encoder for thousands of pages (json.dumps makes one per call). Keys are not sorted:
# this code builds every context in a fixed order, and this code is part of the key.
_KEY_ENCODER = json.JSONEncoder(default=_plain, separators=(",", ":"), check_circular=False)


def shown_sources(config: Config) -> set[str] | None:
    """The post files the site in `[site] output` shows, as of its last build: none when
    there is no site yet; None when unknown (a build failed after dropping its record, or
    the site was built by a version that kept none)."""
    output = config.output_dir.resolve()
    return RenderCache(config, output).sources() if output.exists() else set()


def cache_folder(config: Config) -> Path:
    folder = config.data_dir / "cache" / "site"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class RenderCache:
    """The input hash of every page in the current output, and the post files it shows,
    kept in `data/cache/`."""

    def __init__(self, config: Config, output: Path):
        name = hashlib.sha256(str(output).encode()).hexdigest()[:12]
        self.path = cache_folder(config) / f"pages-{name}.json"

    def _read(self) -> dict[str, Any]:
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return stored if isinstance(stored, dict) and "pages" in stored else {}

    def load(self) -> dict[str, str]:
        return self._read().get("pages", {})

    def sources(self) -> set[str] | None:
        """The post files (posts/x.md) the current output shows; None when unknown."""
        stored = self._read()
        return set(stored["sources"]) if "sources" in stored else None

    def forget(self) -> None:
        """Drop the hashes before the output changes, so a crash cannot leave stale ones."""
        self.path.unlink(missing_ok=True)

    def save(self, keys: dict[str, str], sources: list[str]) -> None:
        temporary = self.path.with_suffix(".tmp")
        data = {"pages": keys, "sources": sorted(sources)}
        temporary.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)
