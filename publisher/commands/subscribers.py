"""Commands: subscribers add/remove/forget/list/count/import/export."""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from publisher import topics
from publisher.commands.options import common_options, opened
from publisher.errors import DeliveryError, PublisherError
from publisher.subscribers.addresses import readable, visible
from publisher.vocabulary import FREQUENCIES, STATUSES, SUPPRESSED

if TYPE_CHECKING:
    from publisher.config import Config
    from publisher.store import Store, Subscriber

# The store (SQLAlchemy) is imported in each command that opens it, not here, so that
# `publisher --help`, which loads this module for its summary, stays quick.
STATUS_CHOICE = click.Choice(STATUSES)
FREQUENCY_CHOICE = click.Choice(FREQUENCIES)
FIELDS = [
    "id",
    "email",
    "name",
    "status",
    "frequency",
    "source",
    "created_at",
    "confirmed_at",
    "topics",
]


class OutputError(PublisherError):
    """The export file cannot be written (the environment's fault)."""

    exit_code = 1


@click.group()
def subscribers() -> None:
    """Keep the subscriber list: add, remove, forget, list, count, import, export."""


@subscribers.command()
@click.argument("email")
@click.option("--name", default="", help="The person's name, used in greetings.")
@click.option("--status", type=click.Choice(["active", "pending"]), default="active")
@click.option("--frequency", type=FREQUENCY_CHOICE, help="Default: [newsletter] frequency.")
@click.option(
    "--topics", "chosen", metavar="A,B", help="Topics of [topics] (default: none, everything)."
)
@click.option("--check-dns", is_flag=True, help="Also ask DNS whether the domain takes mail.")
@click.option(
    "--send-confirmation",
    is_flag=True,
    help="For an address that bounced or complained: mail it a confirmation link (a sign-up "
    "on the web form mails it nothing); it is back once the person clicks it.",
)
@common_options
def add(
    email: str,
    name: str,
    status: str,
    frequency: str | None,
    chosen: str | None,
    check_dns: bool,
    send_confirmation: bool,
) -> None:
    """Add EMAIL (a suppressed or erased address is skipped, never reactivated; one that
    bounced or complained can be sent a confirmation link with --send-confirmation); for
    one already on the list, change what is given (--topics "" chooses everything again)."""
    from publisher import store as subscriber_store
    from publisher.store.signups import NOT_MAILED

    with opened() as (config, store):
        change = subscriber_store.add(
            store,
            email,
            now=config.now,
            name=name,
            status=status,
            frequency=frequency,
            topics=None if chosen is None else _topics(config, chosen),
            check_dns=check_dns,
            smtputf8=config.smtp.smtputf8,
        )
        if change.outcome == "skipped" and change.reason in NOT_MAILED:
            if not send_confirmation:
                raise PublisherError(
                    f"{visible(email)}: not added, the address {change.reason} and a sign-up on "
                    "the web form mails it nothing; if the person asked to come back, "
                    f"`publisher subscribers add {visible(email)} --send-confirmation` mails "
                    "them a confirmation link"
                )
            _send_one(config, store, change.subscriber)
            return
        if change.outcome == "skipped":
            raise PublisherError(
                f"{visible(email)}: not added, the address is {change.reason}; "
                "only the person can subscribe again (web form and confirmation)"
            )
        assert change.subscriber is not None
        shown = change.subscriber
        topics = f", topics {shown.topics}" if shown.topics else ""
        who = visible(readable(shown.email))
        click.echo(f"{change.outcome}: {who} ({shown.status}, {shown.frequency}{topics})")
        if shown.status == "pending":
            _send_confirmations(config, store)


def _topics(config: Config, text: str) -> str:
    """--topics as a stored choice, or an error naming the topics there are."""
    try:
        return topics.parse_choice(text, config.topics)
    except ValueError as exc:
        raise PublisherError(f"--topics: {exc}") from None


@subscribers.command()
@click.argument("email")
@common_options
def remove(email: str) -> None:
    """Unsubscribe EMAIL; the address stays on the list as suppressed."""
    from publisher import store as subscriber_store

    with opened() as (config, store):
        subscriber, changed = subscriber_store.remove(store, email, now=config.now)
    state = "unsubscribed" if changed else f"already {subscriber.status}"
    click.echo(f"{state}: {visible(readable(subscriber.email))}")


@subscribers.command()
@click.argument("email")
@common_options
def forget(email: str) -> None:
    """Erase EMAIL's personal data (GDPR); a salted hash blocks re-import."""
    from publisher import store as subscriber_store

    with opened() as (config, store):
        existed = subscriber_store.forget(store, email, now=config.now)
    if existed:
        click.echo(f"erased: {visible(email)}; its hash blocks any re-import")
    else:
        click.echo(f"not on the list: {visible(email)}; its hash now blocks any import")


