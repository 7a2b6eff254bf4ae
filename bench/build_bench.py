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
import tempfile
import textwrap
import time
from pathlib import Path

from common import CORPUS_SITE, PUBLISHER, TAGS, Run, body, measured, write_config


def write_corpus(root: Path, count: int) -> None:
    rng = random.Random(count)
    write_config(root, CORPUS_SITE)
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


def timed(command: list[str], cwd: Path) -> Run:
    """One whole process and its workers, measured from outside."""
    return measured(command, cwd)


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
            for made in ("cache", "out"):  # a corpus kept by --corpus keeps Pelican's too
                shutil.rmtree(folder / made, ignore_errors=True)
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
