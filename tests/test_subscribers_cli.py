"""`publisher subscribers ...` as a person runs it: real subprocesses, exit codes, output."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from publisher.store.db import open_store
from publisher.store.schema import subscribers

from conftest import PUBLISHER, run_publisher

NOW = "2026-03-02T15:00:00+00:00"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # LF ends lines
NOT_SMTPUTF8 = (
    "the part before @ has non-ASCII characters, which this site's mail relay cannot "
    "deliver (set [smtp] smtputf8 = true if it offers SMTPUTF8)"
)


def publisher(*args: str) -> subprocess.CompletedProcess:
    return run_publisher(*args, "--now", NOW, timeout=60)


def test_add_list_count_remove(site: Path) -> None:
    added = publisher(
        "subscribers", "add", "Ana@Example.ORG", "--name", "Ana", "--frequency", "digest"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added: Ana@example.org (active, digest)\n"
    assert (site / "data" / "publisher.db").is_file()

    listed = publisher("subscribers", "list", "--format", "json")
    row = json.loads(listed.stdout)
    assert (row["email"], row["status"]) == ("Ana@example.org", "active")
    assert row["created_at"] == "2026-03-02T09:00:00-06:00"  # shown in the site's time zone

    assert publisher("subscribers", "remove", "ana@example.org").stdout == (
        "unsubscribed: Ana@example.org\n"
    )
    again = publisher("subscribers", "add", "ana@example.org")
    assert again.returncode == 2
    assert again.stderr.startswith("error: ana@example.org: not added, the address is unsubscribed")
    counted = publisher("subscribers", "count").stdout.split()
    assert counted[counted.index("unsubscribed") + 1] == "1"
    assert counted[counted.index("total") + 1] == "1"


def test_staff_can_send_an_address_that_complained_a_confirmation_on_purpose(site: Path) -> None:
    from publisher.store import add, record_complaint

    with open_store("sqlite:///data/publisher.db", site) as store:
        ana = add(store, "ana@example.org", now=datetime.fromisoformat(NOW)).subscriber
        record_complaint(store, ana.id, now=datetime.fromisoformat(NOW))
    refused = publisher("subscribers", "add", "ana@example.org")
    assert refused.returncode == 2 and "not added, the address complained" in refused.stderr
    assert "add ana@example.org --send-confirmation` mails them a confirmation" in refused.stderr
    assert not (site / "data" / "outbox" / "new").exists()

    sent = publisher("subscribers", "add", "ana@example.org", "--send-confirmation")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == (
        "sent a confirmation link to ana@example.org (complained): "
        "subscribed again once they click it\n"
    )
    [message] = (site / "data" / "outbox" / "new").glob("*.eml")
    assert b"/confirm?token=" in message.read_bytes()
    listed = json.loads(publisher("subscribers", "list", "--format", "json").stdout)
    assert listed["status"] == "complained"  # until they click the link
    again = publisher("subscribers", "add", "ana@example.org", "--send-confirmation")
    assert again.returncode == 2 and "in the last 10 minutes" in again.stderr


def test_bad_address_and_unknown_address_exit_2(site: Path) -> None:
    bad = publisher("subscribers", "add", "not-an-address")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: not-an-address:")
    missing = publisher("subscribers", "remove", "nobody@example.org")
    assert (missing.returncode, missing.stderr) == (
        2,
        "error: nobody@example.org is not on the list\n",
    )


def test_add_refuses_what_would_fail_later(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: these were accepted, then halted the confirmation or the campaign."""
    refused = publisher("subscribers", "add", "josé@example.org")
    assert (refused.returncode, refused.stderr) == (2, f"error: josé@example.org: {NOT_SMTPUTF8}\n")
    named = publisher("subscribers", "add", "ana@example.org", "--name", "Ana\x1b[2J")
    assert (named.returncode, named.stderr) == (
        2,
        "error: name contains a control character (U+001B); remove it\n",
    )
    assert publisher("subscribers", "count").stdout.split()[-1] == "0"
    monkeypatch.setenv("PUBLISHER_SMTP_SMTPUTF8", "true")
    accepted = publisher("subscribers", "add", "josé@Bücher.DE")
    assert accepted.stdout == "added: josé@bücher.de (active, each)\n"  # stored in ASCII


