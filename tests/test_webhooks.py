"""The providers' webhooks on `publisher web`, served by a real uvicorn on loopback.

Every request is signed by the test as the provider signs it: SNS with an RSA certificate
made here (served by an injected fetcher, so no network), Mailgun with an HMAC, SendGrid
with a P-256 key made here, Postmark with basic credentials. Each event must end in the
right subscriber state and event, once; forged, stale and replayed requests change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from publisher.config import load_config
from publisher.inbound import providers
from publisher.store import subscribers
from publisher.store.schema import deliveries, events, inbound
from publisher.store.schema import subscribers as subscribers_table
from publisher.web.app import create_app
from publisher.web.signatures import SnsVerifier, sns_url

from conftest import insert_subscriber, run_publisher, write_post, write_relay_config

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=t0k"
)
POSTMARK_AUTH = "postmark:hook-password-0123"
MAILGUN_KEY = "key-mailgun-signing-0123456789"
PEOPLE = ["ann", "bob", "cat", "dee", "eve", "fay", "gus"]


def make_certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def keys():
    """The test's SNS key and certificate, another RSA key (a forger's), SendGrid's pair."""
    sns = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sendgrid = ec.generate_private_key(ec.SECP256R1())
    return {"sns": sns, "cert": make_certificate(sns), "forger": forger, "sendgrid": sendgrid}


@dataclass
class Fetcher:
    """What the app would fetch over the network: the certificate, the SubscribeURL."""

    certificate: bytes
    fetched: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        if "unreachable" in url:
            raise ConnectionRefusedError(url)
        return self.certificate if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"


@dataclass
class Hooks:
    client: httpx.Client
    store: object
    fetcher: Fetcher
    keys: dict

    def status(self, person: str) -> str:
        return subscribers.get_by_email(self.store, f"{person}@example.com").status

    def statuses(self) -> dict[str, str]:
        return {person: self.status(person) for person in PEOPLE}

    def events(self, person: str) -> list[tuple[str, str]]:
        found = subscribers.get_by_email(self.store, f"{person}@example.com")
        with self.store.read() as conn:
            rows = conn.execute(
                select(events.c.kind, events.c.detail)
                .where(events.c.subscriber_id == found.id, events.c.source == "inbound")
                .order_by(events.c.id)
            )
            return [tuple(row) for row in rows]

    def snapshot(self) -> tuple:
        """Everything a webhook may change: statuses, events, the inbound record."""
        with self.store.read() as conn:
            counted = [
                conn.execute(select(func.count()).select_from(t)).scalar()
                for t in (events, inbound)
            ]
        return self.statuses(), counted

    # --- SES through SNS ------------------------------------------------------------

    def sns(self, message: dict | str, kind: str = "Notification", **changes) -> dict:
        """An SNS envelope signed with the test certificate (SignatureVersion 1)."""
        envelope = {
            "Type": kind,
            "MessageId": str(uuid.uuid4()),
            "TopicArn": TOPIC,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": "2026-12-01T12:00:00.000Z",
            "SignatureVersion": "1",
            "SigningCertURL": CERT_URL,
        }
        if kind == "SubscriptionConfirmation":
            envelope |= {"SubscribeURL": SUBSCRIBE_URL, "Token": "t0k"}
        envelope |= changes
        return sign_sns(envelope, self.keys["sns"])

    def post_ses(self, envelope: dict) -> httpx.Response:
        headers = {
            "x-amz-sns-message-type": str(envelope.get("Type", "")),
            "content-type": "text/plain",
        }
        return self.client.post("/webhooks/ses", content=json.dumps(envelope), headers=headers)

    # --- Mailgun and SendGrid -------------------------------------------------------

    def mailgun(self, data: dict, timestamp: int | None = None, key: str = MAILGUN_KEY):
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        token = uuid.uuid4().hex
        signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
        body = {"signature": {"timestamp": stamp, "token": token, "signature": signature}}
        return body | {"event-data": data}

    def sendgrid(self, body: bytes, timestamp: int | None = None, key=None) -> dict:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signer = key or self.keys["sendgrid"]
        signature = signer.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "content-type": "application/json",
        }


def sign_sns(envelope: dict, key: rsa.RSAPrivateKey) -> dict:
    fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    if envelope["Type"] != "Notification":
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{name}\n{envelope[name]}\n" for name in fields if name in envelope)
    digest = hashes.SHA256() if envelope["SignatureVersion"] == "2" else hashes.SHA1()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return envelope | {"Signature": base64.b64encode(signature).decode()}


