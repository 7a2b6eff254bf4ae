"""Command: report (a campaign, the audience, the posts) as text, JSON or CSV."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from publisher.commands.options import common_options, opened
from publisher.errors import PublisherError

if TYPE_CHECKING:
    from publisher.reports.tables import Report

# The reports (and the store under them) are imported when the command runs, so that
# `publisher --help`, which loads this module for its summary, does not import SQLAlchemy.

NO_CLICKS = "clicks: not counted for this campaign (its links went out untracked)"


@click.command()
@click.argument("what", metavar="CAMPAIGN|audience|posts")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="audience and posts: from this UTC day, YYYY-MM-DD (default: 90 and 30 days ago).",
)
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@click.option(
    "--csv",
    "csv_table",
    metavar="TABLE",
    help="One table as CSV: figures, links, hours (a campaign); days, sources, reasons, "
    "months (audience); posts.",
)
@common_options
def report(what: str, since, as_json: bool, csv_table: str | None) -> None:
    """How a campaign did (CAMPAIGN: post:<slug>, digest:<period> or a post's slug), the
    audience over time (audience), or the posts whose emails were clicked most (posts).

    Every figure is counted without names: see docs/staff/reports.md.
    """
    from publisher.reports import tables
    from publisher.reports.audience import audience_report
    from publisher.reports.campaign import campaign_report
    from publisher.reports.posts import posts_report

    day = since.date() if since else None
    with opened() as (config, store):
        if what == "audience":
            found = audience_report(store, config.now, day)
        elif what == "posts":
            found = posts_report(store, config.now, day)
        else:
            if day is not None:
                raise PublisherError("--since is for audience and posts, not a campaign")
            found = campaign_report(store, what)
    if as_json:
        click.echo(json.dumps(tables.to_json(found), indent=2, ensure_ascii=False))
    elif csv_table:
        try:
            click.echo(tables.to_csv(tables.table(found, csv_table)), nl=False)
        except KeyError as exc:
            raise PublisherError(f"--csv: {exc.args[0]}") from None
    else:
        click.echo("\n".join(_text(found)))


def _text(found: Report) -> list[str]:
    """The report's tables as aligned text, one after another."""
    from publisher.reports import tables

    lines = _heading(found)
    for shown in tables.tables(found):
        if shown.name in ("days",):
            shown = tables.Table(
                shown.name, shown.title + " (last 7)", shown.columns, shown.rows[-7:]
            )
        lines += ["", f"{shown.title}:"]
        if not shown.rows:
            lines.append("  none")
            continue
        cells = [[str(c) for c in shown.columns]] + [[_shown(c) for c in r] for r in shown.rows]
        widths = [max(len(row[n]) for row in cells) for n in range(len(shown.columns))]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells
        ]
    return lines


def _heading(found: Report) -> list[str]:
    from publisher.reports.campaign import CampaignReport

    if isinstance(found, CampaignReport):
        started = found.started_at.isoformat(" ", "minutes") if found.started_at else "not yet"
        lines = [f"{found.key}: {found.subject}", f"status {found.status}, started {started} UTC"]
        return lines + ([] if found.clicks_counted else [NO_CLICKS])
    return [f"{found.since} to {found.until} (UTC days)"]


def _shown(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


commands = [report]
