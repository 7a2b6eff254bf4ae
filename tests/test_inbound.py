"""Mail that comes back (`publisher inbound`): real-shaped bounces, complaints,
unsubscribe mails, auto-replies and replies, through stdin and a Maildir, after a real
campaign through an SMTP server on loopback that records each envelope sender."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from publisher.config import load_config
from publisher.inbound.classify import AUTO_REPLY, BOUNCE, COMPLAINT, OTHER, classify
from publisher.store import ledger, open_store

from conftest import REPO, run_publisher, write_post, write_relay_config

SAMPLES = REPO / "tests" / "inbound"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INBOUND = "bounces@news.example.org"
VERP = re.compile(r"bounces\+(\d+)-([a-z2-7]{16})@news\.example\.org")


def sample(name: str, **values: str) -> bytes:
    """A message from tests/inbound/ with its {placeholders} filled in."""
    text = (SAMPLES / name).read_text()
    for key, value in {
        "n": "1",
        "to": "x@example.org",
        "rcpt": "ann@example.com",
        **values,
    }.items():
        text = text.replace("{" + key + "}", value)
    return text.encode()


def parsed(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


# --- Classification ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, hard, status",
    [
        ("postfix-dsn.eml", True, "5.1.1"),
        ("microsoft-ndr.eml", True, "5.1.10"),
        ("gmail-dsn.eml", True, "5.1.1"),
        ("postfix-delayed.eml", False, "4.2.2"),
    ],
)
def test_rfc_3464_reports_as_mail_servers_write_them(name: str, hard: bool, status: str) -> None:
    raw = sample(name)
    notice = classify(parsed(raw), raw)
    assert notice.kind == BOUNCE
    assert [(f.address, f.hard, f.status) for f in notice.failures] == [
        ("ann@example.com", hard, status)
    ]
    assert notice.failures[0].diagnostic
    assert notice.message_id.startswith("mail:<")


def test_a_non_standard_bounce_goes_to_flufl_bounce() -> None:
    raw = sample("exim-bounce.eml")
    notice = classify(parsed(raw), raw)
    assert (notice.kind, notice.hard) == (BOUNCE, True)
    assert [f.address for f in notice.failures] == ["ann@example.com"]


def test_a_feedback_report_is_a_complaint_and_shows_the_returned_headers() -> None:
    raw = sample(
        "arf-abuse.eml",
        original_from="bounces+7-abcdefghijklmnop@news.example.org",
        list_unsubscribe="<https://blog.example.org/unsubscribe?token=x>",
    )
    notice = classify(parsed(raw), raw)
    assert notice.kind == COMPLAINT and "abuse" in notice.detail
    assert "bounces+7-abcdefghijklmnop@news.example.org" in notice.quoted


@pytest.mark.parametrize("name", ["out-of-office.eml", "vacation.eml"])
def test_auto_replies_are_told_apart(name: str) -> None:
    raw = sample(name)
    assert classify(parsed(raw), raw).kind == AUTO_REPLY


def test_a_person_replying_is_other() -> None:
    raw = sample("human-reply.eml")
    notice = classify(parsed(raw), raw)
    assert notice.kind == OTHER and notice.subject == "Re: Hello readers"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff garbage",
        b"Subject: =?utf-8?q?\xff?=\n\nhi",
        b"Content-Type: multipart/report\n\n--",
    ],
)
def test_hostile_or_broken_input_is_other_not_a_crash(raw: bytes) -> None:
    notice = classify(parsed(raw), raw)
    assert notice.kind in (OTHER, BOUNCE)
    assert notice.message_id.startswith("mail:sha256:")


def nested_multipart(depth: int) -> bytes:
    """A small message whose multipart parts nest `depth` levels deep."""
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    closing = b"".join(b"--b%d--\r\n" % n for n in reversed(range(depth)))
    return b"Subject: deep\r\nMIME-Version: 1.0\r\n" + opening + b"\r\nhi\r\n" + closing


def nested_rfc822(depth: int) -> bytes:
    """A message that forwards a message that forwards a message... `depth` times."""
    return b"Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\n" * depth + b"\r\nhi\r\n"


def many_parts(count: int) -> bytes:
    parts = b"--b\r\n\r\nx\r\n" * count
    return (
        b'Subject: many\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + parts
        + b"--b--\r\n"
    )


@pytest.mark.parametrize(
    "raw, why",
    [
        (nested_multipart(1000), "nested over 32 levels"),
        (nested_rfc822(3000), "nested over 32 levels"),
        (many_parts(100_000), "over 1,000 MIME parts"),
    ],
    ids=["1000-deep", "3000-rfc822", "100k-parts"],
)
def test_a_message_past_the_bounds_is_unreadable_not_a_recursion(raw: bytes, why: str) -> None:
    from publisher.inbound.parsing import Unreadable, parse

    with pytest.raises(Unreadable, match=why):
        parse(raw)


def test_within_the_bounds_a_nested_message_parses_as_the_standard_parser_does() -> None:
    from publisher.inbound.parsing import parse

    raw = nested_multipart(20)
    assert [p.get_content_type() for p in parse(raw).walk()] == [
        p.get_content_type() for p in parsed(raw).walk()
    ]
    assert len(list(parse(many_parts(900)).walk())) == 901


def test_reading_one_message_has_a_time_bound() -> None:
    import time

    from publisher.inbound.parsing import Unreadable, within_bounds

    with pytest.raises(Unreadable, match="took over 0.05 s"):
        within_bounds(lambda: time.sleep(30), seconds=0.05)


# --- End to end ------------------------------------------------------------------------

PEOPLE = ["ann", "bob", "cat", "dee", "eve", "fay"]


@pytest.fixture
def sent(site: Path, smtp_server, database_url: str):
    """A campaign sent to six subscribers through the loopback relay with [inbound] set:
    the site, the relay, each person's envelope sender and List-Unsubscribe mailto."""
    from conftest import insert_subscriber

    write_relay_config(
        site,
        smtp_server.port,
        database_url,
        'envelope_from = "news@example.org"',
        extra=f'[inbound]\naddress = "{INBOUND}"\n',
    )
    with open_store(database_url, site) as store:
        for person in PEOPLE:
            insert_subscriber(store, f"{person}@example.com", person.title())
    write_post(site, "2026-11-30-first.md", "title: First\ndate: 2026-11-30 09:00")
    done = run_publisher("send", "first", "--now", NOW.isoformat(), cwd=site)
    assert done.returncode == 0, done.stderr
    senders, mailtos, unsubscribe = {}, {}, {}
    for received in smtp_server.received:
        person = received.recipients[0].split("@")[0]
        senders[person] = received.envelope_from
        header = received.message["List-Unsubscribe"]
        mailtos[person] = re.search(r"mailto:([^?>]+)", header)[1]
        unsubscribe[person] = header
    return site, database_url, senders, mailtos, unsubscribe


