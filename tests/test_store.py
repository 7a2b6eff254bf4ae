"""The subscriber store on SQLite, and on PostgreSQL when PUBLISHER_TEST_DATABASE_URL is set:
suppression, erasure, imports (edge cases included), exports, migrations, faults."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, event, func, insert, select

from publisher import store as st
from publisher.errors import StoreError
from publisher.store import csvio, db, schema
from publisher.store.db import LATEST, database_url, open_store
from publisher.store.schema import events, schema_version, subscribers, suppressions
from publisher.subscribers.addresses import AddressError, InvalidName

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def write_csv(tmp_path: Path, text: str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def event_kinds(store: st.Store) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(select(events.c.kind).order_by(events.c.id)).scalars())


def emails(store: st.Store, status: str | None = None) -> list[str]:
    return [s.email for s in st.iter_subscribers(store, status)]


# --- Subscribers and suppression --------------------------------------------------------


def test_add_normalizes_and_is_case_insensitive(store: st.Store) -> None:
    added = st.add(store, "Ana@Example.ORG", now=NOW, name="Ana")
    assert added.outcome == "added"
    assert added.subscriber.email == "Ana@example.org"
    assert added.subscriber.confirmed_at == NOW
    assert st.add(store, "ana@example.org", now=NOW).outcome == "unchanged"
    assert st.get_by_email(store, "ANA@EXAMPLE.ORG").id == added.subscriber.id
    assert st.add(store, "Jo@Bücher.DE", now=NOW).subscriber.email == "Jo@xn--bcher-kva.de"
    assert st.counts(store)["active"] == 2
    assert event_kinds(store) == ["subscribed", "subscribed"]
    with pytest.raises(AddressError):
        st.add(store, "not-an-address", now=NOW)


def test_add_updates_and_activates_pending(store: st.Store) -> None:
    st.add(store, "bo@example.org", now=NOW, status="pending")
    change = st.add(store, "bo@example.org", now=NOW, name="Bo", frequency="digest")
    assert (change.outcome, change.subscriber.status) == ("updated", "active")
    assert (change.subscriber.name, change.subscriber.frequency) == ("Bo", "digest")
    assert st.add(store, "bo@example.org", now=NOW, status="pending").outcome == "unchanged"


@pytest.mark.parametrize("how", ["remove", "bounce", "complaint"])
def test_suppressed_address_is_never_reactivated_by_add_or_import(
    store: st.Store, tmp_path: Path, how: str
) -> None:
    subscriber = st.add(store, "cy@example.org", now=NOW).subscriber
    if how == "remove":
        st.remove(store, "cy@example.org", now=NOW)
    elif how == "bounce":
        assert st.record_bounce(store, subscriber.id, now=NOW, limit=2).status == "active"
        st.record_bounce(store, subscriber.id, now=NOW, limit=2)
    else:
        st.record_complaint(store, subscriber.id, now=NOW)
    status = st.get(store, subscriber.id).status
    assert status in st.SUPPRESSED

    change = st.add(store, "Cy@example.org", now=NOW)
    assert (change.outcome, change.reason) == ("skipped", status)
    problems: list[tuple[int, str]] = []
    summary = st.import_csv(
        store,
        write_csv(tmp_path, "email\ncy@example.org\n"),
        now=NOW,
        report=lambda line, p: problems.append((line, p)),
    )
    assert summary.skipped == {"suppressed": 1}
    assert problems == [(2, f"suppressed address: {status}")]
    assert st.subscribe_pending(store, "cy@example.org", now=NOW).status == status
    assert st.get(store, subscriber.id).status == status

    confirmed = st.confirm(store, subscriber.id, now=NOW + timedelta(days=1))
    assert (confirmed.status, confirmed.unsubscribed_at, confirmed.bounce_count) == (
        "active",
        None,
        0,
    )


def test_remove_is_idempotent(store: st.Store) -> None:
    st.add(store, "di@example.org", now=NOW)
    first, changed = st.remove(store, "DI@example.org", now=NOW)
    again, changed_again = st.remove(store, "di@example.org", now=NOW)
    assert (first.status, changed, changed_again) == ("unsubscribed", True, False)
    assert again.unsubscribed_at == NOW
    assert event_kinds(store).count("unsubscribed") == 1
    with pytest.raises(st.NotFound):
        st.remove(store, "nobody@example.org", now=NOW)


def test_forget_erases_personal_data_and_blocks_reimport(
    store: st.Store, tmp_path: Path, database_url: str
) -> None:
    ana = st.add(store, "Ana.Secret@example.org", now=NOW, name="Ana Secret").subscriber
    st.set_preferences(store, ana.id, now=NOW, frequency="digest")
    keep = st.add(store, "keep@example.org", now=NOW).subscriber

    assert st.forget(store, "ana.secret@EXAMPLE.org", now=NOW) is True
    assert st.get(store, ana.id) is None
    with store.read() as conn:
        rows = conn.execute(select(events.c.subscriber_id, events.c.kind, events.c.detail)).all()
        hashes = list(conn.execute(select(suppressions.c.email_hash)).scalars())
    assert (None, "erased", "") in rows
    assert all(row.subscriber_id in (None, keep.id) for row in rows)
    assert all(row.detail == "" for row in rows if row.subscriber_id is None)
    assert len(hashes) == 1 and "secret" not in hashes[0]
    if database_url.startswith("sqlite"):  # not in the file, not in the WAL, not in free pages
        database = Path(database_url.removeprefix("sqlite:///"))
        for path in (database, database.with_name(database.name + "-wal")):
            data = path.read_bytes() if path.exists() else b""
            assert b"Ana.Secret" not in data and b"ana.secret" not in data

    assert st.add(store, "ana.secret@example.org", now=NOW).reason == "erased"
    summary = st.import_csv(store, write_csv(tmp_path, "email\nAna.Secret@example.org\n"), now=NOW)
    assert summary.skipped == {"erased": 1}

    # Only the person can come back: subscribe on the web, then confirm.
    pending = st.subscribe_pending(store, "ana.secret@example.org", now=NOW)
    assert pending.status == "pending"
    assert st.add(store, "ana.secret@example.org", now=NOW).reason == "erased"
    assert st.confirm(store, pending.id, now=NOW).status == "active"
    assert st.add(store, "ana.secret@example.org", now=NOW).outcome == "unchanged"
    assert st.forget(store, "never-seen@example.org", now=NOW) is False
    assert st.add(store, "never-seen@example.org", now=NOW).reason == "erased"


def test_driver_transaction_commits_or_rolls_back_and_reports_one_line(store: st.Store) -> None:
    st.add(store, "dt@example.org", now=NOW)
    rename = "UPDATE subscribers SET name = 'Dee'"
    with store.connect() as conn:
        with pytest.raises(RuntimeError), store.driver_transaction(conn) as cursor:
            cursor.execute(rename)
            raise RuntimeError("worker died")
        assert st.get_by_email(store, "dt@example.org").name == ""
        failing = pytest.raises(StoreError, match="database error: .*no_such_table")
        with failing, store.driver_transaction(conn) as cursor:
            cursor.execute(rename)
            cursor.execute("UPDATE no_such_table SET x = 1")
        with store.driver_transaction(conn) as cursor:  # the connection is usable again
            cursor.execute(rename)
    assert st.get_by_email(store, "dt@example.org").name == "Dee"


def test_subscribe_many_is_subscribe_pending_then_claim_for_each(store: st.Store) -> None:
    """The web app's group commit: the same rows and claims as one call each, in order,
    and a sign-up that fails is written apart from the others."""
    from publisher.store.signups import SignUp, subscribe_many
    from publisher.subscribers.addresses import normalize

    st.add(store, "act@example.org", now=NOW)
    claimed = st.subscribe_pending(store, "pen@example.org", now=NOW)
    assert st.claim_confirmation(store, claimed.id, now=NOW)
    later = NOW + timedelta(minutes=1)
    signups = [
        SignUp(normalize("New@Example.org", smtputf8=False), " New ", None),
        SignUp(
            normalize("new@example.org", smtputf8=False), "Again", "digest"
        ),  # the same, in one batch
        SignUp(normalize("act@example.org", smtputf8=False), "", None),
        SignUp(normalize("pen@example.org", smtputf8=False), "Pen", None),  # claimed a minute ago
        SignUp(normalize("bad@example.org", smtputf8=False), "", "weekly"),  # refused, alone
    ]
    results = subscribe_many(store, signups, now=later)
    new, again, active, pending = results[:4]
    assert (new[0].status, new[0].name, new[0].frequency, new[1]) == (
        "pending",
        "New",
        "each",
        True,
    )
    assert (again[0].id, again[0].frequency, again[0].name, again[1]) == (
        new[0].id,
        "digest",
        "Again",
        False,
    )
    assert (active[0].status, active[1]) == ("active", False)
    assert (pending[0].name, pending[1]) == ("Pen", False)
    assert isinstance(results[4], Exception) and st.get_by_email(store, "bad@example.org") is None
    row = st.get_by_email(store, "new@example.org")
    assert (row.confirm_sent_at, row.frequency) == (later, "digest")


def test_subscribe_pending_preferences_and_confirmation_rate(store: st.Store) -> None:
    pending = st.subscribe_pending(store, "eve@example.org", now=NOW, name="Eve")
    assert (pending.status, pending.frequency, pending.confirmed_at) == ("pending", "each", None)
    again = st.subscribe_pending(store, "eve@example.org", now=NOW, frequency="digest")
    assert (again.id, again.name, again.frequency) == (pending.id, "Eve", "digest")

    assert st.claim_confirmation(store, pending.id, now=NOW) is True
    assert st.claim_confirmation(store, pending.id, now=NOW + timedelta(minutes=9)) is False
    assert st.claim_confirmation(store, pending.id, now=NOW + timedelta(minutes=10)) is True

    active = st.confirm(store, pending.id, now=NOW)
    assert (active.status, active.confirmed_at) == ("active", NOW)
    assert st.subscribe_pending(store, "eve@example.org", now=NOW).status == "active"
    changed = st.set_preferences(store, pending.id, now=NOW, frequency="each", name="Eve A.")
    assert (changed.frequency, changed.name) == ("each", "Eve A.")
    assert st.unsubscribe(store, pending.id, now=NOW).status == "unsubscribed"
    assert st.confirm(store, 999_999, now=NOW) is None
    assert event_kinds(store) == ["subscribed", "confirmed", "preferences", "unsubscribed"]


def both_at_the_insert(store: st.Store, *calls) -> list:
    """Run `calls` in two threads that both pass their read (no such address yet) and meet
    right before inserting the row: the race of two sign-ups for one new address."""
    met = threading.Barrier(len(calls), timeout=30)  # a guard against a hang, not a timing

    @event.listens_for(store.engine, "before_cursor_execute")
    def meet(conn, cursor, statement, *_args) -> None:
        if statement.startswith("INSERT INTO subscribers "):
            met.wait()

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        results = [future.result() for future in futures]
    event.remove(store.engine, "before_cursor_execute", meet)
    return results


@pytest.mark.parametrize("first", ["add", "subscribe_pending"])
def test_two_sign_ups_for_one_new_address_at_once(store: st.Store, first: str) -> None:
    if store.is_sqlite:
        pytest.skip("SQLite writers take the lock before reading (BEGIN IMMEDIATE): no race")
    email = "twin@example.org"
    one = partial(getattr(st, first), store, email, now=NOW)
    pending = partial(st.subscribe_pending, store, email, now=NOW)
    results = both_at_the_insert(store, one, pending)
    subscribed = [r.subscriber if isinstance(r, st.Change) else r for r in results]
    assert subscribed[0].id == subscribed[1].id
    assert st.counts(store)["active" if first == "add" else "pending"] == 1
    assert event_kinds(store).count("subscribed") == 1
    if first == "add":  # whichever insert won, the team's `add` leaves the address active
        assert results[0].outcome in ("added", "updated")
        assert st.get_by_email(store, email).status == "active"


def test_iteration_is_in_id_order_across_pages(store: st.Store) -> None:
    for number in range(25):
        frequency = "digest" if number % 3 == 0 else "each"
        st.add(store, f"r{number}@example.org", now=NOW, frequency=frequency)
    st.remove(store, "r3@example.org", now=NOW)
    ids = [s.id for s in st.iter_subscribers(store, batch=4)]
    assert ids == sorted(ids) and len(ids) == 25
    digest = [s.email for s in st.iter_active(store, "digest")]
    assert digest == [f"r{n}@example.org" for n in range(0, 25, 3) if n != 3]
    assert st.counts(store) == {
        "pending": 0,
        "active": 24,
        "unsubscribed": 1,
        "bounced": 0,
        "complained": 0,
    }


# --- Intake: nothing accepted that fails later (issue 10) --------------------------------

CONTROL_NAMES = ["A\nB", "A\x00B", "A\x1b[2JB", "A\tB", "A\x7fB", "A\x9bB", "A\u2028B"]


def test_idn_domain_is_stored_in_ascii_and_is_the_same_address_either_way(
    store: st.Store,
) -> None:
    added = st.add(store, "Ana@Bücher.DE", now=NOW).subscriber
    assert added.email == "Ana@xn--bcher-kva.de"
    assert st.add(store, "ana@XN--BCHER-KVA.de", now=NOW).outcome == "unchanged"
    assert st.get_by_email(store, "ana@bücher.de").id == added.id
    st.forget(store, "ana@xn--bcher-kva.de", now=NOW)
    assert st.add(store, "Ana@Bücher.DE", now=NOW).outcome == "skipped"


def test_non_ascii_local_part_is_refused_unless_the_relay_offers_smtputf8(
    store: st.Store,
) -> None:
    for intake in (st.add, st.subscribe_pending):
        with pytest.raises(AddressError) as refused:
            intake(store, "josé@example.org", now=NOW)
        assert str(refused.value) == (
            "josé@example.org: the part before @ has non-ASCII characters, which this "
            "site's mail relay cannot deliver (set [smtp] smtputf8 = true if it offers SMTPUTF8)"
        )
    assert emails(store) == [] and event_kinds(store) == []
    added = st.add(store, "josé@Bücher.DE", now=NOW, smtputf8=True).subscriber
    assert added.email == "josé@xn--bcher-kva.de"


@pytest.mark.parametrize("name", CONTROL_NAMES)
def test_name_with_a_control_character_is_refused(store: st.Store, name: str) -> None:
    for intake in (st.add, st.subscribe_pending):
        with pytest.raises(InvalidName, match=r"^name contains a control character \(U\+"):
            intake(store, "ana@example.org", now=NOW, name=name)
    assert emails(store) == [] and event_kinds(store) == []


def test_undecodable_byte_from_a_command_line_is_refused(store: st.Store) -> None:
    """`--name $'\\xff'` reaches Python as a lone surrogate, which no database can store."""
    with pytest.raises(InvalidName, match=r"^name contains an invalid character \(U\+DCFF\)"):
        st.add(store, "ana@example.org", now=NOW, name="Ana\udcff")
    with pytest.raises(AddressError, match=r"^ana\\udcff@example.org: contains an invalid"):
        st.add(store, "ana\udcff@example.org", now=NOW)
    assert emails(store) == []


def test_import_refuses_each_row_that_would_halt_sending(store: st.Store, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(
        "email,name\n"
        "ok@example.org,Ok\n"
        "josé@example.org,José\n"
        "esc@example.org,A\x1b[2JB\n"
        "nul@example.org,A\x00B\n"
        'lf@example.org,"A\nB"\n'
        "bad\x00@example.org,Bad\n"
        "csi@example.org,A\x9bB\n"
        "ls@example.org,A\u2028B\n".encode()
    )
    problems: list[tuple[int, str]] = []
    summary = st.import_csv(store, path, now=NOW, report=lambda n, p: problems.append((n, p)))
    assert (summary.rows, summary.added, summary.skipped) == (8, 1, {"invalid": 7})
    control = "name contains a control character ({}); remove it"
    assert problems == [
        (
            3,
            "invalid address: josé@example.org: the part before @ has non-ASCII characters, "
            "which this site's mail relay cannot deliver "
            "(set [smtp] smtputf8 = true if it offers SMTPUTF8)",
        ),
        (4, control.format("U+001B")),
        (5, control.format("U+0000")),
        (6, control.format("U+000A")),
        (
            8,
            "invalid address: bad\\x00@example.org: contains a control character (U+0000); "
            "remove it",
        ),
        (9, control.format("U+009B")),
        (10, control.format("U+2028")),
    ]
    assert emails(store) == ["ok@example.org"]
    assert st.import_csv(store, path, now=NOW, smtputf8=True).added == 1
    assert emails(store) == ["ok@example.org", "josé@example.org"]


# --- Import and export ------------------------------------------------------------------


def test_import_header_in_any_order_with_problems_by_line(store: st.Store, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        """\
        Frequency,NAME,E-Mail,Notes
        digest,Ana,ana@example.org,vip
        ,Bo,bo@example.org,
        each,,broken-address,

        ,Ana again,ANA@example.org,
        hourly,Cy,cy@example.org,
        """,
    )
    problems: list[tuple[int, str]] = []
    summary = st.import_csv(store, path, now=NOW, report=lambda n, p: problems.append((n, p)))
    assert (summary.rows, summary.added, summary.updated, summary.unchanged) == (5, 2, 0, 0)
    assert summary.skipped == {"invalid": 2, "duplicate": 1}
    assert [line for line, _ in problems] == [4, 6, 7]
    assert problems[1] == (6, "duplicate of line 2")
    assert "invalid address" in problems[0][1] and "frequency" in problems[2][1]
    ana = st.get_by_email(store, "ana@example.org")
    assert (ana.name, ana.frequency, ana.source) == ("Ana", "digest", "import:list.csv")
    assert st.get_by_email(store, "bo@example.org").frequency == "each"
    assert event_kinds(store) == ["imported", "imported"]


def test_reimport_changes_nothing_and_dry_run_writes_nothing(
    store: st.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvio, "BATCH", 3)  # several staging batches
    lines = "".join(f"user{n}@example.org,User {n}\n" for n in range(10))
    path = write_csv(tmp_path, "email,name\n" + lines)
    dry = st.import_csv(store, path, now=NOW, dry_run=True)
    assert (dry.added, dry.dry_run) == (10, True)
    assert st.counts(store)["active"] == 0 and event_kinds(store) == []

    assert st.import_csv(store, path, now=NOW).added == 10
    again = st.import_csv(store, path, now=NOW + timedelta(hours=1))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 10)
    assert len(event_kinds(store)) == 10
    assert emails(store) == [f"user{n}@example.org" for n in range(10)]


def test_import_updates_names_frequencies_and_pending(store: st.Store, tmp_path: Path) -> None:
    st.subscribe_pending(store, "pen@example.org", now=NOW)
    st.add(store, "act@example.org", now=NOW, name="Old")
    path = write_csv(
        tmp_path, "email,name,frequency\npen@example.org,,\nact@example.org,New,digest\n"
    )
    as_pending = st.import_csv(store, path, now=NOW, status="pending")
    assert (as_pending.updated, as_pending.unchanged) == (1, 1)  # act renamed, pen untouched
    assert st.get_by_email(store, "pen@example.org").status == "pending"
    as_active = st.import_csv(store, path, now=NOW)
    assert (as_active.updated, as_active.unchanged) == (1, 1)  # pen activated
    pen, act = st.get_by_email(store, "pen@example.org"), st.get_by_email(store, "act@example.org")
    assert (pen.status, pen.confirmed_at) == ("active", NOW)
    assert (act.name, act.frequency) == ("New", "digest")


def test_import_update_with_a_duplicate_later_in_the_file(store: st.Store, tmp_path: Path) -> None:
    """Found by the property tests: PostgreSQL refused the update (a subquery gave 2 rows)."""
    st.add(store, "ana@example.org", now=NOW, name="Old")
    path = write_csv(tmp_path, "email,name\nana@example.org,New\nANA@example.org,Other\n")
    summary = st.import_csv(store, path, now=NOW)
    assert (summary.updated, summary.skipped) == (1, {"duplicate": 1})
    assert st.get_by_email(store, "ana@example.org").name == "New"


def test_import_pending_and_headerless_file(store: st.Store, tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_bytes("\ufeffone@example.org\r\ntwo@example.org\r\n".encode())  # BOM, CRLF
    summary = st.import_csv(store, path, now=NOW, status="pending")
    assert summary.added == 2
    assert emails(store, "pending") == ["one@example.org", "two@example.org"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,city\nAna,Paris\n", "list.csv:1: no email column in the header"),
        (b"email\nok@example.org\nbad\xe9@example.org\n", "list.csv:3: not UTF-8"),
        (b'email,name\nok@example.org,Ok\nana@example.org,"Ana\n', "list.csv:3:"),
        (b"email,name\nok@example.org,Ok\nana@example.org\n", "list.csv:3: 1 fields, expected 2"),
        (b"", "list.csv: empty file"),
    ],
    ids=["no-email-column", "bad-encoding", "open-quote", "truncated", "empty"],
)
def test_unusable_file_changes_nothing(
    store: st.Store, tmp_path: Path, content: bytes, message: str
) -> None:
    st.add(store, "existing@example.org", now=NOW)
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    with pytest.raises(st.ImportFileError, match=message) as raised:
        st.import_csv(store, path, now=NOW)
    assert raised.value.exit_code == 2 and "\n" not in str(raised.value)
    assert emails(store) == ["existing@example.org"]
    assert event_kinds(store) == ["subscribed"]
    st.import_csv(store, write_csv(tmp_path, "email\nnew@example.org\n", "ok.csv"), now=NOW)
    assert emails(store) == ["existing@example.org", "new@example.org"]


def test_export_streams_everything_and_imports_back(
    store: st.Store, tmp_path: Path, database_url: str
) -> None:
    import io

    st.add(store, "a@example.org", now=NOW, name="A, with comma", frequency="digest")
    st.add(store, "b@example.org", now=NOW)
    st.remove(store, "b@example.org", now=NOW + timedelta(hours=1))
    out = io.StringIO()
    assert st.export_csv(store, out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("email,name,status,frequency,source,created_at,confirmed_at")
    assert lines[1].startswith(
        'a@example.org,"A, with comma",active,digest,cli,2026-03-02T15:00:00+00:00'
    )
    assert ",unsubscribed," in lines[2] and "2026-03-02T16:00:00+00:00" in lines[2]

    other = open_store(f"sqlite:///{tmp_path / 'other.db'}", tmp_path)
    try:
        exported = write_csv(tmp_path, out.getvalue(), "export.csv")
        assert st.import_csv(other, exported, now=NOW).added == 2
        assert [s.name for s in st.iter_subscribers(other)] == ["A, with comma", ""]
    finally:
        other.close()


def test_ids_of_erased_subscribers_are_never_handed_out_again(store: st.Store) -> None:
    """A new subscriber given an erased one's id would receive what the erased person's old
    links do (their preferences, their one-click unsubscribe)."""
    first = st.add(store, "first@example.org", now=NOW).subscriber
    erased = st.add(store, "erased@example.org", now=NOW).subscriber
    assert st.forget(store, "erased@example.org", now=NOW)
    newcomer = st.add(store, "new@example.org", now=NOW).subscriber
    assert newcomer.id > erased.id > first.id


def test_each_subscriber_has_a_link_key_that_goes_with_the_row(
    store: st.Store, tmp_path: Path
) -> None:
    ana = st.add(store, "ana@example.org", now=NOW).subscriber
    st.subscribe_pending(store, "bo@example.org", now=NOW)
    st.import_csv(store, write_csv(tmp_path, "email\ncy@example.org\ndi@example.org\n"), now=NOW)
    ids = [s.id for s in st.iter_subscribers(store)]
    keys = [st.token_key(store, subscriber_id) for subscriber_id in ids]
    assert all(len(key) == 32 and int(key, 16) >= 0 for key in keys)
    assert len(set(keys)) == 4  # one per row, imported rows too
    assert st.get_with_key(store, ana.id) == (ana, keys[0]) and ids[0] == ana.id
    st.forget(store, "ana@example.org", now=NOW)
    assert st.token_key(store, ana.id) is None and st.get_with_key(store, ana.id) is None


# --- Schema and faults --------------------------------------------------------------------


def test_migrations_run_once_and_a_newer_schema_is_refused(
    store: st.Store, database_url: str, tmp_path: Path
) -> None:
    again = open_store(database_url, tmp_path)
    with again.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema_version)).scalar() == LATEST
    with again.transaction() as conn:
        conn.execute(insert(schema_version).values(version=LATEST + 1, applied_at=NOW))
    again.close()
    with pytest.raises(StoreError, match=f"schema version {LATEST + 1}, newer than"):
        open_store(database_url, tmp_path)


def version_2_store(url: str) -> None:
    """Create the store as schema version 2 left it: subscribers without `token_key`, and
    on SQLite ids that a new row may take again (no AUTOINCREMENT)."""
    old = MetaData()
    columns = [column._copy() for column in subscribers.columns if column.name != "token_key"]
    Table("subscribers", old, *columns)
    for table in schema.metadata.sorted_tables:
        if table.name != "subscribers":
            table.to_metadata(old)
    engine = create_engine(database_url(url, Path("/")))
    try:
        with engine.begin() as conn:
            old.create_all(conn)
            for version in (1, 2):
                conn.execute(insert(schema_version).values(version=version, applied_at=NOW))
            conn.execute(insert(schema.settings).values(name="hash_salt", value="00"))
    finally:
        engine.dispose()


def test_migration_to_link_keys_keeps_rows_links_and_references(
    database_url: str, tmp_path: Path
) -> None:
    version_2_store(database_url)
    with pytest.MonkeyPatch.context() as patch:  # open at version 2, as publisher was then
        patch.setattr(db, "MIGRATIONS", db.MIGRATIONS[:2])
        patch.setattr(db, "LATEST", 2)
        before = open_store(database_url, tmp_path)
        ana = st.add(before, "ana@example.org", now=NOW).subscriber
        bo = st.add(before, "bo@example.org", now=NOW).subscriber
        st.add(before, "cy@example.org", now=NOW)
        st.forget(before, "cy@example.org", now=NOW)  # the highest id, erased
        with before.transaction() as conn:
            campaign = conn.execute(
                insert(schema.campaigns)
                .values(key="post:a", kind="post", subject="A", html="", text="", status="done")
                .values(headers="{}", note="", created_at=NOW, total=1)
                .returning(schema.campaigns.c.id)
            ).scalar_one()
            conn.execute(
                insert(schema.deliveries).values(
                    campaign_id=campaign, subscriber_id=bo.id, state="sent", attempts=1
                )
            )
        before.close()

    after = open_store(database_url, tmp_path)
    try:
        assert [s.email for s in st.iter_subscribers(after)] == [
            "ana@example.org",
            "bo@example.org",
        ]
        assert st.get_with_key(after, ana.id) == (ana, "")  # old links keep working
        newcomer = st.add(after, "di@example.org", now=NOW).subscriber
        assert newcomer.id > bo.id + 1  # not the erased cy's id
        assert len(st.token_key(after, newcomer.id)) == 32
        with after.read() as conn:
            assert conn.execute(select(func.count()).select_from(schema.deliveries)).scalar() == 1
            assert conn.execute(select(func.max(schema_version.c.version))).scalar() == LATEST
        assert "subscribed" in event_kinds(after)
        st.forget(after, "bo@example.org", now=NOW)  # references still cascade
        with after.read() as conn:
            assert conn.execute(select(func.count()).select_from(schema.deliveries)).scalar() == 0
        assert st.counts(after)["active"] == 2
    finally:
        after.close()


def test_migration_to_inbound_namespaces_keeps_each_key_in_its_source(
    database_url: str, tmp_path: Path
) -> None:
    """Mailed notices' keys gain `mail:`; webhooks' and set-aside messages' keep theirs, so a
    message read before is still a duplicate, and so is a provider's event."""
    from publisher.store import inbound as recorded
    from publisher.store.migrations import _inbound_namespaces

    before_it = db.MIGRATIONS[: db.MIGRATIONS.index(_inbound_namespaces)]
    rows = [  # (key before, its detail, key after)
        ("<a1@mail.example.net>", "from mailer | Undelivered", "mail:<a1@mail.example.net>"),
        ("sha256:00ff", "from x | no Message-ID", "mail:sha256:00ff"),
        ("postmark:777", "from eve@example.net | forged", "mail:postmark:777"),
        ("postmark:778", "from postmark webhook | Postmark Bounce", "postmark:778"),
        ("ses:fb-1:a@example.com", "from ses webhook | SES bounce", "ses:fb-1:a@example.com"),
        ("mailgun:mg-1", "from mailgun webhook | Mailgun failed", "mailgun:mg-1"),
        ("sendgrid:sg-1", "from sendgrid webhook | SendGrid bounce", "sendgrid:sg-1"),
        ("failed:sha256:0a", "MIME parts nested too deep", "failed:sha256:0a"),
    ]
    with pytest.MonkeyPatch.context() as patch:  # open as the version before left it
        patch.setattr(db, "MIGRATIONS", before_it)
        patch.setattr(db, "LATEST", len(before_it))
        before = open_store(database_url, tmp_path)
        with before.transaction() as conn:
            for key, detail, _ in rows:
                kind = "failed" if key.startswith("failed:") else "bounce"
                recorded.record(conn, key, NOW, kind, "recorded", detail)
        before.close()

    after = open_store(database_url, tmp_path)
    try:
        with after.read() as conn:
            keys = set(conn.execute(select(schema.inbound.c.message_id)).scalars())
            assert keys == {after for _, _, after in rows}
            assert recorded.seen(conn, "mail:postmark:777") and not recorded.seen(
                conn, "postmark:777"
            )
    finally:
        after.close()


