"""The Admin API's subscribers, over real HTTP: search by status and text, add (a
suppressed address refused), a CSV import (dry run with every skipped row, then the
import, asked about until done), export, erase (every trace, the audit row by id)."""

from __future__ import annotations

import time

from publisher.store import audit, subscribers
from publisher.store.search import escape
from publisher.vocabulary import STATUSES

from conftest import insert_subscriber

CSV = (
    "email,name\n"
    "ana@example.com,Ana\n"
    "not an address,Bob\n"
    "cy@example.com,Cy\n"
    "ana@example.com,Ana again\n"
)


def test_search_pages_by_status_and_text(console_on) -> None:
    console = console_on
    for n in range(60):
        insert_subscriber(console.store, f"p{n:02}@example.com", name=f"Person {n}")
    insert_subscriber(console.store, "left@example.org", name="Lee Left", status="unsubscribed")
    editor = console.staff("ed@example.org", "editor")
    first = editor.get("/admin/api/subscribers", params={"status": "active"}).json()
    assert first["total"] == 60 and first["more"] is True and len(first["subscribers"]) == 50
    assert first["subscribers"][0]["email"] == "p59@example.com"  # newest first
    second = editor.get("/admin/api/subscribers", params={"status": "active", "page": 2}).json()
    assert len(second["subscribers"]) == 10 and second["more"] is False
    prefix = editor.get("/admin/api/subscribers", params={"query": "P1@example"}).json()
    assert prefix["total"] is None and [s["email"] for s in prefix["subscribers"]] == []
    prefix = editor.get("/admin/api/subscribers", params={"query": "p1@"}).json()
    assert [s["email"] for s in prefix["subscribers"]] == []
    found = editor.get("/admin/api/subscribers", params={"query": "p1"}).json()
    assert len(found["subscribers"]) == 10  # p10..p19
    named = editor.get("/admin/api/subscribers", params={"query": "lee"}).json()
    assert [s["status"] for s in named["subscribers"]] == ["unsubscribed"]
    wild = editor.get("/admin/api/subscribers", params={"query": "%"}).json()
    assert wild["subscribers"] == []  # a wildcard is a character like any other
    assert escape("a_b%") == "a\\_b\\%"
    bad = editor.get("/admin/api/subscribers", params={"status": "gone"})
    assert bad.status_code == 422
    assert set(bad.json()["detail"][0]["msg"].split("'")[1::2]) <= set(STATUSES)
    author = console.staff("au@example.org", "author")
    assert author.get("/admin/api/subscribers").status_code == 403


def test_add_and_a_suppressed_address_is_refused(console) -> None:
    insert_subscriber(console.store, "gone@example.com", status="complained")
    editor = console.staff("ed@example.org", "editor")
    added = editor.post("/admin/api/subscribers", json={"email": "New@Example.com", "name": "N"})
    assert added.status_code == 201
    assert added.json()["outcome"] == "added"
    assert added.json()["subscriber"]["source"] == "console"
    refused = editor.post("/admin/api/subscribers", json={"email": "gone@example.com"})
    assert refused.status_code == 409 and "complained" in refused.json()["detail"]
    bad = editor.post("/admin/api/subscribers", json={"email": "nope"})
    assert bad.status_code == 422 and "nope" in bad.json()["detail"]
    extra = editor.post("/admin/api/subscribers", json={"email": "x@example.com", "role": "x"})
    assert extra.status_code == 422
    rows = [r for r in audit.rows(console.store) if r.action == "subscriber.add"]
    assert [(r.object, r.detail) for r in rows] == [
        (str(added.json()["subscriber"]["id"]), "added")
    ]


def wait_for(client, job: str) -> dict:
    deadline = time.monotonic() + 20
    while (report := client.get(f"/admin/api/subscribers/import/{job}").json())[
        "state"
    ] == "reading":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return report


def test_import_dry_run_then_import(console) -> None:
    editor = console.staff("ed@example.org", "editor")
    upload = {"file": ("list.csv", CSV.encode(), "text/csv")}
    started = editor.post("/admin/api/subscribers/import", files=upload)
    assert started.status_code == 202 and started.json()["rows"] == 4
    report = wait_for(editor, started.json()["id"])
    assert report["dry_run"] is True and report["state"] == "done"
    assert (report["added"], sum(report["skipped"].values())) == (2, 2)
    assert [row["line"] for row in report["skipped_rows"]] == [3, 5]
    assert subscribers.get_by_email(console.store, "ana@example.com") is None  # dry run

    real = editor.post(
        "/admin/api/subscribers/import", files=upload, data={"dry_run": "false"}
    ).json()
    report = wait_for(editor, real["id"])
    assert report["added"] == 2 and report["error"] == ""
    assert subscribers.get_by_email(console.store, "ana@example.com").source == "import:" + (
        report["id"] and subscribers.get_by_email(console.store, "ana@example.com").source[7:]
    )
    [row] = [r for r in audit.rows(console.store) if r.action == "subscribers.import"]
    assert row.detail == "list.csv: active" and row.staff_email == "ed@example.org"
    assert not list((console.config.data_dir / "uploads").iterdir())  # the upload is gone

    broken = editor.post(
        "/admin/api/subscribers/import", files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")}
    ).json()
    report = wait_for(editor, broken["id"])
    assert report["state"] == "failed" and "x.csv" in report["error"]
    assert editor.get("/admin/api/subscribers/import/nope").status_code == 404


def test_export_and_erase(console) -> None:
    kept = insert_subscriber(console.store, "kept@example.com", name="Kept")
    gone = insert_subscriber(console.store, "gone@example.com", name="Gone")
    editor = console.staff("ed@example.org", "editor")
    export = editor.get("/admin/api/subscribers/export")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "kept@example.com" in export.text and "gone@example.com" in export.text
    erased = editor.delete(f"/admin/api/subscribers/{gone}")
    assert erased.status_code == 200
    assert subscribers.get(console.store, gone) is None and subscribers.get(console.store, kept)
    assert editor.delete(f"/admin/api/subscribers/{gone}").status_code == 404
    [row] = [r for r in audit.rows(console.store) if r.action == "subscriber.erase"]
    assert row.object == str(gone) and "gone@" not in row.detail
    again = editor.post("/admin/api/subscribers", json={"email": "gone@example.com"})
    assert again.status_code == 409  # the hash keeps it from coming back
