"""The schema's versions: each migration takes a store from the version before to its own.

`db.migrate` runs the ones a store lacks, in order, in one transaction, and records each in
`schema_version`. Append a function for each schema change; never edit one that has shipped. A new store runs them all: the first creates today's tables, so the later
ones find their work done and skip it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import Connection, MetaData, inspect, text

from publisher.store import click_schema, schema, staff_schema


def _initial_schema(conn: Connection) -> None:
    tables = [t for t in schema.metadata.sorted_tables if t is not schema.schema_version]
    schema.metadata.create_all(conn, tables=tables)
    conn.execute(schema.UNSENT_INDEX)
    conn.execute(schema.WELCOME_DUE_INDEX)
    conn.execute(schema.settings.insert().values(name="hash_salt", value=secrets.token_hex(32)))


def _unsent_index(conn: Connection) -> None:
    """The partial index of pending subscribers never sent a confirmation (schema.UNSENT).
    New stores have it already (`_initial_schema` creates the current tables); older ones
    get it here."""
    conn.execute(schema.UNSENT_INDEX)


def _link_keys(conn: Connection) -> None:
    """Subscriber ids are never reused, and each subscriber gets a `token_key` their links
    are signed with. Rows from before get "" (their links were signed without a key, and
    emails already sent must keep working); new rows get a random key from the database."""
    if "token_key" in {column["name"] for column in inspect(conn).get_columns("subscribers")}:
        return  # created by `_initial_schema` as it is now
    if conn.dialect.name != "sqlite":  # a PostgreSQL sequence never hands out an id again
        conn.execute(
            text("ALTER TABLE subscribers ADD COLUMN token_key VARCHAR(64) NOT NULL DEFAULT ''")
        )
        default = schema.RandomKey().compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE subscribers ALTER COLUMN token_key SET DEFAULT {default}"))
        return
    _rebuild_sqlite_subscribers(conn)


def _rebuild_sqlite_subscribers(conn: Connection) -> None:
    """SQLite takes AUTOINCREMENT only in CREATE TABLE: make the table as it is now, copy
    the rows, swap the names (`migrate` turned foreign keys off, so dropping the old table
    deletes no events or deliveries; it checks them all before committing).

    Until now a new row took the highest id plus one, so ids above today's highest may have
    belonged to erased subscribers. No more ids were handed out than rows were inserted:
    today's rows plus the erased ones, which is where the new ids start.
    """
    table = schema.subscribers
    had = {column["name"] for column in inspect(conn).get_columns("subscribers")}
    for index in table.indexes:
        conn.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
    table.to_metadata(MetaData(), name="subscribers_new").create(conn)
    copied = [c.name for c in table.columns if c.name in had and c.name != "token_key"]
    names = ", ".join(copied)  # columns added by later versions are added empty
    conn.execute(
        text(
            f"INSERT INTO subscribers_new ({names}, token_key) SELECT {names}, '' FROM subscribers"
        )
    )
    conn.execute(text("DROP TABLE subscribers"))
    conn.execute(text("ALTER TABLE subscribers_new RENAME TO subscribers"))
    conn.execute(schema.UNSENT_INDEX)  # not in `table.indexes`: dropped with the old table
    used = conn.execute(
        text(
            "SELECT max(coalesce((SELECT max(id) FROM subscribers), 0), "
            "(SELECT count(*) FROM subscribers) "
            "+ (SELECT count(*) FROM events WHERE kind = 'erased'))"
        )
    ).scalar_one()
    conn.execute(text("DELETE FROM sqlite_sequence WHERE name = 'subscribers'"))
    conn.execute(
        text("INSERT INTO sqlite_sequence (name, seq) VALUES ('subscribers', :used)"),
        {"used": used},
    )


def _email_decisions(conn: Connection) -> None:
    """Every published post keeps its email decision and the address it went live at.
    Rows from before: announced ones go in the digest as before, the others say why not."""
    have = {column["name"] for column in inspect(conn).get_columns("published")}
    for name, sql in schema.PUBLISHED_V4.items():
        if name not in have:
            conn.execute(text(f"ALTER TABLE published ADD COLUMN {name} {sql}"))
    if "reason" not in have:
        table = schema.published
        conn.execute(table.update().values(in_digest=table.c.announce))
        old = "recorded before publisher kept its reasons"
        conn.execute(table.update().where(table.c.announce.is_(False)).values(reason=old))


def _inbound(conn: Connection) -> None:
    """The table of messages `publisher inbound` read (bounces, complaints, replies)."""
    schema.inbound.create(conn, checkfirst=True)


def _welcome_due(conn: Connection) -> None:
    """Welcome emails owed: a column and its partial index (schema.WELCOME_DUE_INDEX)."""
    if "welcome_due_at" not in {c["name"] for c in inspect(conn).get_columns("subscribers")}:
        kind = schema.UTCDateTime().compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE subscribers ADD COLUMN welcome_due_at {kind}"))
    conn.execute(schema.WELCOME_DUE_INDEX)


def _drafts(conn: Connection) -> None:
    """The console editor's autosaved copies (schema.drafts)."""
    schema.drafts.create(conn, checkfirst=True)


