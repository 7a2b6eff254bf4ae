"""The admins' pages: the staff (add, remove) and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from publisher.admin import accounts
from publisher.admin.auth import Actor
from publisher.admin.pages.forms import done, notices, problem, text
from publisher.admin.pages.render import page
from publisher.admin.permissions import allow
from publisher.errors import PublisherError
from publisher.store import audit
from publisher.store import staff as staff_store

router = APIRouter(include_in_schema=False)

SAID = {
    "added": "Added. They have an email with a link that signs them in.",
    "removed": "Removed. Their sessions and API key no longer work.",
}


async def staff_page(request: Request, status: int = 200, flashes=None) -> Response:
    members = await request.app.state.console.read(staff_store.list_staff)
    flashes = flashes if flashes is not None else notices(request, SAID)
    return page(request, "staff", status, section="staff", members=members, flashes=flashes)


@router.get("/staff")
async def staff_list(request: Request, actor: Actor = allow("staff.read")) -> Response:
    return await staff_page(request)


@router.post("/staff/add")
async def staff_add(request: Request, actor: Actor = allow("staff.manage")) -> Response:
    console = request.app.state.console
    form = await request.form()
    email, name, role = text(form, "email"), text(form, "name", 100), text(form, "role", 10)
    try:
        await console.thread(
            accounts.add,
            console.config,
            console.store,
            email,
            name,
            role,
            actor.who,
            console.clock(),
        )
    except PublisherError as refused:
        return await staff_page(request, 400, problem(f"Not added: {refused}"))
    return done(request, "/staff", "added")


@router.post("/staff/remove")
async def staff_remove(request: Request, actor: Actor = allow("staff.manage")) -> Response:
    console = request.app.state.console
    email = text(await request.form(), "email")
    try:
        await console.thread(accounts.remove, console.store, email, actor.who, console.clock())
    except PublisherError as refused:
        return await staff_page(request, 400, problem(f"Not removed: {refused}"))
    return done(request, "/staff", "removed")


@router.get("/audit")
async def audit_log(request: Request, actor: Actor = allow("audit.read")) -> Response:
    entries = await request.app.state.console.read(audit.rows, None, 200)
    return page(request, "audit", section="audit", entries=entries, pages=None)
