"""Why people leave: the one optional question of the unsubscribe page, and which
campaign's link they left by. Both are kept with the unsubscribe event for the reports;
neither names anyone, so both outlive an erasure."""

from __future__ import annotations

import re

from publisher.subscribers.tokens import MAX_ID, NUMBER

# The answers the unsubscribe page offers (value: label). Never required: no answer is "".
REASONS = {
    "too-many": "Too many emails",
    "not-relevant": "Not what I expected",
    "never-signed-up": "I never signed up",
    "other": "Another reason",
}
NO_REASON = "No reason given"


def reason(value: object) -> str:
    """A chosen reason as stored: one of REASONS, or "" (none, or one not offered)."""
    return value if isinstance(value, str) and value in REASONS else ""


def label(stored: str) -> str:
    """What a report calls a stored reason."""
    return REASONS.get(stored, NO_REASON)


def campaign(value: str | None) -> int | None:
    """The campaign an unsubscribe link names (`&campaign=<id>`), or None: the number is
    not signed, so anything but a plain number a database can hold is ignored."""
    found = re.fullmatch(NUMBER, value or "")
    return int(found[0]) if found and int(found[0]) <= MAX_ID else None