@subscribers.command(name="list")
@click.option("--status", type=STATUS_CHOICE, help="Only this status.")
@click.option("--frequency", type=FREQUENCY_CHOICE, help="Only this frequency.")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table")
@common_options
def list_(status: str | None, frequency: str | None, output: str) -> None:
    """List subscribers in id order (times in the site's time zone; control characters
    stored before intake refused them shown escaped, as \\x1b)."""
    from publisher import store as subscriber_store

    with opened() as (config, store):
        rows = subscriber_store.iter_subscribers(store, status, frequency)
        why = subscriber_store.reasons(store, status) if status in SUPPRESSED else {}
        if output == "csv":
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(FIELDS)
            writer.writerows(_cells(config, s) for s in rows)
        elif output == "json":
            for subscriber in rows:  # JSON lines: streams at any size
                fields = dict(zip(FIELDS, _cells(config, subscriber), strict=True))
                if why:
                    fields["reason"] = visible(why.get(subscriber.id, ""))
                click.echo(json.dumps(fields))
        else:
            click.echo(f"{'id':>6}  {'status':<12} {'freq':<6} {'created':<16}  email (name)")
            for s in rows:
                created = config.local(s.created_at).strftime("%Y-%m-%d %H:%M")
                email = readable(s.email)
                who = visible(f"{email} ({s.name})" if s.name else email)
                reason = f"  ({visible(why[s.id])})" if s.id in why else ""
                click.echo(
                    f"{s.id:>6}  {s.status:<12} {s.frequency:<6} {created:<16}  {who}{reason}"
                )


def _cells(config: Config, subscriber: Subscriber) -> list:
    return [_shown(config, getattr(subscriber, name)) for name in FIELDS]


def _shown(config: Config, value: object) -> object:
    if isinstance(value, datetime):
        return config.local(value).isoformat()
    return visible(value) if isinstance(value, str) else value


@subscribers.command()
@common_options
def count() -> None:
    """Subscribers per status."""
    from publisher import store as subscriber_store

    with opened() as (_config, store):
        found = subscriber_store.counts(store)
    for status, number in found.items():
        click.echo(f"{status:<13}{number:>9}")
    click.echo(f"{'total':<13}{sum(found.values()):>9}")


@subscribers.command(name="import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--status",
    type=click.Choice(["active", "pending"]),
    default="active",
    help="active: the team vouches for consent; pending: each must confirm.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@common_options
def import_(file: Path, status: str, dry_run: bool) -> None:
    """Import FILE.csv (email, name, frequency, topics columns in any order; a file from
    `subscribers export` also keeps each status and when and how each person subscribed,
    confirmed and left; a suppressed address stays suppressed)."""
    from publisher import store as subscriber_store

    def report(line: int, problem: str) -> None:
        click.echo(f"{file}:{line}: skipped: {problem}", err=True)

    with opened() as (config, store):
        summary = subscriber_store.import_csv(
            store,
            file,
            now=config.now,
            status=status,
            dry_run=dry_run,
            report=report,
            smtputf8=config.smtp.smtputf8,
            topics=config.topics,
        )
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(summary.skipped.items()))
        click.echo(
            f"{summary.rows} rows: {summary.added} added, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {sum(summary.skipped.values())} skipped"
            + (f" ({skipped})" if skipped else "")
        )
        if dry_run:
            click.echo("dry run: nothing was written")
        elif status == "pending":
            _send_confirmations(config, store)


def _send_one(config: Config, store: Store, subscriber: Subscriber) -> None:
    """Staff bringing back an address that bounced or complained: a confirmation link."""
    from publisher.subscribers.confirmations import send_one  # lazy, as below

    batch = send_one(config, store, subscriber)
    if batch.sent:
        click.echo(
            f"sent a confirmation link to {subscriber.email} ({subscriber.status}): "
            "subscribed again once they click it"
        )
    elif batch.problem or batch.failed or batch.deferred or batch.unknown:
        raise DeliveryError(f"{subscriber.email}: the confirmation did not go out ({batch.line()})")
    else:
        raise PublisherError(
            f"{subscriber.email}: a confirmation went out in the last 10 minutes; "
            "the person can use its link"
        )


def _send_confirmations(config: Config, store: Store) -> None:
    """Mail every pending subscriber never sent a confirmation (those just added, and any a
    relay outage left behind). A relay that is down fails the command (exit 1) once the
    list is saved; `publisher tick` sends the rest later."""
    # lazy: only a pending import or add mails anyone
    from publisher.subscribers.confirmations import send_unsent

    batch = send_unsent(config, store)
    if batch.problem:
        raise DeliveryError(batch.line())
    click.echo(batch.line() or "no confirmations to send")


@subscribers.command()
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Default: stdout.")
@click.option("--raw", is_flag=True, help="No ' before cells a spreadsheet runs as formulas.")
@common_options
def export(out: Path | None, raw: bool) -> None:
    """Write every subscriber as CSV (status and UTC timestamps included); --out FILE is
    readable by its owner only (mode 0600): the list is personal data."""
    from publisher import store as subscriber_store

    with opened() as (_config, store):
        if out is None:
            subscriber_store.export_csv(store, sys.stdout, raw)
            return
        temporary = out.with_name(f".{out.name}.tmp")
        try:
            temporary.unlink(missing_ok=True)  # left by a crash, maybe with a wider mode
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(descriptor, "w", encoding="utf-8", newline="") as handle:
                written = subscriber_store.export_csv(store, handle, raw)
            temporary.replace(out)
        except OSError as exc:
            raise OutputError(f"{out}: cannot write: {exc.strerror}") from None
    click.echo(f"exported {written} subscribers to {out}", err=True)


commands: list[click.Command] = [subscribers]
