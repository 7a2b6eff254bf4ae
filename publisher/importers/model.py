"""What an importer hands over: posts in our terms, and everything it could not convert."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

When = datetime | date  # naive: in the site's time zone


@dataclass(frozen=True)
class Fix:
    """Something to fix by hand: where in the old blog (or the new post), and what to do."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Skip:
    """A file of the old blog that was not imported, and why."""

    file: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}: {self.why}"


@dataclass
class ImportedPost:
    """One old post in our front matter's terms; `aliases` are its old paths (with /)."""

    origin: Path  # the old file, as the user named it (for messages)
    title: str
    date: When | None
    slug: str
    body: str
    tags: list[str] = field(default_factory=list)
    summary: str = ""
    description: str = ""
    author: str = ""
    image: str = ""
    draft: bool = False
    aliases: list[str] = field(default_factory=list)


@dataclass
class Harvest:
    """Everything an importer found in the old blog at `src`."""

    src: Path
    posts: list[ImportedPost] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)  # a remark -> how many posts
    files: dict[str, Path] = field(default_factory=dict)  # static/... -> the file posts use
    feeds: list[str] = field(default_factory=list)  # the old feed's addresses: /atom.xml

    def skip(self, path: Path | str, why: str) -> None:
        self.skipped.append(Skip(str(path), why))

    def fix(self, path: Path | str, line: int, message: str) -> None:
        self.fixes.append(Fix(str(path), line, message))
