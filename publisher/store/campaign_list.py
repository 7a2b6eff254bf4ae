"""Campaigns as the console lists them: newest first, a page at a time, without their
bodies (each holds its whole HTML and text), from the primary key's index, so a list of
200 campaigns of 100,000 deliveries answers at once. All of its SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from publisher.store.db import Store
from publisher.store.schema import campaigns

PAGE = 25


@dataclass(frozen=True)
class CampaignRow:
    id: int
    key: str
    kind: str
    subject: str
    status: str  # sending|paused|held|done
    note: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total: int


COLUMNS = [campaigns.c[name] for name in CampaignRow.__dataclass_fields__]


def newest(store: Store, before: int | None = None, limit: int = PAGE) -> list[CampaignRow]:
    """Up to `limit` campaigns with an id below `before` (all when None), newest first."""
    query = select(*COLUMNS).order_by(campaigns.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(campaigns.c.id < before)
    with store.read() as conn:
        return [CampaignRow(*row) for row in conn.execute(query)]


def waiting(store: Store, limit: int = PAGE) -> list[CampaignRow]:
    """Campaigns not going on by themselves (paused, or held by the safety brake)."""
    query = (
        select(*COLUMNS)
        .where(campaigns.c.status.in_(("paused", "held")))
        .order_by(campaigns.c.id.desc())
        .limit(limit)
    )
    with store.read() as conn:
        return [CampaignRow(*row) for row in conn.execute(query)]
