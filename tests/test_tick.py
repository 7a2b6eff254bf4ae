"""`tick`, `run` and `queue` end to end: real files, real SQLite, a real SMTP server, real
subprocesses. Time travels with `config.now` and `--now`."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.config import Config, load_config
from publisher.delivery.transports import open_transport
from publisher.errors import DeliveryError
from publisher.schedule import tick as scheduler
from publisher.schedule.deploy import site_lock
from publisher.schedule.queue import queue
from publisher.store import ledger
from publisher.store.db import Store
from publisher.store.newcomers import welcomes_due
from publisher.store.subscribers import add, confirm
from publisher.subscribers.tokens import load_tokens
from publisher.subscribers.welcome import send_welcome

from conftest import (
    SmtpServer,
    free_port,
    link_target,
    run_publisher,
    start_publisher,
    wait_for,
    write_post,
    write_relay_config,
)

CHICAGO = ZoneInfo("America/Chicago")
# Wednesday 2026-03-04 10:00 in Chicago: no Monday digest is within its grace.
T = datetime(2026, 3, 4, 10, 0, tzinfo=CHICAGO).astimezone(UTC)
MINUTE = timedelta(minutes=1)
EACH = ["ann@example.org", "bob@example.org", "cy@example.org"]
DIGEST = ["dee@example.org"]


def configure(root: Path, smtp: SmtpServer, extra: str = "") -> None:
    write_relay_config(
        root,
        smtp.port,
        extra=f"""
        [digest]
        every = "monday"
        at = "09:00"
        grace = "1d"
        {extra}
        """,
    )


def at(root: Path, moment: datetime) -> Config:
    return load_config(root / "config" / "site.toml", now=moment)


def subscribe(config: Config, each: list[str] = EACH, digest: list[str] = DIGEST) -> None:
    store = Store.open(config)
    try:
        for email in each:
            add(store, email, now=config.now, frequency="each")
        for email in digest:
            add(store, email, now=config.now, frequency="digest")
    finally:
        store.close()


def campaigns(config: Config) -> list[ledger.Campaign]:
    store = Store.open(config)
    try:
        return ledger.list_campaigns(store)
    finally:
        store.close()


def queue_post(root: Path, slug: str, when: datetime, **front: str) -> Path:
    lines = [f"title: {slug.replace('-', ' ').title()}", f"date: {when.isoformat()}"]
    lines += [f"{key}: {value}" for key, value in front.items()]
    return write_post(root, f"{slug}.md", "\n".join(lines), f"All about {slug}.\n")


def page(root: Path, slug: str) -> Path:
    return root / "public" / "posts" / slug / "index.html"


@pytest.fixture
def blog(site: Path, smtp_server: SmtpServer) -> Path:
    """A site with one old post, subscribers, and a first tick already done."""
    configure(site, smtp_server)
    queue_post(site, "welcome", T - timedelta(days=30))
    subscribe(at(site, T - timedelta(days=30)))
    assert scheduler.tick(at(site, T - timedelta(hours=1))).problems == []
    assert smtp_server.received == []
    return site


# --- In-process ticks ----------------------------------------------------------------


def test_a_queued_post_goes_live_and_is_announced_once(blog: Path, smtp_server) -> None:
    queue_post(blog, "spring-sleep", T)

    early = scheduler.tick(at(blog, T - MINUTE))
    assert not page(blog, "spring-sleep").exists()
    assert smtp_server.received == [] and early.published == []

    due = scheduler.tick(at(blog, T + MINUTE))
    assert due.problems == [] and due.published == ["spring-sleep"]
    assert page(blog, "spring-sleep").exists()
    assert sorted(smtp_server.recipients()) == EACH
    assert {m["Subject"] for m in smtp_server.messages()} == {"Spring Sleep"}
    assert "created post:spring-sleep (3 recipients)" in due.line(at(blog, T))

    again = scheduler.tick(at(blog, T + 2 * MINUTE))
    assert again.line(at(blog, T)).endswith("nothing due")
    assert len(smtp_server.received) == 3
    assert [c.key for c in campaigns(at(blog, T))] == ["post:spring-sleep"]


def test_publish_and_announce_on_each_database(site: Path, smtp_server, database_url) -> None:
    configure(site, smtp_server, f'[database]\nurl = "{database_url}"')
    queue_post(site, "old", T - timedelta(hours=3))
    queue_post(site, "new", T)
    subscribe(at(site, T - timedelta(days=1)))
    scheduler.tick(at(site, T - timedelta(hours=1)))
    assert scheduler.tick(at(site, T + MINUTE)).published == ["new"]
    scheduler.tick(at(site, T + 2 * MINUTE))
    assert sorted(smtp_server.recipients()) == EACH
    assert [c.key for c in campaigns(at(site, T))] == ["post:new"]


def test_a_title_with_a_line_break_gets_no_campaign_and_the_others_go_out(
    blog: Path, smtp_server
) -> None:
    """Issue 10: its campaign was created with a subject that cannot be built, failed every
    pass and held up every later campaign; fixing the post did not fix it."""
    queue_post(blog, "good", T)
    bad = write_post(blog, "bad.md", f'title: "Line\\nbreak"\nslug: bad\ndate: {T.isoformat()}')
    first = scheduler.tick(at(blog, T + MINUTE))
    assert first.exit_code != 0
    assert [str(p) for p in first.problems] == [
        "posts/bad.md:2: title: contains a line break or control character; write it on one line"
    ]
    assert [c.key for c in campaigns(at(blog, T))] == ["post:good"]
    assert sorted(smtp_server.recipients()) == EACH

    bad.write_text(bad.read_text().replace("\\n", " "))
    fixed = scheduler.tick(at(blog, T + 2 * MINUTE))
    assert fixed.problems == [] and "created post:bad (3 recipients)" in fixed.line(at(blog, T))
    assert {m["Subject"] for m in smtp_server.messages()} == {"Good", "Line break"}


def test_an_unexpected_error_in_one_announcement_is_one_problem(
    blog: Path, smtp_server, monkeypatch
) -> None:
    from publisher.mail import newsletter

    render_post = newsletter.render_post

    def render_or_fail(config, post, posts):
        if post.slug == "boom":
            raise RuntimeError("a bug")
        return render_post(config, post, posts)

    monkeypatch.setattr(newsletter, "render_post", render_or_fail)
    queue_post(blog, "boom", T)
    queue_post(blog, "fine", T)
    summary = scheduler.tick(at(blog, T + MINUTE))
    assert [str(p) for p in summary.problems] == [
        "posts/boom.md: not announced: RuntimeError: a bug"
    ]
    assert summary.exit_code == 1
    assert [c.key for c in campaigns(at(blog, T))] == ["post:fine"]
    assert sorted(smtp_server.recipients()) == EACH


def test_a_tick_that_leaves_mail_unsent_exits_1(blog: Path) -> None:
    """The relay is down: the campaign pauses, the tick says so and exits 1 (it was 0)."""
    configure(blog, SmtpServer("127.0.0.1", free_port()))
    queue_post(blog, "news", T)
    done = run_publisher("tick", "--now", (T + MINUTE).isoformat(), cwd=blog)
    assert done.returncode == 1, done.stderr
    assert "post:news: paused: cannot connect to 127.0.0.1" in done.stdout
    assert "Traceback" not in done.stderr


def test_fixing_a_title_does_not_announce_the_post_again(blog: Path, smtp_server) -> None:
    path = queue_post(blog, "sleep-tpis", T)
    scheduler.tick(at(blog, T + MINUTE))
    path.write_text(path.read_text().replace("title: Sleep Tpis", "title: Sleep Tips"))
    fixed = scheduler.tick(at(blog, T + 5 * MINUTE))
    # Issue 12: the address it went live at (and was emailed with) stays.
    assert fixed.published == [] and "Sleep Tips" in page(blog, "sleep-tpis").read_text()
    assert not page(blog, "sleep-tips").exists()
    assert len(smtp_server.received) == 3 and fixed.campaigns == []


def test_a_broken_post_is_not_published_and_the_others_are(blog: Path, smtp_server, caplog) -> None:
    queue_post(blog, "spring-sleep", T)
    write_post(blog, "forged.md", f'title: "Hi\\nBcc: all@example.org"\ndate: {T.isoformat()}')
    summary = scheduler.tick(at(blog, T + MINUTE))
    assert summary.published == ["spring-sleep"] and page(blog, "spring-sleep").exists()
    assert not (blog / "public" / "posts" / "hi").exists()
    assert "not published: posts/forged.md:2" in summary.line(at(blog, T))
    assert summary.exit_code == 1
    assert "posts/forged.md:2: title: contains a line break" in caplog.text
    scheduler.tick(at(blog, T + 2 * MINUTE))
    assert {m["Subject"] for m in smtp_server.messages()} == {"Spring Sleep"}
    assert [c.key for c in campaigns(at(blog, T))] == ["post:spring-sleep"]


def test_a_live_post_broken_by_an_edit_keeps_the_live_site_until_fixed(blog: Path) -> None:
    welcome = blog / "posts" / "welcome.md"
    good = welcome.read_text()
    before = page(blog, "welcome").read_bytes()
    welcome.write_text(good.replace("date:", "date: soon\nwas:"))
    queue_post(blog, "spring-sleep", T)
    broken = scheduler.tick(at(blog, T + MINUTE))
    assert broken.exit_code == 1 and broken.published == []
    assert "not published: posts/welcome.md:3" in broken.line(at(blog, T))
    assert "site not rebuilt" in broken.line(at(blog, T))
    assert page(blog, "welcome").read_bytes() == before
    assert not page(blog, "spring-sleep").exists()
    welcome.write_text(good)
    fixed = scheduler.tick(at(blog, T + 2 * MINUTE))
    assert fixed.exit_code == 0 and fixed.published == ["spring-sleep"]


def test_the_first_tick_builds_a_new_site_without_its_broken_post(site: Path, smtp_server) -> None:
    configure(site, smtp_server)
    queue_post(site, "old", T - timedelta(hours=1))
    write_post(site, "bad.md", "title: Bad\ndate: soon")
    first = scheduler.tick(at(site, T))
    assert page(site, "old").exists() and first.exit_code == 1
    assert "not published: posts/bad.md:3" in first.line(at(site, T))


def test_first_run_on_a_site_with_20_old_posts_sends_nothing(site: Path, smtp_server) -> None:
    configure(site, smtp_server)
    for n in range(20):  # one of them went live an hour ago, well within announce_max_age
        queue_post(site, f"old-{n}", T - timedelta(hours=1 + 30 * n))
    subscribe(at(site, T - timedelta(days=90)))

    first = scheduler.tick(at(site, T))
    assert first.problems == [] and first.published == []
    assert first.notes[0].startswith("first run: 20 live posts recorded, not emailed (the back ")
    assert page(site, "old-0").exists()
    scheduler.tick(at(site, T + MINUTE))
    assert smtp_server.received == [] and campaigns(at(site, T)) == []


def test_posts_that_appear_late_are_emailed_and_the_others_say_why(blog: Path, smtp_server) -> None:
    """Issue 12: a post added with an earlier date went live without email, silently."""
    queue_post(blog, "backdated", T - timedelta(days=3))
    queue_post(blog, "quiet", T - MINUTE, email="false")
    queue_post(blog, "draft", T - MINUTE, draft="true")
    summary = scheduler.tick(at(blog, T))
    assert sorted(summary.published) == ["backdated", "quiet"]
    assert not page(blog, "draft").exists()
    assert summary.decisions == {
        "backdated": "announced to 3; in the digest of 2026-03-09",
        "quiet": "not emailed: email: false in its front matter; `publisher send quiet` sends it",
    }
    assert sorted(smtp_server.recipients()) == EACH
    assert [c.key for c in campaigns(at(blog, T))] == ["post:backdated"]


def test_weekly_digest_goes_to_digest_subscribers_once(blog: Path, smtp_server) -> None:
    queue_post(blog, "tuesday-notes", T - timedelta(days=1), email="false")
    queue_post(blog, "friday-notes", T + timedelta(days=2))
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=CHICAGO).astimezone(UTC)  # first CDT Monday
    scheduler.tick(at(blog, T))
    scheduler.tick(at(blog, T + timedelta(days=2, minutes=1)))
    scheduler.tick(at(blog, monday - MINUTE))
    assert [c.key for c in campaigns(at(blog, monday))] == ["post:friday-notes"]
    before = len(smtp_server.received)

    scheduler.tick(at(blog, monday + MINUTE))
    scheduler.tick(at(blog, monday + 2 * MINUTE))
    digests = smtp_server.received[before:]
    assert [r.recipients for r in digests] == [DIGEST]
    assert "Friday Notes" in digests[0].message.get_body(("plain",)).get_content()

    # The next week has no posts: nothing is sent, and the summary says why.
    quiet = scheduler.tick(at(blog, monday + timedelta(days=7, minutes=1)))
    assert "digest:2026-03-16: no new posts since 2026-03-09 09:00, nothing to send" in quiet.notes
    assert len(smtp_server.received) == before + 1


def test_deploy_runs_after_the_build_and_is_retried(blog: Path, caplog) -> None:
    caplog.set_level(logging.INFO, "publisher")
    configure_deploy = 'deploy = "sh deploy.sh"'
    text = (blog / "config" / "site.toml").read_text()
    (blog / "config" / "site.toml").write_text(
        text.replace("[site]\n", f"[site]\n{configure_deploy}\n")
    )
    (blog / "deploy.sh").write_text('echo "uploading public/"\ntest -f relay-up || exit 3\n')
    queue_post(blog, "deployed", T)

    failed = scheduler.tick(at(blog, T + MINUTE))
    assert failed.deploy == "failed" and failed.exit_code == 1
    assert "deploy: uploading public/" in caplog.text
    assert "exited with status 3" in str(failed.problems[0])
    assert page(blog, "deployed").exists()

    (blog / "relay-up").touch()
    retried = scheduler.tick(at(blog, T + 2 * MINUTE))
    assert (retried.deploy, retried.exit_code) == ("ok", 0)
    # The one rebuild: the newsletter archive's pages for the announcement just created.
    assert retried.campaigns and "(2 rendered," in retried.build
    assert scheduler.tick(at(blog, T + 3 * MINUTE)).deploy == ""


def test_a_tick_skips_the_build_while_another_holds_the_lock(blog: Path, smtp_server) -> None:
    text = (blog / "config" / "site.toml").read_text()
    (blog / "config" / "site.toml").write_text(text + '\n[scheduler]\nlock_wait = "0.2s"\n')
    queue_post(blog, "locked-out", T)
    with site_lock(at(blog, T)) as locked:
        assert locked
        skipped = scheduler.tick(at(blog, T + MINUTE))
    assert "site build skipped: another tick is building it" in skipped.notes
    assert not page(blog, "locked-out").exists() and smtp_server.received == []
    assert scheduler.tick(at(blog, T + 2 * MINUTE)).published == ["locked-out"]
    assert len(smtp_server.received) == 3


def test_queue_shows_what_happens_next(blog: Path) -> None:
    queue_post(blog, "next-week", T + timedelta(days=7))
    queue_post(blog, "tomorrow", T + timedelta(days=1), email="false")
    queue_post(blog, "this-morning", T - timedelta(minutes=30))
    upcoming = queue(at(blog, T)).as_dict(at(blog, T))
    assert upcoming["posts"] == [
        {  # live, but no tick has published it yet: the next one will
            "slug": "this-morning",
            "title": "This Morning",
            "publish_at": "2026-03-04T09:30:00-06:00",
            "announce": True,
            "recipients": 3,
            "per_topic": {},
            "email": "announced to 3; in the digest of 2026-03-09",
        },
        {
            "slug": "tomorrow",
            "title": "Tomorrow",
            "publish_at": "2026-03-05T10:00:00-06:00",
            "announce": False,
            "recipients": 0,
            "per_topic": {},
            "email": "not emailed: email: false in its front matter; "
            "`publisher send tomorrow` sends it",
        },
        {
            "slug": "next-week",
            "title": "Next Week",
            "publish_at": "2026-03-11T11:00:00-05:00",
            "announce": True,
            "recipients": 3,
            "per_topic": {},
            "email": "announced to 3; in the digest of 2026-03-16",
        },
    ]
    assert upcoming["digest"] == {
        "key": "digest:2026-03-09",
        "due": "2026-03-09T09:00:00-05:00",
        "posts": ["this-morning"],
        "live_at": {"this-morning": "2026-03-04T09:30:00-06:00"},
        "recipients": 1,
        "per_topic": {},
    }


# --- Real processes ------------------------------------------------------------------


def test_two_ticks_at_once_never_send_twice(blog: Path, smtp_server) -> None:
    for n in range(10):
        moment = T + timedelta(hours=n)
        queue_post(blog, f"race-{n}", moment)
        now = (moment + MINUTE).isoformat()
        pair = [
            start_publisher(
                "tick", "--now", now, cwd=blog, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60) for p in pair]
        assert [p.returncode for p in pair] == [0, 0], outputs
        assert len(campaigns(at(blog, T))) == n + 1
        assert Counter(smtp_server.recipients()) == {email: n + 1 for email in EACH}


def wait_for_log(path: Path, text: str, count: int = 1, timeout: float = 30) -> None:
    def log() -> str:
        return path.read_text() if path.exists() else ""

    wait_for(
        lambda: log().count(text) >= count,
        timeout=timeout,
        interval=0.1,
        failure=lambda: f"{text!r} x{count} not in the log:\n{log()}",
    )


def test_run_keeps_going_after_a_bad_pass_and_stops_on_sigterm(blog: Path) -> None:
    text = (blog / "config" / "site.toml").read_text()
    (blog / "config" / "site.toml").write_text(text + "\n[scheduler]\ninterval = 1\n")
    log = blog / "run.log"
    process = start_publisher("run", "--now", T.isoformat(), "--log-file", str(log), cwd=blog)
    try:
        wait_for_log(log, "INFO publisher.schedule.tick: tick ", count=2)
        broken = write_post(blog, "broken.md", "title: Broken\ndate: someday")
        wait_for_log(log, "ERROR publisher.schedule.tick: posts/broken.md:")
        wait_for_log(log, "ERROR publisher.schedule.tick: pass failed: tick ")
        broken.unlink()
        passes = log.read_text().count(" tick ")
        wait_for_log(log, " tick ", count=passes + 1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
    assert "INFO publisher.schedule.tick: stopped" in log.read_text()


def test_tick_command_prints_one_line(blog: Path) -> None:
    done = run_publisher("tick", "--now", (T + MINUTE).isoformat(), cwd=blog)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tick 2026-03-04 10:01 CST: nothing due\n"
    listing = run_publisher("queue", "--json", "--now", T.isoformat(), cwd=blog)
    assert json.loads(listing.stdout)["digest"]["key"] == "digest:2026-03-09"


def confirm_while_the_relay_is_down(root: Path, smtp: SmtpServer, email: str) -> None:
    """Someone confirms (owed a welcome) and the web app's welcome meets a dead relay."""
    write_relay_config(root, free_port())  # nothing listens there
    down = at(root, T)
    with Store.open(down) as store:
        person = add(store, email, now=T, status="pending").subscriber
        person = confirm(store, person.id, now=T, welcome=True)
        with pytest.raises(DeliveryError):
            transport = open_transport(down)
            try:
                send_welcome(down, store, load_tokens(down), transport, person, T)
            finally:
                transport.close()
    configure(root, smtp)


