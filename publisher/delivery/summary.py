"""What a campaign run reports: its progress while it runs and its summary at the end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from publisher.errors import PublisherError
from publisher.store.ledger import Counts


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
