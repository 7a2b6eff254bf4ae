"""Roles on the server, failing closed: every route of the console is walked anonymously
(401, or the sign-in page) and as each role (403 where the role may not), and an app with a
route that declares no permission, or a changing one on GET, refuses to start."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from publisher.admin import app as admin_app
from publisher.admin.api import create_api, document
from publisher.admin.permissions import (
    ACTIONS,
    PUBLIC,
    ROLES,
    UndeclaredRoute,
    allow,
    check_routes,
    declared,
    flat,
    may,
)
from publisher.config import load_config
from publisher.store.db import Store


def console_routes(app) -> list[tuple[str, str, str]]:
    """(method, path, action) of every route of the console, API included."""
    found = []
    for route in flat(app.routes):
        if isinstance(route, APIRoute):
            [permission] = declared(route)
            for method in sorted(route.methods):
                found.append((method, route.path, permission.action))
        elif hasattr(getattr(route, "app", None), "routes"):
            found += [(m, route.path + p, a) for m, p, a in console_routes(route.app)]
    return found


def concrete(path: str) -> str:
    """The path with an id no row has: a change that is allowed finds nothing to change."""
    return re.sub(r"\{[^}]+\}", "999999", path)


def test_every_route_refuses_strangers_and_roles_that_may_not(console) -> None:
    routes = console_routes(console.app.routes[-1].app)  # the /admin mount
    assert len(routes) >= 10
    stranger = console.client()
    clients = {role: console.staff(f"{role}@example.org", role) for role in ROLES}
    for method, path, action in sorted(routes, key=lambda r: "sign-out" in r[1]):
        url = "/admin" + concrete(path)
        if action == PUBLIC:
            continue
        answer = stranger.request(method, url)
        signed_out = {401} if "/api/" in url or method != "GET" else {303}
        assert answer.status_code in signed_out, (method, url, answer.status_code)
        for role, client in clients.items():
            answer = client.request(method, url, json={})
            if may(role, action):
                assert answer.status_code != 403, (role, method, url, answer.text)
            else:
                assert answer.status_code == 403, (role, method, url, answer.status_code)


def test_roles_grow_from_author_to_admin() -> None:
    assert ROLES["author"] < ROLES["editor"] < ROLES["admin"]
    assert not may("author", "posts.publish") and may("editor", "posts.publish")
    assert not may("editor", "staff.manage") and may("admin", "audit.read")
    assert not may("owner", "posts.read")  # an unknown role may nothing
    assert set(ROLES["admin"]) == set(ACTIONS)


def test_a_route_without_a_permission_stops_the_app(monkeypatch, site) -> None:
    router = APIRouter()

    @router.get("/forgotten")
    async def forgotten() -> dict:
        return {}

    monkeypatch.setattr(admin_app, "PAGES", [*admin_app.PAGES, router])
    config = load_config()
    with Store.open(config) as store, pytest.raises(UndeclaredRoute, match="/forgotten"):
        admin_app.create_admin(config, store, lambda: config.now)


def test_a_changing_action_on_get_or_a_reading_one_on_post_is_refused() -> None:
    app = FastAPI()

    @app.get("/sneaky")
    async def sneaky(actor=allow("posts.publish")) -> dict:
        return {}

    @app.post("/lazy")
    async def lazy(actor=allow("posts.read")) -> dict:
        return {}

    @app.get("/twice")
    async def twice(a=allow("posts.read"), b=allow("queue.read")) -> dict:
        return {}

    with pytest.raises(UndeclaredRoute) as refused:
        check_routes(app.routes)
    message = str(refused.value)
    assert "/sneaky: posts.publish changes things" in message
    assert "/lazy: ['POST'] needs an action that changes things" in message
    assert "/twice: declares 2 permissions" in message
    with pytest.raises(ValueError, match="unknown action"):
        allow("posts.everything")


def test_the_openapi_document_needs_no_server() -> None:
    spec = document()
    assert spec["openapi"].startswith("3.")
    assert spec["servers"] == [{"url": "/admin/api"}]
    assert "/me" in spec["paths"] and "/openapi.json" not in spec["paths"]
    check_routes(create_api().routes)
