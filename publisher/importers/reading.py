"""Reading old posts: the three kinds of front matter, their values, and dates.

YAML between `---` lines (Jekyll, Hugo), TOML between `+++` lines (Hugo, read with
`tomllib`) and metadata lines `Key: value` up to the first blank line (Pelican's Markdown
reader). Keys are lowercased, as Hugo and Pelican read them. Each key keeps its line, so
what cannot be converted is reported where it is written.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from publisher.content.posts import is_backup
from publisher.content.yamlfront import MAX_POST_BYTES
from publisher.importers import tree
from publisher.importers.model import Harvest, When

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mkd", ".mkdn", ".mdown")
UNUSED = "not a post, and no post links to it"
_TOO_LARGE = " (publisher refuses posts that large); split it into smaller posts and import again"
_KEY_LINE = re.compile(r"""^["']?([A-Za-z_][\w-]*)["']?\s*[:=]""")
_METADATA = re.compile(r"^([A-Za-z][\w-]*):\s*(.*)$")
_DATE = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


class Unreadable(Exception):
    """The file's front matter cannot be read; `line` and `message` say where and why."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Front:
    """An old post's front matter (keys lowercased) with each key's line, and its body."""

    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    body: str = ""
    body_line: int = 1

    def line(self, *keys: str) -> int:
        """The line of the first of `keys` written, else 1."""
        return next((self.lines[key] for key in keys if key in self.lines), 1)

    def get(self, *keys: str) -> Any:
        """The first of `keys` that is set (not None, not empty)."""
        for key in keys:
            if self.values.get(key) not in (None, "", [], {}):
                return self.values[key]
        return None


def decode(data: bytes) -> str:
    """A file's bytes as text: UTF-8 (a BOM allowed), line ends made \\n; Unreadable
    otherwise."""
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise Unreadable(line, "not UTF-8 text; save it as UTF-8") from None


def split(text: str, metadata: bool = False) -> Front:
    """The front matter and body of an old post; `metadata`: read Pelican's header lines.

    A file without front matter is all body.
    """
    first = text.partition("\n")[0].rstrip()
    if first in ("---", "+++"):
        return _fenced(text, first)
    if metadata and _METADATA.match(first):
        return _metadata(text)
    return Front(body=text)


def _fenced(text: str, fence: str) -> Front:
    lines = text.split("\n")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == fence), None)
    if end is None:
        raise Unreadable(1, f"front matter is not closed; add a line {fence} after it")
    source = "\n".join(lines[1:end])
    try:
        values = tomllib.loads(source) if fence == "+++" else yaml.safe_load(source)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise Unreadable(
            1, f"front matter cannot be read ({_first_line(exc)}); correct it"
        ) from None
    if not isinstance(values, dict):
        values = {}
    front = Front(body="\n".join(lines[end + 1 :]), body_line=end + 2)
    front.values = {str(key).lower(): value for key, value in values.items()}
    for number, line in enumerate(lines[1:end], 2):
        match = _KEY_LINE.match(line)
        if match:
            front.lines.setdefault(match.group(1).lower(), number)
    return front


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _metadata(text: str) -> Front:
    """Pelican's (Python-Markdown's meta) header: `Key: value` lines, a line indented by
    four spaces continues the value, a blank line ends the header."""
    lines = text.split("\n")
    front = Front()
    key, start = "", len(lines)
    for index, line in enumerate(lines):
        match = _METADATA.match(line)
        if match:
            key = match.group(1).lower()
            front.values[key] = match.group(2).strip()
            front.lines[key] = index + 1
        elif key and line.startswith("    ") and line.strip():
            front.values[key] = f"{front.values[key]} {line.strip()}"
        else:
            start = index + 1 if not line.strip() else index
            break
    front.body, front.body_line = "\n".join(lines[start:]), start + 1
    return front


def when(value: Any) -> When | None:
    """A date or time as written by any of the three tools; naive means the site's zone.

    None when there is none; ValueError when it is not one.
    """
    if value in (None, ""):
        return None
    if isinstance(value, datetime | date):
        return value
    match = _DATE.match(str(value).strip())
    if not match:
        raise ValueError(f"not a date: {str(value)[:40]!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if hour is None:
        return date(int(year), int(month), int(day))
    text = f"{year}-{int(month):02d}-{int(day):02d}T{int(hour):02d}:{minute}:{second or '00'}"
    if offset:
        offset = "+00:00" if offset == "Z" else f"{offset[:3]}:{offset[-2:]}"
    return datetime.fromisoformat(text + (fraction or "") + (offset or ""))


def words(value: Any, separator: str | None = ",") -> list[str]:
    """A list of names: a list, or text split at `separator` (None: at spaces)."""
    if value in (None, ""):
        return []
    items = value if isinstance(value, list) else str(value).split(separator)
    return [str(item).strip() for item in items if str(item).strip()]


def flag(value: Any) -> bool | None:
    """A yes/no value as YAML, TOML or a metadata line writes it; None when it is neither."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    return (
        True if word in ("true", "yes", "on") else False if word in ("false", "no", "off") else None
    )


