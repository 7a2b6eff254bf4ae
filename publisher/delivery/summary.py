"""What a campaign run reports: its progress while it runs and its summary at the end."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from publisher.delivery.transports import DEFERRED, SENT, UNKNOWN, Result
from publisher.errors import PublisherError
from publisher.store.ledger import Counts


@dataclass
class Tally:
    """What a run's worker threads have done, counted together."""

    sent: int = 0
    done: int = 0
    silent: int = 0  # messages in a row the relay did not answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: Result) -> int:
        """Count one outcome; how many messages in a row the relay has left unanswered (a
        lost connection, or no answer to the end of a message)."""
        unanswered = result.code is None and result.status in (DEFERRED, UNKNOWN)
        with self.lock:
            self.done += 1
            self.sent += result.status == SENT
            self.silent = self.silent + 1 if unanswered else 0
            return self.silent


@dataclass(frozen=True)
class CampaignProgress:
    """Where a running campaign stands, reported a few times a second."""

    key: str
    total: int
    done: int  # sent, failed or skipped, by any run
    sent: int  # sent by this run
    elapsed: float


@dataclass(frozen=True)
class Summary:
    """The outcome of one run of one campaign."""

    key: str
    status: str  # done|paused|held|stopped|waiting
    counts: Counts
    sent: int  # by this run
    elapsed: float
    note: str = ""
    next_attempt: datetime | None = None
    problem: PublisherError | None = None  # why it paused: the relay, the config, itself

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        """One line for people and logs."""
        c = self.counts
        tally = f"{c.sent:,} of {c.total:,} sent"
        extra = ", ".join(
            f"{n:,} {name}"
            for name, n in (
                ("failed", c.failed),
                ("deferred", c.deferred),
                ("skipped", c.skipped),
                ("bounced", c.bounced),
                ("unknown: no answer from the relay, not sent again", c.unknown),
            )
            if n
        )
        tally += f" ({extra})" if extra else ""
        speed = f"; {self.sent:,} this run at {self.rate:,.0f}/s" if self.sent else ""
        if self.status == "stopped":
            return f"{self.key}: stopped: {tally}; run again to resume"
        if self.status == "paused":
            return f"{self.key}: paused: {self.note}; {tally}; run again to resume"
        if self.status == "held":
            return f"{self.key}: {self.note}; {tally}"
        if self.status == "waiting":
            return f"{self.key}: {tally}{speed}; {self.note}"
        return f"{self.key}: done: {tally}{speed}"
