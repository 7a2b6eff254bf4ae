"""What every console route works with: the config, the store, the clock, the rate limits,
and the two ways to call the library from a request (`read`, and `change`, which writes
the change's audit row in the change's own transaction)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

import anyio
from starlette.requests import Request

from publisher.admin import accounts
from publisher.admin.imports import Imports
from publisher.admin.sending import Sender
from publisher.config import Config
from publisher.site import theme
from publisher.store import audit
from publisher.store.audit import Entry
from publisher.store.db import Store, joined
from publisher.web.guard import ClientLimit
from publisher.web.signups import Mailer

STORE_THREADS = 4  # as the subscriber app: more threads only fight over the database's lock
BAD_KEYS_PER_MINUTE = 20  # unknown API keys one client may try


class Limits:
    """The console's rate limits, in memory (`publisher web` is one process)."""

    def __init__(self, sign_in_per_hour: int, api_per_minute: int):
        self.sign_in = ClientLimit(sign_in_per_hour, window=3600)  # keys: ip:, address:
        self.api = ClientLimit(api_per_minute)  # keys: key:<staff id>, ip:
        self.bad_keys = ClientLimit(BAD_KEYS_PER_MINUTE)


class Console:
    """The console's shared state, one per `publisher web` process."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], datetime]):
        self.config = config
        self.store = store
        self.clock = clock
        self.limits = Limits(config.admin.sign_in_per_hour, config.admin.api_per_minute)
        self.threads = anyio.CapacityLimiter(STORE_THREADS)
        # Sign-in links are made and mailed by a thread of their own, after the answer.
        self.mailer = Mailer(self.mail_link, threads=1)
        self.sender = Sender(store, self.now_config)  # campaigns resumed from the console
        self.imports = Imports(
            store, config.data_dir / "uploads", clock, config.smtp.smtputf8, self.audited
        )
        self.closing: list[Callable[[], None]] = [self.mailer.close, self.sender.close]
        self.templates = theme.environment(config, "admin")  # the site may override them

    def now_config(self) -> Config:
        """The config at the clock's time now: library functions that read `config.now`
        (the queue, the post states) must not see the time the process started."""
        return replace(self.config, now=self.clock())

    async def thread(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking library call in a worker thread (the event loop never waits)."""
        return await anyio.to_thread.run_sync(
            partial(function, *args, **kwargs), limiter=self.threads
        )

    async def read(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """`function(store, *args, **kwargs)` in a worker thread: a store read."""
        return await self.thread(function, self.store, *args, **kwargs)

    async def change(
        self, request: Request, entry: Entry, function: Callable, *args: Any, **kwargs: Any
    ) -> Any:
        """Run the library function that makes a change, and record it in the audit log.

        The audit row is written inside the first write transaction the function opens
        (`db.joined`), so it commits or rolls back with the change; a change outside the
        store (a post file) gets its row once the function returns. A function that raises
        changed nothing and leaves no row. Only a request that may change things gets here:
        a GET or HEAD that did is a bug, refused before anything happens."""
        if request.method in ("GET", "HEAD", "OPTIONS"):
            raise RuntimeError(f"{request.method} {request.url.path} must not change anything")
        return await self.thread(self.audited, entry, function, *args, **kwargs)

    async def record(self, request: Request, entry: Entry) -> None:
        """Write an audit row on its own, for a change whose object is known only after it
        (a new subscriber's id), or that the library function did not make (it refused)."""
        if request.method in ("GET", "HEAD", "OPTIONS"):
            raise RuntimeError(f"{request.method} {request.url.path} must not change anything")

        def write() -> None:
            with self.store.transaction() as conn:
                audit.write(conn, entry, self.clock())

        await self.thread(write)

    def audited(self, entry: Entry, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """`function(*args, **kwargs)` with `entry` written in its first write transaction
        (or after it, when it wrote nothing to the store); for `change`, and for work
        that goes on after the answer (an import)."""
        now = self.clock()
        with joined(lambda conn: audit.write(conn, entry, now)) as done:
            result = function(*args, **kwargs)
        if not done():
            with self.store.transaction() as conn:
                audit.write(conn, entry, now)
        return result

    def mail_link(self, item: tuple[str, datetime]) -> None:
        """The mailer thread's work: a sign-in link for a staff address, nothing otherwise."""
        email, now = item
        accounts.request_link(self.config, self.store, email, now)

    def close(self) -> None:
        for step in self.closing:
            step()