def inbound(site: Path, raw: bytes, *args: str):
    return run_publisher("inbound", "--now", NOW.isoformat(), *args, cwd=site, input=raw.decode())


def statuses(site: Path, database_url: str) -> dict[str, str]:
    from publisher.store import iter_subscribers

    with open_store(database_url, site) as store:
        return {s.email.split("@")[0]: s.status for s in iter_subscribers(store)}


def test_each_message_leaves_with_its_own_signed_envelope_sender_and_mailto(sent) -> None:
    _, _, senders, mailtos, _ = sent
    assert sorted(senders) == PEOPLE
    assert all(VERP.fullmatch(sender) for sender in senders.values())
    assert len(set(senders.values())) == len(PEOPLE)
    assert all(len(sender.split("@")[0]) <= 64 for sender in senders.values())
    assert all(
        re.fullmatch(r"bounces\+unsub-\d+-[a-z2-7]{16}@news\.example\.org", m)
        for m in mailtos.values()
    )


def test_bounces_complaints_and_unsubscribes_end_in_the_right_state_once(sent, smtp_server) -> None:
    site, database_url, senders, mailtos, unsubscribe = sent
    steps = [
        (
            sample("postfix-dsn.eml", to=senders["ann"], rcpt="ann@example.com"),
            "subscriber bounced",
        ),
        (
            sample(
                "arf-abuse.eml",
                to="fbl@news.example.org",
                original_from=senders["bob"],
                list_unsubscribe=unsubscribe["bob"],
            ),
            "subscriber complained",
        ),
        (sample("unsubscribe.eml", to=mailtos["cat"], rcpt="cat@example.com"), "unsubscribed"),
        (sample("out-of-office.eml", to=senders["dee"], rcpt="dee@example.com"), "ignored"),
        (
            sample("human-reply.eml", to="news@example.org", rcpt="eve@example.com"),
            "kept for a person to read",
        ),
    ]
    for raw, action in steps:
        done = inbound(site, raw)
        assert done.returncode == 0, done.stderr
        assert action in done.stdout, done.stdout
        again = inbound(site, raw)
        assert again.returncode == 0 and "already processed" in again.stdout
    assert statuses(site, database_url) == {
        "ann": "bounced",
        "bob": "complained",
        "cat": "unsubscribed",
        "dee": "active",
        "eve": "active",
        "fay": "active",
    }
    with open_store(database_url, site) as store:
        campaign = ledger.get_campaign(store, "post:first")
        counts = ledger.counts(store, campaign.id)
        assert (counts.sent, counts.bounced, counts.total) == (5, 1, 6)
    listing = run_publisher("campaigns", cwd=site)
    assert "1 (16.7%)  1 (16.7%)" in listing.stdout, listing.stdout  # bounced, complained

    smtp_server.received.clear()
    write_post(site, "2026-12-01-second.md", "title: Second\ndate: 2026-12-01 05:00")
    done = run_publisher("send", "second", "--now", NOW.isoformat(), cwd=site)
    assert done.returncode == 0, done.stderr
    assert sorted(r.recipients[0].split("@")[0] for r in smtp_server.received) == [
        "dee",
        "eve",
        "fay",
    ]

    bounced = run_publisher("subscribers", "list", "--status", "bounced", cwd=site)
    assert "ann@example.com" in bounced.stdout and "5.1.1" in bounced.stdout, bounced.stdout
    complained = run_publisher("subscribers", "list", "--status", "complained", cwd=site)
    assert "bob@example.com" in complained.stdout and "abuse" in complained.stdout

    report = run_publisher("inbound", "--report", "--now", NOW.isoformat(), cwd=site)
    assert report.returncode == 0 and "5 messages in the last 7 days" in report.stdout
    assert "Undelivered Mail Returned to Sender" in report.stdout


