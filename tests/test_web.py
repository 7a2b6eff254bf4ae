"""The subscriber web app served by a real uvicorn on a loopback port, driven over HTTP.

The table: subscribe (honeypot, no enumeration, JSON, CORS, rate limit, body cap, one
confirmation per address per 10 minutes), confirm (one button on GET, its POST confirms;
tampered, expired, reused, stale after an unsubscribe), unsubscribe (one button on GET,
RFC 8058 one-click POST, idempotent), preferences (CSRF), HEAD on every route, links of
erased subscribers, a locked database (503), health, the access log without tokens, and
the security headers on every kind of response.
"""

from __future__ import annotations

import html
import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import sqlalchemy
from sqlalchemy import func, select, update

from publisher.config import Config, load_config
from publisher.store import subscribers
from publisher.store.schema import events
from publisher.store.schema import subscribers as schema_subscribers
from publisher.subscribers.tokens import load_tokens
from publisher.web.app import create_app

from conftest import PUBLISHER, MovingClock, dkim_dns, dkim_key, free_port, write_post

FORM = {"email": "ana@example.com", "name": "Ana", "frequency": "each"}


@dataclass
class Web:
    url: str
    config: Config
    client: httpx.Client

    @property
    def store(self):
        return self.app.state.store

    def outbox(self) -> list[EmailMessage]:
        folder = self.config.delivery.outbox / "new"
        files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
        return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]

    def wait_for_mail(self, count: int) -> list[EmailMessage]:
        """The confirmation goes out after the response (a background task): wait for it."""
        deadline = time.monotonic() + 10
        while len(self.outbox()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.outbox()

    def status(self, email: str) -> str | None:
        found = subscribers.get_by_email(self.store, email)
        return found.status if found else None

    def subscribe(self, **fields) -> httpx.Response:
        return self.client.post("/subscribe", data={**FORM, **fields})

    def token(self, purpose: str, subscriber_id: int, now: datetime | None = None) -> str:
        """A token as the app's emails carry it, signed with the subscriber's key."""
        key = subscribers.token_key(self.store, subscriber_id)
        return load_tokens(self.config).make(purpose, subscriber_id, key, now or self.config.now)

    def press(self, url: str, page: str) -> httpx.Response:
        """Submit the page's one form (its action and hidden fields), as its button does."""
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page))
        return self.client.post(urljoin(url, action), data=fields)

    def confirm(self, link: str) -> httpx.Response:
        """Follow a confirm link and press its button, as the person does."""
        return self.press(link, self.client.get(link).text)

    def confirm_link(self, message: EmailMessage) -> str:
        text = message.get_body(("plain",)).get_content()
        return re.search(r"https?://\S+/confirm\?token=\S+", text).group(0)


@pytest.fixture
def start_web(site: Path, live_server):
    """Start the app with extra `PUBLISHER_*` settings; `[web] url` is the server itself."""
    opened = []

    def start(clock=None, **settings: str) -> Web:
        """`clock`: the app's (a MovingClock), else the real time moved by `--now`."""
        port = free_port()
        env = {**os.environ, "PUBLISHER_WEB_URL": f"http://127.0.0.1:{port}"}
        env.update({f"PUBLISHER_{k.upper()}": v for k, v in settings.items()})
        config = load_config(env=env)
        app = create_app(config, clock=clock)
        url = live_server(app, port)
        client = httpx.Client(base_url=url, follow_redirects=False, timeout=10)
        opened.append(client)
        web = Web(url, config, client)
        web.app = app
        return web

    yield start
    for client in opened:
        client.close()


@pytest.fixture
def web(start_web, database_url: str) -> Web:
    """The app on SQLite, and on PostgreSQL when PUBLISHER_TEST_DATABASE_URL is set."""
    return start_web(database_url=database_url)


