"""The staff console as one ASGI app, mounted by `publisher web` under /admin/: the pages
(sign-in, and the console's own), the Admin API under /api/, the console's static files.

Assembling it walks every route (`permissions.check_routes`): one without its declared
permission stops the app from starting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from publisher.admin.api import create_api
from publisher.admin.console import Console
from publisher.admin.pages import (
    campaigns,
    home,
    look,
    posts,
    reports,
    signin,
    staff,
    subscribers,
)
from publisher.admin.pages.render import message
from publisher.admin.permissions import check_routes
from publisher.config import Config
from publisher.errors import StoreError
from publisher.site.theme import DEFAULT_TEMPLATES
from publisher.store.db import Store

PAGES = [
    signin.router,
    home.router,
    look.router,
    posts.router,
    campaigns.router,
    reports.router,
    subscribers.router,
    staff.router,
]
STATIC = DEFAULT_TEMPLATES / "admin" / "static"


def create_admin(config: Config, store: Store, clock: Callable[[], datetime]) -> FastAPI:
    """The console for `config`, on the web app's store and clock. Its `state.console`
    holds what the routes share; `state.console.close()` at shutdown sends queued mail."""
    console = Console(config, store, clock)
    look.prepare(console.templates, config)
    admin = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for router in PAGES:
        admin.include_router(router)
    api = create_api()
    admin.mount("/api", api)
    admin.mount("/static", StaticFiles(directory=STATIC), name="static")
    for app in (admin, api):
        app.state.console = console
    admin.add_exception_handler(HTTPException, page_error)
    admin.add_exception_handler(StoreError, page_unavailable)
    check_routes(admin.routes)
    return admin


ERRORS = {
    403: ("Not allowed", "Your role may not do this. Ask an admin if you need to."),
    404: ("Not found", "There is no console page at this address."),
    405: ("Not allowed", "This address does not take that kind of request."),
}


async def page_error(request: Request, exc: Exception) -> Response:
    """A page's refusal as a page: not signed in goes to the sign-in form."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 401 and request.method in ("GET", "HEAD"):
        return RedirectResponse(f"{request.scope.get('root_path', '')}/sign-in", 303)
    if status == 401:
        return message(request, 401, "Signed out", "Your session ended; sign in again.")
    heading, text = ERRORS.get(status, ("Something went wrong", str(getattr(exc, "detail", ""))))
    if status == 403 and isinstance(exc, HTTPException) and "token" in str(exc.detail):
        text = str(exc.detail)  # the CSRF token: say what to do
    response = message(request, status, heading, text)
    for name, value in (getattr(exc, "headers", None) or {}).items():
        response.headers[name] = value
    return response


async def page_unavailable(request: Request, exc: Exception) -> Response:
    response = message(request, 503, "Busy", "The database is busy; try again in a moment.")
    response.headers["retry-after"] = "5"
    return response
