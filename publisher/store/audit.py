"""The audit log: who changed what, to which object, when, and from which client.

Rows are only ever added. `write` takes the connection of the change's own transaction, so
the row and the change commit together (`db.joined` lets a library function's transaction
carry it). Details never hold a subscriber's address: erasing a person must leave no trace
of them here, so subscribers are named by id.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, insert, select

from publisher.store.db import Store
from publisher.store.staff_schema import audit


@dataclass(frozen=True)
class Who:
    """Who makes a change, and from where: a staff member (id and address as they are at
    the time), or the command line (no id)."""

    staff_id: int | None = None
    staff_email: str = ""
    client: str = ""  # IP address, or "cli (user)"
    user_agent: str = ""

    def signed(self, member) -> Who:
        """This client, signed in as `member` (a `store.staff.StaffMember`)."""
        return replace(self, staff_id=member.id, staff_email=member.email)

    def did(self, action: str, object: str = "", detail: str = "") -> Entry:
        return Entry(self, action, object, detail)


def command_line() -> Who:
    """The person at the terminal: the system user running the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid())
    return Who(client=f"cli ({user})")


@dataclass(frozen=True)
class Entry:
    """One change: who, what (`action`, e.g. post.update), to which object, in a few words."""

    who: Who
    action: str
    object: str = ""  # post slug, campaign key, subscriber id, staff address
    detail: str = ""


@dataclass(frozen=True)
class Row:
    id: int
    at: datetime
    staff_id: int | None
    staff_email: str
    action: str
    object: str
    client: str
    user_agent: str
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


COLUMNS = [audit.c[name] for name in Row.__dataclass_fields__]
LIMITS = {"object": 500, "client": 100, "user_agent": 300, "staff_email": 320, "action": 64}


def write(conn: Connection, entry: Entry, now: datetime) -> None:
    values = asdict(entry.who) | {
        "action": entry.action,
        "object": entry.object,
        "detail": entry.detail,
    }
    for name, limit in LIMITS.items():
        values[name] = values[name][:limit]
    conn.execute(insert(audit).values(at=now, **values))


def rows(store: Store, since: datetime | None = None, limit: int = 1000) -> list[Row]:
    """The latest `limit` rows (since `since`), newest first: one walk of the `at` index."""
    query = select(*COLUMNS).order_by(audit.c.at.desc(), audit.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(audit.c.at >= since)
    with store.read() as conn:
        return [Row(*row) for row in conn.execute(query)]
