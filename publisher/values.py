"""Values as people write them in the config file, the environment and `--now`: durations
('36h'), times of day, whole numbers, flags; each turned into its type or refused with
what was expected."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from publisher.errors import ConfigError


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '36h', '2d', '1w' (or a bare number of seconds) as a timedelta."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    unit = text[-1:] if text[-1:] in units else "s"
    number = text[:-1] if text[-1:] in units else text
    try:
        return timedelta(seconds=float(number) * units[unit])
    except ValueError:
        raise ValueError("expected a duration such as '2d', '36h' or '15m'") from None


def format_duration(span: timedelta) -> str:
    """The text `parse_duration` reads back: '2d', '36h', '15m', '90s'."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_now(text: str | None, tz: ZoneInfo | None = None) -> datetime:
    """`--now` / PUBLISHER_NOW as an aware UTC datetime; a time without an offset is in
    `tz`, the site's time zone, as dates in posts are."""
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--now: expected an ISO 8601 time such as 2026-03-02T09:00:00+00:00, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz or UTC)
    return moment.astimezone(UTC)


def convert(value: Any, kind: type, from_env: bool) -> Any:
    """Turn a TOML or environment value into the declared type, or raise ValueError."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_env and str(value).lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return str(value).lower() in ("1", "true", "yes", "on")
        raise ValueError("expected true or false")
    if kind is int:
        if isinstance(value, bool) or not (isinstance(value, int) or from_env):
            raise ValueError("expected a whole number")
        try:
            return int(value)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if kind is float:
        if isinstance(value, bool) or not (isinstance(value, int | float) or from_env):
            raise ValueError("expected a number")
        try:
            return float(value)
        except ValueError:
            raise ValueError("expected a number") from None
    if kind is timedelta:
        return parse_duration(str(value))
    if kind is time:
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            raise ValueError("expected a time of day such as 09:00") from None
    if not isinstance(value, str):
        raise ValueError("expected a string in quotes")
    return Path(value) if kind is Path else value


def zone_name(text: str) -> str:
    """An IANA time zone as written, or in any case ('europe/paris' is 'Europe/Paris');
    ValueError naming the closest zones when there is no such zone."""
    import difflib
    from zoneinfo import available_timezones

    text = text.strip()
    zones = available_timezones()
    if text in zones:
        return text
    by_case = {zone.casefold(): zone for zone in zones}
    if text.casefold() in by_case:
        return by_case[text.casefold()]
    close = difflib.get_close_matches(text.casefold(), list(by_case), n=1, cutoff=0.6)
    hint = f"did you mean {by_case[close[0]]!r}?" if close else "write an IANA name such as"
    hint = hint if close else f"{hint} 'Europe/Paris'"
    raise ValueError(f"unknown time zone {text!r}; {hint}")
