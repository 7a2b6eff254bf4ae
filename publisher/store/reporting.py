"""The reports' queries: aggregates only, each read from an index range or a table the
size of the list (never a pass over a campaign's deliveries but for its own few unsent
and bounced ones). `publisher.reports` turns them into reports.

Days are `date()` of a stored UTC time, which both databases have: SQLite answers text,
PostgreSQL a date; both are read back as `YYYY-MM-DD`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select

from publisher.store.click_schema import campaign_links, click_hours
from publisher.store.clicks import hour_of
from publisher.store.db import Store
from publisher.store.schema import events, inbound, published, subscribers

SOFT = "soft bounce%"  # inbound.action of a soft bounce not yet counted as a hard one


@dataclass(frozen=True)
class StatusDates:
    """How many subscribers share a status and the days they joined, confirmed and left."""

    status: str
    created: str
    confirmed: str | None
    left: str | None
    count: int


def day(column: ColumnElement) -> ColumnElement:
    return func.date(column)


def as_day(value: object) -> str | None:
    return None if value is None else str(value)[:10]


def soft_bounces(store: Store, campaign_id: int) -> int:
    """Messages of the campaign a soft bounce (a full mailbox, a delay) came back for
    (index `inbound_campaign`)."""
    query = select(func.count(func.distinct(inbound.c.delivery_id))).where(
        inbound.c.campaign_id == campaign_id,
        inbound.c.kind == "bounce",
        inbound.c.action.like(SOFT),
    )
    with store.read() as conn:
        return conn.execute(query).scalar_one()


def unsubscribes(store: Store, campaign_id: int) -> int:
    """Unsubscribes by the campaign's own links (index `events_campaign`)."""
    query = select(func.count()).where(
        events.c.campaign_id == campaign_id, events.c.kind == "unsubscribed"
    )
    with store.read() as conn:
        return conn.execute(query).scalar_one()


def changed_since(store: Store, since: datetime) -> list[StatusDates]:
    """The subscribers who joined, confirmed or left since `since`, counted by status and
    days: three index ranges (`subscribers_created`, `_confirmed`, `_left`), so the
    answer costs the period's changes, not the list. Everyone else has had their current
    status all along (`tallies.counts`)."""
    table = subscribers.c
    keys = (
        table.status,
        day(table.created_at),
        day(table.confirmed_at),
        day(table.unsubscribed_at),
    )
    changed = or_(
        table.created_at >= since, table.confirmed_at >= since, table.unsubscribed_at >= since
    )
    with store.read() as conn:
        rows = conn.execute(select(*keys, func.count()).where(changed).group_by(*keys)).all()
    return [
        StatusDates(status, as_day(created), as_day(confirmed), as_day(left), count)
        for status, created, confirmed, left, count in rows
    ]


def event_counts(
    store: Store, kind: str, by: ColumnElement, since: datetime, until: datetime
) -> dict[str, int]:
    """Events of `kind` in [since, until) counted by one of their columns, from the index
    `events_reports` alone."""
    query = (
        select(by, func.count())
        .where(events.c.kind == kind, events.c.at >= since, events.c.at < until)
        .group_by(by)
    )
    with store.read() as conn:
        return {str(value): count for value, count in conn.execute(query)}


def signup_sources(store: Store, since: datetime, until: datetime) -> dict[str, int]:
    """New subscribers in the period by their `source` (web, web:<page>, import:<file>,
    cli, console, api): the `subscribed` events, and the `imported` ones of an import."""
    found: dict[str, int] = {}
    for kind in ("subscribed", "imported"):
        for source, count in event_counts(store, kind, events.c.source, since, until).items():
            found[source] = found.get(source, 0) + count
    return found


def unsubscribe_reasons(store: Store, since: datetime, until: datetime) -> dict[str, int]:
    return event_counts(store, "unsubscribed", events.c.reason, since, until)


def post_paths(store: Store) -> dict[str, str]:
    """Each published post's slug by the address it went live at, to tell which post a
    digest's link is to."""
    query = select(published.c.path, published.c.slug).where(published.c.path.is_not(None))
    with store.read() as conn:
        return {path: slug for path, slug in conn.execute(query)}


@dataclass(frozen=True)
class PeriodClicks:
    """One link's clicks within a period."""

    campaign_id: int
    url: str
    clicks: int
    scanner_clicks: int


def period_clicks(store: Store, since: datetime, until: datetime) -> list[PeriodClicks]:
    """Each clicked link's clicks in [since, until): the period's hours (index
    `click_hours_hour`), each joined to its link by the link table's primary key."""
    hours = click_hours.c
    query = (
        select(
            hours.campaign_id,
            campaign_links.c.url,
            func.sum(hours.clicks),
            func.sum(hours.scanner_clicks),
        )
        .join(
            campaign_links,
            (campaign_links.c.campaign_id == hours.campaign_id)
            & (campaign_links.c.number == hours.link),
        )
        .where(hours.hour >= hour_of(since), hours.hour < until)
        .group_by(hours.campaign_id, hours.link, campaign_links.c.url)
    )
    with store.read() as conn:
        return [PeriodClicks(c, url, int(n), int(s)) for c, url, n, s in conn.execute(query)]
