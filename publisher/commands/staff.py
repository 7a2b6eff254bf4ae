"""Commands: staff add/list/remove/key/audit (who may use the console, and what they did)."""

from __future__ import annotations

import json

import click

from publisher.commands.options import common_options, opened
from publisher.content.frontmatter import parse_date
from publisher.vocabulary import ROLES

# The store and the accounts are imported by each command that uses them, so that
# `publisher --help`, which loads this module for its summary, does not import SQLAlchemy.


@click.group()
def staff() -> None:
    """Who may use the staff console (/admin/): add, list, remove, key, audit."""


@staff.command()
@click.argument("email")
@click.option("--name", default="", help="The person's name, shown in the console.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="author: drafts and test sends; editor: also schedule, send, subscribers; "
    "admin: also staff and the audit log.",
)
@common_options
def add(email: str, name: str, role: str) -> None:
    """Add EMAIL to the staff; print a sign-in link (one use, 24 hours) and email it."""
    from publisher.admin import accounts
    from publisher.store import audit

    with opened() as (config, store):
        invited = accounts.add(config, store, email, name, role, audit.command_line(), config.now)
    member = invited.member
    until = f"{config.local(invited.expires_at):%Y-%m-%d %H:%M %Z}"
    click.echo(f"added: {member.email} ({member.role})")
    click.echo(f"sign-in link (works once, until {until}); {invited.mailed}:")
    click.echo(invited.link)


@staff.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@common_options
def list_(as_json: bool) -> None:
    """Everyone on the staff, with their role and whether they have an API key."""
    from publisher.store import staff as staff_store

    with opened() as (config, store):
        members = staff_store.list_staff(store)
    if as_json:
        rows = [
            {
                "email": m.email,
                "name": m.name,
                "role": m.role,
                "added": config.local(m.created_at).isoformat(),
                "api_key": m.key_created_at is not None,
            }
            for m in members
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not members:
        click.echo("no staff yet: `publisher staff add EMAIL --role admin` adds the first")
    for m in members:
        key = "API key" if m.key_created_at else "no API key"
        added = f"{config.local(m.created_at):%Y-%m-%d}"
        click.echo(f"{m.role:<6}  {m.email}  {m.name or '-'}  (added {added}, {key})")


@staff.command()
@click.argument("email")
@common_options
def remove(email: str) -> None:
    """Remove EMAIL from the staff: their sessions and API key stop working at once."""
    from publisher.admin import accounts
    from publisher.store import audit

    with opened() as (config, store):
        member = accounts.remove(store, email, audit.command_line(), config.now)
    click.echo(f"removed: {member.email} (was {member.role}); signed out everywhere")


@staff.command()
@click.argument("email")
@common_options
def key(email: str) -> None:
    """Print a new API key for EMAIL, alone on its line (shown once; the old one stops)."""
    from publisher.admin import accounts
    from publisher.store import audit

    with opened() as (config, store):
        click.echo(accounts.new_key(store, email, audit.command_line(), config.now))


@staff.command(name="audit")
@click.option("--since", metavar="TIME", help="Only changes since TIME (site time, or ISO).")
@click.option("--limit", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines for scripts.")
@common_options
def audit_(since: str | None, limit: int, as_json: bool) -> None:
    """What staff changed, newest first: when, who, what, which object, from where."""
    from publisher.store import audit

    with opened() as (config, store):
        start = None
        if since:
            try:
                start = parse_date(since, config.tz)
            except ValueError:
                raise click.BadParameter(
                    f"expected a time such as 2026-03-02 09:00, got {since!r}",
                    param_hint="--since",
                ) from None
        found = audit.rows(store, start, limit)
    for row in found:
        when = config.local(row.at)
        if as_json:
            click.echo(json.dumps(row.as_dict() | {"at": when.isoformat()}, ensure_ascii=False))
            continue
        who = row.staff_email or row.client
        where = f" from {row.client}" if row.staff_email else ""
        what = f"{row.action} {row.object}".strip()
        detail = f" ({row.detail})" if row.detail else ""
        click.echo(f"{when:%Y-%m-%d %H:%M:%S}  {who}{where}  {what}{detail}")
    if not found and not as_json:
        click.echo("no changes recorded" + (" since then" if since else ""))


commands = [staff]
