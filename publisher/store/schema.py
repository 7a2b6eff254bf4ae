"""The store's tables, as SQLAlchemy Core metadata shared by SQLite and PostgreSQL.

Times are stored as naive UTC and read back as aware UTC (`UTCDateTime`), so both
databases agree and no local time ever reaches the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from publisher.vocabulary import (  # noqa: F401 (the store's modules read them from here)
    BOUNCED,
    DEFERRED,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    SKIPPED,
    UNKNOWN,
)

metadata = MetaData()

# Integer primary keys autoincrement on SQLite (rowid) and PostgreSQL (identity) alike.
Id = BigInteger().with_variant(Integer, "sqlite")


class RandomKey(FunctionElement):
    """32 random hex digits, made by the database for each new row, however it is inserted
    (one by one, or by an import's INSERT ... SELECT)."""

    type = String()
    inherit_cache = True


@compiles(RandomKey, "sqlite")
def _random_key_sqlite(element, compiler, **kw) -> str:
    return "lower(hex(randomblob(16)))"


@compiles(RandomKey, "postgresql")
def _random_key_postgresql(element, compiler, **kw) -> str:
    return "replace(gen_random_uuid()::text, '-', '')"


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),  # display form, domain lower-cased
    Column("email_key", String(320), nullable=False, unique=True),  # fully lower-cased
    Column("name", String(200), nullable=False, default=""),
    Column("status", String(16), nullable=False),  # pending|active|unsubscribed|bounced|complained
    Column("frequency", String(8), nullable=False),  # FREQUENCIES
    Column("source", String(64), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("unsubscribed_at", UTCDateTime),
    Column("confirm_sent_at", UTCDateTime),  # limits confirmation emails per address
    Column("bounce_count", Integer, nullable=False, default=0),
    # Set when a confirmation owes the welcome email, emptied when one claims it (schema
    # version 6): a welcome that could not go out is owed again and a tick retries it.
    Column("welcome_due_at", UTCDateTime),
    # What the subscriber's links are signed with besides the site secret: it goes when the
    # row does (erasure). "" for rows from before schema version 3: their links were signed
    # without one, and keep working.
    Column("token_key", String(64), nullable=False, server_default=RandomKey()),
    # The topics the subscriber chose, sorted names joined by commas; "" for every topic
    # (migrations._topics; see publisher.topics). One column, not a table: a campaign's
    # recipients are one `topics IN (...)` over this index, never a join.
    Column("topics", Text, nullable=False, server_default=""),
    Index("subscribers_status", "status", "id"),  # keyset pages of one status in id order
    Index("subscribers_audience", "status", "frequency", "topics"),
    # The audience report reads the subscribers who joined, confirmed or left in its period.
    Index("subscribers_created", "created_at"),
    Index("subscribers_confirmed", "confirmed_at"),
    Index("subscribers_left", "unsubscribed_at"),
    # Ids are never reused (PostgreSQL's sequences never go back), so a link made for an
    # erased subscriber never names someone else.
    sqlite_autoincrement=True,
)

# Pending subscribers never sent a confirmation email: what every `publisher tick` looks
# for, so a partial index holds just them and the usual answer, none, is one probe. The
# status is a literal, not a bound parameter: SQLite uses a partial index only when the
# query's WHERE repeats the index's terms; and it picks this index over
# `subscribers_status` because its key matches more of the WHERE (both equalities).
# The index is plain DDL, the same in both databases, made by the migrations: an `Index`
# with `postgresql_where=` would import PostgreSQL's dialect into every SQLite process.
UNSENT = and_(
    subscribers.c.status == literal_column("'pending'"), subscribers.c.confirm_sent_at.is_(None)
)
UNSENT_INDEX = text(
    "CREATE INDEX IF NOT EXISTS subscribers_unsent ON subscribers"
    " (status, confirm_sent_at, id) WHERE status = 'pending' AND confirm_sent_at IS NULL"
)
# Welcome emails owed (`welcome_due_at`): none, the usual answer of every tick, is one probe.
WELCOME_DUE_INDEX = text(
    "CREATE INDEX IF NOT EXISTS subscribers_welcome_due ON subscribers"
    " (welcome_due_at, id) WHERE welcome_due_at IS NOT NULL"
)

