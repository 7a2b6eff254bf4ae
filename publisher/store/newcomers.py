"""Subscribers who came after: the welcome email each is owed once after confirming, and a
post's campaign extended to those who subscribed after it went out. All of its SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, literal, select, update

from publisher.store.db import Store
from publisher.store.schema import QUEUED, campaigns, deliveries, events, subscribers
from publisher.store.subscribers import log_event


def claim_welcome(store: Store, subscriber_id: int, now: datetime) -> bool:
    """True once per confirmation: records a `welcomed` event unless one was recorded
    since the subscriber last confirmed (two clicks at once welcome once: the subscriber's
    row is locked on PostgreSQL, SQLite writers take turns)."""
    with store.transaction() as conn:
        confirmed = conn.execute(
            select(subscribers.c.confirmed_at, subscribers.c.status)
            .where(subscribers.c.id == subscriber_id)
            .with_for_update()
        ).first()
        if confirmed is None or confirmed.status != "active" or confirmed.confirmed_at is None:
            return False
        done = conn.execute(
            select(events.c.id)
            .where(events.c.subscriber_id == subscriber_id)
            .where(events.c.kind == "welcomed", events.c.at >= confirmed.confirmed_at)
            .limit(1)
        ).first()
        if done is not None:
            return False
        log_event(conn, subscriber_id, "welcomed", now, "web")
        return True


def add_newcomers(store: Store, campaign_id: int, frequency: str = "each") -> int:
    """Add to a campaign every active subscriber of `frequency` it does not hold yet (they
    subscribed after it was created); how many. Nobody is added twice: a delivery is
    unique per campaign and subscriber, and a subscriber already in it is left out."""
    with store.transaction() as conn:
        held = select(deliveries.c.subscriber_id).where(deliveries.c.campaign_id == campaign_id)
        newcomers = select(
            literal(campaign_id), subscribers.c.id, literal(QUEUED), literal(0)
        ).where(
            and_(
                subscribers.c.status == "active",
                subscribers.c.frequency == frequency,
                subscribers.c.id.not_in(held),
            )
        )
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
