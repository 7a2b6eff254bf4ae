"""Commands: check, new."""

from __future__ import annotations

from datetime import datetime

import click

from publisher import checks
from publisher.commands.options import common_options, get_config
from publisher.content import frontmatter
from publisher.content import posts as content
from publisher.errors import PublisherError


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


@click.command()
@common_options
def check() -> None:
    """Check every post, the emails that could be sent and the settings; list all problems.

    Exits with 2 when there is an error (warnings alone exit 0).
    """
    found = checks.run(get_config())
    for warning in found.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"checked {_plural(found.posts, 'post')}: "
        f"{_plural(len(found.errors), 'error')}, {_plural(len(found.warnings), 'warning')}"
    )
    if found.errors:
        raise PublisherError("\n".join(found.errors))


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
