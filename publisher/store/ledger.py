"""The delivery ledger: campaigns and one delivery row per recipient. All of its SQL is here.

A delivery moves `queued -> sending -> sent`, or to `deferred` (retry later), `failed`
(permanent) or `skipped` (the subscriber left before their message did). Workers claim
rows with one UPDATE that only one of them can win (`FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite serializes writers), so any number of processes can share a campaign.
"""

from __future__ import annotations

import functools
import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, and_, bindparam, func, literal, select, update
from sqlalchemy.engine import Connection

from publisher.store.db import Store
from publisher.store.schema import (
    DEFERRED,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    SKIPPED,
    UNKNOWN,
    campaigns,
    deliveries,
    subscribers,
)


@dataclass(frozen=True)
class Campaign:
    id: int
    key: str
    kind: str
    subject: str
    html: str
    text: str
    headers: dict
    status: str  # sending|paused|done
    note: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total: int


@dataclass(frozen=True)
class Counts:
    queued: int = 0
    sending: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0
    bounced: int = 0  # sent, then bounced (publisher inbound)
    unknown: int = 0  # the relay did not answer the end of the message: maybe sent

    @property
    def total(self) -> int:
        finished = self.sent + self.failed + self.skipped + self.bounced + self.unknown
        return finished + self.queued + self.sending + self.deferred

    @property
    def unfinished(self) -> int:
        return self.queued + self.sending + self.deferred


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker now owns (state `sending`), with its recipient."""

    id: int
    subscriber_id: int
    email: str
    name: str
    attempts: int
    token_key: str  # the subscriber's, for their links


def worker_id() -> str:
    """Who holds a claim: host and process, so a dead local process's claims can be freed."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def _campaign(row) -> Campaign:
    values = dict(row._mapping)
    values["headers"] = json.loads(values["headers"] or "{}")
    return Campaign(**values)


def get_campaign(store: Store, key: str) -> Campaign | None:
    with store.read() as conn:
        row = conn.execute(select(campaigns).where(campaigns.c.key == key)).first()
    return _campaign(row) if row else None


def list_campaigns(store: Store, *, unfinished: bool = False) -> list[Campaign]:
    """Every campaign, oldest first; only those not done with `unfinished`."""
    query = select(campaigns).order_by(campaigns.c.id)
    if unfinished:
        query = query.where(campaigns.c.status != "done")
    with store.read() as conn:
        return [_campaign(row) for row in conn.execute(query)]


# The statements run for every message are built once: building one costs more than
# running it.


def _claim_statement(state: str):
    due = and_(
        deliveries.c.campaign_id == bindparam("campaign"),
        deliveries.c.state == state,
    )
    if state == DEFERRED:
        due = and_(due, deliveries.c.next_attempt_at <= bindparam("now"))
    ids = (
        select(deliveries.c.id)
        .where(due)
        .order_by(deliveries.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(deliveries)
        .where(deliveries.c.id.in_(ids))
        .values(state=SENDING, claimed_at=bindparam("now"), claimed_by=bindparam("worker"))
        .returning(deliveries.c.id)
    )


CLAIMS = [_claim_statement(QUEUED), _claim_statement(DEFERRED)]  # queued rows first
RECIPIENTS = (
    select(
        deliveries.c.id,
        deliveries.c.subscriber_id,
        deliveries.c.attempts,
        subscribers.c.email,
        subscribers.c.name,
        subscribers.c.status,
        subscribers.c.token_key,
    )
    .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(deliveries.c.id)
)


def claim(
    store: Store,
    campaign_id: int,
    worker: str,
    limit: int,
    now: datetime,
    conn: Connection | None = None,
) -> list[Claimed]:
    """Move up to `limit` due deliveries to `sending` for `worker` and return them.

    Queued rows go first, in id order (an index range, never a sort); then deferred rows
    whose next attempt is due. Recipients no longer active are marked `skipped` here.
    Workers pass the `conn` they keep for the whole run: a pool round trip per message
    would cost more than the UPDATE itself.
    """
    params = {"campaign": campaign_id, "worker": worker, "limit": limit, "now": now}
    with store.transaction(conn) as conn:
        for statement in CLAIMS:
            claimed = conn.execute(statement, params).scalars().all()
            if claimed:
                return _recipients(conn, claimed)
    return []


def _recipients(conn: Connection, ids: list[int]) -> list[Claimed]:
    rows = conn.execute(RECIPIENTS, {"ids": ids}).all()
    gone = [row.id for row in rows if row.status != "active"]
    if gone:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(gone))
            .values(state=SKIPPED, smtp_reply="subscriber no longer active")
        )
    return [
        Claimed(row.id, row.subscriber_id, row.email, row.name, row.attempts, row.token_key)
        for row in rows
        if row.status == "active"
    ]


def release(store: Store, ids: Iterable[int], conn: Connection | None = None) -> None:
    """Give claimed deliveries that were not attempted back to the queue."""
    ids = list(ids)
    if ids:
        with store.transaction(conn) as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids), deliveries.c.state == SENDING)
                .values(state=QUEUED, claimed_at=None, claimed_by=None)
            )


def reclaim(store: Store, campaign_id: int, now: datetime, lease: timedelta) -> int:
    """Requeue deliveries stuck in `sending`: lease expired, or claimed by a dead local process.

    A delivery whose worker was killed mid-transaction may have reached the server; it is
    sent again, which is the bounded duplicate the crash promise allows.
    """
    host = socket.gethostname()[:40]
    with store.transaction() as conn:
        stuck = and_(deliveries.c.campaign_id == campaign_id, deliveries.c.state == SENDING)
        holders = conn.execute(select(deliveries.c.claimed_by).where(stuck).distinct()).scalars()
        dead = [holder for holder in holders if _is_dead_local(holder, host)]
        expired = deliveries.c.claimed_at < now - lease
        free = expired | deliveries.c.claimed_by.in_(dead) if dead else expired
        return conn.execute(
            update(deliveries)
            .where(stuck, free)
            .values(state=QUEUED, claimed_at=None, claimed_by=None)
        ).rowcount