def sendgrid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture
def start_hooks(site: Path, live_server, keys, monkeypatch):
    """Start the app with `env` settings (secrets, topic), seven subscribers in the store."""
    clients = []

    def start(database_url: str, **env: str) -> Hooks:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config = load_config(env={**os.environ, "PUBLISHER_DATABASE_URL": database_url})
        fetcher = Fetcher(keys["cert"])
        app = create_app(config, fetch=fetcher)
        store = app.state.store
        for person in PEOPLE:
            if subscribers.get_by_email(store, f"{person}@example.com") is None:
                insert_subscriber(store, f"{person}@example.com", person.title())
        client = httpx.Client(base_url=live_server(app), timeout=10)
        clients.append(client)
        return Hooks(client, store, fetcher, keys)

    yield start
    for client in clients:
        client.close()


def configured(keys) -> dict[str, str]:
    """All four providers set up: the SES topic and each secret in its environment variable."""
    return {
        "PUBLISHER_INBOUND_SES_TOPIC_ARNS": TOPIC,
        "PUBLISHER_POSTMARK_WEBHOOK_AUTH": POSTMARK_AUTH,
        "PUBLISHER_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
        "PUBLISHER_SENDGRID_PUBLIC_KEY": sendgrid_public_key(keys["sendgrid"]),
    }


@pytest.fixture
def hooks(start_hooks, database_url: str, keys) -> Hooks:
    """The app with every provider set up, on SQLite and on PostgreSQL."""
    return start_hooks(database_url, **configured(keys))


def ses_bounce(person: str, bounce_type: str = "Permanent", feedback: str = "fb-1", **mail):
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "feedbackId": feedback,
            "bouncedRecipients": [
                {
                    "emailAddress": f"{person}@example.com",
                    "action": "failed",
                    "status": "5.1.1" if bounce_type == "Permanent" else "4.2.2",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
        },
        "mail": {"messageId": "0100-ses", "source": "news@example.org", **mail},
    }


def ses_complaint(person: str, feedback: str = "fb-c") -> dict:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "feedbackId": feedback,
            "complaintFeedbackType": "abuse",
            "complainedRecipients": [{"emailAddress": f"{person}@example.com"}],
        },
        "mail": {"messageId": "0100-ses", "source": "news@example.org"},
    }


# --- Amazon SES through SNS ------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounces_and_complaints_act_once(hooks: Hooks, keys, version: str) -> None:
    hard = sign_sns(hooks.sns(ses_bounce("ann")) | {"SignatureVersion": version}, keys["sns"])
    soft = hooks.sns(ses_bounce("bob", "Transient", "fb-2"))
    complaint = hooks.sns(ses_complaint("cat"), Subject="Amazon SES Email Event Notification")
    complaint = sign_sns(complaint, keys["sns"])
    for envelope in (hard, soft, complaint):
        response = hooks.post_ses(envelope)
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "events": 1, "duplicates": 0}

    assert {p: s for p, s in hooks.statuses().items() if s != "active"} == {
        "ann": "bounced",
        "cat": "complained",
    }
    [(kind, detail)] = hooks.events("ann")
    assert kind == "bounced" and "5.1.1 smtp; 550 5.1.1 user unknown" in detail
    assert detail.startswith("ses:fb-1:ann@example.com")
    assert [kind for kind, _ in hooks.events("bob")] == ["soft_bounce"]
    assert [kind for kind, _ in hooks.events("cat")] == ["complained"]
    assert hooks.fetcher.fetched == [CERT_URL]  # fetched once, then cached

    before = hooks.snapshot()
    for envelope in (hard, soft, complaint):  # SNS delivers at least once: again
        response = hooks.post_ses(envelope)
        assert response.json() == {"ok": True, "events": 1, "duplicates": 1}
    assert hooks.snapshot() == before


