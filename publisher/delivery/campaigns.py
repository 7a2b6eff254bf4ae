"""Running a campaign: parallel connections, claims from the ledger, throttling, retries.

Each of `[delivery] connections` worker threads keeps one transport open and loops: claim
a few deliveries (they become `sending`), wait for the rate limits, build the message from
prebuilt bytes, hand it to the relay, and record the outcome before its next SMTP
transaction (`marks.SentMarks`: the `sent` marks of all workers waiting at that moment in
one commit). So after a SIGKILL at most one accepted-but-unrecorded message per worker is
sent twice, and nothing is lost: the next run requeues what was left in `sending`.
A message the relay did not answer once it had all of it is `unknown`, never sent again;
a few in a row pause the campaign. A stop request (SIGTERM, Ctrl-C) lets every worker
finish the message it is sending.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from publisher.clock import Clock
from publisher.config import Config
from publisher.delivery import holds
from publisher.delivery.marks import SentMarks
from publisher.delivery.summary import CampaignProgress, Summary, Tally
from publisher.delivery.throttle import HourlyLimit, TokenBucket
from publisher.delivery.transports import (
    DEFERRED,
    SENT,
    UNKNOWN,
    RelayDown,
    Result,
    Transport,
    failure,
    open_transport,
    reason,
)
from publisher.errors import DeliveryError, PublisherError
from publisher.inbound import brake, verp
from publisher.mail import tracking
from publisher.mail.message import MessageBuilder, Newsletter
from publisher.store import audience, ledger, record_bounce
from publisher.store.ledger import Campaign, Claimed, Counts
from publisher.subscribers.tokens import load_tokens, recipient
from publisher.topics import Wants

LEASE = timedelta(minutes=10)  # plus the longest one message may take: see `lease`
BATCH = 100  # deliveries claimed at a time by one worker (bench: 20 cost ~6% of the GIL)
SILENT = 3  # messages in a row the relay leaves unanswered before the campaign pauses
BACKOFF = timedelta(minutes=10)  # first retry delay, doubled on each attempt
MAX_BACKOFF = timedelta(hours=12)


class CampaignError(PublisherError):
    """A campaign's messages cannot be built: it pauses, and the other campaigns go on."""

    exit_code = 1


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` tries: 10 min, 20 min, 40 min ... 12 h."""
    return min(BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)


def builder(config: Config, newsletter: Newsletter) -> MessageBuilder:
    """The newsletter's message builder, or a PublisherError saying why there is none."""
    try:
        return MessageBuilder(config, newsletter)
    except PublisherError:
        raise
    except Exception as exc:
        raise CampaignError(f"{newsletter.key}: {reason(exc)}") from exc


def lease(config: Config) -> timedelta:
    """How old a claim in `sending` must be before another run takes it as abandoned: longer
    than a worker holds its claims (it gives them back after `LEASE / 2`) plus the longest
    one message can take (a slow relay answers its end after `data_timeout`)."""
    smtp = config.smtp
    return LEASE + timedelta(seconds=smtp.data_timeout + 5 * smtp.timeout)


def newsletter_of(campaign: Campaign) -> Newsletter:
    """The newsletter exactly as rendered when the campaign was created."""
    return Newsletter(
        key=campaign.key,
        kind=campaign.kind,
        subject=campaign.subject,
        html=campaign.html,
        text=campaign.text,
    )


class _Run:
    """One run of one campaign: the shared state of its worker threads."""

    def __init__(
        self,
        config: Config,
        store,
        campaign: Campaign,
        stop: threading.Event,
        transport_factory: Callable[[Config], Transport],
        wait_hourly: bool,
        force: bool = False,
    ):
        self.config = config
        self.force = force  # `--force`: the brake was looked at; it stays off for this run
        self.store = store
        self.campaign = campaign
        self.stop = stop  # the caller's: a signal; never set here
        self.halt = threading.Event()  # ends this run: `stop`, the relay down, the hourly cap
        self.transport_factory = transport_factory
        self.wait_hourly = wait_hourly
        self.clock = Clock(config.now)
        self.worker = ledger.worker_id()
        self.builder: MessageBuilder | None = None  # built in `run`, where a failure pauses
        self.tokens = load_tokens(config)
        self.reader_part = tracking.readers(config, store, campaign.id, self.tokens.secret)
        self.envelope_from = config.delivery.envelope_from or config.newsletter.from_address
        self.rate = TokenBucket(config.delivery.rate_per_second)
        self.hourly = HourlyLimit(
            config.delivery.max_per_hour,
            lambda since: ledger.sent_since(store, since),
            lambda since: ledger.oldest_sent_since(store, since),
            self.clock,
        )
        # SQLite has one writer at a time; taking turns here avoids its busy-wait sleeps.
        self.write_lock = threading.Lock() if store.is_sqlite else contextlib.nullcontext()
        self.marks = SentMarks(store, self.write_lock)
        self.tally = Tally()
        self.paused: PublisherError | None = None
        self.waiting_until: datetime | None = None
        self.error: BaseException | None = None

    # --- worker threads -------------------------------------------------------------

    def work(self) -> None:
        try:
            with self.store.connect() as conn:
                self._work(conn)
        except RelayDown as exc:
            self.paused = exc
            self.halt.set()
        except BaseException as exc:  # a bug or a database failure: stop everyone, re-raise
            self.error = exc
            self.halt.set()

    def _work(self, conn) -> None:
        """Claim, send and record until nothing is due; give back what was not attempted."""
        transport: Transport | None = None
        pending: list[Claimed] = []
        try:
            transport = self.transport_factory(self.config)
            while not self.halt.is_set():
                with self.write_lock:
                    pending = ledger.claim(
                        self.store, self.campaign.id, self.worker, BATCH, self.clock(), conn
                    )
                if not pending:
                    return
                renew = time.monotonic() + LEASE.total_seconds() / 2
                while pending and time.monotonic() < renew and self._my_turn():
                    result = self._send(transport, pending[0])
                    self._record(pending.pop(0), result, conn)
                with self.write_lock:  # slow going: claim them afresh, before the lease ends
                    ledger.release(self.store, [c.id for c in pending], conn)
                pending = []
        finally:
            with self.write_lock:
                ledger.release(self.store, [c.id for c in pending], conn)
            if transport is not None:
                transport.close()

    def _send(self, transport: Transport, claimed: Claimed) -> Result:
        """Build and send one message. Whatever fails here but the relay is this recipient's
        alone (a name or address that cannot be encoded, a bug on an odd value)."""
        try:
            sender = verp.bounce_address(self.config, self.tokens, claimed.id, claimed.token_key)
            return transport.send(
                sender or self.envelope_from, claimed.email, self._message(claimed)
            )
        except RelayDown:
            raise
        except Exception as exc:
            return failure(exc)

    def _message(self, claimed: Claimed) -> bytes:
        """The message as of now: a campaign runs for hours, and each one is dated then."""
        config, tokens, now = self.config, self.tokens, self.clock()
        key, subscriber_id = claimed.token_key, claimed.subscriber_id
        mailto = verp.unsubscribe_address(config, tokens, subscriber_id, key)
        reader = recipient(
            config, tokens, subscriber_id, key, claimed.email, claimed.name, mailto, now,
            campaign_id=self.campaign.id, reader=self.reader_part(subscriber_id, now),
        )  # fmt: skip
        return self.builder.build(reader, now)

    def _my_turn(self) -> bool:
        """Wait for the hourly cap and the rate limit; False when the run must stop."""
        while (until := self.hourly.take()) is not None:
            if not self.wait_hourly:
                self.waiting_until = until
                self.halt.set()
                return False
            if self.halt.wait(max(0.0, (until - self.clock()).total_seconds())):
                return False
        if self.rate.wait(self.halt):
            return True
        self.hourly.release()
        return False

    def _record(self, claimed: Claimed, result: Result, conn) -> None:
        now = self.clock()
        if result.status == SENT:  # returns once committed, maybe with other workers' marks
            self.marks.record(conn, claimed.id, result.code, result.reply, now)
            self.tally.add(result)
            return
        with self.write_lock:
            if result.status == UNKNOWN:  # it may have gone: it keeps its hourly slot
                ledger.mark_unknown(self.store, claimed, result.reply, conn)
            elif result.status == DEFERRED:
                attempts = claimed.attempts + 1
                retry = now + backoff(attempts)
                if attempts >= self.config.delivery.max_attempts:
                    retry = None
                ledger.mark_deferred(self.store, claimed, result.code, result.reply, retry, conn)
            else:
                ledger.mark_failed(self.store, claimed, result.code, result.reply, conn)
                if result.bounce:
                    record_bounce(
                        self.store,
                        claimed.subscriber_id,
                        now=now,
                        limit=self.config.delivery.bounce_limit,
                        detail=f"{result.code} {result.reply}",
                    )
        if result.status != UNKNOWN:
            self.hourly.release()
        if self.tally.add(result) >= SILENT:
            self._silent(result)

    def _silent(self, result: Result) -> None:
        """Pause: the relay leaves message after message unanswered. Waiting on each would
        defer them one by one, or leave each one's outcome unknown."""
        self.paused = RelayDown(
            f"the relay did not answer {SILENT} messages in a row ({result.reply}); "
            "check it, then `publisher send --resume`"
        )
        self.halt.set()

    # --- the main thread ------------------------------------------------------------

    def run(self, on_progress: Callable[[CampaignProgress], None] | None) -> Summary:
        if self.campaign.status == brake.HELD and not self.force:
            self.paused = brake.Held(self.campaign.note)
            return self._finish()
        try:
            self.builder = builder(self.config, newsletter_of(self.campaign))
        except PublisherError as exc:  # the campaign's own problem: it pauses, others go on
            self.paused = exc
            return self._finish()
        ledger.set_status(self.store, self.campaign.id, "sending", self.clock())
        ledger.reclaim(self.store, self.campaign.id, self.clock(), lease(self.config))
        before = ledger.counts(self.store, self.campaign.id)
        finished_before = before.sent + before.failed + before.skipped + before.bounced
        threads = [
            threading.Thread(target=self.work, name=f"send-{n}", daemon=True)
            for n in range(self.config.delivery.connections)
        ]
        if self.stop.is_set():
            self.halt.set()
        for thread in threads:
            thread.start()
        checked = time.monotonic()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
                if self.stop.is_set():
                    self.halt.set()
                if on_progress:
                    on_progress(self._progress(finished_before))
                if time.monotonic() - checked > brake.CHECK_EVERY:
                    checked = time.monotonic()
                    self._brake()
        if isinstance(self.error, PublisherError):
            raise self.error
        if self.error is not None:  # one line for the CLI; --debug shows the cause
            message = f"{self.campaign.key}: sending stopped: {reason(self.error)}"
            raise DeliveryError(message) from self.error
        return self._finish()

    def _brake(self) -> None:
        """Stop when a person paused the campaign (the console); hold it when its bounces or
        complaints pass the limits (not --force)."""
        if self.paused is not None:
            return
        paused = holds.paused_note(self.store, self.campaign.id)
        if paused:
            self.paused = brake.Held(paused)
            self.halt.set()
            return
        if self.force:
            return
        why = brake.check(self.store, self.config, self.campaign.id, self.clock())
        if why:
            self.paused = brake.Held(why)
            self.halt.set()

    def _progress(self, finished_before: int) -> CampaignProgress:
        return CampaignProgress(
            key=self.campaign.key,
            total=self.campaign.total,
            done=finished_before + self.tally.done,
            sent=self.tally.sent,
            elapsed=time.monotonic() - self.clock.t0,
        )

    def _finish(self) -> Summary:
        now = self.clock()
        counts = ledger.counts(self.store, self.campaign.id)
        status, note, retry = "done", "", None
        if self.paused is None and counts.unfinished and not self.force:
            self._brake()  # the last messages of a run may tip the figures
        if self.paused is not None:
            status = brake.HELD if isinstance(self.paused, brake.Held) else "paused"
            note = " ".join(str(self.paused).split())
            ledger.set_status(self.store, self.campaign.id, status, now, note)
        elif self.waiting_until is not None:
            local = self.config.local(self.waiting_until)
            status, note = "waiting", f"hourly limit reached; continues after {local:%H:%M}"
        elif counts.unfinished == 0:
            ledger.set_status(self.store, self.campaign.id, "done", now)
        elif self.stop.is_set():
            status = "stopped"
        else:
            status, note, retry = "waiting", *self._waiting_note(counts)
        return Summary(
            key=self.campaign.key,
            status=status,
            counts=counts,
            sent=self.tally.sent,
            elapsed=time.monotonic() - self.clock.t0,
            note=note,
            next_attempt=retry,
            problem=self.paused,
        )

    def _waiting_note(self, counts: Counts) -> tuple[str, datetime | None]:
        retry = ledger.next_attempt(self.store, self.campaign.id)
        parts = []
        if counts.deferred:
            when = f"{self.config.local(retry):%Y-%m-%d %H:%M}" if retry else "later"
            parts.append(f"{counts.deferred:,} deferred, next attempt {when}")
        if counts.sending or counts.queued:
            parts.append(f"{counts.sending + counts.queued:,} in progress in another process")
        return "; ".join(parts), retry


def create_campaigns(
    config: Config, store, editions: Sequence[tuple[Newsletter, Wants | None]], frequency: str
) -> list[tuple[Campaign, bool]]:
    """`audience.create_campaigns` (each newsletter for the readers of `frequency` whose
    topics its `wants` takes), once every newsletter's messages are known to build.

    A subject or header that cannot be built (a line break in a post's title) raises here,
    before a campaign exists: once stored, fixing the post would no longer fix it.
    """
    editions = [(tracking.tracked(config, newsletter), wants) for newsletter, wants in editions]
    for newsletter, _ in editions:
        builder(config, newsletter)
    return audience.create_campaigns(store, editions, frequency, config.now)


def create_campaign(
    config: Config, store, newsletter: Newsletter, frequency: str, wants: Wants | None = None
) -> tuple[Campaign, bool]:
    """`create_campaigns` for one newsletter."""
    return create_campaigns(config, store, [(newsletter, wants)], frequency)[0]


def run_campaign(
    config: Config,
    store,
    campaign: Campaign,
    *,
    stop: threading.Event | None = None,
    on_progress: Callable[[CampaignProgress], None] | None = None,
    transport_factory: Callable[[Config], Transport] = open_transport,
    wait_hourly: bool = True,
    force: bool = False,
) -> Summary:
    """Send what is due in `campaign` now and say where it stands.

    `stop` (set by a signal handler) ends the run after the messages in flight. With
    `wait_hourly` False the run returns instead of sleeping when `max_per_hour` is reached.
    A campaign the brake holds is left alone unless `force`.
    """
    run = _Run(
        config, store, campaign, stop or threading.Event(), transport_factory, wait_hourly, force
    )
    return run.run(on_progress)


def resume_all(config: Config, store, **options) -> list[Summary]:
    """Run every unfinished campaign, oldest first. One paused by its own problem does not
    hold up the others; a relay that is down (every campaign would meet it) ends the run."""
    summaries = []
    stop = options.get("stop")
    for campaign in ledger.list_campaigns(store, unfinished=True):
        if stop is not None and stop.is_set():
            break
        summary = run_campaign(config, store, campaign, **options)
        summaries.append(summary)
        if summary.status == "stopped" or isinstance(summary.problem, RelayDown):
            break
    return summaries


def send_test(
    config: Config,
    newsletter: Newsletter,
    address: str,
    transport_factory: Callable[[Config], Transport] = open_transport,
    mark: str = "[TEST]",
) -> Result:
    """Send one copy to `address`, its subject starting with `mark` ("[TEST]", "[DRAFT]");
    nothing is recorded in the ledger."""
    # Links signed for no subscriber: they show "not valid".
    reader = recipient(config, load_tokens(config), 0, "", address, "")
    data = MessageBuilder(config, newsletter, mark=mark).build(reader)
    transport = transport_factory(config)
    try:
        result = transport.send(
            config.delivery.envelope_from or config.newsletter.from_address, address, data
        )
    finally:
        transport.close()
    if result.status != SENT:
        raise DeliveryError(
            f"test message to {address} {result.status}: {result.code} {result.reply}",
            result.code,
            result.reply,
        )
    return result
