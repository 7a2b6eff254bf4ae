"""Opening the store: the engine, transactions that survive concurrent writers, migrations.

One code path serves SQLite (the default, a file under the site root) and PostgreSQL
(`postgresql://` or `postgresql+psycopg://`, for several sending machines).

SQLite writers start with BEGIN IMMEDIATE: the write lock is taken before the first read,
so two writers queue on the busy timeout instead of one failing with "database is locked"
when it tries to upgrade a read lock. In WAL mode nothing else can block a writer that holds
that lock, so retrying the BEGIN alone is enough; it is retried a few times.
"""

from __future__ import annotations

import importlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, Engine, Insert, Table, event, func, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from publisher.config import Config
from publisher.docs import docs_page
from publisher.errors import StoreError
from publisher.store import schema
from publisher.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for the lock (URL ?timeout= overrides)
BEGIN_ATTEMPTS = 3

# Work waiting for the next write transaction opened in this context (`joined`).
_JOINED: ContextVar[list[Callable[[Connection], None]] | None] = ContextVar(
    "publisher_joined", default=None
)


@contextmanager
def joined(work: Callable[[Connection], None]) -> Iterator[Callable[[], bool]]:
    """Run `work(conn)` inside the next write transaction this context opens, just before
    it commits, so that it commits or rolls back with that change: how the console's audit
    row joins the change it records while the action runs the same library function the
    command line does. Yields a function that says whether `work` ran."""
    pending = [work]
    token = _JOINED.set(pending)
    try:
        yield lambda: not pending
    finally:
        _JOINED.reset(token)


def _run_joined(conn: Connection) -> None:
    pending = _JOINED.get()
    while pending:
        pending.pop()(conn)


