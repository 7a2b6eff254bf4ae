"""What the console's health page shows, each figure from one indexed query: when the
scheduler last ran, what came back by mail lately, campaigns the brake or a problem holds,
and the relay's refusals in campaigns still sending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from publisher.store.db import Store
from publisher.store.published import LAST_PASS, _moment
from publisher.store.schema import DEFERRED, FAILED, campaigns, deliveries, inbound, settings


@dataclass(frozen=True)
class Refusal:
    """One kind of answer the relay gave, and how many messages of unfinished campaigns
    are deferred or failed with it."""

    code: int | None
    reply: str
    messages: int


@dataclass(frozen=True)
class Overview:
    last_tick: datetime | None
    inbound_last: datetime | None  # the latest message `publisher inbound` read
    inbound_kinds: dict[str, int]  # bounce, complaint, ... read since `since`
    stopped: list[tuple[str, str, str]]  # (campaign key, status, note) held or paused
    refusals: list[Refusal]


def overview(store: Store, since: datetime, most: int = 5) -> Overview:
    """The figures, inbound ones since `since`; the `most` commonest relay refusals."""
    unfinished = select(campaigns.c.id).where(campaigns.c.status != "done")
    with store.read() as conn:
        last = conn.execute(select(settings.c.value).where(settings.c.name == LAST_PASS))
        kinds = conn.execute(
            select(inbound.c.kind, func.count())
            .where(inbound.c.received_at >= since)
            .group_by(inbound.c.kind)
        ).all()
        latest = conn.execute(select(func.max(inbound.c.received_at))).scalar()
        stopped = conn.execute(
            select(campaigns.c.key, campaigns.c.status, campaigns.c.note)
            .where(or_(campaigns.c.status == "held", campaigns.c.status == "paused"))
            .order_by(campaigns.c.id)
        ).all()
        refusals = conn.execute(
            select(deliveries.c.smtp_code, deliveries.c.smtp_reply, func.count().label("n"))
            .where(
                deliveries.c.campaign_id.in_(unfinished),
                deliveries.c.state.in_([DEFERRED, FAILED]),
            )
            .group_by(deliveries.c.smtp_code, deliveries.c.smtp_reply)
            .order_by(func.count().desc())
            .limit(most)
        ).all()
    return Overview(
        last_tick=_moment(last.scalar()),
        inbound_last=latest,
        inbound_kinds=dict(kinds),
        stopped=[tuple(row) for row in stopped],
        refusals=[Refusal(code, (reply or "")[:300], n) for code, reply, n in refusals],
    )
