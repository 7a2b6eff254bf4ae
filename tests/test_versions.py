"""The side-by-side comparison the editor shows when a save collides with a change on disk."""

from __future__ import annotations

from publisher.admin.pages.versions import Row, side_by_side


def test_changed_lines_face_each_other_with_context_and_gaps() -> None:
    theirs = "\n".join(f"line {n}" for n in range(1, 21)) + "\n"
    mine = theirs.replace("line 10\n", "line ten\nand more\n").replace("line 20\n", "")
    rows = side_by_side(theirs, mine, context=2)
    assert rows[0] is None  # lines 1 to 7 are the same and left out
    assert rows[1] == Row("same", 8, "line 8", 8, "line 8")
    assert Row("changed", 10, "line 10", 10, "line ten") in rows
    assert Row("changed", None, None, 11, "and more") in rows
    assert Row("removed", 20, "line 20", None, None) in rows
    assert rows.count(None) == 2  # before, and between the two changes
    assert side_by_side("same\n", "same\n") == []
