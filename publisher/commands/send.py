"""Commands: send, campaigns."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from publisher import topics
from publisher.commands.options import common_options, get_config
from publisher.content.lookup import find_post
from publisher.content.posts import load_posts
from publisher.errors import PublisherError
from publisher.signals import stop_on_signals

if TYPE_CHECKING:
    from publisher.config import Config
    from publisher.store import Store

# The store and the delivery code (SQLAlchemy, the mail code) are imported by the commands
# when they run, so that `publisher --help`, which loads this module for its summary, and
# `send --resume`, which renders nothing, import only what they use.


def _post(config: Config, slug: str, test: bool = False):
    """The post to send, and every post; a draft or a queued one only for a test copy."""
    from publisher.schedule.links import pinned_posts

    posts = pinned_posts(config, load_posts(config))
    post = find_post(posts, slug)
    if test:
        return post, posts
    if post.draft:
        raise PublisherError(
            f"{post.source}: a draft is never sent; set draft: false first "
            f"(`--to ADDR` sends yourself a [DRAFT] copy)"
        )
    if not post.is_live(config.now):
        when = f"{config.local(post.date):%Y-%m-%d %H:%M}"
        raise PublisherError(
            f"{post.source}: not published until {when}; it is sent then "
            f"(`--to ADDR` sends yourself a [TEST] copy now)"
        )
    return post, posts


class Reporter:
    """A rich progress bar on a terminal; otherwise one log line per 1,000 messages."""

    def __init__(self) -> None:
        self.bar = None
        self.task = None
        self.logged = 0

    @contextmanager
    def active(self) -> Iterator[Callable]:
        if not sys.stderr.isatty():
            yield self.log
            return
        # lazy: rich's progress bar costs start-up that a cron run does not need
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8}/s"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        with self.bar:
            yield self.draw

    def draw(self, progress) -> None:
        if self.task is None or self.bar.tasks[-1].description != progress.key:
            self.task = self.bar.add_task(progress.key, total=progress.total, rate="")
        rate = progress.sent / progress.elapsed if progress.elapsed else 0
        self.bar.update(self.task, completed=progress.done, rate=f"{rate:,.0f}")

    def log(self, progress) -> None:
        if progress.sent // 1000 > self.logged:
            self.logged = progress.sent // 1000
            rate = progress.sent / progress.elapsed if progress.elapsed else 0
            click.echo(
                f"{progress.key}: {progress.done:,} of {progress.total:,} done, "
                f"{progress.sent:,} sent by this run ({rate:,.0f}/s)",
                err=True,
            )


def _run(config: Config, run: Callable) -> None:
    """Run deliveries with signals handled and progress shown; print each summary.

    Exit 1 (2 for a problem a person must fix in the content or config) when a campaign
    paused, so cron and scripts see mail left unsent; a stop or a deferral is not a failure.
    """
    stop = threading.Event()
    reporter = Reporter()
    with stop_on_signals(stop, lambda note: click.echo(note, err=True)), reporter.active() as show:
        summaries = run(stop=stop, on_progress=show)
    for summary in summaries:
        click.echo(summary.line())
    code = max((s.problem.exit_code for s in summaries if s.problem), default=0)
    if code:
        sys.exit(code)


@click.command()
@click.argument("slug", required=False)
@click.option(
    "--to", "address", metavar="ADDR", help="Send one [TEST] (or [DRAFT]) copy to ADDR only."
)
@click.option("--digest", is_flag=True, help="With --to: the next digest, as it would go now.")
@click.option("--dry-run", is_flag=True, help="Say how many would receive it; send nothing.")
@click.option("--resume", is_flag=True, help="Run every unfinished campaign.")
@click.option(
    "--new-subscribers", is_flag=True, help="Send a sent post to those who subscribed since."
)
@click.option("--force", is_flag=True, help="Also run campaigns the safety brake holds.")
@common_options
def send(
    slug: str | None,
    address: str | None,
    digest: bool,
    dry_run: bool,
    resume: bool,
    new_subscribers: bool,
    force: bool,
) -> None:
    """Announce the post SLUG to every subscriber now (or resume unfinished campaigns).

    Safe to repeat and to interrupt: each subscriber gets the post once; Ctrl-C or SIGTERM
    finishes the messages in flight, and running it again continues where it stopped.
    `--to ADDR` sends one copy of a post (live, queued or draft) or of the next digest.
    """
    from publisher.delivery.campaigns import create_campaign, resume_all, run_campaign, send_test
    from publisher.schedule.links import campaign_key
    from publisher.store import Store, ledger

    if digest:
        if slug or resume or not address:
            raise click.UsageError("--digest goes with --to ADDR (and no SLUG)")
        _test_digest(get_config(), address)
        return
    if resume == bool(slug):
        raise click.UsageError("give a post SLUG or --resume (not both)")
    if resume and (address or dry_run):
        raise click.UsageError("--to and --dry-run need a post SLUG")
    config = get_config()
    if resume:
        with Store.open(config) as store:
            if not ledger.list_campaigns(store, unfinished=True):
                click.echo("nothing to resume: every campaign is done")
                return
            _run(config, lambda **opts: resume_all(config, store, force=force, **opts))
        return

    from publisher.mail.newsletter import render_post  # premailer; --resume needs none

    post, posts = _post(config, slug, test=bool(address))
    if address:
        newsletter = render_post(config, post, posts, test_copy=True)
        mark = "[DRAFT]" if post.draft else "[TEST]"
        result = send_test(config, newsletter, address, mark=mark)
        outcome = result.reply if config.delivery.transport == "file" else f"SMTP {result.code}"
        click.echo(f"sent a {mark} copy of {newsletter.key} to {address} ({outcome})")
        return
    with Store.open(config) as store:
        key = campaign_key(store, post)
        if key != f"post:{post.slug}":
            click.echo(f"{post.slug} went out as {key} before its slug changed")
        post_topics = topics.post_topics(post.tags, config.topics)
        wants = topics.reaches(post_topics, config.topics)
        if new_subscribers:
            _newcomers(config, store, key, wants)
            return
        if dry_run:
            click.echo(_dry_run(config, store, key, post_topics))
            return
        # A campaign keeps the email it was created with: one that exists (sent, or
        # stopped and run again) needs no rendering, so no premailer either.
        campaign, created = ledger.get_campaign(store, key), False
        if campaign is None:
            newsletter = replace(render_post(config, post, posts), key=key)
            campaign, created = create_campaign(config, store, newsletter, "each", wants)
        if campaign.status == "done":
            counts = ledger.counts(store, campaign.id)
            click.echo(f"{campaign.key}: already sent ({counts.sent:,} of {counts.total:,})")
            return
        if created:
            click.echo(f"{campaign.key}: campaign created for {_subscribers(campaign.total)}")
            click.echo(f"newsletter archive: {_archive(config)}")
        _run(config, lambda **opts: [run_campaign(config, store, campaign, force=force, **opts)])


def _archive(config: Config) -> str:
    """Build (and deploy) the site with the new campaign's page in the newsletter archive,
    as a tick does, before its first message arrives: its "View in browser" link opens
    that page, and /newsletter/ lists it."""
    from publisher.schedule.links import site_posts  # lazy: the site build, for a send only
    from publisher.schedule.publish import build_and_deploy

    try:
        built, deployed = build_and_deploy(config, site_posts(config))
    except PublisherError as exc:  # the mail still goes; the next tick or build adds it
        return f"not updated: {exc}; `publisher build --deploy` adds the issue's page"
    return f"{built}; deploy {deployed}"


def _share(count: int, of: int) -> str:
    return f"{count:,} ({count / of:.1%})" if count and of else f"{count:,}"


def _subscribers(count: int) -> str:
    return f"{count:,} subscriber{'' if count == 1 else 's'}"


def _test_digest(config: Config, address: str) -> None:
    """One [TEST] copy of the digest as it would go out now (as `queue` and `preview
    --digest` show it), to `address`."""
    from publisher.delivery.campaigns import send_test
    from publisher.mail.newsletter import render_digest
    from publisher.schedule.queue import queue

    upcoming = queue(config)
    if not upcoming.digest_posts:
        raise PublisherError("the next digest holds no posts yet: nothing to send")
    newsletter = render_digest(config, upcoming.digest_posts, upcoming.digest.id)
    result = send_test(config, newsletter, address)
    click.echo(
        f"sent a [TEST] copy of {upcoming.digest.key} ({len(upcoming.digest_posts)} posts) "
        f"to {address} ({result.code})"
    )


def _newcomers(config: Config, store: Store, key: str, wants: topics.Wants) -> None:
    """`send SLUG --new-subscribers`: the post's campaign, as it went out, to the active
    subscribers it does not hold yet whose topics it is for; nobody gets it twice."""
    from publisher.delivery.campaigns import run_campaign
    from publisher.store import ledger
    from publisher.store.newcomers import add_newcomers

    campaign = ledger.get_campaign(store, key)
    if campaign is None:
        slug = key.removeprefix("post:")
        raise PublisherError(f"{key} was never sent; `publisher send {slug}` sends it to all")
    added = add_newcomers(store, campaign.id, wants=wants)
    click.echo(f"{key}: {added:,} subscribers who joined since it went out")
    if added:
        campaign = ledger.get_campaign(store, key)
        _run(config, lambda **opts: [run_campaign(config, store, campaign, **opts)])


def _dry_run(config: Config, store: Store, key: str, post_topics: tuple[str, ...]) -> str:
    from publisher.store import ledger
    from publisher.store.audience import reader_choices

    campaign = ledger.get_campaign(store, key)
    if campaign is None:
        reach = topics.reach([post_topics], reader_choices(store, "each"), config.topics)
        who = f"{reach.words(config.topics)} subscriber{'' if reach.total == 1 else 's'}"
        return f"{key}: would be sent to {who}; nothing sent (dry run)"
    counts = ledger.counts(store, campaign.id)
    return (
        f"{key}: campaign exists ({campaign.status}): {counts.sent:,} of {counts.total:,} "
        f"sent, {counts.unfinished:,} still to send; nothing sent (dry run)"
    )


@click.command()
@common_options
def campaigns() -> None:
    """List campaigns: messages per state, when they started and finished, the rate."""
    from publisher.store import Store, health, ledger

    config = get_config()
    with Store.open(config) as store:
        found = ledger.list_campaigns(store)
        tallies = ledger.all_counts(store)
        complained = health.complaints(store)
    if not found:
        click.echo("no campaigns yet")
        return
    header = (
        "campaign",
        "status",
        "total",
        "sent",
        "failed",
        "deferred",
        "skipped",
        "unknown",
        "bounced",
        "complained",
        "to send",
    )
    rows = [(*header, "started", "finished", "rate")]
    for campaign in found:
        c = tallies.get(campaign.id, ledger.Counts())
        rows.append(
            (
                campaign.key,
                campaign.status,
                *(f"{n:,}" for n in (c.total, c.sent, c.failed, c.deferred, c.skipped, c.unknown)),
                _share(c.bounced, c.sent + c.bounced),
                _share(complained.get(campaign.id, 0), c.sent + c.bounced),
                f"{c.queued + c.sending:,}",
                _when(config, campaign.started_at),
                _when(config, campaign.finished_at),
                _rate(config, campaign, c.sent),
            )
        )
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    for campaign in found:
        if campaign.note:
            click.echo(f"{campaign.key}: {campaign.note}")


def _when(config: Config, moment) -> str:
    return f"{config.local(moment):%Y-%m-%d %H:%M}" if moment else "-"


def _rate(config: Config, campaign, sent: int) -> str:
    if campaign.started_at is None or not sent:
        return "-"
    seconds = ((campaign.finished_at or config.now) - campaign.started_at).total_seconds()
    return f"{sent / seconds:,.0f}/s" if seconds > 0 else "-"


commands = [send, campaigns]
