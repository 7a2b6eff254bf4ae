"""Per-recipient MIME messages: headers, parts, personalization, injection, DKIM."""

from __future__ import annotations

import dataclasses
import email
import random
import re
from email import policy
from pathlib import Path

import dkim
import pytest

from publisher.config import load_config
from publisher.mail.message import (
    PLACEHOLDERS,
    MessageBuilder,
    Newsletter,
    Recipient,
    UnsafeHeaderError,
    quoted_printable,
)

from conftest import dkim_dns, dkim_key, dkim_signed_names

NOW = "2026-03-02T15:00:00+00:00"
SLOTS = PLACEHOLDERS


def recipient(name: str = "Ann Lee", email_address: str = "ann@example.com", n: int = 1):
    return Recipient(
        email=email_address,
        name=name,
        unsubscribe_url=f"https://blog.example.org/unsubscribe?token={n}.abc",
        preferences_url=f"https://blog.example.org/preferences?token={n}.def",
    )


def sample_newsletter(body: str = "") -> Newsletter:
    """A newsletter with placeholders in links, text, at line ends and mid-line."""
    html = (
        "<!DOCTYPE html>\n<html><body>\n"
        f"<p>Hi {SLOTS['name']}, caf\u00e9 = tea.   Three spaces.\t tab</p>\n{body}\n"
        f'<a href="{SLOTS["unsubscribe_url"]}">Unsubscribe</a>'
        f'<a href="{SLOTS["preferences_url"]}">Preferences</a> {SLOTS["email"]}\n'
        "</body></html>\n"
    )
    text = (
        f"Hi {SLOTS['name']},\n\n{'long line ' * 20}\nTrailing space \n"
        f"Unsubscribe: {SLOTS['unsubscribe_url']}\nPreferences: {SLOTS['preferences_url']}"
        f"\nSent to {SLOTS['email']}\n"
    )
    return Newsletter(
        key="post:sleep", kind="post", subject="Sleep well, café", html=html, text=text
    )


def expected(content: str, person: Recipient, escape_html: bool) -> str:
    import html as html_module

    values = {
        "name": person.name or "there",
        "email": person.email,
        "unsubscribe_url": person.unsubscribe_url,
        "preferences_url": person.preferences_url,
        "reader": person.reader,
    }
    for slot, token in SLOTS.items():
        value = html_module.escape(values[slot]) if escape_html else values[slot]
        content = content.replace(token, value)
    return content


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def parts(message) -> tuple[str, str]:
    plain, html = list(message.iter_parts())
    norm = lambda part: part.get_content().replace("\r\n", "\n")  # noqa: E731
    return norm(plain), norm(html)


@pytest.fixture
def config(site: Path):
    return load_config(site / "config" / "site.toml", now=NOW, env={})


def test_message_has_every_header_and_both_parts(config):
    person = recipient()
    data = MessageBuilder(config, sample_newsletter()).build(person)
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    message = parse(data)
    assert message["From"] == "Test Clinic <news@example.org>"
    assert message["To"] == "Ann Lee <ann@example.com>"
    assert message["Subject"] == "Sleep well, café"
    assert message["Date"] == "Mon, 02 Mar 2026 15:00:00 +0000"
    assert re.fullmatch(r"<[0-9a-f]+\.post@blog\.example\.org>", message["Message-ID"])
    assert message["MIME-Version"] == "1.0"
    # no mailto: nothing reads a mailbox without [inbound] (tests/test_inbound.py)
    assert message["List-Unsubscribe"] == "<https://blog.example.org/unsubscribe?token=1.abc>"
    assert b"\r\nList-Unsubscribe: <https://" in data  # short enough: one line
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "Test Clinic Blog <newsletter.blog.example.org>"
    assert re.fullmatch(r"sleep:post:newsletter:[0-9a-f]{8}", message["Feedback-ID"])
    assert message["Reply-To"] is None
    assert message.get_content_type() == "multipart/alternative"
    plain, html = list(message.iter_parts())
    assert [plain.get_content_type(), html.get_content_type()] == ["text/plain", "text/html"]
    for part in (plain, html):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"


