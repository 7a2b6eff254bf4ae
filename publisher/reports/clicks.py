"""What the reports read of the click counts (`publisher.store.clicks`): the boundary
between the reports and the click store, in the reports' own types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from publisher.store.db import Store


@dataclass(frozen=True)
class LinkClicks:
    """One link of a campaign's email and the clicks on it."""

    number: int  # from 1, in the email's order
    url: str
    text: str  # the link's text ("" for a picture)
    clicks: int  # by people; scanners apart
    unique: int  # distinct people who clicked it (estimated)
    scanner_clicks: int


@dataclass(frozen=True)
class HourClicks:
    hour: datetime  # the hour's start, UTC
    clicks: int
    scanner_clicks: int


@dataclass(frozen=True)
class CampaignClicks:
    links: list[LinkClicks]
    hours: list[HourClicks]
    clicks: int
    unique: int  # distinct people who clicked any link (estimated)
    scanner_clicks: int


def campaign_clicks(store: Store, campaign_id: int) -> CampaignClicks | None:
    """The campaign's clicks, or None where this store counts none."""
    return None


def period_clicks(store: Store, since: datetime, until: datetime) -> dict[int, CampaignClicks]:
    """Clicks in the period of each campaign that had any, by campaign id."""
    return {}


def clicks_counted(store: Store) -> bool:
    """Whether this store counts clicks at all."""
    return False
