"""Subscribers: every change to the list, with the suppression rules, and its event log.

Suppression: an address whose row is unsubscribed, bounced or complained, or whose salted
hash is in `suppressions` (erased with `forget`), is never made active by `add` or by an
import. Only `confirm` (the person clicking a signed link) brings it back. Every change
appends a row to `events`. Sign-ups from the web form and their confirmation emails are in
`signups`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, Select, delete, insert, select, update

from publisher.errors import PublisherError
from publisher.store.db import Store, insert_or_skip
from publisher.store.schema import (
    UNSENT,
    events,
    inbound,
    settings,
    subscribers,
    suppressions,
)
from publisher.subscribers.addresses import Address, check_name, normalize
from publisher.vocabulary import FREQUENCIES, STATUSES, SUPPRESSED


class NotFound(PublisherError):
    """No subscriber has this address."""


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str
    status: str
    frequency: str
    source: str
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    confirm_sent_at: datetime | None
    bounce_count: int
    topics: str = ""  # the chosen topics' names joined by commas, "" for every topic


@dataclass(frozen=True)
class Change:
    """What `add` did: added, updated, unchanged or skipped (with the reason)."""

    outcome: str
    subscriber: Subscriber | None
    reason: str = ""


COLUMNS = [subscribers.c[name] for name in Subscriber.__dataclass_fields__]


def _subscriber(row: Row) -> Subscriber:
    return Subscriber(*row)


def _find(conn: Connection, key: str) -> Subscriber | None:
    row = conn.execute(select(*COLUMNS).where(subscribers.c.email_key == key)).first()
    return _subscriber(row) if row else None


def by_id(conn: Connection, subscriber_id: int) -> Subscriber | None:
    row = conn.execute(select(*COLUMNS).where(subscribers.c.id == subscriber_id)).first()
    return _subscriber(row) if row else None


def hash_salt(conn: Connection) -> str:
    return conn.execute(select(settings.c.value).where(settings.c.name == "hash_salt")).scalar_one()


def _is_erased(conn: Connection, address: Address) -> bool:
    digest = address.hashed(hash_salt(conn))
    found = conn.execute(
        select(suppressions.c.email_hash).where(suppressions.c.email_hash == digest)
    )
    return found.first() is not None


def log_event(
    conn: Connection,
    subscriber_id: int | None,
    kind: str,
    now: datetime,
    source: str,
    detail: str = "",
    **kept: object,
) -> None:
    """Append an event; `kept` are its columns for the reports (campaign_id, reason)."""
    conn.execute(
        insert(events).values(
            subscriber_id=subscriber_id, kind=kind, at=now, source=source, detail=detail, **kept
        )
    )


def check_choice(value: str | None, choices: tuple[str, ...], what: str) -> None:
    if value is not None and value not in choices:
        raise PublisherError(f"{what}: expected one of {', '.join(choices)}, got {value!r}")


def update_subscriber(conn: Connection, subscriber_id: int, **values) -> Subscriber:
    conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(**values))
    found = by_id(conn, subscriber_id)
    assert found is not None
    return found


def find_or_insert(
    conn: Connection,
    address: Address,
    name: str,
    status: str,
    frequency: str,
    source: str,
    now,
    topics: str = "",
) -> tuple[Subscriber, bool]:
    """The subscriber with this address, and whether it was inserted just now (with these
    values) because there was none.

    ON CONFLICT DO NOTHING: when two requests sign up the same new address at once on
    PostgreSQL, both read no row; the second insert then waits for the first to commit and
    does nothing instead of failing on the unique key, and the row is read again (a new
    statement sees the committed row). SQLite writers are serialized by BEGIN IMMEDIATE.
    """
    current = _find(conn, address.key)
    if current is not None:
        return current, False
    statement = (
        insert_or_skip(conn.dialect.name, subscribers, "email_key")
        .values(
            email=address.email,
            email_key=address.key,
            name=name,
            status=status,
            frequency=frequency,
            source=source,
            created_at=now,
            confirmed_at=now if status == "active" else None,
            bounce_count=0,
            topics=topics,
        )
        .returning(subscribers.c.id)
    )
    new_id = conn.execute(statement).scalar_one_or_none()
    if new_id is not None:
        log_event(conn, new_id, "subscribed", now, source, f"status={status}")
    found = _find(conn, address.key)
    assert found is not None
    return found, new_id is not None


def add(
    store: Store,
    email: str,
    *,
    now: datetime,
    name: str = "",
    status: str = "active",
    frequency: str | None = None,
    topics: str | None = None,
    source: str = "cli",
    check_dns: bool = False,
    smtputf8: bool = False,
) -> Change:
    """Add an address, or update the name/frequency/topics of a current one; a pending
    address becomes active when added as active (the team vouches for consent). Suppressed
    and erased addresses are skipped, never reactivated. `smtputf8` is `[smtp] smtputf8`:
    an address or name the policy refuses (see `addresses`) raises before anything
    changes. `topics` is a stored choice (`publisher.topics.checked`); None keeps it."""
    check_choice(status, ("active", "pending"), "status")
    check_choice(frequency, FREQUENCIES, "frequency")
    address = normalize(email, smtputf8=smtputf8, check_dns=check_dns)
    name = check_name(name)
    with store.transaction() as conn:
        if _is_erased(conn, address):
            return Change("skipped", None, "erased")
        chosen = frequency or store.default_frequency
        current, added = find_or_insert(
            conn, address, name, status, chosen, source, now, topics or ""
        )
        if added:
            return Change("added", current)
        if current.status in SUPPRESSED:
            return Change("skipped", current, current.status)
        values: dict[str, object] = {}
        if name and name != current.name:
            values["name"] = name
        if frequency and frequency != current.frequency:
            values["frequency"] = frequency
        if topics is not None and topics != current.topics:
            values["topics"] = topics
        if status == "active" and current.status == "pending":
            values.update(status="active", confirmed_at=now)
        if not values:
            return Change("unchanged", current)
        log_event(conn, current.id, "updated", now, source, ",".join(sorted(values)))
        return Change("updated", update_subscriber(conn, current.id, **values))


def confirm(
    store: Store, subscriber_id: int, *, now: datetime, source: str = "web", welcome: bool = False
) -> Subscriber | None:
    """The person confirmed by a signed link: active from now on, whatever the past
    (pending, unsubscribed, bounced, complained, or erased and come back), and owed the
    welcome email when `welcome`. None if the subscriber no longer exists."""
    with store.transaction() as conn:
        current = by_id(conn, subscriber_id)
        if current is None or current.status == "active":
            return current
        key = conn.execute(
            select(subscribers.c.email_key).where(subscribers.c.id == current.id)
        ).scalar_one()
        digest = Address(current.email, key).hashed(hash_salt(conn))
        conn.execute(delete(suppressions).where(suppressions.c.email_hash == digest))
        log_event(conn, current.id, "confirmed", now, source, f"was {current.status}")
        return update_subscriber(
            conn,
            current.id,
            status="active",
            confirmed_at=now,
            unsubscribed_at=None,
            bounce_count=0,
            welcome_due_at=now if welcome else None,
        )


def _unsubscribe(
    conn: Connection, current: Subscriber, now: datetime, source: str, **kept: object
) -> Subscriber:
    if current.status in SUPPRESSED:
        return current
    log_event(conn, current.id, "unsubscribed", now, source, **kept)
    return update_subscriber(conn, current.id, status="unsubscribed", unsubscribed_at=now)


def remove(
    store: Store, email: str, *, now: datetime, source: str = "cli"
) -> tuple[Subscriber, bool]:
    """Unsubscribe an address (kept, as suppressed). Idempotent: the flag says whether
    anything changed. NotFound if the address is not on the list."""
    address = normalize(email, smtputf8=True)  # sends nothing: any stored address will do
    with store.transaction() as conn:
        current = _find(conn, address.key)
        if current is None:
            raise NotFound(f"{address.email} is not on the list")
        result = _unsubscribe(conn, current, now, source)
        return result, result.status != current.status


def unsubscribe(
    store: Store,
    subscriber_id: int,
    *,
    now: datetime,
    source: str = "web",
    campaign_id: int | None = None,
    reason: str = "",
) -> Subscriber | None:
    """Unsubscribe by id (the signed link, List-Unsubscribe); None if no such subscriber.
    The event keeps the campaign whose link it was and the reason chosen, for the reports."""
    with store.transaction() as conn:
        current = by_id(conn, subscriber_id)
        if current is None:
            return None
        return _unsubscribe(conn, current, now, source, campaign_id=campaign_id, reason=reason)


def set_preferences(
    store: Store,
    subscriber_id: int,
    *,
    now: datetime,
    frequency: str | None = None,
    name: str | None = None,
    topics: str | None = None,
    source: str = "web",
) -> Subscriber | None:
    """Change what the subscriber chose (None keeps a value); `topics` is a stored choice
    (`publisher.topics.checked`). The event names the fields that changed."""
    check_choice(frequency, FREQUENCIES, "frequency")
    name = None if name is None else check_name(name)
    with store.transaction() as conn:
        current = by_id(conn, subscriber_id)
        if current is None:
            return None
        wanted = {"frequency": frequency, "name": name, "topics": topics}
        values = {
            key: value
            for key, value in wanted.items()
            if value is not None and value != getattr(current, key)
        }
        if not values:
            return current
        log_event(conn, current.id, "preferences", now, source, ",".join(sorted(values)))
        return update_subscriber(conn, current.id, **values)


def iter_unsent_confirmations(store: Store, batch: int = 500) -> Iterator[Subscriber]:
    """Pending subscribers never sent a confirmation email, in id order, in pages by id
    (each its own short read). The partial index `subscribers_unsent` holds exactly these
    rows, so finding none, the usual case on every tick, is one index probe."""
    return _pages(store, select(*COLUMNS).where(UNSENT), batch)


def record_bounce(
    store: Store, subscriber_id: int, *, now: datetime, limit: int, detail: str = ""
) -> Subscriber | None:
    """A hard bounce at sending: count it, and mark the subscriber bounced at `limit`."""
    with store.transaction() as conn:
        return count_bounce(conn, subscriber_id, now, limit, "delivery", detail)


def count_bounce(
    conn: Connection, subscriber_id: int, now: datetime, limit: int, source: str, detail: str
) -> Subscriber | None:
    """Count one hard bounce (at sending, or read later by `publisher inbound`) and mark the
    subscriber bounced at `limit` unless already suppressed; the subscriber after, or None."""
    current = by_id(conn, subscriber_id)
    if current is None:
        return None
    values: dict[str, object] = {"bounce_count": current.bounce_count + 1}
    if values["bounce_count"] >= limit and current.status not in SUPPRESSED:
        values.update(status="bounced", unsubscribed_at=now)
    log_event(conn, current.id, "bounced", now, source, detail)
    return update_subscriber(conn, current.id, **values)


def record_complaint(
    store: Store, subscriber_id: int, *, now: datetime, detail: str = ""
) -> Subscriber | None:
    """A spam complaint (feedback loop): suppressed at once."""
    with store.transaction() as conn:
        current = by_id(conn, subscriber_id)
        if current is None:
            return None
        log_event(conn, current.id, "complained", now, "delivery", detail)
        return update_subscriber(conn, current.id, status="complained", unsubscribed_at=now)


def forget(store: Store, email: str, *, now: datetime, source: str = "cli") -> bool:
    """Erase an address (GDPR): its row, its deliveries (cascade) and the personal details
    of its events go; a salted hash stays in `suppressions` so it is never imported again.
    Works for unknown addresses too (a request not to be contacted). True if data existed."""
    address = normalize(email, smtputf8=True)  # an erasure request is honoured for any address
    with store.transaction() as conn:
        digest = address.hashed(hash_salt(conn))
        if not _is_erased(conn, address):
            conn.execute(
                insert(suppressions).values(email_hash=digest, reason="erased", created_at=now)
            )
        current = _find(conn, address.key)
        if current is not None:
            for table in (events, inbound):  # their details may hold the address
                conn.execute(
                    update(table)
                    .where(table.c.subscriber_id == current.id)
                    .values(subscriber_id=None, detail="")
                )
            conn.execute(delete(subscribers).where(subscribers.c.id == current.id))
        log_event(conn, None, "erased", now, source)
    store.scrub()
    return current is not None


def get(store: Store, subscriber_id: int) -> Subscriber | None:
    with store.read() as conn:
        return by_id(conn, subscriber_id)


def _token_key(conn: Connection, subscriber_id: int) -> str | None:
    found = select(subscribers.c.token_key).where(subscribers.c.id == subscriber_id)
    return conn.execute(found).scalar_one_or_none()


def token_key(store: Store, subscriber_id: int) -> str | None:
    """The key the subscriber's links are signed with; None once they are erased. Kept out
    of `Subscriber`, so it never reaches an export."""
    with store.read() as conn:
        return _token_key(conn, subscriber_id)


def get_with_key(store: Store, subscriber_id: int) -> tuple[Subscriber, str] | None:
    """The subscriber and their link key, in one read; None if there is no such subscriber."""
    with store.read() as conn:
        found = by_id(conn, subscriber_id)
        return None if found is None else (found, _token_key(conn, subscriber_id))


def get_by_email(store: Store, email: str) -> Subscriber | None:
    address = normalize(email, smtputf8=True)  # a lookup sends nothing
    with store.read() as conn:
        return _find(conn, address.key)


def iter_subscribers(
    store: Store, status: str | None = None, frequency: str | None = None, batch: int = 2000
) -> Iterator[Subscriber]:
    """Every matching subscriber in id order, fetched in pages by id (keyset), each page in
    its own short read, so a long consumer never pins a database snapshot."""
    check_choice(status, STATUSES, "status")
    check_choice(frequency, FREQUENCIES, "frequency")
    query = select(*COLUMNS)
    if status:
        query = query.where(subscribers.c.status == status)
    if frequency:
        query = query.where(subscribers.c.frequency == frequency)
    return _pages(store, query, batch)


def _pages(store: Store, query: Select, batch: int) -> Iterator[Subscriber]:
    """The subscribers `query` selects, in id order, a page of `batch` rows per read."""
    query = query.order_by(subscribers.c.id).limit(batch)
    last = 0
    while True:
        with store.read() as conn:
            rows = conn.execute(query.where(subscribers.c.id > last)).all()
        yield from map(_subscriber, rows)
        if len(rows) < batch:
            return
        last = rows[-1].id


def iter_active(store: Store, frequency: str | None = None) -> Iterator[Subscriber]:
    """Active subscribers (optionally of one frequency) in id order: the recipients."""
    return iter_subscribers(store, "active", frequency)
