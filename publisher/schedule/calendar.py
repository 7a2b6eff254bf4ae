"""The calendar of the scheduler: what is due at `now`, as pure functions of the config,
the posts and `now`.

They can be tested by time travel: which posts went live, which of them to announce, which
digest period is due and which posts it holds. Local times (the digest's `at`) are resolved
in the site time zone; a wall time skipped by a clock change fires at the change, a
repeated one fires once (its first occurrence), because a period is identified by its
local date, not its instant.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from publisher.config import WEEKDAYS, Config
from publisher.content.posts import Post
from publisher.schedule.decisions import SAME_POST
from publisher.store.published import Record, Seen

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
    """The period a `digest:<id>` campaign key names (due at today's `at`), or None; an
    edition for readers of some topics (`digest:<id>.<topics>`) names its period too."""
    ident = key.removeprefix("digest:").partition(".")[0]
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
    config: Config,
    posts: Sequence[Post],
    since: datetime,
    until: datetime,
    went_live: Mapping[str, datetime] | None = None,
) -> list[Post]:
    """Posts for the digest that went live in (since, until], newest first, at most
    `max_posts`. `went_live` (slug -> when, from the store) says which posts are owed a
    digest and when each went live (a post taken out of draft goes live after its date):
    each goes in the first digest due after it, however long before `since` that was (a
    post that went live while no tick ran was promised one); without it, every emailable
    post's date does, within (since, until]."""
    owed = went_live is not None
    if went_live is None:
        went_live = {p.slug: p.date for p in posts if p.email and not p.draft}
    emailed = {p.slug: emailed_at(p, went_live[p.slug]) for p in posts if p.slug in went_live}
    chosen = [
        p
        for p in posts
        if p.slug in emailed and (owed or since < emailed[p.slug]) and emailed[p.slug] <= until
    ]
    chosen.sort(key=lambda p: emailed[p.slug], reverse=True)
    return chosen[: config.digest.max_posts]


def emailed_at(post: Post, live_at: datetime) -> datetime:
    """When the email of a post that went live at `live_at` is due: then, or at its
    `email_at` when that is later (a digest takes it from then on, too)."""
    return max(live_at, post.email_at) if post.email_at else live_at


def email_time(config: Config, post: Post, live_at: datetime) -> str:
    """Its `email_at` in site time when that is after `live_at` (what a decision shows as
    "announced at ..."), else ""."""
    later = emailed_at(post, live_at)
    return f"{config.local(later):%Y-%m-%d %H:%M}" if later > live_at else ""


def plan_digest(
    config: Config,
    now: datetime,
    posts: Sequence[Post],
    campaign_keys: Collection[str],
    started: datetime | None = None,
    went_live: Mapping[str, datetime] | None = None,
) -> DigestPlan:
    """The latest period due at `now` and what it would hold.

    Posts are those live since the previous digest that went out (so a period skipped while
    the machine was off loses nothing), or since the previous period when none did, and
    never from before the scheduler's first run (`started`: that is back catalogue). Only
    the latest period is ever planned, so a long outage yields one digest, not a backlog.
    """
    period = period_at(config, now)
    since = digest_since(config, period, campaign_keys, started)
    chosen = digest_posts(config, posts, since, period.due, went_live)
    if period.key in campaign_keys:
        status = "done"
    elif now - period.due > config.digest.grace:
        status = "missed"
    else:
        status = "due" if chosen else "empty"
    return DigestPlan(period, since, chosen, status)


def digest_for(
    config: Config, emailed: datetime, campaign_keys: Collection[str], now: datetime
) -> Period:
    """The digest that carries a post waiting for one, emailed (live, or its `email_at`)
    at `emailed`, as `plan_digest` will choose it: the period due at `now` while its
    digest is still to be sent and the post is in time for it, else the first one due
    after both. What a post's line promises ("in the digest of ...")."""
    current = period_at(config, now)
    sendable = current.key not in campaign_keys and now - current.due <= config.digest.grace
    if sendable and emailed <= current.due:
        return current
    return period_after(config, max(now, emailed - timedelta(microseconds=1)))


# --- Publication and announcements ---------------------------------------------------


@dataclass(frozen=True)
class Publication:
    """A post seen live for the first time, and its email decision."""

    slug: str
    live_at: datetime
    announce: bool  # a campaign to `each` subscribers
    in_digest: bool  # in the next digest to `digest` subscribers
    reason: str = ""  # why it is not emailed at all, or not announced
    source: str = ""
    path: str = ""
    email_at: datetime | None = None  # when it is announced, when later than it goes live


def new_publications(
    config: Config, posts: Iterable[Post], seen: Seen, now: datetime
) -> list[Publication]:
    """Live posts not recorded yet, oldest first, each with its email decision.

    A post goes live when its date comes, or when it appears after the previous pass (taken
    out of draft, added with an earlier date): then it goes live now and is emailed like
    any other. Not emailed, with the reason: the back catalogue found on the first run;
    more than `import_threshold` old posts appearing at once (an import); `email: false`;
    a post that went live more than `announce_max_age` ago (the machine was off), which
    still goes in the digest; and a post recorded before under another slug, already
    announced (or not) under that one, which goes in a digest still owed to it.
    """
    live = [p for p in posts if p.is_live(now)]
    live_slugs = {p.slug for p in live}
    renamed = {
        r.source or r.live_at: r for slug, r in seen.records.items() if slug not in live_slugs
    }
    fresh = sorted((p for p in live if p.slug not in seen.records), key=by_date)
    last = seen.last_pass
    late = [p for p in fresh if last is not None and p.date <= last]
    imported = len(late) > config.newsletter.import_threshold  # old posts, not news
    return [_decide(config, p, now, last, renamed, seen.started is None, imported) for p in fresh]


def _decide(
    config: Config,
    post: Post,
    now: datetime,
    last_pass: datetime | None,
    renamed: Mapping[object, Record],
    first_run: bool,
    migration: bool,
) -> Publication:
    late = last_pass is not None and post.date <= last_pass
    went_live = now if late else post.date
    former = renamed.get(post.source.as_posix()) or renamed.get(post.date)
    max_age = config.newsletter.announce_max_age
    if first_run:
        reason, digest = "back catalogue (live when publisher first ran)", False
    elif late and migration:
        reason, digest = "one of many old posts that appeared at once (an import?)", False
    elif former:  # its emails are the former address's: a digest still owed carries it
        reason = f"{SAME_POST} {former.slug!r} before its slug changed"
        digest, went_live = former.in_digest and former.digest_key is None, former.live_at
    elif not post.email:
        reason, digest = "email: false in its front matter", False
    elif now - emailed_at(post, went_live) > max_age:
        reason = f"it went live more than [newsletter] announce_max_age ({max_age}) ago"
        digest = True
    else:
        reason, digest = "", True
    return Publication(
        post.slug,
        went_live,
        announce=not reason,
        in_digest=digest,
        reason=reason,
        source=post.source.as_posix(),
        path=f"/posts/{post.slug}/",
        email_at=post.email_at if emailed_at(post, went_live) > went_live else None,
    )


def by_date(post: Post) -> datetime:
    return post.date
