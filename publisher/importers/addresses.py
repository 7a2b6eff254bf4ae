"""Old addresses: the URL patterns of Jekyll and Hugo (`/:year/:month/:title/`) filled in
for one post, with its date in the old site's time zone (the one its tool made the
address in), or ours when the old site named none."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher.config import Config
from publisher.importers.model import When

_PLACEHOLDER = re.compile(r":([a-z_]+)")


def zone(name: object, config: Config) -> tzinfo:
    """The old site's time zone by its IANA name, else ours."""
    try:
        return ZoneInfo(str(name)) if name else config.tz
    except (ZoneInfoNotFoundError, ValueError):
        return config.tz


def local(moment: When, where: tzinfo) -> When:
    """An aware time in `where`; a naive time or a date as written."""
    return moment.astimezone(where) if isinstance(moment, datetime) and moment.tzinfo else moment


def date_values(moment: When, where: tzinfo) -> dict[str, str]:
    """The date parts of a pattern, for a post's date (an aware time is taken in `where`)."""
    moment = local(moment, where)
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
