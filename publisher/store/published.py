"""What the scheduler has seen go live: the `published` table. All of its SQL is here.

A row per live post, written after the site holding it was built, says whether the post
is to be announced. The `scheduler_started` setting marks the first run: the posts found
then are the back catalogue and are recorded as not to announce.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from publisher.store.db import Store
from publisher.store.schema import campaigns, published, settings

STARTED = "scheduler_started"


@dataclass(frozen=True)
class Seen:
    """The scheduler's view of the store: when each recorded post went live, and whether
    the scheduler ever ran."""

    live_at: dict[str, datetime]
    started: bool

    @property
    def slugs(self) -> set[str]:
        return set(self.live_at)


def seen(store: Store) -> Seen:
    with store.read() as conn:
        rows = conn.execute(select(published.c.slug, published.c.live_at)).all()
    return Seen({row.slug: row.live_at for row in rows}, started_at(store) is not None)


def started_at(store: Store) -> datetime | None:
    """When the scheduler first ran on this store, or None if it never did."""
    with store.read() as conn:
        value = conn.execute(select(settings.c.value).where(settings.c.name == STARTED)).scalar()
    return datetime.fromisoformat(value) if value else None


def record(store: Store, rows: Iterable, gone: Iterable[str], now: datetime) -> None:
    """Record newly live posts (`rows` with slug, live_at, announce), forget `gone` ones,
    and mark the scheduler as started; a slug another process recorded first is kept."""
    gone = list(gone)
    values = [
        {"slug": r.slug, "live_at": r.live_at, "seen_at": now, "announce": r.announce} for r in rows
    ]
    with store.transaction() as conn:
        if gone:
            conn.execute(delete(published).where(published.c.slug.in_(gone)))
        if values:
            conn.execute(_insert_new(conn, published, "slug"), values)
        conn.execute(
            _insert_new(conn, settings, "name").values(name=STARTED, value=now.isoformat())
        )


def _insert_new(conn, table, key: str):
    """INSERT that skips rows whose `key` exists (another scheduler got there first)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=[key])


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


def cancel_announcement(store: Store, slug: str) -> None:
    """Never announce `slug` (it was deleted, made a draft, or became too old to announce)."""
    with store.transaction() as conn:
        conn.execute(update(published).where(published.c.slug == slug).values(announce=False))


def campaign_keys(store: Store, prefix: str) -> list[str]:
    """Keys of every campaign whose key starts with `prefix` (such as 'digest:')."""
    with store.read() as conn:
        query = select(campaigns.c.key).where(campaigns.c.key.startswith(prefix, autoescape=True))
        return list(conn.execute(query).scalars())
