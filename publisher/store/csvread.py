"""Reading a subscriber CSV: the file's rows, decoded line by line, each validated into a
row for the import's staging table or refused with its reason.

Only the cells that matter for consent and mail are read: the address and name (under the
policy in `addresses`), frequency, topics, and, as `subscribers export` writes them, the
status and when and how the person subscribed, confirmed and left. A file of another tool
needs only an email column. A cell that cannot be used refuses its row, never the file;
a file that cannot be read as CSV at all (encoding, a truncated line, no email column)
raises `ImportFileError` before anything is written.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from publisher.errors import PublisherError
from publisher.subscribers.addresses import AddressError, InvalidName, check_name, normalize, shown
from publisher.topics import Topic, parse_choice
from publisher.vocabulary import FREQUENCIES, STATUSES

HEADER_NAMES = {  # the order of a file without a header
    "email": ("email", "e-mail", "email address", "e-mail address", "mail"),
    "name": ("name", "full name"),
    "frequency": ("frequency",),
    "topics": ("topics", "topic"),
    "status": ("status",),
    "source": ("source",),
    "created_at": ("created_at", "subscribed at"),
    "confirmed_at": ("confirmed_at", "confirmed at"),
    "unsubscribed_at": ("unsubscribed_at", "unsubscribed at"),
}
TIMES = ("created_at", "confirmed_at", "unsubscribed_at")
SOURCE_CHARS = 64


class ImportFileError(PublisherError):
    """The CSV file cannot be imported at all (encoding, structure, header)."""


def staged_rows(path: Path, staged: Callable[..., dict]) -> Iterator[dict]:
    """One dict per data row of the file (made by `staged(line, row, columns)`), valid or
    not; fatal problems raise."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from None
    with handle:
        lines = _decoded(handle, path)
        first = next(lines, "")
        reader = csv.reader(chain([first], lines), delimiter=_delimiter(first), strict=True)
        rows = _rows(reader, path)
        first_line, header = next(rows, (0, None))
        if header is None:
            raise ImportFileError(f"{path}: empty file")
        columns, first_row = _columns(header, path)
        if first_row is not None:
            yield staged(first_line, first_row, columns)
        for line, row in rows:
            if len(row) != len(header):
                raise ImportFileError(
                    f"{path}:{line}: {len(row)} fields, expected {len(header)} "
                    "(truncated or malformed line); nothing was imported"
                )
            yield staged(line, row, columns)


def _delimiter(first: str) -> str:
    """The file's separator, from its first line: a comma, or the semicolon a spreadsheet
    in a language with decimal commas writes, or a tab; whichever the line holds most."""
    return max((",", ";", "\t"), key=first.count)


def _decoded(handle: BinaryIO, path: Path) -> Iterator[str]:
    """The file's lines as text, decoded one by one so a bad byte names its line."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{path}:{number}: not UTF-8 text; save the file as UTF-8 CSV; nothing was imported"
            ) from None


def _rows(reader, path: Path) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line they start on; CSV errors name the line."""
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(
                f"{path}:{reader.line_num}: {exc} (truncated or malformed line); "
                "nothing was imported"
            ) from None
        if any(cell.strip() for cell in row):
            yield line, row
        line = reader.line_num + 1


def _columns(header: list[str], path: Path) -> tuple[dict[str, int], list[str] | None]:
    """Column positions from the header, in any order and case; a file of bare addresses
    (first cell holds an @) has no header: email, then name and frequency if present.
    Returns the positions and, for a header-less file, the first row as data."""
    cells = [cell.strip().lower() for cell in header]
    columns = {
        name: cells.index(alias)
        for name, aliases in HEADER_NAMES.items()
        for alias in aliases
        if alias in cells
    }
    if "email" in columns:
        return columns, None
    if header and "@" in header[0]:
        return dict(zip(HEADER_NAMES, range(len(header)), strict=False)), header
    found = ", ".join(repr(cell) for cell in header)
    raise ImportFileError(f"{path}:1: no email column in the header (found {found})")


def staged(
    line: int,
    row: list[str],
    columns: dict[str, int],
    salt: str,
    smtputf8: bool,
    topics: Sequence[Topic],
) -> dict:
    """The staging row of one line: its cleaned values, or only its line, action
    `invalid` and the problem (no refused value reaches the database)."""

    def cell(name: str) -> str:
        return row[columns[name]].strip() if name in columns else ""

    empty = dict.fromkeys(("email", "email_key", "email_hash", "problem", "action"))
    empty.update(dict.fromkeys(("frequency", "topics", "status", "source", *TIMES)))
    empty.update(line=line, name="")
    try:
        address = normalize(cell("email"), smtputf8=smtputf8)
        values = {
            "name": check_name(cell("name")),
            "frequency": _choice(_frequency(cell("frequency")), FREQUENCIES, "frequency"),
            "status": _choice(cell("status").lower(), STATUSES, "status"),
            "topics": _topics(cell("topics"), topics),
            "source": _source(cell("source")),
            **{name: _time(cell(name), name) for name in TIMES},
        }
    except AddressError as exc:
        return empty | {"action": "invalid", "problem": f"invalid address: {exc}"}
    except (InvalidName, ValueError) as exc:
        return empty | {"action": "invalid", "problem": str(exc)}
    return (
        empty
        | values
        | {
            "email": address.email,
            "email_key": address.key,
            "email_hash": address.hashed(salt),
        }
    )


FREQUENCY_WORDS = {  # as the sign-up form and other tools word them
    "weekly": "digest",
    "daily": "digest",
    "monthly": "digest",
    "every post": "each",
    "each post": "each",
}


def _frequency(value: str) -> str:
    """A frequency cell as stored: each or digest, also as people write them ('weekly',
    'Weekly digest', 'every post')."""
    value = " ".join(value.lower().split())
    if value.endswith(" digest"):
        return "digest"
    return FREQUENCY_WORDS.get(value, value)


def _choice(value: str, choices: tuple[str, ...], name: str) -> str | None:
    if value and value not in choices:
        raise ValueError(f"{name} must be {', '.join(choices)}, got '{shown(value)}'")
    return value or None


def _topics(value: str, topics: Sequence[Topic]) -> str | None:
    """A topics cell ('nutrition, sleep' or 'nutrition;sleep') as a stored choice; empty:
    None, the choice a subscriber already has stays."""
    if not value:
        return None
    try:
        return parse_choice(value, topics)
    except ValueError as exc:
        raise ValueError(f"topics: {exc}") from None


def _source(value: str) -> str | None:
    """How the person subscribed, as another list recorded it: one printable line."""
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return text[:SOURCE_CHARS] or None


def _time(value: str, name: str) -> datetime | None:
    """An ISO 8601 time as naive UTC, as the store keeps times; without an offset it is
    UTC (what `subscribers export` writes)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{name}: expected a time such as 2026-03-01T09:00:00+00:00, got '{shown(value)}'"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
