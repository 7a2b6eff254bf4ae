"""Store benchmark: import a generated CSV into SQLite (twice: the second run changes
nothing), then iterate the active subscribers in id order.

    .venv/bin/python bench/store_bench.py [--rows 1000000] [--url sqlite:///...] [--keep DIR]

Each measured step runs in its own process, so its peak RSS is its own. Targets on a
2-core machine: 1,000,000 rows imported in under 60 s with peak RSS under 200 MB.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import cpu_seconds, peak_rss_mb

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def generate(path: Path, rows: int) -> None:
    """email, name, frequency; one row in 50 repeats an earlier address (a duplicate)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Name", "Frequency"])
        for number in range(rows):
            who = number - 7 if number % 50 == 49 else number
            frequency = "digest" if number % 4 == 0 else "each"
            writer.writerow([f"Reader.{who}@Example{who % 97}.org", f"Reader {who}", frequency])


def step_import(url: str, root: Path, path: Path) -> dict:
    from publisher import store

    opened = store.open_store(url, root)
    started, cpu = time.perf_counter(), cpu_seconds()
    summary = store.import_csv(opened, path, now=NOW)
    seconds = time.perf_counter() - started
    opened.close()
    return {
        "seconds": seconds,
        "cpu": cpu_seconds() - cpu,
        "rows": summary.rows,
        "added": summary.added,
        "skipped": summary.skipped,
        "peak_rss_mb": peak_rss_mb(),
    }


def step_iterate(url: str, root: Path) -> dict:
    from publisher import store

    opened = store.open_store(url, root)
    started, cpu = time.perf_counter(), cpu_seconds()
    count = sum(1 for _ in store.iter_active(opened))
    seconds = time.perf_counter() - started
    opened.close()
    return {
        "seconds": seconds,
        "cpu": cpu_seconds() - cpu,
        "rows": count,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_step(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--step", *args], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", help="Database URL (default: a fresh SQLite file).")
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it.")
    parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.step:
        kind, url, root, *rest = options.step
        outcome = (
            step_import(url, Path(root), Path(rest[0]))
            if kind == "import"
            else step_iterate(url, Path(root))
        )
        print(json.dumps(outcome))
        return

    with tempfile.TemporaryDirectory() as scratch:
        folder = options.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        url = options.url or f"sqlite:///{folder / 'bench.db'}"
        path = folder / "subscribers.csv"
        started = time.perf_counter()
        generate(path, options.rows)
        size = path.stat().st_size / 1e6
        print(
            f"generated {options.rows:,} rows ({size:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )

        for label in ("import", "re-import (changes nothing)"):
            imported = run_step("import", url, str(folder), str(path))
            rate = imported["rows"] / imported["seconds"]
            print(
                f"{label}: {imported['rows']:,} rows, {imported['added']:,} added, skipped "
                f"{imported['skipped']} in {imported['seconds']:.1f} s "
                f"({imported['cpu']:.1f} s CPU) = {rate:,.0f} rows/s, "
                f"peak RSS {imported['peak_rss_mb']:.0f} MB"
            )
        iterated = run_step("iterate", url, str(folder))
        rate = iterated["rows"] / iterated["seconds"]
        print(
            f"iterate active in id order: {iterated['rows']:,} rows in "
            f"{iterated['seconds']:.1f} s ({iterated['cpu']:.1f} s CPU) = {rate:,.0f} rows/s, "
            f"peak RSS {iterated['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