def test_echoed_addresses_show_control_characters_escaped(site: Path) -> None:
    """Whitespace-class controls around an address are stripped, not refused; the command
    echoes the address as typed, so it must escape them."""
    forgot = publisher("subscribers", "forget", "\x1fana@example.org")
    assert (
        forgot.stdout == "not on the list: \\x1fana@example.org; its hash now blocks any import\n"
    )
    again = publisher("subscribers", "add", "ana@example.org\x1c")
    assert again.stderr.startswith("error: ana@example.org\\x1c: not added, the address is erased")


def test_import_reports_refused_rows_and_exits_0(site: Path) -> None:
    csv_file = site / "people.csv"
    csv_file.write_bytes(
        "email,name\nok@example.org,Ok\njosé@example.org,J\nnul@example.org,A\x00\n".encode()
    )
    result = publisher("subscribers", "import", str(csv_file))
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == (
        "3 rows: 1 added, 0 updated, 0 unchanged, 2 skipped (2 invalid)"
    )
    assert result.stderr.splitlines() == [
        f"{csv_file}:3: skipped: invalid address: josé@example.org: {NOT_SMTPUTF8}",
        f"{csv_file}:4: skipped: name contains a control character (U+0000); remove it",
    ]


def test_import_reads_a_semicolon_file_and_frequencies_as_people_write_them(site: Path) -> None:
    """Issue 20 item 27: a spreadsheet's ;-separated CSV, and 'weekly' as the form says."""
    csv_file = site / "people.csv"
    csv_file.write_text(
        "Email;Name;Frequency\nana@example.org;Ana;weekly\nbo@example.org;Bo, Jr.;Weekly digest\n"
        "cy@example.org;Cy;every post\n",
        encoding="utf-8",
    )
    result = publisher("subscribers", "import", str(csv_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "3 rows: 3 added, 0 updated, 0 unchanged, 0 skipped"
    listed = publisher("subscribers", "list", "--format", "csv").stdout
    assert "ana@example.org,Ana,active,digest" in listed.replace('"', "")
    assert "Bo, Jr." in listed and "cy@example.org,Cy,active,each" in listed.replace('"', "")


def test_an_idn_address_is_listed_as_people_write_it(site: Path) -> None:
    """Issue 20 item 27: the domain in Unicode where people read it; mail and the CSV
    export keep the form mail travels in."""
    added = publisher("subscribers", "add", "ana@bücher.example")
    assert added.stdout == "added: ana@bücher.example (active, each)\n", added.stderr
    assert "ana@bücher.example" in publisher("subscribers", "list").stdout
    assert "ana@xn--bcher-kva.example" in publisher("subscribers", "export").stdout
    gone = publisher("subscribers", "remove", "ana@xn--bcher-kva.example")
    assert gone.stdout.endswith(": ana@bücher.example\n")


def store_names(site: Path, names: dict[str, str]) -> None:
    """Give subscribers names as data stored before intake refused control characters."""
    database = f"sqlite:///{site / 'data' / 'publisher.db'}"
    with open_store(database, site) as store, store.transaction() as conn:
        for key, name in names.items():
            conn.execute(
                update(subscribers).where(subscribers.c.email_key == key).values(name=name)
            )


def test_list_and_export_show_stored_control_characters_escaped(site: Path) -> None:
    for email in ("ana@example.org", "bo@example.org"):
        assert publisher("subscribers", "add", email).returncode == 0
    store_names(site, {"ana@example.org": "Ana\x1b[2J\x00\u2028", "bo@example.org": "Bo\r\nX"})
    shown = {"Ana\\x1b[2J\\x00\\u2028", "Bo\\x0d\\x0aX"}
    for output in ("table", "csv", "json"):
        listed = publisher("subscribers", "list", "--format", output)
        assert listed.returncode == 0 and not RAW_CONTROL.search(listed.stdout), output
        assert all(name in listed.stdout.replace("\\\\", "\\") for name in shown), output
    exported = publisher("subscribers", "export")
    assert not RAW_CONTROL.search(exported.stdout)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert {row["name"] for row in rows} == shown


def test_export_defuses_formulas_unless_raw_and_its_file_is_private(site: Path) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'
    for email, name in (("ana@example.org", formula), ("+bo@example.org", "@SUM(1)")):
        assert publisher("subscribers", "add", email, "--name", name).returncode == 0
    exported = list(csv.DictReader(io.StringIO(publisher("subscribers", "export").stdout)))
    assert [(row["email"], row["name"]) for row in exported] == [
        ("ana@example.org", "'" + formula),
        ("'+bo@example.org", "'@SUM(1)"),
    ]
    raw = list(csv.DictReader(io.StringIO(publisher("subscribers", "export", "--raw").stdout)))
    assert [(row["email"], row["name"]) for row in raw] == [
        ("ana@example.org", formula),
        ("+bo@example.org", "@SUM(1)"),
    ]
    out = site / "list.csv"
    out.write_text("old")
    out.chmod(0o644)
    assert publisher("subscribers", "export", "--out", str(out)).returncode == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text(encoding="utf-8").startswith("email,name,")


def test_import_reports_lines_and_is_idempotent(site: Path) -> None:
    csv = site / "people.csv"
    csv.write_text(
        "Name,Email\nAna,ana@example.org\nX,broken\nAna,ANA@example.org\n", encoding="utf-8"
    )
    dry = publisher("subscribers", "import", str(csv), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1 added" in dry.stdout and "nothing was written" in dry.stdout
    assert publisher("subscribers", "count").stdout.split()[3] == "0"  # active

    first = publisher("subscribers", "import", str(csv))
    assert first.stdout.splitlines()[0] == (
        "3 rows: 1 added, 0 updated, 0 unchanged, 2 skipped (1 duplicate, 1 invalid)"
    )
    assert first.stderr.splitlines() == [
        f"{csv}:3: skipped: invalid address: broken: An email address must have an @-sign.",
        f"{csv}:4: skipped: duplicate of line 2",
    ]
    second = publisher("subscribers", "import", str(csv))
    assert second.stdout.startswith("3 rows: 0 added, 0 updated, 1 unchanged")

    pending = site / "pending.csv"
    pending.write_text("email\nnew@example.org\n", encoding="utf-8")
    out = publisher("subscribers", "import", str(pending), "--status", "pending").stdout
    assert out.splitlines()[-1] == "sent 1 confirmation"  # to the file outbox

    exported = publisher("subscribers", "export")
    assert exported.stdout.splitlines()[1].startswith(
        "ana@example.org,Ana,active,each,import:people.csv"
    )


def test_unusable_csv_exits_2_and_writes_nothing(site: Path) -> None:
    csv = site / "people.csv"
    csv.write_bytes(b"email\nok@example.org\nbad\xff@example.org\n")
    result = publisher("subscribers", "import", str(csv))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {csv}:3: not UTF-8 text; save the file as UTF-8 CSV; nothing was imported\n"
    )
    assert "ok@example.org" not in publisher("subscribers", "export").stdout


def test_corrupt_database_exits_1_with_one_line(site: Path) -> None:
    database = site / "data" / "publisher.db"
    database.parent.mkdir()
    database.write_bytes(b"garbage" * 1000)
    result = publisher("subscribers", "count")
    assert result.returncode == 1
    assert (
        result.stderr == f"error: {database}: database file is corrupt or not a SQLite database\n"
    )


def test_export_into_a_pipe_closed_early_exits_quietly(site: Path) -> None:
    """`publisher subscribers export | head -1`: head leaves after one line; the export
    stops with exit status 1 (a closed pipe, as click reports it) and no traceback."""
    csv = site / "many.csv"
    csv.write_text("email\n" + "".join(f"r{n}@example.org\n" for n in range(5000)))
    assert publisher("subscribers", "import", str(csv)).returncode == 0
    exporter = subprocess.Popen(
        [PUBLISHER, "subscribers", "export", "--now", NOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.run(["head", "-1"], stdin=exporter.stdout, capture_output=True, timeout=60)
    exporter.stdout.close()  # only head holds the pipe's read end now
    errors = exporter.stderr.read().decode()
    exporter.stderr.close()
    assert exporter.wait(timeout=60) == 1
    assert head.stdout.decode().startswith("email,name,status,")
    assert errors == ""
