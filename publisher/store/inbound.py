"""What `publisher inbound` does to the store: each message once, its effect on a
delivery and a subscriber, and an event naming the message that caused it.

Every function takes the caller's transaction, so a message's effects and its row in
`inbound` are committed together: the unique Message-ID makes a second reading of the same
message change nothing, even from two processes at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, select, update

from publisher.store.schema import BOUNCED, SENT, deliveries, events, inbound, subscribers
from publisher.store.subscribers import (
    SUPPRESSED,
    by_id,
    count_bounce,
    log_event,
    update_subscriber,
)
from publisher.subscribers.addresses import AddressError, normalize

SOURCE = "inbound"


@dataclass(frozen=True)
class Received:
    """One row of `publisher inbound --report`."""

    received_at: datetime
    kind: str
    action: str
    subscriber_id: int | None
    detail: str


def seen(conn: Connection, message_id: str) -> bool:
    found = conn.execute(select(inbound.c.id).where(inbound.c.message_id == message_id))
    return found.first() is not None


def delivery_owner(conn: Connection, delivery_id: int) -> tuple[int, str] | None:
    """(subscriber id, token key) of a delivery, to check the signature naming it."""
    row = conn.execute(
        select(subscribers.c.id, subscribers.c.token_key)
        .join(deliveries, deliveries.c.subscriber_id == subscribers.c.id)
        .where(deliveries.c.id == delivery_id)
    ).first()
    return (row[0], row[1]) if row else None


def latest_delivery(conn: Connection, subscriber_id: int) -> int | None:
    """The subscriber's most recent message that went out: what a complaint quoting only
    their unsubscribe address is about."""
    query = (
        select(func.max(deliveries.c.id))
        .where(deliveries.c.subscriber_id == subscriber_id)
        .where(deliveries.c.state.in_([SENT, BOUNCED]))
    )
    return conn.execute(query).scalar()


def campaign_of(conn: Connection, delivery_id: int) -> int | None:
    query = select(deliveries.c.campaign_id).where(deliveries.c.id == delivery_id)
    return conn.execute(query).scalar()


def subscriber_key(conn: Connection, subscriber_id: int) -> str | None:
    query = select(subscribers.c.token_key).where(subscribers.c.id == subscriber_id)
    return conn.execute(query).scalar()


def hard_bounce(
    conn: Connection,
    subscriber_id: int,
    delivery_id: int | None,
    now: datetime,
    detail: str,
    limit: int,
) -> str:
    """The delivery bounced; at `limit` hard bounces the subscriber is `bounced`
    (suppressed), unless already suppressed for another reason. The action, for the report."""
    if delivery_id is not None:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.state == SENT)
            .values(state=BOUNCED, smtp_reply=detail[:500])
        )
    before = by_id(conn, subscriber_id)
    after = count_bounce(conn, subscriber_id, now, limit, SOURCE, detail)
    if before is None or after is None or before.status in SUPPRESSED:
        return "bounce recorded"
    if after.status == "bounced":
        return "subscriber bounced"
    return f"hard bounce {after.bounce_count} of {limit}"


def soft_bounce(
    conn: Connection,
    subscriber_id: int,
    delivery_id: int | None,
    now: datetime,
    detail: str,
    limit: int,
    window: timedelta,
    hard_limit: int,
) -> str:
    """Counted; the `limit`th within `window` counts as a hard bounce."""
    log_event(conn, subscriber_id, "soft_bounce", now, SOURCE, detail)
    count = conn.execute(
        select(func.count())
        .select_from(events)
        .where(
            events.c.subscriber_id == subscriber_id,
            events.c.kind == "soft_bounce",
            events.c.at > now - window,
        )
    ).scalar_one()
    if count < limit:
        return f"soft bounce {count} of {limit}"
    detail = f"{count} soft bounces; {detail}"
    return hard_bounce(conn, subscriber_id, delivery_id, now, detail, hard_limit)


def complaint(conn: Connection, subscriber_id: int, now: datetime, detail: str) -> str:
    """A spam complaint: the subscriber is `complained` and suppressed, whatever they were."""
    current = by_id(conn, subscriber_id)
    log_event(conn, subscriber_id, "complained", now, SOURCE, detail)
    if current is None or current.status == "complained":
        return "complaint recorded"
    update_subscriber(conn, subscriber_id, status="complained", unsubscribed_at=now)
    return "subscriber complained"


def unsubscribe(conn: Connection, subscriber_id: int, now: datetime, detail: str) -> str:
    current = by_id(conn, subscriber_id)
    if current is None or current.status in SUPPRESSED:
        return "already unsubscribed"
    log_event(conn, subscriber_id, "unsubscribed", now, SOURCE, detail)
    update_subscriber(conn, subscriber_id, status="unsubscribed", unsubscribed_at=now)
    return "unsubscribed"


def record(
    conn: Connection,
    message_id: str,
    now: datetime,
    kind: str,
    action: str,
    detail: str,
    subscriber_id: int | None = None,
    delivery_id: int | None = None,
) -> None:
    conn.execute(
        insert(inbound).values(
            message_id=message_id,
            received_at=now,
            kind=kind,
            action=action[:64],
            detail=detail[:2000],
            subscriber_id=subscriber_id,
            delivery_id=delivery_id,
            campaign_id=None if delivery_id is None else campaign_of(conn, delivery_id),
        )
    )


def received(conn: Connection, since: datetime) -> list[Received]:
    """What was read since `since`, oldest first."""
    rows = conn.execute(
        select(
            inbound.c.received_at,
            inbound.c.kind,
            inbound.c.action,
            inbound.c.subscriber_id,
            inbound.c.detail,
        )
        .where(inbound.c.received_at >= since)
        .order_by(inbound.c.id)
    )
    return [Received(*row) for row in rows]


def subscriber_by_address(conn: Connection, email: str) -> int | None:
    """The id of the subscriber with address `email` (as stored keys compare), or None, also
    for text that is no address: a provider's signed report names its recipient so."""
    try:
        key = normalize(email, smtputf8=True).key  # a lookup sends nothing
    except AddressError:
        return None
    return conn.execute(select(subscribers.c.id).where(subscribers.c.email_key == key)).scalar()
