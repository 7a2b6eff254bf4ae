"""The subscriber web app served by a real uvicorn on a loopback port, driven over HTTP.

The table: subscribe (honeypot, no enumeration, JSON, CORS, rate limit, body cap, one
confirmation per address per 10 minutes), confirm (tampered, expired, reused, stale after an
unsubscribe), unsubscribe (one button on GET, RFC 8058 one-click POST, idempotent),
preferences (CSRF), health, and the security headers on every kind of response.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from publisher.config import Config, load_config
from publisher.store import subscribers
from publisher.tokens import load_tokens, unsubscribe_url
from publisher.web import create_app

from conftest import free_port

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

    def confirm_link(self, message: EmailMessage) -> str:
        text = message.get_body(("plain",)).get_content()
        return re.search(r"https?://\S+/confirm\?token=\S+", text).group(0)


@pytest.fixture
def start_web(site: Path, live_server):
    """Start the app with extra `PUBLISHER_*` settings; `[web] url` is the server itself."""
    opened = []

    def start(**settings: str) -> Web:
        port = free_port()
        env = {**os.environ, "PUBLISHER_WEB_URL": f"http://127.0.0.1:{port}"}
        env.update({f"PUBLISHER_{k.upper()}": v for k, v in settings.items()})
        config = load_config(env=env)
        app = create_app(config)
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

    confirmed = web.client.get(link)
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
    assert web.client.get(web.confirm_link(left)).status_code == 200
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
    tokens = load_tokens(web.config)
    expired = tokens.make("confirm", subscriber.id, web.config.now - timedelta(days=8))
    wrong_purpose = tokens.make("unsubscribe", subscriber.id, web.config.now)
    for token in (link.split("token=")[1][:-2] + "xx", expired, wrong_purpose, "", "1.2"):
        response = web.client.get("/confirm", params={"token": token})
        assert response.status_code == 400
        assert "expired or is not valid" in response.text
        assert 'name="email"' in response.text  # a way to subscribe again
    assert web.status("ana@example.com") == "pending"


def test_old_confirm_link_cannot_undo_an_unsubscribe(web: Web):
    web.subscribe()
    link = web.confirm_link(web.wait_for_mail(1)[0])
    web.client.get(link)
    subscriber = subscribers.get_by_email(web.store, "ana@example.com")
    later = web.config.now + timedelta(minutes=5)
    subscribers.unsubscribe(web.store, subscriber.id, now=later)
    assert web.client.get(link).status_code == 400
    assert web.status("ana@example.com") == "unsubscribed"


def test_unsubscribe_page_then_one_click_post(web: Web):
    subscriber = subscribers.add(web.store, "bo@example.com", now=web.config.now).subscriber
    url = unsubscribe_url(web.config, load_tokens(web.config), subscriber.id)

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
    url = unsubscribe_url(web.config, load_tokens(web.config), subscriber.id)
    page = web.client.get(url).text
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page))
    assert fields == {"List-Unsubscribe": "One-Click"}
    response = web.client.post(urljoin(url, action), data=fields)
    assert response.status_code == 200 and web.status("di@example.com") == "unsubscribed"


def test_preferences_need_the_form_token(web: Web):
    subscriber = subscribers.add(web.store, "cy@example.com", now=web.config.now).subscriber
    url = load_tokens(web.config).make("preferences", subscriber.id, web.config.now)
    path = f"/preferences?token={url}"
    page = web.client.get(path)
    assert page.status_code == 200 and "cy@example.com" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    refused = web.client.post(path, data={"frequency": "digest", "name": "Cy", "csrf": "0.bad"})
    assert refused.status_code == 400
    assert subscribers.get(web.store, subscriber.id).frequency == "each"

    saved = web.client.post(path, data={"frequency": "digest", "name": "Cy", "csrf": csrf})
    assert saved.status_code == 200 and "Saved." in saved.text
    after = subscribers.get(web.store, subscriber.id)
    assert (after.frequency, after.name, after.status) == ("digest", "Cy", "active")

    gone = web.client.post(path, data={"action": "unsubscribe", "csrf": csrf})
    assert gone.status_code == 200 and web.status("cy@example.com") == "unsubscribed"


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


def test_time_travel_moves_the_app_clock(start_web):
    web = start_web(now="2030-01-01T00:00:00+00:00")
    web.subscribe()
    [message] = web.wait_for_mail(1)
    assert message["Date"].datetime.year == 2030
    link = web.confirm_link(message)
    # Tokens signed in 2030 are valid in 2030: the app runs on the shifted clock.
    assert web.client.get(link).status_code == 200


def test_publisher_web_command_serves_the_app(site: Path):
    port = free_port()
    process = subprocess.Popen(
        [Path(sys.executable).parent / "publisher", "web", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
                time.sleep(0.1)
        assert response.status_code == 200 and "server" not in response.headers
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_preview_server_mounts_the_app(site: Path, live_server):
    from publisher.serve import preview_app
    from publisher.web import preview_routes

    config = load_config()
    url = live_server(preview_app(config, extra_routes=preview_routes(config)))
    response = httpx.post(f"{url}/subscribe", data=FORM)
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert httpx.get(f"{url}/healthz").json() == {"ok": True}


def test_confirmation_is_dkim_signed_when_configured(site: Path):
    import base64

    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from publisher.confirmation import Confirmations

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (site / "dkim.pem").write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
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
    data = Confirmations(config, load_tokens(config)).build(subscriber, config.now).data
    assert data.startswith(b"DKIM-Signature: ")

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"s1._domainkey.example.org." else None

    assert dkim.verify(data, dnsfunc=dns)
    assert not dkim.verify(data.replace(b"Subject: Confirm", b"Subject: Confirn"), dnsfunc=dns)
