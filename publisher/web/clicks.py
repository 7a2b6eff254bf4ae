"""The click redirect `/l/<campaign>/<link>/<reader>` and the open pixel `/o/<campaign>/<reader>`.

A click is answered from memory: the campaign's link table is read once and kept, the
count goes into a `clicks.Tally`, and the response (302 to the link's target, 404 for a
link that is not in the table or a reader part this site did not sign) is sent at once.
One thread writes the tally every `COMMIT_EVERY` seconds in one transaction (a group
commit), so the database sees a few writes a second however many clicks arrive.

Nothing about the reader outlives the request, with one exception: a click in the first
`SCAN_WINDOW` seconds after its message was sent is held (campaign, reader tag and link;
no address, no client) for `HOLD` seconds, to tell a gateway's link scanner, which opens
every link of a message as it arrives, from a person. Then it is counted, and forgotten.

Losing nothing: the number of clicks received but not yet committed is kept in a small
file mapped into memory (`data/clicks.pending`), which the kernel keeps when the process
is killed. After a SIGKILL the next start logs how many were lost: at most one commit's
worth. A normal stop (SIGTERM, Ctrl-C) writes everything first.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import mmap
import re
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from publisher.config import Config
from publisher.mail.message import NO_READER
from publisher.mail.tracking import ClickSigner, Reader
from publisher.store import clicks
from publisher.store.db import Store

log = logging.getLogger(__name__)

COMMIT_EVERY = 0.5  # seconds between group commits
SCAN_WINDOW = timedelta(seconds=60)  # clicks this soon after sending may be a scanner's
HOLD = timedelta(seconds=5)  # how long such a click waits for the rest of its message's
SCANNED = 3  # links of one message within HOLD that make a scanner (fewer: all of them)
MAX_CAMPAIGNS = 10_000  # link tables kept in memory
# User agents of security gateways, link checkers, previews and HTTP libraries; a click
# without a user agent is a machine's too.
SCANNER_AGENT = re.compile(
    r"bot\b|crawl|spider|scan|preview|barracuda|mimecast|proofpoint|urldefense|safelinks"
    r"|symantec|messagelabs|trend ?micro|sophos|forcepoint|fortinet|zscaler|cisco|ironport"
    r"|appriver|libwww|curl/|wget/|python|go-http|java/|okhttp|headless|protocol discovery",
    re.I,
)
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
)


@functools.lru_cache(maxsize=4096)  # a few user agents make most clicks; the regex is slow
def is_scanner_agent(agent: str) -> bool:
    return not agent.strip() or SCANNER_AGENT.search(agent) is not None


@dataclass
class _Held:
    """Clicks of one message received within SCAN_WINDOW of its sending."""

    until: datetime
    clicks: list[tuple[int, datetime]] = field(default_factory=list)  # (link, hour)


class PendingCount:
    """Clicks received and not yet committed, in a file mapped into memory: it survives a
    SIGKILL (the kernel writes the page), so the next start can say how many were lost.

    The file is locked for the process's life: a second app on the same site (`publisher
    serve` beside `publisher web`) keeps its count in memory only, and neither reads nor
    resets the first one's."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "a+b")  # noqa: SIM115 (kept open, and locked, for its life)
        self.map: mmap.mmap | bytearray = bytearray(8)
        self.value = 0
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        self.file.seek(0)
        data = self.file.read(8)
        self.file.truncate(0)
        self.file.write(bytes(8))
        self.file.flush()
        lost = struct.unpack("<q", data)[0] if len(data) == 8 else 0
        if lost > 0:
            log.warning(
                "clicks: %d click(s) counted before the last stop were lost: the process "
                "ended before its next group commit (killed?)",
                lost,
            )
        self.map = mmap.mmap(self.file.fileno(), 8)

    def add(self, count: int) -> None:
        self.value += count
        struct.pack_into("<q", self.map, 0, self.value)

    def close(self) -> None:
        if isinstance(self.map, mmap.mmap):
            self.map.close()
        self.file.close()


class ClickCounter:
    """Counts clicks and opens in memory and writes them in group commits."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], datetime], secret: bytes):
        self.config = config
        self.store = store
        self.clock = clock
        self.signer = ClickSigner(secret)
        self.lock = threading.Lock()
        self.tally = clicks.Tally()
        self.held: dict[tuple[int, str], _Held] = {}
        self.pending = PendingCount(config.data_dir / "clicks.pending")
        self.closing = threading.Event()
        self.links: dict[int, tuple[str, ...]] = {}  # campaign id -> its links' targets
        self.thread = threading.Thread(target=self.run, name="clicks", daemon=True)
        self.thread.start()

    # --- requests -----------------------------------------------------------------

    async def targets(self, campaign_id: int) -> tuple[str, ...]:
        """The campaign's link targets, by number from 1; () for no such campaign."""
        found = self.links.get(campaign_id)
        if found is None:
            found = await run_in_threadpool(self._read_links, campaign_id)
            if len(self.links) >= MAX_CAMPAIGNS:
                self.links.clear()
            if found:  # a link table never changes; an unknown campaign is asked again
                self.links[campaign_id] = found
        return found

    def _read_links(self, campaign_id: int) -> tuple[str, ...]:
        with self.store.read() as conn:
            return tuple(link.url for link in clicks.links(conn, campaign_id))

    async def redirect(self, scope: Scope) -> Response:
        params = scope["path_params"]
        campaign_id, number = _number(params["campaign"]), _number(params["link"])
        targets = await self.targets(campaign_id)
        if not 1 <= number <= len(targets):
            raise HTTPException(404)
        part = params["reader"]
        reader = None if part == NO_READER else self.signer.read(campaign_id, part)
        if reader is None and part != NO_READER:
            raise HTTPException(404)
        if reader is not None and self.config.tracking.clicks != "off":
            scanner = scope.get("publisher.head", False) or is_scanner_agent(_agent(scope))
            self.count(campaign_id, number, reader, scanner, len(targets))
        return Response(status_code=302, headers={"location": targets[number - 1]})

    async def pixel(self, scope: Scope) -> Response:
        params = scope["path_params"]
        campaign_id = _number(params["campaign"])
        reader = self.signer.read(campaign_id, params["reader"])
        if reader is None:
            raise HTTPException(404)
        if self.config.tracking.opens == "on":
            with self.lock:
                self.tally.opens[campaign_id, clicks.hour_of(self.clock())] += 1
                self.pending.add(1)
        return Response(GIF, media_type="image/gif")

    def count(self, campaign_id: int, link: int, reader: Reader, scanner: bool, links: int):
        now = self.clock()
        hour = clicks.hour_of(now)
        with self.lock:
            self.pending.add(1)
            if scanner:
                self.tally.scanners[campaign_id, link, hour] += 1
                return
            if reader.tag != "a" and now - reader.sent < SCAN_WINDOW:
                held = self.held.setdefault((campaign_id, reader.tag), _Held(now + HOLD))
                held.clicks.append((link, hour))
                if len({n for n, _ in held.clicks}) >= min(SCANNED, links):
                    held.until = now  # a scanner: released at the next commit
                return
            self._person(campaign_id, link, hour, reader, now)

    def _person(self, campaign_id: int, link: int, hour: datetime, reader: Reader, now):
        """Count one person's click (the caller holds the lock)."""
        self.tally.clicks[campaign_id, link, hour] += 1
        if reader.tag != "a":
            self.tally.sketch(campaign_id, link).add(reader.tag)
            self.tally.sketch(campaign_id, clicks.WHOLE_CAMPAIGN).add(reader.tag)
        if reader.subscriber_id is not None and self.config.tracking.clicks == "individual":
            self.tally.people.append((campaign_id, link, reader.subscriber_id, now))

    # --- the writer thread --------------------------------------------------------

    def _release(self, now: datetime | None) -> None:
        """Count the held clicks whose time is up (all of them when `now` is None)."""
        for key, held in list(self.held.items()):
            if now is not None and held.until > now:
                continue
            del self.held[key]
            links = {link for link, _ in held.clicks}
            campaign_id = key[0]
            scanner = len(links) >= min(SCANNED, len(self.links.get(campaign_id, ())) or 1)
            for link, hour in held.clicks:
                if scanner:
                    self.tally.scanners[campaign_id, link, hour] += 1
                else:
                    reader = Reader(key[1], _person_id(key[1]), held.until)
                    self._person(campaign_id, link, hour, reader, held.until)

    def run(self) -> None:
        while not self.closing.wait(COMMIT_EVERY):
            self.commit(final=False)
        self.commit(final=True)

    def commit(self, final: bool) -> None:
        """Write what has been counted, in one transaction; on failure keep it for the
        next commit (a locked or unreachable database loses nothing while we run)."""
        with self.lock:
            self._release(None if final else self.clock())
            tally, self.tally = self.tally, clicks.Tally()
        if not len(tally):
            return
        try:
            with self.store.transaction() as conn:
                clicks.write(conn, tally)
        except Exception as exc:  # the database: keep the counts and try again
            log.warning("clicks: %d click(s) not written yet: %s", len(tally), exc)
            with self.lock:
                self.tally = _merged(tally, self.tally)
            return
        with self.lock:
            self.pending.add(-len(tally))

    def close(self) -> None:
        """Write everything counted, then stop (the app's shutdown)."""
        self.closing.set()
        self.thread.join()
        self.pending.close()

    def routes(self) -> list[Route]:
        return [
            Route("/l/{campaign}/{link}/{reader}", Plain(self.redirect), methods=["GET"]),
            Route("/o/{campaign}/{reader}", Plain(self.pixel), methods=["GET"]),
        ]


@dataclass(frozen=True)
class Plain:
    """A route's endpoint as a plain ASGI app, answering from the scope alone: Starlette
    then makes no Request and no exception-handling wrapper for the busiest paths (a
    quarter of a click's CPU time in the framework)."""

    answer: Callable[[Scope], Awaitable[Response]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.answer(scope)
        await response(scope, receive, send)


def _agent(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return value.decode("latin-1")
    return ""


def _number(value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise HTTPException(404)
    return int(value)


def _person_id(tag: str) -> int | None:
    return int(tag[1:]) if tag.startswith("p") else None


def _merged(older: clicks.Tally, newer: clicks.Tally) -> clicks.Tally:
    """A tally holding both (a failed commit's and what came in meanwhile)."""
    newer.clicks.update(older.clicks)
    newer.scanners.update(older.scanners)
    newer.opens.update(older.opens)
    for key, sketch in older.sketches.items():
        newer.sketch(*key).merge(sketch)
    newer.people.extend(older.people)
    return newer
