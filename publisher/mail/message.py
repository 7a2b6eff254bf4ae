"""Complete MIME messages for each recipient of a newsletter, built fast and DKIM-signed.

`MessageBuilder` builds the message skeleton once per campaign with `EmailMessage` and
`policy.SMTP` (multipart/alternative, text then HTML, UTF-8, quoted-printable). Each part's
body is quoted-printable encoded once, in pieces cut at the placeholders, each piece ending
with a soft line break. Soft breaks vanish when decoded, so per recipient only the few
short values are encoded and the pieces are joined: no template rendering, no
`EmailMessage`, no re-encoding of the 50 KB body.

DKIM (`dkim.py`) follows the same idea: the canonical form of every fixed piece is computed
once, so signing a message costs one SHA-256 of the body, the canonical form of three short
headers, and one RSA signature.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from html import escape
from urllib.parse import urlsplit

from publisher.config import Config
from publisher.delivery.transports import NEEDS_SMTPUTF8, smtp_address
from publisher.errors import ConfigError, PublisherError
from publisher.mail.dkim import DkimSigner, canonical_body
from publisher.subscribers.addresses import CONTROL

# Where each recipient's values go in a newsletter's HTML and text. Letters and
# underscores only, so they pass Jinja, lxml's URL escaping and premailer unchanged.
PLACEHOLDERS = {
    "name": "__PUBLISHER_NAME__",
    "email": "__PUBLISHER_EMAIL__",
    "unsubscribe_url": "__PUBLISHER_UNSUBSCRIBE_URL__",
    "preferences_url": "__PUBLISHER_PREFERENCES_URL__",
    "reader": "__PUBLISHER_READER__",  # the reader part of tracked links (mail/tracking.py)
}
CONFIRM_URL = "__PUBLISHER_CONFIRM_URL__"  # the link in confirmation emails (confirmations.py)
NO_READER = "-"  # the reader part of links in test copies and the archive: never counted
NAME_FALLBACK = "there"  # "Hi there" when a subscriber gave no name
SLOT = re.compile("|".join([*PLACEHOLDERS.values(), CONFIRM_URL]))
SLOT_NAMES = {token: name for name, token in PLACEHOLDERS.items()} | {CONFIRM_URL: "confirm_url"}
SOFT_BREAK = b"=\r\n"
QP_LINE = 76
HEADER_LINE = 78  # RFC 5322's recommended limit, where a header can be folded
CAMPAIGN_KINDS = ("post", "digest")  # newsletters sent as campaigns (a welcome is not)
FEEDBACK_CAMPAIGN = 32  # characters of the campaign id kept in Feedback-ID


class UnsafeHeaderError(PublisherError):
    """A subject, name or address holds a line break or control character."""


@dataclass(frozen=True)
class Newsletter:
    """One rendered newsletter: stored in the campaigns table, personalized per recipient."""

    key: str  # "post:<slug>" or "digest:<period id>"
    kind: str  # "post" | "digest"
    subject: str
    html: str  # inlined HTML holding the PLACEHOLDERS
    text: str  # plain text holding the same PLACEHOLDERS
    links: tuple = ()  # store.clicks.Link of each tracked link (mail/tracking.py)


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    unsubscribe_url: str  # https://.../unsubscribe?token=...
    preferences_url: str
    unsubscribe_address: str = ""  # List-Unsubscribe's mailto: only with [inbound] (verp)
    reader: str = NO_READER  # the reader part of tracked links (mail/tracking.py)


def header_errors(fields: Mapping[str, str]) -> list[str]:
    """A message for each `label: value` that could inject a header (CR, LF, controls)."""
    return [
        f"{label} contains a line break or control character: {value!r}"
        for label, value in fields.items()
        if CONTROL.search(value)
    ]


NO_SENDER = (
    "[newsletter] from_address is empty: set it in config/site.toml (or "
    "PUBLISHER_NEWSLETTER_FROM_ADDRESS) to the address emails come from, such as "
    "news@example.org"
)


def sender(config: Config) -> str:
    """`[newsletter] from_address`, or a ConfigError saying to fill it in: a site may build
    and preview without it (`init` leaves it for later), but sends nothing."""
    if not config.newsletter.from_address.strip():
        raise ConfigError(NO_SENDER)
    return config.newsletter.from_address


def config_header_fields(config: Config) -> dict[str, str]:
    """The config values that end up in every newsletter's headers."""
    newsletter = config.newsletter
    return {
        "[newsletter] from_name": newsletter.from_name,
        "[newsletter] from_address": newsletter.from_address,
        "[newsletter] reply_to": newsletter.reply_to,
        "[site] title": config.site.title,
    }


