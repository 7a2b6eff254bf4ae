"""What the scheduler has seen go live: the `published` table. All of its SQL is here.

A row per live post, written after the site holding it was built, is the post's email
decision: announced, in a digest, or neither and why. The `scheduler_started` setting marks
the first run (the posts found then are the back catalogue, never emailed), and
`last_pass` the time of the latest tick, so a tick knows what appeared since and refuses
to run at an earlier time than one already recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, literal, select, update

from publisher.store.db import Store, insert_or_skip
from publisher.store.schema import campaigns, published, settings

STARTED = "scheduler_started"
LAST_PASS = "last_pass"


@dataclass(frozen=True)
class Record:
    """One published post: when it went live and its email decision."""

    slug: str
    live_at: datetime
    announce: bool  # a `post:<slug>` campaign is (or was) due
    reason: str  # why it is not emailed, "" when it is
    in_digest: bool
    digest_key: str | None  # the digest campaign that carried it
    source: str | None
    path: str | None


@dataclass(frozen=True)
class Seen:
    """The scheduler's view of the store: every published post, whether the scheduler ever
    ran, and when its latest pass was."""

    records: dict[str, Record]
    started: datetime | None
    last_pass: datetime | None

    @property
    def slugs(self) -> set[str]:
        return set(self.records)

    @property
    def live_at(self) -> dict[str, datetime]:
        return {slug: r.live_at for slug, r in self.records.items()}


def seen(store: Store) -> Seen:
    """Everything the scheduler recorded, in one read."""
    with store.read() as conn:
        rows = conn.execute(select(*_RECORD_COLUMNS)).all()
        values = dict(
            conn.execute(
                select(settings.c.name, settings.c.value).where(
                    settings.c.name.in_([STARTED, LAST_PASS])
                )
            ).all()
        )
    return Seen(
        {row.slug: Record(*row) for row in rows},
        _moment(values.get(STARTED)),
        _moment(values.get(LAST_PASS)),
    )


_RECORD_COLUMNS = [
    published.c.slug,
    published.c.live_at,
    published.c.announce,
    published.c.reason,
    published.c.in_digest,
    published.c.digest_key,
    published.c.source,
    published.c.path,
]


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _stamp(moment: datetime) -> str:
    """A time as text that sorts as the time does (fixed width, UTC)."""
    return moment.isoformat(timespec="microseconds")


def started_at(store: Store) -> datetime | None:
    """When the scheduler first ran on this store, or None if it never did."""
    with store.read() as conn:
        value = conn.execute(select(settings.c.value).where(settings.c.name == STARTED)).scalar()
    return _moment(value)


def record(store: Store, rows: Iterable, gone: Iterable[str], now: datetime) -> None:
    """Record newly live posts (`rows`: Publication), forget `gone` ones, and mark the
    scheduler as started; a slug another process recorded first is kept."""
    gone = list(gone)
    values = [
        {
            "slug": r.slug,
            "live_at": r.live_at,
            "seen_at": now,
            "announce": r.announce,
            "reason": r.reason,
            "in_digest": r.in_digest,
            "source": r.source,
            "path": r.path,
        }
        for r in rows
    ]
    with store.transaction() as conn:
        if gone:
            conn.execute(delete(published).where(published.c.slug.in_(gone)))
        if values:
            conn.execute(insert_or_skip(conn.dialect.name, published, "slug"), values)
        conn.execute(
            insert_or_skip(conn.dialect.name, settings, "name").values(
                name=STARTED, value=_stamp(now)
            )
        )


def note_pass(store: Store, now: datetime) -> None:
    """Remember the time of this pass (the latest one wins, so it never goes back)."""
    with store.transaction() as conn:
        conn.execute(
            insert_or_skip(conn.dialect.name, settings, "name").values(
                name=LAST_PASS, value=_stamp(now)
            )
        )
        conn.execute(
            update(settings)
            .where(and_(settings.c.name == LAST_PASS, settings.c.value < _stamp(now)))
            .values(value=_stamp(now))
        )


def unannounced(store: Store) -> list[tuple[str, datetime]]:
    """(slug, live_at) of posts to announce whose campaign does not exist yet, oldest first."""
    key = literal("post:") + published.c.slug
    query = (
        select(published.c.slug, published.c.live_at)
        .select_from(published.outerjoin(campaigns, campaigns.c.key == key))
        .where(and_(published.c.announce.is_(True), campaigns.c.id.is_(None)))
        .order_by(published.c.live_at, published.c.slug)
    )
    with store.read() as conn:
        return [(row.slug, row.live_at) for row in conn.execute(query)]


def cancel_announcement(store: Store, slug: str, reason: str, in_digest: bool = True) -> None:
    """Never announce `slug`, and say why (it was deleted, made a draft, or became too old
    to announce); `in_digest` False keeps it out of the digest too."""
    values = {"announce": False, "reason": reason} | ({} if in_digest else {"in_digest": False})
    with store.transaction() as conn:
        conn.execute(update(published).where(published.c.slug == slug).values(**values))


def digest_waiting(store: Store) -> dict[str, datetime]:
    """slug -> live_at of the posts for the digest that no digest carried yet."""
    query = select(published.c.slug, published.c.live_at).where(
        and_(published.c.in_digest.is_(True), published.c.digest_key.is_(None))
    )
    with store.read() as conn:
        return {row.slug: row.live_at for row in conn.execute(query)}


def mark_digest(store: Store, slugs: Iterable[str], key: str) -> None:
    """Record that the digest `key` carries these posts."""
    slugs = list(slugs)
    with store.transaction() as conn:
        conn.execute(update(published).where(published.c.slug.in_(slugs)).values(digest_key=key))


def campaign_keys(store: Store, prefix: str) -> list[str]:
    """Keys of every campaign whose key starts with `prefix` (such as 'digest:')."""
    with store.read() as conn:
        query = select(campaigns.c.key).where(campaigns.c.key.startswith(prefix, autoescape=True))
        return list(conn.execute(query).scalars())
