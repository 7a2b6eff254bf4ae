"""Issue 12, replayed as staff would: `publisher` in real processes, time travel with
`--now` (site time, America/Chicago), the file outbox, and an SMTP server on loopback."""

from __future__ import annotations

import json
import re
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from publisher.config import load_config

from conftest import (
    free_port,
    link_target,
    run_publisher,
    start_publisher,
    wait_for,
    write_post,
)

DAY0 = "2026-11-30 08:00"  # a Monday in Chicago, before the 09:00 digest


def publisher(site: Path, *args: str, now: str, code: int = 0) -> str:
    """Run a command at `now` (site time); its stdout, after checking its exit status."""
    done = run_publisher(*args, "--now", now, cwd=site)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout + done.stderr


def outbox(site: Path) -> list:
    folder = site / "data" / "outbox" / "new"
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def post_text(post) -> str:
    return post.get_body(("plain",)).get_content()


@pytest.fixture
def blog(site: Path) -> Path:
    """A live site with one old post, two subscribers (one for each post, one for the
    digest), and the first tick done."""
    text = (site / "config" / "site.toml").read_text()
    (site / "config" / "site.toml").write_text(
        text.replace("[site]\n", '[site]\ndeploy = "echo deployed >> deploys.log"\n', 1)
    )
    write_post(site, "welcome.md", "title: Welcome\ndate: 2026-10-01 09:00", "Hello.\n")
    publisher(site, "subscribers", "add", "ann@example.org", now=DAY0)
    publisher(site, "subscribers", "add", "dee@example.org", "--frequency", "digest", now=DAY0)
    first = publisher(site, "tick", now=DAY0)
    assert "first run: 1 live posts recorded, not emailed" in first
    return site


def write_draft(site: Path, title: str, now: str) -> Path:
    """`publisher new`, then the text written (the placeholder replaced)."""
    name = publisher(site, "new", title, now=now).strip()
    path = site / name
    text = path.read_text()
    body = text[text.index("\n---\n") + 5 :]
    path.write_text(text.replace(body, "\nOur new therapist joins the clinic.\n"))
    return path


def test_item_1_a_post_taken_out_of_draft_is_announced(blog: Path) -> None:
    path = write_draft(blog, "Meet Our New Therapist", DAY0)
    publisher(blog, "tick", now="2026-11-30 08:05")
    assert outbox(blog) == []
    path.write_text(path.read_text().replace("draft: true", "draft: false"))

    line = publisher(blog, "tick", now="2026-12-03 10:00")
    assert "published 1: meet-our-new-therapist (announced to 1; in the digest of 2026-12-07)" in (
        line
    )
    assert [m["To"] for m in outbox(blog)] == ["ann@example.org"]
    assert outbox(blog)[0]["Subject"] == "Meet Our New Therapist"

    queue = publisher(blog, "queue", now="2026-12-03 10:05")
    assert "meet-our-new-therapist  (announced to 1; in the digest of 2026-12-07)" in queue
    assert "holding 1 post(s) so far\n  2026-12-03 10:00  meet-our-new-therapist\n" in queue
    listing = json.loads(publisher(blog, "posts", "--json", now="2026-12-03 10:05"))
    row = next(r for r in listing if r["slug"] == "meet-our-new-therapist")
    assert (row["state"], row["email"], row["sent"], row["recipients"]) == (
        "live",
        "announced to 1; in the digest of 2026-12-07",
        1,
        1,
    )
    assert row["url"] == "https://blog.example.org/posts/meet-our-new-therapist/"

    publisher(blog, "tick", now="2026-12-07 09:01")  # the Monday digest holds it
    digest = [m for m in outbox(blog) if m["To"] == "dee@example.org"]
    assert len(digest) == 1 and "Meet Our New Therapist" in post_text(digest[0])


