"""The Admin API's posts, over real HTTP: files written as `publisher new` writes them, an
ETag to change or delete them (412 when the file changed on disk, 428 without), 422 with
`publisher check`'s problems and nothing written, the trash, roles (an author's drafts
only), test copies, previews, schedule, publish now, unpublish, git history, audit rows."""

from __future__ import annotations

import subprocess
import time

from publisher.content.editing import etag
from publisher.store import audit, published

from conftest import run_publisher, write_post

NEW = {"title": "Sleep and Mood", "body": "Nights shape days.\n", "date": "2026-12-10 09:00"}


def rows(console, action: str) -> list:
    return [r for r in audit.rows(console.store) if r.action == action]


def test_an_author_writes_a_draft_as_publisher_new_would(console) -> None:
    author = console.staff("au@example.org", "author")
    made = author.post("/admin/api/posts", json={**NEW, "tags": ["sleep"]})
    assert made.status_code == 201, made.text
    post = made.json()
    path = console.config.root / "posts/2026-12-10-sleep-and-mood.md"
    assert post["source"] == "posts/2026-12-10-sleep-and-mood.md" and post["draft"] is True
    text = path.read_text()
    assert text.startswith('---\ntitle: "Sleep and Mood"\ndate: 2026-12-10 09:00\n')
    assert made.headers["etag"] == post["etag"] == etag(path.read_bytes())
    assert post["date"] == "2026-12-10T15:00:00Z" and post["tags"] == ["sleep"]
    [row] = rows(console, "post.create")
    assert (row.object, row.staff_email) == ("sleep-and-mood", "au@example.org")

    listed = author.get("/admin/api/posts").json()
    assert [(p["slug"], p["state"]) for p in listed] == [("sleep-and-mood", "draft")]
    again = author.post("/admin/api/posts", json=NEW)
    assert again.status_code == 422 and "already exists" in again.json()["detail"]

    live = author.post("/admin/api/posts", json={**NEW, "title": "Live", "draft": False})
    assert live.status_code == 403  # an author may not publish
    assert not (console.config.root / "posts/2026-12-10-live.md").exists()


def test_changes_need_the_version_they_started_from(console) -> None:
    editor = console.staff("ed@example.org", "editor")
    created = editor.post("/admin/api/posts", json=NEW).json()
    path = console.config.root / created["source"]
    url = "/admin/api/posts/sleep-and-mood"
    assert editor.put(url, json={"summary": "x"}).status_code == 428
    changed = editor.put(url, json={"summary": "Short."}, headers={"if-match": created["etag"]})
    assert changed.status_code == 200 and changed.json()["summary"] == "Short."
    assert 'summary: "Short."' in path.read_text() and changed.json()["body"] == NEW["body"]
    stale = editor.put(url, json={"summary": "Mine"}, headers={"if-match": created["etag"]})
    assert stale.status_code == 412 and stale.json()["current"] == path.read_text()

    by_hand = path.read_text().replace("Nights", "Evenings")  # someone edits it in git
    path.write_text(by_hand)
    fresh = changed.json()["etag"]
    refused = editor.put(url, json={"summary": "Mine"}, headers={"if-match": fresh})
    assert refused.status_code == 412 and path.read_text() == by_hand
    assert refused.json()["current_etag"] == etag(by_hand.encode())
    current = editor.get(url)
    assert current.headers["etag"] == etag(by_hand.encode())
    assert current.json()["body"].startswith("Evenings")


def test_a_change_check_refuses_is_not_written(console) -> None:
    editor = console.staff("ed@example.org", "editor")
    created = editor.post("/admin/api/posts", json=NEW).json()
    path = console.config.root / created["source"]
    before = path.read_bytes()
    url = "/admin/api/posts/sleep-and-mood"
    missing = editor.put(
        url, json={"image": "/static/images/missing.png"}, headers={"if-match": created["etag"]}
    )
    assert missing.status_code == 422, missing.text
    [problem] = missing.json()["problems"]
    assert "no such file" in problem["message"] and problem["line"] >= 1
    broken = editor.put(url, json={"title": "Two\nlines"}, headers={"if-match": created["etag"]})
    assert broken.status_code == 422
    assert broken.json()["problems"][0]["line"] == 2  # the title's line
    assert path.read_bytes() == before and rows(console, "post.update") == []
    write_post(console.config.root, "other.md", "title: Other\ndate: 2026-01-01\nslug: taken")
    clash = editor.put(url, json={"title": "Taken"}, headers={"if-match": created["etag"]})
    assert clash.status_code == 422 and "also used by posts/other.md" in clash.text


def test_delete_moves_the_file_to_the_trash(console) -> None:
    author = console.staff("au@example.org", "author")
    created = author.post("/admin/api/posts", json=NEW).json()
    url = "/admin/api/posts/sleep-and-mood"
    assert author.delete(url, headers={"if-match": '"old"'}).status_code == 412
    gone = author.delete(url, headers={"if-match": created["etag"]})
    assert gone.status_code == 200
    trashed = console.config.root / gone.json()["trash"]
    assert trashed.parent == console.config.data_dir / "trash" and trashed.read_text()
    assert not (console.config.root / created["source"]).exists()
    assert author.get(url).status_code == 404
    assert [r.object for r in rows(console, "post.delete")] == ["sleep-and-mood"]


