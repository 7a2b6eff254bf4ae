"""Campaigns resumed and posts published from the console, by the web process itself.

Each runs in a thread of its own through `delivery.campaigns.run_campaign`, the function
`publisher send --resume` runs, so a `tick` or `run` working on the same campaign at the
same time shares its messages (each is claimed once). At shutdown the runs finish the
messages in flight and stop; the next tick goes on where they stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from publisher.config import Config
from publisher.delivery.campaigns import run_campaign
from publisher.errors import PublisherError
from publisher.store import ledger
from publisher.store.db import Store

log = logging.getLogger(__name__)


class Sender:
    def __init__(self, store: Store, config_now: Callable[[], Config]):
        self.store = store
        self.config_now = config_now  # the config at this moment (runs last for hours)
        self.stop = threading.Event()
        self.running: dict[str, threading.Thread] = {}
        self.lock = threading.Lock()

    def start(self, key: str, force: bool) -> bool:
        """Send the rest of campaign `key` in the background; False if it runs already."""
        with self.lock:
            if key in self.running and self.running[key].is_alive():
                return False
            thread = threading.Thread(
                target=self.send, args=(key, force), name=f"console-send-{key}", daemon=True
            )
            self.running[key] = thread
            thread.start()
        return True

    def send(self, key: str, force: bool) -> None:
        config = self.config_now()
        campaign = ledger.get_campaign(self.store, key)
        if campaign is None:
            return
        try:
            summary = run_campaign(config, self.store, campaign, stop=self.stop, force=force)
            log.info("%s", summary.line())
        except PublisherError as exc:
            log.warning("%s: %s", key, exc)
        except Exception:  # one campaign's failure must not take the web app with it
            log.exception("%s: sending from the console failed", key)

    def tick(self) -> bool:
        """Run one scheduler pass now (`schedule.tick.tick`, as cron's `publisher tick`):
        a post just published goes live, and its announcement out. False if one is running
        already (it will see the post too)."""
        with self.lock:
            running = self.running.get("tick")
            if running is not None and running.is_alive():
                return False
            thread = threading.Thread(target=self.pass_, name="console-tick", daemon=True)
            self.running["tick"] = thread
            thread.start()
        return True

    def pass_(self) -> None:
        from publisher.schedule.tick import tick  # lazy: the whole scheduler, when used

        try:
            summary = tick(self.config_now(), stop=self.stop)
            log.info("%s", summary.line(self.config_now()))
        except PublisherError as exc:
            log.warning("tick from the console: %s", exc)
        except Exception:
            log.exception("tick from the console failed")

    def close(self) -> None:
        self.stop.set()
        for thread in list(self.running.values()):
            thread.join(timeout=60)
