"""One idempotent pass (`tick`) that does what is due at `now`, and `run`, which repeats it.

What is due comes from the calendar (`publisher.schedule.calendar`); this module carries it
out: publish and deploy the site, create campaigns, send owed confirmations, deliver.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import schedule

from publisher import topics
from publisher.clock import Clock
from publisher.config import Config
from publisher.content.posts import Post, scan_logged
from publisher.delivery.transports import reason
from publisher.errors import PublisherError
from publisher.schedule import links
from publisher.schedule.calendar import digest_for, emailed_at, plan_digest
from publisher.schedule.decisions import describe
from publisher.schedule.publish import publish, rebuild
from publisher.schedule.summary import StepError, TickSummary
from publisher.store import clicks, ledger, newcomers, published
from publisher.store.audience import reader_choices
from publisher.store.db import Store
from publisher.store.subscribers import iter_unsent_confirmations

if TYPE_CHECKING:
    from publisher.mail.message import Newsletter

log = logging.getLogger(__name__)


# How far a tick's time may lie before the last recorded pass: the start-up skew of
# ticks started together. More is time travel backwards, refused.
BACKWARDS_SLACK = timedelta(minutes=1)


class TimeTravelError(PublisherError):
    """A tick at a time before one the store already recorded: it would undo that pass."""


def tick(config: Config, stop: threading.Event | None = None, dry_run: bool = False) -> TickSummary:
    """One idempotent pass: publish due posts and edits, create due campaigns, send
    confirmations still owed to pending subscribers, run unfinished campaigns.

    Safe to run every minute and concurrently: campaign keys are unique in the store and a
    lock file serializes site builds. A problem in one step (a broken post, a failing
    deploy) is logged and reported in the summary; the steps that do not depend on it
    still run, so a campaign in progress keeps going while someone fixes a post. With
    `dry_run`, the summary says what the pass would do and nothing is written.
    """
    summary = TickSummary(config.now, dry_run=dry_run)
    with Store.open(config) as store:
        seen = published.seen(store)
        refuse_backwards(config, seen)
        found = _attempt(summary, scan_logged, config)
        found = links.settle(found, seen) if found else None
        posts = found.publishable if found else None
        if posts is not None and _attempt(
            summary, publish, config, store, found, posts, seen, summary
        ):
            _attempt(summary, _announce, config, store, posts, summary)
            _attempt(summary, _digest, config, store, posts, summary)
            if summary.campaigns:  # their pages in the newsletter archive
                _attempt(summary, rebuild, config, posts, summary)
        elif posts is not None:
            summary.notes.append("announcements and digest wait for the site to be published")
        if dry_run:
            _would_send(store, summary)
            return summary
        if stop is None or not stop.is_set():
            _attempt(summary, _confirm, config, store, stop, summary)
        if config.newsletter.welcome and (stop is None or not stop.is_set()):
            _attempt(summary, _welcome, config, store, summary)
        if config.inbound.mailbox and (stop is None or not stop.is_set()):
            _attempt(summary, _inbound, config, store, summary)
        if stop is None or not stop.is_set():
            _attempt(summary, _deliver, config, store, stop, summary)
        _attempt(summary, _forget_salts, store, config.now)
        _attempt(summary, published.note_pass, store, config.now)
    return summary


def _forget_salts(store: Store, now: datetime) -> None:
    """From a week after a campaign, its emails' reader tags can be tied to no one."""
    with store.transaction() as conn:
        clicks.forget_salts(conn, now)


def refuse_backwards(config: Config, seen: published.Seen) -> None:
    """A pass at a time before the last one recorded would take off the site, and out of
    the digest, what that pass published: refuse it (exit 2), saying until when."""
    last = seen.last_pass
    if last is None or config.now >= last - BACKWARDS_SLACK:
        return
    when = f"{config.local(last):%Y-%m-%d %H:%M %Z}"
    raise TimeTravelError(
        f"it is {config.local(config.now):%Y-%m-%d %H:%M %Z}, before the last tick this store "
        f"recorded ({when}, run with --now?); a tick now would undo it. Nothing was done: "
        f"tick with --now {config.local(last):%Y-%m-%dT%H:%M} or later, or wait until then"
    )


def _attempt(summary: TickSummary, step, *args):
    """Run one step; whatever it raises is logged and kept in the summary, giving None."""
    try:
        return step(*args)
    except PublisherError as exc:
        _problem(summary, exc)
    except Exception as exc:
        log.debug("%s failed", step.__name__, exc_info=True)
        _problem(summary, StepError(f"{step.__name__.lstrip('_')}: {reason(exc)}"))
    return None


