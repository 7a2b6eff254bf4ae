"""The handlers of the subscriber app: subscribe, confirm, unsubscribe, preferences, health.

Store and transport calls block, so they run in worker threads; a write happens only on a
POST (`Endpoints.call`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from publisher import topics
from publisher.config import Config
from publisher.delivery.transports import open_transport
from publisher.errors import ConfigError, DeliveryError
from publisher.store import signups, subscribers
from publisher.store.db import Store
from publisher.subscribers import addresses, leaving, welcome
from publisher.subscribers import confirmations as confirmation
from publisher.subscribers.tokens import TokenError, load_tokens
from publisher.vocabulary import FREQUENCIES
from publisher.web.guard import ClientLimit
from publisher.web.pages import Pages
from publisher.web.signups import Mailer, SignUps

log = logging.getLogger(__name__)

CSRF_MAX_AGE = timedelta(hours=6)
STORE_THREADS = 4
LOCK_WAIT = 1.5  # seconds a request waits for the database before answering 503
HEALTH_WAIT = 2.0  # seconds /healthz waits for the store's answer
RETRY_AFTER = "5"
TOPICS_REFUSED = "Choose topics from the list, or none for everything."


def csrf_token(secret: bytes, token: str, now: datetime) -> str:
    """A form token bound to the preferences token and a time: no server session needed."""
    stamp = str(int(now.timestamp()))
    mac = hmac.new(secret, f"csrf|{token}|{stamp}".encode(), hashlib.sha256).hexdigest()
    return f"{stamp}.{mac}"


def csrf_valid(secret: bytes, token: str, value: str, now: datetime) -> bool:
    stamp, _, _mac = value.partition(".")
    if not (stamp.isascii() and stamp.isdigit()):  # int() also reads other scripts' digits
        return False
    issued = datetime.fromtimestamp(int(stamp), UTC)
    fresh = timedelta(0) <= now - issued <= CSRF_MAX_AGE
    return fresh and hmac.compare_digest(csrf_token(secret, token, issued), value)


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def clean_text(value: object, limit: int) -> str:
    """A one-line, printable form value of at most `limit` characters: each unprintable
    character (control, line separator) becomes a space, so `Ana\\nLee` stays two words."""
    text = value if isinstance(value, str) else ""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


def form_page(value: object) -> str:
    """The site's page a sign-up form was on (its hidden `page` field: `/posts/<slug>/`),
    for the audience report's sources; "" for anything that is not a short plain path."""
    text = value if isinstance(value, str) else ""
    plain = text.startswith("/") and text.isascii() and text.isprintable() and " " not in text
    return text if plain and len(text) <= 56 else ""


