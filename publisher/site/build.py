"""The web site: posts become pages, feeds and a sitemap, in a build that gathers, then writes.

`build()` reads top to bottom: load the posts, plan every page (`pages`) and the redirects
from old addresses (`redirects`), render only the pages whose inputs changed since the last
build and reuse the others from the previous output (`cache`), add feeds, redirects and
static files, and swap the new output in (`writer`).

Speed tricks kept here and in `pages`, each measured by switching it off
(`bench/build_bench.py`, 3-6 interleaved runs on a busy 2-core machine, so ranges; CPU is
user + system of all processes, steadier than wall time):

- rare garbage collections (`rare_collections`): off cost 10-16% more CPU of the
  one-post-changed rebuild at 5,000 posts and 15% of the full build at 1,000.
- pages rendered on all cores (`render_pages`): serial cost 21-24% more CPU (25-42% wall,
  min) of the full build at 1,000 posts.
- forked workers inheriting the pages through `_rendering`: pickling the pages to the
  workers instead cost 13-25% more CPU of the full build at 1,000 posts.
- `Entry` fields as properties (`pages`): `__getattr__` alone cost 8-21% more CPU (min)
  of the full build at 1,000 posts.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2

from publisher import parallel
from publisher.config import Config
from publisher.content.posts import Post, load_posts
from publisher.errors import ContentErrors
from publisher.site import feeds, redirects, theme
from publisher.site.cache import RenderCache, feed_key, inputs_key, page_key
from publisher.site.newsletters import Issue, listed, load_issues, newsletter_pages
from publisher.site.pages import Page, make_entries, plan_pages, sitemap_urls
from publisher.site.writer import Writer, disk_errors

FEED_POSTS = 20

ReportProgress = Callable[[str, int, "int | None"], None]  # (stage, done, total or None)


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
    frequent collections only scan the same live objects again: a tenth to a sixth of the
    CPU of an incremental build at 5,000 posts. (mypy raises the threshold the same way.)
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
    progress: ReportProgress | None = None,
    posts: list[Post] | None = None,
    issues: list[Issue] | None = None,
) -> BuildResult:
    """Build the site into `output` (default `[site] output`); the old output stays on failure.

    `drafts` and `future` add drafts and scheduled posts, marked as such, for previews;
    feeds and the sitemap only ever list published posts. `progress(stage, done, total)`
    is called before reading posts (total None), when it reads them, and as each page is
    written. `posts`: the posts when the caller has already loaded them, else read here;
    `issues`, the newsletter's archive, likewise read from the store when not given.
    A disk problem (full, read-only, no permission) is an OutputError naming the path.
    """
    started = time.perf_counter()
    output = (output or config.output_dir).resolve()
    if posts is None:
        if progress:
            progress("reading posts", 0, None)
        posts = load_posts(config)
    entries = make_entries(config, posts, drafts, future)
    live = [e for e in entries if e.status == "live"]
    if issues is None:
        issues = load_issues(config)
    pages = plan_pages(config, entries) + newsletter_pages(issues)
    moved = redirects.post_redirects(entries)
    problems = redirects.problems(moved, redirects.site_files(config, pages))
    if problems:
        raise ContentErrors(problems)

    env = theme.site_environment(config)
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
        for file, make_feed in (
            ("feed.xml", feeds.atom),
            ("rss.xml", feeds.rss),
            *feeds.old_feeds(config),
        ):
            if not reused(file, feed_key(base_key, file, newest)):
                writer.write(file, make_feed(config, newest))
        writer.write(
            feeds.NEWSLETTER_FEED, feeds.newsletter_atom(config, listed(issues)[:FEED_POSTS])
        )
        writer.write("sitemap.xml", feeds.sitemap(config, sitemap_urls(pages)))
        writer.write("robots.txt", feeds.robots(config))
        writer.write("static/theme.css", theme.render(env, "theme.css"))  # the site's colours
        for redirect in moved:
            writer.write(redirect.file, redirects.render(env, redirect))
        for source, path in theme.static_files(config):
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
