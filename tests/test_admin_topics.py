"""Topics in the Admin API: the site's with their readers, and a subscriber's, changed as
their preferences page would, with an audit row."""

from __future__ import annotations

from pathlib import Path

from publisher import store as st
from publisher.store import audit

from conftest import write_config, write_post

TOPICS = """
[topics]
nutrition = { label = "Food and mood", tags = ["nutrition"] }
sleep = { label = "Sleep", tags = ["sleep"] }
"""


def test_topics_are_shown_and_changed_through_the_api(site: Path, start_console) -> None:
    write_config(site, TOPICS)
    console = start_console()
    now = console.clock()
    ana = st.add(console.store, "ana@example.org", now=now, topics="sleep").subscriber
    st.add(console.store, "bo@example.org", now=now, frequency="digest", topics="nutrition,sleep")
    st.add(console.store, "cy@example.org", now=now)
    editor = console.staff("ed@example.org", "editor")

    site_topics = editor.get("/admin/api/topics").json()
    assert site_topics == {
        "topics": [
            {
                "name": "nutrition",
                "label": "Food and mood",
                "tags": ["nutrition"],
                "readers": {"each": 0, "digest": 1},
            },
            {
                "name": "sleep",
                "label": "Sleep",
                "tags": ["sleep"],
                "readers": {"each": 1, "digest": 1},
            },
        ],
        "every_topic": {"each": 1, "digest": 0},
    }
    path = f"/admin/api/subscribers/{ana.id}/topics"
    assert editor.get(path).json() == {"topics": ["sleep"]}
    changed = editor.put(path, json={"topics": ["nutrition", "sleep"]})
    assert changed.status_code == 200 and changed.json() == {"topics": ["nutrition", "sleep"]}
    assert st.get(console.store, ana.id).topics == "nutrition,sleep"
    wrong = editor.put(path, json={"topics": ["diet"]})
    assert wrong.status_code == 422 and "not a topic: 'diet'" in wrong.json()["detail"]
    assert (
        editor.put("/admin/api/subscribers/999999/topics", json={"topics": []}).status_code == 404
    )
    author = console.staff("au@example.org", "author")
    assert author.put(path, json={"topics": []}).status_code == 403
    rows = [r for r in audit.rows(console.store) if r.action == "subscriber.topics"]
    assert [(r.object, r.detail) for r in rows] == [(str(ana.id), "nutrition,sleep")]

    write_post(site, "rest.md", "title: Rest\ndate: 2026-12-05 09:00\ntags: [sleep]")
    [queued] = editor.get("/admin/api/queue").json()["posts"]
    assert (queued["recipients"], queued["per_topic"]) == (2, {"sleep": 1, "": 1})


def test_the_post_api_reads_and_writes_when_and_how_a_post_is_emailed(console) -> None:
    editor = console.staff("ed@example.org", "editor")
    new = {
        "title": "Food and mood",
        "body": "Eat well.\n",
        "date": "2026-12-10 09:00",
        "email_at": "2026-12-11 10:00",
        "email_subject": "What to eat this week",
        "email_preheader": "Three small changes",
    }
    made = editor.post("/admin/api/posts", json=new)
    assert made.status_code == 201, made.text
    post = made.json()
    text = (console.config.root / post["source"]).read_text()
    assert "email_at: 2026-12-11 10:00\n" in text
    assert 'email_subject: "What to eat this week"\n' in text
    assert post["email_at"] == "2026-12-11T16:00:00Z" and post["email_only"] is False
    url = "/admin/api/posts/food-and-mood"
    early = editor.put(
        url, json={"email_at": "2026-12-09 10:00"}, headers={"if-match": post["etag"]}
    )
    assert early.status_code == 422 and "is before the date" in early.text
    letter = editor.put(
        url, json={"email_only": True, "email_at": None}, headers={"if-match": post["etag"]}
    )
    assert letter.status_code == 200, letter.text
    assert (letter.json()["email_only"], letter.json()["email_at"]) == (True, None)
    text = (console.config.root / post["source"]).read_text()
    assert "email_only: true\n" in text and "email_at" not in text
    assert 'email_subject: "What to eat this week"\n' in text  # kept: not in the change


def test_the_console_shows_readers_per_topic_and_changes_a_subscribers_topics(
    site: Path, start_console
) -> None:
    write_config(site, TOPICS)
    console = start_console()
    now = console.clock()
    ana = st.add(console.store, "ana@example.org", now=now, topics="sleep").subscriber
    st.add(console.store, "bo@example.org", now=now)
    editor = console.staff("ed@example.org", "editor")

    listed = editor.get("/admin/subscribers").text
    assert "Active readers by topic" in listed and "Food and mood" in listed
    assert f'href="/admin/subscribers/{ana.id}">ana@example.org</a>' in listed
    assert "every topic" in listed  # bo chose none
    assert "Active readers by topic" not in editor.get("/admin/subscribers?query=ana").text
    page = editor.get(f"/admin/subscribers/{ana.id}").text
    assert 'name="topics" value="sleep" checked' in page
    assert 'name="topics" value="nutrition">' in page

    changed = editor.post(f"/admin/subscribers/{ana.id}/topics", data={"topics": ["nutrition"]})
    assert changed.status_code == 303 and changed.headers["location"].endswith("done=topics")
    assert st.get(console.store, ana.id).topics == "nutrition"
    everything = editor.post(f"/admin/subscribers/{ana.id}/topics", data={})
    assert everything.status_code == 303 and st.get(console.store, ana.id).topics == ""
    wrong = editor.post(f"/admin/subscribers/{ana.id}/topics", data={"topics": ["diet"]})
    assert wrong.status_code == 422 and "not a topic: &#39;diet&#39;" in wrong.text
    assert editor.get("/admin/subscribers/999999").status_code == 404

    author = console.staff("au@example.org", "author")
    assert author.get(f"/admin/subscribers/{ana.id}").status_code == 403
    assert author.post(f"/admin/subscribers/{ana.id}/topics", data={}).status_code == 403
    rows = [r for r in audit.rows(console.store) if r.action == "subscriber.topics"]
    assert [r.detail for r in rows] == ["every topic", "nutrition"]  # newest first