def test_subscribe_mails_a_link_that_activates(web: Web):
    response = web.subscribe(name="Ana <b>")
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert web.status("ana@example.com") == "pending"

    [message] = web.wait_for_mail(1)
    assert message["To"].addresses[0].addr_spec == "ana@example.com"
    assert message["From"].addresses[0].addr_spec == "news@example.org"
    assert message["Subject"] == "Confirm your subscription to Test Clinic Blog"
    assert message["Message-ID"].endswith("@example.org>") and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    link = web.confirm_link(message)
    assert link.startswith(web.url + "/confirm?token=")
    assert link.replace("&", "&amp;") in message.get_body(("html",)).get_content()

    confirmed = web.confirm(link)
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert "Ana &lt;b&gt;" in confirmed.text
    assert web.status("ana@example.com") == "active"
    again = web.client.get(link)  # a reused link: still subscribed, nothing else happens
    assert again.status_code == 200 and web.status("ana@example.com") == "active"


def test_same_answer_for_new_pending_active_and_suppressed(web: Web):
    now = web.config.now
    subscribers.add(web.store, "active@example.com", now=now)
    subscribers.add(web.store, "left@example.com", now=now)
    subscribers.remove(web.store, "left@example.com", now=now)
    web.subscribe(email="pending@example.com")
    answers = {
        email: web.subscribe(email=email)
        for email in (
            "new@example.com",
            "pending@example.com",
            "active@example.com",
            "left@example.com",
        )
    }
    assert {r.status_code for r in answers.values()} == {200}
    assert len({r.text for r in answers.values()}) == 1
    assert web.status("left@example.com") == "unsubscribed"  # not reactivated by the form

    # Active addresses get no email; the others one each (pending had one already).
    mails = web.wait_for_mail(3)
    assert sorted(m["To"].addresses[0].addr_spec for m in mails) == [
        "left@example.com",
        "new@example.com",
        "pending@example.com",
    ]
    [left] = [m for m in mails if "left@" in str(m["To"])]
    assert web.confirm(web.confirm_link(left)).status_code == 200
    assert web.status("left@example.com") == "active"  # the person came back themselves


def test_one_confirmation_per_address_per_ten_minutes(web: Web):
    for _ in range(3):
        assert web.subscribe().status_code == 200
    assert len(web.wait_for_mail(1)) == 1
    time.sleep(0.3)  # give a wrongly sent second email the chance to appear
    assert len(web.outbox()) == 1


def test_bad_confirm_links_change_nothing(web: Web):
    web.subscribe()
    [message] = web.wait_for_mail(1)
    link = web.confirm_link(message)
    subscriber = subscribers.get_by_email(web.store, "ana@example.com")
    expired = web.token("confirm", subscriber.id, web.config.now - timedelta(days=8))
    wrong_purpose = web.token("unsubscribe", subscriber.id)
    for token in (link.split("token=")[1][:-2] + "xx", expired, wrong_purpose, "", "1.2"):
        response = web.client.get("/confirm", params={"token": token})
        assert response.status_code == 400
        assert "expired or is not valid" in response.text
        assert 'name="email"' in response.text  # a way to subscribe again
    assert web.status("ana@example.com") == "pending"


@pytest.mark.parametrize("number", [2**63, 2**63 - 1, 10**19 - 1])
def test_a_token_naming_an_id_no_database_holds_is_a_bad_link(web: Web, number: int):
    """2^63 and up overflowed SQLite's integer (a 500 and a traceback) and PostgreSQL's
    BIGINT (a 503 saying the database was down)."""
    token = f"{number}.1700000000.{'A' * 43}"
    for path in ("/confirm", "/unsubscribe", "/preferences"):
        response = web.client.get(path, params={"token": token})
        assert response.status_code == 400, (path, response.status_code)
        assert "expired or is not valid" in response.text or "not valid" in response.text
    one_click = web.client.post("/unsubscribe", params={"token": token})
    assert one_click.status_code == 400


def test_old_confirm_link_cannot_undo_an_unsubscribe(web: Web):
    web.subscribe()
    link = web.confirm_link(web.wait_for_mail(1)[0])
    web.confirm(link)
    subscriber = subscribers.get_by_email(web.store, "ana@example.com")
    later = web.config.now + timedelta(minutes=5)
    subscribers.unsubscribe(web.store, subscriber.id, now=later)
    assert web.client.get(link).status_code == 400
    assert web.status("ana@example.com") == "unsubscribed"


