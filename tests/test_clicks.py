"""Clicks and opens (issue 22): the store's counts, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from html import unescape
from urllib.parse import urlsplit

import httpx
from click.testing import CliRunner
from sqlalchemy import func, insert, inspect, select

from publisher.cli import main
from publisher.config import load_config
from publisher.mail.tracking import ClickSigner
from publisher.schedule import tick as scheduler
from publisher.store import clicks
from publisher.store.click_schema import click_hours, person_clicks
from publisher.store.db import Store
from publisher.store.hyperloglog import Sketch
from publisher.store.schema import campaigns
from publisher.store.subscribers import add, forget, get_by_email
from publisher.subscribers.tokens import load_tokens
from publisher.web.clicks import PendingCount

from conftest import (
    app_client,
    free_port,
    start_publisher,
    wait_for,
    write_config,
    write_post,
    write_relay_config,
)

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
LINKS = [
    clicks.Link(1, "https://example.org/posts/a/?utm_source=newsletter", "Read on"),
    clicks.Link(2, "https://example.org/", ""),
]


def new_campaign(store, key: str = "post:a", now: datetime = NOW) -> int:
    """A campaign row with LINKS as its link table."""
    with store.transaction() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(key=key, kind="post", subject="A", html="", text="", status="done",
                    created_at=now, total=0)
            .returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
        clicks.add_links(conn, campaign_id, LINKS)
    return campaign_id


def test_counts_by_link_and_hour_and_unique_estimate(store) -> None:
    campaign = new_campaign(store)
    tally = clicks.Tally()
    for reader, moment in [("r1", NOW), ("r2", NOW), ("r3", NOW + timedelta(hours=2))]:
        hour = clicks.hour_of(moment)
        tally.clicks[campaign, 1, hour] += 1
        tally.sketch(campaign, 1).add(reader)
        tally.sketch(campaign, clicks.WHOLE_CAMPAIGN).add(reader)
    tally.scanners[campaign, 2, clicks.hour_of(NOW)] += 2
    with store.transaction() as conn:
        clicks.write(conn, tally)
    again = clicks.Tally()  # a second commit adds to the first, and r1 again is no one new
    again.clicks[campaign, 1, clicks.hour_of(NOW)] += 1
    again.sketch(campaign, 1).add("r1")
    again.opens[campaign, clicks.hour_of(NOW)] += 4
    with store.transaction() as conn:
        clicks.write(conn, again)
    with store.read() as conn:
        totals = clicks.link_totals(conn, campaign)
        hours = clicks.clicks_by_hour(conn, campaign)
        summary = clicks.summary(conn, campaign)
        opens = clicks.opens_by_hour(conn, campaign)
        ranked = clicks.campaign_clicks(conn, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert totals == [
        clicks.LinkTotal(1, LINKS[0].url, "Read on", 4, 0, 3),
        clicks.LinkTotal(2, LINKS[1].url, "", 0, 2, 0),
    ]
    assert hours == [
        clicks.HourCount(datetime(2026, 5, 4, 9, tzinfo=UTC), 3, 2),
        clicks.HourCount(datetime(2026, 5, 4, 11, tzinfo=UTC), 1, 0),
    ]
    assert summary == clicks.ClickSummary(clicks=4, scanner_clicks=2, unique=3, opens=4)
    assert opens == [clicks.HourCount(datetime(2026, 5, 4, 9, tzinfo=UTC), 4, 0)]
    assert [(c.campaign_id, c.clicks, c.scanner_clicks) for c in ranked] == [(campaign, 4, 2)]


def test_salts_go_when_the_campaign_is_a_week_old(store) -> None:
    old = new_campaign(store, "post:old", NOW - timedelta(days=8))
    new = new_campaign(store, "post:new", NOW)
    with store.transaction() as conn:
        assert clicks.forget_salts(conn, NOW) == 1
    with store.read() as conn:
        assert clicks.salt(conn, old) is None
        assert len(clicks.salt(conn, new)) == 32


def test_sketch_estimates_within_a_few_percent() -> None:
    small, large = Sketch.empty(), Sketch.empty()
    for reader in range(30):
        small.add(f"reader-{reader}")
    for reader in range(20_000):
        large.add(f"reader-{reader}")
    assert abs(small.estimate() - 30) <= 2
    assert abs(large.estimate() - 20_000) <= 20_000 * 0.1


# --- The emails' links and the redirect, end to end -------------------------------------

T = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
READERS = ["ann@example.org", "bob@example.org", "cy@example.org"]
BODY = (
    "Read [the guide](https://blog.example.org/guide/?ref=x) and "
    "[the study](https://journal.example.com/study).\n"
)


def tracking_site(site, smtp_server, database_url: str, tracking: str) -> None:
    """Three readers, an old post, the first tick; then a post with a link to the site and
    one elsewhere, announced by the next tick to the loopback relay."""
    write_relay_config(site, smtp_server.port, database_url, extra=f"[tracking]\n{tracking}\n")
    write_post(site, "old.md", f"title: Old\ndate: {(T - timedelta(days=30)).isoformat()}")
    config = at(site, T - timedelta(days=30))
    with Store.open(config) as store:
        for email in READERS:
            add(store, email, now=config.now)
    assert scheduler.tick(at(site, T - timedelta(hours=1))).problems == []
    write_post(site, "news.md", f"title: News\ndate: {T.isoformat()}", BODY)
    assert scheduler.tick(at(site, T + timedelta(minutes=5))).campaigns == [
        "post:news (3 recipients)"
    ]


def at(root, moment: datetime):
    return load_config(root / "config" / "site.toml", now=moment, env={**os.environ})


def html_of(received) -> str:
    message = message_from_bytes(received.data, policy=policy.default)
    return message.get_body(("html",)).get_content()


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def tracked_links(html: str) -> list[str]:
    return [unescape(h) for h in hrefs(html) if "/l/" in h]


def test_aggregate_links_redirect_count_people_and_scanners_apart(
    site, smtp_server, live_server, database_url
) -> None:
    tracking_site(site, smtp_server, database_url, 'clicks = "aggregate"')
    emails = {r.recipients[0]: html_of(r) for r in smtp_server.received}
    with Store.open(at(site, T)) as store, store.read() as conn:
        assert clicks.salt(conn, 1) is not None
    scheduler.tick(at(site, T + timedelta(days=8)))  # a week on, the salt goes
    with Store.open(at(site, T)) as store, store.read() as conn:
        assert clicks.salt(conn, 1) is None
    archived = (site / "public/newsletter/post-news/index.html").read_text()
    assert "/l/" not in archived and "https://blog.example.org/guide/?ref=x" in archived
    ann = tracked_links(emails["ann@example.org"])
    # Links to the site go through the redirect; the study elsewhere does not
    assert ann and all(link.startswith("https://blog.example.org/l/") for link in ann)
    assert "https://journal.example.com/study" in hrefs(emails["ann@example.org"])
    assert "We count clicks on the links in our emails per link, never per person" in (
        " ".join(emails["ann@example.org"].split())
    )
    with app_client(live_server, database_url=database_url) as (config, store, client):
        with store.read() as conn:
            campaign = conn.execute(select(campaigns.c.id)).scalar_one()
            table = clicks.links(conn, campaign)
        link = next(link for link in table if "/guide/" in link.url)
        assert link == clicks.Link(
            link.number,
            "https://blog.example.org/guide/?ref=x&utm_source=newsletter&utm_medium=email"
            "&utm_campaign=news",
            "the guide",
        )
        number = f"/{link.number}/"
        paths = {
            email: urlsplit(next(h for h in tracked_links(html) if number in h)).path
            for email, html in emails.items()
        }
        browser = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
        for path in paths.values():
            answer = client.get(path, headers=browser)
            assert answer.status_code == 302
            assert answer.headers["location"] == link.url  # UTM parameters kept
        client.get(paths["ann@example.org"], headers=browser)  # Ann again: 4 clicks, 3 people
        # A tampered signature, reader, campaign or link number: 404, never a redirect
        path = paths["ann@example.org"]
        for bad in [path[:-2] + ("AA" if not path.endswith("AA") else "BB"),
                    path.replace("/l/", "/l/9"), path.replace(number, "/99/"),
                    f"/l/{campaign}{number}https:%2F%2Fevil.example"]:  # fmt: skip
            answer = client.get(bad, headers=browser)
            assert answer.status_code == 404 and "location" not in answer.headers
        # Scanners: HEAD, a gateway's user agent, no user agent
        assert client.head(path, headers=browser).status_code == 302
        client.get(path, headers={"user-agent": "Mimecast URL Protect"})
        wait_for(
            lambda: (
                total(store, campaign).clicks == 4 and total(store, campaign).scanner_clicks == 2
            )
        )
        with store.read() as conn:
            assert clicks.link_totals(conn, campaign)[link.number - 1] == clicks.LinkTotal(
                link.number, link.url, "the guide", 4, 2, 3
            )
            assert clicks.summary(conn, campaign).unique == 3
            # No table holds a subscriber id next to a click
            assert conn.execute(select(func.count()).select_from(person_clicks)).scalar() == 0
            for name in ("campaign_links", "click_hours", "click_sketches", "click_salts"):
                columns = {c["name"] for c in inspect(conn).get_columns(name)}
                assert not columns & {"subscriber_id", "email", "delivery_id", "client", "tag"}
            hours = conn.execute(select(click_hours)).all()
            assert {tuple(row)[:2] for row in hours} == {(campaign, link.number)}


def total(store, campaign: int) -> clicks.ClickSummary:
    with store.read() as conn:
        return clicks.summary(conn, campaign)


def test_off_leaves_links_direct_and_says_so(site, smtp_server, database_url) -> None:
    tracking_site(site, smtp_server, database_url, 'clicks = "off"')
    html = html_of(smtp_server.received[0])
    assert tracked_links(html) == []
    assert any(h.startswith("https://blog.example.org/guide/?ref=x") for h in hrefs(html))
    assert "We do not count clicks" in html


def test_every_link_of_a_message_at_once_right_after_sending_is_a_scanner(
    site, live_server, database_url
) -> None:
    write_config(site, f'[database]\nurl = "{database_url}"\n')
    with app_client(live_server, database_url=database_url) as (config, store, client):
        campaign = new_campaign(store)
        signer = ClickSigner(load_tokens(config).secret)
        with store.read() as conn:
            salt = clicks.salt(conn, campaign)
        now = datetime.now(UTC)
        gateway = signer.reader(False, campaign, salt, 1, now)  # opens both links at once
        person = signer.reader(False, campaign, salt, 2, now)  # one link, quickly
        later = signer.reader(False, campaign, salt, 3, now - timedelta(hours=1))
        browser = {"user-agent": "Mozilla/5.0 Firefox/128.0"}
        for reader, link in [(gateway, 1), (gateway, 2), (person, 1), (later, 2)]:
            assert client.get(f"/l/{campaign}/{link}/{reader}", headers=browser).is_redirect
        wait_for(lambda: total(store, campaign).clicks == 2, timeout=30)
        wait_for(lambda: total(store, campaign).scanner_clicks == 2)


def test_individual_mode_stores_the_reader_and_forget_erases_it(
    site, smtp_server, live_server, database_url
) -> None:
    tracking_site(site, smtp_server, database_url, 'clicks = "individual"')
    emails = {r.recipients[0]: html_of(r) for r in smtp_server.received}
    assert "We record which links in our emails you click" in " ".join(
        emails["bob@example.org"].split()
    )
    browser = {"user-agent": "Mozilla/5.0 Firefox/128.0"}
    with app_client(live_server, database_url=database_url, tracking_clicks="individual") as (
        config,
        store,
        client,
    ):
        for html in emails.values():
            assert client.get(urlsplit(tracked_links(html)[0]).path, headers=browser).is_redirect
        wait_for(lambda: people(store) == 3)
        bob = get_by_email(store, "bob@example.org").id
        forget(store, "bob@example.org", now=T + timedelta(days=1))
        with store.read() as conn:
            left = conn.execute(select(person_clicks.c.subscriber_id)).scalars().all()
        assert len(left) == 2 and bob not in left
        assert total(store, campaign_id(store)).clicks == 3  # the counts stay, nameless


def people(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(person_clicks)).scalar_one()


def campaign_id(store) -> int:
    with store.read() as conn:
        return conn.execute(select(campaigns.c.id)).scalar_one()


def test_check_warns_a_health_site_about_per_person_tracking(site) -> None:
    write_config(site, '[tracking]\nopens = "on"\n')
    (site / "config" / "site.toml").write_text(
        (site / "config" / "site.toml")
        .read_text()
        .replace("[site]\n", "[site]\nhealth_related = true\n")
    )
    result = CliRunner().invoke(main, ["check"])
    lines = [line for line in result.output.splitlines() if "health_related" in line]
    assert len(lines) == 1 and "HIPAA" in lines[0] and "GDPR" in lines[0]


def test_clicks_lost_to_a_kill_are_logged_at_the_next_start(tmp_path, caplog) -> None:
    killed = PendingCount(tmp_path / "clicks.pending")
    killed.add(7)  # counted, then the process died before its commit
    killed.close()  # what the kernel does for a killed process: the count stays in the file
    with caplog.at_level(logging.WARNING):
        PendingCount(tmp_path / "clicks.pending").close()
    assert "7 click(s) counted before the last stop were lost" in caplog.text
    caplog.clear()
    running = PendingCount(tmp_path / "clicks.pending")
    running.add(3)
    with caplog.at_level(logging.WARNING):  # a second app on the site: its own count
        second = PendingCount(tmp_path / "clicks.pending")
        second.add(5)
        second.close()
    assert caplog.text == ""
    assert (tmp_path / "clicks.pending").read_bytes() == (3).to_bytes(8, "little")
    running.close()


def test_opens_on_counts_the_pixel_tied_to_no_one(site, smtp_server, live_server, database_url):
    tracking_site(site, smtp_server, database_url, 'clicks = "aggregate"\nopens = "on"')
    html = html_of(smtp_server.received[0])
    assert "and count how many emails are opened, tied to no one." in " ".join(html.split())
    [pixel] = re.findall(r'<img src="([^"]+/o/[^"]+)"', html)
    with app_client(live_server, database_url=database_url, tracking_opens="on") as web:
        _config, store, client = web
        answer = client.get(urlsplit(pixel).path)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
        assert client.get(urlsplit(pixel).path[:-3] + "xyz").status_code == 404
        wait_for(lambda: total(store, campaign_id(store)).opens == 1)
        assert total(store, campaign_id(store)).clicks == 0


def test_a_killed_web_app_says_how_many_clicks_it_lost(site) -> None:
    """SIGKILL while clicks wait for their group commit: the next start logs how many were
    lost, and those plus the ones written are every click the app answered."""
    write_config(site)
    port = free_port()
    env = {
        "PUBLISHER_SECRET_KEY": "a test secret that is long enough, 32+",
        "PYTHONUNBUFFERED": "1",
    }
    env["PUBLISHER_WEB_URL"] = f"http://127.0.0.1:{port}"
    config = load_config(env={**os.environ, **env})
    with Store.open(config) as store:
        campaign = new_campaign(store)
        with store.read() as conn:
            salt = clicks.salt(conn, campaign)
    signer = ClickSigner(env["PUBLISHER_SECRET_KEY"].encode())
    sent = datetime.now(UTC) - timedelta(days=1)
    paths = [f"/l/{campaign}/1/{signer.reader(False, campaign, salt, n, sent)}" for n in range(200)]
    browser = {"user-agent": "Mozilla/5.0 Firefox/128.0"}
    answered = 0
    for attempt in ("killed", "stopped"):
        log = site / f"{attempt}.log"
        with open(log, "w") as output:
            web = start_publisher("web", "--port", str(port), cwd=site, env=env,
                                  stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_for(lambda: _up(port), timeout=30)
            if attempt == "killed":
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=browser) as client:
                    answered = sum(client.get(path).status_code == 302 for path in paths)
                web.kill()  # SIGKILL: no shutdown, no last commit
        finally:
            if web.poll() is None:
                web.terminate()
            web.wait(timeout=30)
    lost = re.search(r"clicks: ([0-9]+) click\(s\) counted before the last stop were lost",
                     (site / "stopped.log").read_text())  # fmt: skip
    with Store.open(config) as store:
        written = total(store, campaign).clicks
    assert answered == len(paths) and written <= answered
    assert written + (int(lost[1]) if lost else 0) >= answered


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False
