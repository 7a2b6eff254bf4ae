"""What a message that came back is: a bounce, a complaint, an unsubscribe, an auto-reply.

Standard reports are read by their structure: RFC 3464 delivery status notifications
(`multipart/report; report-type=delivery-status`) and RFC 5965 feedback reports
(`report-type=feedback-report`). Bounces in other shapes go to `flufl.bounce`, GNU
Mailman's detectors, rather than to rules written here. Auto-replies (RFC 3834) are told
apart by their headers. Nothing in a message is trusted to act on a subscriber: that is the
signed token's job (`verp`); this module only describes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses

from flufl.bounce import all_failures

MAIL = "mail:"  # the namespace of mailed notices' keys; webhooks' are their provider's
BOUNCE, COMPLAINT, UNSUBSCRIBE, AUTO_REPLY, OTHER = (
    "bounce",
    "complaint",
    "unsubscribe",
    "auto-reply",
    "other",
)
# Where the address a message was delivered to shows; the first ones are set by the
# receiving server, `To` is what the sender wrote.
DELIVERED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")
ADDRESS = re.compile(r"[\w.+=-]+@[\w.-]+")
STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|"
    r"autoreply|abwesenheitsnotiz|r[ée]ponse automatique|vacation)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Failure:
    """One recipient a bounce reports: hard (5.x.x) or soft (4.x.x, or delayed)."""

    address: str
    hard: bool
    status: str = ""  # the enhanced status code, "5.1.1", when the report gives one
    diagnostic: str = ""


@dataclass(frozen=True)
class Notice:
    """What one incoming message is, and the addresses that may carry our tokens."""

    kind: str
    # The key that makes reading it idempotent, in its source's namespace: `mail:` and the
    # Message-ID (or a digest of the bytes), or `<provider>:<event id>` for a webhook's.
    message_id: str
    subject: str
    sender: str
    addressed_to: list[str]  # where it was delivered: VERP and unsubscribe addresses
    quoted: list[str] = field(default_factory=list)  # addresses in the returned headers
    failures: list[Failure] = field(default_factory=list)
    detail: str = ""  # feedback type, auto-reply reason...

    @property
    def hard(self) -> bool:
        return any(failure.hard for failure in self.failures)


def classify(message: EmailMessage, raw: bytes, delivered_to: str = "") -> Notice:
    """The notice `message` is. `delivered_to` is the envelope recipient when the caller
    knows it (a pipe alias gets it from the MTA), since headers may not show it."""
    notice = Notice(
        kind=OTHER,
        message_id=message_id(message, raw),
        subject=_header(message, "Subject"),
        sender=_header(message, "From"),
        addressed_to=_delivered_to(message, delivered_to),
        quoted=_quoted_addresses(message),
    )
    report_type = message.get_param("report-type", "", header="Content-Type")
    report_type = report_type.lower() if isinstance(report_type, str) else ""
    if report_type == "feedback-report" or _part(message, "message/feedback-report"):
        return _complaint(notice, message)
    status = _part(message, "message/delivery-status")
    if status is not None:
        return _dsn(notice, status)
    failures = _heuristic_failures(message)  # before auto-replies: bounces say auto-replied
    if failures:
        return _with(notice, kind=BOUNCE, failures=failures, detail="non-standard bounce")
    if _is_auto_reply(message):
        return _with(notice, kind=AUTO_REPLY, detail=_header(message, "Auto-Submitted"))
    return notice


def message_id(message: Message, raw: bytes) -> str:
    """`mail:` and the Message-ID, or a digest of the bytes: the key that makes processing
    idempotent. Its own namespace: anyone can write `Message-ID: postmark:777`, which
    must not make the genuine Postmark event 777 a duplicate."""
    found = _header(message, "Message-ID").strip()
    return MAIL + (found[:250] if found else "sha256:" + hashlib.sha256(raw).hexdigest())


def _with(notice: Notice, **changes) -> Notice:
    return Notice(**{**notice.__dict__, **changes})


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot decode is a header we ignore
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _addresses(values: list[str]) -> list[str]:
    return [address.lower() for _, address in getaddresses(values) if "@" in address]


def _delivered_to(message: Message, envelope: str) -> list[str]:
    values = [envelope] if envelope else []
    for name in DELIVERED_TO:
        values += _all(message, name)
    return list(dict.fromkeys(_addresses(values)))


def _all(message: Message, name: str) -> list[str]:
    try:
        return [str(value) for value in message.get_all(name) or []]
    except Exception:  # undecodable: ignored like a missing header
        return []


def _quoted_addresses(message: Message) -> list[str]:
    """Addresses in the headers of a returned message (`message/rfc822` or
    `text/rfc822-headers`): where a report shows the original's Return-Path and
    List-Unsubscribe, so the tokens in them tie it to a delivery."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                found += _token_bearing(inner)
        elif kind == "text/rfc822-headers":
            text = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
            found += ADDRESS.findall(text)
    return list(dict.fromkeys(address.lower() for address in found))


