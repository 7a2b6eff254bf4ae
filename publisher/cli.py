"""The `publisher` command line: a thin layer over the library.

Library exceptions become one-line `error: ...` messages here and nowhere else; the exit
code is the exception's (2 for input a person can fix, 1 for the environment). `--debug`
shows the traceback instead. `--config`, `--now` and `--debug` are accepted before the
command name and after it, so every command can time-travel.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from typing import Any

import click

from publisher import __version__
from publisher.commands.options import Options, common_options
from publisher.docs import docs_page
from publisher.errors import PublisherError

# Where each command lives (publisher/commands/<module>.py). Modules are imported only when
# their command runs, so `build` never pays for SQLAlchemy or premailer at start-up.
COMMANDS = {
    "init": "starter",
    "build": "site",
    "serve": "site",
    "check": "content",
    "new": "content",
    "import": "importing",
    "preview": "newsletter",
    "subscribers": "subscribers",
    "send": "send",
    "campaigns": "send",
    "tick": "schedule",
    "run": "schedule",
    "queue": "schedule",
    "posts": "schedule",
    "web": "web",
    "inbound": "inbound",
    "staff": "staff",
    "report": "report",
}


def echo_error(message: str) -> None:
    for line in message.splitlines() or [""]:
        click.echo(f"error: {line}", err=True)


class PublisherGroup(click.Group):
    """Loads commands on demand; turns library errors into one-line messages and exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"publisher.commands.{COMMANDS[name]}")
        return next(c for c in module.commands if c.name == name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's first sentence, whole (click cuts it to the terminal with "...")."""
        rows = [
            (name, self.get_command(ctx, name).get_short_help_str(limit=300))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click's own, and a closed pipe (`| head`), which click ends quietly
        except PublisherError as exc:
            fail(ctx, str(exc), exc.exit_code)
        except OSError as exc:  # a full disk, a read-only folder, a permission: the machine's
            where = f"{exc.filename}: " if exc.filename else ""
            fail(ctx, f"{where}{exc.strerror or exc}", 1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: still one line, and the way to see more
            fail(ctx, f"unexpected {type(exc).__name__}: {exc} (--debug shows where)", 1)


def fail(ctx: click.Context, message: str, code: int) -> None:
    """Print `message` as error lines (the traceback with --debug) and exit with `code`."""
    if ctx.ensure_object(Options).debug:
        traceback.print_exc()
    else:
        echo_error(message)
    ctx.exit(code)


@click.group(
    cls=PublisherGroup,
    epilog=f"Documentation: {docs_page('index.md')} in publisher's source (`mkdocs serve` shows it as a site); every command and option: {docs_page('reference/commands.md')}.",
)
@common_options
@click.version_option(version=__version__)  # not from the package's metadata: 20 ms
def main() -> None:
    """Blog and newsletter engine: build the site, keep subscribers, send on time."""
    show_warnings()


def show_warnings() -> None:
    """Warnings the library logs (a post's unknown key) as `warning: ...` lines on stderr,
    as `check` prints them; `tick` and `run` set up their own timestamped log instead."""
    logger = logging.getLogger("publisher")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(Prefixed())
        logger.addHandler(handler)


class Prefixed(logging.Formatter):
    """`warning: <message>`, as `check` prints its warnings."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


if __name__ == "__main__":
    sys.exit(main())
