"""Roles, the actions each may take, and the one check every console route goes through.

Each route declares the one action it needs with `allow("posts.write")` (a FastAPI
dependency that also hands the route the signed-in `Actor`); `check_routes` walks every
route when the app is assembled and refuses to start when one declares none, or declares a
changing action on GET (nothing changes on GET or HEAD). So a route nobody thought about
cannot run: it fails closed, as Ghost's API pipeline does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from publisher.admin.auth import Actor, authenticate, check_csrf

PUBLIC = "public"  # anyone, signed in or not: the sign-in pages, the OpenAPI document

# Every action, and whether it changes anything (then: not on GET, CSRF with a cookie).
ACTIONS: dict[str, bool] = {
    "console.use": False,  # any staff member: who am I, the dashboard
    "account.manage": True,  # one's own sessions: sign out (everywhere)
    "posts.read": False,
    "posts.preview": False,
    "posts.write": True,  # drafts: write, change, delete
    "posts.test": True,  # a test copy of a post to oneself
    "posts.publish": True,  # schedule, publish, unpublish: anything a reader may see
    "queue.read": False,
    "campaigns.read": False,
    "campaigns.send": True,  # pause, resume (and release the brake)
    "reports.read": False,  # campaign, audience and posts reports, and their CSV
    "subscribers.read": False,
    "subscribers.manage": True,  # add, import, erase
    "health.read": False,
    "staff.read": False,
    "staff.manage": True,
    "audit.read": False,
}

AUTHOR = frozenset(
    {"console.use", "account.manage", "posts.read", "posts.preview", "posts.write", "posts.test"}
    | {"queue.read"}
)
EDITOR = AUTHOR | {
    "posts.publish",
    "campaigns.read",
    "campaigns.send",
    "reports.read",
    "subscribers.read",
    "subscribers.manage",
    "health.read",
}
ADMIN = EDITOR | {"staff.read", "staff.manage", "audit.read"}
ROLES: dict[str, frozenset[str]] = {"author": AUTHOR, "editor": EDITOR, "admin": ADMIN}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def may(role: str, action: str) -> bool:
    """Whether `role` may take `action` (unknown roles and actions may nothing)."""
    return action in ROLES.get(role, frozenset())


class Forbidden(HTTPException):
    def __init__(self, role: str, action: str):
        super().__init__(403, f"Your role ({role}) may not do this ({action}); ask an admin.")


def require(actor: Actor, action: str) -> None:
    """The check for a second action inside a route (an author's edit that would publish)."""
    if not may(actor.role, action):
        raise Forbidden(actor.role, action)


class Permission:
    """The declared action of a route, checked before the route runs: 401 without a
    signed-in person, 403 for a role that may not, 403 for a change sent with the session
    cookie but without its CSRF token. The route gets the `Actor` (None for PUBLIC)."""

    def __init__(self, action: str):
        if action != PUBLIC and action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; declare it in permissions.ACTIONS")
        self.action = action

    async def __call__(self, request: Request) -> Actor | None:
        actor = await authenticate(request)
        request.state.actor = actor
        if self.action == PUBLIC:
            return actor
        if actor is None:
            raise HTTPException(401, "Sign in first.", {"www-authenticate": "Bearer"})
        require(actor, self.action)
        if ACTIONS[self.action] and actor.via == "session":
            await check_csrf(request, actor)
        return actor

    def __repr__(self) -> str:
        return f"Permission({self.action!r})"


def allow(action: str) -> Any:
    """Declare the action a route needs: `actor: Actor = allow("posts.write")`."""
    return Depends(Permission(action))


def declared(route: APIRoute) -> list[Permission]:
    """The permissions a route declares, in its own and its dependencies' dependencies."""
    found, stack = [], list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Permission):
            found.append(dependant.call)
        stack.extend(dependant.dependencies)
    return found


def flat(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes, with those of included routers in their place (FastAPI 0.116 and later
    keep an included router as one lazy entry)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route
        else:
            yield from flat(context.original_route for context in contexts())


def problems(routes: Iterable[BaseRoute], prefix: str = "") -> list[str]:
    """Every route that could run without its one declared action, or changes on GET."""
    found = []
    for route in flat(routes):
        path = prefix + getattr(route, "path", "?")
        if isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            continue  # files anyone may fetch: the console's styles and scripts
        if isinstance(route, Mount):
            found += problems(getattr(route.app, "routes", []), path)
            if not hasattr(route.app, "routes"):
                found.append(f"{path}: a mounted app whose routes cannot be checked")
            continue
        if not isinstance(route, APIRoute):
            found.append(f"{path}: not an APIRoute, so it cannot declare a permission")
            continue
        actions = [p.action for p in declared(route)]
        if len(actions) != 1:
            found.append(f"{path}: declares {len(actions)} permissions; declare exactly one")
            continue
        changes = actions[0] != PUBLIC and ACTIONS[actions[0]]
        if changes and route.methods & SAFE_METHODS:
            found.append(f"{path}: {actions[0]} changes things, so it cannot be a GET")
        if not changes and actions[0] != PUBLIC and route.methods - SAFE_METHODS:
            found.append(f"{path}: {sorted(route.methods)} needs an action that changes things")
    return found


class UndeclaredRoute(RuntimeError):
    """The app has a route without a declared permission: it must not start."""


def check_routes(routes: Iterable[BaseRoute]) -> None:
    """Refuse to start (UndeclaredRoute) unless every route declares exactly one action."""
    found = problems(routes)
    if found:
        raise UndeclaredRoute("routes without a proper permission:\n" + "\n".join(found))