def test_item_1_a_back_dated_post_is_emailed_or_explained(blog: Path) -> None:
    write_post(blog, "last-week.md", "title: Last Week\ndate: 2026-11-23 09:00", "Text.\n")
    line = publisher(blog, "tick", now="2026-11-30 08:10")
    assert "published 1: last-week (announced to 1;" in line
    assert [m["Subject"] for m in outbox(blog)] == ["Last Week"]

    for n in range(4):  # an import of old posts: nobody is emailed, and it says why
        write_post(blog, f"old-{n}.md", f"title: Old {n}\ndate: 2025-0{n + 1}-01", "Text.\n")
    line = publisher(blog, "tick", now="2026-11-30 08:20")
    why = "not emailed: one of many old posts that appeared at once (an import?)"
    assert f"old-0 ({why}; `publisher send old-0` sends it)" in line
    assert len(outbox(blog)) == 1
    rows = json.loads(publisher(blog, "posts", "--json", now="2026-11-30 08:25"))
    assert sorted(r["email"] for r in rows if r["slug"].startswith("old-")) == [
        f"{why}; `publisher send old-{n}` sends it" for n in range(4)
    ]
    assert why in publisher(blog, "queue", now="2026-11-30 08:25")


def test_item_1_the_email_decision_is_in_the_log(blog: Path) -> None:
    write_post(blog, "quiet.md", "title: Quiet\ndate: 2026-11-30 08:30\nemail: false", "Text.\n")
    log = publisher(blog, "tick", now="2026-11-30 08:31")
    assert "published quiet: not emailed: email: false in its front matter" in log
    assert "2026-11-30 " in log and " CST INFO " in log  # the log's times are site time


def test_item_2_an_edit_to_a_live_post_goes_live_and_is_deployed_once(blog: Path) -> None:
    page = blog / "public" / "posts" / "welcome" / "index.html"
    deploys = blog / "deploys.log"
    assert "Hello." in page.read_text() and deploys.read_text().count("deployed") == 1
    post = blog / "posts" / "welcome.md"
    post.write_text(post.read_text().replace("Hello.", "Hello, with the typo fixed."))

    line = publisher(blog, "tick", now="2026-11-30 08:40")
    assert "deploy ok" in line
    assert "typo fixed" in page.read_text()
    assert deploys.read_text().count("deployed") == 2
    assert publisher(blog, "tick", now="2026-11-30 08:41").endswith("nothing due\n")
    assert deploys.read_text().count("deployed") == 2

    style = blog / "templates" / "site" / "static" / "style.css"
    style.parent.mkdir(parents=True)
    style.write_text("body { color: #123456; }\n")
    publisher(blog, "tick", now="2026-11-30 08:42")
    assert "#123456" in (blog / "public" / "static" / "style.css").read_text()
    assert deploys.read_text().count("deployed") == 3


def test_item_2_build_deploy_does_it_by_hand(blog: Path) -> None:
    post = blog / "posts" / "welcome.md"
    post.write_text(post.read_text().replace("Hello.", "Hello again."))
    out = publisher(blog, "build", "--deploy", now="2026-11-30 08:40")
    assert "deploy ok" in out
    assert (blog / "deploys.log").read_text().count("deployed") == 2
    assert publisher(blog, "tick", now="2026-11-30 08:41").endswith("nothing due\n")
    assert (blog / "deploys.log").read_text().count("deployed") == 2


def test_item_3_now_without_an_offset_is_site_time(blog: Path) -> None:
    line = publisher(blog, "tick", now="2026-12-01 04:46")
    assert line.startswith("tick 2026-12-01 04:46 CST: ")
    env_run = run_publisher("tick", cwd=blog, env={"PUBLISHER_NOW": "2026-12-01 04:50"})
    assert env_run.stdout.startswith("tick 2026-12-01 04:50 CST: ")


def test_item_4_posts_lists_every_post_and_a_wrong_slug_suggests(blog: Path) -> None:
    write_post(blog, "sleep.md", "title: Sleep and Mood Tips\ndate: 2026-12-10 09:00", "Zz.\n")
    write_post(blog, "draft.md", "title: Not Yet\ndate: 2026-12-01 09:00\ndraft: true", "..\n")
    write_post(blog, "broken.md", "title: Broken\ndate: someday", "..\n")
    out = publisher(blog, "posts", now="2026-11-30 09:30")
    assert "queued  2026-12-10T09:00-06:00  sleep-and-mood-tips  Sleep and Mood Tips" in out
    assert "draft   2026-12-01T09:00-06:00  not-yet" in out
    assert "live    2026-10-01T09:00-05:00  welcome" in out
    assert re.search(r"^error +- +posts/broken.md", out, re.M)

    broken = blog / "posts" / "broken.md"
    broken.unlink()
    wrong = publisher(blog, "send", "sleep-and-mood", now="2026-11-30 09:30", code=2)
    assert "no post with the slug 'sleep-and-mood'; did you mean sleep-and-mood-tips?" in wrong
    wrong = publisher(blog, "preview", "welcom", now="2026-11-30 09:30", code=2)
    assert "did you mean welcome?" in wrong