def _require_safe(fields: Mapping[str, str]) -> None:
    problems = header_errors(fields)
    if problems:
        raise UnsafeHeaderError("; ".join(problems))


class MessageBuilder:
    """Builds every recipient's message of one newsletter; set up once per campaign."""

    def __init__(self, config: Config, newsletter: Newsletter, *, mark: str = ""):
        """`mark` ("[TEST]", "[DRAFT]") makes a test copy: marked subject, own Message-IDs,
        otherwise the very message a subscriber gets."""
        subject = f"{mark} {newsletter.subject}" if mark else newsletter.subject
        _require_safe({"subject": subject, **config_header_fields(config)})
        self.key = newsletter.key + (":test" if mark else "")
        # A campaign's delivery is built again when retried and must keep its id; a test
        # copy or a welcome is a new message each time, which a mailbox must not take for
        # one it already has.
        self.retried = not mark and newsletter.kind in CAMPAIGN_KINDS
        self.domain = urlsplit(config.site.url).hostname or "localhost"
        boundary = "==publisher-" + _digest(newsletter.key, newsletter.text, newsletter.html)
        self.head, frame = alternative_frame(_skeleton(config, newsletter, subject), boundary)
        parts = [
            Part.encode(newsletter.text, escape_values=False),
            Part.encode(newsletter.html, escape_values=True),
        ]
        self.body = Body(frame, parts)
        self.signer = DkimSigner.from_config(config, self.head)
        self.smtputf8 = config.smtp.smtputf8
        self.now = config.now

    def build(self, recipient: Recipient, now: datetime | None = None) -> bytes:
        """The complete message for `recipient`: CRLF line ends, signed when DKIM is on.
        Its Date is `now`, the time it is built (a campaign runs for hours), or else the
        config's time."""
        _require_safe(
            {
                f"recipient {recipient.email!r} name": recipient.name,
                "recipient address": recipient.email,
                "unsubscribe URL": recipient.unsubscribe_url,
                "preferences URL": recipient.preferences_url,
                "unsubscribe address": recipient.unsubscribe_address,
                "reader part": recipient.reader,
            }
        )
        headers = [
            ("Date", format_datetime(now or self.now)),
            ("To", mailbox(recipient.name, recipient.email, smtputf8=self.smtputf8)),
            ("Message-ID", self._message_id(recipient.email)),
            ("List-Unsubscribe", list_unsubscribe(recipient)),
        ]
        values = {
            "name": recipient.name or NAME_FALLBACK,
            "email": recipient.email,
            "unsubscribe_url": recipient.unsubscribe_url,
            "preferences_url": recipient.preferences_url,
            "reader": recipient.reader,
        }
        body, canonical = self.body.fill([values, values])
        head = b"".join(f"{name}: {value}\r\n".encode() for name, value in headers)
        if self.signer:
            head = self.signer.sign(headers, canonical) + head
        return head + self.head + b"\r\n" + body

    def _message_id(self, email: str) -> str:
        """Unique per recipient and campaign, and stable, so a retry keeps the same id;
        unique per message for any other."""
        seed = f"{self.key}\n{email}" if self.retried else secrets.token_hex(16)
        digest = hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()
        return f"<{digest}.{self.key.split(':', 1)[0]}@{self.domain}>"


def _digest(*texts: str) -> str:
    return hashlib.blake2b("\0".join(texts).encode(), digest_size=12).hexdigest()


def list_unsubscribe(recipient: Recipient) -> str:
    """The one-click URL (RFC 8058), and a mailto only where something reads that mailbox
    (`[inbound] address`); each on its own folded line once the header would pass 78
    characters (a URL itself cannot be folded)."""
    links = [f"<{recipient.unsubscribe_url}>"]
    if recipient.unsubscribe_address:
        links.append(f"<mailto:{recipient.unsubscribe_address}?subject=unsubscribe>")
    value = ", ".join(links)
    if len(value) <= HEADER_LINE - len("List-Unsubscribe: "):
        return value
    return ",".join(f"\r\n {link}" for link in links)


