"""When and how a post is emailed, from its front matter: `email_at`, `email_subject`,
`email_preheader`, and letters (`email_only`): emailed and archived, never on the blog."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
from click.testing import CliRunner

from publisher.cli import main
from publisher.config import load_config
from publisher.schedule import tick as scheduler
from publisher.store import ledger
from publisher.store.db import Store
from publisher.store.subscribers import add

from conftest import link_target, write_post, write_relay_config

CHICAGO = ZoneInfo("America/Chicago")
T = datetime(2026, 3, 4, 10, 0, tzinfo=CHICAGO).astimezone(UTC)  # a Wednesday
READERS = ["ann@example.org", "bob@example.org"]


def at(root: Path, moment: datetime):
    return load_config(root / "config" / "site.toml", now=moment, env={**os.environ})


def blog(site: Path, smtp_server) -> Path:
    """Two `each` readers, one old post, the first tick done."""
    write_relay_config(site, smtp_server.port)
    write_post(site, "old.md", f"title: Old\ndate: {(T - timedelta(days=30)).isoformat()}")
    config = at(site, T - timedelta(days=30))
    with Store.open(config) as store:
        for email in READERS:
            add(store, email, now=config.now)
    assert scheduler.tick(at(site, T - timedelta(hours=1))).problems == []
    return site


def check(site: Path, moment: datetime = T):
    return CliRunner().invoke(main, ["check", "--now", moment.isoformat()])


def test_email_at_a_day_after_the_date_sends_then_and_once(site: Path, smtp_server) -> None:
    blog(site, smtp_server)
    write_post(
        site,
        "later.md",
        "title: Later\ndate: 2026-03-04 10:30\nemail_at: 2026-03-05 10:30\ntags: [sleep]",
    )
    between = scheduler.tick(at(site, T + timedelta(hours=1)))
    assert between.published == ["later"] and between.campaigns == []
    assert between.decisions["later"] == (
        "announced at 2026-03-05 10:30; in the digest of 2026-03-09"
    )
    assert (site / "public" / "posts" / "later" / "index.html").exists()
    assert smtp_server.received == []
    assert scheduler.tick(at(site, T + timedelta(hours=12))).campaigns == []

    after = scheduler.tick(at(site, T + timedelta(days=1, hours=1)))
    assert after.campaigns == ["post:later (2 recipients)"]
    assert sorted(smtp_server.recipients()) == READERS
    assert scheduler.tick(at(site, T + timedelta(days=1, hours=2))).campaigns == []
    assert len(smtp_server.received) == 2


def test_email_at_before_the_date_is_an_error_and_other_mistakes_too(site: Path) -> None:
    write_post(site, "early.md", "title: Early\ndate: 2026-03-04 10:30\nemail_at: 2026-03-04 10:00")
    write_post(
        site, "nowhere.md", "title: Nowhere\ndate: 2026-03-04\nemail_only: true\nemail: false"
    )
    write_post(site, "odd.md", "title: Odd\ndate: 2026-03-04\nemail_at: soon")
    result = check(site)
    assert result.exit_code == 2
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert errors == [
        "error: posts/early.md:4: email_at: '2026-03-04 10:00' is before the date, when the "
        "post goes live; an email cannot link to a page that is not there yet: write a time "
        "on or after the date",
        "error: posts/nowhere.md:4: email_only: true makes a letter, which is only emailed, "
        "but email: false keeps it off email: remove one of them",
        "error: posts/odd.md:4: email_at: expected a time such as 2026-03-02 09:00, got 'soon'",
    ]


def test_email_subject_and_preheader_are_the_emails_only(site: Path, smtp_server) -> None:
    blog(site, smtp_server)
    write_post(
        site,
        "food.md",
        "title: Food and Mood\nslug: food\ndate: 2026-03-04 09:55\n"
        "email_subject: What to eat this week\nemail_preheader: Three small changes",
    )
    scheduler.tick(at(site, T))
    message = smtp_server.received[0].message
    assert message["subject"] == "What to eat this week"
    html = message.get_body(("html",)).get_content()
    assert "Three small changes" in html and "Food and Mood" in html  # the heading stays
    page = (site / "public" / "posts" / "food" / "index.html").read_text()
    assert "<title>Food and Mood" in page and "What to eat" not in page


def test_check_warns_about_a_spammy_email_subject_as_about_titles(site: Path) -> None:
    write_post(
        site,
        "loud.md",
        "title: Sleep better\ndate: 2026-03-05\nemail_subject: FREE SLEEP TIPS INSIDE!!",
    )
    write_post(site, "shout.md", "title: READ THIS BEFORE BED\ndate: 2026-03-05")
    warnings = [line for line in check(site).stderr.splitlines() if "subject" in line]
    assert warnings == [
        "warning: posts/loud.md: email_subject: the subject is mostly CAPITALS, which spam "
        "filters score; use sentence case",
        "warning: posts/loud.md: email_subject: the subject has several '!', which spam "
        "filters score; keep one at most",
        "warning: posts/shout.md: title: the subject is mostly CAPITALS, which spam filters "
        "score; use sentence case",
    ]


def test_a_letter_is_emailed_and_archived_but_never_on_the_blog(site: Path, smtp_server) -> None:
    blog(site, smtp_server)
    write_post(
        site,
        "hours.md",
        "title: New opening hours\nslug: hours\ndate: 2026-03-04 09:55\nemail_only: true\n"
        "tags: [news]",
        "From Monday we open at 8.\n",
    )
    summary = scheduler.tick(at(site, T))
    assert summary.campaigns == ["post:hours (2 recipients)"]
    message = smtp_server.received[0].message
    assert message["subject"] == "New opening hours"
    text = message.get_body(("plain",)).get_content()
    assert "From Monday we open at 8." in text
    browser = link_target(at(site, T), text, "View in your browser:")
    assert browser.startswith("https://blog.example.org/newsletter/post-hours/?utm_")
    assert "Read on the blog" not in text

    public = site / "public"
    assert not (public / "posts" / "hours").exists()
    assert not (public / "tags" / "news").exists()
    assert "hours" not in (public / "index.html").read_text()
    assert "posts/hours" not in (public / "sitemap.xml").read_text()
    feed = feedparser.parse((public / "feed.xml").read_text())
    assert [entry.title for entry in feed.entries] == ["Old"]
    archived = public / "newsletter" / "post-hours" / "index.html"
    assert "From Monday we open at 8." in archived.read_text()
    with Store.open(at(site, T)) as store:
        assert ledger.get_campaign(store, "post:hours").total == 2
    listed = CliRunner().invoke(main, ["posts", "--now", T.isoformat()]).stdout
    assert "https://blog.example.org/newsletter/post-hours/" in listed
