"""What the console's forms share: the fields as text, and Post/Redirect/Get with a notice.

After a change the browser is sent (303) to a page that says what was done, named by a
key in the address (`?done=added`), so reloading it changes nothing again and no text
from the address reaches the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse


@dataclass(frozen=True)
class Flash:
    """A message on top of a page: ok, warn or error, with its items (the problems)."""

    kind: str
    text: str
    items: list[str] = field(default_factory=list)


def text(form: FormData, name: str, limit: int = 320) -> str:
    """A form field as text, trimmed and capped ("" when missing or a file)."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def done(request: Request, path: str, notice: str, **more: str) -> RedirectResponse:
    """303 to `path` under the console, saying `notice` there."""
    root = request.scope.get("root_path", "")
    return RedirectResponse(f"{root}{path}?{urlencode({'done': notice, **more})}", 303)


def notices(request: Request, said: dict[str, str]) -> list[Flash]:
    """The notice the address names, from the page's own table of them."""
    text = said.get(request.query_params.get("done", ""))
    return [Flash("ok", text)] if text else []


def problem(text: str, items: list[str] | None = None) -> list[Flash]:
    return [Flash("error", text, items or [])]
