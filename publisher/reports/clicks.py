"""What the reports read of the click counts (`publisher.store.clicks`): one campaign's
links, hours and totals in one read."""

from __future__ import annotations

from dataclasses import dataclass

from publisher.store import clicks
from publisher.store.clicks import ClickSummary, HourCount, LinkTotal
from publisher.store.db import Store


@dataclass(frozen=True)
class CampaignClicks:
    links: list[LinkTotal]  # every link of its email, clicked or not
    hours: list[HourCount]  # hours with clicks, oldest first
    totals: ClickSummary


def campaign_clicks(store: Store, campaign_id: int) -> CampaignClicks | None:
    """The campaign's clicks; None when its links were not counted (it has no link table:
    made with clicks off, or before publisher counted them)."""
    with store.read() as conn:
        links = clicks.link_totals(conn, campaign_id)
        if not links:
            return None
        hours = clicks.clicks_by_hour(conn, campaign_id)
        return CampaignClicks(links, hours, clicks.summary(conn, campaign_id))
