"""Tick benchmark: wall time of whole `publisher tick` processes, start-up included.

On the repository's sample site and on a generated site of 5,000 ~1,000-word posts: the
first tick (back catalogue recorded, full build), then idle ticks (nothing due: what cron
pays every minute), then a tick that publishes one queued post (incremental rebuild).

    .venv/bin/python bench/tick_bench.py            # sample site and 5,000 posts
    .venv/bin/python bench/tick_bench.py 1000       # sample site and 1,000 posts

Targets on a 2-core machine: idle tick under 0.5 s (sample) and under 1.5 s (5,000 posts).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (  # the same corpus as the build benchmark
    CORPUS_SITE,
    PUBLISHER,
    TAGS,
    bench_env,
    body,
    copy_sample_site,
    measured,
    write_config,
)

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
IDLE_RUNS = 7


def tick(root: Path, now: datetime) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, summary line) of one `publisher tick` process."""
    done = measured([str(PUBLISHER), "tick", "--now", now.isoformat()], root, bench_env())
    return done.seconds, done.cpu, done.stdout.strip()


def generated_site(root: Path, count: int) -> None:
    rng = random.Random(count)
    write_config(
        root,
        CORPUS_SITE
        + textwrap.dedent("""\
            [newsletter]
            from_address = "news@bench.example.org"
            postal_address = "1 Bench St"
            """),
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
        copy_sample_site(sample)
        measure("sample site", sample)
        generated = Path(folder) / f"site-{count}"
        started = time.perf_counter()
        generated_site(generated, count)
        print(f"(generated {count:,} posts in {time.perf_counter() - started:.1f} s)")
        measure(f"{count:,} posts", generated)


if __name__ == "__main__":
    main()