def test_forged_ses_messages_change_nothing(hooks: Hooks, keys) -> None:
    genuine = hooks.sns(ses_bounce("ann"))
    forged = sign_sns(hooks.sns(ses_bounce("ann")), keys["forger"])
    tampered = genuine | {"Message": json.dumps(ses_bounce("bob"))}
    elsewhere = "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem"
    evil_host = hooks.sns(ses_bounce("ann"), SigningCertURL=elsewhere)
    plain_http = hooks.sns(ses_bounce("ann"), SigningCertURL=CERT_URL.replace("https", "http"))
    userinfo = hooks.sns(
        ses_bounce("ann"), SigningCertURL="https://sns.eu-west-1.amazonaws.com@evil.example/c.pem"
    )
    other_topic = hooks.sns(ses_bounce("ann"), TopicArn=TOPIC + "-other")
    unreachable = hooks.sns(
        ses_bounce("ann"), SigningCertURL="https://sns.us-east-1.amazonaws.com/unreachable.pem"
    )
    not_a_certificate = hooks.sns(
        ses_bounce("ann"), SigningCertURL="https://sns.us-east-1.amazonaws.com/x.pem"
    )
    unsigned = {k: v for k, v in genuine.items() if k != "Signature"}
    version_3 = sign_sns(genuine | {"SignatureVersion": "3"}, keys["sns"])
    garbled = genuine | {"Signature": "not base64!"}
    before = hooks.snapshot()
    for envelope in (
        forged,
        tampered,
        evil_host,
        plain_http,
        userinfo,
        other_topic,
        unsigned,
        version_3,
        garbled,
        unreachable,
        not_a_certificate,
    ):
        response = hooks.post_ses(envelope)
        assert response.status_code == 403, envelope
        assert response.json()["ok"] is False
    assert hooks.snapshot() == before
    assert all(sns_url(url) for url in hooks.fetcher.fetched)  # nothing fetched elsewhere


def test_a_subscription_is_confirmed_only_when_signed_for_a_configured_topic(
    hooks: Hooks, keys
) -> None:
    forged = sign_sns(hooks.sns("", "SubscriptionConfirmation"), keys["forger"])
    assert hooks.post_ses(forged).status_code == 403
    other = hooks.sns("", "SubscriptionConfirmation", TopicArn=TOPIC + "-other")
    assert hooks.post_ses(other).status_code == 403
    elsewhere = hooks.sns("", "SubscriptionConfirmation", SubscribeURL="https://evil.example/x")
    assert hooks.post_ses(elsewhere).status_code == 400
    assert SUBSCRIBE_URL not in hooks.fetcher.fetched
    assert "https://evil.example/x" not in hooks.fetcher.fetched

    down = "https://sns.eu-west-1.amazonaws.com/unreachable?Action=ConfirmSubscription"
    failed = hooks.post_ses(hooks.sns("", "SubscriptionConfirmation", SubscribeURL=down))
    assert failed.status_code == 502  # SNS asks again later

    response = hooks.post_ses(hooks.sns("You have chosen to subscribe", "SubscriptionConfirmation"))
    assert response.status_code == 200 and response.json()["confirmed"] is True
    assert hooks.fetcher.fetched[-1] == SUBSCRIBE_URL


# --- Postmark --------------------------------------------------------------------------


def postmark_bounce(person: str, kind: str, number: int) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": number,
        "Type": kind,
        "TypeCode": 1,
        "MessageID": str(uuid.uuid4()),
        "Email": f"{person}@example.com",
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account does not exist.",
    }


def test_postmark_takes_basic_auth_and_acts_once(hooks: Hooks) -> None:
    auth = ("postmark", "hook-password-0123")
    records = [
        postmark_bounce("ann", "HardBounce", 1),
        postmark_bounce("bob", "SoftBounce", 2),
        {**postmark_bounce("cat", "SpamComplaint", 3), "RecordType": "SpamComplaint"},
        {
            "RecordType": "SubscriptionChange",
            "MessageID": str(uuid.uuid4()),
            "Recipient": "dee@example.com",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
            "ChangedAt": "2026-12-01T12:00:00Z",
        },
        {"RecordType": "Delivery", "Recipient": "eve@example.com"},
    ]
    before = hooks.snapshot()
    for wrong in (None, ("postmark", "guess"), ("other", "hook-password-0123")):
        response = hooks.client.post("/webhooks/postmark", json=records[0], auth=wrong)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
    assert hooks.snapshot() == before

    for record in records:
        response = hooks.client.post("/webhooks/postmark", json=record, auth=auth)
        assert response.status_code == 200, response.text
    assert hooks.statuses() == {
        **dict.fromkeys(PEOPLE, "active"),
        "ann": "bounced",
        "cat": "complained",
        "dee": "unsubscribed",
    }
    [(kind, detail)] = hooks.events("ann")
    assert kind == "bounced" and detail.startswith("postmark:1 5.1.1 smtp;550 5.1.1 The email")
    assert [kind for kind, _ in hooks.events("bob")] == ["soft_bounce"]
    before = hooks.snapshot()
    for record in records:
        assert hooks.client.post("/webhooks/postmark", json=record, auth=auth).status_code == 200
    assert hooks.snapshot() == before


