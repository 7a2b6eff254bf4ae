"""Group commit of the `sent` marks of a campaign run's worker threads.

A worker whose message the relay accepted calls `SentMarks.record` and does not start its
next SMTP transaction until the call returns, which is once the mark is committed. So at
most one accepted-but-unrecorded message per connection exists at any time: the crash
bound is the same as with one transaction per message. But the marks are not committed one
by one: the first worker to arrive commits, in its own connection, the marks of every
worker waiting at that moment; those who arrive during that commit are gathered into the
next one. Under load one transaction (and on PostgreSQL one WAL flush) covers several
connections' marks, and a worker never waits behind a queue of its peers' transactions.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime

from publisher.store import ledger


class _Batch:
    """The marks of one commit, and how it went."""

    def __init__(self) -> None:
        self.marks: list[dict] = []
        self.done = False
        self.error: BaseException | None = None


class SentMarks:
    """Records `sent` marks durably, several workers' in one transaction."""

    def __init__(self, store, write_lock=None):
        self.store = store
        self.write_lock = write_lock or contextlib.nullcontext()
        self.changed = threading.Condition()
        self.batch = _Batch()  # the marks waiting for the next commit
        self.committing = False
        self.commits = 0  # transactions made, for tests and curiosity

    def record(self, conn, delivery_id: int, code: int | None, reply: str, now: datetime) -> None:
        """Return once this mark is committed; raise what its commit raised.

        `conn` is the caller's own connection, used if the caller commits the batch.
        """
        with self.changed:
            batch = self.batch
            batch.marks.append(ledger.sent_mark(delivery_id, code, reply, now))
            while self.committing and not batch.done:
                self.changed.wait()
            if not batch.done:  # nobody is committing: this thread commits the batch
                self.committing = True
                self.batch = _Batch()
        if not batch.done:
            self._commit(conn, batch)
        if batch.error is not None:
            raise batch.error

    def _commit(self, conn, batch: _Batch) -> None:
        try:
            with self.write_lock:
                ledger.mark_sent_many(self.store, batch.marks, conn)
        except BaseException as exc:  # every worker of the batch raises it
            batch.error = exc
        with self.changed:
            self.commits += 1
            batch.done = True
            self.committing = False
            self.changed.notify_all()
