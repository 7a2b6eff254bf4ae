"""The links "Manage your subscription" mails: at most one per address every 10 minutes,
and each opens the preferences once. Both are read from and written to the subscriber's
`events` (`manage-sent`, `manage-used`), so no table is added and erasure removes them
with the rest of the person's history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, exists, select

from publisher.store.db import Store
from publisher.store.schema import events, subscribers
from publisher.store.subscribers import log_event

MAIL_INTERVAL = timedelta(minutes=10)  # at most one link per address in this time
SENT, USED = "manage-sent", "manage-used"


def _lock(conn: Connection, subscriber_id: int) -> bool:
    """Hold the subscriber's row for this transaction (two requests at once take turns);
    False when there is no such subscriber."""
    row = select(subscribers.c.id).where(subscribers.c.id == subscriber_id).with_for_update()
    return conn.execute(row).first() is not None


def _logged_since(conn: Connection, subscriber_id: int, kind: str, since: datetime) -> bool:
    return conn.execute(
        select(
            exists().where(
                events.c.subscriber_id == subscriber_id,
                events.c.kind == kind,
                events.c.at >= since,
            )
        )
    ).scalar_one()


def claim_link(store: Store, subscriber_id: int, now: datetime) -> bool:
    """Record that a link goes to the subscriber now, unless one went within
    MAIL_INTERVAL: True means send it. Whoever asks about an address gets the same page
    either way, so this limit is what keeps a stranger from flooding someone's inbox."""
    with store.transaction() as conn:
        if not _lock(conn, subscriber_id) or _logged_since(
            conn, subscriber_id, SENT, now - MAIL_INTERVAL
        ):
            return False
        log_event(conn, subscriber_id, SENT, now, "web")
        return True


def use_link(store: Store, subscriber_id: int, issued: datetime, now: datetime) -> bool:
    """Spend the link signed at `issued`: True the first time, False once it (or a link
    signed after it) opened the preferences. A later link works once too."""
    with store.transaction() as conn:
        if not _lock(conn, subscriber_id) or _logged_since(conn, subscriber_id, USED, issued):
            return False
        log_event(conn, subscriber_id, USED, now, "web")
        return True
