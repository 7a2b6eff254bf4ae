"""Who is asking: sessions (the cookie), API keys (Bearer), CSRF and rate limits.

Secrets come from `tokens` and are stored as hashes; a session's CSRF token is random too,
kept with the session, and compared in constant time.
A request that comes with the session cookie and changes something must carry that token
(form field `csrf_token` or header `X-CSRF-Token`); a request with an API key needs none
(no browser sends a Bearer header on its own).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.responses import Response

from publisher.admin.console import Console
from publisher.admin.tokens import hashed
from publisher.store import sessions, staff
from publisher.store.audit import Entry, Who
from publisher.store.staff import StaffMember
from publisher.web.guard import origin

SESSION_COOKIE = "publisher_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Actor:
    """The signed-in staff member making a request, and how they proved it."""

    member: StaffMember
    via: str  # "session" or "key"
    who: Who
    session_hash: str = ""
    csrf_token: str = ""

    @property
    def role(self) -> str:
        return self.member.role

    def did(self, action: str, object: str = "", detail: str = "") -> Entry:
        """The audit entry of a change this person makes."""
        return Entry(self.who, action, object, detail)


def client_of(request: Request) -> Who:
    """Where a request comes from, as the audit log keeps it (no one signed in yet)."""
    ip = request.client.host if request.client else "unknown"
    return Who(client=ip, user_agent=request.headers.get("user-agent", "")[:300])


def too_many(wait: int) -> HTTPException:
    return HTTPException(429, "Too many requests; try again shortly.", {"retry-after": str(wait)})


async def authenticate(request: Request) -> Actor | None:
    """The staff member behind the request's API key or session cookie, or None.

    A Bearer header that is not a live key is refused (401) rather than ignored, and a
    client trying unknown keys is slowed down (429)."""
    console: Console = request.app.state.console
    place = client_of(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise HTTPException(401, "Send Authorization: Bearer <API key>.", BEARER)
        member = await console.read(staff.by_api_key, hashed(key.strip()))
        if member is None:
            if wait := console.limits.bad_keys.retry_after(place.client):
                raise too_many(wait)
            raise HTTPException(401, "That API key is not valid (any more).", BEARER)
        for limit_key in (f"key:{member.id}", f"ip:{place.client}"):
            if wait := console.limits.api.retry_after(limit_key):
                raise too_many(wait)
        return Actor(member, "key", place.signed(member))
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = await console.read(
        sessions.find_session, hashed(cookie), console.clock(), console.config.admin.session_idle
    )
    if found is None:
        return None
    session, member = found
    return Actor(member, "session", place.signed(member), session.id_hash, session.csrf_token)


BEARER = {"www-authenticate": "Bearer"}


async def check_csrf(request: Request, actor: Actor) -> None:
    """Refuse (403) a cookie-authenticated change without the session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(FORMS):
        form = await request.form()  # parsed once: the route reads the same one
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else ""
    if not (sent and hmac.compare_digest(sent.encode(), actor.csrf_token.encode())):
        raise HTTPException(
            403, "The form's security token is missing or old; reload the page and try again."
        )


def check_origin(request: Request, console: Console) -> None:
    """A browser's cross-site POST to a page that takes no session yet (sign-in) is
    refused: no other site may sign someone in to an account of its choosing."""
    sent = request.headers.get("origin")
    if sent and sent != "null" and sent != origin(console.config.web.url):
        own = request.url
        if sent != f"{own.scheme}://{own.netloc}":
            raise HTTPException(403, "This form must be sent from the console's own pages.")


def set_session_cookie(response: Response, console: Console, cookie: str) -> None:
    """HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), Secure
    when the app is served over https, scoped to /admin, living as long as the session."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(console.config.admin.session_lifetime.total_seconds()),
        path="/admin",
        secure=urlsplit(console.config.web.url).scheme == "https",
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, console: Console) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/admin",
        secure=urlsplit(console.config.web.url).scheme == "https",
        httponly=True,
        samesite="lax",
    )
