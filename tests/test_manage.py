""" "Manage your subscription": an address in, a one-time link to the preferences out, and
nothing that tells a stranger whether the address is on the list."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from publisher import store as st
from publisher.subscribers.tokens import load_tokens

from conftest import app_client


@pytest.fixture
def web(site: Path, live_server, database_url: str):
    with app_client(live_server, database_url=database_url, web_subscribe_per_minute="4") as web:
        yield web


def outbox(config) -> list:
    folder = config.delivery.outbox / "new"
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def wait_for_mail(config, count: int) -> list:
    deadline = time.monotonic() + 10
    while len(outbox(config)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return outbox(config)


def test_same_answer_for_any_address_and_one_link_for_a_known_one(web) -> None:
    config, store, client = web
    st.add(store, "ana@example.com", now=config.now, name="Ana")
    form = client.get("/manage")
    assert form.status_code == 200 and 'name="email"' in form.text
    known = client.post("/manage", data={"email": "Ana@Example.com"})
    unknown = client.post("/manage", data={"email": "nobody@example.com"})
    assert (known.status_code, known.text) == (unknown.status_code, unknown.text)
    assert "If this address is on our list" in known.text
    again = client.post("/manage", data={"email": "ana@example.com"})  # within 10 minutes
    assert again.text == known.text
    [message] = wait_for_mail(config, 1)
    time.sleep(0.3)
    assert len(outbox(config)) == 1  # one link per address per 10 minutes, none for nobody@
    assert message["To"] == "Ana <ana@example.com>"
    assert message["Subject"] == "Your email preferences for Test Clinic Blog"
    bad = client.post("/manage", data={"email": "not an address"})
    assert bad.status_code == 400


def test_the_link_opens_the_preferences_once(web) -> None:
    config, store, client = web
    st.add(store, "ana@example.com", now=config.now, topics="")
    client.post("/manage", data={"email": "ana@example.com"})
    [message] = wait_for_mail(config, 1)
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"http://\S+/manage\?token=\S+", text).group(0)
    page = client.get(link)
    assert page.status_code == 200 and "Open my preferences" in page.text
    assert client.get(link).status_code == 200  # looking changes nothing: a scanner may
    opened = client.post(link, follow_redirects=False)
    assert opened.status_code == 303
    assert "/preferences?token=" in opened.headers["location"]
    preferences = client.get(opened.headers["location"])
    assert preferences.status_code == 200 and "ana@example.com" in preferences.text
    assert client.post(link).status_code == 400  # spent


def test_an_old_or_forged_link_opens_nothing(web) -> None:
    config, store, client = web
    ana = st.add(store, "ana@example.com", now=config.now).subscriber
    key = st.token_key(store, ana.id)
    tokens = load_tokens(config)
    old = tokens.make("manage", ana.id, key, config.now - timedelta(days=1, minutes=1))
    assert client.post(f"/manage?token={old}").status_code == 400
    preferences = tokens.make("preferences", ana.id, key, config.now)  # another purpose
    assert client.post(f"/manage?token={preferences}").status_code == 400


def test_requests_are_limited_per_client(web) -> None:
    _config, _store, client = web
    answers = [client.post("/manage", data={"email": f"p{n}@example.com"}) for n in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
