"""Judge the checked-out commit for `git bisect run`: is a one-post rebuild slow?

    .venv/bin/python bench/build_bench.py 1000 --corpus /tmp/corpora --runs 1   # a corpus
    cp bench/build_bisect.py /tmp/                     # older commits do not have it
    git bisect start BAD GOOD
    git bisect run .venv/bin/python /tmp/build_bisect.py /tmp/corpora/bench-1000 \\
        --tree . --over 1500

The figure is the instructions (millions) a one-post rebuild of the corpus executes, counted
by `valgrind --tool=callgrind`: on a machine shared with other work, wall and CPU time
moved by half between runs of the same code, the instruction count by a few percent.
`--full` counts the full build's CPU seconds instead (callgrind would take many minutes).
The code of `--tree` runs (on PYTHONPATH), with cached bytecode as an installed publisher.
Exit 0 is good, 1 bad, 125 a commit that cannot build the corpus (git skips it). Under
callgrind a build runs some 50 times slower: on a machine loaded several times over,
the changed post can reach the 10 s limit on turning a text into HTML, and the
commit is skipped; run it again when the machine is quieter.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def build(root: Path, tree: Path, callgrind: bool = False) -> float:
    """One `publisher build` in `root`: its millions of instructions with `callgrind`, else
    its CPU seconds (workers included)."""
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "publisher", "build"]
    if callgrind:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-2000:])
        raise SystemExit(125)
    if callgrind:
        return int(re.search(r"Collected : (\d+)", done.stderr).group(1)) / 1e6
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a site made by bench/build_bench.py")
    parser.add_argument("--tree", type=Path, default=Path("."), help="the checkout to run")
    parser.add_argument("--over", type=float, required=True, help="bad above this figure")
    parser.add_argument("--full", action="store_true", help="the full build's CPU seconds")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="build-bisect-")) / "site"
    shutil.copytree(args.corpus, root, ignore=shutil.ignore_patterns("public*", "data", "pelican"))
    try:
        if args.full:
            figure = build(root, args.tree)
        else:
            build(root, args.tree)  # the full build the rebuild starts from
            build(root, args.tree)  # bytecode cached, output recycled
            posts = sorted((root / "posts").glob("*.md"))
            post = posts[len(posts) // 2]
            post.write_text(post.read_text() + "\nOne more sentence, changed for the bench.\n")
            figure = build(root, args.tree, callgrind=True)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], cwd=args.tree, capture_output=True, text=True
    ).stdout.strip()[:72]
    unit = "s of CPU, full build" if args.full else "M instructions, one post changed"
    print(f"{commit}: {figure:,.2f} {unit}", flush=True)
    raise SystemExit(1 if figure > args.over else 0)


if __name__ == "__main__":
    main()
