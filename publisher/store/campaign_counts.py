"""Campaign figures for the console, from indexed ranges rather than whole-table counts.

A campaign's deliveries are indexed by (campaign, state, id), so counting one state of one
campaign reads that state's entries only. A finished campaign is nearly all `sent`: the
list counts every other state (`state < 'sent'`, then `state > 'sent'`: two small ranges,
and a state added later counts too) and takes `sent` as the rest of its recipients. A page of
the list then costs its campaigns' few unsent messages, not their millions of sent ones;
one campaign's own page counts `sent` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from publisher.store.db import Store
from publisher.store.schema import FAILED, SENT, campaigns, deliveries, inbound, subscribers


@dataclass(frozen=True)
class CampaignRow:
    """A campaign without its message text: what a list shows."""

    id: int
    key: str
    kind: str
    subject: str
    status: str
    note: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total: int


ROW_COLUMNS = [campaigns.c[name] for name in CampaignRow.__dataclass_fields__]


def page(store: Store, offset: int, limit: int) -> tuple[list[CampaignRow], int]:
    """Campaigns newest first, `limit` from `offset` (the primary key's order), and how
    many there are."""
    query = select(*ROW_COLUMNS).order_by(campaigns.c.id.desc()).offset(offset).limit(limit)
    with store.read() as conn:
        rows = [CampaignRow(*row) for row in conn.execute(query)]
        total = conn.execute(select(func.count()).select_from(campaigns)).scalar_one()
    return rows, total


def by_key(store: Store, key: str) -> CampaignRow | None:
    with store.read() as conn:
        row = conn.execute(select(*ROW_COLUMNS).where(campaigns.c.key == key)).first()
    return CampaignRow(*row) if row else None


def totals(store: Store) -> dict[str, tuple[int, int]]:
    """Every campaign's (id, recipients) by key, without the message bodies: what a list
    of posts or the queue needs of them."""
    query = select(campaigns.c.key, campaigns.c.id, campaigns.c.total)
    with store.read() as conn:
        return {key: (campaign_id, total) for key, campaign_id, total in conn.execute(query)}


def sent(store: Store, ids: Sequence[int], recipients: dict[int, int]) -> dict[int, int]:
    """Messages sent of each campaign: its recipients less those in any other state, which
    are index ranges (a count of the sent ones would read every row of a big campaign)."""
    left = unsent(store, ids)
    return {i: max(0, recipients[i] - sum(left[i].values())) for i in ids}


def unsent(store: Store, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Messages of each campaign per state other than sent: the states before 'sent' and
    those after it, each a range of the index per campaign (an OR of the two would make
    the planner read every entry of the campaign)."""
    found: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in ids}
    if not ids:
        return found
    state = deliveries.c.state
    with store.read() as conn:
        for other in (state < SENT, state > SENT):
            query = (
                select(deliveries.c.campaign_id, state, func.count())
                .where(deliveries.c.campaign_id.in_(ids), other)
                .group_by(deliveries.c.campaign_id, state)
            )
            for campaign_id, name, count in conn.execute(query):
                found[campaign_id][name] = count
    return found


def states(store: Store, rows: Sequence[CampaignRow]) -> dict[int, dict[str, int]]:
    """Messages of each campaign per state, `sent` as the recipients left over."""
    found = unsent(store, [row.id for row in rows])
    for row in rows:
        found[row.id][SENT] = max(0, row.total - sum(found[row.id].values()))
    return found


def refused(store: Store, campaign_id: int) -> int:
    """Messages of the campaign the relay refused for good (failed with a 5xx): with the
    bounced ones, the hard bounces the brake weighs (`store.health.rates`)."""
    query = select(func.count()).where(
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.state == FAILED,
        deliveries.c.smtp_code >= 500,
    )
    with store.read() as conn:
        return conn.execute(query).scalar_one()


def unsubscribed_since(store: Store, campaign_id: int, since: datetime) -> int:
    """Recipients of the campaign who have unsubscribed since `since` (its start): the
    unsubscribed subscribers (an index on status) probed against the campaign's unique
    (campaign, subscriber) index."""
    query = (
        select(func.count())
        .select_from(subscribers)
        .join(
            deliveries,
            and_(
                deliveries.c.subscriber_id == subscribers.c.id,
                deliveries.c.campaign_id == campaign_id,
            ),
        )
        .where(subscribers.c.status == "unsubscribed", subscribers.c.unsubscribed_at >= since)
    )
    with store.read() as conn:
        return conn.execute(query).scalar_one()


def complaints(store: Store, campaign_id: int) -> int:
    """Subscribers who complained about the campaign's message (mail read back; index
    `inbound_campaign`, not a join to the campaign's deliveries)."""
    query = select(func.count(func.distinct(inbound.c.subscriber_id))).where(
        inbound.c.campaign_id == campaign_id, inbound.c.kind == "complaint"
    )
    with store.read() as conn:
        return conn.execute(query).scalar_one()