class Endpoints:
    """The handlers. Store and transport calls block, so they run in the thread pool."""

    def __init__(self, config: Config, clock: Callable[[], datetime]):
        self.config = config
        self.clock = clock
        self.pages = Pages(config)
        self.store = Store.open(config, lock_wait=LOCK_WAIT)
        self.limit = ClientLimit(config.web.subscribe_per_minute)
        self.tokens = load_tokens(config)
        self.confirmations = confirmation.Confirmations(config, self.tokens)
        self.mailer = Mailer(self.send_confirmation)
        self.welcomes = Mailer(self.send_welcome, threads=1)
        self.signups = SignUps(self.store, self.clock, self.mailer)
        self.store_threads = anyio.CapacityLimiter(STORE_THREADS)

    async def call(self, request: Request, function: Callable, *args, **kwargs):
        """Run a store function that writes, at the app's idea of now. Only a POST writes:
        a GET (or HEAD) that got here is a bug, refused before it changes anything."""
        if request.method != "POST":
            raise RuntimeError(f"{request.method} {request.url.path} must not write")
        return await self.store_call(partial(function, now=self.clock(), **kwargs), *args)

    async def store_call(self, function: Callable, *args):
        """Run a store function in a worker thread, at most STORE_THREADS at a time.

        Writers queue on the database's lock anyway; dozens of threads waiting for it only
        fight the event loop for the GIL, so the rest wait here, cheaply, in the loop.
        """
        return await anyio.to_thread.run_sync(
            partial(function, self.store, *args), limiter=self.store_threads
        )

    # --- subscribe and confirm ---------------------------------------------------------

    async def subscribe(self, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        wait = self.limit.retry_after(client)
        if wait:
            response = self.answer(request, "too-many-requests", 429, "Too many requests.")
            response.headers["retry-after"] = str(wait)
            return response
        form = await request.form()
        if form.get("website"):  # the honeypot: only bots fill a field people cannot see
            return self.check_inbox(request)
        smtputf8 = self.config.smtp.smtputf8
        try:
            address = addresses.normalize(str(form.get("email", "")), smtputf8=smtputf8)
        except addresses.AddressError as exc:  # syntax and policy: says nothing about the list
            return self.refuse(request, f"That address cannot be used: {exc}.")
        frequency = form.get("frequency") or self.config.newsletter.frequency
        if frequency not in FREQUENCIES:
            return self.refuse(request, "Choose each new post or the digest.")
        name = clean_text(form.get("name"), 200)
        chosen = self.chosen_topics(form)
        if chosen is None:
            return self.refuse(request, TOPICS_REFUSED)
        page = form_page(form.get("page"))
        await self.signups.subscribe(signups.SignUp(address, name, frequency, chosen, page))
        return self.check_inbox(request)

    def check_inbox(self, request: Request) -> Response:
        return self.answer(request, "subscribed", 200, "Check your inbox to confirm.")

    def send_confirmation(self, item: tuple[subscribers.Subscriber, datetime]) -> None:
        """Mail the confirm link claimed at `claimed_at` by the sign-up's transaction (none
        is claimed when this address got one in the last 10 minutes).

        Runs in a mailer thread, after the response: the page takes as long for every
        address, and a slow relay never holds up a request. One that could not go out
        (relay down, deferred) gives its claim back and is left to `publisher tick` when
        the address is pending.
        """
        subscriber, claimed_at = item
        transport = open_transport(self.config)
        try:
            result = self.confirmations.send(
                self.store, transport, subscriber, claimed_at, claimed=True
            )
            if result and result.status != "sent":
                log.warning(
                    "confirmation to %s: %s %s", subscriber.email, result.code, result.reply
                )
        except (DeliveryError, ConfigError) as exc:
            log.warning("confirmation to %s not sent: %s", subscriber.email, exc)
        finally:
            transport.close()

    def send_welcome(self, subscriber: subscribers.Subscriber) -> None:
        """The welcome email, in a mailer thread after the response (`welcome.py`)."""
        transport = open_transport(self.config)
        try:
            welcome.send_welcome(
                self.config, self.store, self.tokens, transport, subscriber, self.clock()
            )
        except DeliveryError as exc:
            log.warning("welcome to %s not sent: %s", subscriber.email, exc)
        finally:
            transport.close()

    async def confirm(self, request: Request) -> Response:
        """GET shows a button; its POST activates (and brings back a suppressed address,
        which the store records)."""
        subscriber = await self.subscriber(request, "confirm")
        if not subscriber:
            return self.invalid_link(request)
        if request.method == "POST":
            welcome = self.config.newsletter.welcome
            subscriber = await self.call(
                request, subscribers.confirm, subscriber.id, welcome=welcome
            )
            if subscriber is not None and welcome:
                self.welcomes.submit(subscriber)
        elif subscriber.status != "active":
            return self.pages.render("confirm", token=request.query_params["token"])
        return self.answer(request, "confirmed", 200, "Subscribed.", subscriber=subscriber)

    # --- unsubscribe and preferences ---------------------------------------------------

    async def unsubscribe(self, request: Request) -> Response:
        """GET shows one button; POST (RFC 8058 `List-Unsubscribe=One-Click`, or that
        button) unsubscribes. Idempotent, no cookies, no redirect, no CSRF token."""
        subscriber = await self.subscriber(request, "unsubscribe")
        if not subscriber:
            return self.invalid_link(request)
        campaign = leaving.campaign(request.query_params.get("campaign"))
        if request.method != "POST":
            return self.pages.render(
                "unsubscribe",
                token=request.query_params["token"],
                campaign=campaign,
                reasons=leaving.REASONS,
            )
        reason = leaving.reason((await request.form()).get("reason"))
        await self.call(
            request, subscribers.unsubscribe, subscriber.id, campaign_id=campaign, reason=reason
        )
        return self.answer(request, "unsubscribed", 200, "Unsubscribed.")

    async def preferences(self, request: Request) -> Response:
        subscriber = await self.subscriber(request, "preferences")
        if not subscriber:
            return self.invalid_link(request)
        token = request.query_params["token"]
        saved = False
        if request.method == "POST":
            form = await request.form()
            if not csrf_valid(self.tokens.secret, token, str(form.get("csrf", "")), self.clock()):
                return self.refuse(request, "This form is too old. Reload the page and try again.")
            if form.get("action") == "unsubscribe":
                await self.call(request, subscribers.unsubscribe, subscriber.id)
                return self.answer(request, "unsubscribed", 200, "Unsubscribed.")
            if form.get("frequency") not in FREQUENCIES:
                return self.refuse(request, "Choose each new post or the digest.")
            chosen = self.chosen_topics(form)
            if chosen is None:
                return self.refuse(request, TOPICS_REFUSED)
            subscriber = await self.call(
                request,
                subscribers.set_preferences,
                subscriber.id,
                name=clean_text(form.get("name"), 200),
                frequency=form.get("frequency"),
                topics=chosen,
            )
            saved = True
        csrf = csrf_token(self.tokens.secret, token, self.clock())
        return self.pages.render(
            "preferences",
            subscriber=subscriber,
            saved=saved,
            token=token,
            csrf=csrf,
            topics=self.config.topics,
            chosen=topics.chosen(subscriber.topics, self.config.topics),
        )

    async def healthz(self, request: Request) -> Response:
        """200 when the store answers a query and could take a write, 503 when it does not
        or takes longer than HEALTH_WAIT. Not behind the store's thread limit: requests
        waiting there for a locked database must not hold the answer up."""
        try:
            with anyio.fail_after(HEALTH_WAIT):
                await anyio.to_thread.run_sync(self.store.ping, abandon_on_cancel=True)
        except Exception as exc:  # whatever broke, the answer is "not healthy"
            log.warning("health check failed: %s", exc or "timed out")
            response = JSONResponse({"ok": False}, status_code=503)
            response.headers["retry-after"] = RETRY_AFTER
            return response
        return JSONResponse({"ok": True})

    # --- helpers ----------------------------------------------------------------------

    def chosen_topics(self, form) -> str | None:
        """The form's ticked `topics` as a stored choice ("" when none: everything); None
        when one is not a configured topic (an old page, or a forged request)."""
        try:
            return topics.checked(form.getlist("topics"), self.config.topics)
        except ValueError:
            return None

    async def subscriber(self, request: Request, purpose: str) -> subscribers.Subscriber | None:
        """Who the link's token stands for; None when forged, expired or erased, or when it
        was signed before something that voids it (`voided`)."""
        token = request.query_params.get("token", "")
        try:
            found = await self.store_call(
                subscribers.get_with_key, self.tokens.subscriber_id(token)
            )
            if found is None:
                return None
            subscriber, key = found
            self.tokens.read(purpose, token, key, self.clock())
            issued = self.tokens.issued(purpose, token, key)
        except TokenError:
            return None
        return None if voided(purpose, subscriber, key, issued) else subscriber

    def invalid_link(self, request: Request) -> Response:
        return self.answer(request, "invalid-link", 400, "This link is invalid or has expired.")

    def refuse(self, request: Request, message: str) -> Response:
        return self.answer(request, "error", 400, message, message=message)

    def answer(self, request: Request, page: str, status: int, summary: str, **context) -> Response:
        """The page, or `{"ok": ..., "message": ...}` for scripts that asked for JSON."""
        if wants_json(request):
            return JSONResponse({"ok": status < 400, "message": summary}, status_code=status)
        return self.pages.render(page, status, **context)

    def error_page(self, status: int) -> Response:
        message = ERRORS.get(status, "That request could not be handled.")
        return self.pages.render("error", status, message=message)

    async def unavailable(self, request: Request, exc: Exception) -> Response:
        """The database is locked, down or broken: 503, try again shortly."""
        log.warning("store unavailable: %s", exc)
        message = ERRORS[503]
        if wants_json(request):
            response = JSONResponse({"ok": False, "error": message}, status_code=503)
        else:
            response = self.pages.render("error", 503, message=message)
        response.headers["retry-after"] = RETRY_AFTER
        return response

    async def http_error(self, request: Request, exc: Exception) -> Response:
        return self.error_page(exc.status_code if isinstance(exc, HTTPException) else 500)


ERRORS = {
    404: "There is no page at this address.",
    405: "This address does not take that kind of request.",
    413: "That request was too large.",
    500: "Something went wrong on our side. Please try again later.",
    503: "We are busy right now. Please try again in a minute.",
}


def voided(purpose: str, subscriber: subscribers.Subscriber, key: str, issued: datetime) -> bool:
    """Whether a genuine token, signed at `issued` (whole seconds), no longer counts:

    - a link signed without a key (rows from before schema version 3) older than the row:
      it was made for an erased subscriber who had this id before it was reused;
    - a confirm link older than the subscriber's last unsubscribe: an old email must not
      undo a later wish to leave.
    """
    if not key and issued < subscriber.created_at.replace(microsecond=0):
        return True
    left = subscriber.unsubscribed_at
    if purpose != "confirm" or subscriber.status == "active" or left is None:
        return False
    return issued < left.replace(microsecond=0)
