"""One idempotent pass (`tick`) that does what is due at `now`, and `run`, which repeats it.

What is due comes from the calendar (`publisher.schedule.calendar`); this module carries it
out: publish and deploy the site, create campaigns, send owed confirmations, deliver.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import schedule

from publisher.clock import Clock
from publisher.config import Config
from publisher.content.posts import Post, Scan, scan_logged
from publisher.delivery.transports import reason
from publisher.errors import ContentErrors, PublisherError
from publisher.schedule.calendar import new_publications, plan_digest
from publisher.schedule.deploy import DeployError, deploy, deploy_marker, site_lock
from publisher.store import ledger, published
from publisher.store.db import Store
from publisher.store.subscribers import iter_unsent_confirmations

log = logging.getLogger(__name__)


class BrokenPosts(ContentErrors):
    """Posts with errors, left out of the tick; the good ones are still published."""

    exit_code = 1


class StepError(PublisherError):
    """One step, or one post's announcement, failed; the others still run. Anything
    unexpected (a bug, an odd value) is exit 1, its traceback in the debug log."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class TickSummary:
    """What one pass did, for the one-line report and the logs."""

    now: datetime
    published: list[str] = field(default_factory=list)  # slugs newly live
    build: str = ""  # the build's summary, when the site was rebuilt
    deploy: str = ""  # "ok" or "failed" when `[site] deploy` ran
    campaigns: list[str] = field(default_factory=list)  # created by this pass
    notes: list[str] = field(default_factory=list)  # skipped steps, empty digests
    confirmations: str = ""  # "sent 3 confirmations", when any were due
    deliveries: list[str] = field(default_factory=list)  # one line per campaign run
    problems: list[PublisherError] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return max((p.exit_code for p in self.problems), default=0)

    def line(self, config: Config) -> str:
        parts = []
        if self.published:
            shown = ", ".join(self.published[:5]) + (", ..." if len(self.published) > 5 else "")
            parts.append(f"published {len(self.published)}: {shown}")
        if self.build:
            parts.append(self.build)
        if self.deploy:
            parts.append(f"deploy {self.deploy}")
        parts += [f"created {key}" for key in self.campaigns]
        parts += [self.confirmations] if self.confirmations else []
        parts += self.deliveries + self.notes
        parts += [f"{len(self.problems)} problem(s), see the log"] if self.problems else []
        when = f"{config.local(self.now):%Y-%m-%d %H:%M %Z}"
        return f"tick {when}: {'; '.join(parts) or 'nothing due'}"


def tick(config: Config, stop: threading.Event | None = None) -> TickSummary:
    """One idempotent pass: publish due posts, create due campaigns, send confirmations
    still owed to pending subscribers, run unfinished campaigns.

    Safe to run every minute and concurrently: campaign keys are unique in the store and a
    lock file serializes site builds. A problem in one step (a broken post, a failing
    deploy) is logged and reported in the summary; the steps that do not depend on it
    still run, so a campaign in progress keeps going while someone fixes a post.
    """
    summary = TickSummary(config.now)
    with Store.open(config) as store:
        found = _attempt(summary, scan_logged, config)
        posts = found.publishable if found else None
        if posts is not None and _attempt(summary, _publish, config, store, found, summary):
            _attempt(summary, _announce, config, store, posts, summary)
            _attempt(summary, _digest, config, store, posts, summary)
            if summary.campaigns:
                _attempt(summary, _archive, config, posts, summary)
        elif posts is not None:
            summary.notes.append("announcements and digest wait for the site to be published")
        if stop is None or not stop.is_set():
            _attempt(summary, _confirm, config, store, stop, summary)
        if config.inbound.mailbox and (stop is None or not stop.is_set()):
            _attempt(summary, _inbound, config, store, summary)
        if stop is None or not stop.is_set():
            _attempt(summary, _deliver, config, store, stop, summary)
    return summary


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


def _publish(config: Config, store: Store, found: Scan, summary: TickSummary) -> bool:
    """Rebuild the site when the set of live posts changed, then deploy; True when the site
    is up to date (or another tick is bringing it up to date).

    A post with errors is left out and reported. When the site shows it (it was live and
    an edit broke it), the site is not rebuilt at all until it is fixed: rebuilding would
    take its page down, and nothing new goes live meanwhile.
    """
    posts = found.publishable
    if found.errors:
        from publisher.site.cache import shown_sources  # lazy: Jinja, for a broken post only

        _problem(summary, BrokenPosts(found.errors))
        broken = dict.fromkeys(f"{e.path}:{e.line}" for e in found.errors)
        summary.notes.append(f"not published: {', '.join(broken)}")
        shown = shown_sources(config)
        if shown is None or any(e.path in shown for e in found.errors):
            summary.notes.append("site not rebuilt: it shows (or may show) a broken post")
            return False  # nothing new goes live, so nothing new is announced
    live = {p.slug for p in posts if p.is_live(config.now)}
    seen = published.seen(store)
    if seen.started and seen.slugs == live and not deploy_marker(config).exists():
        return True
    with site_lock(config) as locked:
        if not locked:
            summary.notes.append("site build skipped: another tick is building it")
            return True
        seen = published.seen(store)  # the other tick may have done it meanwhile
        fresh = new_publications(config, posts, seen.live_at, config.now, not seen.started)
        gone = seen.slugs - live
        if fresh or gone or not seen.started:
            from publisher.site.build import build  # lazy: only when the live posts changed

            summary.build = build(config, posts=list(posts)).summary()
            if config.site.deploy:
                deploy_marker(config).touch()
            published.record(store, fresh, gone, config.now)
            if seen.started:
                summary.published = [p.slug for p in fresh]
            else:
                summary.notes.append(f"first run: {len(fresh)} live posts recorded, not announced")
        if deploy_marker(config).exists():
            try:
                deploy(config)
            except DeployError:
                summary.deploy = "failed"
                raise
            summary.deploy = "ok"
    return True