def test_schedule_publish_and_unpublish_are_for_editors(console) -> None:
    author = console.staff("au@example.org", "author")
    created = author.post("/admin/api/posts", json=NEW).json()
    url = "/admin/api/posts/sleep-and-mood"
    when = {"date": "2026-12-24T09:00:00-06:00"}
    tag = {"if-match": created["etag"]}
    assert author.post(f"{url}/schedule", json=when, headers=tag).status_code == 403
    editor = console.staff("ed@example.org", "editor")
    scheduled = editor.post(f"{url}/schedule", json=when, headers=tag)
    assert scheduled.status_code == 200, scheduled.text
    assert (
        scheduled.json()["draft"] is False
        and "date: 2026-12-24 09:00" in (console.config.root / created["source"]).read_text()
    )
    after = {"if-match": scheduled.json()["etag"]}
    change = author.put(url, json={"summary": "x"}, headers=after)
    assert change.status_code == 403  # no longer a draft: an author may not touch it

    published_now = editor.post(f"{url}/publish", headers=after)
    assert published_now.status_code == 202 and published_now.json()["tick"] is True
    deadline = time.monotonic() + 30
    while "sleep-and-mood" not in published.seen(console.store).records:
        assert time.monotonic() < deadline, "the tick did not publish it"
        time.sleep(0.1)
    assert editor.get(url).json()["date"] == "2026-12-01T15:00:00Z"  # dated now

    back = editor.post(
        f"{url}/unpublish", headers={"if-match": published_now.json()["post"]["etag"]}
    )
    assert back.status_code == 202 and back.json()["post"]["draft"] is True
    actions = [r.action for r in audit.rows(console.store) if r.object == "sleep-and-mood"]
    assert actions[:3] == ["post.unpublish", "post.publish", "post.schedule"]


def test_test_copies_and_previews(console) -> None:
    author = console.staff("au@example.org", "author")
    author.post("/admin/api/posts", json=NEW)
    url = "/admin/api/posts/sleep-and-mood"
    before = len(console.outbox())
    sent = author.post(f"{url}/test", json={})
    assert sent.status_code == 200 and sent.json()["subject_mark"] == "[DRAFT]"
    message = console.outbox()[before]
    assert message["To"].addresses[0].addr_spec == "au@example.org"
    assert message["Subject"].startswith("[DRAFT]")
    other = author.post(f"{url}/test", json={"to": "boss@example.org"})
    assert other.status_code == 403
    editor = console.staff("ed@example.org", "editor")
    assert editor.post(f"{url}/test", json={"to": "boss@example.org"}).status_code == 200

    page = author.get(f"{url}/preview", params={"as": "page"})
    assert page.status_code == 200 and "Nights shape days." in page.text and "<html" in page.text
    email = author.get(f"{url}/preview", params={"as": "email"})
    assert "Nights shape days." in email.text and "unsubscribe" in email.text.lower()
    text = author.get(f"{url}/preview", params={"as": "text"})
    assert text.headers["content-type"].startswith("text/plain") and "Nights" in text.text
    assert author.get(f"{url}/preview", params={"as": "pdf"}).status_code == 422


def test_a_renamed_live_post_keeps_its_address_in_the_console(console) -> None:
    """Issue 20 item 8: the list, the editor and an email preview's 'more from the blog'
    links name a live post whose title changed by the address its page keeps."""
    root = console.config.root
    tpis = write_post(root, "tpis.md", "title: Sleep Tpis\ndate: 2026-11-20 09:00", "Zz.\n")
    write_post(root, "other.md", "title: Other\ndate: 2026-11-25 09:00", "More.\n")
    for now in ("2026-11-19 09:00", "2026-11-30 09:00"):
        assert run_publisher("tick", "--now", now, cwd=root).returncode == 0
    tpis.write_text(tpis.read_text().replace("Sleep Tpis", "Sleep Tips"))
    editor = console.staff("ed@example.org", "editor")
    listed = {row["title"]: row["slug"] for row in editor.get("/admin/api/posts").json()}
    assert listed["Sleep Tips"] == "sleep-tpis"
    assert editor.get("/admin/api/posts/sleep-tpis").status_code == 200
    email = editor.get("/admin/api/posts/other/preview", params={"as": "email"}).text
    assert "/posts/sleep-tpis/" in email and "/posts/sleep-tips/" not in email


def test_saves_are_committed_as_their_author(console) -> None:
    root = console.config.root
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], cwd=root, check=True)
    author = console.sign_in(console.add_staff("au@example.org", "author", name="Ann Author"))
    author.post("/admin/api/posts", json=NEW)
    log = subprocess.run(
        ["git", "log", "-1", "--format=%an <%ae>|%s", "--name-only"],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout
    assert log.startswith("Ann Author <au@example.org>|post.create sleep-and-mood (console)")
    assert "posts/2026-12-10-sleep-and-mood.md" in log
