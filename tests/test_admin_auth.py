"""The staff console's front door, over real HTTP (uvicorn on loopback): staff on the command
line, sign-in by emailed link (POST only, once), sessions in the store (rotation, idle and
absolute expiry, sign-out everywhere), CSRF, rate limits, and the audit rows they leave."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from publisher.config import load_config
from publisher.store import audit
from publisher.store.db import Store

from conftest import run_publisher


def test_staff_commands_add_list_key_remove_and_audit(site: Path) -> None:
    added = run_publisher("staff", "add", "Ana@Example.org", "--name", "Ana", "--role", "editor")
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert lines[0] == "added: Ana@example.org (editor)"
    assert "emailed to Ana@example.org" in lines[1]
    assert re.fullmatch(r"https://blog\.example\.org/admin/sign-in/link\?token=[\w-]{43}", lines[2])
    [mail] = list((site / "data" / "outbox" / "new").glob("*.eml"))
    assert lines[2] in mail.read_text()

    again = run_publisher("staff", "add", "ana@example.org", "--role", "admin")
    assert again.returncode == 2 and "already staff" in again.stderr
    wrong = run_publisher("staff", "add", "ana@example.org", "--role", "owner")
    assert wrong.returncode == 2

    key = run_publisher("staff", "key", "ana@example.org")
    assert key.returncode == 0 and re.fullmatch(r"pk_[\w-]{43}\n", key.stdout)
    listed = json.loads(run_publisher("staff", "list", "--json").stdout)
    assert [(p["email"], p["role"], p["api_key"]) for p in listed] == [
        ("Ana@example.org", "editor", True)
    ]

    gone = run_publisher("staff", "remove", "ANA@example.org")
    assert gone.returncode == 0 and "removed: Ana@example.org" in gone.stdout
    assert run_publisher("staff", "remove", "ana@example.org").returncode == 2
    assert "no staff yet" in run_publisher("staff", "list").stdout

    rows = [
        json.loads(line) for line in run_publisher("staff", "audit", "--json").stdout.splitlines()
    ]
    assert [r["action"] for r in rows] == ["staff.remove", "staff.key", "staff.add"]
    assert all(r["client"].startswith("cli (") and r["staff_id"] is None for r in rows)
    text = run_publisher("staff", "audit", "--since", "2000-01-01").stdout
    assert "staff.add Ana@example.org (role editor)" in text


def test_the_emailed_link_signs_in_only_by_its_button_and_only_once(console) -> None:
    link = console.add_staff("ana@example.org", "admin")
    browser = console.client()
    page = browser.get(link)  # what a link scanner does: nothing is used up
    assert page.status_code == 200 and "<button" in page.text
    assert browser.get(link).status_code == 200
    signed_in = console.sign_in(link, browser)
    me = signed_in.get("/admin/api/me").json()
    assert (me["email"], me["role"], me["via"]) == ("ana@example.org", "admin", "session")

    again = console.client()
    assert again.get(link).status_code == 400  # used: the page says so
    token = re.search(r"token=(.+)$", link).group(1)
    reused = again.post("/admin/sign-in/link", data={"token": token})
    assert reused.status_code == 400 and "set-cookie" not in reused.headers
    forged = again.post("/admin/sign-in/link", data={"token": "x" * 43})
    assert forged.status_code == 400


def test_sign_in_answers_the_same_for_staff_and_strangers(console) -> None:
    console.add_staff("ana@example.org", "author")
    before = len(console.outbox())
    client = console.client()
    staff = client.post("/admin/sign-in", data={"email": "ana@example.org"})
    stranger = client.post("/admin/sign-in", data={"email": "eve@example.org"})
    assert staff.status_code == stranger.status_code == 200
    assert staff.text == stranger.text
    mail = wait_for_mail(console, before + 1)
    assert [m["To"].addresses[0].addr_spec for m in mail[before:]] == ["ana@example.org"]
    link = re.search(r"http\S+", mail[-1].get_content()).group(0)
    assert console.sign_in(link).get("/admin/api/me").status_code == 200


def test_a_link_expires(console) -> None:
    link = console.add_staff("ana@example.org", "author")
    console.clock.advance(hours=24, seconds=1)
    assert console.client().get(link).status_code == 400


def test_a_new_sign_in_rotates_the_session(console) -> None:
    first = console.staff("ana@example.org", "editor")
    old = first.cookie
    link = console.add_staff("bob@example.org", "author")
    second = console.sign_in(link, first)  # the same browser signs in again
    assert second.cookie != old
    stale = console.client(cookie=f"publisher_session={old}")
    assert stale.get("/admin/api/me").status_code == 401


def test_sessions_end_when_idle_and_at_their_lifetime(console) -> None:
    client = console.staff("ana@example.org", "author")
    console.clock.advance(hours=11)
    assert client.get("/admin/api/me").status_code == 200  # and this use keeps it alive
    console.clock.advance(hours=11)
    assert client.get("/admin/api/me").status_code == 200
    console.clock.advance(hours=12, seconds=1)  # idle for longer than [admin] session_idle
    assert client.get("/admin/api/me").status_code == 401

    busy = console.staff("bob@example.org", "author")
    signed_in_at = console.clock.now
    while busy.get("/admin/api/me").status_code == 200:  # used every 11 hours
        console.clock.advance(hours=11)
    lasted = console.clock.now - signed_in_at
    assert timedelta(days=14) <= lasted < timedelta(days=14, hours=11)  # [admin] session_lifetime


def test_changes_with_the_cookie_need_the_csrf_token(console) -> None:
    client = console.staff("ana@example.org", "admin")
    token = client.headers.pop("x-csrf-token")
    refused = client.post("/admin/api/me/key")
    assert refused.status_code == 403 and "token" in refused.json()["detail"]
    wrong = client.post("/admin/api/me/key", headers={"x-csrf-token": token[:-1] + "x"})
    assert wrong.status_code == 403
    assert client.post("/admin/api/me/key", headers={"x-csrf-token": token}).status_code == 200
    form = client.post("/admin/sign-out", data={"csrf_token": "nope"})
    assert form.status_code == 403
    assert client.get("/admin/api/me").status_code == 200  # still signed in
    signed_out = client.post("/admin/sign-out", data={"csrf_token": token})
    assert signed_out.status_code == 200 and "signed out" in signed_out.text
    assert 'publisher_session=""' in signed_out.headers["set-cookie"]
    assert client.get("/admin/api/me").status_code == 401

    key = console.api_key("ana@example.org")  # no browser sends this header on its own
    bearer = console.client(authorization=f"Bearer {key}")
    assert bearer.post("/admin/api/me/key").status_code == 200


def test_sign_out_everywhere_ends_every_session(console) -> None:
    link = console.add_staff("ana@example.org", "author")
    phone = console.sign_in(link)
    laptop = console.sign_in(console.add_staff("bob@example.org", "author"))
    desk = console.sign_in(second_link(console, "ana@example.org"))
    answer = desk.post("/admin/sign-out", data={"everywhere": "1"})
    assert answer.status_code == 200
    assert phone.get("/admin/api/me").status_code == 401
    assert desk.get("/admin/api/me").status_code == 401
    assert laptop.get("/admin/api/me").status_code == 200  # somebody else's


def test_removing_someone_signs_them_out_and_stops_their_key(console) -> None:
    client = console.staff("ana@example.org", "editor")
    key = console.api_key("ana@example.org")
    run = run_publisher_here(console, "staff", "remove", "ana@example.org")
    assert run.returncode == 0, run.stderr
    assert client.get("/admin/api/me").status_code == 401
    bearer = console.client(authorization=f"Bearer {key}")
    assert bearer.get("/admin/api/me").status_code == 401


def test_a_new_key_replaces_the_old_one(console) -> None:
    console.add_staff("ana@example.org", "author")
    old = console.api_key("ana@example.org")
    new = console.api_key("ana@example.org")
    assert console.client(authorization=f"Bearer {old}").get("/admin/api/me").status_code == 401
    assert console.client(authorization=f"Bearer {new}").get("/admin/api/me").status_code == 200
    assert console.client(authorization="Basic abc").get("/admin/api/me").status_code == 401


def test_sign_in_and_keys_are_rate_limited(start_console) -> None:
    console = start_console(admin_sign_in_per_hour="3", admin_api_per_minute="5")
    client = console.client()
    answers = [
        client.post("/admin/sign-in", data={"email": "ana@example.org"}).status_code
        for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    limited = client.post("/admin/sign-in", data={"email": "bob@example.org"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0

    bad = console.client(authorization="Bearer pk_wrong")
    codes = [bad.get("/admin/api/me").status_code for _ in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429

    console.add_staff("ana@example.org", "author")
    good = console.client(authorization=f"Bearer {console.api_key('ana@example.org')}")
    codes = [good.get("/admin/api/me").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


def test_the_session_cookie_is_httponly_lax_scoped_and_secure_on_https(start_console) -> None:
    console = start_console()
    link = console.add_staff("ana@example.org", "author")
    client = console.client()
    token = re.search(r'name="token" value="([^"]+)"', client.get(link).text).group(1)
    cookie = client.post("/admin/sign-in/link", data={"token": token}).headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # [web] url is http here

    secure = start_console(web_url="https://news.example.org")  # the same site and store
    link = secure.add_staff("bob@example.org", "author").replace("https://news.example.org", "")
    client = secure.client()
    token = re.search(r'name="token" value="([^"]+)"', client.get(link).text).group(1)
    cookie = client.post("/admin/sign-in/link", data={"token": token}).headers["set-cookie"]
    assert "Secure" in cookie


def test_a_cross_site_sign_in_form_is_refused(console) -> None:
    link = console.add_staff("ana@example.org", "author")
    token = re.search(r"token=(.+)$", link).group(1)
    evil = console.client(origin="https://evil.example")
    answer = evil.post("/admin/sign-in/link", data={"token": token})
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    assert console.sign_in(link).get("/admin/api/me").status_code == 200  # still unused


def test_pages_send_strangers_to_sign_in(console) -> None:
    answer = console.client().get("/admin/")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/sign-in"
    signed_in = console.staff("ana@example.org", "author")
    assert "ana@example.org (author)" in signed_in.get("/admin/").text  # the bar says who


def test_every_sign_in_and_change_leaves_an_audit_row(console) -> None:
    client = console.staff("ana@example.org", "admin")
    client.post("/admin/api/me/key")
    client.post("/admin/sign-out")
    rows = audit.rows(console.store)
    assert [r.action for r in rows] == [
        "session.sign_out",
        "staff.key",
        "session.sign_in",
        "staff.add",
    ]
    signed = rows[:3]
    assert {(r.staff_email, r.client) for r in signed} == {("ana@example.org", "127.0.0.1")}
    assert all(r.user_agent.startswith("python-httpx") for r in signed)
    assert rows[3].staff_email == "" and rows[3].client.startswith("cli (")


def test_a_store_from_before_the_console_gets_its_tables(site: Path) -> None:
    """An older store migrates: the staff tables appear and the CLI works on them."""
    from sqlalchemy import text

    from publisher.store.migrations import MIGRATIONS, _staff_console

    config = load_config()
    with Store.open(config) as store, store.transaction() as conn:
        for table in ("audit", "staff_sessions", "staff_links", "staff"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(  # as it was before the console's version (and any after it)
            text("DELETE FROM schema_version WHERE version > :before"),
            {"before": MIGRATIONS.index(_staff_console)},
        )
    assert run_publisher("staff", "add", "ana@example.org", "--role", "admin").returncode == 0
    assert "ana@example.org" in run_publisher("staff", "list").stdout


# --- helpers ---------------------------------------------------------------------------


def wait_for_mail(console, count: int) -> list:
    import time

    deadline = time.monotonic() + 10
    while len(console.outbox()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return console.outbox()


def second_link(console, email: str) -> str:
    """Another sign-in link for someone already on the staff (as /admin/sign-in mails)."""
    from publisher.admin import accounts

    before = len(console.outbox())
    accounts.request_link(console.config, console.store, email, console.clock())
    mail = wait_for_mail(console, before + 1)
    return re.search(r"http\S+", mail[-1].get_content()).group(0)


def run_publisher_here(console, *args: str):
    return run_publisher(*args, cwd=console.config.root)


def test_admins_read_the_audit_log_through_the_api(console) -> None:
    admin = console.staff("ana@example.org", "admin")
    rows = admin.get("/admin/api/audit", params={"limit": 2}).json()
    assert [r["action"] for r in rows] == ["session.sign_in", "staff.add"]
    assert rows[0]["staff_email"] == "ana@example.org" and rows[0]["at"].endswith("Z")
    later = admin.get("/admin/api/audit", params={"since": "2026-12-01 09:01"}).json()
    assert later == []  # site time (Chicago): 15:01 UTC, after both rows
    editor = console.staff("bob@example.org", "editor")
    assert editor.get("/admin/api/audit").status_code == 403