def _announce(config: Config, store: Store, posts: Sequence[Post], summary: TickSummary) -> None:
    """A `post:<slug>` campaign to `each` subscribers for every post recorded to announce."""
    pending = published.unannounced(store)
    if not pending:
        return
    by_slug = {p.slug: p for p in posts}
    for slug, live_at in pending:
        post = by_slug.get(slug)
        if post is None or not post.is_live(config.now) or not post.email:
            why = "it is no longer live or no longer allows email"
        elif config.now - live_at > config.newsletter.announce_max_age:
            why = f"it went live more than {config.newsletter.announce_max_age} ago"
        else:
            _attempt(summary, _announce_post, config, store, post, posts, summary)
            continue
        published.cancel_announcement(store, slug)
        summary.notes.append(f"post:{slug} not announced: {why}")


def _announce_post(
    config: Config, store: Store, post: Post, posts: Sequence[Post], summary: TickSummary
) -> None:
    """The campaign of one post. A post whose email cannot be built (a line break in its
    title) gets none and is reported by file; it stays due, so fixing it announces it."""
    # Lazy: the mail code (premailer) is imported only when a campaign is due.
    from publisher.delivery.campaigns import create_campaign
    from publisher.mail.newsletter import render_post

    try:
        campaign, created = create_campaign(config, store, render_post(config, post, posts), "each")
    except Exception as exc:
        code = getattr(exc, "exit_code", 1)
        raise StepError(f"{post.source}: not announced: {reason(exc)}", code) from exc
    if created:
        summary.campaigns.append(f"{campaign.key} ({_recipients(campaign.total)})")


def _digest(config: Config, store: Store, posts: Sequence[Post], summary: TickSummary) -> None:
    """The digest campaign of the period due now, unless it exists or holds no posts."""
    keys = published.campaign_keys(store, "digest:")
    plan = plan_digest(config, config.now, posts, keys, published.started_at(store))
    if plan.status == "empty" and plan.since < plan.period.due:  # not before the first run
        since = f"{config.local(plan.since):%Y-%m-%d %H:%M}"
        summary.notes.append(f"{plan.period.key}: no new posts since {since}, nothing to send")
    elif plan.status == "missed":
        log.debug("%s was due more than [digest] grace ago; skipped", plan.period.key)
    elif plan.status == "due":
        # Lazy: the mail code (premailer) is imported only when a campaign is due.
        from publisher.delivery.campaigns import create_campaign
        from publisher.mail.newsletter import render_digest

        newsletter = render_digest(config, plan.posts, plan.period.id)
        campaign, created = create_campaign(config, store, newsletter, "digest")
        if created:
            summary.campaigns.append(f"{campaign.key} ({_recipients(campaign.total)})")


def _recipients(count: int) -> str:
    return f"{count:,} recipient{'' if count == 1 else 's'}"


def _archive(config: Config, posts: Sequence[Post], summary: TickSummary) -> None:
    """Rebuild (and deploy) the site after this pass created campaigns, so each has the
    page in the newsletter archive that its "View in browser" link points at."""
    from publisher.site.build import build  # lazy, as in `_publish`

    with site_lock(config) as locked:
        if not locked:
            summary.notes.append("archive build skipped: another tick is building the site")
            return
        summary.build = build(config, posts=list(posts)).summary()
        if config.site.deploy:
            deploy_marker(config).touch()
            try:
                deploy(config)
            except DeployError:
                summary.deploy = "failed"
                raise
            summary.deploy = "ok"


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


def _inbound(config: Config, store: Store, summary: TickSummary) -> None:
    """Read `[inbound] mailbox` before sending, so this pass skips who just bounced."""
    from publisher.inbound.effects import process_all  # lazy: only with a mailbox
    from publisher.inbound.mailboxes import read_mailbox

    outcomes = process_all(store, config, read_mailbox(config), config.now)
    if outcomes:
        acted = sum(not o.duplicate and o.subscriber_id is not None for o in outcomes)
        summary.notes.append(f"read {len(outcomes)} inbound message(s), {acted} acted on")


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