def _problem(summary: TickSummary, exc: PublisherError) -> None:
    """Log a problem, a line at a time, and count it in the summary's exit code."""
    for line in str(exc).splitlines():
        log.error("%s", line)
    summary.problems.append(exc)


def _announce(config: Config, store: Store, posts: Sequence[Post], summary: TickSummary) -> None:
    """A `post:<slug>` campaign to `each` subscribers for every post recorded to announce
    whose time has come (its `email_at`, when it has one)."""
    by_slug = {p.slug: p for p in posts}
    pending = [
        (slug, live_at)
        for slug, live_at in published.unannounced(store)
        if slug not in by_slug or emailed_at(by_slug[slug], live_at) <= config.now
    ]
    if summary.dry_run:  # the posts this pass would publish are in its notes already
        summary.notes += [f"would announce {slug}" for slug, _ in pending]
        return
    for slug, live_at in pending:
        post = by_slug.get(slug)
        if post is None or not post.is_live(config.now) or not post.email:
            why = "it is no longer live or no longer allows email"
        elif config.now - emailed_at(post, live_at) > config.newsletter.announce_max_age:
            max_age = config.newsletter.announce_max_age
            why = f"it went live more than [newsletter] announce_max_age ({max_age}) ago"
        else:
            _attempt(summary, _announce_post, config, store, post, posts, summary)
            continue
        published.cancel_announcement(store, slug, why)
        summary.decisions[slug] = f"not announced: {why}; `publisher send {slug}` sends it"
        summary.notes.append(f"post:{slug} not announced: {why}")
        log.info("post:%s not announced: %s", slug, why)


def _announce_post(
    config: Config, store: Store, post: Post, posts: Sequence[Post], summary: TickSummary
) -> None:
    """The campaign of one post. A post whose email cannot be built (a line break in its
    title) gets none and is reported by file; it stays due, so fixing it announces it."""
    # Lazy: the mail code (premailer) is imported only when a campaign is due.
    from publisher.delivery.campaigns import create_campaign
    from publisher.mail.newsletter import render_post

    wants = topics.reaches(topics.post_topics(post.tags, config.topics), config.topics)
    try:
        newsletter = render_post(config, post, posts)
        campaign, created = create_campaign(config, store, newsletter, "each", wants)
    except Exception as exc:
        code = getattr(exc, "exit_code", 1)
        raise StepError(f"{post.source}: not announced: {reason(exc)}", code) from exc
    if created:
        summary.campaigns.append(f"{campaign.key} ({_recipients(campaign.total)})")
    record = published.seen(store).records.get(post.slug)
    if record is not None:
        keys = published.campaign_keys(store, "digest:")
        digest = digest_for(config, emailed_at(post, record.live_at), keys, config.now)
        summary.decisions[post.slug] = describe(record, campaign.total, digest.id)
        log.info("%s: %s", post.slug, summary.decisions[post.slug])


def _digest(config: Config, store: Store, posts: Sequence[Post], summary: TickSummary) -> None:
    """The digest campaign of the period due now, unless it exists or holds no posts."""
    keys = published.campaign_keys(store, "digest:")
    waiting = published.digest_waiting(store)
    plan = plan_digest(config, config.now, posts, keys, published.started_at(store), waiting)
    if plan.status == "empty" and plan.since < plan.period.due:  # not before the first run
        since = f"{config.local(plan.since):%Y-%m-%d %H:%M}"
        summary.notes.append(f"{plan.period.key}: no new posts since {since}, nothing to send")
    elif plan.status == "missed":
        log.debug("%s was due more than [digest] grace ago; skipped", plan.period.key)
    elif plan.status == "due" and summary.dry_run:
        summary.notes.append(f"would send {plan.period.key} holding {len(plan.posts)} post(s)")
    elif plan.status == "due":
        from publisher.delivery.campaigns import create_campaigns  # lazy, as in _announce_post

        editions = digest_editions(config, store, plan.posts, plan.period.id)
        made = create_campaigns(config, store, editions, "digest")
        published.mark_digest(store, [p.slug for p in plan.posts], plan.period.key)
        for campaign, created in made:
            if created:
                summary.campaigns.append(f"{campaign.key} ({_recipients(campaign.total)})")