def test_a_mail_naming_a_provider_event_as_its_message_id_swallows_no_event(
    hooks: Hooks, site: Path, database_url: str
) -> None:
    mail = "From: x@example.net\nTo: news@example.org\nMessage-ID: postmark:777\n\nhello\n"
    env = {"PUBLISHER_DATABASE_URL": database_url}
    done = run_publisher("inbound", cwd=site, env=env, input=mail)
    assert done.returncode == 0 and "kept for a person to read" in done.stdout, done.stderr
    auth = ("postmark", "hook-password-0123")
    event = postmark_bounce("ann", "HardBounce", 777)
    response = hooks.client.post("/webhooks/postmark", json=event, auth=auth)
    assert response.json() == {"ok": True, "events": 1, "duplicates": 0}
    assert hooks.status("ann") == "bounced"
    again = run_publisher("inbound", cwd=site, env=env, input=mail)
    assert "already processed" in again.stdout  # each still read once, in its own namespace
    response = hooks.client.post("/webhooks/postmark", json=event, auth=auth)
    assert response.json()["duplicates"] == 1


# --- Mailgun ---------------------------------------------------------------------------


def mailgun_event(person: str, event: str, severity: str = "", number: int = 1) -> dict:
    return {
        "event": event,
        "id": f"mg-{person}-{event}-{number}",
        "severity": severity,
        "recipient": f"{person}@example.com",
        "reason": "bounce" if event == "failed" else "",
        "delivery-status": {"code": 550, "message": "5.1.1 mailbox unavailable"},
        "envelope": {"sender": "news@example.org"},
        "message": {"headers": {"message-id": "x@example.org"}},
    }


def test_mailgun_signed_events_act_once(hooks: Hooks) -> None:
    data = [
        mailgun_event("ann", "failed", "permanent"),
        mailgun_event("bob", "failed", "temporary"),
        mailgun_event("cat", "complained"),
        mailgun_event("dee", "unsubscribed"),
        mailgun_event("eve", "delivered"),
    ]
    for event in data:
        response = hooks.client.post("/webhooks/mailgun", json=hooks.mailgun(event))
        assert response.status_code == 200, response.text
    assert hooks.statuses() == {
        **dict.fromkeys(PEOPLE, "active"),
        "ann": "bounced",
        "cat": "complained",
        "dee": "unsubscribed",
    }
    assert [kind for kind, _ in hooks.events("bob")] == ["soft_bounce"]

    before = hooks.snapshot()
    for event in data:  # the same events, newly signed (Mailgun retrying): nothing changes
        response = hooks.client.post("/webhooks/mailgun", json=hooks.mailgun(event))
        assert response.status_code == 200
    assert hooks.snapshot() == before


def test_forged_stale_and_replayed_mailgun_requests_change_nothing(hooks: Hooks) -> None:
    event = mailgun_event("ann", "failed", "permanent")
    forged = hooks.mailgun(event, key="key-guessed")
    stale = hooks.mailgun(event, timestamp=int(time.time()) - 600)
    future = hooks.mailgun(event, timestamp=int(time.time()) + 600)
    absurd = hooks.mailgun(event, timestamp=999_999_999_999)
    unsigned = {"event-data": event}
    wrong_type = hooks.mailgun(event) | {"signature": {"timestamp": 1, "token": 2, "signature": 3}}
    before = hooks.snapshot()
    for body in (forged, stale, future, absurd, unsigned, wrong_type):
        assert hooks.client.post("/webhooks/mailgun", json=body).status_code == 403
    assert hooks.snapshot() == before

    genuine = hooks.mailgun(mailgun_event("bob", "unsubscribed"))
    assert hooks.client.post("/webhooks/mailgun", json=genuine).status_code == 200
    after = hooks.snapshot()
    replayed = genuine | {"event-data": event}  # the captured signature, another event
    assert hooks.client.post("/webhooks/mailgun", json=replayed).status_code == 403
    assert hooks.client.post("/webhooks/mailgun", json=genuine).status_code == 403
    assert hooks.snapshot() == after and hooks.status("ann") == "active"


