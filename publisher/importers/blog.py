"""One import: the chosen tool's importer reads the old blog, `writing` writes the posts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from publisher.config import Config
from publisher.importers import hugo, jekyll, pelican, writing
from publisher.importers.model import Harvest

TOOLS: dict[str, Callable[[Path, Config], Harvest]] = {
    "jekyll": jekyll.harvest,
    "hugo": hugo.harvest,
    "pelican": pelican.harvest,
}


def import_blog(tool: str, src: Path, config: Config) -> writing.Report:
    """Convert the `tool` blog at `src` into posts in `[posts]`; never overwrites a post."""
    return writing.write(TOOLS[tool](src, config), config)


def report_lines(report: writing.Report) -> list[str]:
    """What to tell the user, the summary line last."""
    return [
        *(f"skipped: {line}" for line in report.skipped),
        *(f"fix: {fix}" for fix in report.fixes),
        *(f"note: {note}" for note in report.notes),
        report.summary(),
    ]
