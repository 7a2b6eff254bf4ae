"""Finding subscribers for the console: by the start of their address and by status, a
page at a time, each step an index range (the unique `email_key`, or `subscribers_status`
in id order), so a search in 100,000 people answers at once. All of its SQL."""

from __future__ import annotations

from sqlalchemy import select

from publisher.store.db import Store
from publisher.store.schema import subscribers
from publisher.store.subscribers import COLUMNS, Subscriber

PAGE = 50
HIGHEST = "\U0010ffff"  # sorts after every character: the end of a prefix's range


def search(
    store: Store, query: str = "", status: str = "", after: str = "", limit: int = PAGE
) -> list[Subscriber]:
    """Subscribers whose address starts with `query` (any case) and whose status is
    `status` ("" for any), in address order, after the address key `after`."""
    key = subscribers.c.email_key
    prefix = query.strip().lower()
    found = select(*COLUMNS).order_by(key).limit(limit)
    if prefix:
        found = found.where(key >= prefix, key < prefix + HIGHEST)
    if after:
        found = found.where(key > after.lower())
    if status:
        found = found.where(subscribers.c.status == status)
    with store.read() as conn:
        return [Subscriber(*row) for row in conn.execute(found)]
