"""Command: init (a new site of one's own)."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path

import click

from publisher.commands.options import common_options, get_now
from publisher.errors import PublisherError

QUESTIONS = {  # field -> (flag, prompt)
    "title": ("--title", "Site title"),
    "url": ("--url", "Public URL of the site"),
    "timezone": ("--timezone", "Time zone of your dates"),
    "from_address": ("--from", "Sender address of the newsletter (empty: set it later)"),
    "postal_address": ("--postal-address", "Postal address for the email footer (empty: later)"),
}


def _ask(name: str, default: str) -> str:
    """Prompt until the answer is acceptable."""
    from publisher.starter.create import CLEAN

    def check(text: str) -> str:
        try:
            return CLEAN[name](text)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.prompt(QUESTIONS[name][1], default=default, value_proc=check)


@click.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", help="Site title (default: My blog).")
@click.option("--url", help="Public URL of the site, e.g. https://blog.example.org.")
@click.option("--timezone", help="IANA time zone of the dates (default: this machine's).")
@click.option("--from", "from_address", help="Sender address of the newsletter.")
@click.option("--postal-address", help="Postal address printed in each email footer.")
@click.option("--no-input", is_flag=True, help="Ask nothing, even on a terminal.")
@common_options
def init(folder: Path, no_input: bool, **flags: str | None) -> None:
    """Start a new site in FOLDER (default: here): config, a first post, a templates note,
    a .gitignore and cron/systemd snippets. Asks on a terminal; never overwrites a file."""
    # lazy: Jinja, which `publisher --help` (loading this module for its summary) needs not
    from publisher.starter.create import CLEAN, Answers, create_site, local_timezone

    defaults = Answers(timezone=local_timezone())
    interactive = sys.stdin.isatty() and not no_input
    values, problems = {}, []
    for name, (flag, _prompt) in QUESTIONS.items():  # every bad flag is named at once
        if flags[name] is not None:
            try:
                values[name] = CLEAN[name](flags[name])
            except ValueError as exc:
                problems.append(f"{flag}: {exc}")
    if problems:
        raise PublisherError("\n".join(problems))
    for name in QUESTIONS:
        if flags[name] is None and interactive:
            values[name] = _ask(name, getattr(defaults, name))
    answers = dataclasses.replace(defaults, **values)
    for path in create_site(folder, answers, get_now()):
        click.echo(f"created {path.relative_to(folder).as_posix()}")
    where = "" if folder == Path(".") else f"cd {shlex.quote(str(folder))} && "
    if not answers.from_address:  # `check` refuses a site that cannot send its emails
        click.echo("next: set [newsletter] from_address in config/site.toml (emails come from it)")
    click.echo(
        f"next: {where}publisher check && publisher serve (see scheduling/ to run it on time)"
    )
    click.echo(
        "note: the posts already live when `publisher tick` first runs are the back catalogue "
        "and are not emailed; `publisher send SLUG` emails one of them"
    )


commands = [init]
