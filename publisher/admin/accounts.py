"""Staff accounts: add, remove, new API keys, sign-in links, sign-in and sign-out.

The command line (`publisher staff`), the Admin API and the console's pages all call these
functions. Each change writes its audit row in its own transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from urllib.parse import quote

from publisher.admin.tokens import hashed, new_api_key, new_secret
from publisher.config import Config
from publisher.delivery.transports import SENT, open_transport
from publisher.errors import DeliveryError
from publisher.mail.dkim import DkimSigner
from publisher.mail.message import mailbox
from publisher.store import audit, sessions, staff
from publisher.store.audit import Who
from publisher.store.db import Store
from publisher.store.staff import StaffMember
from publisher.subscribers.addresses import check_name, normalize

log = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(hours=24)  # the link `staff add` prints and emails


@dataclass(frozen=True)
class Invitation:
    """A new staff member's first sign-in link, and what became of its email."""

    member: StaffMember
    link: str
    expires_at: datetime
    mailed: str  # "emailed to ...", or why not


def sign_in_url(config: Config, token: str) -> str:
    return f"{config.web.url.rstrip('/')}/admin/sign-in/link?token={quote(token)}"


def add(
    config: Config, store: Store, email: str, name: str, role: str, who: Who, now: datetime
) -> Invitation:
    """Add a staff member with a sign-in link valid 24 hours, emailed to them."""
    address = normalize(email, smtputf8=True)  # staff mail goes through the relay as is
    name = check_name(name)
    token = new_secret()
    with store.transaction() as conn:
        member = staff.insert_member(conn, address, name, role, now)
        expires = sessions.add_link(conn, hashed(token), member.id, now, INVITATION_LIFETIME)
        audit.write(conn, who.did("staff.add", member.email, f"role {role}"), now)
    link = sign_in_url(config, token)
    return Invitation(member, link, expires, mail_link(config, member, link, expires, now))


def remove(store: Store, email: str, who: Who, now: datetime) -> StaffMember:
    """Remove a staff member: their sessions, links and API key stop working at once."""
    address = normalize(email, smtputf8=True)
    with store.transaction() as conn:
        member = staff.delete_member(conn, address)
        audit.write(conn, who.did("staff.remove", member.email, f"was {member.role}"), now)
    return member


def new_key(store: Store, email: str, who: Who, now: datetime) -> str:
    """A new API key for a staff member (shown once; the store keeps its hash); the key
    they had before stops working."""
    address = normalize(email, smtputf8=True)
    key = new_api_key()
    with store.transaction() as conn:
        member = staff.by_key(conn, address.key)
        if member is None:
            raise staff.StaffNotFound(f"{address.email} is not staff; `publisher staff add` first")
        staff.set_key(conn, member.id, hashed(key), now)
        audit.write(conn, who.did("staff.key", member.email, "new API key"), now)
    return key


def request_link(config: Config, store: Store, email: str, now: datetime) -> None:
    """Email a sign-in link to `email` if it is staff; otherwise do nothing. Runs after the
    answer has gone (a mailer thread), so the page says the same, as fast, either way."""
    try:
        address = normalize(email, smtputf8=True)
    except Exception:  # the page answered already; nothing to say to anyone
        return
    member = staff.find(store, address)
    if member is None:
        log.info("sign-in link asked for %s: not staff, nothing sent", address.email)
        return
    token = new_secret()
    with store.transaction() as conn:
        expires = sessions.add_link(conn, hashed(token), member.id, now, config.admin.link_lifetime)
    mailed = mail_link(config, member, sign_in_url(config, token), expires, now)
    log.info("sign-in link for %s: %s", member.email, mailed)


def sign_in(
    store: Store, token: str, replaced: str, who: Who, now: datetime, config: Config
) -> tuple[str, StaffMember] | None:
    """Use a sign-in link (once) and start a new session; (cookie, member), or None when
    the link is unknown, used or expired. The session the browser had before, if any
    (`replaced`, its cookie), ends: every sign-in gets a new session id."""
    cookie = new_secret()
    with store.transaction() as conn:
        staff_id = sessions.use_link(conn, hashed(token), now)
        if staff_id is None:
            return None
        if replaced:
            sessions.end_session(conn, hashed(replaced))
        sessions.sweep(conn, now, config.admin.session_idle)
        sessions.add_session(
            conn, hashed(cookie), staff_id, new_secret(), now, config.admin.session_lifetime
        )
        member = staff.by_id(conn, staff_id)
        assert member is not None  # the link's row goes with the member's (cascade)
        audit.write(conn, who.signed(member).did("session.sign_in", member.email), now)
    return cookie, member


def sign_out(store: Store, session_hash: str, who: Who, now: datetime, everywhere: bool) -> int:
    """End this session, or every session of its person; how many ended."""
    with store.transaction() as conn:
        if everywhere:
            ended = sessions.end_all(conn, who.staff_id)
        else:
            sessions.end_session(conn, session_hash)
            ended = 1
        action = "session.sign_out_everywhere" if everywhere else "session.sign_out"
        audit.write(conn, who.did(action, who.staff_email), now)
    return ended


def mail_link(
    config: Config, member: StaffMember, link: str, expires: datetime, now: datetime
) -> str:
    """Send the sign-in link through the configured transport; what happened, in words."""
    sender = config.newsletter.from_address
    if not sender:
        return "not emailed: [newsletter] from_address is empty"
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((config.newsletter.from_name, sender))
    message["To"] = mailbox(member.name, member.email, smtputf8=config.smtp.smtputf8)
    message["Subject"] = f"Sign in to {config.site.title}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("sign-in", domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    until = f"{config.local(expires):%B %-d, %Y at %-I:%M %p %Z}"
    text = (
        f"Hello {member.name or member.email},\n\n"
        f"open this link to sign in to the staff console of {config.site.title}:\n\n"
        f"{link}\n\n"
        f"It works once, until {until}. If you did not ask for it, ignore this email:\n"
        "nobody can sign in without the link.\n"
    )
    # 7bit keeps the link whole on its line for any mail client (and a person's eyes).
    message.set_content(text, cte="7bit" if text.isascii() else "quoted-printable")
    data = message.as_bytes()
    signer = DkimSigner.from_config(config)
    if signer:
        data = signer.sign_message(data)
    transport = open_transport(config)
    try:
        result = transport.send(config.delivery.envelope_from or sender, member.email, data)
    except DeliveryError as exc:
        return f"not emailed: {exc}"
    finally:
        transport.close()
    if result.status != SENT:
        return f"not emailed: {result.code} {result.reply}"
    return f"emailed to {member.email}"
