"""The console editor's autosaved copies: what a staff member typed and has not saved to the
post file yet, one copy per person and post, so a closed tab or a crash loses nothing.
All of its SQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from publisher.store.db import Store, insert_or_skip
from publisher.store.schema import drafts

NEW_POST = ""  # the `post` of a copy of a post not created yet


@dataclass(frozen=True)
class Draft:
    """One autosaved copy: the editor's form fields as typed, the version of the post file
    it started from (its ETag, "" for a new post) and when it was last written."""

    staff_id: int
    post: str
    fields: dict[str, str]
    etag: str
    saved_at: datetime


def save_draft(
    store: Store, staff_id: int, post: str, fields: dict[str, str], etag: str, now: datetime
) -> None:
    """Keep `fields` as the person's copy of `post`, replacing the one before."""
    values = {"fields": json.dumps(fields, ensure_ascii=False), "etag": etag, "saved_at": now}
    mine = (drafts.c.staff_id == staff_id) & (drafts.c.post == post)
    with store.transaction() as conn:
        insert = insert_or_skip(conn.dialect.name, drafts, "staff_id", "post")
        insert = insert.values(staff_id=staff_id, post=post, **values).returning(drafts.c.id)
        if conn.execute(insert).scalar_one_or_none() is None:
            conn.execute(update(drafts).where(mine).values(**values))


def get_draft(store: Store, staff_id: int, post: str) -> Draft | None:
    """The person's copy of `post`, or None."""
    query = select(*_COLUMNS).where(drafts.c.staff_id == staff_id, drafts.c.post == post)
    with store.read() as conn:
        row = conn.execute(query).first()
    return _draft(row) if row else None


def drafts_of(store: Store, staff_id: int, limit: int = 20) -> list[Draft]:
    """The person's copies, newest first: the console offers them back."""
    query = (
        select(*_COLUMNS)
        .where(drafts.c.staff_id == staff_id)
        .order_by(drafts.c.saved_at.desc())
        .limit(limit)
    )
    with store.read() as conn:
        return [_draft(row) for row in conn.execute(query)]


def discard_draft(store: Store, staff_id: int, post: str) -> None:
    """Drop the person's copy of `post` (saved to the file, or thrown away on purpose)."""
    with store.transaction() as conn:
        conn.execute(delete(drafts).where(drafts.c.staff_id == staff_id, drafts.c.post == post))


def forget_staff_drafts(store: Store, staff_id: int) -> None:
    """Drop every copy of a staff member who leaves."""
    with store.transaction() as conn:
        conn.execute(delete(drafts).where(drafts.c.staff_id == staff_id))


_COLUMNS = (drafts.c.staff_id, drafts.c.post, drafts.c.fields, drafts.c.etag, drafts.c.saved_at)


def _draft(row) -> Draft:
    return Draft(row.staff_id, row.post, json.loads(row.fields), row.etag, row.saved_at)
