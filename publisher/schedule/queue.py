"""What happens next: the posts the next ticks will publish and the next digest."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from publisher.config import Config
from publisher.content.posts import Post, load_posts
from publisher.schedule.calendar import (
    Period,
    by_date,
    digest_posts,
    digest_since,
    new_publications,
    period_after,
    plan_digest,
)
from publisher.store import ledger, published
from publisher.store.db import Store


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
        (p for p in posts if not p.draft and (p.date > now or p.slug in due)), key=by_date
    )
    period, chosen = next_digest(config, posts, keys, started)
    return Queue(
        now=now,
        posts=[_queued(p, due.get(p.slug, p.email), each) for p in waiting],
        digest=period,
        digest_posts=chosen,
        digest_recipients=digest,
    )


def next_digest(
    config: Config, posts: Sequence[Post], keys: Collection[str], started: datetime | None
) -> tuple[Period, list[Post]]:
    """The digest the scheduler sends next as of `config.now`, and its posts: the period
    due now, exactly as `tick` plans it, else the next period with the posts so far.
    `queue` and the previews (`preview --digest`, /_email/digest) both show this one."""
    now = config.now
    plan = plan_digest(config, now, posts, keys, started)
    if plan.status == "due":
        return plan.period, plan.posts
    period = period_after(config, now)
    since = digest_since(config, period, keys, started or now)
    return period, digest_posts(config, posts, since, min(now, period.due))
