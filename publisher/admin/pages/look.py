"""The console's colours and the site's static files for the editor's preview.

`/theme.css` sets the console's `--brand` to `[site] accent_color` (the console's own CSS
mixes its accents from it, as the site's theme does; an inline style would break the
Content-Security-Policy). `/site-static/...` serves the theme's static files, the site's
own first, so a preview shows its styles and uploaded pictures before the site is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from fastapi import APIRouter, HTTPException, Request
from starlette.responses import FileResponse, Response

from publisher.admin.auth import Actor
from publisher.admin.permissions import PUBLIC, allow, may
from publisher.config import Config
from publisher.site import theme

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Section:
    """A part of the console in its navigation, shown to whoever may read it."""

    name: str
    label: str
    path: str
    action: str


SECTIONS = (
    Section("overview", "Overview", "/", "console.use"),
    Section("posts", "Posts", "/posts", "posts.read"),
    Section("campaigns", "Campaigns", "/campaigns", "campaigns.read"),
    Section("reports", "Reports", "/reports", "reports.read"),
    Section("subscribers", "Subscribers", "/subscribers", "subscribers.read"),
    Section("staff", "Staff", "/staff", "staff.read"),
    Section("audit", "Audit log", "/audit", "audit.read"),
)


def prepare(env: jinja2.Environment, config: Config) -> None:
    """What the console's templates use besides the page's own context: the sections a
    person may see, `may(action)`, times in the site's zone, addresses on the site."""

    @jinja2.pass_context
    def allowed(context: Any, action: str) -> bool:
        actor = context.get("actor")
        return actor is not None and may(actor.role, action)

    def site_time(moment: datetime | None, fmt: str = "%a %-d %b %Y, %H:%M") -> str:
        return config.local(moment).strftime(fmt) if moment else ""

    env.globals["may"] = allowed
    env.globals["zone"] = config.site.timezone
    env.filters["sections"] = lambda actor: [s for s in SECTIONS if may(actor.role, s.action)]
    env.filters["site_time"] = site_time
    env.filters["picture"] = picture


def picture(url: str, root: str) -> str:
    """A picture of the site as the console shows it: the site's own from the console's
    copy of its static files (the site may not be built yet), others as they are."""
    path = url.lstrip("/")
    if "://" not in url and path.startswith("static/"):
        return f"{root}/site-static/{path[len('static/') :]}"
    return url


@router.get("/theme.css")
async def colours(request: Request, actor: Actor | None = allow(PUBLIC)) -> Response:
    accent = request.app.state.console.config.site.accent_color
    return Response(f":root {{ --brand: {accent}; }}\n", media_type="text/css")


@router.get("/site-static/{path:path}")
async def site_static(request: Request, path: str, actor: Actor | None = allow(PUBLIC)) -> Response:
    """Public: the preview runs in a sandboxed frame, whose requests carry no session
    cookie; these are the files the site publishes anyway (uploads have unguessable names)."""
    config = request.app.state.console.config
    if path == "theme.css":  # written by the build from the settings, not a file
        css = theme.render(theme.site_environment(config), "theme.css")
        return Response(css, media_type="text/css")
    files = {name: source for source, name in theme.static_files(config)}
    source = files.get(f"static/{path}")
    if source is None:
        raise HTTPException(404, "No such file in the site's static folders.")
    return FileResponse(source)
