"""Build benchmark: N synthetic ~1,000-word posts, full build, then one post changed.

Every figure is a whole `publisher build` process (start-up included), run through a small
wrapper so that peak memory (`ru_maxrss` of the process and its workers) is per run.

    .venv/bin/python bench/build_bench.py                 # N = 1000 and 5000
    .venv/bin/python bench/build_bench.py 1000 --pelican /tmp/pelican-venv
    .venv/bin/python bench/build_bench.py 5000 --corpus /tmp/corpora --runs 3  # min, median

`--pelican VENV` times Pelican on the same corpus (its own metadata format, same Markdown
extensions, content cache on) with the Python of that virtualenv.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

PUBLISHER = Path(sys.executable).parent / "publisher"
WORDS = " ".join(
    [
        "sleep mood anxiety therapy patient clinic brain serotonin routine evidence study",
        "light morning evening walk nutrition omega inflammation stress cortisol habit",
        "support family medication dose trial result review symptom recovery balance",
        "practice breathing mindful journal energy focus attention memory gut vitamin",
    ]
).split(" ")
TAGS = [f"Topic {name}" for name in "ABCDEFGHIJKLMNOPQRSTUVWXYZ1234"]  # a pool of 30
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "took = time.perf_counter() - start\n"
    "sys.stderr.write(done.stderr)\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "cpu = usage.ru_utime + usage.ru_stime\n"
    "print(f'{took} {cpu} {usage.ru_maxrss} {done.returncode}')\n"
)


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def body(rng: random.Random, number: int) -> str:
    """About 1,000 words: sections with headings, paragraphs, lists, links, some bold."""
    parts = []
    for section in range(6):
        parts.append(f"## Section {section + 1}: {rng.choice(WORDS)} and {rng.choice(WORDS)}")
        for _ in range(3):
            text = " ".join(sentence(rng) for _ in range(4))
            parts.append(text.replace(" brain ", " **brain** ", 1))
        items = [f"- {sentence(rng)} See [post {number - 1}](/posts/post-{number - 1}/)."]
        items += [f"{i}. {sentence(rng)}" for i in range(1, 4)] if section % 2 else []
        parts.append("\n".join(items))
    return "\n\n".join(parts) + "\n"


def write_corpus(root: Path, count: int) -> None:
    rng = random.Random(count)
    (root / "config").mkdir(parents=True)
    (root / "config/site.toml").write_text(
        textwrap.dedent("""\
            [site]
            title = "Bench"
            url = "https://bench.example.org"
            timezone = "America/Chicago"
            """)
    )
    pelican = root / "pelican/content"
    pelican.mkdir(parents=True)
    for number in range(count):
        day = f"20{10 + number // 365 % 15:02}-{number % 12 + 1:02}-{number % 28 + 1:02} 09:00"
        tags = rng.sample(TAGS, rng.randint(1, 4))
        text = body(rng, number)
        (root / "posts").mkdir(exist_ok=True)
        (root / f"posts/post-{number}.md").write_text(
            f"---\ntitle: Post {number}\nslug: post-{number}\ndate: {day}\n"
            f"tags: [{', '.join(tags)}]\n---\n\n{text}"
        )
        (pelican / f"post-{number}.md").write_text(
            f"Title: Post {number}\nSlug: post-{number}\nDate: {day}\n"
            f"Tags: {', '.join(tags)}\n\n{text}"
        )
    (root / "pelican/pelicanconf.py").write_text(
        textwrap.dedent("""\
            SITENAME = "Bench"
            SITEURL = "https://bench.example.org"
            TIMEZONE = "America/Chicago"
            PATH = "content"
            ARTICLE_URL = ARTICLE_SAVE_AS = "posts/{slug}/index.html"
            DEFAULT_PAGINATION = 10
            FEED_ALL_ATOM = "feed.xml"
            CACHE_CONTENT = True
            LOAD_CONTENT_CACHE = True
            PLUGINS = ["pelican.plugins.sitemap"]
            SITEMAP = {"format": "xml"}
            MARKDOWN = {
                "extension_configs": {
                    "markdown.extensions.extra": {},
                    "markdown.extensions.toc": {"permalink": True},
                    "markdown.extensions.codehilite": {"css_class": "highlight"},
                    "markdown.extensions.smarty": {},
                    "markdown.extensions.sane_lists": {},
                },
                "output_format": "html5",
            }
            """)
    )


@dataclass
class Run:
    seconds: float  # wall clock
    cpu: float  # user + system, all processes: less sensitive to a busy machine
    peak_mb: int

    def __str__(self) -> str:
        return f"{self.seconds:.2f} s ({self.cpu:.2f} s CPU, {self.peak_mb} MB peak)"


def timed(command: list[str], cwd: Path) -> Run:
    """One whole process and its workers, measured from outside."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], cwd=cwd, capture_output=True, text=True
    )
    seconds, cpu, peak, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stderr}")
    return Run(float(seconds), float(cpu), int(peak) // 1024)


def touch_one(path: Path) -> None:
    path.write_text(path.read_text() + "\nOne more sentence, changed for the benchmark.\n")


def fresh(root: Path) -> None:
    """Delete the output and caches of earlier builds, so the next build is a full one."""
    for path in [root / "data", *root.glob("public*")]:
        shutil.rmtree(path, ignore_errors=True)


def run(count: int, pelican: Path | None, corpus: Path | None, runs: int) -> None:
    if corpus:
        root = corpus / f"bench-{count}"
        if not (root / "posts").is_dir():
            shutil.rmtree(root, ignore_errors=True)
            write_corpus(root, count)
    else:
        root = Path(tempfile.mkdtemp(prefix=f"bench-{count}-"))
        write_corpus(root, count)
    try:
        build = [str(PUBLISHER), "build"]
        measured: list[tuple[Run, Run, Run]] = []
        for _ in range(runs):
            fresh(root)
            full = timed(build, root)
            unchanged = timed(build, root)
            touch_one(root / f"posts/post-{count // 2}.md")
            measured.append((full, timed(build, root), unchanged))
        pages = len(list((root / "public").rglob("*.html")))
        print(f"publisher, {count} posts ({pages} pages), load average {os.getloadavg()[0]:.1f}")
        for full, one, unchanged in measured:
            print(f"  full build          {full}")
            print(
                f"  one post changed    {one}: {one.seconds / full.seconds:.1%} of the full build"
            )
            print(f"  nothing changed     {unchanged}")
        if runs > 1:
            for label, column in zip(
                ("full", "one changed", "unchanged"), zip(*measured, strict=True), strict=True
            ):
                seconds = [r.seconds for r in column]
                print(
                    f"  {label:<18}  min {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s"
                )
        if pelican:
            command = [str(pelican / "bin/pelican"), "content", "-s", "pelicanconf.py", "-o", "out"]
            folder = root / "pelican"
            p_full = timed(command, folder)
            touch_one(folder / f"content/post-{count // 2}.md")
            p_one = timed(command, folder)
            print(f"pelican, {count} posts, load average {os.getloadavg()[0]:.1f}")
            print(f"  full build          {p_full}")
            print(f"  one post changed    {p_one}")
            print(f"  publisher's full build is {p_full.seconds / full.seconds:.1f}x faster")
    finally:
        if not corpus:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[1000, 5000])
    parser.add_argument("--pelican", type=Path, help="virtualenv with pelican installed")
    parser.add_argument(
        "--corpus",
        type=Path,
        help="folder to keep the corpora in and reuse them from (default: a new temporary one)",
    )
    parser.add_argument("--runs", type=int, default=1, help="measure each figure this many times")
    args = parser.parse_args()
    started = time.perf_counter()
    for count in args.counts:
        run(count, args.pelican, args.corpus, args.runs)
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
