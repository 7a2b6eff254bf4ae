"""Emails that land: every email the sample site sends, scored by SpamAssassin and verified
by dkimpy, as docs/run/deliverability.md promises."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import dkim

from conftest import dkim_dns, dkim_key, dkim_signed_names, sample_emails, spamassassin_scores

SIGNED = {
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
}


def test_spamassassin_scores_every_email_zero(sample_site: Path):
    emails = sample_emails(sample_site)
    scores = spamassassin_scores(emails)
    assert set(scores) == set(emails)
    hits = {name: rules for name, (score, rules) in scores.items() if score != 0.0}
    assert hits == {}, f"SpamAssassin scores above 0.0 (rules that hit): {hits}"


def test_dkimpy_verifies_every_email_and_its_signed_headers(sample_site: Path):
    path, record = dkim_key(sample_site)
    env = {
        "PUBLISHER_DKIM_DOMAIN": "riverbend-psychiatry.example",
        "PUBLISHER_DKIM_SELECTOR": "news",
        "PUBLISHER_DKIM_PRIVATE_KEY_PATH": str(path),
    }
    dns = dkim_dns(record, "news", "riverbend-psychiatry.example")
    for name, data in sample_emails(sample_site, env).items():
        assert dkim.verify(data, dnsfunc=dns), name
        message = message_from_bytes(data, policy=policy.default)
        signed = dkim_signed_names(message["DKIM-Signature"])
        present = {header.lower() for header in message} - {"dkim-signature"}
        assert SIGNED & present <= set(signed), name
        assert signed.count("from") == 2, name  # over-signed
        if name != "confirmation":  # a transactional message: no list headers
            assert set(signed) >= SIGNED, name
        forged = b"From: Eve <eve@example.net>\r\n" + data
        assert not dkim.verify(forged, dnsfunc=dns), name


def test_only_the_message_has_mime_version_and_the_confirmation_names_the_sender_once(
    sample_site: Path,
):
    """On main the confirmation's HTML part carried a stray MIME-Version, and its footer
    read "Riverbend Integrative Psychiatry, Riverbend Integrative Psychiatry, 410 ..."."""
    emails = sample_emails(sample_site)
    for name, data in emails.items():
        message = message_from_bytes(data, policy=policy.default)
        assert message["MIME-Version"] == "1.0", name
        assert [part["MIME-Version"] for part in message.iter_parts()] == [None, None], name
    confirmation = message_from_bytes(emails["confirmation"], policy=policy.default)
    for subtype in ("plain", "html"):
        body = confirmation.get_body(preferencelist=(subtype,)).get_content()
        assert body.count("Riverbend Integrative Psychiatry, 410 Water Street") == 1, subtype
        assert "Riverbend Integrative Psychiatry, Riverbend" not in body, subtype
