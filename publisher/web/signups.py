"""Sign-ups written by group commit (`SignUps`) and their confirmation emails sent by a few
threads of their own (`Mailer`), so neither SQLite nor SMTP blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime

from publisher.store import signups, subscribers
from publisher.store.db import Store

log = logging.getLogger(__name__)

MAILER_THREADS = 4
GROUP_COMMIT = 200  # most sign-ups written in one transaction


class Mailer:
    """A few threads that send confirmation emails, taken in order of sign-up.

    Building a MIME message costs CPU; doing that outside the request pool keeps a burst
    of sign-ups from starving the event loop. Several threads, because most of a send is
    waiting (the database's write lock for the claim, the outbox's disk or the relay) and
    one thread waiting holds up the queue: a burst of 600 sign-ups a second outran one.
    `close` sends what is queued, then stops (at shutdown).
    """

    def __init__(self, send: Callable[[object], None], threads: int = MAILER_THREADS):
        self.send = send
        self.queue: queue.Queue = queue.Queue()
        self.threads = [
            threading.Thread(target=self.run, name=f"confirmations-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, item: object) -> None:
        self.queue.put(item)

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            try:
                self.send(item)
            except Exception:  # one failed email must not stop the others
                log.exception("confirmation email failed")

    def close(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()


class SignUps:
    """Group commit for `/subscribe`: one thread writes every sign-up waiting for it in one
    transaction (`signups.subscribe_many`), claiming each one's confirmation there too,
    then hands the claimed ones to the mailer and answers the requests. A request is
    answered only after its row is committed; under load one commit serves dozens of
    requests instead of two transactions each (the row, then the claim)."""

    def __init__(self, store: Store, clock: Callable[[], datetime], mailer: Mailer):
        self.store = store
        self.clock = clock
        self.mailer = mailer
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self.run, name="sign-ups", daemon=True)
        self.thread.start()

    async def subscribe(self, signup: signups.SignUp) -> subscribers.Subscriber:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put((signup, loop, future))
        return await future

    def run(self) -> None:
        closing = False
        while not closing:
            item = self.queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < GROUP_COMMIT:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            self.write(batch)

    def write(self, batch: list) -> None:
        now = self.clock()
        try:
            results = signups.subscribe_many(self.store, [b[0] for b in batch], now=now)
        except Exception as exc:  # the transaction itself failed: every request hears it
            results = [exc] * len(batch)
        for (_signup, loop, future), result in zip(batch, results, strict=True):
            if not isinstance(result, Exception) and result[1]:
                self.mailer.submit((result[0], now))
            loop.call_soon_threadsafe(settle, future, result)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()


def settle(future: asyncio.Future, result: tuple | Exception) -> None:
    if future.done():  # the request went away; the row is written all the same
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result[0])
