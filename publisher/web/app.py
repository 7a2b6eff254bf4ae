"""The subscriber web app: subscribe, confirm, unsubscribe (RFC 8058 one-click), preferences.

Starlette on uvicorn: an async server in one process, small enough to read, with a real
test story (the tests run it under uvicorn on a loopback port). The store and the mail
transport are synchronous, so every call into them runs in another thread (the thread pool;
for sign-ups the group-commit writer, `SignUps`; for emails the `Mailer`) and the event
loop never blocks on SQLite or SMTP.

Rules the pages keep:
- No address enumeration: `/subscribe` answers the same page for a new, pending, active or
  suppressed address, and the confirmation email is sent by a separate thread after the
  response, so neither the page nor its timing tells them apart.
- Nothing changes on GET or HEAD, because link scanners fetch links: confirming and
  unsubscribing each need a POST (the page's button, or the RFC 8058 one-click POST).
  `Guard` hands HEAD to the app as GET and drops the body; `Endpoints.call`, the one way
  handlers write, refuses any method but POST.
- Every response carries the security headers; bodies are capped; `/subscribe` is limited
  per client IP and the confirmation email per address (the store keeps that one).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

import anyio
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from publisher.config import Config
from publisher.delivery.transports import open_transport
from publisher.errors import DeliveryError, StoreError
from publisher.site import theme
from publisher.store import subscribers
from publisher.store.db import Store
from publisher.subscribers import addresses
from publisher.subscribers import confirmations as confirmation
from publisher.subscribers.tokens import TokenError, load_tokens

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
CSRF_MAX_AGE = timedelta(hours=6)
FREQUENCIES = ("each", "digest")
STORE_THREADS = 4
LOCK_WAIT = 1.5  # seconds a request waits for the database before answering 503
HEALTH_WAIT = 2.0  # seconds /healthz waits for the store's answer
RETRY_AFTER = "5"
MAILER_THREADS = 4
GROUP_COMMIT = 200  # most sign-ups written in one transaction


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: what browsers send in `Origin`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(config: Config) -> list[tuple[bytes, bytes]]:
    """Headers set on every response. Styles and images may come from the blog's origin,
    since the pages reuse its theme; nothing else loads, and no one may frame the pages."""
    blog, app = origin(config.site.url), origin(config.web.url)
    csp = (
        f"default-src 'self'; style-src 'self' {blog}; img-src 'self' {blog} data:; "
        f"font-src 'self' {blog}; form-action 'self' {app}; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    )
    headers = {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
        "cross-origin-opener-policy": "same-origin",
    }
    if urlsplit(config.web.url).scheme == "https":  # browsers then never try plain HTTP
        headers["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


TOKEN_VALUE = re.compile(r"((?:^|[?&])token=)[^&#\s]*")


class RedactTokens(logging.Filter):
    """Uvicorn's access log prints each request's query string, and a link's token is as
    good as a password for that subscriber: keep the path and the other fields, hide it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_VALUE.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


REDACT_TOKENS = RedactTokens()


class Guard:
    """The outermost layer: security headers on every response, the body cap, HEAD served
    as GET without a body, and an error page (with those headers) instead of a bare 500
    when something unexpected breaks."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]], error_page: Callable):
        self.app = app
        self.headers = headers
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers[name.decode()] = value.decode()
            elif head:
                message = {**message, "body": b""}
            await send(message)

        declared = Headers(scope=scope).get("content-length", "0")
        if not (declared.isascii() and declared.isdigit()) or int(declared) > MAX_BODY:
            await self.error_page(413)(scope, receive, send_secured)
            return
        received = 0

        async def receive_capped() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY:  # a chunked body that grew past the cap
                raise HTTPException(413)
            return message

        try:
            await self.app(scope, receive_capped, send_secured)
        except Exception:
            if not started:
                await self.error_page(500)(scope, receive, send_secured)
            raise


class RateLimit:
    """At most `per_minute` hits per key in any 60 seconds (a sliding log per key).

    In memory and per process: `publisher web` runs one process. Keys idle for a minute
    are dropped when the table grows, so memory stays bounded by recent clients.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self.hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int:
        """0 when `key` may go ahead now (and the hit is counted), else seconds to wait."""
        now = self.clock()
        hits = self.hits.setdefault(key, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(1, int(hits[0] + 60 - now) + 1)
        hits.append(now)
        if len(self.hits) > 10_000:
            self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > now - 60}
        return 0


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


def shifted_clock(config: Config) -> Callable[[], datetime]:
    """The real clock, moved by as much as `--now` moved the config's clock at start-up."""
    offset = config.now - datetime.now(UTC)
    if abs(offset) < timedelta(seconds=5):
        offset = timedelta(0)
    return lambda: datetime.now(UTC) + offset