@dataclass
class Store:
    """An open store. `transaction()` for writes, `read()` for reads."""

    engine: Engine
    name: str  # for messages: the SQLite file, or the URL without its password
    default_frequency: str = "each"
    begin_attempts: int = BEGIN_ATTEMPTS

    @classmethod
    def open(cls, config: Config, lock_wait: float | None = None) -> Store:
        return open_store(
            config.database.url,
            config.root,
            default_frequency=config.newsletter.frequency,
            lock_wait=lock_wait,
        )

    @classmethod
    @contextmanager
    def held(cls, config: Config, store: Store | None) -> Iterator[Store]:
        """`store` when the caller keeps one open (the web app, whose pages would otherwise
        pay a new engine, connection, schema check and statement cache per request), else
        a store opened and closed for this call."""
        if store is not None:
            yield store
            return
        with cls.open(config) as opened:
            yield opened

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A write transaction, committed at the end of the block, rolled back on error.

        `conn` lets a caller keep one connection across transactions (the importer's
        TEMP staging table lives in its connection).
        """
        with self._connection(conn) as connection:
            self._begin(connection, write=True)
            with self._translated(connection):
                yield connection
                _run_joined(connection)

    @contextmanager
    def driver_transaction(self, conn: Connection) -> Iterator[Any]:
        """A write transaction on `conn`'s own DB-API connection, yielding a cursor: for
        the statement run once a message (the `sent` mark). SQLAlchemy's begin, events
        and commit cost a mark 199 us of CPU on SQLite, this 52 us
        (`bench/send_process_bench.py`). `conn` must not be inside a transaction.
        """
        raw = conn.connection.driver_connection
        try:
            if self.is_sqlite:  # the sqlite3 module leaves transactions to us (on_connect)
                raw.execute("BEGIN IMMEDIATE")
            yield raw.cursor()
            raw.commit()
        except BaseException as exc:
            with suppress(Exception):
                raw.rollback()
            if isinstance(exc, self.engine.dialect.loaded_dbapi.Error):
                raise self.error(exc) from None
            raise

    @contextmanager
    def read(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A read transaction: on SQLite it takes no write lock and never waits for writers."""
        with self._connection(conn) as connection:
            self._begin(connection, write=False)
            with self._translated(connection):
                yield connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection kept across several `transaction(conn)`/`read(conn)` blocks."""
        try:
            connection = self.engine.connect()
        except (DBAPIError, sqlite3.Error) as exc:
            raise self.error(exc) from None
        with connection:
            yield connection

    def ping(self) -> None:
        """Read the schema version inside a write transaction, then let it go: a StoreError
        when the store could not take a write now (locked, unreachable, not a database)."""
        with self.transaction() as conn:
            conn.execute(select(schema.schema_version.c.version).limit(1))

    def scrub(self) -> None:
        """After an erasure: on SQLite, copy the WAL into the file and truncate it, so old
        page images holding the erased data do not stay on disk (best effort: a reader
        holding an old snapshot keeps them until it finishes)."""
        if not self.is_sqlite:
            return
        raw = self.engine.raw_connection()  # outside any transaction, as checkpoints need
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:  # the erasure itself is committed; say so, do not fail
            log.warning("%s: could not truncate the WAL after an erasure: %s", self.name, exc)
        finally:
            raw.close()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def error(self, exc: BaseException) -> StoreError:
        return store_error(exc, self.name)

    @contextmanager
    def _connection(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self.connect() as connection:
            yield connection

    def _begin(self, conn: Connection, write: bool) -> None:
        conn.execution_options(publisher_write=write)
        for attempt in range(1, self.begin_attempts + 1):
            try:
                conn.begin()
                return
            except (DBAPIError, sqlite3.Error) as exc:
                if conn.in_transaction():
                    conn.rollback()
                if attempt == self.begin_attempts or "locked" not in str(exc):
                    raise self.error(exc) from None
                time.sleep(0.05 * attempt)

    @contextmanager
    def _translated(self, conn: Connection) -> Iterator[None]:
        try:
            yield
        except (DBAPIError, sqlite3.Error) as exc:
            conn.rollback()
            raise self.error(exc) from None
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.commit()
        except (DBAPIError, sqlite3.Error) as exc:
            conn.rollback()
            raise self.error(exc) from None


def store_error(exc: BaseException, name: str) -> StoreError:
    """A one-line StoreError for a database exception, naming the likely cause."""
    raw = str(getattr(exc, "orig", None) or exc)
    message = raw.strip().splitlines()[0] if raw.strip() else type(exc).__name__
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreError(f"{name}: database is locked by another process; try again")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"{name}: database is read-only; check the file's permissions")
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return StoreError(f"{name}: database file is corrupt or not a SQLite database")
    if "unable to open" in lowered:
        return StoreError(f"{name}: cannot open the database file; check the folder")
    return StoreError(f"{name}: database error: {message}")


def database_url(url: str, root: Path) -> URL:
    """The URL to connect to: relative SQLite paths resolved against the site root,
    `postgresql://` given the psycopg (3) driver."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise StoreError(f"[database] url: cannot parse {url!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return parsed
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return parsed
    path = Path(database)
    return parsed.set(database=str(path if path.is_absolute() else root / path))


def open_store(
    url: str, root: Path, default_frequency: str = "each", lock_wait: float | None = None
) -> Store:
    """Connect, create the SQLite file and its folder on first use, migrate to the latest
    schema; a store written by a newer publisher is refused.

    `lock_wait` (seconds) bounds how long a statement waits for a lock or the server: the
    web app gives up quickly and answers 503, where a command would rather wait its turn.
    """
    parsed = database_url(url, root)
    if parsed.get_backend_name() == "sqlite":
        engine, name = _sqlite_engine(parsed, lock_wait)
    else:
        engine, name = _postgresql_engine(parsed, lock_wait)
    attempts = BEGIN_ATTEMPTS if lock_wait is None else 1
    store = Store(engine, name, default_frequency, attempts)
    try:
        migrate(store)
    except BaseException:
        store.close()
        raise
    return store


def _private_file(path: Path) -> None:
    """Create the database's folder (0700) and an empty file (0600) if they do not exist,
    before SQLite does with the umask's modes: the list is personal data. SQLite gives the
    WAL and shared-memory files the database file's mode."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the folder: {exc.strerror}") from None
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the database file: {exc.strerror}") from None


def _postgresql_engine(url: URL, lock_wait: float | None) -> tuple[Engine, str]:
    options = {} if lock_wait is None else {"connect_timeout": max(1, round(lock_wait))}
    try:
        engine = sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args=options)
    except (ImportError, sqlalchemy.exc.ArgumentError) as exc:
        raise StoreError(f"[database] url: {exc}") from None
    if lock_wait is not None:

        @event.listens_for(engine, "connect")
        def on_connect(dbapi_connection, _record) -> None:
            # Waits for a row lock end at lock_wait; a statement slow for another reason
            # gets twice that.
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {int(lock_wait * 1000)}")
                cursor.execute(f"SET statement_timeout = {int(lock_wait * 2000)}")
            dbapi_connection.commit()

    return engine, url.render_as_string(hide_password=True)


def _sqlite_engine(url: URL, lock_wait: float | None) -> tuple[Engine, str]:
    database = url.database or ""
    timeout = lock_wait if lock_wait is not None else float(url.query.get("timeout", BUSY_TIMEOUT))
    if database and database != ":memory:" and not database.startswith("file:"):
        _private_file(Path(database))
    engine = sqlalchemy.create_engine(url)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        # Transactions are ours (BEGIN in on_begin), not the sqlite3 module's.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Deleted rows are overwritten, so an erased address does not linger in free pages.
        cursor.execute("PRAGMA secure_delete = ON")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cursor.execute("PRAGMA journal_mode = WAL")
        # Durable against crashes of the process; WAL keeps the file consistent on power loss.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("publisher_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine, database or ":memory:"


def insert_or_skip(dialect: str, table: Table, *keys: str) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO NOTHING in the named dialect ("sqlite" or
    "postgresql"). The dialect module is imported here, not at the top: PostgreSQL's costs
    a SQLite process ~30 ms of start-up, a third of an idle tick's own work."""
    module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
    return module.insert(table).on_conflict_do_nothing(index_elements=list(keys))


# --- Migrations (the steps are in migrations.py) --------------------------------------


LATEST = len(MIGRATIONS)


def schema_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(select(func.max(schema.schema_version.c.version))).scalar() or 0


def migrate(store: Store) -> None:
    with store.read() as conn:
        version = schema_version(conn)
    _refuse_newer(store, version)
    if version == LATEST:
        return
    with (
        store.connect() as connection,
        _foreign_keys_off(connection),
        store.transaction(connection) as conn,
    ):
        if conn.dialect.name == "postgresql":  # one migrating machine at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(4242424201)"))
        schema.schema_version.create(conn, checkfirst=True)
        version = schema_version(conn)
        _refuse_newer(store, version)
        for number in range(version + 1, LATEST + 1):
            MIGRATIONS[number - 1](conn)
            conn.execute(
                schema.schema_version.insert().values(version=number, applied_at=datetime.now(UTC))
            )
        _check_foreign_keys(store, conn)


@contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite: foreign keys off for the migration, so a table can be rebuilt (SQLite's own
    recipe) without dropping it deleting the rows that refer to it. The pragma is a no-op
    inside a transaction, so it goes straight to the driver before BEGIN."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys = ON")


def _check_foreign_keys(store: Store, conn: Connection) -> None:
    if conn.dialect.name == "sqlite" and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
        raise StoreError(f"{store.name}: migration left rows pointing at nothing; not applied")


def _refuse_newer(store: Store, version: int) -> None:
    if version > LATEST:
        raise StoreError(
            f"{store.name}: the database has schema version {version}, newer than this "
            f"publisher knows ({LATEST}); upgrade publisher ({docs_page('run/upgrades.md')})"
        )
