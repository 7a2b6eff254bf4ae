"""What mail providers report by webhook, normalised into the notices mail brings.

Amazon SES (through SNS), Postmark, Mailgun and SendGrid each post their own JSON; each
event becomes a `Report` (as django-anymail's tracking events: kind, recipient, the
provider's event id, status and description), and each report a `Notice` for
`effects.apply`, so a webhook bounce does exactly what a mailed one does. The web app checks
the provider's signature before anything here reads the body; what is read is still hostile
JSON, so every field is taken only when it has the expected type, and a body of the wrong
shape is `Malformed`.

A report is keyed `<provider>:<event id>[:<recipient>]` in the `inbound` table, which makes
it idempotent: the provider's own id when it gives one, else a digest of the event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from publisher.inbound.classify import (
    ADDRESS,
    AUTO_REPLY,
    BOUNCE,
    COMPLAINT,
    OTHER,
    STATUS,
    UNSUBSCRIBE,
    Failure,
    Notice,
)
from publisher.subscribers.addresses import CONTROL

SES, POSTMARK, MAILGUN, SENDGRID = "ses", "postmark", "mailgun", "sendgrid"
# Headers of our own message a provider may echo: their tokens tie a report to a delivery.
ECHOED_HEADERS = ("return-path", "list-unsubscribe")
KEY_LENGTH = 250  # the `inbound.message_id` column holds 255


class Malformed(ValueError):
    """The body is not what the provider sends: answered 400, nothing recorded."""


@dataclass(frozen=True)
class Report:
    """One provider event about one recipient."""

    provider: str
    event_id: str
    kind: str  # classify's kinds: bounce, complaint, unsubscribe, auto-reply, other
    recipient: str
    hard: bool = False
    status: str = ""  # an enhanced status code or an SMTP reply code
    diagnostic: str = ""
    description: str = ""  # the provider's name for the event, for the report
    echoed: list[str] = field(default_factory=list)  # our addresses it quotes (VERP)

    def notice(self) -> Notice:
        """The notice `effects.apply` takes: keyed by the event, failing at `recipient`."""
        key = f"{self.provider}:{self.event_id}"
        if len(key) > KEY_LENGTH:
            key = f"{self.provider}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
        failures = [Failure(self.recipient, self.hard, self.status, self.diagnostic)]
        return Notice(
            kind=self.kind,
            message_id=key,
            subject="",
            sender=f"{self.provider} webhook",
            addressed_to=[],
            quoted=self.echoed,
            failures=failures if self.kind == BOUNCE else [],
            detail=self.description,
        )


# --- Amazon SES ----------------------------------------------------------------------

SES_BOUNCE = {"Permanent": True, "Transient": False, "Undetermined": False}


def ses(message: str, sns_message_id: str) -> list[Report]:
    """The reports in an SES notification: `message` is the SNS `Message` (JSON text),
    from a notification topic (`notificationType`) or a configuration set (`eventType`)."""
    body = loads(message)
    if not isinstance(body, dict):
        raise Malformed("SES message: expected a JSON object")
    kind = _text(body.get("notificationType") or body.get("eventType"))
    mail = _object(body, "mail")
    echoed = _ses_echoed(mail)
    if kind == "Bounce":
        bounce = _object(body, "bounce")
        bounce_type = _text(bounce.get("bounceType"))
        hard = SES_BOUNCE.get(bounce_type, False)
        event = _text(bounce.get("feedbackId"), 200) or sns_message_id
        description = f"{bounce_type} {_text(bounce.get('bounceSubType'))}".strip()
        return [
            Report(
                SES,
                f"{event}:{_text(recipient.get('emailAddress'))}",
                BOUNCE,
                _text(recipient.get("emailAddress")),
                hard,
                _text(recipient.get("status"), 20),
                _text(recipient.get("diagnosticCode"), 500),
                f"SES bounce: {description}",
                echoed,
            )
            for recipient in _objects(bounce, "bouncedRecipients")
        ]
    if kind == "Complaint":
        complaint = _object(body, "complaint")
        feedback = _text(complaint.get("complaintFeedbackType")) or "abuse"
        event = _text(complaint.get("feedbackId"), 200) or sns_message_id
        return [
            Report(
                SES,
                f"{event}:{_text(recipient.get('emailAddress'))}",
                OTHER if feedback == "not-spam" else COMPLAINT,
                _text(recipient.get("emailAddress")),
                description=f"SES complaint: {feedback}",
                echoed=echoed,
            )
            for recipient in _objects(complaint, "complainedRecipients")
        ]
    return []  # deliveries, sends, opens: nothing to act on


def _ses_echoed(mail: dict) -> list[str]:
    """The envelope sender SES used (our VERP address) and the addresses in our headers."""
    values = [_text(mail.get("source"))]
    for header in _objects(mail, "headers"):
        if _text(header.get("name")).lower() in ECHOED_HEADERS:
            values.append(_text(header.get("value"), 2000))
    return _addresses(values)


# --- Postmark ------------------------------------------------------------------------

POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
POSTMARK_SOFT = {"SoftBounce", "Transient", "DnsError", "Blocked", "DMARCPolicy"}
POSTMARK_KINDS = {
    "SpamComplaint": COMPLAINT,
    "SpamNotification": COMPLAINT,
    "Unsubscribe": UNSUBSCRIBE,
    "AutoResponder": AUTO_REPLY,
    "ChallengeVerification": AUTO_REPLY,
}
POSTMARK_SUPPRESSION = {"HardBounce": BOUNCE, "SpamComplaint": COMPLAINT}


def postmark(body: object) -> list[Report]:
    """A Postmark webhook: `Bounce` and `SpamComplaint` records (typed by `Type`) and
    `SubscriptionChange` (a suppression); deliveries, opens and clicks are not acted on."""
    if not isinstance(body, dict):
        raise Malformed("Postmark: expected a JSON object")
    record = _text(body.get("RecordType"))
    if record in ("Bounce", "SpamComplaint"):
        return [_postmark_bounce(body, record)]
    if record == "SubscriptionChange":
        return [_postmark_subscription(body)]
    return []


def _postmark_bounce(body: dict, record: str) -> Report:
    kind_name = _text(body.get("Type")) or record
    hard = kind_name in POSTMARK_HARD
    soft = kind_name in POSTMARK_SOFT
    kind = BOUNCE if hard or soft else POSTMARK_KINDS.get(kind_name, OTHER)
    if record == "SpamComplaint":
        kind = COMPLAINT
    event = _text(body.get("ID"), 40) or _digest(body)
    details = _text(body.get("Details") or body.get("Description"), 500)
    status = STATUS.search(details)  # Postmark gives the server's reply, not a status field
    return Report(
        POSTMARK,
        event,
        kind,
        _text(body.get("Email")),
        hard,
        status[0] if status else "",
        details,
        f"Postmark {record}: {kind_name}",
    )


def _postmark_subscription(body: dict) -> Report:
    """Postmark suppressed (or reactivated) an address: a hard bounce, a complaint or a
    person's own wish (`ManualSuppression`, which is what an unsubscribe link does)."""
    reason = _text(body.get("SuppressionReason"))
    suppressed = body.get("SuppressSending") is True
    kind = POSTMARK_SUPPRESSION.get(reason, UNSUBSCRIBE) if suppressed else OTHER
    return Report(
        POSTMARK,
        _digest(body),  # the record has no id of its own
        kind,
        _text(body.get("Recipient")),
        hard=kind == BOUNCE,
        description=f"Postmark SubscriptionChange: {reason or 'reactivated'}",
    )


