"""The post cache: what parsing each post file gave, kept in `data/cache/posts/` so that
a build reads and renders only the posts that changed.

A result is reused when its file has the same bytes and the renderer the same settings
(`renderer_key`). The tricks it keeps, each measured by switching it off
(`bench/build_bench.py`'s one post changed among 5,000; 3 interleaved runs each on a busy
2-core machine, so ranges; "CPU" is user + system of all processes, steadier than wall):

- 32 shards instead of one pickle: one changed post rewrites one thirty-second of the
  results, not all of them. One pickle cost 6-15% more CPU (9-16% wall).
- stamps apart from the results: a file whose (mtime, size, inode) is the one it had when
  it was hashed is not even read. Reading and hashing every file cost 13-24% more CPU
  (16-17% wall).
- the racy-time window: a file changed in the last RACY_NS gets no stamp, since a second
  edit in the same clock tick would leave the same stamp. Not a speed trick (it costs one
  comparison a file); it keeps a stamp from vouching for a stale result.

Switching the garbage collector off while unpickling bought nothing measurable (-3 to +4%:
`build` already makes collections rare), so it was dropped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
import time
import zlib
from collections.abc import Iterable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from publisher.config import Config

log = logging.getLogger("publisher")

CACHE_NAME = "posts"  # a folder: CACHE_SHARDS pickles of results, and the stamps of the files
CACHE_SHARDS = 32
RACY_NS = 2_000_000_000  # a file changed this recently may change again with the same stamp

Stamp = tuple[int, int, int]  # (mtime_ns, size, inode)
Stamps = dict[str, tuple[Stamp, str]]  # source -> (stamp, digest of the bytes it had)
Results = dict[str, Any]  # source -> posts.FileResult (anything with a `digest`)

# Files whose content decides how a post is parsed and rendered, besides its own bytes.
_RENDERER_FILES = [
    ("markdown", "__meta__.py"),
    ("pygments", "__init__.py"),
    ("yaml", "__init__.py"),
]


def renderer_key(config: Config) -> str:
    """A hash of the parsing code, the renderer's versions and the time zone (naive dates
    use it): with the path and the bytes of its file, all that decides what a post holds.

    Read from the files rather than imported, so a fully cached run never imports Markdown.
    """
    here = Path(__file__).parent
    paths = sorted(here.glob("*.py"))  # every module of content/: any may change a result
    for package, name in _RENDERER_FILES:
        spec = find_spec(package)
        paths.append(Path(spec.submodule_search_locations[0]) / name)  # type: ignore[union-attr]
    key = hashlib.blake2b(config.site.timezone.encode(), digest_size=16)
    for path in paths:
        key.update(path.read_bytes())
    return key.hexdigest()


def digest(data: bytes) -> str:
    """The hash of a post file's bytes that a cached result is checked against."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class PostCache:
    """The cached results and file stamps of one site, loaded once per scan."""

    def __init__(self, config: Config):
        self.folder = config.data_dir / "cache" / CACHE_NAME
        self.key = renderer_key(config)
        self.results = _load_results(self.folder, self.key)
        self.stamps = _load_stamps(self.folder)
        self.settled = time.time_ns() - RACY_NS  # files changed before this can be stamped

    def stamp(self, info: os.stat_result) -> Stamp | None:
        """The stamp to record for a file, or None inside the racy-time window."""
        if info.st_mtime_ns >= self.settled:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def unread(self, source: str, info: os.stat_result) -> Any:
        """The cached result of a file that need not even be read: its stamp is the one
        it had when it was hashed to the result's digest. None otherwise."""
        hit = self.results.get(source)
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        return hit if hit and self.stamps.get(source) == (stamp, hit.digest) else None

    def matching(self, source: str, data: bytes) -> Any:
        """The cached result of a file whose bytes are `data`, or None."""
        hit = self.results.get(source)
        return hit if hit and hit.digest == digest(data) else None

    def save(self, results: Results, parsed: Iterable[str], stamps: dict[str, Stamp]) -> None:
        """Store the results whose shard changed, then the stamps (after the results: a
        stamp never vouches for a stale one)."""
        changed = set(parsed) | (self.results.keys() ^ results.keys())
        _save_results(self.folder, self.key, results, changed)
        known = {source: (stamp, results[source].digest) for source, stamp in stamps.items()}
        if known != self.stamps:
            _write_pickle(self.folder / "stamps.pickle", known)


def _shard(source: str) -> int:
    return zlib.crc32(source.encode()) % CACHE_SHARDS


def _load_results(folder: Path, key: str) -> Results:
    """The cached results; shards missing, unreadable or made by other code/settings are
    misses."""
    files: Results = {}
    for number in range(CACHE_SHARDS):
        try:
            with (folder / f"shard-{number:02d}.pickle").open("rb") as file:
                stored = pickle.load(file)
            if stored["key"] == key:
                files.update(stored["files"])
        except FileNotFoundError:
            pass
        except Exception:  # a torn file or one from another version is just a miss
            log.debug("ignoring unreadable cache shard %s", number, exc_info=True)
    return files


def _save_results(folder: Path, key: str, files: Results, changed: Iterable[str]) -> None:
    """Rewrite the shards holding a changed source."""
    for number in sorted({_shard(source) for source in changed}):
        shard = {source: r for source, r in files.items() if _shard(source) == number}
        _write_pickle(folder / f"shard-{number:02d}.pickle", {"key": key, "files": shard})


def _load_stamps(folder: Path) -> Stamps:
    try:
        with (folder / "stamps.pickle").open("rb") as file:
            return pickle.load(file)
    except Exception:  # missing, torn or from another version: every file is read again
        return {}


def _write_pickle(path: Path, data: object) -> None:
    """Write atomically: a crash mid-write leaves the old file, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".posts-", delete=False) as file:
        pickle.dump(data, file, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(file.name, path)
