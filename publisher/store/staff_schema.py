"""The staff console's tables: staff, their sign-in links and sessions, and the audit log.

Defined on the store's one `schema.metadata`, so `migrations._initial_schema` creates them
for a new store and `migrations._staff_console` for an older one. Every secret (a sign-in
link, a session, an API key) is stored as its SHA-256 hash only: a copy of the database
signs nobody in.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text

from publisher.store.schema import Id, UTCDateTime, metadata

staff = Table(
    "staff",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),  # as typed, domain lower-cased
    Column("email_key", String(320), nullable=False, unique=True),  # fully lower-cased
    Column("name", String(200), nullable=False, default=""),
    Column("role", String(16), nullable=False),  # ROLES
    Column("created_at", UTCDateTime, nullable=False),
    # The one API key's hash; a new key replaces it, so the old one stops working.
    Column("key_hash", String(64), unique=True),
    Column("key_created_at", UTCDateTime),
    sqlite_autoincrement=True,  # a removed person's id never names someone else
)

# One-time sign-in links: a link works once (used_at) and until expires_at.
staff_links = Table(
    "staff_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("staff_id", Id, ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Index("staff_links_staff", "staff_id"),
)

# Signed-in browsers: the cookie holds the id, the store its hash. A session ends when idle
# for `[admin] session_idle`, at `expires_at`, at sign-out, or when its person is removed.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("staff_id", Id, ForeignKey("staff.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),  # sent back with every write
    Column("created_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("staff_sessions_staff", "staff_id"),
)

# Who changed what, append-only. The staff member's id and address are copied as they were,
# so the row still says who it was after they are removed.
audit = Table(
    "audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("staff_id", Id),  # no foreign key: removing a person keeps their rows
    Column("staff_email", String(320), nullable=False),  # "" for the command line
    Column("action", String(64), nullable=False),  # e.g. posts.write, staff.manage
    Column("object", String(500), nullable=False, default=""),  # post slug, campaign key...
    Column("client", String(100), nullable=False, default=""),  # IP, or "cli (user)"
    Column("user_agent", String(300), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index("audit_at", "at", "id"),
)

TABLES = (staff, staff_links, staff_sessions, audit)