def _is_dead_local(holder: str | None, host: str) -> bool:
    name, _, pid = (holder or "").rpartition(":")
    if name != host or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        pass
    return False


def sent_mark(delivery_id: int, code: int | None, reply: str, now: datetime) -> dict:
    """One `sent` mark, for `mark_sent_many`."""
    return {"delivery_id": delivery_id, "sent": now, "code": code, "reply": reply[:500]}


def mark_sent(
    store: Store,
    delivery_id: int,
    code: int | None,
    reply: str,
    now: datetime,
    conn: Connection | None = None,
) -> None:
    mark_sent_many(store, [sent_mark(delivery_id, code, reply, now)], conn)


def mark_sent_many(store, marks: list[dict], conn: Connection | None = None) -> None:
    """Record several `sent_mark`s in one transaction (a group commit of several workers).

    It runs for every message sent, so its UPDATE is written for the driver and run in a
    driver transaction: a Core statement in a Core transaction held the GIL for about
    150 us more a message, more than building the message.
    """
    if conn is None:
        with store.connect() as own:
            mark_sent_many(store, marks, own)
        return
    sql, sent_at = _mark_sent_sql(conn.dialect)
    rows = [(sent_at(m["sent"]), m["code"], m["reply"], m["delivery_id"]) for m in marks]
    with store.driver_transaction(conn) as cursor:
        cursor.executemany(sql, rows)


@functools.lru_cache(maxsize=8)
def _mark_sent_sql(dialect) -> tuple[str, Callable]:
    """The `sent` mark's UPDATE with the driver's positional parameters, and the converter
    of its time for that database (`UTCDateTime`'s, then the dialect's own)."""
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"UPDATE deliveries SET state = '{SENT}', sent_at = {mark}, attempts = attempts + 1, "
        f"smtp_code = {mark}, smtp_reply = {mark} WHERE id = {mark}"
    )
    column = deliveries.c.sent_at.type
    return sql, column.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)


def mark_deferred(
    store: Store,
    claimed: Claimed,
    code: int | None,
    reply: str,
    next_attempt: datetime | None,
    conn: Connection | None = None,
    state: str = "",
) -> None:
    """Record a temporary failure; `next_attempt` None means attempts are used up: failed.
    `state` UNKNOWN records a message the relay may have taken without saying so (no answer
    to the end of the message): never claimed, so never sent, again."""
    state = state or (DEFERRED if next_attempt else FAILED)
    with store.transaction(conn) as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == claimed.id)
            .values(
                state=state,
                attempts=claimed.attempts + 1,
                next_attempt_at=next_attempt,
                smtp_code=code,
                smtp_reply=reply[:500],
            )
        )


def mark_failed(
    store: Store, claimed: Claimed, code: int | None, reply: str, conn: Connection | None = None
) -> None:
    """Record a permanent failure (the caller counts a hard bounce against the address)."""
    mark_deferred(store, claimed, code, reply, None, conn)


def mark_unknown(
    store: Store, claimed: Claimed, reply: str, conn: Connection | None = None
) -> None:
    """Record a message whose outcome is unknown (the relay did not answer its end)."""
    mark_deferred(store, claimed, None, reply, None, conn, state=UNKNOWN)


def counts(store: Store, campaign_id: int) -> Counts:
    with store.read() as conn:
        rows = conn.execute(
            select(deliveries.c.state, func.count())
            .where(deliveries.c.campaign_id == campaign_id)
            .group_by(deliveries.c.state)
        ).all()
    return Counts(**{state: n for state, n in rows})


def all_counts(store: Store) -> dict[int, Counts]:
    """Counts per state of every campaign, in one query."""
    with store.read() as conn:
        rows = conn.execute(
            select(deliveries.c.campaign_id, deliveries.c.state, func.count()).group_by(
                deliveries.c.campaign_id, deliveries.c.state
            )
        ).all()
    found: dict[int, dict[str, int]] = {}
    for campaign_id, state, n in rows:
        found.setdefault(campaign_id, {})[state] = n
    return {campaign_id: Counts(**states) for campaign_id, states in found.items()}


def next_attempt(store: Store, campaign_id: int) -> datetime | None:
    """When the earliest deferred delivery of the campaign is due."""
    with store.read() as conn:
        return conn.execute(
            select(func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.campaign_id == campaign_id, deliveries.c.state == DEFERRED
            )
        ).scalar_one()


def sent_since(store: Store, since: datetime) -> int:
    """Messages sent by every campaign since `since` (for `max_per_hour`)."""
    with store.read() as conn:
        return conn.execute(select(func.count()).where(deliveries.c.sent_at >= since)).scalar_one()


def oldest_sent_since(store: Store, since: datetime) -> datetime | None:
    with store.read() as conn:
        return conn.execute(
            select(func.min(deliveries.c.sent_at)).where(deliveries.c.sent_at >= since)
        ).scalar_one()


def set_status(store: Store, campaign_id: int, status: str, now: datetime, note: str = "") -> None:
    """Mark a campaign sending (first start remembered), paused (with why) or done."""
    values: dict = {"status": status, "note": note}
    if status == "sending":
        values["started_at"] = func.coalesce(
            campaigns.c.started_at, literal(now, campaigns.c.started_at.type)
        )
    if status == "done":
        values["finished_at"] = now
    with store.transaction() as conn:
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(**values))