def _staff_console(conn: Connection) -> None:
    """The staff console's tables: staff, sign-in links, sessions, the audit log."""
    for table in staff_schema.TABLES:
        table.create(conn, checkfirst=True)


def _inbound_namespaces(conn: Connection) -> None:
    """Mailed notices' keys move to their own namespace, `mail:<Message-ID>`, beside the
    webhooks' `<provider>:<event id>`: a mail with `Message-ID: postmark:777` had the key of
    Postmark's event 777. A row is a webhook's when its key has a provider's prefix and its
    detail the sender every webhook notice gives, `from <provider> webhook`; the rest,
    messages set aside (`failed:`) apart, were mailed."""
    webhook = " OR ".join(
        f"(message_id LIKE '{name}:%' AND detail LIKE 'from {name} webhook%')"
        for name in ("ses", "postmark", "mailgun", "sendgrid")
    )
    conn.execute(
        text(
            "UPDATE inbound SET message_id = 'mail:' || message_id "
            f"WHERE NOT ({webhook}) AND NOT (kind = 'failed' AND message_id LIKE 'failed:%')"
        )
    )


def _topics(conn: Connection) -> None:
    """Subscribers' chosen topics ("" for every topic, what everyone had) and the index a
    campaign's recipients are selected by (status, frequency, topics)."""
    if "topics" not in {c["name"] for c in inspect(conn).get_columns("subscribers")}:
        conn.execute(text("ALTER TABLE subscribers ADD COLUMN topics TEXT NOT NULL DEFAULT ''"))
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS subscribers_audience"
            " ON subscribers (status, frequency, topics)"
        )
    )


def _clicks(conn: Connection) -> None:
    """Clicks and opens counted per campaign, link and hour (store/clicks.py)."""
    for table in click_schema.TABLES:
        table.create(conn, checkfirst=True)


def _report_events(conn: Connection) -> None:
    """Events keep the campaign an unsubscribe link came from and the reason chosen on the
    unsubscribe page, with the indexes the reports read them by."""
    have = {c["name"] for c in inspect(conn).get_columns("events")}
    if "campaign_id" not in have:
        kind = schema.Id.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE events ADD COLUMN campaign_id {kind}"))
    if "reason" not in have:
        conn.execute(text("ALTER TABLE events ADD COLUMN reason VARCHAR(32) NOT NULL DEFAULT ''"))
    for index in schema.events.indexes:
        index.create(conn, checkfirst=True)


def _report_index(conn: Connection) -> None:
    """The audience report counts sources and reasons from an index that holds them
    (`events_reports`), which replaces the one by kind and time alone."""
    conn.execute(text("DROP INDEX IF EXISTS events_kind_at"))
    for index in schema.events.indexes:
        index.create(conn, checkfirst=True)


def _audience_indexes(conn: Connection) -> None:
    """The subscribers' days (joined, confirmed, left) indexed, for the audience report."""
    for name in ("subscribers_created", "subscribers_confirmed", "subscribers_left"):
        next(i for i in schema.subscribers.indexes if i.name == name).create(conn, checkfirst=True)


def _inbound_campaigns(conn: Connection) -> None:
    """Each message read back keeps the campaign of the delivery it names, and is indexed
    by it (`inbound_campaign`); rows from before get theirs from their delivery."""
    if "campaign_id" not in {c["name"] for c in inspect(conn).get_columns("inbound")}:
        kind = schema.Id.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE inbound ADD COLUMN campaign_id {kind}"))
        conn.execute(
            text(
                "UPDATE inbound SET campaign_id = (SELECT campaign_id FROM deliveries"
                " WHERE deliveries.id = inbound.delivery_id) WHERE delivery_id IS NOT NULL"
            )
        )
    for index in schema.inbound.indexes:
        index.create(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [
    _initial_schema,
    _unsent_index,
    _link_keys,
    _email_decisions,
    _inbound,
    _welcome_due,
    _drafts,
    _staff_console,
    _inbound_namespaces,
    _topics,
    _clicks,
    _report_events,
    _report_index,
    _audience_indexes,
    _inbound_campaigns,
]
