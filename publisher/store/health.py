"""A campaign's health: the figures the safety brake weighs (`inbound.brake`) and the hold
it puts on a campaign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select, update

from publisher.store.db import Store
from publisher.store.schema import BOUNCED, FAILED, SENT, campaigns, deliveries, inbound


@dataclass(frozen=True)
class Rates:
    """What the safety brake weighs (inbound.brake): messages gone, hard bounces (a 5xx at
    sending or a bounce read later), complaints."""

    attempted: int
    hard: int
    complaints: int


def rates(store: Store, campaign_id: int) -> Rates:
    gone = deliveries.c.state.in_([SENT, BOUNCED, FAILED])
    hard = or_(
        deliveries.c.state == BOUNCED,
        and_(deliveries.c.state == FAILED, deliveries.c.smtp_code >= 500),
    )
    complained = (
        select(func.count(func.distinct(inbound.c.subscriber_id)))
        .join(deliveries, deliveries.c.id == inbound.c.delivery_id)
        .where(deliveries.c.campaign_id == campaign_id, inbound.c.kind == "complaint")
    )
    with store.read() as conn:
        attempted, bounced = conn.execute(
            select(func.count(), func.coalesce(func.sum(case((hard, 1), else_=0)), 0)).where(
                deliveries.c.campaign_id == campaign_id, gone
            )
        ).one()
        return Rates(attempted, bounced, conn.execute(complained).scalar_one())


def hold(store: Store, campaign_id: int, now: datetime, note: str) -> None:
    """Hold an unfinished campaign (the brake); a finished one has nothing left to stop."""
    with store.transaction() as conn:
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.status != "done")
            .values(status="held", note=note)
        )


def complaints(store: Store) -> dict[int, int]:
    """Complaints per campaign id (subscribers who complained about its message)."""
    query = (
        select(deliveries.c.campaign_id, func.count(func.distinct(inbound.c.subscriber_id)))
        .join(deliveries, deliveries.c.id == inbound.c.delivery_id)
        .where(inbound.c.kind == "complaint")
        .group_by(deliveries.c.campaign_id)
    )
    with store.read() as conn:
        return dict(conn.execute(query).all())