def test_pytest_dash_m_postgres_selects_the_postgresql_runs() -> None:
    """The `postgres` marker was declared but on no test: `-m postgres` selected nothing."""
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "postgres", __file__],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert ids and all("postgresql" in test_id for test_id in ids), collected.stdout
    assert any("[postgresql]" in test_id for test_id in ids)


def test_relative_sqlite_path_is_created_under_the_root(tmp_path: Path) -> None:
    opened = open_store("sqlite:///data/nested/publisher.db", tmp_path)
    opened.close()
    assert (tmp_path / "data" / "nested" / "publisher.db").is_file()


def test_database_files_are_private(tmp_path: Path) -> None:
    """The list is personal data: the file, its WAL and shared memory are the owner's
    only (0600), and so is the folder publisher made for them (0700)."""
    folder = tmp_path / "data"
    opened = open_store(f"sqlite:///{folder / 'publisher.db'}", tmp_path)
    try:
        st.add(opened, "ana@example.org", now=NOW)
        files = sorted(path.name for path in folder.iterdir())
        assert files == ["publisher.db", "publisher.db-shm", "publisher.db-wal"]
        for name in files:
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    finally:
        opened.close()


def test_corrupt_file_is_a_one_line_store_error(tmp_path: Path) -> None:
    path = tmp_path / "publisher.db"
    path.write_bytes(b"this is not a database, just some bytes " * 200)
    with pytest.raises(StoreError, match="corrupt or not a SQLite database") as raised:
        open_store(f"sqlite:///{path}", tmp_path)
    assert raised.value.exit_code == 1 and "\n" not in str(raised.value)


