"""Posts: Markdown files with YAML front matter, read and rendered once for every output.

(Interface laid down first; the reader and renderer are being written.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Post:
    """One post, parsed and rendered: what the site, the emails and the scheduler consume."""

    source: Path  # relative to the site root, e.g. posts/2026-03-01-sleep.md
    slug: str
    title: str
    date: datetime  # publish time, aware, UTC
    tags: tuple[str, ...]
    summary: str  # plain text
    description: str  # for <meta name=description>; defaults to summary
    author: str
    image: str  # as written (may be relative); "" when none
    draft: bool
    email: bool  # announce by email
    html: str  # rendered body; links as written in the post
    toc: str  # rendered table of contents (HTML), "" when no headings
    word_count: int
    reading_time: int  # minutes, at least 1
    digest: str  # hash of the source bytes

    def is_live(self, now: datetime) -> bool:
        """Published: not a draft and its date has come."""
        return not self.draft and self.date <= now
