"""Signing in and out: passwordless, by a link emailed to a staff address.

`/sign-in` answers the same page, as fast, whether or not the address is staff: the link
is made and mailed by a mailer thread after the answer (as `/subscribe` does). The link
opens a page with a button, and only that button's POST signs in, so a mail scanner that
fetches the link does not use it up. A link works once; each sign-in starts a new session.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from publisher.admin import accounts
from publisher.admin.auth import (
    SESSION_COOKIE,
    Actor,
    check_origin,
    clear_session_cookie,
    client_of,
    set_session_cookie,
)
from publisher.admin.console import Console
from publisher.admin.pages.render import message, page
from publisher.admin.permissions import PUBLIC, allow
from publisher.admin.tokens import hashed
from publisher.store import sessions

router = APIRouter(include_in_schema=False)

SENT = "If this address is on the staff, a sign-in link is on its way. It works once."
USED = "This sign-in link was used already or is too old. Ask for a new one."


def form_text(value: object, limit: int = 320) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


@router.get("/sign-in")
async def sign_in_form(request: Request, actor: Actor | None = allow(PUBLIC)) -> Response:
    return page(request, "sign-in")


@router.post("/sign-in")
async def ask_for_link(request: Request, actor: Actor | None = allow(PUBLIC)) -> Response:
    console: Console = request.app.state.console
    check_origin(request, console)
    email = form_text((await request.form()).get("email")).lower()
    client = client_of(request).client
    for key in (f"ip:{client}", f"address:{email}"):
        if wait := console.limits.sign_in.retry_after(key):
            response = message(
                request, 429, "Too many requests", "Wait a few minutes, then try again."
            )
            response.headers["retry-after"] = str(wait)
            return response
    if email:
        console.mailer.submit((email, console.clock()))
    return message(request, 200, "Check your inbox", SENT, ("/sign-in", "Ask again"))


@router.get("/sign-in/link")
async def link_page(request: Request, actor: Actor | None = allow(PUBLIC)) -> Response:
    """The emailed link's page: a button, when the link can still be used."""
    console: Console = request.app.state.console
    token = form_text(request.query_params.get("token"), 100)
    state = await console.read(sessions.link_state, hashed(token), console.clock())
    if state != "valid":
        return message(request, 400, "Link used or expired", USED, ("/sign-in", "Ask again"))
    return page(request, "sign-in-link", token=token)


@router.post("/sign-in/link")
async def use_link(request: Request, actor: Actor | None = allow(PUBLIC)) -> Response:
    console: Console = request.app.state.console
    check_origin(request, console)
    token = form_text((await request.form()).get("token"), 100)
    started = await console.thread(
        accounts.sign_in,
        console.store,
        token,
        request.cookies.get(SESSION_COOKIE, ""),
        client_of(request),
        console.clock(),
        console.config,
    )
    if started is None:
        return message(request, 400, "Link used or expired", USED, ("/sign-in", "Ask again"))
    cookie, _member = started
    response = RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=303)
    set_session_cookie(response, console, cookie)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, actor: Actor = allow("account.manage")) -> Response:
    """Sign out here, or everywhere (form field `everywhere`)."""
    console: Console = request.app.state.console
    everywhere = bool((await request.form()).get("everywhere"))
    await console.thread(
        accounts.sign_out, console.store, actor.session_hash, actor.who, console.clock(), everywhere
    )
    where = "on every device" if everywhere else "on this device"
    request.state.actor = None  # the page shows nobody signed in
    response = message(
        request, 200, "Signed out", f"You are signed out {where}.", ("/sign-in", "Sign in again")
    )
    clear_session_cookie(response, console)
    return response
