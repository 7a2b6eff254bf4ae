"""Scheduling: what is due at `now`, and one idempotent pass (`tick`) that does it.

The rules are pure functions of the config, the posts and `now`, so they can be tested by
time travel: which posts went live, which of them to announce, which digest period is due
and which posts it holds. Local times (the digest's `at`) are resolved in the site time
zone; a wall time skipped by a clock change fires at the change, a repeated one fires once
(its first occurrence), because a period is identified by its local date, not its instant.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from publisher.config import WEEKDAYS, Config
from publisher.content.posts import Post, Scan
from publisher.errors import ContentErrors, PublisherError

log = logging.getLogger("publisher.schedule.tick")

# --- Local time ----------------------------------------------------------------------


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None, fold=0)


def local_instant(day: date, at: clock_time, tz: ZoneInfo) -> datetime:
    """The UTC instant the site's clocks show `at` on `day`.

    A wall time that happens twice (clocks back) gives its first occurrence; one that does
    not happen (clocks forward) gives the first valid instant after it: the change itself.
    """
    wall = datetime.combine(day, at)
    before = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(before, tz) == wall:
        return before
    # In a gap, fold=0 reads the wall time with the old offset and lands after the change,
    # fold=1 with the new offset and lands before it; the change lies between the two.
    low, high = wall.replace(tzinfo=tz, fold=1).astimezone(UTC), before
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
        if _wall(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return high


# --- Digest periods ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One digest period: `id` is its local date (2026-11-30) or month (2026-12)."""

    id: str
    due: datetime  # aware UTC

    @property
    def key(self) -> str:
        return f"digest:{self.id}"


def _anchor_on_or_before(every: str, day: date) -> date:
    """The local date the period containing `day` starts on."""
    if every == "day":
        return day
    if every == "month":
        return day.replace(day=1)
    return day - timedelta(days=(day.weekday() - WEEKDAYS.index(every)) % 7)


