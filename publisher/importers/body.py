"""The body of an old post: what is not Markdown is converted where there is a faithful
equivalent, and reported with its line where there is not.

Converted: highlight blocks (Liquid's `{% highlight %}`, Hugo's `{{< highlight >}}`)
become fenced code; `{% raw %}` markers go (their text stays, literally); Hugo's `figure`
becomes a Markdown image; plugin tags, includes and shortcodes for pictures and videos
become Markdown (`tags`); the files a post uses are linked at their new addresses
(`media`, outside fenced code); a `<!--more-->` marker becomes the post's `summary:` (the
text before it), unless the post already has one; Hugo's escaped shortcodes (`{{</* x
*/>}}`) are written as the text they show. Reported: every other Liquid tag or output
(Pelican's liquid_tags too), Hugo shortcode, and Pelican's `{filename}` style links, each
with what to write instead, and TeX math (MathJax, KaTeX) once a post. Lines are replaced
one for one, so a line of the new body is the same line of the old one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from publisher.content.frontmatter import clip
from publisher.importers import tags
from publisher.importers.media import Media

SHOWN = 60  # characters of a construct quoted in a report


@dataclass(frozen=True)
class Construct:
    """Something only the old tool understood, and what to write instead."""

    pattern: re.Pattern[str]
    advice: str  # "{found}" is replaced with what was found


LIQUID = [
    Construct(
        re.compile(r"\{%-?.*?-?%\}"),
        "Liquid tag {found} cannot be converted; write its result as Markdown or HTML",
    ),
    Construct(
        re.compile(r"\{\{-?.*?-?\}\}"),
        "Liquid output {found} cannot be converted; write the value itself",
    ),
]
SHORTCODES = [
    Construct(
        re.compile(r"\{\{[<%].*?[%>]\}\}"),
        "Hugo shortcode {found} cannot be converted; write its result as Markdown or HTML",
    )
]
PELICAN_LINKS = [
    Construct(
        re.compile(r"[{|](?:filename|static|attach|tag|category|author|index)[}|][^)\s\"'>]*"),
        "Pelican link {found} cannot be converted; link to the post's new address "
        "(/posts/<slug>/) or to a file in templates/site/static/",
    )
]

# Pelican runs only the tags of its liquid_tags plugin; any other {% %} was shown as written
LIQUID_TAGS = "audio|b64img|diag|flickr|gist|giphy|gram|graphviz|img|include_code|literal"
LIQUID_TAGS += "|notebook|soundcloud|spotify|video|vimeo|youtube"
PELICAN = [
    *PELICAN_LINKS,
    Construct(
        re.compile(rf"\{{%-?\s*(?:{LIQUID_TAGS})\b.*?-?%\}}"),
        "liquid_tags tag {found} cannot be converted; write its result as Markdown or HTML",
    ),
]

_RAW = re.compile(r"\{%-?\s*(?:end)?raw\s*-?%\}")
_OPEN = [
    re.compile(r"^(\s*)\{%-?\s*highlight\s+([\w+#.-]+)[^%]*-?%\}\s*$"),
    re.compile(r"^(\s*)\{\{<\s*highlight\s+([\w+#.-]+)[^>]*>\}\}\s*$"),
]
_CLOSE = [
    re.compile(r"^(\s*)\{%-?\s*endhighlight\s*-?%\}\s*$"),
    re.compile(r"^(\s*)\{\{<\s*/\s*highlight\s*>\}\}\s*$"),
]
_FIGURE = re.compile(r"\{\{<\s*figure\s+([^>]*?)/?\s*>\}\}")
_ATTRIBUTE = re.compile(r"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ESCAPED = re.compile(r"(\{\{[<%])/\*(.*?)\*/([%>]\}\})")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
# TeX math for MathJax or KaTeX: $$ (a formula's either end), \\( and \\[ (escaped for
# Markdown), \( ... \) and \[ ... \] holding TeX (\[-1,1\] is an escaped bracket),
# \begin{equation}, and $...$ holding a TeX command (a plain $ is money)
_MATH = re.compile(
    r"\$\$|\\\\[(\[]|\\begin\{(?:equation|align|gather|math)\*?\}"
    r"|\\\((?:(?!\\\)).)*?(?!\\\))[\\^_].*?\\\)"
    r"|\\\[(?:(?!\\\]).)*?(?!\\\])[\\^_].*?\\\]"
    r"|(?<![\\$])\$(?=\S)[^$\n]*\\[A-Za-z]+[^$\n]*(?<=\S)\$(?!\$)"
)
MATH = (
    "TeX math ({count}: $$...$$, \\(...\\)) is shown as written: "
    "publisher does not render math; write it out or show it as a picture where readers "
    "need it rendered"
)
MORE = re.compile(r"<!--\s*more\s*-->")


def convert(
    body: str, first_line: int, origin: Path, constructs: list[Construct], media: Media
) -> str:
    """`body` with what has an equivalent converted and the files it uses at their new
    addresses (outside fenced code); the rest reported to the harvest (`first_line`: the
    file's line the body starts on)."""
    lines = body.split("\n")
    raw, fence = False, ""
    formulas: list[tuple[int, str]] = []  # (line, marker) of the TeX math found
    for index, line in enumerate(lines):
        number = first_line + index
        markers = _RAW.findall(line)
        if markers:  # text between raw markers is literal: nothing to report on this line
            raw = "endraw" not in markers[-1]
            lines[index] = _RAW.sub("", line)
            continue
        if raw:
            continue
        line = tags.convert(_FIGURE.sub(_image, _code_fence(line)))
        marker = _FENCE.match(line)
        if marker and marker.group(1) == (fence or marker.group(1)):
            fence = "" if fence else marker.group(1)
        elif not fence:
            line = media.line(line, number, origin)
            code = line.startswith(("    ", "\t"))  # an indented code block's line
            formulas += [] if code else [(number, found) for found in _MATH.findall(line)]
        # Hugo's escaped shortcode {{</* x */>}} shows {{< x >}} literally: nothing to do.
        lines[index] = _ESCAPED.sub(lambda m: m.group(1) + m.group(2) + m.group(3), line)
        line = _ESCAPED.sub("", line)
        for construct in constructs:
            for found in construct.pattern.finditer(line):
                shown = clip(found.group(0), SHOWN)
                media.found.fix(origin, number, construct.advice.format(found=shown))
    if formulas:  # one line a post: a formula's $$ are its two ends
        dollars = sum(found == "$$" for _, found in formulas)
        count = len(formulas) - dollars + (dollars + 1) // 2
        shown = f"{count} formula" + ("" if count == 1 else "s")
        media.found.fix(origin, formulas[0][0], MATH.format(count=shown))
    return "\n".join(lines)


def _code_fence(line: str) -> str:
    """A highlight block's opening or closing line as a Markdown code fence."""
    for pattern in _OPEN:
        match = pattern.match(line)
        if match:
            return f"{match.group(1)}```{match.group(2)}"
    for pattern in _CLOSE:
        match = pattern.match(line)
        if match:
            return f"{match.group(1)}```"
    return line


def _image(match: re.Match[str]) -> str:
    attributes = {m.group(1): m.group(2) or m.group(3) or "" for m in _ATTRIBUTE.finditer(match[1])}
    if not attributes.get("src"):
        return match.group(0)
    alt = attributes.get("alt") or attributes.get("title") or attributes.get("caption") or ""
    return f"![{alt}]({attributes['src']})"


def excerpt(body: str, marker: re.Pattern[str]) -> tuple[str, str]:
    """(body without the marker, the text before it as plain text for `summary:`); the
    summary is "" when there is no marker."""
    from publisher.content import markup  # lazy: Markdown, only when there is a marker

    found = marker.search(body)
    if not found:
        return body, ""
    before = body[: found.start()]
    return before + body[found.end() :], markup.plain_text(markup.render(before).html)
