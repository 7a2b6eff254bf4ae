"""Topics: what readers choose to hear about, as named groups of tags (`[topics]`).

A topic has a name (stored with each subscriber who chooses it, so it is plain lowercase
ASCII and never changes), a label readers see, and the tags it covers. A post's topics are
those covering one of its tags. A reader who chose no topic hears about everything; one who
chose some hears about the posts in them, and about posts in no topic at all (general news,
such as a letter about opening hours).

A subscriber's choice is stored as one text value, the sorted names joined by commas ("" for
everything), so creating a campaign asks the database for the distinct choices (a handful),
decides here which of them a newsletter reaches, and selects its recipients with one
`topics IN (...)`: no join, no loop over people. A stored name no longer configured is
ignored; a choice left with none is everything again.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
MAX_TOPICS = 24  # checkboxes on a form; also bounds the distinct choices a list can hold
MAX_LABEL = 80
EXAMPLE = 'nutrition = { label = "Food and mood", tags = ["nutrition", "food"] }'

Wants = Callable[[str], bool]  # whether a stored choice ("a,b", "" for all) gets a newsletter


@dataclass(frozen=True)
class Topic:
    name: str  # stored with subscribers: nutrition
    label: str  # what readers see: Food and mood
    tags: tuple[str, ...]  # the tags it covers, as written in the config


def parse_topics(table: object, problems: list[str]) -> tuple[Topic, ...]:
    """The `[topics]` table as topics, in the order written; every problem is appended to
    `problems` (one line each, naming the topic and what to write)."""
    if table is None:
        return ()
    if not isinstance(table, dict):
        problems.append(f"[topics]: expected a table of topics such as {EXAMPLE}")
        return ()
    if len(table) > MAX_TOPICS:
        problems.append(f"[topics]: {len(table)} topics; at most {MAX_TOPICS} fit a sign-up form")
    topics = []
    for name, value in table.items():
        topic = _topic(name, value, problems)
        if topic is not None:
            topics.append(topic)
    return tuple(topics)


def _topic(name: str, value: Any, problems: list[str]) -> Topic | None:
    where = f"[topics] {name}"
    before = len(problems)
    if not NAME.fullmatch(name):
        problems.append(
            f"[topics] {name!r}: a topic's name is stored with each reader who chooses it: "
            "lowercase letters, digits, - and _, starting with a letter, at most 32 "
            f"(such as {_suggest(name)}); put the words readers see in its label"
        )
    if not isinstance(value, dict):
        problems.append(f"{where}: expected {{ label = ..., tags = [...] }}, as in {EXAMPLE}")
        return None
    for unknown in sorted(set(value) - {"label", "tags"}):
        problems.append(f"{where}: unknown key {unknown!r} (known: label, tags)")
    label = value.get("label")
    if not isinstance(label, str) or not label.strip():
        problems.append(f'{where}: label: expected the words readers see, such as "Food and mood"')
    elif len(label) > MAX_LABEL or any(unicodedata.category(c) == "Cc" for c in label):
        problems.append(f"{where}: label: one line of at most {MAX_LABEL} characters")
    tags = value.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        problems.append(f'{where}: tags: expected a list of the tags it covers, such as ["food"]')
    elif not all(tag_key(t) for t in tags):
        problems.append(f"{where}: tags: a tag holds no letter or digit")
    if len(problems) > before:
        return None
    return Topic(name, " ".join(label.split()), tuple(tags))


def _suggest(name: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", tag_key(name).encode("ascii", "ignore").decode()).strip("-")
    return words[:32] if NAME.fullmatch(words[:32]) else "nutrition"


def tag_key(tag: str) -> str:
    """What a tag is compared by: its words, case and accents of width aside ("Sleep",
    "sleep" and " SLEEP " are one tag), as the site gives them one page."""
    text = unicodedata.normalize("NFKC", tag).casefold()
    return "-".join(re.findall(r"\w+", text))


def post_topics(tags: Iterable[str], topics: Sequence[Topic]) -> tuple[str, ...]:
    """The names of the topics covering one of `tags`, in the config's order."""
    keys = {tag_key(tag) for tag in tags}
    return tuple(t.name for t in topics if keys & {tag_key(tag) for tag in t.tags})


def stored(names: Iterable[str]) -> str:
    """A choice as the store keeps it: sorted names joined by commas, "" for everything."""
    return ",".join(sorted(set(names)))


def chosen(value: str, topics: Sequence[Topic]) -> frozenset[str]:
    """The configured topics in a stored choice (an empty set: everything)."""
    known = {t.name for t in topics}
    return frozenset(name for name in value.split(",") if name in known)


def parse_choice(text: str, topics: Sequence[Topic]) -> str:
    """'nutrition, sleep' or 'nutrition;sleep' (a command line, a CSV cell) as a stored
    choice; ValueError naming what is not a topic. Empty: everything."""
    names = [name.strip() for name in re.split(r"[,;]", text) if name.strip()]
    return checked(names, topics)


