"""Sending rate limits shared by every connection of a run.

`TokenBucket` spaces messages evenly (`rate_per_second`; the bucket holds one token, so
there is never a burst); `HourlyLimit` keeps the count of the last hour under
`max_per_hour`, reading what was sent from the ledger so the cap holds across runs and
processes. Both wait on a `threading.Event` so a stop request interrupts them at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


class TokenBucket:
    """At most `rate` messages per second across all threads; 0 means no limit."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.lock = threading.Lock()
        self.next_slot = 0.0

    def wait(self, stop: threading.Event) -> bool:
        """Block until this caller may send; False if `stop` was set while waiting."""
        if not self.interval:
            return not stop.is_set()
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        delay = slot - now
        return not stop.wait(delay) if delay > 0 else not stop.is_set()


class HourlyLimit:
    """At most `limit` messages in any hour, counted in the ledger; 0 means no limit.

    `sent_since(t)` returns how many messages the ledger recorded as sent since `t`, and
    `oldest_since(t)` the earliest such time (when the window next frees a slot). The
    count is refreshed at most every `refresh` seconds; between refreshes this process
    counts its own messages, so concurrent processes can overshoot only by what they send
    within one refresh.
    """

    def __init__(
        self,
        limit: int,
        sent_since: Callable[[datetime], int],
        oldest_since: Callable[[datetime], datetime | None],
        now: Callable[[], datetime],
        refresh: float = 1.0,
    ):
        self.limit = limit
        self.sent_since = sent_since
        self.oldest_since = oldest_since
        self.now = now
        self.refresh = refresh
        self.lock = threading.Lock()
        self.remaining = 0
        self.checked = float("-inf")

    def take(self) -> datetime | None:
        """Reserve one message; None when reserved, else the time a slot frees up."""
        if self.limit <= 0:
            return None
        with self.lock:
            if self.remaining <= 0 or time.monotonic() - self.checked > self.refresh:
                since = self.now() - HOUR
                self.remaining = self.limit - self.sent_since(since)
                self.checked = time.monotonic()
                if self.remaining <= 0:
                    oldest = self.oldest_since(since)
                    return (oldest or self.now()) + HOUR
            self.remaining -= 1
            return None

    def release(self) -> None:
        """Give back a reservation that was not used (the message was not sent)."""
        if self.limit > 0:
            with self.lock:
                self.remaining += 1
