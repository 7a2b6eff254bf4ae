"""Commands: tick, run, queue.

Logs go to stderr as plain timestamped lines (journald and cron logs read them as they are);
`tick` prints its one-line summary on stdout. The scheduler is imported inside each command
so that `publisher tick` with nothing due stays cheap.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import datetime

import click

from publisher.commands.options import common_options, get_config
from publisher.config import Config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SiteTimeFormatter(logging.Formatter):
    """Log lines stamped in the site's time zone, as the tick line is."""

    def __init__(self, config: Config):
        super().__init__(LOG_FORMAT)
        self.config = config

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        moment = datetime.fromtimestamp(record.created, self.config.tz)
        return f"{moment:%Y-%m-%d %H:%M:%S %Z}"


def setup_logging(config: Config, log_file: str | None = None) -> None:
    """Plain lines on stderr (and in `log_file`), for the `publisher` loggers only."""
    formatter = SiteTimeFormatter(config)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logger = logging.getLogger("publisher")
    logger.handlers.clear()  # the plain `warning:` lines of other commands
    logger.setLevel(logging.INFO)
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what the pass would do; write nothing.")
@common_options
def tick(dry_run: bool) -> None:
    """One pass: publish due posts, create due campaigns, send what is unfinished.

    Safe to run every minute from cron, even twice at once. Exits 0 unless a person is
    needed: 2 for a broken post or template, 1 for a failing step or mail left unsent (the
    store, the deploy, the relay, a paused campaign).
    """
    # lazy: each command loads only what it runs (start-up of the others)
    from publisher.schedule import tick as scheduler

    config = get_config()
    setup_logging(config)
    summary = scheduler.tick(config, dry_run=dry_run)
    click.echo(summary.line(config))
    sys.exit(summary.exit_code)


@click.command()
@click.option("--log-file", metavar="FILE", help="Also append the log to FILE.")
@common_options
def run(log_file: str | None) -> None:
    """Run a pass every [scheduler] interval seconds until SIGTERM or Ctrl-C."""
    # lazy: each command loads only what it runs (start-up of the others)
    from publisher.schedule import tick as scheduler
    from publisher.signals import stop_on_signals

    config = get_config()
    setup_logging(config, log_file)
    stop = threading.Event()
    with stop_on_signals(stop, logging.getLogger("publisher.schedule.tick").warning):
        scheduler.run(config, stop=stop)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@common_options
def queue(as_json: bool) -> None:
    """What happens next: queued posts, their announcements, the next digest."""
    # lazy: each command loads only what it runs (start-up of the others)
    from publisher.schedule.queue import queue as scheduled

    config = get_config()
    upcoming = scheduled(config)
    if as_json:
        click.echo(json.dumps(upcoming.as_dict(config), indent=2, ensure_ascii=False))
        return
    click.echo(f"now {config.local(upcoming.now):%Y-%m-%d %H:%M %Z} ({config.site.timezone})")
    click.echo(f"queued posts: {len(upcoming.posts) or 'none'}")
    for post in upcoming.posts:
        when = f"{config.local(post.publish_at):%Y-%m-%d %H:%M %Z}"
        click.echo(f"  {when}  {post.slug}  ({post.email})")
    digest = upcoming.digest
    click.echo(
        f"next digest: {digest.key} at {config.local(digest.due):%Y-%m-%d %H:%M %Z} "
        f"to {upcoming.digest_reach.words(config.topics)}, "
        f"holding {len(upcoming.digest_posts)} post(s) so far"
    )
    for post in upcoming.digest_posts:  # when each went live: a post out of draft is new
        click.echo(f"  {config.local(upcoming.digest_live[post.slug]):%Y-%m-%d %H:%M}  {post.slug}")
    click.echo(f"published in the last week: {len(upcoming.recent) or 'none'}")
    for slug, live_at, email in upcoming.recent:
        click.echo(f"  {config.local(live_at):%Y-%m-%d %H:%M %Z}  {slug}  ({email})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@common_options
def posts(as_json: bool) -> None:
    """Every post: slug, date, state (live, queued, draft, error), URL and email."""
    # lazy: each command loads only what it runs (start-up of the others)
    from publisher.schedule.listing import list_posts

    config = get_config()
    rows = list_posts(config)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo('no posts yet: `publisher new "Title"` writes one')
    for row in rows:
        counts = f", {row.sent:,} of {row.recipients:,} sent" if row.recipients is not None else ""
        click.echo(f"{row.state:<6}  {row.date or '-':<16}  {row.slug or row.source}  {row.title}")
        if row.url:
            click.echo(f"        {row.url}")
        click.echo(f"        email: {row.email}{counts}")


commands = [tick, run, queue, posts]