# Append-only: rows are inserted, never updated; erasure nulls subscriber_id and detail.
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="SET NULL")),
    Column("kind", String(16), nullable=False),  # subscribed|confirmed|unsubscribed|...
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(64), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    # Reports' facts that outlive erasure, since they name no one (schema version 12): the
    # campaign whose link an unsubscribe came from, and the reason the person chose.
    Column("campaign_id", Id),
    Column("reason", String(32), nullable=False, server_default=""),
    # The audience report's ranges of one kind, counted by source or reason from the index
    # alone (a million sign-ups' sources in 2.8 s from the table, 0.3 s from the index).
    Index("events_reports", "kind", "at", "source", "reason"),
    Index("events_campaign", "campaign_id", "kind"),  # a campaign report's unsubscribes
)

# Addresses that must never be re-imported, kept after erasure as a salted hash only
# (HMAC-SHA256 of the lower-cased address keyed by the `hash_salt` setting).
suppressions = Table(
    "suppressions",
    metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("reason", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per newsletter; `key` (post:<slug>, digest:<period>) makes a second one impossible.
campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),  # post|digest
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),  # inlined, with per-recipient placeholders
    Column("text", Text, nullable=False),
    Column("headers", Text, nullable=False, default="{}"),  # JSON of campaign-wide headers
    Column("status", String(12), nullable=False),  # sending|paused|done
    Column("note", Text, nullable=False, default=""),  # why it paused
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("total", Integer, nullable=False, default=0),
)

# The ledger: one row per recipient, written at campaign creation (a snapshot).
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(10), nullable=False),  # QUEUED ... SKIPPED above
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_at", UTCDateTime),  # lease start while `sending`
    Column("claimed_by", String(64)),
    Column("sent_at", UTCDateTime),
    Column("smtp_code", Integer),
    Column("smtp_reply", Text),
    UniqueConstraint("campaign_id", "subscriber_id"),
    Index("deliveries_work", "campaign_id", "state", "id"),
)

# Each message `publisher inbound` read, once (by Message-ID): what it was and what it did.
inbound = Table(
    "inbound",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),  # inbound.classify's kinds
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="SET NULL")),
    Column("delivery_id", Id, ForeignKey("deliveries.id", ondelete="SET NULL")),
    Column("action", String(64), nullable=False),  # what it did: bounced, ignored, kept...
    Column("detail", Text, nullable=False, default=""),  # sender, subject, status, diagnostic
    Index("inbound_received", "received_at"),
    # The campaign of `delivery_id`, kept with the row (schema version 15): a campaign's
    # report counts its bounces and complaints by this index, not by joining its deliveries.
    Column("campaign_id", Id),
    Index("inbound_campaign", "campaign_id", "kind"),
)

# Which migrations have run (see db.MIGRATIONS); one row per applied version.
schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", UTCDateTime, nullable=False),
)

# Store-wide values written once, such as the salt of the erased-address hashes.
settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Posts the scheduler has seen go live, so each is announced at most once and the back
# catalogue found on the first run is never announced. Each row is the post's email
# decision: announced (`announce`), in a digest (`in_digest`, then the digest's key), or
# neither, and why (`reason`); and the address it went live at (`path`), kept for good.
published = Table(
    "published",
    metadata,
    Column("slug", String(200), primary_key=True),
    Column("live_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("announce", Boolean, nullable=False),
    Column("reason", Text, nullable=False, default=""),  # why it is not emailed
    Column("in_digest", Boolean, nullable=False, default=False),
    Column("digest_key", String(200)),  # the digest campaign that carried it
    Column("source", String(500)),  # posts/x.md, to know a renamed post
    Column("path", String(500)),  # /posts/<slug>/ when it first went live
)

# Columns added to `published` by schema version 4 (db.MIGRATIONS), with their SQL types.
PUBLISHED_V4 = {
    "reason": "TEXT NOT NULL DEFAULT ''",
    "in_digest": "BOOLEAN NOT NULL DEFAULT false",
    "digest_key": "VARCHAR(200)",
    "source": "VARCHAR(500)",
    "path": "VARCHAR(500)",
}

# The console editor's unsaved work: one copy per staff member and post ("" for a post not
# yet created), written as they type, offered back after a closed tab or a crash, and
# dropped once the post is saved. `fields` is the form as JSON; `etag` the file's version
# the copy started from, to tell when the file has changed since.
drafts = Table(
    "drafts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("staff_id", Id, nullable=False),
    Column("post", String(200), nullable=False),
    Column("fields", Text, nullable=False),
    Column("etag", String(100), nullable=False, default=""),
    Column("saved_at", UTCDateTime, nullable=False),
    UniqueConstraint("staff_id", "post"),
)