def test_unsubscribe_page_then_one_click_post(web: Web):
    subscriber = subscribers.add(web.store, "bo@example.com", now=web.config.now).subscriber
    url = f"{web.url}/unsubscribe?token={web.token('unsubscribe', subscriber.id)}"

    page = web.client.get(url)
    assert page.status_code == 200
    assert page.text.count("<button") == 1 and page.text.count("<form") == 1
    assert web.status("bo@example.com") == "active"  # GET changes nothing

    for _ in range(2):  # idempotent
        response = web.client.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200
        assert "set-cookie" not in response.headers and "location" not in response.headers
        assert "You are unsubscribed" in response.text
        assert web.status("bo@example.com") == "unsubscribed"

    forged = url[:-3] + "abc"
    assert web.client.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 400


def test_unsubscribe_button_on_the_page(web: Web):
    subscriber = subscribers.add(web.store, "di@example.com", now=web.config.now).subscriber
    url = f"{web.url}/unsubscribe?token={web.token('unsubscribe', subscriber.id)}"
    page = web.client.get(url).text
    assert re.findall(r'type="hidden" name="([^"]+)" value="([^"]+)"', page) == [
        ("List-Unsubscribe", "One-Click")
    ]
    response = web.press(url, page)
    assert response.status_code == 200 and web.status("di@example.com") == "unsubscribed"


def test_unsubscribe_asks_why_never_requires_it_and_keeps_the_campaign(web: Web):
    from publisher.reports.audience import audience_report
    from publisher.reports.campaign import campaign_report

    from conftest import insert_campaign

    campaign = insert_campaign(web.store, "post:hello", ["sent", "sent"])
    people = [subscribers.get_by_email(web.store, f"post-hello-{n}@example.com").id for n in (0, 1)]
    said = []
    for who, reason in zip(people, ({"reason": "too-many"}, {}), strict=True):
        token = web.token("unsubscribe", who)
        url = f"{web.url}/unsubscribe?token={token}&campaign={campaign}"
        page = web.client.get(url).text
        assert "Would you tell us why? (optional)" in page and "required" not in page
        assert 'name="reason" value="never-signed-up"' in page
        action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))
        answer = web.client.post(
            urljoin(url, action), data={"List-Unsubscribe": "One-Click", **reason}
        )
        said.append(answer.status_code)
    forged = web.token(
        "unsubscribe", subscribers.add(web.store, "x@example.com", now=web.config.now).subscriber.id
    )
    web.client.post(f"{web.url}/unsubscribe?token={forged}&campaign=1e3", data={"reason": "<b>"})
    assert said == [200, 200] and web.status("x@example.com") == "unsubscribed"
    assert campaign_report(web.store, "post:hello").unsubscribes == 2
    found = audience_report(web.store, web.config.now + timedelta(days=1))
    assert {r.label: r.count for r in found.reasons if r.count} == {
        "Too many emails": 1,
        "No reason given": 2,  # the page's unanswered question, and a reason not offered
    }


def test_a_sign_up_keeps_the_page_its_form_was_on(web: Web):
    web.subscribe(email="pa@example.com", page="/posts/hello/")
    web.subscribe(email="pb@example.com", page="https://evil.example/\nx")  # not a path
    web.subscribe(email="pc@example.com")
    got = {
        e: subscribers.get_by_email(web.store, e).source
        for e in ("pa@example.com", "pb@example.com", "pc@example.com")
    }
    assert got == {
        "pa@example.com": "web:/posts/hello/",
        "pb@example.com": "web",
        "pc@example.com": "web",
    }