@dataclass
class Pages:
    """Renders the app's pages with the site's templates (`templates/site/web/*.html`).

    The app may live on another host than the blog, so every link and stylesheet in the
    blog's layout points at the blog by absolute URL.
    """

    config: Config

    def __post_init__(self) -> None:
        self.env = theme.site_environment(self.config)
        self.env.filters["url"] = lambda url: theme.absolute_url(self.config.site.url, url)
        # Jinja folds `'static/style.css' | url` into the compiled template, so templates
        # compiled for the blog (its bytecode cache) must not be reused with this filter.
        self.env.bytecode_cache = None

    def render(self, name: str, status: int = 200, **context: object) -> HTMLResponse:
        html = theme.render(self.env, f"web/{name}.html", **context)
        return HTMLResponse(html, status_code=status)


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
    transaction (`subscribers.subscribe_many`), claiming each one's confirmation there too,
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

    async def subscribe(self, signup: subscribers.SignUp) -> subscribers.Subscriber:
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
            results = subscribers.subscribe_many(self.store, [b[0] for b in batch], now=now)
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


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def clean_text(value: object, limit: int) -> str:
    """A one-line, printable form value of at most `limit` characters: each unprintable
    character (control, line separator) becomes a space, so `Ana\\nLee` stays two words."""
    text = value if isinstance(value, str) else ""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:limit]


class Endpoints:
    """The handlers. Store and transport calls block, so they run in the thread pool."""

    def __init__(self, config: Config, clock: Callable[[], datetime]):
        self.config = config
        self.clock = clock
        self.pages = Pages(config)
        self.store = Store.open(config, lock_wait=LOCK_WAIT)
        self.limit = RateLimit(config.web.subscribe_per_minute)
        self.tokens = load_tokens(config)
        self.confirmations = confirmation.Confirmations(config, self.tokens)
        self.mailer = Mailer(self.send_confirmation)
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
        await self.signups.subscribe(subscribers.SignUp(address, name, frequency))
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
        except DeliveryError as exc:
            log.warning("confirmation to %s not sent: %s", subscriber.email, exc)
        finally:
            transport.close()

    async def confirm(self, request: Request) -> Response:
        """GET shows a button; its POST activates (and brings back a suppressed address,
        which the store records)."""
        subscriber = await self.subscriber(request, "confirm")
        if not subscriber:
            return self.invalid_link(request)
        if request.method == "POST":
            subscriber = await self.call(request, subscribers.confirm, subscriber.id)
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
        if request.method != "POST":
            return self.pages.render("unsubscribe", token=request.query_params["token"])
        await self.call(request, subscribers.unsubscribe, subscriber.id)
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
            subscriber = await self.call(
                request,
                subscribers.set_preferences,
                subscriber.id,
                name=clean_text(form.get("name"), 200),
                frequency=form.get("frequency"),
            )
            saved = True
        csrf = csrf_token(self.tokens.secret, token, self.clock())
        return self.pages.render(
            "preferences", subscriber=subscriber, saved=saved, token=token, csrf=csrf
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


def create_app(config: Config, clock: Callable[[], datetime] | None = None) -> Starlette:
    """The web app for `config`; `clock` defaults to the real time moved by `--now`."""
    endpoints = Endpoints(config, clock or shifted_clock(config))
    logging.getLogger("uvicorn.access").addFilter(REDACT_TOKENS)  # added once, however often
    routes = [
        Route("/subscribe", endpoints.subscribe, methods=["POST"]),
        Route("/confirm", endpoints.confirm, methods=["GET", "POST"]),
        Route("/unsubscribe", endpoints.unsubscribe, methods=["GET", "POST"]),
        Route("/preferences", endpoints.preferences, methods=["GET", "POST"]),
        Route("/healthz", endpoints.healthz, methods=["GET"]),
    ]
    middleware = [
        Middleware(Guard, headers=security_headers(config), error_page=endpoints.error_page),
        Middleware(
            CORSMiddleware,
            allow_origins=[origin(config.site.url)],
            allow_methods=["POST"],
            allow_headers=["Accept", "Content-Type"],
        ),
    ]
    proxies = [ip.strip() for ip in config.web.trusted_proxies.split(",") if ip.strip()]
    if proxies:
        middleware.insert(0, Middleware(ProxyHeadersMiddleware, trusted_hosts=proxies))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(endpoints.signups.close)  # write what is queued, then stop
        await run_in_threadpool(endpoints.mailer.close)  # send what is queued, then stop
        endpoints.store.close()

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            HTTPException: endpoints.http_error,
            StoreError: endpoints.unavailable,
            DBAPIError: endpoints.unavailable,
        },
        lifespan=lifespan,
    )
    app.state.store = endpoints.store
    return app


def preview_routes(config: Config) -> list[Route]:
    """The app's paths as routes for `publisher serve`, so the preview's forms work too."""
    app = create_app(config)
    return [Route(route.path, app) for route in app.routes]