# --- SendGrid --------------------------------------------------------------------------


def sendgrid_events() -> list[dict]:
    stamp = int(time.time())

    def event(person: str, name: str, **values) -> dict:
        number = uuid.uuid5(uuid.NAMESPACE_URL, f"{person}/{name}")
        return {
            "email": f"{person}@example.com",
            "timestamp": stamp,
            "event": name,
            "sg_event_id": str(number),
            "sg_message_id": "sg.1",
            **values,
        }

    return [
        event("ann", "bounce", type="bounce", status="5.1.1", reason="550 5.1.1 no such user"),
        event("bob", "deferred", reason="451 try later", attempt="1"),
        event("cat", "spamreport"),
        event("dee", "unsubscribe"),
        event("eve", "group_unsubscribe", asm_group_id=1),
        event("fay", "dropped", reason="Bounced Address"),
        event("gus", "delivered", response="250 OK"),
        event("gus", "open"),
    ]


def test_sendgrid_signed_batches_act_once(hooks: Hooks) -> None:
    body = json.dumps(sendgrid_events()).encode()
    signed = hooks.sendgrid(body, timestamp=int(time.time()) - 10)
    response = hooks.client.post("/webhooks/sendgrid", content=body, headers=signed)
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "events": 6, "duplicates": 0}
    assert hooks.statuses() == {
        "ann": "bounced",
        "bob": "active",
        "cat": "complained",
        "dee": "unsubscribed",
        "eve": "unsubscribed",
        "fay": "bounced",
        "gus": "active",
    }
    assert [kind for kind, _ in hooks.events("bob")] == ["soft_bounce"]

    before = hooks.snapshot()
    # SendGrid posting the batch again, signed anew
    again = hooks.client.post("/webhooks/sendgrid", content=body, headers=hooks.sendgrid(body))
    assert again.json() == {"ok": True, "events": 6, "duplicates": 6}
    assert hooks.snapshot() == before


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def twin_signature(headers: dict) -> str:
    """The other ECDSA signature of the same content, (r, n - s): it verifies too."""
    der = base64.b64decode(headers["X-Twilio-Email-Event-Webhook-Signature"])
    r, s = decode_dss_signature(der)
    return base64.b64encode(encode_dss_signature(r, P256_ORDER - s)).decode()


def test_forged_stale_and_replayed_sendgrid_requests_change_nothing(hooks: Hooks, keys) -> None:
    body = json.dumps(sendgrid_events()[:1]).encode()
    other_key = ec.generate_private_key(ec.SECP256R1())
    headers = hooks.sendgrid(body)
    attempts = [
        (body, hooks.sendgrid(body, key=other_key)),
        (body.replace(b"ann@", b"bob@"), headers),
        (body, hooks.sendgrid(body, timestamp=int(time.time()) - 600)),
        (body, {**headers, "X-Twilio-Email-Event-Webhook-Signature": "%%%"}),
        (body, {"content-type": "application/json"}),
    ]
    before = hooks.snapshot()
    for content, signed in attempts:
        response = hooks.client.post("/webhooks/sendgrid", content=content, headers=signed)
        assert response.status_code == 403
    assert hooks.snapshot() == before

    assert hooks.client.post("/webhooks/sendgrid", content=body, headers=headers).status_code == 200
    after = hooks.snapshot()
    replay = hooks.client.post("/webhooks/sendgrid", content=body, headers=headers)
    assert replay.status_code == 403 and replay.json()["error"] == "replayed"
    twin = {**headers, "X-Twilio-Email-Event-Webhook-Signature": twin_signature(headers)}
    replay = hooks.client.post("/webhooks/sendgrid", content=body, headers=twin)
    assert replay.status_code == 403 and replay.json()["error"] == "replayed"
    assert hooks.snapshot() == after


# --- What every endpoint shares ----------------------------------------------------------