def test_a_welcome_the_relay_could_not_take_goes_out_with_the_next_tick(
    blog: Path, smtp_server: SmtpServer
) -> None:
    confirm_while_the_relay_is_down(blog, smtp_server, "nia@example.org")
    summary = scheduler.tick(at(blog, T + MINUTE))
    assert "sent 1 welcome email owed" in summary.line(at(blog, T))
    assert smtp_server.recipients() == ["nia@example.org"]
    assert smtp_server.messages()[0]["Subject"].startswith("Welcome to ")
    scheduler.tick(at(blog, T + 2 * MINUTE))
    assert smtp_server.recipients() == ["nia@example.org"]  # once


def test_a_welcome_owed_for_days_is_dropped_not_sent_late(
    blog: Path, smtp_server: SmtpServer
) -> None:
    confirm_while_the_relay_is_down(blog, smtp_server, "ola@example.org")
    late = at(blog, T + timedelta(days=3))
    scheduler.tick(late)
    assert smtp_server.recipients() == []
    with Store.open(late) as store:
        assert welcomes_due(store, late.now) == []


def test_an_idle_sqlite_tick_never_imports_postgresql_support(blog: Path) -> None:
    """Cron pays a tick's start-up every few minutes: PostgreSQL's dialect (and the
    driver modules it pulls in) is a third of an idle tick's own work on a SQLite site."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "publisher.cli", "tick"]
        + ["--now", (T + MINUTE).isoformat()],
        cwd=blog,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == "tick 2026-03-04 10:01 CST: nothing due\n", done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "sqlalchemy.dialects.sqlite" in imported
    assert not {name for name in imported if "postgresql" in name or "psycopg" in name}


def test_every_sent_newsletter_has_a_page_in_the_web_archive(blog: Path, smtp_server) -> None:
    """Announcements and digests that went out get /newsletter/<id>/ (nothing personal in
    it), listed in /newsletter/, the sitemap and newsletter/feed.xml; "View in browser"
    in the email leads there."""
    import feedparser

    queue_post(blog, "spring-sleep", T)
    assert scheduler.tick(at(blog, T + MINUTE)).problems == []
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=CHICAGO).astimezone(UTC)
    assert scheduler.tick(at(blog, monday + MINUTE)).problems == []
    public = blog / "public"
    announcement = public / "newsletter" / "post-spring-sleep" / "index.html"
    digest = public / "newsletter" / "digest-2026-03-09" / "index.html"
    for page_file in (announcement, digest):
        html = page_file.read_text()
        assert "Spring Sleep" in html
        assert "token=" not in html and "__PUBLISHER_" not in html
        assert not any(address in html for address in EACH + DIGEST)
        assert 'href="https://blog.example.org/newsletter/">Every issue' in html
    index = (public / "newsletter" / "index.html").read_text()
    assert 'rel="alternate" type="application/atom+xml"' in index
    assert 'href="/newsletter/feed.xml"' in index
    assert index.index('href="/newsletter/digest-2026-03-09/"') < index.index(
        'href="/newsletter/post-spring-sleep/"'
    )
    sitemap = (public / "sitemap.xml").read_text()
    assert "<loc>https://blog.example.org/newsletter/post-spring-sleep/</loc>" in sitemap
    feed = feedparser.parse((public / "newsletter" / "feed.xml").read_text())
    assert [e.link for e in feed.entries] == [
        "https://blog.example.org/newsletter/digest-2026-03-09/",
        "https://blog.example.org/newsletter/post-spring-sleep/",
    ]
    sent = {m["Subject"]: m for m in smtp_server.messages()}
    text = sent["Spring Sleep"].get_body(("plain",)).get_content()
    browser = link_target(at(blog, monday), text, "View in browser:")
    assert browser.startswith("https://blog.example.org/newsletter/post-spring-sleep/?utm_")

    # A store that is there but cannot be read stops the build: the archive stays up.
    before = announcement.read_text()
    store_file = blog / "data" / "publisher.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{store_file}{suffix}").unlink(missing_ok=True)
    store_file.write_bytes(b"not a database" * 100)
    done = run_publisher("build", "--now", (monday + 2 * MINUTE).isoformat(), cwd=blog)
    assert done.returncode == 1 and "corrupt" in done.stderr, done.stderr
    assert announcement.read_text() == before
