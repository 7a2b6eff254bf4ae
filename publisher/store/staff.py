"""The people who may use the staff console, their roles and their API keys.

Every function that changes a row takes the connection of the caller's transaction, so the
audit row of the change commits with it (`admin.accounts`); the readers take the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, delete, insert, select, update

from publisher.errors import PublisherError
from publisher.store.db import Store
from publisher.store.staff_schema import staff
from publisher.subscribers.addresses import Address
from publisher.vocabulary import ROLES


class StaffNotFound(PublisherError):
    """No staff member has this address (or id)."""


class StaffExists(PublisherError):
    """The address is already on the staff list."""


@dataclass(frozen=True)
class StaffMember:
    id: int
    email: str
    name: str
    role: str
    created_at: datetime
    key_created_at: datetime | None  # when the current API key was made; None: no key


COLUMNS = [staff.c[name] for name in StaffMember.__dataclass_fields__]


def _member(row: Row | None) -> StaffMember | None:
    return StaffMember(*row) if row else None


def check_role(role: str) -> str:
    if role not in ROLES:
        raise PublisherError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    return role


def insert_member(
    conn: Connection, address: Address, name: str, role: str, now: datetime
) -> StaffMember:
    """A new staff member; StaffExists when the address is taken."""
    check_role(role)
    if by_key(conn, address.key) is not None:
        raise StaffExists(f"{address.email} is already staff; `publisher staff list` shows them")
    new_id = conn.execute(
        insert(staff)
        .values(email=address.email, email_key=address.key, name=name, role=role, created_at=now)
        .returning(staff.c.id)
    ).scalar_one()
    member = by_id(conn, new_id)
    assert member is not None
    return member


def delete_member(conn: Connection, address: Address) -> StaffMember:
    """Remove a staff member; their links and sessions go with the row (cascade)."""
    member = by_key(conn, address.key)
    if member is None:
        raise StaffNotFound(f"{address.email} is not staff; `publisher staff list` shows who is")
    conn.execute(delete(staff).where(staff.c.id == member.id))
    return member


def set_role(conn: Connection, member_id: int, role: str) -> None:
    conn.execute(update(staff).where(staff.c.id == member_id).values(role=check_role(role)))


def set_key(conn: Connection, member_id: int, key_hash: str, now: datetime) -> None:
    """Store the hash of a new API key; the one before stops working."""
    conn.execute(
        update(staff).where(staff.c.id == member_id).values(key_hash=key_hash, key_created_at=now)
    )


def by_key(conn: Connection, email_key: str) -> StaffMember | None:
    return _member(conn.execute(select(*COLUMNS).where(staff.c.email_key == email_key)).first())


def by_id(conn: Connection, member_id: int) -> StaffMember | None:
    return _member(conn.execute(select(*COLUMNS).where(staff.c.id == member_id)).first())


def find(store: Store, address: Address) -> StaffMember | None:
    with store.read() as conn:
        return by_key(conn, address.key)


def get(store: Store, member_id: int) -> StaffMember | None:
    with store.read() as conn:
        return by_id(conn, member_id)


def by_api_key(store: Store, key_hash: str) -> StaffMember | None:
    """Who holds the API key with this hash (a unique index: one probe)."""
    with store.read() as conn:
        return _member(conn.execute(select(*COLUMNS).where(staff.c.key_hash == key_hash)).first())


def list_staff(store: Store) -> list[StaffMember]:
    """Everyone, in the order they were added."""
    with store.read() as conn:
        return [StaffMember(*row) for row in conn.execute(select(*COLUMNS).order_by(staff.c.id))]
