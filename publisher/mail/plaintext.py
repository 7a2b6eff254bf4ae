"""HTML to readable plain text, for the text part of every email.

A small renderer over `html.parser`: headings underlined, paragraphs separated by blank
lines, lists with `-` or `1.` markers, quotes with `> `, code blocks indented (a line too
long broken, its rest indented further), tables as aligned columns when they fit (else
one record per row), footnotes with superscript numbers (¹, so they never read as the
links' `[1]`), links as numbered references listed at the end, and every line wrapped at
78 columns. It was kept over the libraries: html2text is GPL; inscriptis (Apache-2.0) lays out
tables but neither wraps nor numbers links, so the sample posts' tables came out 160
columns wide and their links were lost.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from html.parser import HTMLParser

WIDTH = 78
BLOCKS = {"p", "div", "section", "article", "header", "footer", "figure", "figcaption", "dl"}
BLOCKS |= {"dt", "dd", "thead", "tbody", "tfoot", "center", "main", "aside", "nav"}
HEADINGS = {"h1": "=", "h2": "-", "h3": "~", "h4": "", "h5": "", "h6": ""}  # underlines
SKIPPED = {"script", "style", "head", "title", "template", "svg"}
SPACES = re.compile(r"\s+")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
CONTINUED = "  "  # further indentation of the rest of a code line too long for the width


@dataclass
class _ListState:
    ordered: bool
    count: int = 0
    notes: bool = False  # the footnotes' list: markers ¹


@dataclass
class _Table:
    rows: list[list[str]]
    header: bool = False  # the first row is a header row (th cells)


class _Renderer(HTMLParser):
    """Collects inline text into a buffer and turns it into wrapped lines at block ends."""

    def __init__(self, width: int) -> None:
        super().__init__(convert_charrefs=True)
        self.width = width
        self.lines: list[str] = []
        self.inline: list[str] = []
        self.links: list[str] = []
        self.lists: list[_ListState] = []
        self.quotes = 0
        self.marker = ""  # list marker waiting for the item's first line
        self.tight = False  # the next block follows without a blank line (list items, rows)
        self.skip = 0  # depth inside <script>, <style>, ...
        self.pre = 0
        self.href: list[str | None] = []  # open <a> targets
        self.link_start: list[int] = []
        self.table: _Table | None = None
        self.footnotes = False  # inside <div class="footnote">
        self.sups: list[int | None] = []  # open <sup>: where a footnote reference starts

    # --- parser callbacks -----------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self.skip += 1
        elif self.skip:
            return
        elif tag in ("table", "tr", "td", "th") or self.table:
            self.start_table_tag(tag)
        elif tag in BLOCKS or tag in HEADINGS:
            self.flush()
            self.footnotes |= tag == "div" and "footnote" in (dict(attrs).get("class") or "")
        elif tag in ("ul", "ol"):
            self.flush()
            self.lists.append(_ListState(ordered=tag == "ol", notes=self.footnotes))
        elif tag == "li":
            self.flush()
            state = self.lists[-1] if self.lists else _ListState(ordered=False)
            state.count += 1
            self.marker = f"{state.count}. " if state.ordered else "- "
            self.marker = (
                f"{state.count}".translate(SUPERSCRIPT) + " " if state.notes else self.marker
            )
            self.tight = state.count > 1 or len(self.lists) > 1
        elif tag == "blockquote":
            self.flush()
            self.quotes += 1
        elif tag == "pre":
            self.flush()
            self.pre += 1
        elif tag == "br":
            self.flush(tight_next=True)
        elif tag == "sup":
            footnote = (dict(attrs).get("id") or "").startswith("fnref")
            self.sups.append(len(self.inline) if footnote else None)
            self.inline.append("" if footnote else "^")
        elif tag == "hr":
            self.flush()
            self.emit(["-" * 20])
        elif tag == "img":
            alt = dict(attrs).get("alt") or ""
            if alt:
                self.inline.append(f"[{alt}]")
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))
            self.link_start.append(len(self.inline))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self.skip = max(0, self.skip - 1)
        elif self.skip:
            return
        elif self.table and tag in ("table", "tr", "td", "th"):
            self.end_table_tag(tag)
        elif tag in HEADINGS:
            self.flush(underline=HEADINGS[tag])
        elif tag == "sup" and self.sups:
            start = self.sups.pop()
            if start is not None:  # the footnote's number, raised
                self.inline[start:] = ["".join(self.inline[start:]).translate(SUPERSCRIPT)]
        elif tag in BLOCKS or tag == "li":
            self.flush()
            self.tight = False
        elif tag in ("ul", "ol"):
            self.flush()
            if self.lists:
                self.lists.pop()
            self.tight = False
        elif tag == "blockquote":
            self.flush()
            self.quotes = max(0, self.quotes - 1)
        elif tag == "pre":
            self.flush_pre()
            self.pre = max(0, self.pre - 1)
        elif tag == "a" and self.href:
            self.end_link(self.href.pop(), self.link_start.pop())

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.inline.append(data)

    # --- tables -----------------------------------------------------------------------

    def start_table_tag(self, tag: str) -> None:
        """Cells collect their text; the table is laid out at its end (`table_lines`)."""
        if tag == "table":
            self.flush()
            self.table = _Table([])
        elif self.table is None:
            return
        elif tag == "tr":
            self.table.rows.append([])
        elif tag in ("td", "th"):
            self.inline.clear()
            self.table.header |= tag == "th" and len(self.table.rows) == 1

    def end_table_tag(self, tag: str) -> None:
        table = self.table
        if tag in ("td", "th") and table.rows:
            table.rows[-1].append(SPACES.sub(" ", "".join(self.inline)).strip())
            self.inline.clear()
        elif tag == "table":
            self.table = None
            self.inline.clear()
            if table.rows:
                self.emit([self.indent() + line for line in table_lines(table, self.width)])
            self.tight = False

    # --- output -----------------------------------------------------------------------

    def end_link(self, href: str | None, start: int) -> None:
        """Number the link after its text; a link whose text is its URL needs no number."""
        text = SPACES.sub(" ", "".join(self.inline[start:])).strip()
        if not href or href.startswith("#") or text == href or not text:
            return
        if href.startswith("mailto:") and text == href[7:]:
            return
        if href not in self.links:
            self.links.append(href)
        self.inline.append(f" [{self.links.index(href) + 1}]")

    def indent(self) -> str:
        """Prefix of every line in the current block: quote marks and list indentation."""
        return "> " * self.quotes + "  " * max(0, len(self.lists) - 1)

    def emit(self, lines: list[str], tight: bool = False) -> None:
        if self.lines and not tight and self.lines[-1].strip("> "):
            inside_quote = self.quotes and self.lines[-1].startswith(">")
            self.lines.append(">" if inside_quote else "")
        self.lines.extend(lines)

    def flush(self, underline: str = "", tight_next: bool = False) -> None:
        if self.pre:
            return
        text = SPACES.sub(" ", "".join(self.inline)).strip()
        self.inline.clear()
        if text:
            first = self.indent() + self.marker
            rest = self.indent() + " " * len(self.marker)
            lines = textwrap.wrap(
                text,
                width=self.width,
                initial_indent=first,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )
            if underline:
                lines.append(underline * min(len(text), self.width))
            self.emit(lines, tight=self.tight)
            self.marker = ""
            self.tight = tight_next
        elif tight_next:
            self.tight = True

    def flush_pre(self) -> None:
        """Code keeps its line breaks and spacing, indented four spaces; a line too long
        for the width is broken (after a space when it has one) and its rest indented
        further, so no line of the text part runs off a phone's screen."""
        code = "".join(self.inline).strip("\n")
        self.inline.clear()
        prefix = self.indent() + "    "
        lines = []
        for line in code.splitlines():
            lines += code_lines(prefix + line.rstrip(), prefix + CONTINUED, self.width)
        if lines:
            self.emit(lines)
        self.tight = False

    def result(self) -> str:
        self.close()
        self.flush()
        text = "\n".join(self.lines).strip("\n")
        if self.links:
            refs = [f"[{n}] {url}" for n, url in enumerate(self.links, 1)]
            text += "\n\n" + "\n".join(refs)
        return text + "\n" if text else ""