def text(value: Any) -> str:
    """One line of text from a scalar, a list (joined) or a mapping with a name."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(text(item) for item in value if text(item))
    if isinstance(value, dict):
        return text(value.get("name") or value.get("title") or "")
    return " ".join(str(value).split())


def picture(value: Any) -> str:
    """An image's address from text, the first of a list, or a mapping (path, src, ...)."""
    if isinstance(value, list):
        return picture(value[0]) if value else ""
    if isinstance(value, dict):
        for key in ("path", "src", "url", "feature", "image", "file"):
            if value.get(key):
                return picture(value[key])
        return ""
    return text(value)


def titled(slug: str) -> str:
    """A title from a file name's words, as Jekyll makes one: 'my-first-post' -> 'My First Post'."""
    return " ".join(word.capitalize() for word in re.split(r"[-_\s]+", slug) if word)


def skip_reason(path: Path) -> str:
    """Why a file of an old blog is not a Markdown post, or "" when it is one."""
    name = path.name
    if name.startswith("."):
        return "a hidden file"
    if is_backup(name):
        return "an editor backup"
    if path.suffix.lower() == ".rst":
        return (
            "reStructuredText is not converted; convert it to Markdown "
            "(pandoc -f rst -t gfm) and import again"
        )
    if path.suffix.lower() in (".html", ".htm", ".textile", ".org", ".adoc", ".ipynb"):
        return f"{path.suffix} posts are not converted; rewrite it in Markdown"
    if path.suffix.lower() not in MARKDOWN_SUFFIXES:
        return UNUSED
    return ""


def open_post(path: Path, found: Harvest, metadata: bool = False) -> Front | None:
    """The front matter and body of an old post, or None when it is skipped (not a
    Markdown post, a link, too large or unreadable: the reason goes to `found`)."""
    reason = skip_reason(path)
    if reason:
        found.skip(path, reason)
        return None
    try:
        data = tree.read(found.src, path, MAX_POST_BYTES, _TOO_LARGE)
        return split(decode(data), metadata)
    except tree.Refused as problem:
        found.skip(path, str(problem))
        return None
    except Unreadable as problem:
        found.skip(f"{path}:{problem.line}", f"{problem.message} and import again")
        return None


def date_of(
    front: Front, path: Path, found: Harvest, *keys: str, fallback: Any = None
) -> When | None:
    """The post's date from the first of `keys` that is set, else `fallback` (a date in
    the file name); a value that is no date is reported and the fallback used."""
    try:
        return when(front.get(*keys)) or when(fallback)
    except ValueError as exc:
        key = next((k for k in keys if front.get(k) is not None), keys[0])
        found.fix(path, front.line(key), f"{key}: {exc}; write a date such as 2019-05-01 09:00")
        return when(fallback)


def note_unused(front: Front, used: set[str], found: Harvest) -> None:
    """Count the keys publisher has no use for (`layout`, `comments`), for one note each."""
    for key in front.values:
        if key not in used:
            found.notes[f"left out the key '{key}' (publisher does not use it)"] += 1
