"""Front matter: the YAML between the two `---` lines at the top of a post.

Reads one file's bytes into typed fields and the Markdown body, collecting every problem
with the line of the key at fault (from YAML's node marks), so `publisher check` can list
them all. Nothing here renders Markdown or raises for bad input.
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
from publisher.docs import docs_page

KEYS = tuple(key.name for key in FRONT_MATTER)
DATE_EXAMPLE = "2026-03-02 09:00"
# Caps that bound the work one post can cause (docs/staff/writing.md).
MAX_POST_BYTES = 1_000_000
MAX_FRONT_BYTES = 16_000
MAX_YAML_DEPTH = 8  # lists or mappings inside one another; front matter needs two
SHOWN_CHARS = 80  # a value quoted in an error message is cut to this
MESSAGE_CHARS = 300  # no message is longer


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
    aliases: tuple[OldPath, ...] = ()
    body: str = ""
    body_line: int = 1  # the file's line the body starts on
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Problem(Exception):
    """A problem that stops reading one post (the file cannot be used at all)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


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


def _decode(data: bytes) -> str:
    if len(data) > MAX_POST_BYTES:
        raise _Problem(
            1, f"the file is over {MAX_POST_BYTES // 1_000_000} MB; split the post into parts"
        )
    if not data.strip():
        raise _Problem(
            1, "the file is empty; write front matter (---, title:, date:, ---) and the post"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _Problem(
            line, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    return text.replace("\r\n", "\n")


_CLOSING_RE = re.compile(r"^---[ \t]*$", re.MULTILINE)
_NAMED_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})-")  # Jekyll's 2019-05-01-title.md


def _split(text: str) -> tuple[str, str]:
    """(front matter, body); the front matter starts on line 2 of the file."""
    first, _, rest = text.partition("\n")
    if first.rstrip() == "+++":
        raise _Problem(
            1,
            "front matter in TOML (+++) is not read; write it as YAML between two --- lines "
            "(title: A), or convert the blog with publisher import hugo",
        )
    if foreign.METADATA_LINE.match(first):
        raise _Problem(
            1,
            "no front matter: these look like Pelican metadata lines; put them between two "
            "--- lines with lowercase keys (title:, date:), or convert the blog with "
            "publisher import pelican",
        )
    if first.rstrip() != "---":
        raise _Problem(
            1, "no front matter; start the file with a line ---, then title: and date:, then ---"
        )
    closing = _CLOSING_RE.search(rest)
    if not closing:
        raise _Problem(1, "front matter is not closed; add a line --- after the date: line")
    front = rest[: closing.start()]
    if len(front.encode()) > MAX_FRONT_BYTES:
        raise _Problem(
            1,
            f"front matter is over {MAX_FRONT_BYTES // 1000} KB; keep it to the keys such as "
            "title: and date:, and put long text in the post",
        )
    return front, rest[closing.end() + 1 :]