def test_feedback_id_and_long_headers_stay_plain_ascii_under_78_columns(config):
    """A long slug must not make `policy.SMTP` encode Feedback-ID (=?utf-8?q?...); the
    SenderId is short and the same for every campaign; folded lines stay under 78."""
    slug = "winter-blues-or-seasonal-depression-how-to-tell-and-what-helps-in-january"
    long = dataclasses.replace(sample_newsletter(), key=f"post:{slug}")
    person = dataclasses.replace(
        recipient(), unsubscribe_url="https://blog.example.org/unsubscribe?token=" + "x" * 90
    )
    data = MessageBuilder(config, long).build(person)
    head = data.partition(b"\r\n\r\n")[0]
    encoded = [line for line in head.split(b"\r\n") if b"=?" in line]
    assert all(line.startswith(b"Subject:") for line in encoded), encoded  # "café"
    feedback = parse(data)["Feedback-ID"]
    assert feedback.isascii() and len(f"Feedback-ID: {feedback}") <= 78
    campaign, kind, mail_type, sender = feedback.split(":")
    assert (kind, mail_type) == ("post", "newsletter") and slug.startswith(campaign)
    other = MessageBuilder(config, sample_newsletter()).build(person)
    assert parse(other)["Feedback-ID"].split(":")[-1] == sender
    long_lines = [line for line in head.split(b"\r\n") if len(line) > 78]
    assert long_lines == [b" <" + person.unsubscribe_url.encode() + b">"]  # a URL cannot fold


def test_parts_decode_to_the_newsletter_with_values_filled_in(config):
    newsletter = sample_newsletter()
    for person in (recipient(), recipient(name="", n=2), recipient(name="Zoë <script>", n=3)):
        text, html = parts(parse(MessageBuilder(config, newsletter).build(person)))
        assert text == expected(newsletter.text, person, escape_html=False)
        assert html == expected(newsletter.html, person, escape_html=True)


def test_script_in_a_name_is_escaped_in_html_only(config):
    data = MessageBuilder(config, sample_newsletter()).build(recipient(name="<script>x</script>"))
    text, html = parts(parse(data))
    assert "<script>" not in html
    assert "Hi &lt;script&gt;x&lt;/script&gt;," in html
    assert "Hi <script>x</script>," in text


def test_name_fallback_when_empty(config):
    text, html = parts(parse(MessageBuilder(config, sample_newsletter()).build(recipient(""))))
    assert "Hi there," in text and "Hi there," in html
    assert parse(MessageBuilder(config, sample_newsletter()).build(recipient(""))).get("To") == (
        "ann@example.com"
    )


def test_two_recipients_get_their_own_links_and_ids(config):
    builder = MessageBuilder(config, sample_newsletter())
    one = parse(builder.build(recipient(n=1)))
    two = parse(builder.build(recipient(email_address="bob@example.com", n=2)))
    assert one["Message-ID"] != two["Message-ID"]
    assert one["List-Unsubscribe"] != two["List-Unsubscribe"]
    assert "token=1.abc" in parts(one)[1] and "token=2.abc" in parts(two)[1]
    assert "token=2.abc" not in parts(one)[1]
    # A retry builds the very same message (same Message-ID).
    assert builder.build(recipient(n=1)) == builder.build(recipient(n=1))


def test_each_message_is_dated_when_it_is_built(dkim_config):
    """Issue 20 item 14: a campaign's builder is made once, and every message of a run of
    hours carried its start in Date. Date is signed with the message's other headers."""
    from datetime import UTC, datetime

    config, record = dkim_config
    builder = MessageBuilder(config, sample_newsletter())
    later = datetime(2026, 3, 2, 18, 30, 5, tzinfo=UTC)
    data = builder.build(recipient(), later)
    assert parse(data)["Date"] == "Mon, 02 Mar 2026 18:30:05 +0000"
    assert parse(builder.build(recipient()))["Date"] == "Mon, 02 Mar 2026 15:00:00 +0000"
    assert "date" in dkim_signed_names(parse(data)["DKIM-Signature"])
    assert dkim.verify(data, dnsfunc=dns_stub(record))


def test_test_copies_and_welcomes_each_get_their_own_message_id(config):
    """Issue 20 item 15: three `send SLUG --to` copies shared one Message-ID, and a
    re-subscriber's second welcome the first's, so mailboxes that de-duplicate on it hid
    the corrected copy. Only a campaign's delivery, which a retry builds again, keeps one."""
    welcome = dataclasses.replace(sample_newsletter(), key="welcome:each", kind="welcome")
    for builder in (
        MessageBuilder(config, sample_newsletter(), mark="[TEST]"),
        MessageBuilder(config, welcome),
    ):
        ids = {parse(builder.build(recipient()))["Message-ID"] for _ in range(3)}
        assert len(ids) == 3 and all(i.endswith("@blog.example.org>") for i in ids), ids
    campaign = MessageBuilder(config, sample_newsletter())
    assert len({parse(campaign.build(recipient()))["Message-ID"] for _ in range(3)}) == 1


