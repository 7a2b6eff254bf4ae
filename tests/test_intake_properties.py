"""Issue 10, as properties: for any address, name or CSV row, every intake either accepts
a value a message can be built for, or refuses it in one line and changes nothing.

Checked on both databases (the `store` fixture), through the library and through the
command line in-process (click's CliRunner): exit 0, 1 or 2, never a traceback, and no raw
control character in what is printed.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from publisher import store as subscriber_store
from publisher.cli import main
from publisher.store.schema import events, subscribers
from publisher.subscribers.addresses import AddressError, InvalidName, check_name, normalize

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
# Written independently of publisher.subscribers.addresses.CONTROL, so a bug there cannot hide here.
RAW_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
SPECIAL = list("\x00\x1b\n\r\t\x85\x9b\x7f\u2028\u2029é例=+-@\"\\<>,;:()'. ")
DOMAINS = [
    "example.org",
    "Bücher.DE",
    "例え.jp",
    "xn--bcher-kva.de",
    "ＥＸＡＭＰＬＥ.com",
    "ex ample.org",
]
PROPERTIES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

texts = st.text(st.one_of(st.characters(), st.sampled_from(SPECIAL)), max_size=30)
local_parts = st.text(
    st.one_of(st.characters(max_codepoint=0x7F), st.sampled_from(SPECIAL)), min_size=1, max_size=12
)
emails = st.one_of(
    texts, st.builds("{}@{}".format, local_parts, st.one_of(st.sampled_from(DOMAINS), texts))
)
names = st.one_of(texts, st.text(max_size=210))


def built(email: str, name: str, smtputf8: bool) -> bytes:
    """The bytes of a message to this subscriber, as a sender would build it."""
    if not smtputf8:
        formataddr((name, email))  # what stopped all sending in issue 10
    message = EmailMessage()
    message["From"] = "news@example.org"
    local, _, domain = email.rpartition("@")  # addr_spec= refuses any non-ASCII local part
    message["To"] = Address(display_name=name, username=local, domain=domain)
    message["Subject"] = "Hello"
    message.set_content("Hello.")
    return message.as_bytes(policy=policy.SMTPUTF8 if smtputf8 else policy.SMTP)


def write_rows(folder: Path, rows: list[tuple[str, str]]) -> Path:
    """A CSV file of (email, name) rows under a header. surrogatepass: a lone surrogate
    becomes bytes that are not UTF-8, which makes a file the import refuses whole."""
    path = folder / "list.csv"
    with path.open("w", encoding="utf-8", errors="surrogatepass", newline="") as handle:
        csv.writer(handle).writerows([("email", "name"), *rows])
    return path


def assert_clean(email: str, name: str, smtputf8: bool) -> None:
    local, _, domain = email.rpartition("@")
    assert domain.isascii() and domain == domain.lower(), email
    assert smtputf8 or local.isascii(), email
    assert not RAW_CONTROL.search(email + name), (email, name)
    assert built(email, name, smtputf8)


def assert_one_line(message: str) -> None:
    assert message and not RAW_CONTROL.search(message), message


def state(store: subscriber_store.Store) -> tuple:
    with store.read() as conn:
        rows = conn.execute(select(subscribers).order_by(subscribers.c.id)).all()
        return rows, conn.execute(select(func.count()).select_from(events)).scalar_one()


@PROPERTIES
@given(text=emails, name=names, smtputf8=st.booleans())
def test_an_address_and_a_name_are_usable_or_refused_in_one_line(
    text: str, name: str, smtputf8: bool
) -> None:
    try:
        address = normalize(text, smtputf8=smtputf8)
        checked = check_name(name)
    except (AddressError, InvalidName) as exc:
        assert_one_line(str(exc))
        return
    assert_clean(address.email, checked, smtputf8)
    assert normalize(address.email, smtputf8=smtputf8) == address  # stored form is stable


@PROPERTIES
@given(text=emails, name=names, smtputf8=st.booleans(), web=st.booleans())
def test_add_and_web_sign_up_store_clean_values_or_change_nothing(
    store: subscriber_store.Store, text: str, name: str, smtputf8: bool, web: bool
) -> None:
    before = state(store)
    intake = subscriber_store.subscribe_pending if web else subscriber_store.add
    try:
        result = intake(store, text, now=NOW, name=name, smtputf8=smtputf8)
    except (AddressError, InvalidName) as exc:
        assert_one_line(str(exc))
        assert state(store) == before
        return
    stored = result if web else result.subscriber
    if stored is not None:
        assert_clean(stored.email, stored.name, smtputf8)


@PROPERTIES
@given(rows=st.lists(st.tuples(emails, names), min_size=1, max_size=6), smtputf8=st.booleans())
def test_import_stores_clean_rows_and_reports_every_other_row_by_line(
    store: subscriber_store.Store, tmp_path: Path, rows: list, smtputf8: bool
) -> None:
    path = write_rows(tmp_path, rows)
    before = state(store)
    reported: list[tuple[int, str]] = []
    try:
        summary = subscriber_store.import_csv(
            store, path, now=NOW, smtputf8=smtputf8, report=lambda *r: reported.append(r)
        )
    except subscriber_store.ImportFileError as exc:  # e.g. a bare CR: the whole file
        assert_one_line(str(exc))
        assert state(store) == before
        return
    assert len(reported) == sum(summary.skipped.values())
    assert summary.rows == summary.added + summary.updated + summary.unchanged + len(reported)
    for _line, problem in reported:
        assert_one_line(problem)
    for subscriber in subscriber_store.iter_subscribers(store):
        assert_clean(subscriber.email, subscriber.name, smtputf8=True)


@pytest.fixture
def cli(site: Path, database_url: str, monkeypatch: pytest.MonkeyPatch):
    """Run `publisher --now NOW ARGS` in-process on each database."""
    monkeypatch.setenv("PUBLISHER_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(main, ["--now", NOW.isoformat(), *args])
        assert result.exit_code in (0, 1, 2), result.output
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), repr(result.exception)
        assert "Traceback" not in result.output + result.stderr
        for line in (result.stdout + result.stderr).splitlines():
            assert not RAW_CONTROL.search(line), line
        return result

    return run


LISTINGS = [("list", "--format", output) for output in ("table", "csv", "json")] + [("export",)]


@settings(PROPERTIES, max_examples=100)  # each example starts the command line twice
@given(text=emails, name=names, smtputf8=st.booleans(), listing=st.sampled_from(LISTINGS))
def test_subscribers_add_exits_cleanly_and_listings_print_no_raw_control_character(
    cli, monkeypatch: pytest.MonkeyPatch, text: str, name: str, smtputf8: bool, listing: tuple
) -> None:
    monkeypatch.setenv("PUBLISHER_SMTP_SMTPUTF8", str(smtputf8).lower())
    added = cli("subscribers", "add", "--name", name, "--", text)
    if added.exit_code == 2:
        assert added.stderr.count("\n") == 1 and added.stderr.startswith("error: ")
    assert cli("subscribers", *listing).exit_code == 0


@settings(PROPERTIES, max_examples=50)
@given(rows=st.lists(st.tuples(emails, names), min_size=1, max_size=6))
def test_subscribers_import_exits_cleanly(cli, site: Path, rows: list) -> None:
    imported = cli("subscribers", "import", str(write_rows(site, rows)))
    assert imported.exit_code in (0, 2)
    assert imported.stdout.count(" rows: ") == (imported.exit_code == 0)
