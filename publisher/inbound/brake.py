"""The safety brake: a campaign whose mail bounces or draws complaints too often is held.

Mailbox providers judge a sending domain by both: Gmail asks for complaints under 0.3%,
and more than a few percent of hard bounces means an old or bought list. Once
`[delivery] brake_after` messages of a campaign have gone, a share of hard bounces (a 5xx
at sending, or a bounce read later) above `max_bounce_rate`, or of complaints above
`max_complaint_rate`, holds it: `send --resume` and `tick` leave it alone until someone
looks at the list and runs `publisher send --resume --force`.
"""

from __future__ import annotations

from datetime import datetime

from publisher.config import Config
from publisher.docs import docs_page
from publisher.errors import PublisherError
from publisher.store import Store, health

HELD = "held"  # the campaign status the brake sets
CHECK_EVERY = 2.0  # seconds between checks during a run: one read of the campaign's figures


class Held(PublisherError):
    """The brake holds this campaign; mail is left unsent until someone looks (exit 1)."""

    exit_code = 1


def reason(config: Config, rates: health.Rates) -> str:
    """Why the brake holds a campaign with these figures, or ""."""
    delivery = config.delivery
    if rates.attempted < max(1, delivery.brake_after):
        return ""
    bounces, complaints = rates.hard / rates.attempted, rates.complaints / rates.attempted
    if bounces > delivery.max_bounce_rate:
        what = f"{bounces:.1%} of {rates.attempted:,} messages bounced"
        limit = f"[delivery] max_bounce_rate {delivery.max_bounce_rate:.1%}"
    elif complaints > delivery.max_complaint_rate:
        what = f"{complaints:.2%} of {rates.attempted:,} messages drew complaints"
        limit = f"[delivery] max_complaint_rate {delivery.max_complaint_rate:.1%}"
    else:
        return ""
    return (
        f"held by the brake: {what} (over {limit}); clean the list, then "
        f"`publisher send --resume --force` (see {docs_page('staff/held-campaigns.md')})"
    )


def check(store: Store, config: Config, campaign_id: int, now: datetime) -> str:
    """Hold the campaign if its figures call for it; the reason, or ""."""
    why = reason(config, health.rates(store, campaign_id))
    if why:
        health.hold(store, campaign_id, now, why)
    return why