def checked(names: Iterable[str], topics: Sequence[Topic]) -> str:
    """Names from a form, a file or a request as a stored choice; ValueError when one is
    not a configured topic."""
    known = [t.name for t in topics]
    unknown = [name for name in names if name not in known]
    if unknown:
        choices = ", ".join(known) if known else "none: [topics] is empty"
        raise ValueError(f"not a topic: {', '.join(map(repr, unknown))} (topics: {choices})")
    return stored(names)


def reaches(post: Collection[str], topics: Sequence[Topic]) -> Wants:
    """Who a post in the topics `post` is for: readers of one of them, and readers who
    chose no topic; a post in no topic is for everyone."""
    wanted = frozenset(post)

    def wants(value: str) -> bool:
        mine = chosen(value, topics)
        return not wanted or not mine or bool(mine & wanted)

    return wants


@dataclass(frozen=True)
class Reach:
    """How many readers a newsletter reaches: in all, and per topic of its post."""

    total: int
    per_topic: dict[str, int]  # its topics' readers among them, "" the readers of every topic

    def words(self, topics: Sequence[Topic]) -> str:
        """'1,234 (Food and mood 400, Sleep 300, every topic 700)'; the total alone when the
        site has no topics. Someone who chose two of its topics counts in both."""
        return f"{self.total:,}{self.split(topics)}"

    def split(self, topics: Sequence[Topic]) -> str:
        """' (Food and mood 400, every topic 700)', what `words` adds to the total."""
        if not topics:
            return ""
        if not self.per_topic:
            return " (everyone: in no topic)"
        labels = {t.name: t.label for t in topics} | {"": "every topic"}
        parts = [f"{labels.get(name, name)} {count:,}" for name, count in self.per_topic.items()]
        return f" ({', '.join(parts)})"


def reach(
    post_topics: Sequence[Collection[str]], groups: Mapping[str, int], topics: Sequence[Topic]
) -> Reach:
    """Whom a newsletter of posts in `post_topics` (each post's topics: one post for an
    announcement, several for a digest) reaches among `groups` (stored choice -> readers):
    a reader gets it when one of its posts is for them."""
    every = list(dict.fromkeys(name for post in post_topics for name in post))
    per_topic = dict.fromkeys([*every, ""], 0) if every else {}
    total = 0
    for value, readers in groups.items():
        if not any(reaches(post, topics)(value) for post in post_topics):
            continue
        total += readers
        mine = chosen(value, topics)
        for name in (mine & set(every) if mine else {""}) if every else ():
            per_topic[name] += readers
    return Reach(total, per_topic)


# --- Digests ---------------------------------------------------------------------------

GENERAL = "_general"  # the edition of posts in no topic only (no topic name starts with _)
MAX_EDITION_NAME = 120  # a longer one (many topics) is named by its hash: keys are short


@dataclass(frozen=True)
class Edition:
    """One version of a digest: the posts readers of some topics get, by their place in
    the digest (newest first), and its name ("" for the whole digest; else the topics all
    of whose posts it holds, such as "nutrition.sleep")."""

    name: str
    posts: tuple[int, ...]
    wants: Wants  # whether a stored choice gets this edition

    def ident(self, period_id: str) -> str:
        """Its id among the period's campaigns: `<period>` or `<period>.<name>`."""
        return f"{period_id}.{self.name}" if self.name else period_id


def editions(
    post_topics: Sequence[Collection[str]], choices: Iterable[str], topics: Sequence[Topic]
) -> list[Edition]:
    """The editions of a digest whose posts are in `post_topics` (each post's topics), one
    per distinct set of posts the readers' `choices` get: rendered once each, not once per
    reader. The whole digest always comes first (the archive shows it, and readers of
    every topic get it); a reader with nothing new gets no edition."""
    selections = {_selection(value, post_topics, topics) for value in choices}
    whole = tuple(range(len(post_topics)))
    found = [whole, *sorted(s for s in selections - {whole} if s)]
    return [
        Edition(
            _edition_name(chosen_posts, post_topics),
            chosen_posts,
            _getting(chosen_posts, post_topics, topics),
        )
        for chosen_posts in found
    ]


def _selection(
    value: str, post_topics: Sequence[Collection[str]], topics: Sequence[Topic]
) -> tuple[int, ...]:
    """The places of the posts a reader with the stored choice `value` gets."""
    return tuple(i for i, post in enumerate(post_topics) if reaches(post, topics)(value))


def _getting(
    posts: tuple[int, ...], post_topics: Sequence[Collection[str]], topics: Sequence[Topic]
) -> Wants:
    return lambda value: _selection(value, post_topics, topics) == posts


def _edition_name(posts: tuple[int, ...], post_topics: Sequence[Collection[str]]) -> str:
    """The topics all of whose posts the edition holds, which tell editions apart: readers
    of exactly those topics get it. "" for the whole digest, GENERAL for posts in no topic."""
    if len(posts) == len(post_topics):
        return ""
    held = set(posts)
    every = sorted({name for post in post_topics for name in post})
    names = [
        name
        for name in every
        if all(i in held for i, post in enumerate(post_topics) if name in post)
    ]
    name = ".".join(names) or GENERAL
    if len(name) > MAX_EDITION_NAME:
        name = "h" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return name