def test_non_ascii_names_are_encoded(config):
    person = recipient(name="Zoë Ünder, MD")
    data = MessageBuilder(config, sample_newsletter()).build(person)
    to_line = next(line for line in data.split(b"\r\n") if line.startswith(b"To:"))
    assert to_line.isascii() and b"=?utf-8?" in to_line
    assert parse(data)["To"].addresses[0].display_name == "Zoë Ünder, MD"


def test_test_messages_say_so(config):
    data = MessageBuilder(config, sample_newsletter(), mark="[TEST]").build(recipient())
    assert parse(data)["Subject"] == "[TEST] Sleep well, café"


def test_reply_to_when_configured(site: Path):
    config = load_config(
        site / "config" / "site.toml", now=NOW, env={"PUBLISHER_NEWSLETTER_REPLY_TO": "hi@x.org"}
    )
    assert parse(MessageBuilder(config, sample_newsletter()).build(recipient()))["Reply-To"] == (
        "hi@x.org"
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "Eve\r\nBcc: victim@example.com"),
        ("name", "Eve\nBcc: victim@example.com"),
        ("email", "eve@example.com\r\nBcc: victim@example.com"),
        ("unsubscribe_url", "https://x.org/u\r\nBcc: victim@example.com"),
    ],
)
def test_header_injection_through_a_recipient_is_rejected(config, field, value):
    person = dataclasses.replace(recipient(), **{field: value})
    with pytest.raises(UnsafeHeaderError, match="line break"):
        MessageBuilder(config, sample_newsletter()).build(person)


def test_mailbox_keeps_controls_out_and_non_ascii_local_parts_behind_smtputf8():
    from publisher.mail.message import mailbox

    hostile = mailbox("Eve\r\nBcc: x@y.org\x00\x1b", "eve@example.com", smtputf8=False)
    assert hostile == '"EveBcc: x@y.org" <eve@example.com>'
    assert mailbox("Zoë", "z@bücher.example", smtputf8=False) == (
        "=?utf-8?q?Zo=C3=AB?= <z@xn--bcher-kva.example>"
    )
    with pytest.raises(UnsafeHeaderError, match="needs SMTPUTF8"):
        mailbox("José", "josé@example.org", smtputf8=False)
    assert mailbox("José", "josé@bücher.example", smtputf8=True) == (
        "José <josé@xn--bcher-kva.example>"
    )


def test_a_non_ascii_local_part_gets_a_utf8_to_header_with_smtputf8(config):
    config = dataclasses.replace(config, smtp=dataclasses.replace(config.smtp, smtputf8=True))
    person = dataclasses.replace(recipient(), email="josé@example.org", name="José")
    data = MessageBuilder(config, sample_newsletter()).build(person)
    message = email.message_from_string(data.decode(), policy=policy.SMTPUTF8)
    assert message["To"].addresses[0].addr_spec == "josé@example.org"


def test_header_injection_through_the_subject_is_rejected(config):
    newsletter = dataclasses.replace(sample_newsletter(), subject="Hi\r\nBcc: victim@example.com")
    with pytest.raises(UnsafeHeaderError, match="subject contains a line break"):
        MessageBuilder(config, newsletter)


def test_quoted_printable_pieces_join_to_the_original():
    rng = random.Random(7)
    alphabet = "ab =\t\u00e9\u20ac.\n" + "x" * 10
    for _ in range(300):
        pieces = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))) for _ in "abc"]
        encoded = b"".join(quoted_printable(p, last=i == 2) for i, p in enumerate(pieces))
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
        decoded = email.quoprimime.body_decode(encoded.decode("ascii")).replace("\r\n", "\n")
        raw = decoded.encode("latin-1").decode("utf-8")
        assert raw == "".join(pieces)


# --- DKIM ---------------------------------------------------------------------------


