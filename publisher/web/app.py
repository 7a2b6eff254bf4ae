"""The subscriber web app: subscribe, confirm, unsubscribe (RFC 8058 one-click), preferences,
"Manage your subscription" (`manage`), the click redirect and open pixel (`clicks`), and the mail providers' bounce and complaint
webhooks (`webhooks`); the staff console (`publisher.admin`) is mounted under /admin/.

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

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from publisher.admin.app import create_admin
from publisher.clock import Clock
from publisher.config import Config
from publisher.errors import StoreError
from publisher.web.clicks import ClickCounter
from publisher.web.endpoints import Endpoints
from publisher.web.guard import REDACT_TOKENS, Guard, origin, security_headers
from publisher.web.manage import ManageLinks
from publisher.web.signatures import Fetch, fetch_https
from publisher.web.webhooks import Webhooks


def create_app(
    config: Config, clock: Callable[[], datetime] | None = None, fetch: Fetch = fetch_https
) -> Starlette:
    """The web app for `config`; `clock` defaults to the real time moved by `--now`;
    `fetch` gets SNS certificates and confirms SNS subscriptions (tests pass their own)."""
    endpoints = Endpoints(config, clock or Clock(config.now))
    admin = create_admin(config, endpoints.store, endpoints.clock)
    manage = ManageLinks(endpoints)
    counter = ClickCounter(config, endpoints.store, endpoints.clock, endpoints.tokens.secret)
    logging.getLogger("uvicorn.access").addFilter(REDACT_TOKENS)  # added once, however often
    routes = [
        *counter.routes(),  # first: the busiest paths, matched before any other
        Route("/subscribe", endpoints.subscribe, methods=["POST"]),
        Route("/confirm", endpoints.confirm, methods=["GET", "POST"]),
        Route("/unsubscribe", endpoints.unsubscribe, methods=["GET", "POST"]),
        Route("/preferences", endpoints.preferences, methods=["GET", "POST"]),
        *manage.routes(),
        Route("/healthz", endpoints.healthz, methods=["GET"]),
        *Webhooks(endpoints, fetch).routes(),
        Mount("/admin", admin),
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
        await run_in_threadpool(endpoints.welcomes.close)
        await run_in_threadpool(admin.state.console.close)
        await run_in_threadpool(manage.mailer.close)
        await run_in_threadpool(counter.close)  # the last group commit of clicks
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