def test_terminal_escapes_in_a_message_never_reach_the_report(sent) -> None:
    site, _, _, _, _ = sent
    raw = sample("human-reply.eml", to="news@example.org").replace(
        b"Subject: Re: Hello readers", b"Subject: \x1b]0;owned\x07Re: \x1b[31mred"
    )
    assert inbound(site, raw).returncode == 0
    report = run_publisher("inbound", "--report", "--now", NOW.isoformat(), cwd=site)
    assert "\x1b" not in report.stdout and "\x07" not in report.stdout
    assert "?]0;owned?Re: ?[31mred" in report.stdout


def test_forged_or_stale_tokens_act_on_no_one(sent) -> None:
    site, database_url, senders, _, _ = sent
    number = VERP.fullmatch(senders["fay"])[1]
    forged = f"bounces+{number}-aaaaaaaaaaaaaaaa@news.example.org"
    done = inbound(site, sample("postfix-dsn.eml", to=forged, rcpt="fay@example.com"))
    assert done.returncode == 0 and "not ours" in done.stdout
    erased = run_publisher(
        "subscribers", "forget", "eve@example.com", "--now", NOW.isoformat(), cwd=site
    )
    assert erased.returncode == 0, erased.stderr
    stale = inbound(
        site, sample("postfix-dsn.eml", to=senders["eve"], rcpt="eve@example.com", n="2")
    )
    assert "not ours" in stale.stdout
    assert statuses(site, database_url)["fay"] == "active"


