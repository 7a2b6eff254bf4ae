"""docs/run/backups.md, run as written: the SQLite store copied online with the page's own
command, then put back in place; the restored store is the backup's, and works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, run_publisher


def documented_python_backup() -> str:
    page = (REPO / "docs" / "run" / "backups.md").read_text(encoding="utf-8")
    return re.search(r'^python3 -c "import sqlite3.*"$', page, re.M).group(0)


def test_the_documented_sqlite_backup_restores_the_store_as_it_was(site: Path) -> None:
    for email in ("ann@example.org", "bob@example.org"):
        assert run_publisher("subscribers", "add", email).returncode == 0
    (site / "backups").mkdir()
    command = documented_python_backup().replace("python3", sys.executable, 1)
    subprocess.run(command, shell=True, check=True, cwd=site)
    assert run_publisher("subscribers", "forget", "bob@example.org").returncode == 0

    store = site / "data" / "publisher.db"
    for leftover in ("publisher.db-wal", "publisher.db-shm"):
        (site / "data" / leftover).unlink(missing_ok=True)
    copy = next((site / "backups").glob("publisher-*.db"))
    store.write_bytes(copy.read_bytes())
    os.chmod(store, 0o600)

    listed = run_publisher("subscribers", "list", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    assert "bob@example.org" in listed.stdout  # erased after the copy: back, as the page warns
    assert run_publisher("subscribers", "add", "cat@example.org").returncode == 0
    assert re.search(r"^total\s+3$", run_publisher("subscribers", "count").stdout, re.M)