def code_lines(line: str, continued: str, width: int) -> list[str]:
    """`line` of code in pieces of at most `width` columns, each after the first starting
    with `continued`; cut after the last space that leaves some code on the line."""
    pieces = []
    while len(line) > width:
        cut = line.rfind(" ", len(continued) + 1, width) + 1 or width
        if not line[:cut].strip():
            cut = width
        pieces.append(line[:cut].rstrip())
        line = continued + line[cut:].lstrip(" ")
    return [*pieces, line]


def table_lines(table: _Table, width: int) -> list[str]:
    """Aligned columns, a rule under the header row, when the table fits in `width`;
    otherwise each row as a record: its first cell, then `Header: value` lines, wrapped."""
    columns = max(len(row) for row in table.rows)
    rows = [row + [""] * (columns - len(row)) for row in table.rows]
    widths = [max(len(row[n]) for row in rows) for n in range(columns)]
    if sum(widths) + 2 * (columns - 1) <= width:
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        if table.header:
            lines.insert(1, "  ".join("-" * w for w in widths))
        return lines
    header, body = (rows[0], rows[1:]) if table.header else ([""] * columns, rows)
    lines: list[str] = []
    for row in body:
        lines += [""] if lines else []
        lines += textwrap.wrap(row[0], width, break_long_words=False, break_on_hyphens=False)
        for name, cell in zip(header[1:], row[1:], strict=True):
            text = f"{name}: {cell}" if name else cell
            lines += (
                textwrap.wrap(
                    text,
                    width,
                    initial_indent="  ",
                    subsequent_indent="    ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
                if text
                else []
            )
    return lines


def html_to_text(html: str, width: int = WIDTH) -> str:
    """Readable plain text of an HTML fragment or page, links numbered at the end."""
    renderer = _Renderer(width=width)
    renderer.feed(html)
    return renderer.result()
