"""What happens next: the posts the next ticks will publish and the next digest."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from publisher import topics
from publisher.config import Config
from publisher.content.posts import Post, load_posts
from publisher.schedule import links
from publisher.schedule.calendar import (
    Period,
    Publication,
    by_date,
    digest_for,
    digest_posts,
    digest_since,
    email_time,
    emailed_at,
    new_publications,
    period_after,
    plan_digest,
)
from publisher.schedule.decisions import describe
from publisher.store import campaign_counts, published
from publisher.store.audience import reader_choices
from publisher.store.db import Store
from publisher.store.published import Record, Seen
from publisher.topics import Reach


@dataclass(frozen=True)
class QueuedPost:
    slug: str
    title: str
    publish_at: datetime  # aware UTC
    announce: bool  # an email goes to `each` subscribers when it is published
    recipients: int  # how many, counted now
    email: str  # the email decision, in words
    per_topic: dict[str, int]  # its recipients per topic of the post ("": every topic)


@dataclass(frozen=True)
class Queue:
    """Posts the next ticks will publish, in order (live ones no tick has published yet
    first), the next digest with the posts it holds so far, and the posts published
    recently with their email decisions."""

    now: datetime
    posts: list[QueuedPost]
    digest: Period
    digest_posts: list[Post]
    digest_live: dict[str, datetime]  # slug -> when each digest post went (or goes) live
    digest_reach: Reach  # its readers who get at least one of its posts
    recent: list[tuple[str, datetime, str]]  # (slug, live at, email decision), newest first

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
                    "per_topic": p.per_topic,
                    "email": p.email,
                }
                for p in self.posts
            ],
            "digest": {
                "key": self.digest.key,
                "due": local(self.digest.due),
                "posts": [p.slug for p in self.digest_posts],
                "live_at": {slug: local(when) for slug, when in self.digest_live.items()},
                "recipients": self.digest_reach.total,
                "per_topic": self.digest_reach.per_topic,
            },
            "recent": [
                {"slug": slug, "live_at": local(when), "email": email}
                for slug, when, email in self.recent
            ],
        }


RECENT = timedelta(days=7)  # how far back `queue` shows what was published


def queue(config: Config, store: Store | None = None) -> Queue:
    """What the scheduler will do next, as of `config.now`; live posts under the
    addresses they went live at (`links.pin`), as the site and the emails name them. In
    `store` when the caller holds one open."""
    posts = load_posts(config)
    with Store.held(config, store) as store:
        each = reader_choices(store, "each")
        digest = reader_choices(store, "digest")
        keys = published.campaign_keys(store, "digest:")
        seen = published.seen(store)
        posts = links.pin(posts, seen)
        waiting = published.digest_waiting(store)
        totals = {key: total for key, (_id, total) in campaign_counts.totals(store).items()}
    now, started = config.now, seen.started
    # Live posts no tick has published yet come first: the next tick publishes them.
    due = {p.slug: p for p in new_publications(config, posts, seen, now)}
    waiting |= {slug: p.live_at for slug, p in due.items() if p.in_digest}
    waiting |= {p.slug: p.date for p in posts if p.email and not p.draft and p.date > now}
    upcoming = sorted(
        (p for p in posts if not p.draft and (p.date > now or p.slug in due)), key=by_date
    )
    period, chosen = next_digest(config, posts, keys, started, waiting)
    return Queue(
        now=now,
        posts=[_queued(config, p, due.get(p.slug), each, keys) for p in upcoming],
        digest=period,
        digest_posts=chosen,
        digest_live={p.slug: waiting.get(p.slug, p.date) for p in chosen},
        digest_reach=_digest_reach(config, chosen, digest),
        recent=_recent(config, seen, totals, keys, {p.slug: p for p in posts}),
    )


def next_digest(
    config: Config,
    posts: Sequence[Post],
    keys: Collection[str],
    started: datetime | None,
    waiting: dict[str, datetime],
) -> tuple[Period, list[Post]]:
    """The digest the scheduler sends next as of `config.now`, and its posts: the period
    due now, exactly as `tick` plans it, else the next period with the posts so far.
    `queue` shows this one, and so the previews and `send --digest --to`."""
    now = config.now
    plan = plan_digest(config, now, posts, keys, started, waiting)
    if plan.status == "due":
        return plan.period, plan.posts
    period = period_after(config, now)
    since = digest_since(config, period, keys, started or now)
    return period, digest_posts(config, posts, since, min(now, period.due), waiting)


def _queued(
    config: Config,
    post: Post,
    due: Publication | None,
    each: dict[str, int],
    keys: Collection[str],
) -> QueuedPost:
    """A post the next ticks publish; `each`: the stored topic choices of `each` readers,
    `keys` the digest campaigns so far."""
    live_at = due.live_at if due else post.date
    digest = digest_for(config, emailed_at(post, live_at), keys, config.now)
    if due is None:
        announce, in_digest, reason = post.email, post.email, "email: false in its front matter"
    else:
        announce, in_digest, reason = due.announce, due.in_digest, due.reason
    record = Record(post.slug, post.date, announce, reason, in_digest, None, "", "")
    reach = topics.reach([topics.post_topics(post.tags, config.topics)], each, config.topics)
    if not announce:
        reach = Reach(0, {})
    split, at = reach.split(config.topics), email_time(config, post, post.date)
    email = describe(record, reach.total if announce else None, digest.id, split, at)
    return QueuedPost(
        post.slug, post.title, post.date, announce, reach.total, email, reach.per_topic
    )


def _digest_reach(config: Config, posts: Sequence[Post], digest: dict[str, int]) -> Reach:
    """The digest's readers who get one of its posts so far (all its readers while it holds
    none yet), per topic of its posts."""
    if not posts:
        return Reach(sum(digest.values()), {})
    post_topics = [topics.post_topics(post.tags, config.topics) for post in posts]
    return topics.reach(post_topics, digest, config.topics)


def _recent(
    config: Config,
    seen: Seen,
    totals: dict[str, int],
    keys: Collection[str],
    posts: dict[str, Post],
) -> list[tuple[str, datetime, str]]:
    """Posts published in the last week, newest first, with their email decisions."""
    recent = [r for r in seen.records.values() if config.now - r.live_at <= RECENT]
    recent.sort(key=lambda r: (r.live_at, r.slug), reverse=True)
    lines = []
    for r in recent:
        post = posts.get(r.slug)
        emailed = emailed_at(post, r.live_at) if post else r.live_at
        digest = digest_for(config, emailed, keys, config.now).id
        lines.append((r.slug, r.live_at, describe(r, totals.get(f"post:{r.slug}"), digest)))
    return lines