def _step(every: str, anchor: date, count: int) -> date:
    """The anchor `count` periods after (or before, when negative) `anchor`."""
    if every == "day":
        return anchor + timedelta(days=count)
    if every == "month":
        months = anchor.year * 12 + anchor.month - 1 + count
        return date(months // 12, months % 12 + 1, 1)
    return anchor + timedelta(weeks=count)


def _period(config: Config, anchor: date) -> Period:
    every = config.digest.every.lower()
    ident = anchor.strftime("%Y-%m") if every == "month" else anchor.isoformat()
    return Period(ident, local_instant(anchor, config.digest.at, config.tz))


def period_at(config: Config, moment: datetime) -> Period:
    """The latest period whose due time is at or before `moment`."""
    every = config.digest.every.lower()
    anchor = _anchor_on_or_before(every, _wall(moment, config.tz).date())
    period = _period(config, anchor)
    return period if period.due <= moment else _period(config, _step(every, anchor, -1))


def period_after(config: Config, moment: datetime) -> Period:
    """The first period whose due time is after `moment`."""
    return _shift(config, period_at(config, moment), 1)


def previous_period(config: Config, period: Period) -> Period:
    return _shift(config, period, -1)


def _shift(config: Config, period: Period, count: int) -> Period:
    anchor = _anchor_of(period.id)
    return _period(config, _step(config.digest.every.lower(), anchor, count))


def _anchor_of(ident: str) -> date:
    """The first local date of a period, from its id (2026-11-30, or 2026-12 for a month)."""
    return date.fromisoformat(ident if len(ident) == 10 else f"{ident}-01")


def period_of_key(config: Config, key: str) -> Period | None:
    """The period a `digest:<id>` campaign key names (due at today's `at`), or None."""
    ident = key.removeprefix("digest:")
    try:
        anchor = _anchor_of(ident)
    except ValueError:
        return None
    return Period(ident, local_instant(anchor, config.digest.at, config.tz))


def last_digest_due(config: Config, keys: Iterable[str], before: datetime) -> datetime | None:
    """Due time of the latest digest campaign before `before`, from the campaigns' keys."""
    dues = [p.due for p in (period_of_key(config, k) for k in keys) if p and p.due < before]
    return max(dues, default=None)


def digest_since(
    config: Config, period: Period, campaign_keys: Collection[str], started: datetime | None
) -> datetime:
    """Where the posts of `period`'s digest start (exclusive)."""
    since = last_digest_due(config, campaign_keys, period.due)
    since = since or previous_period(config, period).due
    return max(since, started) if started else since


@dataclass(frozen=True)
class DigestPlan:
    """The latest digest period at `now`, the posts it holds, and what to do about it."""

    period: Period
    since: datetime
    posts: list[Post]
    status: str  # due | done (its campaign exists) | missed (beyond grace) | empty (no posts)


def digest_posts(
    config: Config, posts: Sequence[Post], since: datetime, until: datetime
) -> list[Post]:
    """Emailable posts live in (since, until], newest first, at most `max_posts`."""
    chosen = [p for p in posts if p.email and not p.draft and since < p.date <= until]
    chosen.sort(key=lambda p: p.date, reverse=True)
    return chosen[: config.digest.max_posts]


def plan_digest(
    config: Config,
    now: datetime,
    posts: Sequence[Post],
    campaign_keys: Collection[str],
    started: datetime | None = None,
) -> DigestPlan:
    """The latest period due at `now` and what it would hold.

    Posts are those live since the previous digest that went out (so a period skipped while
    the machine was off loses nothing), or since the previous period when none did, and
    never from before the scheduler's first run (`started`: that is back catalogue). Only
    the latest period is ever planned, so a long outage yields one digest, not a backlog.
    """
    period = period_at(config, now)
    since = digest_since(config, period, campaign_keys, started)
    chosen = digest_posts(config, posts, since, period.due)
    if period.key in campaign_keys:
        status = "done"
    elif now - period.due > config.digest.grace:
        status = "missed"
    else:
        status = "due" if chosen else "empty"
    return DigestPlan(period, since, chosen, status)


# --- Publication and announcements ---------------------------------------------------


@dataclass(frozen=True)
class Publication:
    """A post seen live for the first time, and whether it gets an announcement."""

    slug: str
    live_at: datetime
    announce: bool


def new_publications(
    config: Config,
    posts: Iterable[Post],
    known: Mapping[str, datetime],
    now: datetime,
    first_run: bool,
) -> list[Publication]:
    """Live posts not recorded yet (`known`: slug -> when it went live), oldest first.

    On the first run every live post is back catalogue and never announced; later, a post is
    announced only when it allows email and went live within `announce_max_age`, so a post
    added with an old date by mistake does not go out. A post whose slug changed (a typo
    fixed in its title) is the same post: a recorded slug that is no longer live with the
    same date means it was announced already.
    """
    live = [p for p in posts if p.is_live(now)]
    live_slugs = {p.slug for p in live}
    renamed = {when for slug, when in known.items() if slug not in live_slugs}
    fresh = sorted((p for p in live if p.slug not in known), key=_by_date)
    max_age = config.newsletter.announce_max_age
    return [
        Publication(
            p.slug,
            p.date,
            not first_run and p.email and now - p.date <= max_age and p.date not in renamed,
        )
        for p in fresh
    ]


def _by_date(post: Post) -> datetime:
    return post.date


# --- One pass: tick --------------------------------------------------------------------


class DeployError(PublisherError):
    """`[site] deploy` failed; the site stays built and the next tick runs it again."""

    exit_code = 1


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
    from publisher.content.posts import scan_logged
    from publisher.store.db import Store

    summary = TickSummary(config.now)
    with Store.open(config) as store:
        found = _attempt(summary, scan_logged, config)
        posts = found.publishable if found else None
        if posts is not None and _attempt(summary, _publish, config, store, found, summary):
            _attempt(summary, _announce, config, store, posts, summary)
            _attempt(summary, _digest, config, store, posts, summary)
        elif posts is not None:
            summary.notes.append("announcements and digest wait for the site to be published")
        if stop is None or not stop.is_set():
            _attempt(summary, _confirm, config, store, stop, summary)
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
        from publisher.delivery.transports import reason

        log.debug("%s failed", step.__name__, exc_info=True)
        _problem(summary, StepError(f"{step.__name__.lstrip('_')}: {reason(exc)}"))
    return None


def _problem(summary: TickSummary, exc: PublisherError) -> None:
    """Log a problem, a line at a time, and count it in the summary's exit code."""
    for line in str(exc).splitlines():
        log.error("%s", line)
    summary.problems.append(exc)


def _publish(config: Config, store, found: Scan, summary: TickSummary) -> bool:
    """Rebuild the site when the set of live posts changed, then deploy; True when the site
    is up to date (or another tick is bringing it up to date).

    A post with errors is left out and reported. When the site shows it (it was live and
    an edit broke it), the site is not rebuilt at all until it is fixed: rebuilding would
    take its page down, and nothing new goes live meanwhile.
    """
    from publisher.site.cache import shown_sources
    from publisher.store import published

    posts = found.publishable
    if found.errors:
        _problem(summary, BrokenPosts(found.errors))
        broken = dict.fromkeys(f"{e.path}:{e.line}" for e in found.errors)
        summary.notes.append(f"not published: {', '.join(broken)}")
        shown = shown_sources(config)
        if shown is None or any(e.path in shown for e in found.errors):
            summary.notes.append("site not rebuilt: it shows (or may show) a broken post")
            return False  # nothing new goes live, so nothing new is announced
    live = {p.slug for p in posts if p.is_live(config.now)}
    seen = published.seen(store)
    if seen.started and seen.slugs == live and not _deploy_marker(config).exists():
        return True
    with site_lock(config) as locked:
        if not locked:
            summary.notes.append("site build skipped: another tick is building it")
            return True
        seen = published.seen(store)  # the other tick may have done it meanwhile
        fresh = new_publications(config, posts, seen.live_at, config.now, not seen.started)
        gone = seen.slugs - live
        if fresh or gone or not seen.started:
            from publisher.site.build import build

            summary.build = build(config, posts=list(posts)).summary()
            if config.site.deploy:
                _deploy_marker(config).touch()
            published.record(store, fresh, gone, config.now)
            if seen.started:
                summary.published = [p.slug for p in fresh]
            else:
                summary.notes.append(f"first run: {len(fresh)} live posts recorded, not announced")
        if _deploy_marker(config).exists():
            try:
                deploy(config)
            except DeployError:
                summary.deploy = "failed"
                raise
            summary.deploy = "ok"
    return True


def _deploy_marker(config: Config) -> Path:
    """Present while a successful build has not been deployed yet."""
    return config.data_dir / "deploy-pending"


@contextmanager
def site_lock(config: Config) -> Iterator[bool]:
    """Hold `data/site.lock` (flock); yields False after `[scheduler] lock_wait` without it."""
    import fcntl

    config.data_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + config.scheduler.lock_wait.total_seconds()
    with open(config.data_dir / "site.lock", "w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def deploy(config: Config) -> None:
    """Run `[site] deploy` in the site root, its output logged; DeployError when it fails."""
    import subprocess

    command = config.site.deploy
    log.info("deploy: running %s", command)
    try:
        done = subprocess.run(
            command,
            shell=True,
            cwd=config.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=config.scheduler.deploy_timeout.total_seconds(),
        )
    except subprocess.TimeoutExpired:
        raise DeployError(
            f"deploy: {command!r} ran longer than {config.scheduler.deploy_timeout}; "
            "the next tick tries again"
        ) from None
    for line in done.stdout.splitlines():
        log.info("deploy: %s", line)
    if done.returncode != 0:
        raise DeployError(
            f"deploy: {command!r} exited with status {done.returncode}; "
            "the site is built and the next tick tries again"
        )
    _deploy_marker(config).unlink(missing_ok=True)


def _announce(config: Config, store, posts: Sequence[Post], summary: TickSummary) -> None:
    """A `post:<slug>` campaign to `each` subscribers for every post recorded to announce."""
    from publisher.store import published

    pending = published.unannounced(store)
    if not pending:
        return
    by_slug = {p.slug: p for p in posts}
    for slug, live_at in pending:
        post = by_slug.get(slug)
        if post is None or not post.is_live(config.now) or not post.email:
            reason = "it is no longer live or no longer allows email"
        elif config.now - live_at > config.newsletter.announce_max_age:
            reason = f"it went live more than {config.newsletter.announce_max_age} ago"
        else:
            _attempt(summary, _announce_post, config, store, post, posts, summary)
            continue
        published.cancel_announcement(store, slug)
        summary.notes.append(f"post:{slug} not announced: {reason}")


def _announce_post(config: Config, store, post: Post, posts: Sequence[Post], summary) -> None:
    """The campaign of one post. A post whose email cannot be built (a line break in its
    title) gets none and is reported by file; it stays due, so fixing it announces it."""
    from publisher.delivery.campaigns import create_campaign
    from publisher.mail.newsletter import render_post

    try:
        campaign, created = create_campaign(config, store, render_post(config, post, posts), "each")
    except Exception as exc:
        from publisher.delivery.transports import reason

        code = getattr(exc, "exit_code", 1)
        raise StepError(f"{post.source}: not announced: {reason(exc)}", code) from exc
    if created:
        summary.campaigns.append(f"{campaign.key} ({campaign.total:,} recipients)")


def _digest(config: Config, store, posts: Sequence[Post], summary: TickSummary) -> None:
    """The digest campaign of the period due now, unless it exists or holds no posts."""
    from publisher.store import published

    keys = published.campaign_keys(store, "digest:")
    plan = plan_digest(config, config.now, posts, keys, published.started_at(store))
    if plan.status == "empty" and plan.since < plan.period.due:  # not before the first run
        since = f"{config.local(plan.since):%Y-%m-%d %H:%M}"
        summary.notes.append(f"{plan.period.key}: no new posts since {since}, nothing to send")
    elif plan.status == "missed":
        log.debug("%s was due more than [digest] grace ago; skipped", plan.period.key)
    elif plan.status == "due":
        from publisher.delivery.campaigns import create_campaign
        from publisher.mail.newsletter import render_digest

        newsletter = render_digest(config, plan.posts, plan.period.id)
        campaign, created = create_campaign(config, store, newsletter, "digest")
        if created:
            summary.campaigns.append(f"{campaign.key} ({campaign.total:,} recipients)")


def _confirm(config: Config, store, stop: threading.Event | None, summary: TickSummary) -> None:
    """Confirmation emails owed to pending subscribers (an import, or a relay that was down
    when they signed up); with none owed, one query on a partial index. Before the
    campaigns, so people waiting for their link are not held up by a long send."""
    from publisher.store.subscribers import iter_unsent_confirmations

    if next(iter_unsent_confirmations(store, batch=1), None) is None:
        return  # the usual pass: no mail code imported
    from publisher.subscribers.confirmations import send_unsent

    batch = send_unsent(config, store, stop)
    summary.confirmations = batch.line()
    if batch.problem:  # the relay is down or refuses us: mail is left unsent
        _problem(summary, batch.problem)


def _deliver(config: Config, store, stop: threading.Event | None, summary: TickSummary) -> None:
    """Run every unfinished campaign within the throttle; never sleeps for the hourly cap."""
    from publisher.store import ledger

    if not ledger.list_campaigns(store, unfinished=True):
        return
    from publisher.delivery.campaigns import resume_all

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
    import dataclasses

    import schedule

    interval = interval or config.scheduler.interval
    stop = stop or threading.Event()
    started, clock = config.now, time.monotonic()

    def one_pass() -> None:
        now = started + timedelta(seconds=time.monotonic() - clock)
        try:
            summary = tick(dataclasses.replace(config, now=now), stop)
        except PublisherError as exc:
            log.error("pass failed: %s", exc)
        except Exception as exc:
            from publisher.delivery.transports import reason

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


# --- What happens next: queue -----------------------------------------------------------


@dataclass(frozen=True)
class QueuedPost:
    slug: str
    title: str
    publish_at: datetime  # aware UTC
    announce: bool  # an email goes to `each` subscribers when it is published
    recipients: int  # how many, counted now


@dataclass(frozen=True)
class Queue:
    """Posts the next ticks will publish, in order (live ones no tick has published yet
    first), and the next digest with the posts it holds so far."""

    now: datetime
    posts: list[QueuedPost]
    digest: Period
    digest_posts: list[Post]
    digest_recipients: int

    def as_dict(self, config: Config) -> dict:
        def local(moment: datetime) -> str:
            return config.local(moment).isoformat()

        return {
            "now": local(self.now),
            "timezone": config.site.timezone,
            "posts": [
                {
                    "slug": p.slug,
                    "title": p.title,
                    "publish_at": local(p.publish_at),
                    "announce": p.announce,
                    "recipients": p.recipients,
                }
                for p in self.posts
            ],
            "digest": {
                "key": self.digest.key,
                "due": local(self.digest.due),
                "posts": [p.slug for p in self.digest_posts],
                "recipients": self.digest_recipients,
            },
        }


def _queued(post: Post, announce: bool, recipients: int) -> QueuedPost:
    return QueuedPost(post.slug, post.title, post.date, announce, recipients if announce else 0)


def queue(config: Config) -> Queue:
    """What the scheduler will do next, as of `config.now`."""
    from publisher.content.posts import load_posts
    from publisher.store import ledger, published
    from publisher.store.db import Store

    posts = load_posts(config)
    with Store.open(config) as store:
        each = ledger.count_recipients(store, "each")
        digest = ledger.count_recipients(store, "digest")
        keys = published.campaign_keys(store, "digest:")
        started = published.started_at(store)
        seen = published.seen(store)
    now = config.now
    # Live posts no tick has published yet come first: the next tick publishes them.
    due = {
        p.slug: p.announce for p in new_publications(config, posts, seen.live_at, now, not started)
    }
    waiting = sorted(
        (p for p in posts if not p.draft and (p.date > now or p.slug in due)), key=_by_date
    )
    plan = plan_digest(config, now, posts, keys, started)
    period = plan.period if plan.status == "due" else period_after(config, now)
    since = digest_since(config, period, keys, started or now)
    return Queue(
        now=now,
        posts=[_queued(p, due.get(p.slug, p.email), each) for p in waiting],
        digest=period,
        digest_posts=digest_posts(config, posts, since, min(now, period.due)),
        digest_recipients=digest,
    )
