"""Command: inbound."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from publisher.commands.options import common_options, get_config
from publisher.errors import StoreError

if TYPE_CHECKING:
    from publisher.inbound.effects import Outcome
    from publisher.store import Store

# What reads and records mail (SQLAlchemy, the mail parsers) is imported when the command
# runs, so that `publisher --help`, which loads this module for its summary, stays quick.

TEMPFAIL = 75  # EX_TEMPFAIL: Postfix and Exim keep the message and try the pipe again


@click.command()
@click.option(
    "--maildir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Read every message in this Maildir, then move each to its .processed folder.",
)
@click.option(
    "--recipient",
    default="",
    help="The envelope recipient of the message on stdin (Postfix: ${original_recipient}).",
)
@click.option("--mailbox", is_flag=True, help="Read [inbound] mailbox (IMAP or POP3).")
@click.option("--report", is_flag=True, help="List what came in lately and what it did.")
@click.option("--days", type=int, default=7, show_default=True, help="How far --report looks.")
@common_options
def inbound(maildir: Path | None, recipient: str, mailbox: bool, report: bool, days: int) -> None:
    """Read bounces, complaints and unsubscribe mails sent to [inbound] address.

    With no option, one message on standard input (a pipe alias); exit code 75 asks the
    mail server to try again later when the store cannot be written. A message that cannot
    be handled (nested too deep, too many parts, too slow to read) is set aside: moved to
    the failed folder, left on a POP3 server, or refused to the mail server (exit 1); the
    others are read, and the exit code is 1.
    """
    from publisher.inbound.effects import process_all
    from publisher.inbound.mailboxes import read_mailbox
    from publisher.inbound.sources import read_maildir
    from publisher.store import Store

    config = get_config()
    with Store.open(config) as store:
        if report:
            _report(config, store, days)
        elif maildir is not None or mailbox:
            found = read_maildir(maildir) if maildir is not None else read_mailbox(config)
            outcomes = process_all(store, config, found, config.now, _show)
            where = maildir or urlsplit(config.inbound.mailbox).hostname
            count, failed = len(outcomes), _failed(outcomes)
            click.echo(
                f"{count} message{'s' * (count != 1)} read from {where}"
                + (f", {failed} could not be handled" if failed else "")
            )
            if failed:
                raise click.exceptions.Exit(1)
        else:
            _stdin(config, store, recipient)


def _stdin(config, store: Store, recipient: str) -> None:
    from publisher.inbound.effects import process_all
    from publisher.inbound.sources import read_stdin

    incoming = read_stdin(sys.stdin.buffer, recipient)
    refused = "refused: the mail server returns it to its sender (exit 1)"
    try:
        outcomes = process_all(
            store, config, [(incoming, lambda _read: refused)], config.now, _show
        )
    except StoreError as exc:
        click.echo(f"error: {exc}; the mail server will try again", err=True)
        raise click.exceptions.Exit(TEMPFAIL) from None
    if _failed(outcomes):
        raise click.exceptions.Exit(1)


def _failed(outcomes: list[Outcome]) -> int:
    from publisher.inbound.effects import FAILED

    return sum(outcome.kind == FAILED for outcome in outcomes)


def _report(config, store: Store, days: int) -> None:
    from publisher.store import inbound as recorded

    with store.read() as conn:
        rows = recorded.received(conn, config.now - timedelta(days=days))
    for row in rows:
        when = config.local(row.received_at)
        who = f"subscriber {row.subscriber_id}" if row.subscriber_id else "-"
        click.echo(f"{when:%Y-%m-%d %H:%M}  {row.kind:<11} {row.action:<26} {who}  {row.detail}")
    click.echo(f"{len(rows)} message{'s' * (len(rows) != 1)} in the last {days} days")


def _show(outcome: Outcome) -> None:
    from publisher.inbound.effects import FAILED

    if outcome.kind == FAILED:
        click.echo(f"error: a message {outcome.action}", err=True)
        return
    who = f" (subscriber {outcome.subscriber_id})" if outcome.subscriber_id else ""
    click.echo(f"{outcome.kind}: {outcome.action}{who}")


commands = [inbound]
