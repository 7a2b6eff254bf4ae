"""The front matter block of a post file, read safely: the bytes decoded, the YAML between
the two `---` lines split from the body and parsed without anchors or deep nesting, each
key's value and line kept, with typed accessors that collect problems instead of raising.

`frontmatter` turns these values into a post's fields; this module knows no key's meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from publisher.content import foreign

# Caps that bound the work one post can cause (docs/staff/writing.md).
MAX_POST_BYTES = 1_000_000
MAX_FRONT_BYTES = 16_000
MAX_YAML_DEPTH = 8  # lists or mappings inside one another; front matter needs two
SHOWN_CHARS = 80  # a value quoted in an error message is cut to this
MESSAGE_CHARS = 300  # no message is longer


class Problem(Exception):
    """A problem that stops reading one post (the file cannot be used at all)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def decode(data: bytes) -> str:
    if len(data) > MAX_POST_BYTES:
        raise Problem(
            1, f"the file is over {MAX_POST_BYTES // 1_000_000} MB; split the post into parts"
        )
    if not data.strip():
        raise Problem(
            1, "the file is empty; write front matter (---, title:, date:, ---) and the post"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise Problem(
            line, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    return text.replace("\r\n", "\n")


_CLOSING_RE = re.compile(r"^---[ \t]*$", re.MULTILINE)


def split(text: str) -> tuple[str, str]:
    """(front matter, body); the front matter starts on line 2 of the file."""
    first, _, rest = text.partition("\n")
    if first.rstrip() == "+++":
        raise Problem(
            1,
            "front matter in TOML (+++) is not read; write it as YAML between two --- lines "
            "(title: A), or convert the blog with publisher import hugo",
        )
    if foreign.METADATA_LINE.match(first):
        raise Problem(
            1,
            "no front matter: these look like Pelican metadata lines; put them between two "
            "--- lines with lowercase keys (title:, date:), or convert the blog with "
            "publisher import pelican",
        )
    if first.rstrip() != "---":
        raise Problem(
            1, "no front matter; start the file with a line ---, then title: and date:, then ---"
        )
    closing = _CLOSING_RE.search(rest)
    if not closing:
        raise Problem(1, "front matter is not closed; add a line --- after the date: line")
    front = rest[: closing.start()]
    if len(front.encode()) > MAX_FRONT_BYTES:
        raise Problem(
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
            raise Problem(
                line, "front matter uses YAML anchors/aliases (&, *); write the values out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH + 1:  # the top mapping is one level
                raise Problem(
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
        raise Problem(
            line,
            f"front matter is not valid YAML ({problem}); write one 'key: value' per line "
            "and put values containing ': ' or ' #' in quotes",
        ) from None
    except yaml.reader.ReaderError as exc:
        line = front.count("\n", 0, exc.position) + 2
        raise Problem(
            line, f"front matter holds the control character {exc.character!r}; remove it"
        ) from None
    except yaml.YAMLError as exc:
        raise Problem(1, f"front matter cannot be read ({exc}); save it as plain text") from None
    if node is None:
        return loader, []
    if not isinstance(node, yaml.MappingNode):
        raise Problem(2, "front matter must be 'key: value' lines such as title: and date:")
    return loader, node.value


class FrontMatter:
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
                self.values[key] = Unreadable(str(getattr(value_node, "value", "")))

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
        self.error(key, f"{key}: expected text, got {show(value)}; write {key}: some words")
        return ""

    def flag(self, key: str, default: bool) -> bool:
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(key, f"{key}: expected true or false, got {show(value)}")
        return default


@dataclass(frozen=True)
class Unreadable:
    """A value YAML recognised but could not build (e.g. the date 2026-02-30)."""

    raw: str


def show(value: Any) -> str:
    return clip(repr(value.raw if isinstance(value, Unreadable) else value), SHOWN_CHARS)


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters, "..." marking the cut: a hostile
    value must not make an error line (or the cache holding it) huge."""
    text = " ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."