def mailbox(name: str, email: str, *, smtputf8: bool) -> str:
    """`Name <address>` for a To header, the domain in ASCII (punycode) form.

    Control characters are taken out of the name here, whatever the caller checked: the
    last line of defence against header injection. A non-ASCII local part is written in
    UTF-8 (RFC 6532) only when `smtputf8` is on, since only SMTPUTF8 can carry it.
    """
    name = CONTROL.sub("", name)
    address = smtp_address(email)
    if address.isascii():
        return formataddr((name, address), charset="utf-8").replace("\n", "\r\n")
    if not smtputf8:
        raise UnsafeHeaderError(f"{email!r}: {NEEDS_SMTPUTF8}")
    local, _, domain = address.rpartition("@")
    return str(Address(name, local, domain))


def _skeleton(config: Config, newsletter: Newsletter, subject: str) -> EmailMessage:
    """The headers every recipient's message shares (Date is each message's own)."""
    settings = config.newsletter
    domain = urlsplit(config.site.url).hostname or "localhost"
    message = EmailMessage(policy=policy.SMTP)
    try:
        message["From"] = Address(settings.from_name, addr_spec=sender(config))
        if settings.reply_to:
            message["Reply-To"] = Address(addr_spec=settings.reply_to)
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"[newsletter] from_address/reply_to: {exc}") from None
    message["Subject"] = subject
    message["List-Id"] = formataddr((config.site.title, f"newsletter.{domain}"), "utf-8")
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Feedback-ID"] = feedback_id(newsletter, settings.from_address)
    return message


def feedback_id(newsletter: Newsletter, from_address: str) -> str:
    """Gmail's `CampaignId:CustomerId:MailType:SenderId`, short enough for one plain ASCII
    line: a longer value gets folded, and with no space to fold at, `policy.SMTP` encodes
    it (=?utf-8?q?...?=), which Gmail's feedback loop does not read. The SenderId is a
    short hash of the sending domain: the same in every campaign, unlike a slug."""
    campaign = newsletter.key.split(":", 1)[-1].replace(":", "-")
    if len(campaign) > FEEDBACK_CAMPAIGN:  # cut at a word boundary when there is one
        cut = campaign[: FEEDBACK_CAMPAIGN + 1]
        campaign = cut.rsplit("-", 1)[0] if "-" in cut else cut[:FEEDBACK_CAMPAIGN]
    domain = from_address.rpartition("@")[2].lower().encode()
    sender = hashlib.blake2b(domain, digest_size=4).hexdigest()
    return f"{campaign}:{newsletter.kind}:newsletter:{sender}"


# --- prebuilt messages with per-recipient slots ---------------------------------------
# A newsletter's MessageBuilder and the confirmation emails (subscribers/confirmations.py)
# both encode a text and an HTML part once, cut at the slots, and fill in each recipient's
# values: `alternative_frame` gives the MIME frame, `Part` each part, `Body` the whole.

MARKERS = (b"PUBLISHERTEXTPART", b"PUBLISHERHTMLPART")