def test_preferences_need_the_form_token(web: Web):
    subscriber = subscribers.add(web.store, "cy@example.com", now=web.config.now).subscriber
    path = f"/preferences?token={web.token('preferences', subscriber.id)}"
    page = web.client.get(path)
    assert page.status_code == 200 and "cy@example.com" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    for bad in ("0.bad", "²³.bad", "٧٠٠.bad", csrf.replace(".", "0.", 1)):
        fields = {"frequency": "digest", "name": "Cy", "csrf": bad}
        assert web.client.post(path, data=fields).status_code == 400
    assert subscribers.get(web.store, subscriber.id).frequency == "each"

    saved = web.client.post(path, data={"frequency": "digest", "name": "Cy", "csrf": csrf})
    assert saved.status_code == 200 and "Saved." in saved.text
    after = subscribers.get(web.store, subscriber.id)
    assert (after.frequency, after.name, after.status) == ("digest", "Cy", "active")

    gone = web.client.post(path, data={"action": "unsubscribe", "csrf": csrf})
    assert gone.status_code == 200 and web.status("cy@example.com") == "unsubscribed"


def test_preferences_after_unsubscribing_say_so_and_lead_back(web: Web):
    """Issue 20 item 27: no bare "Saved." for someone who gets nothing; a way back that
    asks them to confirm, as any sign-up does."""
    subscriber = subscribers.add(web.store, "di@example.com", now=web.config.now).subscriber
    path = f"/preferences?token={web.token('preferences', subscriber.id)}"
    csrf = re.search(r'name="csrf" value="([^"]+)"', web.client.get(path).text).group(1)
    web.client.post(path, data={"action": "unsubscribe", "csrf": csrf})
    page = web.client.get(path).text
    assert "You unsubscribed: we send you no emails until you subscribe again." in page
    assert 'value="unsubscribe"' not in page
    saved = web.client.post(path, data={"frequency": "digest", "name": "Di", "csrf": csrf}).text
    assert "Saved, but you unsubscribed" in saved and "Saved.</p>" not in saved
    back = re.search(r'<form method="post" action="subscribe">(.*?)</form>', saved, re.S).group(1)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', back))
    assert fields == {"email": "di@example.com", "name": "Di", "frequency": "digest"}
    again = web.client.post(f"{web.url}/subscribe", data=fields)
    assert again.status_code == 200 and "Check your inbox" in again.text
    [mail] = web.wait_for_mail(1)
    assert (
        mail["To"].addresses[0].addr_spec == "di@example.com"
        and "confirm" in mail.get_body(("plain",)).get_content()
    )


def test_the_preferences_page_shows_an_idn_address_as_people_write_it(web: Web):
    subscriber = subscribers.add(web.store, "ana@bücher.example", now=web.config.now).subscriber
    page = web.client.get(f"/preferences?token={web.token('preferences', subscriber.id)}")
    assert "Address: <strong>ana@bücher.example</strong>" in page.text


def test_honeypot_answers_success_and_does_nothing(web: Web):
    response = web.subscribe(website="http://spam.example")
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert web.status("ana@example.com") is None
    time.sleep(0.2)
    assert web.outbox() == []


def test_bad_input_is_refused_with_a_page(web: Web):
    bad_email = web.subscribe(email="not an address")
    assert bad_email.status_code == 400 and "cannot be used" in bad_email.text
    assert web.subscribe(frequency="hourly").status_code == 400
    assert web.client.get("/subscribe").status_code == 405
    assert web.client.get("/nowhere").status_code == 404