def test_soft_bounces_count_and_the_third_within_a_week_is_hard(sent) -> None:
    site, database_url, senders, _, _ = sent
    outputs = []
    for n in range(3):
        raw = sample("postfix-delayed.eml", to=senders["dee"], rcpt="dee@example.com", n=str(n))
        outputs.append(inbound(site, raw).stdout.strip())
    assert outputs[:2] == [
        "bounce: soft bounce 1 of 3 (subscriber 4)",
        "bounce: soft bounce 2 of 3 (subscriber 4)",
    ]
    assert "subscriber bounced" in outputs[2]
    assert statuses(site, database_url)["dee"] == "bounced"


def test_a_maildir_is_read_once_and_each_message_moved_aside(sent) -> None:
    site, database_url, senders, _, _ = sent
    folder = site / "Maildir"
    box = mailbox.Maildir(folder, create=True)
    box.add(sample("gmail-dsn.eml", to=senders["ann"], rcpt="ann@example.com"))
    box.add(sample("microsoft-ndr.eml", to=senders["bob"], rcpt="bob@example.com"))
    box.add(sample("vacation.eml", to=senders["cat"], rcpt="cat@example.com"))
    done = run_publisher("inbound", "--maildir", str(folder), "--now", NOW.isoformat(), cwd=site)
    assert done.returncode == 0, done.stderr
    assert "3 messages read" in done.stdout
    assert len(box) == 0 and len(box.get_folder("processed")) == 3
    assert statuses(site, database_url)["ann"] == "bounced"
    assert statuses(site, database_url)["bob"] == "bounced"
    again = run_publisher("inbound", "--maildir", str(folder), "--now", NOW.isoformat(), cwd=site)
    assert "0 messages read" in again.stdout


def test_a_deep_message_in_a_maildir_is_moved_aside_and_the_others_are_read(sent) -> None:
    site, database_url, senders, _, _ = sent
    folder = site / "Maildir"
    box = mailbox.Maildir(folder, create=True)
    box.add(sample("gmail-dsn.eml", to=senders["ann"], rcpt="ann@example.com"))
    box.add(nested_multipart(1000))
    box.add(sample("microsoft-ndr.eml", to=senders["bob"], rcpt="bob@example.com"))
    done = run_publisher("inbound", "--maildir", str(folder), "--now", NOW.isoformat(), cwd=site)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "3 messages read" in done.stdout and "1 could not be handled" in done.stdout
    assert "nested over 32 levels deep; moved to" in done.stderr
    assert "Traceback" not in done.stderr
    assert statuses(site, database_url)["ann"] == "bounced"
    assert statuses(site, database_url)["bob"] == "bounced"
    assert len(box) == 0 and len(box.get_folder("processed")) == 2
    failed = box.get_folder("failed")
    kept = [failed.get_bytes(key) for key in failed.iterkeys()]
    assert kept == [nested_multipart(1000).replace(b"\r\n", b"\n")]  # Maildir keeps \n
    report = run_publisher("inbound", "--report", "--now", NOW.isoformat(), cwd=site)
    assert "failed      set aside" in report.stdout, report.stdout


def test_without_inbound_no_mailto_is_advertised_and_the_envelope_is_fixed(
    site: Path, smtp_server, database_url: str
) -> None:
    from conftest import insert_subscriber

    write_relay_config(site, smtp_server.port, database_url, 'envelope_from = "news@example.org"')
    with open_store(database_url, site) as store:
        insert_subscriber(store, "ann@example.com")
    write_post(site, "2026-11-30-first.md", "title: First\ndate: 2026-11-30 09:00")
    done = run_publisher("send", "first", "--now", NOW.isoformat(), cwd=site)
    assert done.returncode == 0, done.stderr
    (received,) = smtp_server.received
    assert received.envelope_from == "news@example.org"
    assert "mailto:" not in received.message["List-Unsubscribe"]
    config = load_config(site / "config" / "site.toml", now=NOW)
    assert config.inbound.address == ""


