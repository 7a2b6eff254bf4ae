"""One import: the chosen tool's importer reads the old blog, `writing` writes the posts and
copies the files they use, and `publisher check` runs on the result, so the import is
done when its summary says so: every remaining problem is in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from publisher.config import Config
from publisher.importers import feeds, hugo, jekyll, pelican, tree, writing
from publisher.importers.model import Harvest, Skip

TOOLS: dict[str, Callable[[Path, Config], Harvest]] = {
    "jekyll": jekyll.harvest,
    "hugo": hugo.harvest,
    "pelican": pelican.harvest,
}
NAMED = 3  # skipped files of one kind named one a line; more are one line for the kind
EXAMPLES = 2  # files named on a kind's line


def import_blog(tool: str, src: Path, config: Config, config_file: Path) -> writing.Report:
    """Convert the `tool` blog at `src` into posts in `[posts]` (never over a post), keep
    its feed's addresses in `config_file`, and run `publisher check` on the result."""
    harvest = TOOLS[tool](src, config)
    report = writing.write(harvest, config)
    config, added, fixes = feeds.keep(harvest.feeds, config, config_file)
    report.fixes += fixes
    if added:
        report.notes.append(
            f"the feed is also written at {', '.join(added)}, its old "
            f"address{'es' if len(added) > 1 else ''} ([site] old_feeds in {config_file})"
        )
    _check(report, config)
    return report


def _check(report: writing.Report, config: Config) -> None:
    """`publisher check`'s errors: those about the posts written here, one line each; the
    others (the site's own) counted."""
    from publisher import checks  # lazy: the newsletters' rendering, only now

    written = tuple(f"{path}:" for path in report.written)
    for error in checks.run(config).errors:
        if error.startswith(written):
            report.checked.append(error)
        else:
            report.elsewhere += 1


def report_lines(report: writing.Report) -> list[str]:
    """What to tell the user, the summary line last."""
    elsewhere = report.elsewhere
    return [
        *_skipped_lines(report.skipped),
        *(f"fix: {fix}" for fix in report.fixes),
        *(f"check: {error}" for error in report.checked),
        *(
            [f"check: {elsewhere} more in the rest of the site (publisher check)"]
            if elsewhere
            else []
        ),
        *(f"note: {note}" for note in report.notes),
        report.summary(),
    ]


def _skipped_lines(skipped: list[Skip]) -> Iterator[str]:
    """A line per skipped file, except where many were skipped for one reason: one line
    says how many, why, and names a few. A symbolic link is always named."""
    kinds: dict[str, list[str]] = {}
    for skip in skipped:
        kinds.setdefault(skip.why, []).append(skip.file)
    for why, files in kinds.items():
        if len(files) <= NAMED or why == tree.SYMLINK:
            yield from (f"skipped: {file}: {why}" for file in files)
        else:
            named = ", ".join(files[:EXAMPLES])
            yield f"skipped {len(files)} files: {why}: {named} and {len(files) - EXAMPLES} more"
