"""Whether the built site is the site the inputs make now: a fingerprint of its inputs.

The live posts (their files' hashes, which the post scan knows already), every template
and static file (by size and modification time: no file is read), and the settings. A
tick compares it with the one written after the last build it deployed, so an edited
post, template or setting goes live at the next tick, and an idle tick costs a few stats.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from publisher.config import Config
from publisher.content.posts import Post

PACKAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def fingerprint(config: Config, live: Iterable[Post]) -> str:
    """The inputs of the site that `live` posts make (not `now`: the live set says it)."""
    digest = hashlib.sha256()
    for post in sorted(live, key=lambda p: p.slug):
        digest.update(f"{post.slug}\0{post.source}\0{post.digest}\n".encode())
    timeless = dataclasses.replace(config, now=datetime(2000, 1, 1, tzinfo=UTC))
    digest.update(repr(timeless).encode())
    for folder in (config.templates_dir, PACKAGE_TEMPLATES):
        for line in _files(folder):
            digest.update(line.encode())
    return digest.hexdigest()


def _files(folder: Path) -> Iterable[str]:
    """A line per file under `folder`: its path, size and modification time."""
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            info = os.stat(os.path.join(parent, name))
            yield f"{parent}/{name}\0{info.st_size}\0{info.st_mtime_ns}\n"


def _stamp_file(config: Config) -> Path:
    return config.data_dir / "site-built"


def is_current(config: Config, stamp: str) -> bool:
    """True when the output was built from these inputs and is still there."""
    try:
        built = _stamp_file(config).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return built == stamp and (config.output_dir / "index.html").exists()


def remember(config: Config, stamp: str) -> None:
    """Record that the output was just built from the inputs `stamp` describes."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    _stamp_file(config).write_text(stamp + "\n", encoding="ascii")


def forget(config: Config) -> None:
    """The output changed by other means (a manual build): the next tick rebuilds it."""
    _stamp_file(config).unlink(missing_ok=True)