@pytest.fixture
def dkim_config(site: Path):
    path, record = dkim_key(site)
    env = {
        "PUBLISHER_DKIM_DOMAIN": "example.org",
        "PUBLISHER_DKIM_SELECTOR": "news2026",
        "PUBLISHER_DKIM_PRIVATE_KEY_PATH": str(path),
        "PUBLISHER_NEWSLETTER_REPLY_TO": "hi@example.org",
    }
    config = load_config(site / "config" / "site.toml", now=NOW, env=env)
    return config, record


def dns_stub(record: bytes):
    """The local DNS: answers the selector's TXT query with the public key."""
    return dkim_dns(record, "news2026")


def test_dkim_signatures_verify_with_dkimpy(dkim_config):
    config, record = dkim_config
    builder = MessageBuilder(config, sample_newsletter("<pre>  indented   code  </pre>"))
    for person in (recipient(), recipient(name="Zoë  Ünder  ", n=2), recipient(name="", n=3)):
        data = builder.build(person)
        assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
        assert dkim.verify(data, dnsfunc=dns_stub(record))
    signature = parse(data)["DKIM-Signature"]
    signed = dkim_signed_names(signature)
    assert signed == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "feedback-id",
        "reply-to",
        "from",  # over-signed: a From added on the way breaks the signature
    ]
    forged = b"From: Eve <eve@example.net>\r\n" + data
    assert not dkim.verify(forged, dnsfunc=dns_stub(record))


def test_dkim_detects_tampering(dkim_config):
    config, record = dkim_config
    data = MessageBuilder(config, sample_newsletter()).build(recipient())
    assert not dkim.verify(data.replace(b"token=1.abc", b"token=9.abc"), dnsfunc=dns_stub(record))
    assert not dkim.verify(data.replace(b"To: Ann Lee", b"To: Eve Lee"), dnsfunc=dns_stub(record))


def test_dkim_signs_one_complete_message(dkim_config):
    """`sign_message` (confirmation emails): folded and repeated headers, odd spacing and
    blank lines at the end of the body all verify; dkimpy is the independent judge."""
    from publisher.mail.dkim import DkimSigner

    config, record = dkim_config
    signer = DkimSigner.from_config(config)
    message = email.message.EmailMessage(policy=policy.SMTP)
    message["From"] = "Clinic <news@example.org>"
    message["To"] = "Zoë Ünder <zoe@example.com>"
    message["Subject"] = "Confirm your subscription, " + "a long subject " * 8
    message["Date"] = "Mon, 02 Mar 2026 15:00:00 +0000"
    message["Message-ID"] = "<1@example.org>"
    message.set_content("Hello  there \t\nclick\n\n\n\n")
    message.add_alternative("<p>Hi   <b>there</b></p>\n", subtype="html")
    data = message.as_bytes()
    signed = signer.sign_message(data)
    assert signed.endswith(data) and signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
    assert dkim.verify(signed, dnsfunc=dns_stub(record))
    header = parse(signed)["DKIM-Signature"]
    names = dkim_signed_names(header)
    assert names == [
        *["from", "to", "subject", "date", "message-id", "mime-version", "content-type", "from"]
    ]
    assert not dkim.verify(signed.replace(b"click", b"clack"), dnsfunc=dns_stub(record))
    # A second Subject added below: verifiers read the last one, and so does the signer.
    twice = data.replace(b"Date:", b"Subject: other\r\nDate:", 1)
    assert dkim.verify(signer.sign_message(twice), dnsfunc=dns_stub(record))


def test_dkim_needs_selector_and_key(site: Path):
    config = load_config(
        site / "config" / "site.toml", now=NOW, env={"PUBLISHER_DKIM_DOMAIN": "x.org"}
    )
    with pytest.raises(Exception, match="set selector and private_key_path too"):
        MessageBuilder(config, sample_newsletter())


@pytest.mark.parametrize(
    "text",
    [".starts with a dot\n", "a\n.b\n..c\n", "x" * 75 + ".y" * 60, "é" * 25 + "." * 200],
)
def test_no_encoded_line_starts_with_a_dot(text: str) -> None:
    """So the SMTP transport has nothing to dot-stuff (and copies nothing)."""
    import binascii

    encoded = quoted_printable(text, last=True)
    lines = encoded.split(b"\r\n")
    assert not any(line.startswith(b".") for line in lines)
    assert all(len(line) <= 76 for line in lines)
    decoded = binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")).decode()
    assert decoded == text
