"""Finding subscribers for the console: a page of them, newest first, by status and text
(an address typed from its start: in the order of addresses).

An address typed in full or in part from its start (anything with an @, or that starts
like one) is a range of the unique `email_key` index; other text is looked for anywhere
in the address or the name, a scan that stops at the page's end. Pages by status use the
`(status, id)` index. Counting every match of a text search would read the whole table,
so those pages say whether there is more instead.
"""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from publisher.store.db import Store
from publisher.store.schema import subscribers
from publisher.store.subscribers import COLUMNS, Subscriber

LAST = "\U0010ffff"  # sorts after every character: the end of a prefix's range


def search(
    store: Store, query: str, status: str | None, offset: int, limit: int
) -> tuple[list[Subscriber], bool, int | None]:
    """(the page, whether more follow, how many match in all when that is cheap)."""
    text = query.strip().lower()
    found = select(*COLUMNS)
    if status:
        found = found.where(subscribers.c.status == status)
    order = subscribers.c.id.desc()
    if "@" in text:
        key = subscribers.c.email_key  # the range for the index, LIKE for any collation
        found = found.where(
            key >= text, key < text + LAST, key.like(f"{escape(text)}%", escape="\\")
        )
        order = key  # in the index's order: the planner walks the range, nothing to sort
    elif text:
        like = f"%{escape(text)}%"
        found = found.where(
            or_(
                subscribers.c.email_key.like(like, escape="\\"),
                func.lower(subscribers.c.name).like(like, escape="\\"),
            )
        )
    page: Select = found.order_by(order).offset(offset).limit(limit + 1)
    with store.read() as conn:
        rows = [Subscriber(*row) for row in conn.execute(page)]
        total = None
        if not text:
            total = conn.execute(
                select(func.count()).select_from(found.order_by(None).subquery())
            ).scalar_one()
    return rows[:limit], len(rows) > limit, total


def escape(text: str) -> str:
    """`text` with LIKE's wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
