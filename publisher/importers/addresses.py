"""Old addresses: the URL patterns of Jekyll and Hugo (`/:year/:month/:title/`) filled in
for one post, in the site's time zone."""

from __future__ import annotations

import re
from datetime import datetime

from publisher.config import Config
from publisher.importers.model import When

_PLACEHOLDER = re.compile(r":([a-z_]+)")


def date_values(moment: When, config: Config) -> dict[str, str]:
    """The date parts of a pattern, for a post's date (an aware time in the site's zone)."""
    if isinstance(moment, datetime) and moment.tzinfo:
        moment = config.local(moment)
    values = {
        "year": f"{moment:%Y}",
        "short_year": f"{moment:%y}",
        "month": f"{moment:%m}",
        "i_month": str(moment.month),
        "monthname": f"{moment:%B}".lower(),
        "day": f"{moment:%d}",
        "i_day": str(moment.day),
        "y_day": f"{moment:%j}",
        "yearday": str(int(f"{moment:%j}")),
        "weekday": str(moment.isoweekday() % 7),
        "weekdayname": f"{moment:%A}".lower(),
    }
    if isinstance(moment, datetime):
        values |= {"hour": f"{moment:%H}", "minute": f"{moment:%M}", "second": f"{moment:%S}"}
    return values


def expand(pattern: str, values: dict[str, str]) -> str | None:
    """`pattern` with each `:name` replaced, empty parts dropped, a trailing / kept; None
    when it names a placeholder not in `values` (the address cannot be known)."""
    if any(name not in values for name in _PLACEHOLDER.findall(pattern)):
        return None
    address = _PLACEHOLDER.sub(lambda match: values[match.group(1)], pattern)
    parts = [part for part in address.split("/") if part]
    return "/" + "/".join(parts) + ("/" if address.endswith("/") and parts else "")
