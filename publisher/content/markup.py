"""Markdown to HTML: one configured `markdown.Markdown` per process, reset between posts.

Importing this module imports Markdown and Pygments, so `content` imports it only when a
post actually needs rendering (a rebuild where every post is cached never pays for it).

Smart punctuation follows the `smarty` extension's rules exactly (the same regular
expressions, applied in the same order), but in one tree pass instead of a second run of
Markdown's inline machinery: that pass cost about half the time of a whole post.
`tests/test_content.py` checks that both give the same HTML on tricky text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import markdown
from markdown.extensions import Extension
from markdown.extensions import smarty as _smarty
from markdown.postprocessors import Postprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

EXTENSIONS = ["extra", "toc", "sane_lists", "codehilite"]
EXTENSION_CONFIGS = {
    "toc": {"permalink": True, "permalink_title": "Link to this section"},
    "codehilite": {"css_class": "highlight", "guess_lang": False},
}

_MARK = "\x02smarty:{}\x03"  # shaped like Markdown's placeholders, so the look-arounds see the same
_MARK_RE = re.compile(r"\x02smarty:(\d+)\x03")
_LDQ, _RDQ, _LSQ, _RSQ = "\u201c", "\u201d", "\u2018", "\u2019"
_NAMES = {_LSQ: "lsquo", _RSQ: "rsquo", _LDQ: "ldquo", _RDQ: "rdquo"}
_NAMES |= {"\u2013": "ndash", "\u2014": "mdash", "\u2026": "hellip"}
ENTITIES = {ord(char): f"&{name};" for char, name in _NAMES.items()}

# (needed text, pattern, replacement) in the order `smarty` registers them: dashes, quotes,
# ellipses. A rule is tried only when its needed text occurs. In a replacement, an int is a
# group of the match, a str is an output character.
_RULES = [
    ("--", r"(?<!-)---(?!-)", ("\u2014",)),
    ("--", r"(?<!-)--(?!-)", ("\u2013",)),
    ("'", _smarty.singleQuoteStartRe, (_RSQ,)),
    ('"', _smarty.doubleQuoteStartRe, (_RDQ,)),
    ("\"'", _smarty.doubleQuoteSetsRe, (_LDQ + _LSQ,)),
    ("'\"", _smarty.singleQuoteSetsRe, (_LSQ + _LDQ,)),
    ("'\"", _smarty.doubleQuoteSetsRe2, (_RSQ + _RDQ,)),
    ("\"'", _smarty.singleQuoteSetsRe2, (_RDQ + _RSQ,)),
    ("'", _smarty.decadeAbbrRe, (_RSQ,)),
    ("'", _smarty.openingSingleQuotesRegex, (1, _LSQ)),
    ("'", _smarty.closingSingleQuotesRegex, (_RSQ,)),
    ("'", _smarty.closingSingleQuotesRegex2, (_RSQ, 1)),
    ("'", _smarty.remainingSingleQuotesRegex, (_LSQ,)),
    ('"', _smarty.openingDoubleQuotesRegex, (1, _LDQ)),
    ('"', _smarty.closingDoubleQuotesRegex, (_RDQ,)),
    ('"', _smarty.closingDoubleQuotesRegex2, (_RDQ,)),
    ('"', _smarty.remainingDoubleQuotesRegex, (_LDQ,)),
    ("...", r"(?<!\.)\.{3}(?!\.)", ("\u2026",)),
]
_COMPILED = [(needed, re.compile(pattern), replace) for needed, pattern, replace in _RULES]


def educate(text: str) -> str:
    """Smart quotes, dashes and ellipses in one text node, with `smarty`'s semantics.

    Like Markdown's inline processor, each rule scans the text left to right and every
    replacement becomes an opaque placeholder that later matches see (and never enter).
    """
    outputs: list[str] = []
    for needed, regex, replace in _COMPILED:
        if needed not in text:
            continue
        start = 0
        while match := regex.search(text, start):
            pieces = []
            for part in replace:
                if isinstance(part, int):
                    pieces.append(match.group(part))
                else:
                    pieces.append(_MARK.format(len(outputs)))
                    outputs.append(part)
            new = "".join(pieces)
            text = text[: match.start()] + new + text[match.end() :]
            start = match.start() + len(new)
    return _MARK_RE.sub(lambda m: outputs[int(m.group(1))], text) if outputs else text


class _SmartPunctuation(Treeprocessor):
    def run(self, root: Element) -> None:
        for element in root.iter():
            if element is not root and element.text and not isinstance(element.text, AtomicString):
                element.text = educate(element.text)
            if element.tail and not isinstance(element.tail, AtomicString):
                element.tail = educate(element.tail)


class _Entities(Postprocessor):
    def run(self, text: str) -> str:
        return text.translate(ENTITIES)


class SmartPunctuation(Extension):
    """Registered where `smarty` would be (priority 6: after inline, before toc).

    The characters are written as entities, as `smarty` does: the HTML of an English post
    stays ASCII, which halves its size in memory and makes the cache load much faster.
    """

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_SmartPunctuation(md), "smarty", 6)
        md.postprocessors.register(_Entities(md), "smarty-entities", 0)
        md.ESCAPED_CHARS.extend(['"', "'"])


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: str  # "" when the post has no headings


_md: markdown.Markdown | None = None


def converter() -> markdown.Markdown:
    """The process's Markdown instance, built on first use (each worker builds its own)."""
    global _md
    if _md is None:
        _md = markdown.Markdown(
            extensions=[*EXTENSIONS, SmartPunctuation()],
            extension_configs=EXTENSION_CONFIGS,
            output_format="html",
        )
    return _md