def test_json_answers_for_scripts(web: Web):
    headers = {"Accept": "application/json"}
    ok = web.client.post("/subscribe", data=FORM, headers=headers)
    assert ok.status_code == 200 and ok.json()["ok"] is True
    bad = web.client.post("/subscribe", data={"email": "nope"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["ok"] is False


def test_sign_up_that_would_fail_later_is_refused_and_names_are_cleaned(web: Web):
    """Issue 10: josé@... was accepted, then its confirmation email stopped all sending."""
    refused = web.client.post(
        "/subscribe",
        data={**FORM, "email": "josé@example.com"},
        headers={"Accept": "application/json"},
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "ok": False,
        "message": "That address cannot be used: josé@example.com: the part before @ has "
        "non-ASCII characters, which this site's mail relay cannot deliver "
        "(set [smtp] smtputf8 = true if it offers SMTPUTF8).",
    }
    page = web.subscribe(email="josé@example.com")
    assert page.status_code == 400 and "non-ASCII characters" in page.text
    assert web.status("josé@example.com") is None

    assert web.subscribe(email="Ana@Bücher.DE", name="Ana\x1b[2J\nLee\u2028").status_code == 200
    subscriber = subscribers.get_by_email(web.store, "ana@bücher.de")
    assert (subscriber.email, subscriber.name) == ("Ana@xn--bcher-kva.de", "Ana [2J Lee")
    [message] = web.wait_for_mail(1)
    assert message["To"].addresses[0].addr_spec == "Ana@xn--bcher-kva.de"


def test_cors_only_for_the_site_origin(web: Web):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    site = web.client.options(
        "/subscribe", headers={"Origin": "https://blog.example.org", **preflight}
    )
    assert site.status_code == 200
    assert site.headers["access-control-allow-origin"] == "https://blog.example.org"
    other = web.client.options(
        "/subscribe", headers={"Origin": "https://evil.example", **preflight}
    )
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers

    posted = web.client.post(
        "/subscribe",
        data=FORM,
        headers={"Origin": "https://blog.example.org", "Accept": "application/json"},
    )
    assert posted.headers["access-control-allow-origin"] == "https://blog.example.org"
    evil = web.client.post("/subscribe", data=FORM, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers


def test_oversized_bodies_are_refused(web: Web):
    big = {**FORM, "name": "x" * 20_000}
    declared = web.client.post("/subscribe", data=big)
    assert declared.status_code == 413 and "too large" in declared.text

    def chunks():  # no Content-Length: the cap counts the bytes as they arrive
        for _ in range(20):
            yield b"name=" + b"x" * 1000 + b"&"

    chunked = web.client.post(
        "/subscribe",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    assert web.status("ana@example.com") is None


def test_rate_limit_per_client_ip(start_web):
    web = start_web(web_subscribe_per_minute="3")
    for n in range(3):
        assert web.subscribe(email=f"r{n}@example.com").status_code == 200
    limited = web.subscribe(email="r9@example.com")
    assert limited.status_code == 429 and "Too many requests" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert web.status("r9@example.com") is None
    # X-Forwarded-For is ignored unless the proxy is trusted.
    spoofed = web.client.post("/subscribe", data=FORM, headers={"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status_code == 429


def test_trusted_proxy_gives_the_client_ip(start_web):
    web = start_web(web_subscribe_per_minute="1", web_trusted_proxies="127.0.0.1")
    first = {"X-Forwarded-For": "203.0.113.1"}
    assert web.client.post("/subscribe", data=FORM, headers=first).status_code == 200
    assert web.client.post("/subscribe", data=FORM, headers=first).status_code == 429
    other = {"X-Forwarded-For": "203.0.113.2"}
    assert web.client.post("/subscribe", data=FORM, headers=other).status_code == 200


def test_security_headers_on_every_response(start_web):
    web = start_web(web_subscribe_per_minute="1")
    responses = [
        web.subscribe(),
        web.subscribe(),  # 429
        web.client.get("/confirm?token=bad"),
        web.client.get("/nowhere"),
        web.client.put("/subscribe"),
        web.client.post("/subscribe", data={"name": "x" * 20_000}),
        web.client.get("/healthz"),
        web.client.options(
            "/subscribe",
            headers={"Origin": "https://blog.example.org", "Access-Control-Request-Method": "POST"},
        ),
    ]
    assert [r.status_code for r in responses] == [200, 429, 400, 404, 405, 413, 200, 200]
    for response in responses:
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "set-cookie" not in response.headers


def test_health_reports_the_store(start_web):
    web = start_web()
    assert web.client.get("/healthz").json() == {"ok": True}
    database = Path(web.store.name)
    web.store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.mkdir()  # the database file is now a folder: nothing can open it
    assert web.client.get("/healthz").status_code == 503


@contextmanager
def write_locked(web: Web) -> Iterator[None]:
    """A second connection holds the write lock: SQLite's (BEGIN IMMEDIATE), or on
    PostgreSQL a lock on the subscribers table that lets reads through but no writes."""
    if web.store.is_sqlite:
        blocker = sqlite3.connect(web.store.name, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    engine = sqlalchemy.create_engine(web.store.engine.url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("LOCK TABLE subscribers IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


def test_a_write_locked_database_answers_503_at_once(web: Web):
    """Another process holds the write lock: pages say 503 with Retry-After after a short
    wait, not a 500 after the 30 s busy timeout (the client gives up at 10 s), and on
    SQLite, where a write needs the whole file, so does the health check."""
    with write_locked(web):
        page = web.subscribe()
        assert page.status_code == 503 and "try again" in page.text
        assert int(page.headers["retry-after"]) > 0
        assert page.headers["content-security-policy"]
        script = web.client.post("/subscribe", data=FORM, headers={"Accept": "application/json"})
        assert script.status_code == 503 and "error" in script.json()
        assert int(script.headers["retry-after"]) > 0
        if web.store.is_sqlite:
            health = web.client.get("/healthz")
            assert health.status_code == 503 and health.json() == {"ok": False}
    assert web.client.get("/healthz").status_code == 200
    assert web.subscribe().status_code == 200 and web.status("ana@example.com") == "pending"


def test_time_travel_moves_the_app_clock(start_web):
    web = start_web(now="2030-01-01T00:00:00+00:00")
    web.subscribe()
    [message] = web.wait_for_mail(1)
    assert message["Date"].datetime.year == 2030
    link = web.confirm_link(message)
    # Tokens signed in 2030 are valid in 2030: the app runs on the shifted clock.
    assert web.confirm(link).status_code == 200
    assert web.status("ana@example.com") == "active"


def test_a_welcome_takes_the_time_it_is_sent(site: Path, start_web):
    """Issue 20 item 14: a welcome sent by the app carried the time the app started in its
    Date (before the confirmation it follows) and listed the posts live at that time."""
    clock = MovingClock(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    web = start_web(clock=clock, now=clock.now.isoformat())
    write_post(site, "later.md", "title: Later news\ndate: 2026-12-01 12:00")  # 18:00 UTC
    web.subscribe()
    [confirmation] = web.wait_for_mail(1)
    clock.advance(hours=5)
    assert web.confirm(web.confirm_link(confirmation)).status_code == 200
    welcome = web.wait_for_mail(2)[-1]
    assert welcome["Subject"] == "Welcome to Test Clinic Blog"
    assert welcome["Date"].datetime == clock.now > confirmation["Date"].datetime
    assert "Later news" in welcome.get_body(("plain",)).get_content()


@contextmanager
def web_command(site: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`publisher web` in a subprocess, its output (the access log) piped: (base URL, process)."""
    port = free_port()
    process = subprocess.Popen(
        [PUBLISHER, "web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_publisher_web_command_serves_the_app(site: Path):
    with web_command(site) as (url, _process):
        response = httpx.get(f"{url}/healthz")
        assert response.status_code == 200 and "server" not in response.headers


def answer_then_close(port: int, head: bytes) -> tuple[bytes, bool]:
    """Send `head` from another thread (the server may stop reading it) and read what comes
    back: (the answer, whether the connection was closed within a generous 30 s)."""
    import socket
    import threading

    with socket.create_connection(("127.0.0.1", port)) as connection:

        def send() -> None:
            with suppress(OSError):  # the server refused it and closed
                connection.sendall(head)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        connection.settimeout(30)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
            closed = True
        except ConnectionResetError:  # closed too, with what we sent still unread
            closed = True
        except TimeoutError:
            closed = False
        sender.join(30)
    return answer, closed


def test_a_huge_or_stalled_request_head_is_refused_and_the_connection_closed(
    site: Path, monkeypatch
):
    """A 1 MB header gets 431, a header that stops halfway 408 once `[web] header_timeout`
    is over, a connection that sends nothing is closed; each in bounded time."""
    monkeypatch.setenv("PUBLISHER_WEB_HEADER_TIMEOUT", "1")
    with web_command(site) as (url, _process):
        port = int(url.rsplit(":", 1)[1])
        start = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        answer, closed = answer_then_close(
            port, start + b"X-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n") and closed
        answer, closed = answer_then_close(port, start + b"X-Half: a")
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and closed
        assert answer_then_close(port, b"") == (b"", True)
        response = httpx.get(f"{url}/healthz", headers={"X-Fine": "a" * 8000})
        assert response.status_code == 200  # still serving, and ordinary heads pass


def test_access_log_never_shows_a_token(site: Path):
    with web_command(site) as (url, process):
        for path in ("unsubscribe", "confirm", "preferences"):
            httpx.get(f"{url}/{path}?token=12.1700000000.SeCrEtSiGnAtUrE&x=1")
        httpx.head(f"{url}/unsubscribe?x=1&token=34.1700000000.AnOtHeRsEcReT")
        for name in ("%74oken", "t%6Fken", "%74%6F%6B%65%6E"):  # what the app reads as token
            httpx.get(f"{url}/unsubscribe?{name}=56.1700000000.PeRcEnTsEcReT")
        process.terminate()
        log = process.stdout.read()
    assert "SeCrEt" not in log and "AnOtHeR" not in log and "1700000000" not in log
    assert "PeRcEnT" not in log and '"GET /unsubscribe?%74oken=[redacted] HTTP/1.1" 400' in log
    assert '"GET /unsubscribe?token=[redacted]&x=1 HTTP/1.1" 400' in log
    assert '"HEAD /unsubscribe?x=1&token=[redacted] HTTP/1.1" 400' in log
    assert "/confirm?token=[redacted]" in log and "/preferences?token=[redacted]" in log


def test_strict_transport_security_when_the_app_is_on_https(start_web):
    https = start_web(web_url="https://subscribe.example.org")
    assert https.client.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"
    plain = start_web()
    assert "strict-transport-security" not in plain.client.get("/healthz").headers


def test_preview_server_mounts_the_app(site: Path, live_server):
    from publisher.web.app import preview_routes
    from publisher.web.serve import preview_app

    config = load_config()
    url = live_server(preview_app(config, extra_routes=preview_routes(config)))
    response = httpx.post(f"{url}/subscribe", data=FORM)
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert httpx.get(f"{url}/healthz").json() == {"ok": True}


def test_confirmation_is_dkim_signed_when_configured(site: Path):
    import dkim

    from publisher.subscribers.confirmations import Confirmations

    _path, record = dkim_key(site)
    env = {
        **os.environ,
        "PUBLISHER_DKIM_DOMAIN": "example.org",
        "PUBLISHER_DKIM_SELECTOR": "s1",
        "PUBLISHER_DKIM_PRIVATE_KEY_PATH": "dkim.pem",
    }
    config = load_config(env=env)
    subscriber = subscribers.Subscriber(
        1, "ana@example.com", "Ana", "pending", "each", "web", config.now, None, None, None, 0
    )
    data = Confirmations(config, load_tokens(config)).build(subscriber, "k", config.now).data
    assert data.startswith(b"DKIM-Signature: ")

    dns = dkim_dns(record, "s1")
    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(data.replace(b"Subject: Confirm", b"Subject: Confirn"), dnsfunc=dns)


def test_head_changes_nothing_on_any_route(web: Web):
    """Link scanners send HEAD: it answers as GET does, without a body or a side effect."""
    subscriber = subscribers.add(web.store, "he@example.com", now=web.config.now).subscriber
    web.subscribe(email="pending@example.com")
    pending = subscribers.get_by_email(web.store, "pending@example.com")
    paths = [
        "/subscribe",
        "/confirm?token=" + web.token("confirm", pending.id),
        "/unsubscribe?token=" + web.token("unsubscribe", subscriber.id),
        "/preferences?token=" + web.token("preferences", subscriber.id),
        "/healthz",
        "/nowhere",
    ]
    with web.store.read() as conn:
        before = conn.execute(select(func.count()).select_from(events)).scalar()
    for path in paths:
        head, get = web.client.head(path), web.client.get(path)
        assert (path, head.status_code) == (path, get.status_code)
        assert head.content == b""
    assert web.status("he@example.com") == "active"
    assert web.status("pending@example.com") == "pending"
    with web.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == before


@pytest.mark.parametrize("was", ["pending", "unsubscribed"])
def test_confirm_link_shows_a_button_and_only_the_post_confirms(web: Web, was: str):
    """A scanner fetching the link confirms no one; the person's press of the button does,
    and bringing back a suppressed address is recorded."""
    if was == "unsubscribed":
        subscribers.add(web.store, "ana@example.com", now=web.config.now)
        subscribers.remove(web.store, "ana@example.com", now=web.config.now)
    web.subscribe()  # a third party may type the address in: the owner gets the email
    link = web.confirm_link(web.wait_for_mail(1)[0])
    page = web.client.get(link)
    assert page.status_code == 200 and page.text.count("<button") == 1
    assert web.status("ana@example.com") == was
    confirmed = web.press(link, page.text)
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert web.status("ana@example.com") == "active"
    with web.store.read() as conn:
        detail = conn.execute(
            select(events.c.detail).where(events.c.kind == "confirmed")
        ).scalar_one()
    assert detail == f"was {was}"


def test_a_sign_up_for_an_address_that_complained_or_bounced_mails_nothing(web: Web):
    """Anyone can type an address into the form: one whose owner reported spam, or whose
    mailbox bounced, gets no confirmation from it; the page is the one any address gets."""
    now = web.config.now
    complained = subscribers.add(web.store, "ana@example.com", now=now).subscriber
    subscribers.record_complaint(web.store, complained.id, now=now)
    bounced = subscribers.add(web.store, "bo@example.com", now=now).subscriber
    subscribers.record_bounce(web.store, bounced.id, now=now, limit=1)
    answers = [web.subscribe(email=email) for email in ("ana@example.com", "bo@example.com")]
    fresh = web.subscribe(email="cy@example.com")
    assert {a.status_code for a in answers} == {fresh.status_code} == {200}
    assert {a.text for a in answers} == {fresh.text}
    assert [m["To"].addresses[0].addr_spec for m in web.wait_for_mail(1)] == ["cy@example.com"]
    assert (web.status("ana@example.com"), web.status("bo@example.com")) == (
        "complained",
        "bounced",
    )
    for email in ("ana@example.com", "bo@example.com"):
        assert subscribers.get_by_email(web.store, email).confirm_sent_at is None


def test_links_of_an_erased_subscriber_act_on_no_one(web: Web):
    """Issue 10: after `forget`, the next sign-up got the erased person's id, and their old
    one-click and preferences links acted on the newcomer."""
    erased = subscribers.add(web.store, "gone@example.com", now=web.config.now).subscriber
    links = [web.token(purpose, erased.id) for purpose in ("unsubscribe", "preferences")]
    subscribers.forget(web.store, "gone@example.com", now=web.config.now)
    newcomer = subscribers.add(web.store, "new@example.com", now=web.config.now).subscriber
    for purpose, token in zip(("unsubscribe", "preferences"), links, strict=True):
        answer = web.client.post(
            f"/{purpose}?token={token}", data={"List-Unsubscribe": "One-Click"}
        )
        assert answer.status_code == 400
        assert web.client.get(f"/{purpose}?token={token}").status_code == 400
    # Signed for the newcomer's id but not with their key: nothing either.
    stranger = load_tokens(web.config).make("unsubscribe", newcomer.id, "", web.config.now)
    assert web.client.post(f"/unsubscribe?token={stranger}").status_code == 400
    assert web.status("new@example.com") == "active"


def test_a_keyless_link_older_than_its_row_is_refused(web: Web):
    """Rows from before link keys (token_key "") keep their mailed links, except links signed
    before the row existed: those were made for an erased person whose id it reused."""
    row = subscribers.add(web.store, "old@example.com", now=web.config.now).subscriber
    with web.store.transaction() as conn:
        conn.execute(update(schema_subscribers).values(token_key=""))
    tokens = load_tokens(web.config)
    mailed = tokens.make("unsubscribe", row.id, "", web.config.now + timedelta(seconds=1))
    before = tokens.make("unsubscribe", row.id, "", web.config.now - timedelta(days=1))
    assert web.client.post(f"/unsubscribe?token={before}").status_code == 400
    assert web.status("old@example.com") == "active"
    assert web.client.post(f"/unsubscribe?token={mailed}").status_code == 200
    assert web.status("old@example.com") == "unsubscribed"