def test_endpoints_not_set_up_answer_404(start_hooks, tmp_path: Path) -> None:
    hooks = start_hooks(f"sqlite:///{tmp_path / 'publisher.db'}")
    for provider in ("ses", "postmark", "mailgun", "sendgrid"):
        response = hooks.client.post(f"/webhooks/{provider}", json={})
        assert response.status_code == 404
    assert hooks.client.get("/webhooks/postmark").status_code == 405


def test_malformed_and_hostile_bodies_get_400_never_a_500(hooks: Hooks) -> None:
    auth = ("postmark", "hook-password-0123")
    nested = b"[" * 100_000 + b"]" * 100_000
    for body in (b"", b"{", b"\xff\xfe", b"[1, 2]", b"null", b"1e999999", nested[:900_000]):
        postmark = hooks.client.post("/webhooks/postmark", content=body, auth=auth)
        assert postmark.status_code == 400, body[:20]
    for body in ([1, "x", None], {"event-data": []}, "text"):
        signed = hooks.mailgun(body) if isinstance(body, list) else body
        assert hooks.client.post("/webhooks/mailgun", json=signed).status_code in (400, 403)
    strange = [{"RecordType": "Bounce", "Type": ["HardBounce"], "Email": {"a": 1}, "ID": None}]
    for record in strange:
        assert hooks.client.post("/webhooks/postmark", json=record, auth=auth).status_code == 200
    for body in (b"{}", b"[1]", b'[{"event": "bounce", "email": 5}]', b"nope"):
        response = hooks.client.post(
            "/webhooks/sendgrid", content=body, headers=hooks.sendgrid(body)
        )
        assert response.status_code in (200, 400), body
    not_json = hooks.post_ses({"Type": "Notification"})
    assert not_json.status_code == 403
    for envelope in (
        {"TopicArn": [TOPIC]},
        {"TopicArn": TOPIC, "Type": [1], "SignatureVersion": {}},
    ):
        assert hooks.post_ses(envelope).status_code == 403
    bad_message = hooks.post_ses(hooks.sns("not json"))
    assert bad_message.status_code == 400
    assert hooks.client.post("/webhooks/ses", content=b"[]").status_code == 400
    too_big = hooks.client.post("/webhooks/postmark", content=b" " * (1024 * 1024 + 1), auth=auth)
    assert too_big.status_code == 413
    assert hooks.statuses() == dict.fromkeys(PEOPLE, "active")


def test_an_unknown_recipient_is_recorded_and_acts_on_no_one(hooks: Hooks) -> None:
    response = hooks.post_ses(hooks.sns(ses_bounce("stranger")))
    assert response.status_code == 200
    with hooks.store.read() as conn:
        [(kind, action)] = conn.execute(select(inbound.c.kind, inbound.c.action)).all()
    assert (kind, action) == ("bounce", "not ours: no genuine token, nothing done")
    assert hooks.statuses() == dict.fromkeys(PEOPLE, "active")


