"""The double opt-in email: one message with the confirm link, sent when someone subscribes.

Built with `email.message.EmailMessage` and `policy.SMTP` (CRLF line ends, folded headers):
a text part first, then HTML, both rendered from `templates/email/confirm.txt` and
`confirm.html`, DKIM-signed when `[dkim]` is set by the newsletters' signer
(`dkim.DkimSigner.sign_message`). It is a transactional message, so it has no
List-Unsubscribe: whoever does not click simply stays pending and never gets a newsletter.

Who gets one: whoever signs up on the web form (the web app sends it at once), and every
pending subscriber never sent one (`send_unsent`: after `subscribers import --status
pending` and `add --status pending`, and on every `publisher tick`, which catches up after
a relay outage).

Building one with `EmailMessage` takes about 2 ms, as much as everything else a sign-up
costs together, so `Confirmations.build` renders the templates and builds the MIME frame
once a second (per shape: with or without a name) with placeholders for the name, address
and link, and fills them in per recipient as a newsletter's `MessageBuilder` does
(`message.alternative_frame`, `Part`, `Body`). The first message of each shape is checked against a full build; a
template that transforms the name or uses another field of the subscriber fails that
check and is built in full from then on.
"""

from __future__ import annotations

import functools
import html
import itertools
import threading
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import jinja2
import markupsafe

from publisher.clock import Clock
from publisher.config import Config
from publisher.delivery.throttle import TokenBucket
from publisher.delivery.transports import (
    DEFERRED,
    FAILED,
    RelayDown,
    Result,
    Transport,
    failure,
    open_transport,
)
from publisher.errors import ConfigError, DeliveryError, TemplateError
from publisher.mail.dkim import DkimSigner
from publisher.mail.message import (
    CONFIRM_URL,
    PLACEHOLDERS,
    Body,
    Part,
    UnsafeHeaderError,
    alternative_frame,
    mailbox,
    sender,
)
from publisher.mail.message import header_errors as unsafe_fields
from publisher.mail.newsletter import inline_css
from publisher.site import theme
from publisher.store import signups, subscribers
from publisher.store.db import Store
from publisher.subscribers.tokens import EXPIRY, Tokens, confirm_url, load_tokens


@dataclass(frozen=True)
class Outgoing:
    """A complete message for one recipient, as the transports take it."""

    envelope_from: str
    rcpt: str
    data: bytes


TEMPLATES = ("confirm.txt", "confirm.html")  # the text part, then the HTML part
EXPIRES = "%B %-d, %Y at %-I:%M %p %Z"  # how the templates' `expires_at` is written
EXPIRES_SLOT = "__PUBLISHER_EXPIRES__"


@functools.lru_cache(maxsize=16)
def inline_css_cached(page: str) -> str:
    return inline_css(page)


