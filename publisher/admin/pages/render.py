"""Rendering a console page: the template with the signed-in person, the CSRF token and
the console's root path (`/admin`) in its context."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from publisher.site import theme


def page(request: Request, name: str, status: int = 200, **context: object) -> HTMLResponse:
    """`templates/admin/<name>.html` for this request. `actor` is whoever the route's
    permission check found (None on a public page); forms carry `actor.csrf_token`."""
    console = request.app.state.console
    actor = getattr(request.state, "actor", None)
    html = theme.render(
        console.templates,
        f"{name}.html",
        root=request.scope.get("root_path", ""),
        actor=actor,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def message(
    request: Request, status: int, heading: str, text: str, next: tuple[str, str] | None = None
) -> HTMLResponse:
    """A short page saying one thing, with a link onwards (`next`: path under /admin, text)."""
    link = {"url": next[0], "text": next[1]} if next else None
    return page(request, "message", status, heading=heading, message=text, next=link)
