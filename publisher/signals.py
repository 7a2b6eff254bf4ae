"""Stopping a long run cleanly: the first SIGTERM or Ctrl-C asks it to finish what is in
flight (`send`, `run`); a second one kills at once."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, notice: Callable[[str], None]) -> Iterator[None]:
    """SIGTERM and SIGINT set `stop` (the run finishes what is in flight); a second one kills."""

    def handler(signum, _frame):
        if stop.is_set():
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        stop.set()
        notice(f"{signal.Signals(signum).name}: finishing the messages in flight")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
