"""Tags and the addresses of their pages, readable in any script.

A tag's slug is a published URL, so a tag that had an ASCII slug keeps it, computed as it
always was ("Getting Started", "café" -> `getting-started`, `cafe`; "Сон 2024" -> `2024`),
here rather than shared with post slugs so it can never drift. A tag with no ASCII letter
or digit, which got a hash (`tag-91e288e7`), now keeps its own letters, lower-cased and
NFKC-normalised, words joined by hyphens ("Сон и настроение" -> `сон-и-настроение`,
"睡眠" -> `睡眠`); its link is percent-encoded while the folder on disk keeps the letters
(web servers decode the request path before looking for the file).

Spellings of one tag (differing in case, accents or punctuation: "Sleep", "sleep!") share
a page. Different tags that would get the same slug ("Сон sleep" and "sleep", two long ones
cut at the same place) get distinct ones: the tag whose slug it is keeps it (else the
first in sorted order), the others gain a short hash of themselves, whatever the order of
the posts.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

MAX_SLUG = 80  # characters, as post slugs; 80 CJK characters are 240 bytes, under NAME_MAX
_APOSTROPHES = re.compile(r"['\u2019]")
_NOT_WORD = re.compile(r"[\W_]+")


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


def _ascii_words(name: str) -> str:
    """The slug tags have always had, before it is cut: ASCII letters and digits."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", _APOSTROPHES.sub("", text).lower()).strip("-")


def _words(name: str) -> str:
    """Letters and digits of any script, NFKC-normalised and lower-cased."""
    text = unicodedata.normalize("NFKC", _APOSTROPHES.sub("", name)).lower()
    return "-".join(part for part in _NOT_WORD.split(text) if part)


def _latin(name: str) -> bool:
    """Every letter and digit is ASCII once accents are taken off ("café", not "Straße")."""
    decomposed = unicodedata.normalize("NFKD", _APOSTROPHES.sub("", name))
    return all(c.isascii() for c in _NOT_WORD.sub("", decomposed) if not unicodedata.combining(c))


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def tag_identity(name: str) -> str:
    """What makes two spellings one tag: the ASCII words of a tag in Latin letters, else
    its words in any script; a hash of the name when it has no letter or digit at all."""
    return (_ascii_words(name) if _latin(name) else _words(name)) or "tag-" + _hash(name)


def _slug(name: str) -> str:
    """The slug a tag asks for: the ASCII one it always had, else its own letters."""
    for words in (_ascii_words(name), _words(name)):
        if cut := words[:MAX_SLUG].strip("-"):
            return cut
    return "tag-" + _hash(name)


def make_tags(spellings: Iterable[str]) -> dict[str, Tag]:
    """Each spelling's Tag: one per identity, named after its first spelling in
    alphabetical order (as before), with a slug no other tag has."""
    identity = {name: tag_identity(name) for name in spellings}
    names: dict[str, str] = {}  # identity -> the name its page shows
    for name in sorted(identity, reverse=True):
        names[identity[name]] = name
    wanted: dict[str, list[str]] = defaultdict(list)  # slug -> the identities asking for it
    for key in names:
        wanted[_slug(names[key])].append(key)
    slugs = {}
    for slug, keys in wanted.items():
        keys.sort(key=lambda key: (key != slug, key))  # a tag whose slug it is keeps it
        slugs[keys[0]] = slug
        for key in keys[1:]:
            slugs[key] = f"{slug[: MAX_SLUG - 9].strip('-')}-{_hash(key)}"
    return {name: Tag(names[key], slugs[key]) for name, key in identity.items()}
