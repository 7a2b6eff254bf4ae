"""Any post text at all is either accepted or refused in short lines, never a crash.

Hypothesis writes front matter from YAML's own syntax (anchors, tags, flow collections,
block scalars, quotes) and bodies from Markdown's (brackets, emphasis, HTML, code),
nested at random, as well as arbitrary text.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.cli import main
from publisher.content import foreign, frontmatter
from publisher.content import posts as content

TZ = ZoneInfo("America/Chicago")
LINE_CAP = frontmatter.MESSAGE_CHARS + len("posts/p.md:99999: ")
SETTINGS = settings(max_examples=60, deadline=None)

YAML_PIECES = [
    "title", "date", "tags", "slug", "draft", "summary", "x", ":", ": ", " ", "-", "- ",
    "&a ", "*a", "!!str ", "!!python/object:os.system ", "!foo ", "[", "]", "{", "}", ",",
    '"', "'", "|", ">", "#", "%YAML 1.1", "? ", "\n", "\n  ", "\t", "2026-03-02", "09:00",
    "2026-02-30", "true", "maybe", "~", "null", "1e999", "0x1F", "\\n", "\u2028", "\x00",
    "caf\u00e9", "9" * 50,
]  # fmt: skip
MARKDOWN_PIECES = [
    "[", "]", "(", ")", "![", "](", "*", "**", "_", "`", "```", "<a ", "<div>", "</div>",
    "<!--", "-->", ">", "&amp;", "&#", "\\", "#", "- ", "1. ", "> ", "|", "---", "[^1]",
    "[^1]: ", "http://x.org", " ", "\n", "\n\n", "    ", "word", "'", '"', "--", "...",
]  # fmt: skip


def joined(pieces: list[str], size: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces) | st.text(max_size=4), max_size=size).map("".join)


def nested(pieces: list[str]) -> st.SearchStrategy[str]:
    """Pieces wrapped in one another: [[*a*]], {a: [b, {c: d}]} and deeper."""
    return st.recursive(
        joined(pieces, 8),
        lambda inner: st.tuples(st.sampled_from(pieces), inner, st.sampled_from(pieces)).map(
            "".join
        ),
        max_leaves=40,
    )


FRONT = st.one_of(joined(YAML_PIECES, 60), nested(YAML_PIECES), st.text(max_size=200)).map(
    lambda text: f"title: Sleep\ndate: 2026-03-02\n{text}"
)
BODY = st.one_of(joined(MARKDOWN_PIECES, 200), nested(MARKDOWN_PIECES), st.text(max_size=300))
RAW = st.binary(max_size=300) | st.builds(
    lambda front, body: f"---\n{front}\n---\n{body}".encode(), FRONT, BODY
)


def assert_short(result: content.FileResult) -> None:
    assert (result.post is None) == bool(result.errors)
    for line, message in result.errors:
        assert line >= 1 and "\n" not in message
        assert len(message) <= frontmatter.MESSAGE_CHARS
    for warning in result.warnings:
        assert len(warning) <= frontmatter.MESSAGE_CHARS


@SETTINGS
@given(FRONT, BODY)
def test_any_front_matter_and_body_parse_or_give_short_errors(front: str, body: str) -> None:
    assert_short(content.parse_post("posts/p.md", f"---\n{front}\n---\n{body}".encode(), TZ))


@SETTINGS
@given(RAW)
def test_any_bytes_parse_or_give_short_errors(data: bytes) -> None:
    assert_short(content.parse_post("posts/p.md", data, TZ))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(RAW)
def test_check_command_exits_0_or_2_with_short_lines(site: Path, data: bytes) -> None:
    (site / "posts" / "p.md").write_bytes(data)
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for line in result.stderr.splitlines():
        assert len(line) <= LINE_CAP + len("warning: "), line


# Pieces of other engines' syntax and of ordinary prose, mixed at random.
LEFTOVER_PIECES = st.lists(
    st.sampled_from(
        [
            "{{ x }}",
            "{% if %}",
            "{{< youtube a >}}",
            "{filename}/a.md",
            "|static|b.png",
            "|attach}c.pdf",
            "<SCRIPT>",
            "<iframe src=x>",
            "JavaScript:go()",
            "javascript:",
            "plain words",
            "| a | b |",
            "<b>",
            "{",
            "}",
            "%",
            "\n",
            "`code`",
            "    indented",
        ]
    ),
    max_size=12,
).map("".join)


@SETTINGS
@given(LEFTOVER_PIECES)
def test_the_quick_look_for_leftovers_never_misses_one(text: str) -> None:
    """`leftovers` skips a post's search when no telltale is in it: whatever the search
    would find holds one."""
    if foreign._LEFTOVER.search(text):
        assert foreign._may_hold_leftovers(text)
