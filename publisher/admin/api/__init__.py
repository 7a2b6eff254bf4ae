"""The Admin API: JSON under /admin/api/, one module per resource, described by the OpenAPI
document FastAPI generates from the routes' pydantic models (`/admin/api/openapi.json`,
or `document()` without a server).

Authenticated by the console's session cookie (plus the CSRF token on changes) or by
`Authorization: Bearer <API key>`; 401 without, 403 for a role that may not. Every route
declares its permission (`permissions.allow`) and calls the library function the command
line calls; every change writes an audit row (`Console.change`).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from publisher.admin.api import campaigns, posts, queue, reports, staff, subscribers, topics
from publisher.admin.auth import Actor
from publisher.admin.permissions import PUBLIC, ROLES, allow, declared, flat, may
from publisher.content import editing
from publisher.delivery import holds
from publisher.errors import ContentErrors, DeliveryError, PublisherError, StoreError
from publisher.reports.campaign import CampaignNotFound
from publisher.store.staff import StaffExists, StaffNotFound

ROUTERS = [
    posts.router,
    campaigns.router,
    reports.router,
    subscribers.router,
    topics.router,
    queue.router,
    staff.router,
]
SERVER = "/admin/api"


def create_api() -> FastAPI:
    """The API app, every resource's routes and the OpenAPI document's own route. Its
    `state.console` is set by `admin.app` (the document needs none)."""
    from importlib.metadata import version

    api = FastAPI(
        title="publisher Admin API",
        version=version("publisher"),
        description=__doc__,
        servers=[{"url": SERVER}],
        openapi_url=None,  # served below, declared public like every route declares
        docs_url=None,
        redoc_url=None,
    )
    for router in ROUTERS:
        api.include_router(router)

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request, actor: Actor | None = allow(PUBLIC)) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    api.openapi = lambda: with_permissions(api)
    api.add_exception_handler(StoreError, unavailable)
    api.add_exception_handler(PublisherError, refused)
    for error in STATUS:
        api.add_exception_handler(error, answered)
    api.add_exception_handler(editing.Stale, changed_on_disk)
    api.add_exception_handler(ContentErrors, check_refused)
    api.add_exception_handler(RequestValidationError, invalid)
    return api


def with_permissions(api: FastAPI) -> dict:
    """FastAPI's document of `api` with each operation's declared action and the roles
    that have it (`x-permission`, `x-roles`): what a script's key needs, in the docs too."""
    if api.openapi_schema is None:
        schema = FastAPI.openapi(api)
        for route in flat(api.routes):
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            action = declared(route)[0].action
            for method in route.methods:
                operation = schema["paths"][route.path][method.lower()]
                operation["x-permission"] = action
                operation["x-roles"] = [role for role in ROLES if may(role, action)]
    return api.openapi_schema


def document() -> dict:
    """The OpenAPI document, without a server: for the docs' reference page."""
    return create_api().openapi()


async def unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is locked, down or broken: 503, try again shortly."""
    return JSONResponse(
        {"detail": "The database is busy; try again in a moment."},
        status_code=503,
        headers={"retry-after": "5"},
    )


async def refused(request: Request, exc: Exception) -> JSONResponse:
    """A library refusal (a bad address, an unknown post) is the person's to fix: 422 with
    its one line, as the command line prints it."""
    return JSONResponse({"detail": str(exc), "problems": []}, status_code=422)


# Library refusals that are not the request's own fault, and their HTTP status.
STATUS: dict[type[Exception], int] = {
    StaffExists: 409,
    StaffNotFound: 404,
    holds.CampaignNotFound: 404,
    CampaignNotFound: 404,
    holds.CannotResume: 409,
    editing.NotFound: 404,
    DeliveryError: 502,  # the relay refused a test copy: its reply says why
}


async def answered(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for kind, code in STATUS.items() if isinstance(exc, kind))
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def changed_on_disk(request: Request, exc: Exception) -> JSONResponse:
    """412: the post file is not the version the change started from; nothing was written.
    The answer holds the file as it is now, to compare, and its ETag, to save over it."""
    current = getattr(exc, "current", "")
    return JSONResponse(
        {"detail": str(exc), "current": current, "current_etag": editing.etag(current.encode())},
        status_code=412,
    )


async def check_refused(request: Request, exc: Exception) -> JSONResponse:
    """422: the change would make a post `publisher check` refuses; nothing was written."""
    errors = exc.errors if isinstance(exc, ContentErrors) else []
    problems = [{"line": e.line, "message": e.message} for e in errors]
    return JSONResponse({"detail": str(exc), "problems": problems}, status_code=422)


async def invalid(request: Request, exc: Exception) -> JSONResponse:
    """Every problem of a request body or query, without echoing what was sent (it may be
    large, or hold someone's address)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    return JSONResponse({"detail": detail, "problems": []}, status_code=422)
