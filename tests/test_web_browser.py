"""A person subscribes from a built post page in Chromium, confirms from the email, and
later leaves with their mail client's one-click unsubscribe (RFC 8058).

Real parts end to end: the sample site built by `publisher build` and served over HTTP, the
subscriber app under uvicorn, the file outbox, `publisher send` for the newsletters.
"""

from __future__ import annotations

import re
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from starlette.staticfiles import StaticFiles

from publisher.config import load_config
from publisher.content.posts import load_posts
from publisher.store import subscribers
from publisher.topics import post_topics
from publisher.web.app import create_app

from conftest import free_port, run_publisher

pytestmark = pytest.mark.browser
EMAIL = "reader@example.com"


def publisher(*args: str) -> str:
    done = run_publisher(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def mail_to(outbox: Path, address: str) -> list[EmailMessage]:
    files = sorted((outbox / "new").glob("*.eml")) if (outbox / "new").is_dir() else []
    messages = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    return [m for m in messages if m["To"].addresses[0].addr_spec == address]


def wait_for_mail(outbox: Path, address: str, count: int) -> list[EmailMessage]:
    deadline = time.monotonic() + 10
    while len(mail_to(outbox, address)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return mail_to(outbox, address)


def test_subscribe_confirm_and_one_click_unsubscribe(
    sample_site: Path, live_server, browser, artifacts: Path, monkeypatch: pytest.MonkeyPatch
):
    site_port, web_port = free_port(), free_port()
    monkeypatch.setenv("PUBLISHER_SITE_URL", f"http://127.0.0.1:{site_port}")
    monkeypatch.setenv("PUBLISHER_WEB_URL", f"http://127.0.0.1:{web_port}")
    publisher("build")
    config = load_config()
    live_server(StaticFiles(directory=config.output_dir, html=True), site_port)
    app = create_app(config)
    live_server(app, web_port)
    store, outbox = app.state.store, config.delivery.outbox
    subscribers.add(store, "other@example.com", now=config.now)
    live_posts = [p for p in load_posts(config) if p.is_live(config.now) and not p.draft]
    live = [p.slug for p in live_posts]
    topic = post_topics(live_posts[0].tags, config.topics)[0]  # the reader's one choice

    post = next(
        p
        for p in sorted(config.output_dir.glob("*/*/index.html"))
        if 'id="subscribe"' in p.read_text()
    )
    page_url = (
        f"http://127.0.0.1:{site_port}/{post.parent.relative_to(config.output_dir).as_posix()}/"
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(page_url)
        page.fill("#subscribe-email", EMAIL)
        page.fill("#subscribe-name", "Robin")
        page.check("input[name=frequency][value=each]")
        page.check(f"input[name=topics][value={topic}]")
        page.locator("#subscribe").screenshot(path=artifacts / "web-subscribe-form.png")
        page.click("#subscribe button[type=submit]")
        page.wait_for_url(f"http://127.0.0.1:{web_port}/subscribe")
        assert "Check your inbox" in page.inner_text("h1")
        page.screenshot(path=artifacts / "web-subscribe.png", full_page=True)
        assert subscribers.get_by_email(store, EMAIL).status == "pending"

        [confirmation] = wait_for_mail(outbox, EMAIL, 1)
        text = confirmation.get_body(("plain",)).get_content()
        link = re.search(r"http://\S+/confirm\?token=\S+", text).group(0)
        page.goto(link)  # a page with one button: the visit alone confirms no one
        assert subscribers.get_by_email(store, EMAIL).status == "pending"
        page.click("button[type=submit]")
        assert "You are subscribed" in page.inner_text("h1")
        page.screenshot(path=artifacts / "web-confirmed.png", full_page=True)
        assert subscribers.get_by_email(store, EMAIL).status == "active"
        assert subscribers.get_by_email(store, EMAIL).topics == topic  # kept from the form
        welcome = wait_for_mail(outbox, EMAIL, 2)[-1]  # issue 12: a welcome after confirming
        assert welcome["Subject"].startswith("Welcome to ")

        # A newsletter goes out; its List-Unsubscribe header carries the one-click URL.
        publisher("send", live[0])
        newsletter = wait_for_mail(outbox, EMAIL, 3)[-1]
        assert newsletter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = re.search(r"<(https?://[^>]+)>", newsletter["List-Unsubscribe"]).group(1)
        assert url.startswith(f"http://127.0.0.1:{web_port}/unsubscribe?token=")

        page.goto(url)  # what a person sees: one button; the visit changes nothing
        assert page.locator("button").count() == 1
        assert "Would you tell us why? (optional)" in page.inner_text("form")  # never required
        page.screenshot(path=artifacts / "web-unsubscribe.png", full_page=True)
        assert subscribers.get_by_email(store, EMAIL).status == "active"

        # What Gmail does: POST List-Unsubscribe=One-Click, no cookies, no redirects.
        response = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert response.status_code == 200 and "set-cookie" not in response.headers
        assert subscribers.get_by_email(store, EMAIL).status == "unsubscribed"
        assert errors == [], errors
    finally:
        page.close()

    publisher("send", live[1])  # the next campaign: nothing for the unsubscribed reader
    assert len(mail_to(outbox, "other@example.com")) == 2
    assert len(mail_to(outbox, EMAIL)) == 3  # the confirmation, the welcome, one newsletter