# --- Mailgun -------------------------------------------------------------------------


def mailgun(body: object) -> list[Report]:
    """A Mailgun webhook's `event-data`: `failed` (permanent or temporary), `complained`,
    `unsubscribed`; the signature beside it is the web app's to check."""
    data = _object(body, "event-data") if isinstance(body, dict) else None
    if not data:
        raise Malformed("Mailgun: expected an object with event-data")
    event = _text(data.get("event"))
    kind = {"failed": BOUNCE, "complained": COMPLAINT, "unsubscribed": UNSUBSCRIBE}.get(event)
    if kind is None:
        return []
    status = _object(data, "delivery-status")
    severity = _text(data.get("severity"))
    diagnostic = _text(status.get("message") or status.get("description"), 500)
    envelope = _object(data, "envelope")
    return [
        Report(
            MAILGUN,
            _text(data.get("id"), 200) or _digest(data),
            kind,
            _text(data.get("recipient")),
            hard=kind == BOUNCE and severity == "permanent",
            status=_text(status.get("enhanced-code") or status.get("code"), 20),
            diagnostic=diagnostic,
            description=f"Mailgun {event} {severity} {_text(data.get('reason'))}".strip(),
            echoed=_addresses([_text(envelope.get("sender"))]),
        )
    ]


# --- SendGrid ------------------------------------------------------------------------

