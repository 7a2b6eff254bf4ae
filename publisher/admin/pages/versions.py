"""Two versions of a post side by side, line against line: what the editor shows when a
save collides with a change made on disk (in git or another tab) since the page opened,
so nobody's work is lost silently."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the comparison: the disk's line and yours (None where a side has none),
    their numbers, and how they differ: same, changed, added (yours only), removed."""

    kind: str
    theirs_number: int | None
    theirs: str | None
    mine_number: int | None
    mine: str | None


def side_by_side(theirs: str, mine: str, context: int = 3) -> list[Row | None]:
    """The rows that differ with `context` unchanged lines around them; None stands for
    unchanged lines left out."""
    a, b = theirs.splitlines(), mine.splitlines()
    rows: list[Row | None] = []
    groups = list(difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context))
    for number, group in enumerate(groups):
        if number or group[0][1] > 0:
            rows.append(None)
        for tag, i1, i2, j1, j2 in group:
            rows.extend(_rows(tag, a, b, i1, i2, j1, j2))
    if rows and groups and groups[-1][-1][2] < len(a):
        rows.append(None)
    return rows


def _rows(tag: str, a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> list[Row]:
    kind = {"equal": "same", "replace": "changed", "insert": "added", "delete": "removed"}[tag]
    found = []
    for k in range(max(i2 - i1, j2 - j1)):
        i, j = i1 + k, j1 + k
        left = (i + 1, a[i]) if i < i2 else (None, None)
        right = (j + 1, b[j]) if j < j2 else (None, None)
        found.append(Row(kind, left[0], left[1], right[0], right[1]))
    return found