def test_the_brake_holds_a_campaign_whose_relay_bounces_one_in_ten(
    site: Path, smtp_server, database_url: str
) -> None:
    from conftest import insert_subscriber

    write_relay_config(
        site,
        smtp_server.port,
        database_url,
        "rate_per_second = 40\nbrake_after = 40\nconnections = 2",
        extra=f'[inbound]\naddress = "{INBOUND}"\n',
    )
    with open_store(database_url, site) as store:
        for n in range(200):
            insert_subscriber(store, f"r{n}@example.com")
    smtp_server.reject.update(f"r{n}@example.com" for n in range(0, 200, 10))
    write_post(site, "2026-11-30-first.md", "title: First\ndate: 2026-11-30 09:00")

    held = run_publisher("send", "first", "--now", NOW.isoformat(), cwd=site)
    assert held.returncode == 1, held.stdout + held.stderr
    assert "held by the brake" in held.stdout and "bounced" in held.stdout
    with open_store(database_url, site) as store:
        campaign = ledger.get_campaign(store, "post:first")
        counts = ledger.counts(store, campaign.id)
    assert campaign.status == "held" and counts.queued > 0
    gone = counts.sent + counts.failed

    again = run_publisher("send", "--resume", "--now", NOW.isoformat(), cwd=site)
    assert again.returncode == 1 and "held by the brake" in again.stdout
    listing = run_publisher("campaigns", "--now", NOW.isoformat(), cwd=site)
    assert "held" in listing.stdout and "max_bounce_rate" in listing.stdout
    with open_store(database_url, site) as store:
        assert (
            ledger.counts(store, campaign.id).sent + ledger.counts(store, campaign.id).failed
            == gone
        )

    forced = run_publisher("send", "--resume", "--force", "--now", NOW.isoformat(), cwd=site)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    with open_store(database_url, site) as store:
        final = ledger.counts(store, campaign.id)
    assert (final.sent, final.failed, final.unfinished) == (180, 20, 0)


# --- IMAP and POP3, on Debian's Dovecot on loopback -------------------------------------

