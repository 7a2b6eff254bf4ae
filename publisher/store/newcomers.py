"""Subscribers who came after: the welcome email each is owed once after confirming (until
it goes out), and a post's campaign extended to those who subscribed after it went out.
All of its SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, literal, select, update

from publisher.store.audience import audience
from publisher.store.db import Store
from publisher.store.schema import QUEUED, campaigns, deliveries, subscribers
from publisher.store.subscribers import COLUMNS, Subscriber, log_event
from publisher.topics import Wants


def claim_welcome(store: Store, subscriber_id: int, now: datetime) -> datetime | None:
    """Take the welcome email the subscriber is owed (`confirm` set `welcome_due_at`): when
    it became owed, once; None when nothing is owed. Two clicks, or a tick and the web app
    at once, welcome once: whoever empties the column sends."""
    with store.transaction() as conn:
        due = conn.execute(
            select(subscribers.c.welcome_due_at)
            .where(subscribers.c.id == subscriber_id, subscribers.c.status == "active")
            .with_for_update()
        ).scalar_one_or_none()
        if due is None:
            return None
        conn.execute(
            update(subscribers).where(subscribers.c.id == subscriber_id).values(welcome_due_at=None)
        )
        log_event(conn, subscriber_id, "welcomed", now, "web")
        return due


def owe_welcome(store: Store, subscriber_id: int, due: datetime) -> None:
    """The claimed welcome did not go out (the relay was down or said try later): owed
    again, since `due`, for the next tick."""
    with store.transaction() as conn:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id, subscribers.c.status == "active")
            .values(welcome_due_at=due)
        )


def welcomes_due(store: Store, now: datetime, limit: int = 100) -> list[Subscriber]:
    """Active subscribers owed a welcome since `now` or before, oldest first; none, the
    usual answer, is one probe of the partial index `subscribers_welcome_due`. (Someone who
    left before it went out keeps the mark, and is skipped.)"""
    owed = subscribers.c.welcome_due_at
    query = (
        select(*COLUMNS)
        .where(owed.is_not(None), owed <= now, subscribers.c.status == "active")
        .order_by(owed)
        .limit(limit)
    )
    with store.read() as conn:
        return [Subscriber(*row) for row in conn.execute(query)]


def add_newcomers(
    store: Store, campaign_id: int, frequency: str = "each", wants: Wants | None = None
) -> int:
    """Add to a campaign every active subscriber of `frequency` (whose topics `wants`
    takes) it does not hold yet (they subscribed after it was created); how many. Nobody
    is added twice: a delivery is unique per campaign and subscriber, and a subscriber
    already in it is left out."""
    with store.transaction() as conn:
        held = select(deliveries.c.subscriber_id).where(deliveries.c.campaign_id == campaign_id)
        newcomers = select(
            literal(campaign_id), subscribers.c.id, literal(QUEUED), literal(0)
        ).where(and_(audience(conn, frequency, wants), subscribers.c.id.not_in(held)))
        before = _count(conn, campaign_id)
        conn.execute(
            insert(deliveries).from_select(
                ["campaign_id", "subscriber_id", "state", "attempts"], newcomers
            )
        )
        total = _count(conn, campaign_id)
        if total > before:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(total=total, status="sending", finished_at=None)
            )
    return total - before


def _count(conn, campaign_id: int) -> int:
    return conn.execute(
        select(func.count()).where(deliveries.c.campaign_id == campaign_id)
    ).scalar_one()
