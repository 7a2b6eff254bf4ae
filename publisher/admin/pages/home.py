"""The console's front page (`/admin/`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from publisher.admin.auth import Actor
from publisher.admin.pages.render import page
from publisher.admin.permissions import allow

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, actor: Actor = allow("console.use")) -> Response:
    """Who is signed in; the dashboard (what needs attention, the queue) grows here."""
    return page(request, "home")