def digest_editions(
    config: Config, store: Store, posts: Sequence[Post], period_id: str
) -> list[tuple[Newsletter, topics.Wants]]:
    """The digest's editions (`topics.editions`: one per distinct set of posts its readers
    get, by their topics), each rendered once, with whose choices get it."""
    from publisher.mail.newsletter import render_digest  # lazy: premailer, when one is due

    post_topics = [topics.post_topics(post.tags, config.topics) for post in posts]
    choices = reader_choices(store, "digest")
    return [
        (
            render_digest(config, [posts[i] for i in edition.posts], edition.ident(period_id)),
            edition.wants,
        )
        for edition in topics.editions(post_topics, choices, config.topics)
    ]


def _recipients(count: int) -> str:
    return f"{count:,} recipient{'' if count == 1 else 's'}"


def _confirm(
    config: Config, store: Store, stop: threading.Event | None, summary: TickSummary
) -> None:
    """Confirmation emails owed to pending subscribers (an import, or a relay that was down
    when they signed up); with none owed, one query on a partial index. Before the
    campaigns, so people waiting for their link are not held up by a long send."""
    if next(iter_unsent_confirmations(store, batch=1), None) is None:
        return  # the usual pass: no mail code imported
    from publisher.subscribers.confirmations import send_unsent  # lazy: mail code

    batch = send_unsent(config, store, stop)
    summary.confirmations = batch.line()
    if batch.problem:  # the relay is down or refuses us: mail is left unsent
        _problem(summary, batch.problem)


def _welcome(config: Config, store: Store, summary: TickSummary) -> None:
    """Welcome emails still owed (the relay was down when someone confirmed); with none
    owed, one query on a partial index."""
    owed = newcomers.welcomes_due(store, config.now)
    if not owed:
        return
    from publisher.subscribers.welcome import send_owed  # lazy: mail code

    summary.notes.append(send_owed(config, store, owed))


def _would_send(store: Store, summary: TickSummary) -> None:
    """The dry run's last steps: confirmations owed and campaigns to continue."""
    if next(iter_unsent_confirmations(store, batch=1), None) is not None:
        summary.notes.append("would send the confirmations owed")
    for campaign in ledger.list_campaigns(store, unfinished=True):
        summary.notes.append(f"would continue {campaign.key}")


def _inbound(config: Config, store: Store, summary: TickSummary) -> None:
    """Read `[inbound] mailbox` before sending, so this pass skips who just bounced; a
    message that could not be handled is set aside and reported, the rest are read."""
    from publisher.inbound.effects import FAILED, process_all  # lazy: only with a mailbox
    from publisher.inbound.mailboxes import read_mailbox

    outcomes = process_all(store, config, read_mailbox(config), config.now)
    if outcomes:
        acted = sum(not o.duplicate and o.subscriber_id is not None for o in outcomes)
        summary.notes.append(f"read {len(outcomes)} inbound message(s), {acted} acted on")
    for outcome in outcomes:
        if outcome.kind == FAILED:
            _problem(summary, StepError(f"inbound: a message {outcome.action}"))


def _deliver(
    config: Config, store: Store, stop: threading.Event | None, summary: TickSummary
) -> None:
    """Run every unfinished campaign within the throttle; never sleeps for the hourly cap."""
    if not ledger.list_campaigns(store, unfinished=True):
        return
    from publisher.delivery.campaigns import resume_all  # lazy: mail code

    for result in resume_all(config, store, stop=stop, wait_hourly=False):
        summary.deliveries.append(result.line())
        if result.problem:
            _problem(summary, result.problem)


# --- The long-running process: run ------------------------------------------------------


def run(config: Config, interval: int | None = None, stop: threading.Event | None = None) -> None:
    """Tick now and then every `interval` seconds (`[scheduler] interval`) until `stop` is set.

    A pass that fails is logged and the next one runs as usual. Time advances from
    `config.now`, so `--now` shifts the whole run.
    """
    interval = interval or config.scheduler.interval
    stop = stop or threading.Event()
    clock = Clock(config.now)

    def one_pass() -> None:
        now = clock()
        try:
            summary = tick(replace(config, now=now), stop)
        except PublisherError as exc:
            log.error("pass failed: %s", exc)
        except Exception as exc:
            log.debug("pass failed", exc_info=True)
            log.error("pass failed: %s", reason(exc))
        else:
            if summary.problems:
                log.error("pass failed: %s", summary.line(config))
            else:
                log.info("%s", summary.line(config))

    jobs = schedule.Scheduler()
    jobs.every(interval).seconds.do(one_pass)
    log.info("running a pass every %d s; stop with SIGTERM or Ctrl-C", interval)
    one_pass()
    while not stop.is_set():
        jobs.run_pending()
        stop.wait(min(1.0, max(0.05, jobs.idle_seconds or 0.0)))
    log.info("stopped")