def alternative_frame(
    message: EmailMessage, boundary: str | None = None
) -> tuple[bytes, list[Chunk]]:
    """`message`'s headers (ending in CRLF, without the empty line that ends them) and
    the multipart/alternative body around a text and an HTML part still to be filled in:
    before the text part, between the two, after the HTML part.

    A `boundary` fixed by the content (a newsletter's) makes a preview and every copy
    sent byte for byte the same message; a boundary starting with "=" never occurs in
    quoted-printable parts."""
    message.set_content(MARKERS[0].decode(), charset="utf-8", cte="quoted-printable")
    message.add_alternative(
        MARKERS[1].decode(), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    if boundary:
        message.set_boundary(boundary)
    for part in message.iter_parts():
        del part["MIME-Version"]
    data = message.as_bytes(policy=policy.SMTP)
    head, _, body = data.partition(b"\r\n\r\n")
    # Each marker line's CRLF is the part's own (the text ends with its newline); the CRLF
    # after it starts the boundary delimiter and stays in the frame.
    before, _, rest = body.partition(MARKERS[0] + b"\r\n")
    middle, _, after = rest.partition(MARKERS[1] + b"\r\n")
    tail = after.rstrip(b"\r\n") + b"\r\n"
    return head + b"\r\n", [Chunk.of(before), Chunk.of(middle), Chunk.of(tail)]


@dataclass(frozen=True)
class Chunk:
    """Bytes of the message body and their DKIM relaxed canonical form."""

    raw: bytes
    canonical: bytes

    @classmethod
    def of(cls, raw: bytes) -> Chunk:
        return cls(raw, canonical_body(raw))


@dataclass(frozen=True)
class Part:
    """One MIME part's body, quoted-printable encoded once: fixed pieces between the
    slots (`PLACEHOLDERS`, `CONFIRM_URL`) where each recipient's values go."""

    pieces: list[Chunk]  # len(slots) + 1
    slots: list[str]
    escape_values: bool  # HTML-escape the values (an HTML part filled with plain values)

    @classmethod
    def encode(cls, content: str, escape_values: bool) -> Part:
        texts = SLOT.split(content.replace("\r\n", "\n").replace("\r", "\n"))
        slots = [SLOT_NAMES[token] for token in SLOT.findall(content)]
        pieces = [
            Chunk.of(quoted_printable(text, last=index == len(slots)))
            for index, text in enumerate(texts)
        ]
        return cls(pieces, slots, escape_values)

    def personalize(self, values: dict[str, str], raw: list[bytes], canon: list[bytes]) -> None:
        """Append this part's pieces and encoded values to `raw` and `canon`."""
        encoded = {}
        for index, slot in enumerate(self.slots):
            raw.append(self.pieces[index].raw)
            canon.append(self.pieces[index].canonical)
            if slot not in encoded:
                value = escape(values[slot]) if self.escape_values else values[slot]
                encoded[slot] = Chunk.of(quoted_printable(value, last=False))
            raw.append(encoded[slot].raw)
            canon.append(encoded[slot].canonical)
        raw.append(self.pieces[-1].raw)
        canon.append(self.pieces[-1].canonical)


@dataclass(frozen=True)
class Body:
    """A text and an HTML part in their frame (`alternative_frame`), filled in per
    recipient by encoding only the few short values."""

    frame: list[Chunk]  # before the text part, between the two, after the HTML part
    parts: list[Part]  # text, HTML

    def fill(self, values: list[dict[str, str]]) -> tuple[bytes, bytes]:
        """The body with each part's `values` in its slots, and its DKIM canonical form."""
        raw: list[bytes] = []
        canonical: list[bytes] = []
        for chunk, part, part_values in zip(self.frame[:-1], self.parts, values, strict=True):
            raw.append(chunk.raw)
            canonical.append(chunk.canonical)
            part.personalize(part_values, raw, canonical)
        raw.append(self.frame[-1].raw)
        canonical.append(self.frame[-1].canonical)
        return b"".join(raw), b"".join(canonical)


def quoted_printable(text: str, last: bool) -> bytes:
    """`text` quoted-printable encoded with CRLF line ends, ending on a line boundary.

    Unless `last`, a soft line break closes the piece, so pieces encoded separately
    decode to the text they were cut from when joined.
    """
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    if not (last or not encoded or encoded.endswith(b"\r\n")):
        encoded += SOFT_BREAK
    return _fold(encoded)


def _fold(encoded: bytes) -> bytes:
    """Break lines over 76 characters with soft breaks, never inside an =XX escape, and
    encode a dot that starts a line as =2E.

    Folding is needed after adding a soft break, and because `b2a_qp` lets an encoded
    trailing space (=20) run past the limit. With no line starting with a dot, the SMTP
    transport's dot-stuffing finds nothing to do and copies nothing (every piece starts
    a line, so joined pieces keep that).
    """
    lines = encoded.split(b"\r\n")
    if all(len(line) <= QP_LINE and not line.startswith(b".") for line in lines):
        return encoded
    folded = []
    for line in lines:
        line = b"=2E" + line[1:] if line.startswith(b".") else line
        while len(line) > QP_LINE:
            cut = QP_LINE - 1
            cut -= 1 if line[cut - 1 : cut] == b"=" else 2 if line[cut - 2 : cut - 1] == b"=" else 0
            folded.append(line[:cut] + b"=")
            line = line[cut:]
            line = b"=2E" + line[1:] if line.startswith(b".") else line
        folded.append(line)
    return b"\r\n".join(folded)
