"""The staff, their API keys and the audit log; and `me`, the person signed in."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request

from publisher.admin import accounts
from publisher.admin.api.models import COMMON, Answer, Done, Model, answers
from publisher.admin.auth import Actor
from publisher.admin.console import Console
from publisher.admin.permissions import allow
from publisher.store import audit
from publisher.store import staff as staff_store
from publisher.store.staff import StaffMember

router = APIRouter(tags=["staff"], responses=COMMON)

Role = Literal["author", "editor", "admin"]


class Person(Answer):
    id: int
    email: str
    name: str
    role: Role
    added: datetime
    api_key: bool  # whether they have one (it is never shown again)

    @classmethod
    def of(cls, member: StaffMember) -> Person:
        return cls(
            id=member.id,
            email=member.email,
            name=member.name,
            role=member.role,
            added=member.created_at,
            api_key=member.key_created_at is not None,
        )


class Me(Person):
    csrf_token: str  # send it back (X-CSRF-Token) with every change made with the cookie
    via: Literal["session", "key"]


class NewPerson(Model):
    email: str
    name: str = ""
    role: Role


class Invited(Answer):
    person: Person
    sign_in_link: str  # works once, for 24 hours
    expires: datetime
    mailed: str


class ApiKey(Answer):
    key: str  # shown this once; the store keeps its hash only


def console_of(request: Request) -> Console:
    return request.app.state.console


@router.get("/me")
async def me(actor: Actor = allow("console.use")) -> Me:
    """Who is signed in, their role, and the CSRF token for the session's changes."""
    return Me(**Person.of(actor.member).model_dump(), csrf_token=actor.csrf_token, via=actor.via)


@router.post("/me/key")
async def my_key(request: Request, actor: Actor = allow("account.manage")) -> ApiKey:
    """A new API key for yourself; the one before stops working."""
    console = console_of(request)
    key = await console.thread(
        accounts.new_key, console.store, actor.member.email, actor.who, console.clock()
    )
    return ApiKey(key=key)


@router.post("/me/sign-out-everywhere")
async def sign_out_everywhere(request: Request, actor: Actor = allow("account.manage")) -> Done:
    """End every session you have, this one too (API keys keep working)."""
    console = console_of(request)
    ended = await console.thread(
        accounts.sign_out, console.store, actor.session_hash, actor.who, console.clock(), True
    )
    return Done(message=f"{ended} session(s) ended")


@router.get("/staff")
async def list_staff(request: Request, actor: Actor = allow("staff.read")) -> list[Person]:
    members = await console_of(request).read(staff_store.list_staff)
    return [Person.of(member) for member in members]


@router.post("/staff", status_code=201, responses=answers(409))
async def add_staff(
    request: Request, new: NewPerson, actor: Actor = allow("staff.manage")
) -> Invited:
    """Add someone; their sign-in link is emailed to them (and returned here)."""
    console = console_of(request)
    invited = await console.thread(
        accounts.add,
        console.config,
        console.store,
        new.email,
        new.name,
        new.role,
        actor.who,
        console.clock(),
    )
    return Invited(
        person=Person.of(invited.member),
        sign_in_link=invited.link,
        expires=invited.expires_at,
        mailed=invited.mailed,
    )


@router.delete("/staff/{staff_id}", responses=answers(404))
async def remove_staff(
    request: Request, staff_id: int, actor: Actor = allow("staff.manage")
) -> Done:
    """Remove someone: their sessions and API key stop working at once."""
    console = console_of(request)
    member = await found(console, staff_id)
    await console.thread(accounts.remove, console.store, member.email, actor.who, console.clock())
    return Done(message=f"removed {member.email}")


@router.post("/staff/{staff_id}/key", responses=answers(404))
async def staff_key(
    request: Request, staff_id: int, actor: Actor = allow("staff.manage")
) -> ApiKey:
    """A new API key for someone (shown once); their old one stops working."""
    console = console_of(request)
    member = await found(console, staff_id)
    key = await console.thread(
        accounts.new_key, console.store, member.email, actor.who, console.clock()
    )
    return ApiKey(key=key)


@router.get("/audit")
async def audit_log(
    request: Request,
    since: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    actor: Actor = allow("audit.read"),
) -> list[audit.Row]:
    """Who changed what, newest first (a time without an offset is site time)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=console_of(request).config.tz)
    return await console_of(request).read(audit.rows, since, limit)


async def found(console: Console, staff_id: int) -> StaffMember:
    member = await console.read(staff_store.get, staff_id)
    if member is None:
        raise HTTPException(404, f"No staff member has id {staff_id}.")
    return member
