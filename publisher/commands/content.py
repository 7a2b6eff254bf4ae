"""Commands: check, new.

`check` runs the content scan, then every function in `CHECKS`. Other areas add their own
checks by appending to that list when their command module is imported (cli imports all
of them), e.g. `CHECKS.append(check_newsletters)`. A check takes the config and the good
posts and returns `Findings`: errors (check exits 2) and warnings, all of them printed, so
one check's error never hides another's warnings. A check that raises a PublisherError
(a config value it cannot use) counts as one error and the other checks still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import click

from publisher import content, frontmatter
from publisher.cli import common_options, get_config
from publisher.config import Config
from publisher.errors import PublisherError


@dataclass(frozen=True)
class Findings:
    """What one check found: errors stop a send or a build; warnings are for a person."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


CHECKS: list[Callable[[Config, list[content.Post]], Findings]] = []


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


@click.command()
@common_options
def check() -> None:
    """Check every post and the settings; list all problems at once.

    Exits with 2 when there is an error (warnings alone exit 0).
    """
    config = get_config()
    result = content.scan(config)
    errors = [str(error) for error in result.errors]
    warnings = list(result.warnings)
    for extra in CHECKS:
        try:
            found = extra(config, result.posts)
        except PublisherError as exc:
            found = Findings(errors=[str(exc)])
        errors += found.errors
        warnings += found.warnings
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"checked {_plural(result.files, 'post')}: "
        f"{_plural(len(errors), 'error')}, {_plural(len(warnings), 'warning')}"
    )
    if errors:
        raise PublisherError("\n".join(errors))


@click.command()
@click.argument("title")
@click.option(
    "--date",
    "when",
    metavar="TIME",
    help="Publish time, e.g. '2026-03-02 09:00' in the site's time zone (default: now).",
)
@common_options
def new(title: str, when: str | None) -> None:
    """Create posts/<date>-<slug>.md for TITLE, front matter filled in (as a draft)."""
    config = get_config()
    moment: datetime | None = None
    if when:
        try:
            moment = frontmatter.parse_date(when, config.tz)
        except ValueError:
            raise click.BadParameter(
                f"expected a time such as 2026-03-02 09:00, got {when!r}", param_hint="--date"
            ) from None
    path = content.new_post(config, title, moment)
    click.echo(path.relative_to(config.root).as_posix())


commands = [check, new]
