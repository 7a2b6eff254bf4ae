"""Start-up: the commands cron and people run often import only what they use.

Measured with `python -X importtime` in a real process. The only figure compared with a
number is the import time of `publisher --version`, as the best of a few runs: the
machine's other work can only make a run slower, never faster.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from publisher.storefile import store_exists

from conftest import run_publisher

# What the light commands must not import: the email renderer (premailer, cssutils, lxml),
# the templates (Jinja), Markdown, the web app, PostgreSQL's dialect and driver.
HEAVY = ("premailer", "cssutils", "lxml", "jinja2", "markdown", "pygments", "starlette")
NOT_IN_USE = ("sqlalchemy.dialects.postgresql", "psycopg")
TOP_LEVEL = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$")


def importtime(*args: str, cwd: Path | None = None) -> tuple[set[str], float]:
    """The modules `publisher ARGS` imports, and the milliseconds its imports took (the
    sum of every top-level import's cumulative time, the interpreter's own included).
    Bytecode is written and reused, as an installed publisher's is."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "publisher", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import")}
    tops = [TOP_LEVEL.match(line) for line in lines]
    return imported, sum(int(match.group(1)) for match in tops if match) / 1000


def heavy(imported: set[str], *more: str) -> set[str]:
    unwanted = HEAVY + NOT_IN_USE + more
    return {name for name in imported if name.split(".")[0] in unwanted or name in unwanted}


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_neither_the_store_nor_the_renderers(flag: str) -> None:
    """`--help` lists every command's summary, which loads every command module: those
    import the library when they run, not when they are loaded."""
    imported, _ = importtime(flag)
    assert heavy(imported, "sqlalchemy", "rich", "email_validator", "dkim") == set()


def test_version_takes_under_150_ms_of_imports() -> None:
    """About 40 ms on a quiet 2-core machine; a loaded one stretches a run several times,
    so up to ten runs are made and the quickest counts."""
    best = float("inf")
    for _ in range(10):
        best = min(best, importtime("--version")[1])
        if best < 150:
            break
    assert best < 150, f"publisher --version spent {best:.0f} ms importing (best of 10)"


def test_queue_posts_and_an_idle_tick_import_no_renderer(sample_site: Path) -> None:
    """What cron runs every few minutes, and what staff type to look: the store (SQLite's
    dialect only) and the posts' front matter, no email renderer, template or Markdown."""
    now = "2026-12-01 09:00"
    first = run_publisher("tick", "--now", now, cwd=sample_site)
    assert first.returncode == 0, first.stderr
    for command in (["queue"], ["posts"], ["tick"]):
        imported, _ = importtime(*command, "--now", now, cwd=sample_site)
        assert "sqlalchemy.dialects.sqlite" in imported
        assert heavy(imported) == set(), command


def test_a_build_without_a_store_imports_neither_sqlalchemy_nor_cryptography(
    sample_site: Path,
) -> None:
    """The site's email archive is read from the store when there is one; a site that never
    sent anything has none, and its builds (every edit, a one-post rebuild in a fraction of
    a second) need not import SQLAlchemy (a fifth of a second) or DKIM's cryptography."""
    imported, _ = importtime("build", cwd=sample_site)
    assert not (sample_site / "data/publisher.db").exists()
    assert {n for n in imported if n.split(".")[0] in ("sqlalchemy", "cryptography")} == set()


@pytest.mark.parametrize(
    ("url", "exists"),
    [
        ("sqlite:///data/publisher.db", True),
        ("sqlite:///data/other.db", False),
        ("sqlite+pysqlite:///data/publisher.db?timeout=5", True),
        ("sqlite:///{root}/data/publisher.db", True),
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("postgresql://postgres@127.0.0.1:5432/test", True),
    ],
)
def test_whether_a_store_exists_is_read_from_the_url_and_the_disk(
    tmp_path: Path, url: str, exists: bool
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/publisher.db").touch()
    assert store_exists(url.format(root=tmp_path), tmp_path) is exists
