"""The sample site built at a fixed time, compared file by file with the stored expected
output in tests/expected/sample-site/ (as Pelican compares against tests/output/basic).

Real parts: the repository's own config/, posts/ and templates/, `publisher build` in a
real process, the files it writes. At NOW the post of 2027-01-12 is still queued, so it
must not appear anywhere. Static files are copied, not built: they are compared with the
theme's own (templates/site/static/) rather than stored a second time.

When a change to the output is intended, rewrite the expected tree and review it:

    PUBLISHER_REGENERATE=1 .venv/bin/python -m pytest tests/test_golden.py
    (or: .venv/bin/python -m pytest tests/test_golden.py --regenerate)
    git diff --stat tests/expected/
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from conftest import REPO, copy_sample_site, run_publisher

NOW = "2026-12-01T12:00:00+00:00"
EXPECTED = REPO / "tests" / "expected" / "sample-site"
THEME_STATIC = REPO / "publisher" / "templates" / "site" / "static"
SITE_STATIC = REPO / "templates" / "site" / "static"  # the sample site's own, over the theme's
TEXT = {".html", ".xml", ".txt", ".css", ".svg", ".json", ".js"}  # compared as text


def build(root: Path) -> Path:
    """`publisher build --now NOW` in `root`; the output folder."""
    done = run_publisher("build", "--now", NOW, cwd=root)
    assert done.returncode == 0, done.stderr
    return root / "public"


def files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def expected_files() -> dict[str, Path]:
    """The stored pages, feeds and generated static/theme.css, and the static files
    (theme's, then site's) the build copies."""
    static = files(THEME_STATIC) | files(SITE_STATIC)
    return files(EXPECTED) | {f"static/{name}": path for name, path in static.items()}


def difference(expected: Path, actual: Path, name: str) -> str:
    """A readable account of how the built file differs from the expected one, or ""."""
    want, got = expected.read_bytes(), actual.read_bytes()
    if want == got:
        return ""
    if Path(name).suffix not in TEXT:
        return f"{name}: {len(got):,} bytes differ from the expected {len(want):,} bytes"
    diff = difflib.unified_diff(
        want.decode("utf-8").splitlines(keepends=True),
        got.decode("utf-8").splitlines(keepends=True),
        fromfile=f"expected/{name}",
        tofile=f"built/{name}",
    )
    return "".join(diff)


def test_sample_site_matches_the_expected_output(sample_site: Path, regenerate: bool) -> None:
    built = build(sample_site)
    if regenerate:
        shutil.rmtree(EXPECTED, ignore_errors=True)
        copied = {f"static/{name}" for name in files(THEME_STATIC) | files(SITE_STATIC)}
        shutil.copytree(
            built,
            EXPECTED,
            ignore=lambda folder, names: [
                n for n in names if (Path(folder) / n).relative_to(built).as_posix() in copied
            ],
        )
        pytest.skip(f"rewrote {EXPECTED.relative_to(REPO)}: review it with git diff")
    assert EXPECTED.is_dir(), "no expected output: run this test once with --regenerate"
    want, got = expected_files(), files(built)
    assert sorted(got) == sorted(want), (
        f"missing: {sorted(set(want) - set(got))}, unexpected: {sorted(set(got) - set(want))}"
    )
    for name in want:
        diff = difference(want[name], got[name], name)
        if diff:
            pytest.fail(f"{name} differs from the expected output:\n{diff}", pytrace=False)


def test_the_queued_post_is_not_published(sample_site: Path) -> None:
    """The expected output is only worth comparing if NOW keeps 2027-01-12 queued."""
    built = build(sample_site)
    queued = "winter-blues"
    assert not [name for name in files(built) if queued in name]
    assert not [name for name, path in files(built).items() if queued.encode() in path.read_bytes()]


def test_two_builds_are_byte_identical(tmp_path: Path, sample_site: Path) -> None:
    """Different folders, different moments: the same bytes (what the comparison rests on)."""
    first = files(build(sample_site))
    second = files(build(copy_sample_site(tmp_path / "again")))
    assert sorted(first) == sorted(second)
    assert [n for n in first if first[n].read_bytes() != second[n].read_bytes()] == []