def test_item_5_test_sends_of_drafts_queued_posts_and_the_digest(blog: Path) -> None:
    write_draft(blog, "Meet Our New Therapist", DAY0)
    write_post(blog, "later.md", "title: Later\ndate: 2026-12-10 09:00", "Soon.\n")
    for slug in ("meet-our-new-therapist", "later"):
        out = publisher(blog, "send", slug, "--to", "me@example.org", now="2026-11-30 08:30")
        assert "me@example.org" in out
    assert [(m["To"], m["Subject"]) for m in outbox(blog)] == [
        ("me@example.org", "[DRAFT] Meet Our New Therapist"),
        ("me@example.org", "[TEST] Later"),
    ]
    write_post(blog, "today.md", "title: Today\ndate: 2026-11-30 08:00", "Now.\n")
    publisher(blog, "tick", now="2026-11-30 08:31")
    sent = len(outbox(blog))
    out = publisher(blog, "send", "--digest", "--to", "me@example.org", now="2026-11-30 08:35")
    assert "me@example.org" in out
    digest = outbox(blog)[sent:]
    assert [m["To"] for m in digest if m["To"] == "me@example.org"] == ["me@example.org"]
    test_copy = next(m for m in digest if m["To"] == "me@example.org")
    assert test_copy["Subject"].startswith("[TEST] ") and "Today" in post_text(test_copy)
    campaigns = publisher(blog, "campaigns", now="2026-11-30 08:36")
    assert "digest:" not in campaigns  # nothing recorded


def test_item_8_a_tick_before_a_recorded_one_refuses(blog: Path) -> None:
    write_post(blog, "soon.md", "title: Soon\ndate: 2026-12-05 09:00", "Text.\n")
    publisher(blog, "tick", now="2026-12-05 09:05")
    page = blog / "public" / "posts" / "soon" / "index.html"
    assert page.exists()
    refused = publisher(blog, "tick", now="2026-12-01 10:00", code=2)
    assert "before the last tick this store recorded (2026-12-05 09:05 CST" in refused
    assert "--now 2026-12-05T09:05 or later" in refused
    assert page.exists()
    write_post(blog, "next.md", "title: Next\ndate: 2026-12-05 09:08", "Text.\n")
    dry = publisher(blog, "tick", "--dry-run", now="2026-12-05 09:10")
    head = "dry run, nothing written: tick 2026-12-05 09:10 CST: would publish 1: "
    assert dry.startswith(head)  # issue 20 item 11: one word for what it would do
    assert "next (announced at this tick; in the digest of 2026-12-07)" in dry
    assert "would rebuild the site" in dry and "next tick" not in dry
    assert "would announce" not in dry
    assert not (blog / "public" / "posts" / "next").exists() and len(outbox(blog)) == 1
    done = publisher(blog, "tick", now="2026-12-05 09:10")
    assert "next (announced to 1; in the digest of 2026-12-07)" in done


def test_item_9_a_welcome_email_after_confirming(blog: Path) -> None:
    port = free_port()
    env = {"PUBLISHER_WEB_URL": f"http://127.0.0.1:{port}"}
    web = start_publisher("web", "--port", str(port), cwd=blog, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(base + "/healthz"), timeout=30)
        form = {"email": "new@example.org", "name": "Nia", "frequency": "each"}
        assert httpx.post(base + "/subscribe", data=form).status_code == 200
        wait_for(lambda: len(outbox(blog)) == 1)
        link = re.search(r"http://\S+/confirm\?token=\S+", post_text(outbox(blog)[0])).group(0)
        token = link.split("token=")[1]
        for _ in range(2):  # a second press welcomes nobody again
            assert httpx.post(f"{base}/confirm", params={"token": token}).status_code == 200
        wait_for(lambda: len(outbox(blog)) == 2)
    finally:
        web.terminate()
        web.wait(timeout=20)
    welcome = outbox(blog)[1]
    assert welcome["Subject"] == "Welcome to Test Clinic Blog"
    assert welcome["List-Unsubscribe"]
    text = post_text(welcome)
    assert "Hi Nia, thank you for confirming." in text and "Welcome" in text
    assert "https://blog.example.org/posts/welcome/" in text
    assert len(outbox(blog)) == 2


