"""Front matter: the YAML between the two `---` lines at the top of a post, as typed fields.

Reads one file's bytes (`yamlfront` splits and parses them safely) into typed fields and
the Markdown body, collecting every problem with the line of the key at fault, so
`publisher check` can list them all. Nothing here renders Markdown or raises for bad input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from urllib.parse import unquote

from publisher.content import foreign
from publisher.content.keys import FRONT_MATTER
from publisher.content.yamlfront import (
    MESSAGE_CHARS,
    SHOWN_CHARS,
    FrontMatter,
    Problem,
    clip,
    decode,
    show,
    split,
)
from publisher.docs import docs_page

KEYS = tuple(key.name for key in FRONT_MATTER)
DATE_EXAMPLE = "2026-03-02 09:00"


@dataclass(frozen=True)
class OldPath:
    """An old address of a post (`aliases:`), site-relative without the leading /, and the
    line it is written on: the site answers it with a redirect to the post."""

    path: str  # e.g. "2019/05/01/old-post.html" or "blog/old-post/"
    line: int


@dataclass
class Fields:
    """The front matter of one post, typed; `errors` are (line, message) pairs."""

    title: str = ""
    date: datetime | None = None
    tags: tuple[str, ...] = ()
    slug: str = ""
    slug_line: int = 1  # where a duplicate slug is reported
    summary: str = ""
    description: str = ""
    author: str = ""
    image: str = ""
    image_alt: str = ""
    draft: bool = False
    email: bool = True
    email_at: datetime | None = None  # the announcement's time, when not `date`
    email_subject: str = ""  # the email's subject, when not the title
    email_preheader: str = ""  # the email's preheader, when not the summary
    email_only: bool = False  # a letter: emailed and archived, no page
    aliases: tuple[OldPath, ...] = ()
    body: str = ""
    body_line: int = 1  # the file's line the body starts on
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def slugify(text: str) -> str:
    """ASCII words joined by hyphens: 'Sleep & Mood: What’s New?' -> 'sleep-mood-whats-new'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"['\u2019]", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80].strip("-")


# A slug written in a post is its web address as written: letters, digits, and . _ ~ -
# (safe in a URL and a folder name), not starting with a dot.
EXPLICIT_SLUG = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,99}")


def _explicit_slug(front: Any) -> str:
    """The `slug:` as written, or an error saying why it cannot be used; never changed."""
    slug = front.text("slug")
    if slug and not EXPLICIT_SLUG.fullmatch(slug):
        suggestion = slugify(slug) or "sleep-better"
        front.error(
            "slug",
            f"{clip(repr(slug), SHOWN_CHARS)} cannot be a web address as written (only letters, "
            f"digits and . _ ~ -, at most 100, not starting with a dot); write e.g. {suggestion}",
        )
        return suggestion
    return slug


def parse_date(value: Any, tz: tzinfo) -> datetime:
    """A front matter or command-line date as aware UTC; naive means the site's zone.

    Accepts what YAML hands over (date, datetime) and ISO 8601 text with or without a time
    and an offset. Raises ValueError otherwise.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=tz)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0), tz)
    else:
        raise ValueError(f"not a date: {value!r}")
    return moment.astimezone(UTC)


_NAMED_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})-")  # Jekyll's 2019-05-01-title.md


def _title(front: FrontMatter) -> str:
    """The title, which becomes an email's Subject: one line, or a header could be forged."""
    title = front.text("title")
    if not title and isinstance(front.values.get("title"), str | None):
        front.error("title", "missing title; add a line such as title: How to sleep better")
    return _one_line(front, "title", title)


def _one_line(front: FrontMatter, key: str, text: str) -> str:
    """`text`, the value of `key`, which becomes a header (a subject): a line break or
    control character in it is an error, or a header could be forged."""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text):
        front.error(key, f"{key}: contains a line break or control character; write it on one line")
        return ""
    return text


def _items(front: FrontMatter, key: str, example: str) -> list[tuple[Any, int]]:
    """A list key's items with their lines: `[a, b]`, one per `- ` line, or 'a, b'."""
    import yaml  # lazy: 28 ms to import, and a fully cached build reads no front matter

    value, node = front.values.get(key), front.nodes.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [(item, front.line(key)) for item in value.split(",")]
    if isinstance(value, list) and isinstance(node, yaml.SequenceNode):
        return [(item, n.start_mark.line + 2) for item, n in zip(value, node.value, strict=True)]
    front.error(key, f"{key}: expected a list such as {example}")
    return []


def _tags(front: FrontMatter) -> tuple[str, ...]:
    tags: list[str] = []
    for item, line in _items(front, "tags", "[sleep, anxiety] or 'sleep, anxiety'"):
        if not isinstance(item, str):
            front.errors.append(
                (line, f"tags: each tag must be text, got {show(item)}; put it in quotes")
            )
        elif item.strip():
            tags.append(item.strip())
    return tuple(dict.fromkeys(tags))


