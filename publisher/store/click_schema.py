"""The tables of clicks and opens (see `clicks.py` for what each holds and why).

Defined on the store's one `schema.metadata`, so `migrations._initial_schema` creates them
for a new store and `migrations._clicks` for an older one. Every table but `person_clicks`
holds counts only: no column names a subscriber, a reader tag, an address or a client.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from publisher.store.schema import Id, UTCDateTime, metadata


def _campaign() -> Column:
    return Column(
        "campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )


campaign_links = Table(
    "campaign_links",
    metadata,
    _campaign(),
    Column("number", Integer, primary_key=True),  # from 1, in the email's order
    Column("url", Text, nullable=False),
    Column("text", Text, nullable=False, default=""),
)

click_hours = Table(
    "click_hours",
    metadata,
    _campaign(),
    Column("link", Integer, primary_key=True),
    Column("hour", UTCDateTime, primary_key=True),  # the hour's start
    Column("clicks", Integer, nullable=False, default=0),
    Column("scanner_clicks", Integer, nullable=False, default=0),
    Index("click_hours_hour", "hour", "campaign_id"),
)

click_sketches = Table(
    "click_sketches",
    metadata,
    _campaign(),
    Column("link", Integer, primary_key=True),  # 0: the whole campaign
    Column("registers", LargeBinary, nullable=False),  # hyperloglog.Sketch
)

click_salts = Table(
    "click_salts",
    metadata,
    _campaign(),
    Column("salt", String(64), nullable=False),
)

open_hours = Table(
    "open_hours",
    metadata,
    _campaign(),
    Column("hour", UTCDateTime, primary_key=True),
    Column("opens", Integer, nullable=False, default=0),
)

# Only with `[tracking] clicks = "individual"`; erased with the subscriber (CASCADE).
person_clicks = Table(
    "person_clicks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("link", Integer, nullable=False),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("person_clicks_campaign", "campaign_id", "link"),
    Index("person_clicks_subscriber", "subscriber_id"),
)

TABLES = (campaign_links, click_hours, click_sketches, click_salts, open_hours, person_clicks)
