"""Tags and the addresses of their pages, readable in any script.

A tag written in Latin letters keeps the ASCII slug it has always had ("Getting Started",
"café" -> `getting-started`, `cafe`): those are published URLs. Any other tag keeps its own
letters, lower-cased and NFKC-normalised, words joined by hyphens ("Сон и настроение" ->
`сон-и-настроение`, "睡眠" -> `睡眠`), and its link is percent-encoded while the folder on
disk keeps the letters (web servers decode the request path before looking for the file).
Tags that differ only in case or punctuation ("Sleep", "sleep!") share one page; tags
that are different but would get the same slug (two long ones cut at the same place) get
distinct ones: the first in sorted order keeps the plain slug, the others gain a short hash
of themselves, so the result does not depend on the order of the posts.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from publisher.content.frontmatter import slugify as ascii_slug

MAX_SLUG = 80  # characters, as post slugs; 80 CJK characters are 240 bytes, under NAME_MAX
_NOT_WORD = re.compile(r"[\W_]+")
_APOSTROPHES = re.compile(r"['\u2019]")


@dataclass(frozen=True)
class Tag:
    name: str
    slug: str  # as written on disk: may hold any letters

    @property
    def url(self) -> str:
        """Site-relative link to the tag's page, percent-encoded."""
        return f"tags/{quote(self.slug)}/"

    @property
    def file(self) -> str:
        return f"tags/{self.slug}/index.html"


def tag_identity(name: str) -> str:
    """What makes two spellings the same tag: the ASCII slug for a tag in Latin letters,
    else its words in any script; a stable hash when it has no letters or digits at all."""
    without_marks = "".join(
        c
        for c in unicodedata.normalize("NFKD", _APOSTROPHES.sub("", name))
        if not unicodedata.combining(c)
    )
    if all(c.isascii() for c in _NOT_WORD.sub("", without_marks)):
        words = ascii_slug(name)
    else:
        text = unicodedata.normalize("NFKC", _APOSTROPHES.sub("", name)).lower()
        words = "-".join(part for part in _NOT_WORD.split(text) if part)
    return words or "tag-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def make_tags(spellings: Iterable[str]) -> dict[str, Tag]:
    """Each spelling's Tag: one per identity, named after its first spelling in
    alphabetical order (as before), with a slug no other tag has."""
    names: dict[str, str] = {}  # identity -> the name its page shows
    identity = {name: tag_identity(name) for name in spellings}
    for name in sorted(identity, reverse=True):
        names[identity[name]] = name
    by_slug: dict[str, list[str]] = defaultdict(list)
    for key in sorted(names):
        by_slug[key[:MAX_SLUG].strip("-")].append(key)
    slugs = {}
    for slug, keys in by_slug.items():
        slugs[keys[0]] = slug
        for key in keys[1:]:
            digest = hashlib.sha256(key.encode()).hexdigest()[:8]
            slugs[key] = f"{slug[: MAX_SLUG - 9].strip('-')}-{digest}"
    return {name: Tag(names[key], slugs[key]) for name, key in identity.items()}