def forget_converter() -> None:
    """Drop the Markdown instance (after a render was interrupted); the next is fresh."""
    global _md
    _md = None


def render(text: str) -> Rendered:
    md = converter()
    md.reset()
    body = md.convert(text)
    toc = md.toc if md.toc_tokens else ""  # type: ignore[attr-defined]
    return Rendered(body, toc)


MAX_NESTING = 64  # [ or ( open at once in one block; Markdown's time grows with its square
_BLOCK_RE = re.compile(r"\n[ \t]*\n")


def deep_nesting(text: str) -> tuple[int, int] | None:
    """(line in `text`, depth) of the first block nesting [ or ( over MAX_NESTING deep.

    Python-Markdown's link pattern rescans the rest of a paragraph for every open
    bracket: 10,000 of them take minutes. No prose needs more than a few.
    """
    offset = 0
    for match in [*_BLOCK_RE.finditer(text), None]:
        end = match.start() if match else len(text)
        block = text[offset:end]
        if block.count("[") > MAX_NESTING or block.count("(") > MAX_NESTING:
            found = _deepest(block)
            if found[1] > MAX_NESTING:
                return text.count("\n", 0, offset + found[0]) + 1, found[1]
        offset = match.end() if match else end
    return None


def _deepest(block: str) -> tuple[int, int]:
    """(offset where it first exceeds MAX_NESTING, greatest depth) of [ and ( in `block`."""
    depth = {"[": 0, "(": 0}
    closing = {"]": "[", ")": "("}
    first, deepest = 0, 0
    for index, char in enumerate(block):
        if char in depth:
            depth[char] += 1
            if depth[char] > deepest:
                deepest = depth[char]
                if deepest == MAX_NESTING + 1:
                    first = index
        elif char in closing:
            opener = closing[char]
            depth[opener] = max(0, depth[opener] - 1)
    return first, deepest


_TAG_RE = re.compile(r"<[^>]*>")
_FOOTNOTE_REF_RE = re.compile(r'<sup id="fnref[^"]*">.*?</sup>')
_PERMALINK_RE = re.compile(r'<a class="headerlink"[^>]*>.*?</a>')
_PARAGRAPH_RE = re.compile(r"<p>(.*?)</p>", re.DOTALL)
_WORD_RE = re.compile(r"\w+(?:['\u2019-]\w+)*")


def plain_text(fragment: str) -> str:
    """HTML as plain text: tags, footnote marks and heading permalinks removed."""
    fragment = _PERMALINK_RE.sub("", _FOOTNOTE_REF_RE.sub("", fragment))
    return " ".join(html.unescape(_TAG_RE.sub("", fragment)).split())


def first_paragraph(body: str) -> str:
    """The first paragraph of rendered HTML as plain text ("" when there is none)."""
    for match in _PARAGRAPH_RE.finditer(body):
        text = plain_text(match.group(1))
        if text:
            return text
    return ""


def count_words(body: str) -> int:
    return len(_WORD_RE.findall(plain_text(body)))