def test_read_only_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "publisher.db"
    open_store(f"sqlite:///{path}", tmp_path).close()
    # A read-only open, as a file without write permission gives (root ignores chmod).
    readonly = open_store(f"sqlite:///file:{path}?mode=ro&uri=true", tmp_path)
    try:
        assert st.counts(readonly)["active"] == 0
        with pytest.raises(StoreError, match="read-only"):
            st.add(readonly, "a@example.org", now=NOW)
    finally:
        readonly.close()


def test_locked_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "publisher.db"
    open_store(f"sqlite:///{path}", tmp_path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    opened = open_store(f"sqlite:///{path}?timeout=0.05", tmp_path)
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            st.add(opened, "a@example.org", now=NOW)
        blocker.execute("ROLLBACK")
        assert st.add(opened, "a@example.org", now=NOW).outcome == "added"
    finally:
        opened.close()
        blocker.close()


WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from publisher import store as st
from publisher.store.db import open_store

store = open_store(sys.argv[1], Path(sys.argv[2]))
for number in range(int(sys.argv[4])):
    st.add(store, f"{sys.argv[3]}{number}@example.org", now=datetime.now(UTC))
store.close()
"""


def test_concurrent_writers_all_land_without_lock_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'publisher.db'}"
    open_store(url, tmp_path).close()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(tmp_path), prefix, "5000"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("left", "right")
    ]
    results = [writer.communicate(timeout=240) for writer in writers]
    for writer, (_out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err
        assert "locked" not in err
    opened = open_store(url, tmp_path)
    try:
        assert st.counts(opened)["active"] == 10_000
        with opened.read() as conn:
            assert conn.execute(select(func.count()).select_from(subscribers)).scalar() == 10_000
    finally:
        opened.close()


def test_migration_to_email_decisions_keeps_published_rows(
    database_url: str, tmp_path: Path
) -> None:
    """Schema 4: `published` rows from before keep their posts; an announced one stays
    for the digest, the others say why they were not emailed."""
    old = MetaData()
    for table in schema.metadata.sorted_tables:
        if table.name == "published":
            kept = [c._copy() for c in table.columns if c.name not in schema.PUBLISHED_V4]
            Table("published", old, *kept)
        else:
            table.to_metadata(old)
    engine = create_engine(db.database_url(database_url, Path("/")))
    try:
        with engine.begin() as conn:
            old.create_all(conn)
            for version in (1, 2, 3):
                conn.execute(insert(schema_version).values(version=version, applied_at=NOW))
            conn.execute(insert(schema.settings).values(name="hash_salt", value="00"))
            for slug, announce in (("told", True), ("quiet", False)):
                conn.execute(
                    insert(old.tables["published"]).values(
                        slug=slug, live_at=NOW, seen_at=NOW, announce=announce
                    )
                )
    finally:
        engine.dispose()

    after = open_store(database_url, tmp_path)
    try:
        from publisher.store import published

        records = published.seen(after).records
        assert (records["told"].in_digest, records["told"].reason) == (True, "")
        assert (records["quiet"].in_digest, records["quiet"].reason) == (
            False,
            "recorded before publisher kept its reasons",
        )
        with after.read() as conn:
            assert conn.execute(select(func.max(schema_version.c.version))).scalar() == LATEST
    finally:
        after.close()
