"""Sign-in links and signed-in sessions of the staff console, kept in the store.

Both are looked up by the SHA-256 hash of the secret the person holds (the link's token,
the session cookie); the secrets themselves are never stored. A link works once: using it
is one UPDATE that only one request can win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update

from publisher.store.db import Store
from publisher.store.staff import COLUMNS, StaffMember
from publisher.store.staff_schema import staff, staff_links, staff_sessions

TOUCH_EVERY = timedelta(minutes=1)  # a session's seen_at is written at most this often


@dataclass(frozen=True)
class Session:
    id_hash: str
    staff_id: int
    csrf_token: str
    created_at: datetime
    seen_at: datetime
    expires_at: datetime


SESSION_COLUMNS = [staff_sessions.c[name] for name in Session.__dataclass_fields__]


def add_link(
    conn: Connection, token_hash: str, staff_id: int, now: datetime, lifetime: timedelta
) -> datetime:
    """Store a new sign-in link for `staff_id`; when it expires."""
    expires = now + lifetime
    conn.execute(
        insert(staff_links).values(
            token_hash=token_hash, staff_id=staff_id, created_at=now, expires_at=expires
        )
    )
    return expires


def link_state(store: Store, token_hash: str, now: datetime) -> str:
    """'valid', 'used', 'expired' or 'unknown': what the link's page says, changing nothing."""
    with store.read() as conn:
        row = conn.execute(
            select(staff_links.c.used_at, staff_links.c.expires_at).where(
                staff_links.c.token_hash == token_hash
            )
        ).first()
    if row is None:
        return "unknown"
    if row.used_at is not None:
        return "used"
    return "valid" if row.expires_at > now else "expired"


def use_link(conn: Connection, token_hash: str, now: datetime) -> int | None:
    """Mark the link used and return its staff id; None when it is unknown, used or expired."""
    return conn.execute(
        update(staff_links)
        .where(
            staff_links.c.token_hash == token_hash,
            staff_links.c.used_at.is_(None),
            staff_links.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(staff_links.c.staff_id)
    ).scalar_one_or_none()


def add_session(
    conn: Connection,
    id_hash: str,
    staff_id: int,
    csrf_token: str,
    now: datetime,
    lifetime: timedelta,
) -> None:
    conn.execute(
        insert(staff_sessions).values(
            id_hash=id_hash,
            staff_id=staff_id,
            csrf_token=csrf_token,
            created_at=now,
            seen_at=now,
            expires_at=now + lifetime,
        )
    )


def find_session(
    store: Store, id_hash: str, now: datetime, idle: timedelta
) -> tuple[Session, StaffMember] | None:
    """The live session with this hash and its staff member; None when there is none, it
    reached its absolute expiry, or it was idle longer than `idle`. Its `seen_at` moves on
    (at most once a minute, so reading pages does not mean a write per request)."""
    query = (
        select(*SESSION_COLUMNS, *COLUMNS)
        .join(staff, staff.c.id == staff_sessions.c.staff_id)
        .where(staff_sessions.c.id_hash == id_hash)
    )
    with store.read() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    session = Session(*row[: len(SESSION_COLUMNS)])
    member = StaffMember(*row[len(SESSION_COLUMNS) :])
    if session.expires_at <= now or session.seen_at + idle <= now:
        return None
    if now - session.seen_at >= TOUCH_EVERY:
        with store.transaction() as conn:
            conn.execute(
                update(staff_sessions)
                .where(staff_sessions.c.id_hash == id_hash)
                .values(seen_at=now)
            )
    return session, member


def end_session(conn: Connection, id_hash: str) -> None:
    conn.execute(delete(staff_sessions).where(staff_sessions.c.id_hash == id_hash))


def end_all(conn: Connection, staff_id: int) -> int:
    """Sign a person out everywhere; how many sessions ended."""
    return conn.execute(
        delete(staff_sessions).where(staff_sessions.c.staff_id == staff_id)
    ).rowcount


def sweep(conn: Connection, now: datetime, idle: timedelta) -> None:
    """Forget sessions and links that can no longer be used (run at each sign-in)."""
    conn.execute(
        delete(staff_sessions).where(
            or_(staff_sessions.c.expires_at <= now, staff_sessions.c.seen_at <= now - idle)
        )
    )
    conn.execute(delete(staff_links).where(staff_links.c.expires_at <= now))
