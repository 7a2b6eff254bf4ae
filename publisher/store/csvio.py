"""CSV import and export of the subscriber list, streamed (constant memory at any size).

Import keeps the store unchanged or fully updated, never in between:

1. Stage. The file is read once, row by row; each row is validated (`csvread`: address
   and name under the policy in `addresses`, frequency, topics, status and times) and
   inserted, 5,000 rows per executemany (COPY on PostgreSQL) and transaction, into a
   TEMPORARY table of this connection. That table is not part of
   the store: nobody else sees it and it vanishes with the connection. A bad encoding, a
   truncated line or a missing email column stops here, before the store is touched. A
   refused row is staged without its cells (only its line and the reason), so no value
   the policy refused (a NUL, which PostgreSQL will not store even in a temporary table)
   reaches the database.
2. Classify, in SQL over the staged rows: duplicates within the file, erased addresses
   (hash in `suppressions`), suppressed ones (unsubscribed, bounced, complained: they
   stay so, whatever the file says), new ones, ones whose name, frequency, topics or
   status would change, unchanged ones.
3. Apply, unless --dry-run: a few set-based statements (INSERT ... SELECT, UPDATE) and
   their `events`, in ONE transaction, so even a million rows commit together (seconds,
   not minutes, of write lock) or not at all. Re-running the same file changes nothing.
   A new address keeps what the file says of its consent: its status (an unsubscribed
   one arrives suppressed), when and how it subscribed, confirmed and left, its topics;
   so `subscribers export` then `import` into another store keeps every promise made.

Problems are reported afterwards, in line order, from the staging table.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import TextIO

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)

from publisher.errors import PublisherError
from publisher.store.csvread import ImportFileError, staged, staged_rows
from publisher.store.db import Store
from publisher.store.schema import UTCDateTime, events, subscribers, suppressions
from publisher.store.subscribers import COLUMNS, hash_salt, iter_subscribers
from publisher.subscribers.addresses import visible
from publisher.topics import Topic
from publisher.vocabulary import SUPPRESSED

__all__ = ["ImportFileError", "ImportSummary", "export_csv", "import_csv"]

BATCH = 5000
MAILED = ("active", "pending")  # statuses an address may leave by import
EXPORT_COLUMNS = [column.name for column in COLUMNS if column.name != "id"]
# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
# TAB and CR, which OWASP lists too, never start a written cell: `visible` escapes them.
FORMULA_START = ("=", "+", "-", "@")


@dataclass
class ImportSummary:
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    dry_run: bool = False


_staging_metadata = MetaData()
staging = Table(
    "import_staging",
    _staging_metadata,
    Column("line", Integer, primary_key=True),
    Column("email", String(320)),
    Column("email_key", String(320)),
    Column("name", String(200)),
    Column("frequency", String(8)),
    Column("topics", Text),
    Column("status", String(16)),
    Column("source", String(64)),
    Column("created_at", DateTime),  # naive UTC, as the store keeps times
    Column("confirmed_at", DateTime),
    Column("unsubscribed_at", DateTime),
    Column("email_hash", String(64)),
    Column("action", String(12)),  # add|update|unchanged|invalid|duplicate|suppressed|erased
    Column("problem", Text),
    prefixes=["TEMPORARY"],
)


def import_csv(
    store: Store,
    path: Path,
    *,
    now: datetime,
    status: str = "active",
    dry_run: bool = False,
    report: Callable[[int, str], None] | None = None,
    smtputf8: bool = False,
    topics: Sequence[Topic] = (),
) -> ImportSummary:
    """Import `path` (see the module docstring); `report(line, message)` gets each
    skipped row after the import, in line order. `smtputf8` is `[smtp] smtputf8`;
    `topics`, the site's, which a topics cell may name. `status` is what a row without a
    status cell gets (a file from `subscribers export` has one in every row)."""
    if status not in ("active", "pending"):
        raise PublisherError(f"status: expected active or pending, got {status!r}")
    source = f"import:{path.name}"[:64]
    with store.connect() as conn:
        with store.read(conn):
            staging.create(conn)
        try:
            _stage(store, conn, path, partial(staged, smtputf8=smtputf8, topics=topics))
            with store.read(conn) if dry_run else store.transaction(conn):
                _classify(conn, status)
                if not dry_run:
                    _apply(conn, store, status, source, now)
                summary = _summary(conn, dry_run)
            if report:
                with store.read(conn):
                    problems = select(staging.c.line, staging.c.problem)
                    for line, problem in conn.execute(
                        problems.where(staging.c.problem.is_not(None)).order_by(staging.c.line)
                    ):
                        report(line, problem)
        finally:
            with store.read(conn):
                staging.drop(conn)
    return summary


def _stage(store: Store, conn: Connection, path: Path, row: Callable[..., dict]) -> None:
    with store.read(conn):
        salt = hash_salt(conn)
    rows = staged_rows(path, partial(row, salt=salt))
    while batch := list(islice(rows, BATCH)):
        with store.read(conn):  # writes only the TEMPORARY table: no lock on the store
            _insert_staged(conn, batch)
    with store.read(conn):
        # Indexed after loading: faster than maintaining the index row by row.
        conn.execute(text("CREATE INDEX import_staging_key ON import_staging (email_key, line)"))
        if conn.dialect.name == "postgresql":  # autovacuum never analyzes temporary tables
            conn.execute(text("ANALYZE import_staging"))
        earlier = staging.alias("earlier")
        first = (
            select(func.min(earlier.c.line))
            .where(earlier.c.email_key == staging.c.email_key)
            .scalar_subquery()
        )
        problem = literal("duplicate of line ") + cast(first, String)
        conn.execute(
            update(staging)
            .where(staging.c.action.is_(None), staging.c.line > first)
            .values(action="duplicate", problem=problem)
        )


def _insert_staged(conn: Connection, batch: list[dict]) -> None:
    """executemany; on PostgreSQL, COPY (several times faster than row-by-row inserts)."""
    if conn.dialect.name != "postgresql":
        conn.execute(insert(staging), batch)
        return
    names = [column.name for column in staging.columns]
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY import_staging ({', '.join(names)}) FROM STDIN") as copy:
        for row in batch:
            copy.write_row([row[name] for name in names])


def _classify(conn: Connection, status: str) -> None:
    """Give every valid, non-duplicate staged row its action, against the store as it is now."""
    if conn.dialect.name == "postgresql":  # no subscriber may appear between classify and apply
        conn.execute(text("LOCK TABLE subscribers IN SHARE ROW EXCLUSIVE MODE"))
    same = subscribers.c.email_key == staging.c.email_key
    current_status = select(subscribers.c.status).where(same).scalar_subquery()
    undecided = staging.c.action.is_(None)
    row_status = func.coalesce(staging.c.status, status)
    changes = [
        and_(staging.c.name != "", staging.c.name != subscribers.c.name),
        and_(staging.c.frequency.is_not(None), staging.c.frequency != subscribers.c.frequency),
        and_(staging.c.topics.is_not(None), staging.c.topics != subscribers.c.topics),
        and_(row_status == "active", subscribers.c.status == "pending"),
        and_(row_status.in_(SUPPRESSED), subscribers.c.status.in_(MAILED)),
    ]
    steps = [
        (
            staging.c.email_hash.in_(select(suppressions.c.email_hash)),
            {"action": "erased", "problem": "erased address; only the person can subscribe again"},
        ),
        (
            current_status.in_(SUPPRESSED),
            {"action": "suppressed", "problem": literal("suppressed address: ") + current_status},
        ),
        (~exists().where(same), {"action": "add"}),
        (exists().where(same, or_(*changes)), {"action": "update"}),
        (staging.c.action.is_(None), {"action": "unchanged"}),
    ]
    for condition, values in steps:
        conn.execute(update(staging).where(undecided, condition).values(**values))


def _apply(conn: Connection, store: Store, status: str, source: str, now: datetime) -> None:
    """New rows as the file has them (status, times, source, topics; what it lacks from
    the options and `now`); known rows take the file's name, frequency and topics, and
    its status when that means confirmed (pending -> active) or gone (-> suppressed)."""
    moment = literal(now, UTCDateTime)
    row_status = func.coalesce(staging.c.status, status)
    new = select(
        staging.c.email,
        staging.c.email_key,
        staging.c.name,
        row_status,
        func.coalesce(staging.c.frequency, store.default_frequency),
        func.coalesce(staging.c.source, source),
        func.coalesce(staging.c.created_at, moment),
        case(
            (row_status == "active", func.coalesce(staging.c.confirmed_at, moment)),
            else_=staging.c.confirmed_at,
        ),
        case(
            (row_status.in_(SUPPRESSED), func.coalesce(staging.c.unsubscribed_at, moment)),
            else_=literal(None, UTCDateTime),
        ),
        literal(0),
        func.coalesce(staging.c.topics, ""),
    ).where(staging.c.action == "add")
    target = ["email", "email_key", "name", "status", "frequency", "source", "created_at"]
    target += ["confirmed_at", "unsubscribed_at", "bounce_count", "topics"]
    conn.execute(insert(subscribers).from_select(target, new.order_by(staging.c.line)))

    def from_file(column):
        return (
            select(column)
            .where(
                staging.c.email_key == subscribers.c.email_key,
                staging.c.action == "update",  # not a later duplicate of the same address
            )
            .scalar_subquery()
        )

    name, wanted = from_file(staging.c.name), from_file(row_status)
    confirmed = and_(subscribers.c.status == "pending", wanted == "active")
    left = and_(subscribers.c.status.in_(MAILED), wanted.in_(SUPPRESSED))
    values = {
        "name": case((name != "", name), else_=subscribers.c.name),
        "frequency": func.coalesce(from_file(staging.c.frequency), subscribers.c.frequency),
        "topics": func.coalesce(from_file(staging.c.topics), subscribers.c.topics),
        "status": case((left, wanted), (confirmed, "active"), else_=subscribers.c.status),
        "confirmed_at": case((confirmed, moment), else_=subscribers.c.confirmed_at),
        "unsubscribed_at": case(
            (left, func.coalesce(from_file(staging.c.unsubscribed_at), moment)),
            else_=subscribers.c.unsubscribed_at,
        ),
    }
    updated = select(staging.c.email_key).where(staging.c.action == "update")
    conn.execute(update(subscribers).where(subscribers.c.email_key.in_(updated)).values(values))

    kind = case((staging.c.action == "add", "imported"), else_="updated")
    logged = (
        select(subscribers.c.id, kind, moment, literal(source), literal(""))
        .join_from(staging, subscribers, staging.c.email_key == subscribers.c.email_key)
        .where(staging.c.action.in_(("add", "update")))
        .order_by(staging.c.line)
    )
    conn.execute(
        insert(events).from_select(["subscriber_id", "kind", "at", "source", "detail"], logged)
    )


def _summary(conn: Connection, dry_run: bool) -> ImportSummary:
    summary = ImportSummary(dry_run=dry_run)
    for action, count in conn.execute(
        select(staging.c.action, func.count()).group_by(staging.c.action)
    ):
        summary.rows += count
        if action in ("add", "update", "unchanged"):
            name = {"add": "added", "update": "updated"}.get(action, action)
            setattr(summary, name, count)
        else:
            summary.skipped[action] = count
    return summary


def export_csv(store: Store, out: TextIO, raw: bool = False) -> int:
    """Write every subscriber (status and UTC timestamps included) as CSV; returns rows.
    Control characters stored before intake refused them are shown escaped (`visible`);
    a cell a spreadsheet would run as a formula gets a leading `'` unless `raw`, which a
    file meant to be imported again needs (email, name and frequency are recognised)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for subscriber in iter_subscribers(store):
        writer.writerow(cell(getattr(subscriber, name), raw) for name in EXPORT_COLUMNS)
        count += 1
    return count


def cell(value: object, raw: bool) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str):
        return value
    text = visible(value)
    return text if raw or not text.startswith(FORMULA_START) else "'" + text
