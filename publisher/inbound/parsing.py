"""Reading a message that came back, within bounds: anyone can write to the inbound address.

The `email` package parses MIME by recursion, one level per nested part, and walks every
part it finds: a 64 KB message nested 1,000 levels deep raises RecursionError, and 100,000
parts cost half a minute. So the parser here counts as it goes and stops at `MAX_DEPTH`
levels or `MAX_PARTS` parts, and the whole reading of one message (parsing and
classifying) stops after `SECONDS`. A message past a bound is `Unreadable`: it is moved
aside, and the rest of the mailbox is read.
"""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage
from typing import TypeVar

from publisher.errors import PublisherError
from publisher.limits import time_limit

MAX_DEPTH = 32  # bounces nest 3 to 6 levels (report, returned message, its alternatives)
MAX_PARTS = 1000  # a bounce has a handful; a digest returned whole, a few hundred
SECONDS = 10.0  # to parse and classify one message; a real bounce takes milliseconds
CHUNK = 64 * 1024  # bytes fed to the parser at a time

T = TypeVar("T")


class Unreadable(PublisherError):
    """One message cannot be read within the bounds: it is set aside, the others are read."""

    exit_code = 1


class _BoundedParser(BytesFeedParser):
    """The standard parser, counting the parts it opens and how deep they nest.

    `_new_message` is where `FeedParser` opens every part, before it recurses into it (and
    `_msgstack` the parts open above it); refusing there bounds the recursion itself."""

    def __init__(self) -> None:
        super().__init__(policy=policy.default)
        self.parts = 0

    def _new_message(self) -> None:
        self.parts += 1
        if len(self._msgstack) >= MAX_DEPTH:
            raise Unreadable(f"MIME parts nested over {MAX_DEPTH} levels deep")
        if self.parts > MAX_PARTS:
            raise Unreadable(f"over {MAX_PARTS:,} MIME parts")
        super()._new_message()


def parse(raw: bytes) -> EmailMessage:
    """The message in `raw`, or `Unreadable` when it nests too deep or has too many parts."""
    parser = _BoundedParser()
    for start in range(0, len(raw), CHUNK):
        parser.feed(raw[start : start + CHUNK])
    return parser.close()


def within_bounds(read: Callable[[], T], seconds: float = SECONDS) -> T:
    """`read()` (the parsing and classifying of one message), or `Unreadable` when it takes
    over `seconds` or recurses past Python's limit."""
    try:
        with time_limit(seconds):
            return read()
    except TimeoutError:
        raise Unreadable(f"took over {seconds:g} s to read") from None
    except RecursionError:
        raise Unreadable("nested too deep to read") from None
