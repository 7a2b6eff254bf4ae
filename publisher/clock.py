"""The time a long run records: `config.now` advancing with the real clock.

`config.now` is read once, at start-up (or given by `--now`). A campaign, a scheduler loop,
a batch of confirmations or the web app runs for seconds to weeks after that, and each time
it records must move on from `config.now` as the real clock does, so `--now` shifts every
recorded time alike.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# A smaller offset is the time start-up took, not a `--now`: an unshifted run then reads
# the real time exactly.
SLACK = timedelta(seconds=5)


class Clock:
    """The real clock moved by as much as `start` (`config.now`) is from the real time now.

    It reads the wall clock, not a monotonic one, so a process that runs for weeks follows
    the system's time corrections; `t0` (monotonic) measures how long the run took.
    """

    def __init__(self, start: datetime):
        offset = start - datetime.now(UTC)
        self.offset = offset if abs(offset) >= SLACK else timedelta(0)
        self.t0 = time.monotonic()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset
