"""Front matter written for another blog engine (Jekyll, Hugo, Pelican), read in `posts/`.

Their keys must never change what a post does behind the writer's back: a `status: draft`
or `published: false` that we ignored would publish a draft, so those are errors naming
our key; a capitalised key (Pelican writes `Title:`) is an error naming the lowercase one;
keys with an equivalent of ours get a warning that names it. Template syntax of those
engines left in a post's text (`{% include %}`, `{{< youtube >}}`, `{filename}`) is a
warning with its line (`leftovers`): readers would see it as written. So is active HTML
(`<script>`, `<iframe>`, `<form>`, `javascript:` links), pasted from another site's
embed code: it runs on the post's page, and the email leaves it out (mail clients drop
or flag it; `mail.newsletter.absolute_html`). Plain values in, (line, message) pairs
out: nothing here knows YAML.
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


# Template syntax of another engine in a post's text: shown to readers as written.
_LEFTOVER = re.compile(
    r"(?P<shortcode>\{\{[<%].*?[%>]\}\})|(?P<tag>\{%.*?%\})|(?P<output>\{\{.*?\}\})"
    r"|(?P<link>[{|](?:filename|static|attach)[}|][^\s)\"'<>]*)"
    r"|(?P<active>(?i:<(?:script|iframe|form|object|embed)\b)[^>]*>?)"
    r"|(?P<script>(?i:javascript:))"
)
_ADVICE = {
    "shortcode": "Hugo shortcode {} is shown to readers as written (publisher has no "
    "shortcodes); write its result in Markdown or HTML",
    "tag": "Liquid tag {} is shown to readers as written (publisher does not run Liquid); "
    "write its result in Markdown or HTML",
    "output": "Liquid output {} is shown to readers as written (publisher does not run "
    "Liquid); write the value itself",
    "link": "Pelican link {} leads nowhere; link to the post (/posts/<slug>/) or the file "
    "(/static/...) instead",
    "active": "{} runs on the post's page (make sure you mean it) and is left out of its "
    "email (mail clients drop or flag scripts, frames and forms)",
    "script": "a {} link runs a script on the post's page and is plain text in its email; "
    "link to a page instead",
}
_CODE_SPAN = re.compile(r"(`+).+?\1")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
SHOWN = 60  # characters of a construct quoted in a warning


# Every match of _LEFTOVER holds one of these (javascript: in any case). Looking for them
# is 30 times quicker than the search itself, which tries every alternative at every
# character (5-8 ms a 1,000-word post: a third of the Markdown's own time, in every build).
_TELLTALES = ("{", "<", "|filename", "|static", "|attach")


def _may_hold_leftovers(body: str) -> bool:
    return any(mark in body for mark in _TELLTALES) or "javascript:" in body.lower()


def leftovers(body: str, first_line: int) -> list[tuple[int, str]]:
    """(line, warning) for each Liquid tag or output, Hugo shortcode, Pelican link or
    active HTML left in a post's text outside code, where readers would see it as written
    or it would run (an imported or pasted post); code blocks and `code` may show them on
    purpose."""
    if not _may_hold_leftovers(body):
        return []
    found, fence = [], ""
    for number, line in enumerate(body.split("\n"), first_line):
        marker = _FENCE.match(line)
        if marker and marker.group(1) == (fence or marker.group(1)):
            fence = "" if fence else marker.group(1)
            continue
        if fence or line.startswith(("    ", "\t")):
            continue
        for match in _LEFTOVER.finditer(_CODE_SPAN.sub("", line)):
            kind = match.lastgroup or "tag"
            text = match.group(0)
            shown = text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
            found.append((number, _ADVICE[kind].format(shown)))
    return found