def _token_bearing(message: Message) -> list[str]:
    values = _all(message, "Return-Path") + _all(message, "To")
    for unsubscribe in _all(message, "List-Unsubscribe"):
        values += re.findall(r"mailto:([^?>\s]+)", unsubscribe)
    return _addresses(values)


def _part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _fields(part: Message) -> list[Message]:
    """The field groups of a `message/delivery-status` or `message/feedback-report` part:
    the email package parses the first as sub-messages, the second only as text."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [group for group in payload if isinstance(group, Message)]
    from email import message_from_string  # a text payload: parse its field groups

    text = payload if isinstance(payload, str) else ""
    return [message_from_string(block + "\n") for block in re.split(r"\r?\n\s*\r?\n", text)]


def _dsn(notice: Notice, status: Message) -> Notice:
    failures = []
    for group in _fields(status)[1:]:
        action = _header(group, "Action").lower()
        if action not in ("failed", "delayed"):
            continue  # delivered, relayed, expanded: not a failure
        code = STATUS.search(_header(group, "Status"))
        recipient = _header(group, "Original-Recipient") or _header(group, "Final-Recipient")
        failures.append(
            Failure(
                address=recipient.split(";", 1)[-1].strip().lower(),
                hard=action == "failed" and (code is None or code[1] == "5"),
                status=code[0] if code else "",
                diagnostic=_header(group, "Diagnostic-Code").split(";", 1)[-1].strip()[:500],
            )
        )
    if not failures:
        return _with(notice, detail="delivery report without a failure")
    return _with(notice, kind=BOUNCE, failures=failures, detail="RFC 3464")


def _complaint(notice: Notice, message: Message) -> Notice:
    report = _part(message, "message/feedback-report")
    groups = _fields(report) if report is not None else []
    feedback = _header(groups[0], "Feedback-Type").lower() if groups else ""
    if feedback == "not-spam":
        return _with(notice, detail="feedback report: not-spam")
    return _with(notice, kind=COMPLAINT, detail=f"feedback report: {feedback or 'abuse'}")


def _is_auto_reply(message: Message) -> bool:
    auto = _header(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return True
    if any(message.get(name) for name in ("X-Autoreply", "X-Autorespond")):
        return True
    if _header(message, "Precedence").lower() in ("auto_reply", "bulk", "junk"):
        return True
    return bool(AUTO_REPLY_SUBJECT.match(_header(message, "Subject")))


def _heuristic_failures(message: Message) -> list[Failure]:
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector tripping on an odd message: not a bounce we can read
        return []
    failures = [Failure(a.decode("utf-8", "replace").lower(), True) for a in sorted(permanent)]
    failures += [Failure(a.decode("utf-8", "replace").lower(), False) for a in sorted(temporary)]
    return failures