SENDGRID_KINDS = {
    "bounce": BOUNCE,
    "deferred": BOUNCE,
    "dropped": OTHER,
    "spamreport": COMPLAINT,
    "unsubscribe": UNSUBSCRIBE,
    "group_unsubscribe": UNSUBSCRIBE,
}
# Why SendGrid dropped a message: its own suppression lists say what happened before.
SENDGRID_DROPPED = {
    "Bounced Address": BOUNCE,
    "Invalid": BOUNCE,
    "Spam Reporting Address": COMPLAINT,
    "Unsubscribed Address": UNSUBSCRIBE,
}


def sendgrid(body: object) -> list[Report]:
    """SendGrid's event webhook: a JSON array of events; the ones acted on are bounce
    (hard, or soft when `type` is `blocked`), deferred (soft), dropped (by its reason),
    spamreport, unsubscribe and group_unsubscribe."""
    if not isinstance(body, list):
        raise Malformed("SendGrid: expected a JSON array of events")
    reports = []
    for event in body:
        if not isinstance(event, dict):
            raise Malformed("SendGrid: expected each event to be an object")
        name = _text(event.get("event"))
        kind = SENDGRID_KINDS.get(name)
        if kind is None:
            continue  # processed, delivered, open, click: nothing to act on
        reason = _text(event.get("reason"), 500)
        if name == "dropped":
            kind = SENDGRID_DROPPED.get(reason, OTHER)
        hard = kind == BOUNCE and name != "deferred" and _text(event.get("type")) != "blocked"
        reports.append(
            Report(
                SENDGRID,
                _text(event.get("sg_event_id"), 200) or _digest(event),
                kind,
                _text(event.get("email")),
                hard,
                _text(event.get("status"), 20),
                reason,
                f"SendGrid {name} {_text(event.get('type'))}".strip(),
            )
        )
    return reports


# --- Reading hostile JSON ------------------------------------------------------------


def loads(raw: bytes | str) -> object:
    """The JSON a provider posted; `Malformed` when it is not JSON."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, absurd nesting
        raise Malformed("the body is not JSON") from None


def _text(value: object, limit: int = 320) -> str:
    """A string field (or a number, as ids and codes come) as one printable line, or ""."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return CONTROL.sub("?", " ".join(str(value).split()))[:limit]


def _object(parent: object, name: str) -> dict:
    value = parent.get(name) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _objects(parent: dict, name: str) -> list[dict]:
    value = parent.get(name)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _addresses(values: Iterable[str]) -> list[str]:
    found = (address.lower() for value in values for address in ADDRESS.findall(value))
    return list(dict.fromkeys(found))


def _digest(event: object) -> str:
    """An id for an event that has none: the same event posted again has the same one."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