def test_item_9_a_sent_post_goes_to_new_subscribers_once(blog: Path) -> None:
    write_post(blog, "news.md", "title: News\ndate: 2026-11-30 08:30", "Text.\n")
    publisher(blog, "tick", now="2026-11-30 08:31")
    assert [m["To"] for m in outbox(blog)] == ["ann@example.org"]
    publisher(blog, "subscribers", "add", "bob@example.org", now="2026-11-30 10:00")
    out = publisher(blog, "send", "news", "--new-subscribers", now="2026-11-30 10:05")
    assert "post:news: 1 subscribers who joined since it went out" in out
    again = publisher(blog, "send", "news", "--new-subscribers", now="2026-11-30 10:06")
    assert "post:news: 0 subscribers" in again
    assert sorted(m["To"] for m in outbox(blog)) == ["ann@example.org", "bob@example.org"]
    listing = json.loads(publisher(blog, "posts", "--json", now="2026-11-30 10:07"))
    news = next(r for r in listing if r["slug"] == "news")
    assert (news["sent"], news["recipients"], news["email"]) == (
        2,
        2,
        "announced to 2; in the digest of 2026-11-30",  # due at 09:00, the next tick sends it
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_item_10_example_text_warnings_help_and_the_problem_line(blog: Path) -> None:
    name = publisher(blog, "new", "Untouched", now="2026-11-30 08:30").strip()
    path = blog / name
    lines = path.read_text().splitlines()
    where = lines.index(
        "Write the first paragraph here: readers see it on the index and in the email."
    )
    drafted = publisher(blog, "check", now="2026-11-30 08:30")  # a draft: said, not an error
    assert f"warning: {name}:{where + 1}: still holds the example text 'Write the first" in (
        drafted
    )
    assert "0 errors" in drafted
    path.write_text(path.read_text().replace("draft: true", "draft: false"))
    checked = publisher(blog, "check", now="2026-11-30 08:31", code=2)
    expected = f"error: {name}:{where + 1}: still holds the example text 'Write the first"
    assert expected in checked
    line = publisher(blog, "tick", now="2026-11-30 08:32", code=1)
    assert f"not published: {name}:{where + 1}" in line
    assert f"problem: {name}:{where + 1}: still holds the example text" in line
    assert "problem(s)" not in line and outbox(blog) == []
    path.unlink()

    write_post(blog, "odd.md", "title: Odd\ndate: 2026-11-01\ncategories: x", "Text.\n")
    built = publisher(blog, "build", now="2026-11-30 08:33")
    assert "warning: posts/odd.md:4: unknown front matter key 'categories'" in built

    commands = " ".join(run_publisher("--help", cwd=blog).stdout.split("Commands:")[1].split())
    assert "..." not in commands
    assert "Every post: slug, date, state (live, queued, draft, error), URL and email." in commands


def test_item_7_links_that_last(blog: Path) -> None:
    post = write_post(blog, "tpis.md", "title: Sleep Tpis\ndate: 2026-11-30 08:30", "Zz.\n")
    publisher(blog, "tick", now="2026-11-30 08:31")
    old = blog / "public" / "posts" / "sleep-tpis" / "index.html"
    assert old.exists() and len(outbox(blog)) == 1

    post.write_text(post.read_text().replace("Sleep Tpis", "Sleep Tips"))  # the title only
    publisher(blog, "tick", now="2026-11-30 08:40")
    assert "Sleep Tips" in old.read_text() and "Sleep Tpis" not in old.read_text()
    assert not (blog / "public" / "posts" / "sleep-tips").exists()
    again = publisher(blog, "send", "sleep-tpis", "--dry-run", now="2026-11-30 08:41")
    assert "post:sleep-tpis: campaign exists (done): 1 of 1 sent" in again  # not a new post

    post.write_text(post.read_text().replace("title: Sleep Tips", "title: Sleep Tips\nslug: rest"))
    warned = publisher(blog, "check", now="2026-11-30 08:45")
    assert "posts/tpis.md: slug changed since it went live; /posts/sleep-tpis/ will redirect" in (
        warned
    )
    line = publisher(blog, "tick", now="2026-11-30 08:46")
    assert "rest (in the digest of 2026-11-30; not announced: the same post as 'sleep-tpis'" in line
    assert (blog / "public" / "posts" / "rest" / "index.html").exists()
    moved_to_rest = '<link rel="canonical" href="https://blog.example.org/posts/rest/">'
    assert moved_to_rest in old.read_text() and 'http-equiv="refresh"' in old.read_text()
    assert len(outbox(blog)) == 1
    publisher(blog, "tick", now="2026-11-30 08:50")
    assert moved_to_rest in old.read_text()
    sent = publisher(blog, "send", "rest", now="2026-11-30 08:50")  # by hand: not twice
    assert "rest went out as post:sleep-tpis before its slug changed" in sent
    assert "post:sleep-tpis: already sent (1 of 1)" in sent and len(outbox(blog)) == 1
    publisher(blog, "subscribers", "add", "newcomer@example.org", now="2026-11-30 08:50")
    publisher(blog, "send", "rest", "--new-subscribers", now="2026-11-30 08:50")
    assert [m["To"] for m in outbox(blog)] == ["ann@example.org", "newcomer@example.org"]
    publisher(blog, "build", now="2026-11-30 08:51")  # by hand too, the old address stays
    assert moved_to_rest in old.read_text()
    assert "Sleep Tips" in (blog / "public" / "posts" / "rest" / "index.html").read_text()

    post.write_text(post.read_text().replace("slug: rest", "slug: rest-10.8"))
    publisher(blog, "tick", now="2026-11-30 08:55")
    assert (blog / "public" / "posts" / "rest-10.8" / "index.html").exists()
    for path in ("sleep-tpis", "rest"):  # every old address leads to the newest
        page = (blog / "public" / "posts" / path / "index.html").read_text()
        assert 'href="https://blog.example.org/posts/rest-10.8/"' in page
    other = write_post(blog, "other.md", "title: Rest\ndate: 2026-11-30 08:56", "Another.\n")
    taken = "posts/other.md:2: /posts/rest/ is where posts/tpis.md went live"
    assert taken in publisher(blog, "check", now="2026-11-30 08:57", code=2)
    line = publisher(blog, "tick", now="2026-11-30 08:57", code=1)
    assert "not published: posts/other.md:2" in line and taken in line
    assert moved_to_rest.replace("rest/", "rest-10.8/") in old.read_text()
    other.write_text(other.read_text().replace("title: Rest", "title: Rest\nslug: rest-more"))
    line = publisher(blog, "tick", now="2026-11-30 08:58")
    assert "rest-more (announced to 2;" in line and len(outbox(blog)) == 4
    post.write_text(post.read_text().replace("slug: rest-10.8", "slug: Rest Well!"))
    refused = publisher(blog, "check", now="2026-11-30 09:00", code=2)
    assert "posts/tpis.md:3: 'Rest Well!' cannot be a web address as written" in refused
    assert "write e.g. rest-well" in refused


def test_item_7_a_post_moved_before_its_digest_goes_in_it_at_its_new_address(
    blog: Path,
) -> None:
    post = write_post(blog, "tips.md", "title: Tips\ndate: 2026-12-01 09:00", "Zz.\n")
    publisher(blog, "tick", now="2026-12-01 09:01")
    post.write_text(post.read_text().replace("title: Tips", "title: Tips\nslug: sleep-tips"))
    line = publisher(blog, "tick", now="2026-12-02 09:00")
    assert "sleep-tips (in the digest of 2026-12-07; not announced: the same post as" in line
    publisher(blog, "tick", now="2026-12-07 09:01")
    digest = [m for m in outbox(blog) if m["To"] == "dee@example.org"]
    config = load_config(blog / "config" / "site.toml", now="2026-12-07 09:01")
    assert len(digest) == 1
    target = link_target(config, post_text(digest[0]), "Read more:")
    assert target.startswith("https://blog.example.org/posts/sleep-tips/?")
    assert [m["To"] for m in outbox(blog)].count("ann@example.org") == 1  # announced once


def test_item_6_serve_is_a_sandbox(blog: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_publisher(
        "serve",
        "--port",
        str(port),
        "--now",
        "2026-11-30 09:00",
        cwd=blog,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _answers(base + "/posts/welcome/"), timeout=60)
        page = httpx.get(base + "/posts/welcome/").text
        assert f'action="{base}/subscribe"' in page
        email = httpx.get(base + "/_email/post-welcome.html").text
        assert f"{base}/posts/welcome/" in email and "blog.example.org" not in email
        form = {"email": "tryout@example.org", "name": "Try", "frequency": "each"}
        assert httpx.post(base + "/subscribe", data=form).status_code == 200
        sandbox_mail = blog / "data" / "sandbox" / "outbox" / "new"
        wait_for(lambda: sandbox_mail.exists() and any(sandbox_mail.iterdir()))
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert "the real subscribers are never touched" in output
    [sent] = list(sandbox_mail.iterdir())
    assert f"{base}/confirm?token=" in sent.read_text()
    assert outbox(blog) == []  # the real outbox
    listed = publisher(blog, "subscribers", "list", "--format", "csv", now="2026-11-30 09:05")
    assert "tryout@example.org" not in listed


def test_issue_20_item_8_a_renamed_live_post_has_one_address_everywhere(blog: Path) -> None:
    """The title (so the slug) of a live post changes: `posts`, `queue`, the digest preview
    and `send` name it by the address its page keeps, the one already emailed."""
    post = write_post(blog, "tpis.md", "title: Sleep Tpis\ndate: 2026-12-01 08:30", "Zz.\n")
    publisher(blog, "tick", now="2026-12-01 08:31")
    post.write_text(post.read_text().replace("Sleep Tpis", "Sleep Tips"))
    now = "2026-12-01 09:00"
    publisher(blog, "tick", now=now)
    assert (blog / "public" / "posts" / "sleep-tpis" / "index.html").exists()
    assert not (blog / "public" / "posts" / "sleep-tips").exists()

    rows = json.loads(publisher(blog, "posts", "--json", now=now))
    row = next(r for r in rows if r["title"] == "Sleep Tips")
    assert (row["slug"], row["url"]) == ("sleep-tpis", "https://blog.example.org/posts/sleep-tpis/")
    assert row["email"] == "announced to 1; in the digest of 2026-12-07"
    queued = publisher(blog, "queue", now=now)
    assert "sleep-tips" not in queued
    assert "holding 1 post(s) so far\n  2026-12-01 08:30  sleep-tpis\n" in queued
    preview = blog / publisher(blog, "preview", "--digest", now=now).split()[0]
    assert "https://blog.example.org/posts/sleep-tpis/" in preview.read_text()
    assert "/posts/sleep-tips/" not in preview.read_text()
    sent = publisher(blog, "send", row["slug"], "--dry-run", now=now)
    assert "post:sleep-tpis: campaign exists (done): 1 of 1 sent" in sent


def test_issue_20_item_10_a_post_promised_a_digest_is_in_it(sample_site: Path) -> None:
    """The sample site's scheduler first runs in August, then not until October: the posts
    that went live meanwhile are too old to announce but promised a digest, and each is in
    the very digest its line named, which never changes."""
    new_reader = ("subscribers", "add", "dee@example.org", "--frequency", "digest")
    publisher(sample_site, *new_reader, now="2026-08-17 11:00")
    promised: dict[str, set[str]] = {}
    for now in ("2026-08-17 12:00", "2026-10-06 09:00", "2026-10-12 09:00", "2026-10-19 09:00"):
        publisher(sample_site, "tick", now=now)
        for row in json.loads(publisher(sample_site, "posts", "--json", now=now)):
            if row["state"] == "live":
                named = re.search(r"in the digest of ([\d-]+)", row["email"])
                assert named, row["email"]  # emailed, or said plainly why not
                promised.setdefault(row["title"], set()).add(named.group(1))
    # A digest's Feedback-ID starts with its period (its links go through the redirect).
    digests = {m["Feedback-ID"].split(":")[0]: post_text(m) for m in outbox(sample_site)}
    assert len(promised) == 3 and len(digests) == 2
    for title, [period] in promised.items():
        assert title in digests[period]
