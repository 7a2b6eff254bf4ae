"""What the list holds, in aggregate: subscribers per status, and why each suppressed one
is (the latest event of its kind). Read-only; its SQL is here."""

from __future__ import annotations

from sqlalchemy import func, select

from publisher.store.db import Store
from publisher.store.schema import events, subscribers
from publisher.vocabulary import STATUSES


def counts(store: Store) -> dict[str, int]:
    """Subscribers per status, every status present."""
    with store.read() as conn:
        rows = conn.execute(
            select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
        ).all()
    found = {status: 0 for status in STATUSES}
    found.update({status: count for status, count in rows})
    return found


def reasons(store: Store, status: str) -> dict[int, str]:
    """Why each subscriber of a suppressed `status` has it: the detail of their latest
    event of that kind (a bounce's status and diagnostic, a complaint's report)."""
    kind = {"bounced": "bounced", "complained": "complained", "unsubscribed": "unsubscribed"}
    latest = (
        select(func.max(events.c.id))
        .where(events.c.kind == kind.get(status, ""), events.c.subscriber_id.is_not(None))
        .group_by(events.c.subscriber_id)
    )
    query = select(events.c.subscriber_id, events.c.source, events.c.detail).where(
        events.c.id.in_(latest)
    )
    with store.read() as conn:
        return {row[0]: f"{row[1]}: {row[2]}".rstrip(": ") for row in conn.execute(query)}
