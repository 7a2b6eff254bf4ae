"""The Admin API's campaigns, queue and health, over real HTTP: figures per state, a pause
that tick leaves alone and that stops a run in progress, a resume that sends the rest, the
brake released only with force, and an audit row for each change."""

from __future__ import annotations

import os
import threading
import time

from publisher.config import load_config
from publisher.content.posts import load_posts
from publisher.delivery.campaigns import create_campaign, run_campaign
from publisher.inbound.brake import HELD
from publisher.mail.newsletter import render_post
from publisher.store import audit, health, ledger

from conftest import insert_subscriber, run_publisher, write_post


def campaign(console, subscribers: int = 3) -> str:
    """A post's campaign for `subscribers` readers, created and not sent yet."""
    write_post(console.config.root, "2026-11-30-hello.md", "title: Hello\ndate: 2026-11-30 09:00")
    for n in range(subscribers):
        insert_subscriber(console.store, f"reader{n}@example.com")
    posts = load_posts(console.config)
    created, _ = create_campaign(
        console.config, console.store, render_post(console.config, posts[0], posts), "each"
    )
    return created.key


def wait_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_campaigns_list_and_detail(console_on) -> None:
    console = console_on
    key = campaign(console)
    editor = console.staff("ed@example.org", "editor")
    listed = editor.get("/admin/api/campaigns").json()
    assert listed["total"] == 1 and listed["pages"] == 1
    [item] = listed["campaigns"]
    assert (item["key"], item["status"], item["recipients"]) == (key, "sending", 3)
    assert item["states"] == {"queued": 3, "sent": 0}

    store = {"PUBLISHER_DATABASE_URL": console.config.database.url}
    run_publisher("send", "--resume", cwd=console.config.root, env=store)
    [item] = editor.get("/admin/api/campaigns").json()["campaigns"]
    assert item["states"] == {"sent": 3} and item["status"] == "done"
    detail = editor.get(f"/admin/api/campaigns/{key}").json()
    assert detail["states"] == {"sent": 3}
    assert (detail["bounced"], detail["complaints"], detail["unsubscribed"]) == (0, 0, 0)
    assert detail["held_by_brake"] is False and detail["finished"]
    assert editor.get("/admin/api/campaigns/post:nothing").status_code == 404
    author = console.staff("au@example.org", "author")
    assert author.get("/admin/api/campaigns").status_code == 403


def test_a_pause_holds_until_resumed_and_the_resume_sends_the_rest(console) -> None:
    key = campaign(console)
    editor = console.staff("ed@example.org", "editor")
    paused = editor.post(f"/admin/api/campaigns/{key}/pause")
    assert paused.status_code == 200 and paused.json()["changed"] is True
    assert editor.post(f"/admin/api/campaigns/{key}/pause").json()["changed"] is False
    tick = run_publisher("send", "--resume", cwd=console.config.root)
    assert "paused by ed@example.org" in tick.stdout + tick.stderr
    assert ledger.counts(console.store, ledger.get_campaign(console.store, key).id).queued == 3

    resumed = editor.post(f"/admin/api/campaigns/{key}/resume", json={})
    assert resumed.status_code == 200 and resumed.json()["sending"] is True
    wait_until(lambda: ledger.get_campaign(console.store, key).status == "done")
    assert len(console.outbox()) == 3 + 1  # and the sign-in link
    actions = [(r.action, r.object) for r in audit.rows(console.store)[:2]]
    assert actions == [("campaign.resume", key), ("campaign.pause", key)]


def test_the_brake_is_released_only_with_force(console) -> None:
    key = campaign(console)
    campaign_id = ledger.get_campaign(console.store, key).id
    health.hold(console.store, campaign_id, console.clock(), "held by the brake: 9% bounced")
    editor = console.staff("ed@example.org", "editor")
    refused = editor.post(f"/admin/api/campaigns/{key}/resume", json={})
    assert refused.status_code == 409 and "force" in refused.json()["detail"]
    assert editor.get(f"/admin/api/campaigns/{key}").json()["held_by_brake"] is True
    assert (
        editor.post(f"/admin/api/campaigns/{key}/resume", json={"force": "yes"}).status_code == 422
    )
    released = editor.post(f"/admin/api/campaigns/{key}/resume", json={"force": True})
    assert released.status_code == 200
    wait_until(lambda: ledger.get_campaign(console.store, key).status == "done")
    assert audit.rows(console.store)[0].detail == "releasing the brake"


def test_a_pause_stops_a_run_in_progress(console, smtp_server) -> None:
    relay = {"transport": "smtp", "host": "127.0.0.1", "port": str(smtp_server.port)}
    config = load_config(
        env={
            **os.environ,
            "PUBLISHER_DELIVERY_TRANSPORT": relay["transport"],
            "PUBLISHER_SMTP_HOST": relay["host"],
            "PUBLISHER_SMTP_PORT": relay["port"],
            "PUBLISHER_SMTP_SECURITY": "none",
        }
    )
    smtp_server.delay = 0.1  # each message takes a while
    key = campaign(console, subscribers=60)
    run = threading.Thread(
        target=run_campaign, args=(config, console.store, ledger.get_campaign(console.store, key))
    )
    run.start()
    wait_until(lambda: len(smtp_server.received) >= 2)
    editor = console.staff("ed@example.org", "editor")
    assert editor.post(f"/admin/api/campaigns/{key}/pause").status_code == 200
    run.join(timeout=30)
    assert not run.is_alive()
    held = ledger.get_campaign(console.store, key)
    assert held.status == HELD and held.note.startswith("paused by ed@example.org")
    assert len(smtp_server.received) < 60


def test_queue_and_health(console) -> None:
    key = campaign(console)
    editor = console.staff("ed@example.org", "editor")
    queue = editor.get("/admin/api/queue").json()
    assert queue["timezone"] == "America/Chicago" and queue["digest"]["key"].startswith("digest:")
    assert console.staff("au@example.org", "author").get("/admin/api/queue").status_code == 200
    editor.post(f"/admin/api/campaigns/{key}/pause")
    found = editor.get("/admin/api/health").json()
    assert found["last_tick"] is None and found["transport"] == "file"
    assert [s["campaign"] for s in found["stopped"]] == [key]
    assert found["inbound"]["configured"] is False