def _refuse_hostile_yaml(loader: Any) -> None:
    """Refuse anchors, aliases and deep nesting before anything is built.

    An alias repeats a value without repeating its text, so a few hundred bytes of them
    nested build billions of strings (the "billion laughs"); front matter never needs
    them. Deep nesting would exhaust the stack when built.
    """
    import yaml  # lazy: 28 ms to import, and a fully cached build reads no front matter

    depth = 0
    while loader.check_event():
        event = loader.get_event()
        line = event.start_mark.line + 2
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Problem(
                line, "front matter uses YAML anchors/aliases (&, *); write the values out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH + 1:  # the top mapping is one level
                raise _Problem(
                    line,
                    f"front matter nests lists or mappings more than {MAX_YAML_DEPTH} deep; "
                    "write one 'key: value' per line",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _yaml_nodes(front: str) -> tuple[Any, list[tuple[Any, Any]]]:
    """The YAML loader and the front matter's (key node, value node) pairs.

    Nodes carry the line of each key and value, for messages; values are built per key
    so that one bad value does not hide the others.
    """
    import yaml  # lazy: 28 ms to import, and a fully cached build reads no front matter

    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = safe_loader(front)
    try:
        _refuse_hostile_yaml(safe_loader(front))
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark else 1
        problem = exc.problem or "cannot be read"
        raise _Problem(
            line,
            f"front matter is not valid YAML ({problem}); write one 'key: value' per line "
            "and put values containing ': ' or ' #' in quotes",
        ) from None
    except yaml.reader.ReaderError as exc:
        line = front.count("\n", 0, exc.position) + 2
        raise _Problem(
            line, f"front matter holds the control character {exc.character!r}; remove it"
        ) from None
    except yaml.YAMLError as exc:
        raise _Problem(1, f"front matter cannot be read ({exc}); save it as plain text") from None
    if node is None:
        return loader, []
    if not isinstance(node, yaml.MappingNode):
        raise _Problem(2, "front matter must be 'key: value' lines such as title: and date:")
    return loader, node.value


class _FrontMatter:
    """The front matter's values and the line of each key, with typed accessors."""

    def __init__(self, front: str):
        import yaml  # lazy: 28 ms to import, and a fully cached build reads no front matter

        self.values: dict[str, Any] = {}
        self.nodes: dict[str, Any] = {}
        self.lines: dict[str, int] = {}
        self.errors: list[tuple[int, str]] = []
        loader, pairs = _yaml_nodes(front)
        for key_node, value_node in pairs:
            key = str(key_node.value)
            self.lines[key] = key_node.start_mark.line + 2
            self.nodes[key] = value_node
            try:
                self.values[key] = loader.construct_object(value_node, deep=True)
            except (yaml.YAMLError, ValueError, TypeError, OverflowError):
                self.values[key] = _Unreadable(str(getattr(value_node, "value", "")))

    def line(self, key: str) -> int:
        return self.lines.get(key, 1)

    def error(self, key: str, message: str) -> None:
        self.errors.append((self.line(key), message))

    def text(self, key: str) -> str:
        """A text value exactly as written (so `title: 1984` stays '1984'); "" when absent."""
        import yaml  # lazy: 28 ms to import, and a fully cached build reads no front matter

        value, node = self.values.get(key), self.nodes.get(key)
        if value is None:
            return ""
        if isinstance(node, yaml.ScalarNode):
            return str(node.value).strip()
        self.error(key, f"{key}: expected text, got {_show(value)}; write {key}: some words")
        return ""

    def flag(self, key: str, default: bool) -> bool:
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(key, f"{key}: expected true or false, got {_show(value)}")
        return default


@dataclass(frozen=True)
class _Unreadable:
    """A value YAML recognised but could not build (e.g. the date 2026-02-30)."""

    raw: str


def _show(value: Any) -> str:
    return clip(repr(value.raw if isinstance(value, _Unreadable) else value), SHOWN_CHARS)


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters, "..." marking the cut: a hostile
    value must not make an error line (or the cache holding it) huge."""
    text = " ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _title(front: _FrontMatter) -> str:
    """The title, which becomes an email's Subject: one line, or a header could be forged."""
    title = front.text("title")
    if not title and isinstance(front.values.get("title"), str | None):
        front.error("title", "missing title; add a line such as title: How to sleep better")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in title):
        front.error(
            "title", "title: contains a line break or control character; write it on one line"
        )
        return ""
    return title


def _items(front: _FrontMatter, key: str, example: str) -> list[tuple[Any, int]]:
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


def _tags(front: _FrontMatter) -> tuple[str, ...]:
    tags: list[str] = []
    for item, line in _items(front, "tags", "[sleep, anxiety] or 'sleep, anxiety'"):
        if not isinstance(item, str):
            front.errors.append(
                (line, f"tags: each tag must be text, got {_show(item)}; put it in quotes")
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


def _aliases(front: _FrontMatter) -> tuple[OldPath, ...]:
    found: dict[str, OldPath] = {}
    for item, line in _items(front, "aliases", "[/2019/05/old-post.html, /old/]"):
        if not isinstance(item, str):
            front.errors.append((line, f"aliases: expected a path, got {_show(item)}"))
            continue
        try:
            path = old_path(item)
        except ValueError as exc:
            front.errors.append((line, f"aliases: {_show(item)} {exc}"))
            continue
        # /old and /old/ are one address (one redirect page, old/index.html): the first kept
        found.setdefault(path.rstrip("/"), OldPath(path, line))
    return tuple(found.values())


def _date(front: _FrontMatter, tz: tzinfo, source: str) -> datetime | None:
    if front.values.get("date") is None:
        named = _NAMED_DATE.match(source.rpartition("/")[2])
        example = f"{named.group(1)} (the file name's date is not read)" if named else ""
        front.error("date", f"missing date; add a line such as date: {example or DATE_EXAMPLE}")
        return None
    value = front.values["date"]
    try:
        return parse_date(value, tz)
    except ValueError:
        front.error("date", f"date: expected a date such as {DATE_EXAMPLE}, got {_show(value)}")
        return None


def read(source: str, data: bytes, tz: tzinfo) -> Fields:
    """The front matter and body of one post's bytes; `source` names it in warnings."""
    try:
        front_text, body = _split(_decode(data))
        front = _FrontMatter(front_text)
    except _Problem as problem:
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
    fields.aliases = _aliases(front)
    fields.errors = [(line, clip(message, MESSAGE_CHARS)) for line, message in front.errors]
    fields.warnings = [clip(warning, MESSAGE_CHARS) for warning in fields.warnings]
    return fields