def old_path(text: str) -> str:
    """An old address as a site-relative path without the leading / (a trailing / kept);
    ValueError saying what to write when it is not a path inside this site."""
    example = "write the part after the domain, such as /2019/05/old-post.html"
    text = text.strip()
    if "://" in text or text.startswith("//") or any(c in text for c in "?#\\"):
        raise ValueError(f"is not a path on this site; {example}")
    path = unquote(text)
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in path):
        raise ValueError("contains a control character; remove it")
    parts = path.split("/")
    if ".." in parts or "." in parts:
        raise ValueError(f"leaves the site's folder (. or ..); {example}")
    clean = "/".join(part for part in parts if part)
    if not clean:
        raise ValueError("is the home page; write the old address of this post")
    return clean + "/" if path.endswith("/") else clean


def _aliases(front: FrontMatter) -> tuple[OldPath, ...]:
    found: dict[str, OldPath] = {}
    for item, line in _items(front, "aliases", "[/2019/05/old-post.html, /old/]"):
        if not isinstance(item, str):
            front.errors.append((line, f"aliases: expected a path, got {show(item)}"))
            continue
        try:
            path = old_path(item)
        except ValueError as exc:
            front.errors.append((line, f"aliases: {show(item)} {exc}"))
            continue
        # /old and /old/ are one address (one redirect page, old/index.html): the first kept
        found.setdefault(path.rstrip("/"), OldPath(path, line))
    return tuple(found.values())


def _emailing(front: FrontMatter, fields: Fields, tz: tzinfo, source: str) -> None:
    """The keys that say when and how the post is emailed (`email_at`, `email_subject`,
    `email_preheader`, `email_only`), checked against `date` and `email`."""
    fields.email_subject = _one_line(front, "email_subject", front.text("email_subject"))
    fields.email_preheader = front.text("email_preheader")
    fields.email_only = front.flag("email_only", False)
    if fields.email_only and not fields.email:
        front.error(
            "email_only",
            "email_only: true makes a letter, which is only emailed, but email: false keeps "
            "it off email: remove one of them",
        )
    value = front.values.get("email_at")
    if value is None:
        return
    try:
        fields.email_at = parse_date(value, tz)
    except ValueError:
        front.error(
            "email_at", f"email_at: expected a time such as {DATE_EXAMPLE}, got {show(value)}"
        )
        return
    if fields.date is not None and fields.email_at < fields.date:
        front.error(
            "email_at",
            f"email_at: {show(value)} is before the date, when the post goes live; an email "
            "cannot link to a page that is not there yet: write a time on or after the date",
        )
    elif not fields.email:
        fields.warnings.append(
            f"{source}:{front.line('email_at')}: email_at has no effect: email: false keeps "
            "the post off email"
        )


def _date(front: FrontMatter, tz: tzinfo, source: str) -> datetime | None:
    if front.values.get("date") is None:
        named = _NAMED_DATE.match(source.rpartition("/")[2])
        example = f"{named.group(1)} (the file name's date is not read)" if named else ""
        front.error("date", f"missing date; add a line such as date: {example or DATE_EXAMPLE}")
        return None
    value = front.values["date"]
    try:
        return parse_date(value, tz)
    except ValueError:
        front.error("date", f"date: expected a date such as {DATE_EXAMPLE}, got {show(value)}")
        return None


def read(source: str, data: bytes, tz: tzinfo) -> Fields:
    """The front matter and body of one post's bytes; `source` names it in warnings."""
    try:
        front_text, body = split(decode(data))
        front = FrontMatter(front_text)
    except Problem as problem:
        return Fields(errors=[(problem.line, clip(problem.message, MESSAGE_CHARS))])
    fields = Fields(body=body, body_line=front_text.count("\n") + 3)
    review = foreign.review(KEYS, front.values, front.lines)
    for written, key in review.renamed.items():
        front.values[key], front.nodes[key] = front.values[written], front.nodes[written]
        front.lines[key] = front.lines[written]
    front.errors += review.errors
    fields.warnings += [f"{source}:{line}: {message}" for line, message in review.warnings]
    unknown = [key for key in front.values if key not in KEYS and key not in review.seen]
    if unknown:
        names = ", ".join(clip(repr(key), SHOWN_CHARS) for key in unknown)
        fields.warnings.append(
            f"{source}:{front.line(unknown[0])}: unknown front matter key {names} "
            f"(known: {', '.join(KEYS)}); check the spelling "
            f"({docs_page('reference/front-matter.md')})"
        )
    fields.title = _title(front)
    fields.date = _date(front, tz, source)
    fields.tags = _tags(front)
    slug_key = "slug" if "slug" in front.values else "title"
    fields.slug = _explicit_slug(front) or slugify(fields.title)
    fields.slug_line = front.line(slug_key)
    if fields.title and not fields.slug:
        front.error(
            slug_key, "cannot make a web address from this; add a line such as slug: sleep-better"
        )
    fields.summary, fields.description = front.text("summary"), front.text("description")
    fields.author, fields.image = front.text("author"), front.text("image")
    fields.image_alt = front.text("image_alt")
    fields.draft, fields.email = front.flag("draft", False), front.flag("email", True)
    _emailing(front, fields, tz, source)
    fields.aliases = _aliases(front)
    fields.errors = [(line, clip(message, MESSAGE_CHARS)) for line, message in front.errors]
    fields.warnings = [clip(warning, MESSAGE_CHARS) for warning in fields.warnings]
    return fields
