"""Front matter written for another blog engine (Jekyll, Hugo, Pelican), read in `posts/`.

Their keys must never change what a post does behind the writer's back: a `status: draft`
or `published: false` that we ignored would publish a draft, so those are errors naming
our key; a capitalised key (Pelican writes `Title:`) is an error naming the lowercase one;
keys with an equivalent of ours get a warning that names it. Plain values in, (line,
message) pairs out: nothing here knows YAML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_DRAFT_WORDS = {"draft", "hidden", "false", "no", "off", "0", "private", "unpublished"}
_HINTS = {
    "permalink": "to keep an old address working write aliases: [/old/path.html] instead",
    "url": "to keep an old address working write aliases: [/old/path/] instead",
    "redirect_from": "write aliases: instead (old addresses that redirect to the post)",
    "categories": "write tags: instead (publisher has tags only)",
    "category": "write tags: instead (publisher has tags only)",
    "excerpt": "write summary: instead",
    "images": "write image: with one picture instead",
}
# Metadata lines such as Pelican's `Title: My post` at the very top of a file.
METADATA_LINE = re.compile(r"[A-Za-z][\w-]*:\s")


@dataclass
class Review:
    """What the keys of one post's front matter say about other engines."""

    renamed: dict[str, str] = field(default_factory=dict)  # written key -> our key
    seen: set[str] = field(default_factory=set)  # written keys reported here
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)


def review(keys: Iterable[str], values: dict[str, Any], lines: dict[str, int]) -> Review:
    """Check every written key that is not ours against what other engines use.

    `keys` are ours; `values` and `lines` are the front matter as written.
    """
    known = set(keys)
    found = Review()
    for written, value in values.items():
        if written in known:
            continue
        key, line = written.lower(), lines.get(written, 1)
        found.seen.add(written)
        if key in ("status", "published"):
            found.errors.append((line, _draft_message(key, value)))
        elif key in known and key not in values:
            found.errors.append((line, f"'{written}': keys are lowercase: write '{key}'"))
            found.renamed[written] = key
        elif key in _HINTS:
            found.warnings.append((line, f"unknown front matter key '{written}'; {_HINTS[key]}"))
        else:
            found.seen.discard(written)
    return found


def _draft_message(key: str, value: Any) -> str:
    """Name our key: a foreign 'not published' becomes draft: true, anything else goes."""
    unpublished = value is False or str(value).strip().lower() in _DRAFT_WORDS
    if unpublished:
        return (
            f"{key}: publisher does not read this key; to keep the post off the site "
            "write draft: true instead"
        )
    return (
        f"{key}: publisher does not read this key; posts are published at their date "
        "unless draft: true: remove it"
    )
