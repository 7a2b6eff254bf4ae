"""CSV import and export of the subscriber list, streamed (constant memory at any size).

Import keeps the store unchanged or fully updated, never in between:

1. Stage. The file is read once, row by row; each row is validated (address and name
   under the policy in `addresses`, frequency) and inserted, 5,000 rows per executemany
   and transaction, into a TEMPORARY table of this connection. That table is not part of
   the store: nobody else sees it and it vanishes with the connection. A bad encoding, a
   truncated line or a missing email column stops here, before the store is touched. A
   refused row is staged without its cells (only its line and the reason), so no value
   the policy refused (a NUL, which PostgreSQL will not store even in a temporary table)
   reaches the database.
2. Classify, in SQL over the staged rows: duplicates within the file, erased addresses
   (hash in `suppressions`), suppressed ones (unsubscribed, bounced, complained), new
   ones, ones whose name/frequency/pending status would change, unchanged ones.
3. Apply, unless --dry-run: a few set-based statements (INSERT ... SELECT, UPDATE) and
   their `events`, in ONE transaction, so even a million rows commit together (seconds,
   not minutes, of write lock) or not at all. Re-running the same file changes nothing.

Problems are reported afterwards, in line order, from the staging table.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import BinaryIO, TextIO

from sqlalchemy import (
    Column,
    Connection,
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
from publisher.store.db import Store
from publisher.store.schema import FREQUENCIES, UTCDateTime, events, subscribers, suppressions
from publisher.store.subscribers import (
    COLUMNS,
    SUPPRESSED,
    hash_salt,
    iter_subscribers,
)
from publisher.subscribers.addresses import (
    AddressError,
    InvalidName,
    check_name,
    normalize,
    shown,
    visible,
)

BATCH = 5000
HEADER_NAMES = {
    "email": ("email", "e-mail", "email address", "e-mail address", "mail"),
    "name": ("name", "full name"),
    "frequency": ("frequency",),
}
EXPORT_COLUMNS = [column.name for column in COLUMNS if column.name != "id"]
# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
# TAB and CR, which OWASP lists too, never start a written cell: `visible` escapes them.
FORMULA_START = ("=", "+", "-", "@")


class ImportFileError(PublisherError):
    """The CSV file cannot be imported at all (encoding, structure, header)."""


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
) -> ImportSummary:
    """Import `path` (see the module docstring); `report(line, message)` gets each
    skipped row after the import, in line order. `smtputf8` is `[smtp] smtputf8`."""
    if status not in ("active", "pending"):
        raise PublisherError(f"status: expected active or pending, got {status!r}")
    source = f"import:{path.name}"[:64]
    with store.connect() as conn:
        with store.read(conn):
            staging.create(conn)
        try:
            _stage(store, conn, path, smtputf8)
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


def _stage(store: Store, conn: Connection, path: Path, smtputf8: bool) -> None:
    with store.read(conn):
        salt = hash_salt(conn)
    rows = _staged_rows(path, partial(_staged, salt=salt, smtputf8=smtputf8))
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


def _staged_rows(path: Path, staged: Callable[..., dict]) -> Iterator[dict]:
    """One dict per data row of the file (made by `staged`), valid or not; fatal problems
    raise."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(_decoded(handle, path), strict=True)
        rows = _rows(reader, path)
        first_line, header = next(rows, (0, None))
        if header is None:
            raise ImportFileError(f"{path}: empty file")
        columns, first_row = _columns(header, path)
        if first_row is not None:
            yield staged(first_line, first_row, columns)
        for line, row in rows:
            if len(row) != len(header):
                raise ImportFileError(
                    f"{path}:{line}: {len(row)} fields, expected {len(header)} "
                    "(truncated or malformed line); nothing was imported"
                )
            yield staged(line, row, columns)


def _decoded(handle: BinaryIO, path: Path) -> Iterator[str]:
    """The file's lines as text, decoded one by one so a bad byte names its line."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{path}:{number}: not UTF-8 text; save the file as UTF-8 CSV; nothing was imported"
            ) from None


def _rows(reader, path: Path) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line they start on; CSV errors name the line."""
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(
                f"{path}:{reader.line_num}: {exc} (truncated or malformed line); "
                "nothing was imported"
            ) from None
        if any(cell.strip() for cell in row):
            yield line, row
        line = reader.line_num + 1


