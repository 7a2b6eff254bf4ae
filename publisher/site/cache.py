"""The page cache: the input hash of every page of the last build, so that a build
renders only the pages whose inputs changed and hard-links the others from the output.

A page's inputs are what every page depends on (`inputs_key`: the templates, the config,
this code, the post renderer) and the data its template shows (`page_key`, posts by
their file and hash), so changing one post re-renders that post and the pages listing it.
At 5,000 posts that is about 10 pages of 5,701, and the one-post-changed rebuild takes
under 5% of the time of the full build (docs/explanation/performance.md; measured with
`bench/build_bench.py 5000`, which builds with and without the cache in one run).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from publisher.config import Config
from publisher.content.cache import renderer_key
from publisher.site.pages import Entry, Page

# The code that decides what a page holds, read by path (theme.py imports this module).
CODE_FILES = ["build.py", "cache.py", "feeds.py", "pages.py", "theme.py"]


def inputs_key(config: Config, env: jinja2.Environment) -> str:
    """Hash of what every page depends on: templates, config (not the clock), this code,
    and the post renderer (so an entry's key need only name its post's file and bytes)."""
    digest = hashlib.sha256(repr(dataclasses.replace(config, now=datetime.min)).encode())
    digest.update(renderer_key(config).encode())
    for name in sorted(env.list_templates(filter_func=lambda n: not n.startswith("static/"))):
        source, filename, _ = env.loader.get_source(env, name)
        digest.update(f"\0{name}\0{filename}\0{source}".encode())
    for name in CODE_FILES:
        digest.update((Path(__file__).parent / name).read_bytes())
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