def test_no_secret_reaches_a_log_line(hooks: Hooks, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    auth = ("postmark", "hook-password-0123")
    hooks.client.post("/webhooks/postmark", json=postmark_bounce("ann", "HardBounce", 9), auth=auth)
    hooks.client.post("/webhooks/postmark", json={}, auth=("postmark", "a-wrong-guess"))
    signed = hooks.mailgun(mailgun_event("bob", "complained"))
    hooks.client.post("/webhooks/mailgun", json=signed)
    hooks.client.post("/webhooks/mailgun", json=signed)
    body = b"[]"
    headers = hooks.sendgrid(body)
    hooks.client.post("/webhooks/sendgrid", content=body, headers=headers)
    logged = caplog.text
    assert "webhook postmark" in logged and "webhook mailgun" in logged
    secrets = [
        "hook-password-0123",
        "a-wrong-guess",
        MAILGUN_KEY,
        signed["signature"]["token"],
        signed["signature"]["signature"],
        headers["X-Twilio-Email-Event-Webhook-Signature"],
        base64.b64encode(b"postmark:hook-password-0123").decode(),
    ]
    assert not [secret for secret in secrets if secret in logged]


def test_a_bad_topic_or_key_is_a_one_line_error(site: Path) -> None:
    topic = run_publisher("web", env={"PUBLISHER_INBOUND_SES_TOPIC_ARNS": "ses-events"}, cwd=site)
    assert topic.returncode == 2
    assert topic.stderr.startswith("error: ") and "[inbound] ses_topic_arns" in topic.stderr
    key = run_publisher("web", env={"PUBLISHER_SENDGRID_PUBLIC_KEY": "bm90IGEga2V5"}, cwd=site)
    assert key.returncode == 2, key.stderr
    assert key.stderr.splitlines() == [
        "error: PUBLISHER_SENDGRID_PUBLIC_KEY: not a base64 DER public key; paste the "
        "verification key SendGrid shows for the signed event webhook"
    ]


def test_an_echoed_envelope_sender_ties_the_event_to_its_delivery(
    site: Path, start_hooks, smtp_server, database_url: str, keys
) -> None:
    """SES reports the envelope sender it used (`mail.source`), Mailgun its `envelope`: with
    [inbound] set that is the message's own signed VERP address, which names the delivery."""
    extra = '[inbound]\naddress = "bounces@news.example.org"\n'
    write_relay_config(site, smtp_server.port, database_url, extra=extra)
    hooks = start_hooks(database_url, **configured(keys))
    write_post(site, "2026-11-30-first.md", "title: First\ndate: 2026-11-30 09:00")
    done = run_publisher("send", "first", "--now", "2026-12-01T12:00:00+00:00", cwd=site)
    assert done.returncode == 0, done.stderr
    senders = {r.recipients[0].split("@")[0]: r.envelope_from for r in smtp_server.received}
    assert senders["ann"].startswith("bounces+")

    echoed = ses_bounce("ann", source=senders["ann"])
    assert hooks.post_ses(hooks.sns(echoed)).status_code == 200
    event = mailgun_event("bob", "failed", "permanent") | {"envelope": {"sender": senders["bob"]}}
    assert hooks.client.post("/webhooks/mailgun", json=hooks.mailgun(event)).status_code == 200
    # A token names its own delivery whatever address the report gives.
    stranger = ses_bounce("someone-else", feedback="fb-9", source=senders["cat"])
    assert hooks.post_ses(hooks.sns(stranger)).status_code == 200

    with hooks.store.read() as conn:
        states = dict(
            conn.execute(
                select(subscribers_table.c.email, deliveries.c.state).join(
                    deliveries, deliveries.c.subscriber_id == subscribers_table.c.id
                )
            ).all()
        )
    assert {email.split("@")[0]: state for email, state in states.items()} == {
        **dict.fromkeys(PEOPLE, "sent"),
        "ann": "bounced",
        "bob": "bounced",
        "cat": "bounced",
    }
    assert hooks.statuses() == {
        **dict.fromkeys(PEOPLE, "active"),
        "ann": "bounced",
        "bob": "bounced",
        "cat": "bounced",
    }
    listing = run_publisher("campaigns", cwd=site)
    assert listing.returncode == 0, listing.stderr
    assert re.search(r"post:first\s+done\s+7\s+4\s+0\s+0\s+0\s+0\s+3 \(42\.9%\)", listing.stdout)
    report = run_publisher("inbound", "--report", cwd=site)
    assert report.returncode == 0, report.stderr
    assert "from ses webhook | SES bounce: Permanent General" in report.stdout
    assert "from mailgun webhook | Mailgun failed permanent bounce" in report.stdout


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
# Bodies shaped like the providers' own, with any JSON where a value goes.
SHAPED = st.fixed_dictionaries(
    {},
    optional={
        name: JSON
        for name in (
            "RecordType",
            "Type",
            "ID",
            "Email",
            "Recipient",
            "SuppressSending",
            "SuppressionReason",
            "event-data",
            "notificationType",
            "bounce",
            "complaint",
            "mail",
            "TopicArn",
            "SignatureVersion",
            "SigningCertURL",
            "Signature",
            "Message",
        )
    },
)


@settings(max_examples=100, deadline=None)
@given(body=JSON | SHAPED | st.lists(SHAPED, max_size=3))
def test_any_json_is_read_into_reports_or_refused_as_malformed(body) -> None:
    """Whatever a signed (or unsigned) body holds, reading it never raises anything else."""

    def ses(body) -> list[providers.Report]:
        return providers.ses(json.dumps(body), "sns-id")

    for parse in (providers.postmark, providers.mailgun, providers.sendgrid, ses):
        try:
            reports = parse(body)
        except providers.Malformed:
            continue
        assert all(len(report.notice().message_id) <= 255 for report in reports)
    assert not SnsVerifier(lambda url: b"").verify(body if isinstance(body, dict) else {})
