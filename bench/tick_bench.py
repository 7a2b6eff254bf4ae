"""Tick benchmark: wall time of whole `publisher tick` processes, start-up included.

On the repository's sample site and on a generated site of 5,000 ~1,000-word posts: the
first tick (back catalogue recorded, full build), then idle ticks (nothing due: what cron
pays every minute), then a tick that publishes one queued post (incremental rebuild).

    .venv/bin/python bench/tick_bench.py            # sample site and 5,000 posts
    .venv/bin/python bench/tick_bench.py 1000       # sample site and 1,000 posts

Targets on a 2-core machine: idle tick under 0.5 s (sample) and under 1.5 s (5,000 posts).
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from build_bench import TAGS, body  # noqa: E402  (the same corpus as the build benchmark)

REPO = Path(__file__).resolve().parent.parent
PUBLISHER = Path(sys.executable).parent / "publisher"
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
IDLE_RUNS = 7


def tick(root: Path, now: datetime) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, summary line) of one `publisher tick` process."""
    env = {**os.environ, "PUBLISHER_SECRET_KEY": "bench"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [str(PUBLISHER), "tick", "--now", now.isoformat()],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"tick failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return took, cpu, done.stdout.strip()


def sample_site(root: Path) -> None:
    for name in ("config", "posts", "templates"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, root / name)


def generated_site(root: Path, count: int) -> None:
    rng = random.Random(count)
    (root / "config").mkdir(parents=True)
    (root / "config/site.toml").write_text(
        textwrap.dedent("""\
            [site]
            title = "Bench"
            url = "https://bench.example.org"
            timezone = "America/Chicago"
            [newsletter]
            from_address = "news@bench.example.org"
            postal_address = "1 Bench St"
            """)
    )
    (root / "posts").mkdir()
    for number in range(count):
        day = NOW - timedelta(hours=6 * (count - number))
        tags = ", ".join(rng.sample(TAGS, rng.randint(1, 4)))
        front = f"title: Post {number}\ndate: {day.isoformat()}\ntags: [{tags}]\n"
        text = f"---\n{front}---\n\n{body(rng, number)}"
        (root / "posts" / f"post-{number}.md").write_text(text, encoding="utf-8")


def measure(name: str, root: Path) -> None:
    first = tick(root, NOW)[0]
    idle = [tick(root, NOW + timedelta(minutes=1 + n)) for n in range(IDLE_RUNS)]
    walls, cpus = [run[0] for run in idle], [run[1] for run in idle]
    (root / "posts" / "queued.md").write_text(
        f"---\ntitle: Queued\ndate: {(NOW + timedelta(minutes=30)).isoformat()}\n---\n\nNew.\n"
    )
    tick(root, NOW + timedelta(minutes=20))  # sees the new file (parsed once, not live)
    publish, _, line = tick(root, NOW + timedelta(minutes=31))
    print(
        f"{name}: idle tick {min(walls):.2f} s best, {statistics.median(walls):.2f} s median "
        f"wall ({statistics.median(cpus):.2f} s CPU) over {IDLE_RUNS} runs; "
        f"first tick (full build) {first:.2f} s; tick publishing one post {publish:.2f} s"
    )
    print(f"  {line}")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder) / "sample"
        sample_site(sample)
        measure("sample site", sample)
        generated = Path(folder) / f"site-{count}"
        started = time.perf_counter()
        generated_site(generated, count)
        print(f"(generated {count:,} posts in {time.perf_counter() - started:.1f} s)")
        measure(f"{count:,} posts", generated)


if __name__ == "__main__":
    main()