def personal_message(
    config: Config, subscriber, subject_line: str, text: str, page: str, now: datetime
) -> bytes:
    """A message to one person, not a newsletter (a confirmation, a link to their
    preferences): text and HTML parts, no List-Unsubscribe (it is what they asked for)."""
    from_address = sender(config)
    to = mailbox(subscriber.name, subscriber.email, smtputf8=config.smtp.smtputf8)
    message = EmailMessage(policy=policy.SMTP if to.isascii() else policy.SMTPUTF8)
    message["From"] = formataddr((config.newsletter.from_name, from_address))
    message["To"] = to
    message["Subject"] = subject_line
    message["Date"] = format_datetime(now)
    domain = from_address.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("confirm", domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    if config.newsletter.reply_to:
        message["Reply-To"] = config.newsletter.reply_to
    message.set_content(text)
    message.add_alternative(page, subtype="html")
    for part in message.iter_parts():
        del part["MIME-Version"]  # add_alternative leaves one on the HTML part
    return message.as_bytes()


def subject(config: Config) -> str:
    return f"Confirm your subscription to {config.site.title}"


@dataclass(frozen=True)
class _Blank:
    """The subscriber a frame is rendered for: placeholders, and no other field."""

    name: str
    email: str


@dataclass(frozen=True)
class _Frame:
    """One second's confirmation with slots for name, address and link."""

    second: int
    head: bytes  # the headers every recipient shares, ending in an empty line
    body: Body


class Confirmations:
    """Builds and sends confirmation emails; the templates are compiled once, not per
    message, and rendered once a second (see the module's docstring)."""

    def __init__(self, config: Config, tokens: Tokens):
        self.config = config
        self.tokens = tokens
        self.env = theme.environment(config, "email")
        self.signer = DkimSigner.from_config(config)
        self.frames: dict[bool, _Frame] = {}
        self.framed = True  # False once a template failed the check: full builds only
        self.checked: set[bool] = set()  # shapes whose frames matched a full build once

    def build(self, subscriber, key: str, now: datetime) -> Outgoing:
        """The confirmation email for `subscriber` (anything with id, email and name), whose
        link key (`token_key`) is `key`.

        The link is signed at `now`, not at the config's start-up time: the web app runs
        for weeks, and each link's 7 days start when it is sent.
        """
        data = self._framed(subscriber, key, now) if self.framed else None
        if data is None:
            data = self._full(subscriber, key, now)
        if self.signer:
            data = self.signer.sign_message(data)
        envelope = self.config.delivery.envelope_from or sender(self.config)
        return Outgoing(envelope, subscriber.email, data)

    def _context(self, subscriber, now: datetime, confirm: str) -> dict[str, object]:
        return {
            "subject": subject(self.config),
            "preheader": f"One click to confirm your subscription to {self.config.site.title}.",
            "home_url": theme.absolute_url(self.config.site.url, ""),
            "subscriber": subscriber,
            "confirm_url": confirm,
            "expires": now + EXPIRY["confirm"],
            "expires_at": theme.local_format(self.config, now + EXPIRY["confirm"], EXPIRES),
            "newsletter": self.config.newsletter,
        }

    def _render(self, name: str, context: dict[str, object]) -> str:
        """One part. The HTML one shares the newsletters' base template and has its CSS
        inlined the same way, once: it is rendered with a placeholder for the expiry time
        (the only value that changes from one second's frame to the next), so premailer's
        0.1 s is spent once per process, not once a second."""
        if not name.endswith(".html"):
            return theme.render(self.env, name, **context)
        page = inline_css_cached(
            theme.render(self.env, name, **context | {"expires_at": EXPIRES_SLOT})
        )
        return page.replace(EXPIRES_SLOT, html.escape(str(context["expires_at"]), quote=False))

    def _full(self, subscriber, key: str, now: datetime) -> bytes:
        """The message built with `EmailMessage`, every part rendered for this subscriber."""
        link = confirm_url(self.config, self.tokens, subscriber.id, key, now)
        context = self._context(subscriber, now, link)
        text, page = (self._render(name, context) for name in TEMPLATES)
        return personal_message(self.config, subscriber, subject(self.config), text, page, now)

    def _framed(self, subscriber, key: str, now: datetime) -> bytes | None:
        """The message from this second's frame; None when it must be built in full (an
        unsafe or non-ASCII value, or a template that does not fit a frame)."""
        name, email = subscriber.name or "", subscriber.email
        if unsafe_fields({"name": name, "email": email}):
            return None
        now = now.replace(microsecond=0)  # links carry whole seconds, and so does Date
        try:
            to = mailbox(name, email, smtputf8=False)
        except (UnsafeHeaderError, ValueError):
            return None
        frame = self.frames.get(bool(name))
        if frame is None or frame.second != int(now.timestamp()):
            try:
                frame = self.frames[bool(name)] = self._frame(bool(name), now)
            except (TemplateError, jinja2.TemplateError):
                self.framed = False  # the template uses something a frame cannot hold
                return None
        values = {
            "name": name,
            "email": email,
            "confirm_url": confirm_url(self.config, self.tokens, subscriber.id, key, now),
        }
        body, _canonical = frame.body.fill([self._escaped(name, values) for name in TEMPLATES])
        domain = self.config.newsletter.from_address.rpartition("@")[2] or None
        head = (
            f"To: {to}\r\nDate: {format_datetime(now)}\r\n"
            f"Message-ID: {make_msgid('confirm', domain=domain)}\r\n"
        ).encode("ascii")
        data = head + frame.head + body
        if bool(name) not in self.checked:
            if not same_content(data, self._full(subscriber, key, now)):
                self.framed = False
                return None
            self.checked.add(bool(name))
        return data

    def _escaped(self, template: str, values: dict[str, str]) -> dict[str, str]:
        """`values` as Jinja would have put them into `template`: escaped the same way
        when it autoescapes (the environment does for the text part too)."""
        autoescape = self.env.autoescape
        if callable(autoescape):
            autoescape = autoescape(template)
        if not autoescape:
            return values
        if template.endswith(".html"):  # re-serialized by premailer (lxml): no &#34;
            return {slot: html.escape(value, quote=False) for slot, value in values.items()}
        return {slot: str(markupsafe.escape(value)) for slot, value in values.items()}

    def _frame(self, named: bool, now: datetime) -> _Frame:
        """Render both templates for a placeholder subscriber and encode them in pieces."""
        blank = _Blank(PLACEHOLDERS["name"] if named else "", PLACEHOLDERS["email"])
        context = self._context(blank, now, CONFIRM_URL)
        config = self.config
        message = EmailMessage(policy=policy.SMTP)
        message["From"] = formataddr((config.newsletter.from_name, sender(config)))
        message["Subject"] = subject(config)
        message["Auto-Submitted"] = "auto-generated"
        if config.newsletter.reply_to:
            message["Reply-To"] = config.newsletter.reply_to
        head, frame = alternative_frame(message)
        parts = [
            Part.encode(self._render(name, context), escape_values=False) for name in TEMPLATES
        ]
        return _Frame(int(now.timestamp()), head + b"\r\n", Body(frame, parts))

    def send(
        self,
        store: Store,
        transport: Transport,
        subscriber: subscribers.Subscriber,
        now: datetime,
        status: str | None = None,
        claimed: bool = False,
    ) -> Result | None:
        """Claim, build and send one confirmation; None when it was not ours to send (one
        went out within 10 minutes, or the status is no longer `status`).

        The claim (`confirm_sent_at`) comes first, so two senders, the web app and a tick
        on another machine, never mail one address twice. A message that did not go out
        gives its claim back (`release_confirmation`): after a deferral, a relay that is
        down (RelayDown, raised again) or a stop, the address is owed a confirmation and
        the next run sends it. `claimed`: the caller made the claim at `now` already (the
        web app's sign-up transaction does). A refusal (5xx), or a message that cannot be
        built for this address (josé@... without SMTPUTF8), keeps the claim, since retrying
        gets the same answer, and is recorded in the subscriber's events; a refused address
        counts as a bounce. Only a crash between claim and send loses an email: the person
        can ask again from the form.
        """
        if not claimed and not signups.claim_confirmation(
            store, subscriber.id, now=now, status=status
        ):
            return None
        try:
            key = subscribers.token_key(store, subscriber.id) or ""  # "": erased, a dead link
            result = self._attempt(transport, subscriber, key, now)
        except BaseException:
            signups.release_confirmation(store, subscriber.id, claimed_at=now)
            raise
        if result.status == DEFERRED:
            signups.release_confirmation(store, subscriber.id, claimed_at=now)
        elif result.status == FAILED:
            self._record_failure(store, subscriber.id, result, now)
        return result

    def _attempt(self, transport: Transport, subscriber, key: str, now: datetime) -> Result:
        """Build and send; anything but the relay going down or a setting missing (no
        confirmation can go out until it is fixed) fails this address alone."""
        try:
            message = self.build(subscriber, key, now)
            return transport.send(message.envelope_from, message.rcpt, message.data)
        except (RelayDown, ConfigError):
            raise
        except Exception as exc:
            return failure(exc)

    def _record_failure(self, store: Store, subscriber_id: int, result: Result, now) -> None:
        code = f"{result.code} " if result.code else ""
        detail = f"confirmation: {code}{result.reply}"
        if result.bounce:
            limit = self.config.delivery.bounce_limit
            subscribers.record_bounce(store, subscriber_id, now=now, limit=limit, detail=detail)
            return
        with store.transaction() as conn:
            subscribers.log_event(conn, subscriber_id, "confirm-failed", now, "delivery", detail)


def same_content(framed: bytes, full: bytes) -> bool:
    """Whether two confirmation emails say the same: headers but Message-ID, and the
    decoded text and HTML."""
    one, two = (message_from_bytes(m, policy=policy.default) for m in (framed, full))
    for header in ("From", "To", "Subject", "Date", "Auto-Submitted", "Reply-To"):
        if one[header] != two[header]:
            return False
    return all(
        one.get_body((kind,)).get_content() == two.get_body((kind,)).get_content()
        for kind in ("plain", "html")
    )


@dataclass
class Batch:
    """What `send_unsent` did. `problem` is why it ended early, when it did."""

    sent: int = 0
    deferred: int = 0  # left for the next run
    failed: int = 0  # refused, or no message could be built for the address: not retried
    unknown: int = 0  # the relay did not answer the end of the message: not sent again
    problem: DeliveryError | None = None
    stopped: bool = False

    def count(self, result: Result | None) -> None:
        if result is not None:
            # a field per status: sent, deferred, failed, unknown
            setattr(self, result.status, getattr(self, result.status) + 1)

    def line(self) -> str:
        """'sent 3 confirmations', with what went wrong, or '' when there was nothing to do."""
        noun = "confirmation" if self.sent == 1 else "confirmations"
        parts = [f"sent {self.sent} {noun}"] if self.sent or self.problem or self.stopped else []
        parts += [
            f"{n} {what}"
            for what, n in (
                ("deferred", self.deferred),
                ("failed", self.failed),
                ("unknown: no answer from the relay, not sent again", self.unknown),
            )
            if n
        ]
        if self.problem:
            parts.append(f"paused: {self.problem}; the rest go out on the next run")
        elif self.stopped:
            parts.append("stopped; the rest go out on the next run")
        return ", ".join(parts)


def send_unsent(config: Config, store: Store, stop: threading.Event | None = None) -> Batch:
    """Send a confirmation to every pending subscriber never sent one, in id order, at
    most `[delivery] rate_per_second`, through the configured transport.

    Nothing to send (the usual tick) costs one indexed query. A relay that is down ends the
    run with `problem` set, and `stop` ends it between two messages: either way the
    addresses not reached keep `confirm_sent_at` empty, and the next run sends them.
    """
    unsent = subscribers.iter_unsent_confirmations(store)
    first = next(unsent, None)
    batch = Batch()
    if first is None:
        return batch
    confirmations = Confirmations(config, load_tokens(config))
    limit = TokenBucket(config.delivery.rate_per_second)
    stop = stop or threading.Event()
    clock = Clock(config.now)
    try:
        transport = open_transport(config)
    except DeliveryError as exc:
        batch.problem = exc
        return batch
    try:
        for subscriber in itertools.chain([first], unsent):
            if not limit.wait(stop):
                batch.stopped = True
                break
            now = clock()
            batch.count(confirmations.send(store, transport, subscriber, now, status="pending"))
    except DeliveryError as exc:  # the relay is down: the rest wait for the next run
        batch.problem = exc
    finally:
        transport.close()
    return batch


def send_one(config: Config, store: Store, subscriber: subscribers.Subscriber) -> Batch:
    """Send `subscriber` a confirmation now, whatever their status: staff bringing back an
    address that bounced or complained, which a sign-up on the web form mails nothing. At
    most one in 10 minutes, as for every address; the link reactivates it when clicked."""
    batch = Batch()
    try:
        transport = open_transport(config)
        try:
            confirmations = Confirmations(config, load_tokens(config))
            status = subscriber.status
            batch.count(confirmations.send(store, transport, subscriber, config.now, status))
        finally:
            transport.close()
    except DeliveryError as exc:
        batch.problem = exc
    return batch