def _columns(header: list[str], path: Path) -> tuple[dict[str, int], list[str] | None]:
    """Column positions from the header, in any order and case; a file of bare addresses
    (first cell holds an @) has no header: email, then name and frequency if present.
    Returns the positions and, for a header-less file, the first row as data."""
    cells = [cell.strip().lower() for cell in header]
    columns = {
        name: cells.index(alias)
        for name, aliases in HEADER_NAMES.items()
        for alias in aliases
        if alias in cells
    }
    if "email" in columns:
        return columns, None
    if header and "@" in header[0]:
        return dict(zip(HEADER_NAMES, range(len(header)), strict=False)), header
    found = ", ".join(repr(cell) for cell in header)
    raise ImportFileError(f"{path}:1: no email column in the header (found {found})")


def _staged(line: int, row: list[str], columns: dict[str, int], salt: str, smtputf8: bool) -> dict:
    def cell(name: str) -> str:
        return row[columns[name]].strip() if name in columns else ""

    staged = dict.fromkeys(("email", "email_key", "frequency", "email_hash", "problem", "action"))
    staged.update(line=line, name="")
    frequency = cell("frequency").lower()
    try:
        address = normalize(cell("email"), smtputf8=smtputf8)
        name = check_name(cell("name"))
    except AddressError as exc:
        return staged | {"action": "invalid", "problem": f"invalid address: {exc}"}
    except InvalidName as exc:
        return staged | {"action": "invalid", "problem": str(exc)}
    if frequency and frequency not in FREQUENCIES:
        problem = f"frequency must be each or digest, got '{shown(frequency)}'"
        return staged | {"action": "invalid", "problem": problem}
    return staged | {
        "email": address.email,
        "email_key": address.key,
        "name": name,
        "frequency": frequency or None,
        "email_hash": address.hashed(salt),
    }


def _classify(conn: Connection, status: str) -> None:
    """Give every valid, non-duplicate staged row its action, against the store as it is now."""
    if conn.dialect.name == "postgresql":  # no subscriber may appear between classify and apply
        conn.execute(text("LOCK TABLE subscribers IN SHARE ROW EXCLUSIVE MODE"))
    same = subscribers.c.email_key == staging.c.email_key
    current_status = select(subscribers.c.status).where(same).scalar_subquery()
    undecided = staging.c.action.is_(None)
    changes = [
        and_(staging.c.name != "", staging.c.name != subscribers.c.name),
        and_(staging.c.frequency.is_not(None), staging.c.frequency != subscribers.c.frequency),
    ]
    if status == "active":
        changes.append(subscribers.c.status == "pending")
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
    moment = literal(now, UTCDateTime)
    new = select(
        staging.c.email,
        staging.c.email_key,
        staging.c.name,
        literal(status),
        func.coalesce(staging.c.frequency, store.default_frequency),
        literal(source),
        moment,
        moment if status == "active" else literal(None, UTCDateTime),
        literal(0),
    ).where(staging.c.action == "add")
    target = ["email", "email_key", "name", "status", "frequency", "source", "created_at"]
    target += ["confirmed_at", "bounce_count"]
    conn.execute(insert(subscribers).from_select(target, new.order_by(staging.c.line)))

    staged = select(staging.c.name, staging.c.frequency).where(
        staging.c.email_key == subscribers.c.email_key,
        staging.c.action == "update",  # not a later duplicate of the same address
    )
    staged_name = staged.with_only_columns(staging.c.name).scalar_subquery()
    staged_frequency = staged.with_only_columns(staging.c.frequency).scalar_subquery()
    values = {
        "name": case((staged_name != "", staged_name), else_=subscribers.c.name),
        "frequency": func.coalesce(staged_frequency, subscribers.c.frequency),
    }
    if status == "active":
        pending = subscribers.c.status == "pending"
        values["status"] = case((pending, "active"), else_=subscribers.c.status)
        values["confirmed_at"] = case((pending, moment), else_=subscribers.c.confirmed_at)
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
        writer.writerow(_cell(getattr(subscriber, name), raw) for name in EXPORT_COLUMNS)
        count += 1
    return count


def _cell(value: object, raw: bool) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str):
        return value
    text = visible(value)
    return text if raw or not text.startswith(FORMULA_START) else "'" + text
