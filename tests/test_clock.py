"""The one clock of long runs: `config.now` advancing with the real clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from publisher.clock import Clock


def test_a_clock_started_now_reads_the_real_time():
    """Start-up takes a moment: that is no `--now`, so the real time is read exactly."""
    clock = Clock(datetime.now(UTC) - timedelta(seconds=1))
    before = datetime.now(UTC)
    assert before <= clock() <= datetime.now(UTC)


def test_a_shifted_clock_advances_from_its_start():
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock = Clock(start)
    first = clock()
    time.sleep(0.02)
    second = clock()
    assert start <= first < second < start + timedelta(seconds=1)
