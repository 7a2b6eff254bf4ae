"""The console's pages over HTTP (uvicorn on loopback): every page for every role (what
each may see, 403 where not), forms refused without the CSRF token, no change on GET, and
what each form does, with its audit row."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from publisher import store as st
from publisher.store.staff_schema import audit

from conftest import write_post

PAGES = ["/admin/", "/admin/posts", "/admin/posts/new", "/admin/posts/hello", "/admin/campaigns"]
PAGES += ["/admin/subscribers", "/admin/staff", "/admin/audit", "/admin/reports"]
MAY = {
    "author": {"/admin/", "/admin/posts", "/admin/posts/new", "/admin/posts/hello"},
    "editor": set(PAGES) - {"/admin/staff", "/admin/audit"},
    "admin": set(PAGES),
}


@pytest.fixture
def hello(console):
    write_post(
        console.config.root,
        "2026-11-01-hello.md",
        "title: Hello\ndate: 2026-11-01 09:00\ndraft: true\n",
    )
    return console


@pytest.mark.parametrize("role", ["author", "editor", "admin"])
def test_each_role_sees_its_pages_and_is_refused_the_others(hello, role: str) -> None:
    client = hello.staff(f"{role}@example.org", role)
    for path in PAGES:
        answer = client.get(path)
        expected = 200 if path in MAY[role] else 403
        assert answer.status_code == expected, (path, answer.text[:300])
        if expected == 200:
            assert 'name="csrf_token"' in answer.text  # the sign-out form at least
    anonymous = hello.client()
    assert anonymous.get("/admin/posts").headers["location"].endswith("/admin/sign-in")


def audit_actions(console) -> list[str]:
    with console.store.read() as conn:
        return list(conn.execute(select(audit.c.action).order_by(audit.c.id)).scalars())


def test_a_form_without_the_csrf_token_changes_nothing(hello) -> None:
    client = hello.staff("ed@example.org", "editor")
    del client.headers["x-csrf-token"]
    answer = client.post("/admin/subscribers/add", data={"email": "new@example.org"})
    assert answer.status_code == 403 and "security token" in answer.text
    assert st.get_by_email(hello.store, "new@example.org") is None


def test_editors_add_search_import_and_erase_subscribers(hello) -> None:
    client = hello.staff("ed@example.org", "editor")
    added = client.post("/admin/subscribers/add", data={"email": "Ana@Example.org", "name": "Ana"})
    assert added.status_code == 303 and added.headers["location"].endswith("done=added")
    assert "Ana@example.org" in client.get("/admin/subscribers?query=ana").text
    assert "Ana@example.org" not in client.get("/admin/subscribers?query=bo").text

    csv = "email,name\nbo@example.org,Bo\nnot-an-address,X\nana@example.org,Ana\n"
    dry = client.post("/admin/subscribers/import", files={"file": ("list.csv", csv, "text/csv")})
    assert dry.status_code == 200 and "What importing would do" in dry.text
    assert re.search(r"<td class=\"num\">3</td><td>", dry.text)  # line 3 is left out, and why
    assert st.get_by_email(hello.store, "bo@example.org") is None  # a dry run writes nothing
    upload = re.search(r'name="upload" value="([^"]+)"', dry.text).group(1)
    done = client.post("/admin/subscribers/import", data={"upload": upload, "name": "list.csv"})
    assert done.status_code == 200 and "Imported" in done.text
    bo = st.get_by_email(hello.store, "bo@example.org")
    assert bo is not None

    exported = client.get("/admin/api/subscribers/export")
    assert "bo@example.org" in exported.text
    assert exported.headers["content-disposition"].startswith("attachment")
    erased = client.post(f"/admin/subscribers/{bo.id}/erase")
    assert erased.status_code == 303 and st.get_by_email(hello.store, "bo@example.org") is None
    assert audit_actions(hello)[-3:] == ["subscriber.add", "subscribers.import", "subscriber.erase"]


def test_an_author_saves_drafts_but_cannot_schedule_or_publish(hello) -> None:
    client = hello.staff("au@example.org", "author")
    form = {"title": "Hello", "date": "2026-11-01T09:00", "body": "Mine.\n", "draft": "1"}
    page = client.get("/admin/posts/hello").text
    form["etag"] = re.search(r'name="etag" value="([^"]+)"', page).group(1).replace("&#34;", '"')
    assert "Schedule" not in page and "Publish now" not in page
    path = hello.config.root / "posts/2026-11-01-hello.md"
    before = path.read_text()
    for action in ("schedule", "publish"):
        refused = client.post("/admin/posts/hello", data=form | {"action": action})
        assert refused.status_code == 403
    live = client.post("/admin/posts/hello", data={**form, "draft": "", "action": "save"})
    assert live.status_code == 403  # a save that makes it public is publishing
    assert path.read_text() == before
    saved = client.post("/admin/posts/hello", data=form | {"action": "save"})
    assert saved.status_code == 303 and "Mine." in path.read_text()
    assert audit_actions(hello)[-1] == "post.save"


def test_a_save_over_a_changed_file_shows_both_versions_and_keeps_mine(hello) -> None:
    client = hello.staff("ed@example.org", "editor")
    page = client.get("/admin/posts/hello").text
    etag = re.search(r'name="etag" value="([^"]+)"', page).group(1).replace("&#34;", '"')
    path = hello.config.root / "posts/2026-11-01-hello.md"
    path.write_text(path.read_text().replace("Hello **world**.", "Changed in git."))
    form = {"title": "Hello", "date": "2026-11-01T09:00", "body": "My words.\n", "draft": "1"}
    answer = client.post("/admin/posts/hello", data=form | {"etag": etag, "action": "save"})
    assert answer.status_code == 412
    assert "Changed in git." in answer.text and "My words." in answer.text
    assert "My words." not in path.read_text()
    bad = client.post("/admin/posts/new", data=form | {"title": "", "action": "save"})
    assert bad.status_code == 422 and "give the post a title" in bad.text


def test_the_vendored_editor_is_the_pinned_version_with_its_licence() -> None:
    """The Markdown editor's files are what tools/vendor_editor.py fetched: the version it
    pins, its MIT licence beside it, and the stylesheet the CSP needs as a file."""
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "tools"))
    import vendor_editor

    folder = vendor_editor.TARGET
    assert (folder / "VERSION").read_text().split()[:3] == [
        vendor_editor.NAME,
        vendor_editor.VERSION,
        vendor_editor.INTEGRITY,
    ]
    assert f"OverType v{vendor_editor.VERSION}" in (folder / "overtype.min.js").read_text()[:300]
    assert (folder / "LICENSE").read_text().startswith("MIT License")
    assert ".overtype-container" in (folder / "overtype.css").read_text()