DOVECOT_CONF = """\
protocols = imap pop3
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
mail_location = maildir:{root}/mail/%u
first_valid_uid = 100
first_valid_gid = 100
passdb {{
  driver = static
  args = password=secret
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


@pytest.fixture
def dovecot():
    """Dovecot serving IMAP and POP3 on loopback, user `bounces` with password `secret`:
    (imap port, pop3 port)."""
    import os
    import shutil
    import subprocess
    import tempfile

    from conftest import free_port, wait_for

    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        if os.environ.get("CI"):
            pytest.fail("dovecot is missing: .ci/run installs dovecot-imapd and dovecot-pop3d")
        pytest.skip("needs Debian's dovecot-imapd and dovecot-pop3d")
    root = Path(tempfile.mkdtemp(prefix="dv"))  # short: Dovecot's sockets live under it
    root.chmod(0o755)
    for name in ("run", "state", "mail", "home"):
        (root / name).mkdir()
    shutil.chown(root / "mail", "dovecot", "dovecot")
    shutil.chown(root / "home", "dovecot", "dovecot")
    imap, pop3 = free_port(), free_port()
    conf = root / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(root=root, imap=imap, pop3=pop3))
    server = subprocess.Popen([binary, "-F", "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _answers(imap) and _answers(pop3), timeout=20)
        yield imap, pop3
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def imap_inbox(port: int, *messages: bytes):
    """An IMAP client logged in to the Dovecot mailbox, `messages` put in its INBOX."""
    import imaplib

    client = imaplib.IMAP4("127.0.0.1", port)
    client.login("bounces", "secret")
    for raw in messages:
        client.append("INBOX", None, None, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return client


def test_tick_reads_an_imap_mailbox_once_and_files_each_message(sent, dovecot) -> None:
    site, database_url, senders, mailtos, unsubscribe = sent
    imap_port, _ = dovecot
    client = imap_inbox(
        imap_port,
        sample("postfix-dsn.eml", to=senders["ann"], rcpt="ann@example.com"),
        sample("unsubscribe.eml", to=mailtos["cat"], rcpt="cat@example.com"),
        sample("human-reply.eml", to="news@example.org"),
    )
    config = site / "config" / "site.toml"
    config.write_text(
        config.read_text().replace(
            f'address = "{INBOUND}"',
            f'address = "{INBOUND}"\nmailbox = "imap://bounces@127.0.0.1:{imap_port}/INBOX"',
        )
    )
    env = {"PUBLISHER_INBOUND_PASSWORD": "secret"}
    done = run_publisher("tick", "--now", NOW.isoformat(), cwd=site, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "read 3 inbound message(s), 2 acted on" in done.stdout + done.stderr
    assert statuses(site, database_url)["ann"] == "bounced"
    assert statuses(site, database_url)["cat"] == "unsubscribed"
    assert client.select("INBOX")[1] == [b"0"]
    assert client.select("Processed")[1] == [b"3"]
    again = run_publisher("tick", "--now", NOW.isoformat(), cwd=site, env=env)
    assert again.returncode == 0 and "inbound" not in again.stdout + again.stderr
    client.logout()

    missing = run_publisher("inbound", "--mailbox", "--now", NOW.isoformat(), cwd=site)
    assert missing.returncode == 2 and "PUBLISHER_INBOUND_PASSWORD" in missing.stderr


def test_tick_moves_a_deep_message_to_the_imap_failed_folder_and_reads_the_others(
    sent, dovecot
) -> None:
    site, database_url, senders, mailtos, _ = sent
    imap_port, _ = dovecot
    client = imap_inbox(
        imap_port,
        sample("postfix-dsn.eml", to=senders["ann"], rcpt="ann@example.com"),
        nested_multipart(1000),
        sample("unsubscribe.eml", to=mailtos["cat"], rcpt="cat@example.com"),
    )
    env = {
        "PUBLISHER_INBOUND_MAILBOX": f"imap://bounces@127.0.0.1:{imap_port}/INBOX",
        "PUBLISHER_INBOUND_PASSWORD": "secret",
    }
    done = run_publisher("tick", "--now", NOW.isoformat(), cwd=site, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "read 3 inbound message(s), 2 acted on" in output
    assert "inbound: a message could not be handled: MIME parts nested over 32" in output
    assert "moved to the Failed folder" in output and "Traceback" not in output
    assert statuses(site, database_url)["ann"] == "bounced"
    assert statuses(site, database_url)["cat"] == "unsubscribed"
    assert client.select("INBOX")[1] == [b"0"]
    assert client.select("Processed")[1] == [b"2"]
    assert client.select("Failed")[1] == [b"1"]
    client.logout()


def test_inbound_reads_a_pop3_mailbox_and_deletes_what_it_read(sent, dovecot) -> None:
    import poplib

    site, database_url, senders, _, _ = sent
    imap_port, pop3_port = dovecot
    raw = sample("exim-bounce.eml", to=senders["dee"], rcpt="dee@example.com")
    imap_inbox(imap_port, nested_rfc822(3000), raw).logout()
    mailbox_url = f"pop3://bounces@127.0.0.1:{pop3_port}"
    env = {"PUBLISHER_INBOUND_MAILBOX": mailbox_url, "PUBLISHER_INBOUND_PASSWORD": "secret"}
    done = run_publisher("inbound", "--mailbox", "--now", NOW.isoformat(), cwd=site, env=env)
    assert done.returncode == 1, done.stderr
    assert "subscriber bounced" in done.stdout and "2 messages read" in done.stdout
    assert "1 could not be handled" in done.stdout and "left on the POP3 server" in done.stderr
    assert statuses(site, database_url)["dee"] == "bounced"
    box = poplib.POP3("127.0.0.1", pop3_port)
    box.user("bounces")
    box.pass_("secret")
    assert box.stat()[0] == 1  # the one that could not be read
    box.quit()
