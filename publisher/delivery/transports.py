"""How a message leaves: a file outbox or an SMTP relay, behind one small interface.

`send(envelope_from, rcpt, data)` hands one complete message to one recipient and returns
what happened to that recipient (sent, deferred, failed, with the server's reply, or
unknown: the relay never answered the end of the message, which it may have taken). A
problem that is not the recipient's (the relay refuses connections, rejects our login or
our sender) raises `RelayDown` instead, so the campaign pauses and nobody is marked failed
because the relay was down.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from publisher.config import Config
from publisher.errors import DeliveryError, PublisherError
from publisher.subscribers.addresses import CONTROL
from publisher.vocabulary import DEFERRED, FAILED, SENT, UNKNOWN

LINE_STARTING_WITH_DOT = re.compile(rb"\n\.")  # dot-stuffing (RFC 5321 4.5.2)
NEEDS_SMTPUTF8 = "a non-ASCII local part needs SMTPUTF8: set [smtp] smtputf8 if the relay offers it"


def smtp_address(email: str) -> str:
    """`email` as it travels in SMTP and headers: the domain in ASCII (punycode) form.

    ValueError for what no relay could take: a control character (it would end the SMTP
    command), no local part or domain, or a domain IDNA cannot encode.
    """
    local, at, domain = email.rpartition("@")
    if CONTROL.search(email) or not (local and at and domain):
        raise ValueError(f"{email!r} is not a usable address")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as exc:
        raise ValueError(f"{email!r}: the domain cannot be encoded: {exc}") from None


@dataclass(frozen=True)
class Result:
    """The outcome for one recipient. `bounce` is a hard bounce of the address itself."""

    status: str  # sent|deferred|failed|unknown
    code: int | None = None
    reply: str = ""
    bounce: bool = False


def reason(exc: BaseException) -> str:
    """One line saying what went wrong, for a delivery's, a confirmation's or a campaign's
    record: our own errors by their message, others by their type too."""
    text = " ".join(str(exc).split())
    return text if isinstance(exc, PublisherError) else f"{type(exc).__name__}: {text}"


def failure(exc: Exception) -> Result:
    """The outcome for a recipient whose message could not be built or sent because of
    `exc`: failed, with the reason, never retried."""
    return Result(FAILED, None, reason(exc))


class RelayDown(DeliveryError):
    """The relay cannot take any mail from us now: the whole campaign pauses."""


class Transport(Protocol):
    def send(self, envelope_from: str, rcpt: str, data: bytes) -> Result: ...

    def close(self) -> None: ...


class FileTransport:
    """A Maildir-style outbox: each message is written to tmp/, then renamed into new/.

    The rename is atomic, so a reader of new/ never sees half a message, and a message that
    could not be written whole (a full disk) is deleted from tmp/. Folders are 0700 and
    files 0600: the messages hold addresses and personal unsubscribe links.
    """

    _counter = itertools.count()

    def __init__(self, outbox: Path):
        self.outbox = Path(outbox)
        try:
            self.outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
            for name in ("tmp", "new", "cur"):
                (self.outbox / name).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise RelayDown(f"cannot use the outbox {self.outbox}: {exc.strerror}") from None
        self.host = socket.gethostname().replace("/", "_").replace(":", "_")

    def send(self, envelope_from: str, rcpt: str, data: bytes) -> Result:
        name = f"{time.time_ns()}.P{os.getpid()}Q{next(self._counter)}.{self.host}.eml"
        tmp = self.outbox / "tmp" / name
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                out.write(data)
            os.replace(tmp, self.outbox / "new" / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise RelayDown(f"cannot write to the outbox {self.outbox}: {exc.strerror}") from None
        return Result(SENT, 250, f"saved as {name}")

    def close(self) -> None:
        pass


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def refused(what: str, exc: smtplib.SMTPResponseException) -> RelayDown:
    """RelayDown for a relay's refusal, carrying its code and reply."""
    reply = _text(exc.smtp_error)
    return RelayDown(f"{what}: {exc.smtp_code} {reply}", exc.smtp_code, reply)


def classify(code: int, reply: bytes | str, *, on_rcpt: bool = False) -> Result:
    """2xx sent, 4xx deferred, 5xx failed (a bounce of the address when said to RCPT)."""
    text = _text(reply)
    if 200 <= code < 300:
        return Result(SENT, code, text)
    if 400 <= code < 500:
        return Result(DEFERRED, code, text)
    return Result(FAILED, code, text, bounce=on_rcpt)


class SmtpTransport:
    """One persistent connection to the relay, opened on first use and reopened as needed.

    Every network step has the configured timeout but the wait for the answer to the end
    of a message, which has `data_timeout` (RFC 5321 4.5.3.2.6: 10 minutes): a relay may
    take that long to accept, and once the end is sent, trying again could deliver twice.
    After `max_per_connection` messages the connection is closed politely and a new one
    opened, as many relays expect.
    """

    def __init__(self, config: Config, env: dict[str, str] | None = None):
        self.settings = config.smtp
        env = os.environ if env is None else env
        self.password = env.get(self.settings.password_env, "")
        if self.settings.username and not self.password:
            raise RelayDown(
                f"[smtp] username is set but ${self.settings.password_env} is empty; "
                "export the relay password in that variable"
            )
        self.conn: smtplib.SMTP | None = None
        self.used = 0

    @property
    def relay(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _connect(self) -> smtplib.SMTP | Result:
        """A ready connection, or a deferral for a 4xx greeting; RelayDown for the rest."""
        s = self.settings
        try:
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if s.username:
                conn.login(s.username, self.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise refused(f"{self.relay} refused the login of {s.username!r}", exc) from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                return classify(exc.smtp_code, exc.smtp_error)
            raise refused(f"{self.relay} refused the connection", exc) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise RelayDown(f"{self.relay}: {exc} (check [smtp] security)") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise RelayDown(
                f"cannot connect to {self.relay}: {exc or type(exc).__name__}"
            ) from None
        self.used = 0
        return conn

    def send(self, envelope_from: str, rcpt: str, data: bytes) -> Result:
        """Deliver to one recipient; a connection dropped before the end of the message was
        sent is reopened and tried once more."""
        for attempt in (1, 2):
            if self.conn is not None and self.used >= self.max_per_connection:
                self.close()
            if self.conn is None:
                ready = self._connect()
                if isinstance(ready, Result):
                    return ready
                self.conn = ready
            try:
                return self._transaction(self.conn, envelope_from, rcpt, data)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self._drop()
                if attempt == 2:
                    return Result(DEFERRED, None, f"connection to {self.relay} lost: {exc}")
            except Exception:
                self._drop()  # mid-transaction: the connection's state is unknown
                raise
        raise AssertionError("unreachable")

    @property
    def max_per_connection(self) -> int:
        return max(1, self.settings.max_per_connection)

    def _transaction(
        self, conn: smtplib.SMTP, envelope_from: str, rcpt: str, data: bytes
    ) -> Result:
        """MAIL, RCPT, DATA: in one write when the relay offers PIPELINING (RFC 2920)."""
        self.used += 1
        try:
            sender, rcpt = smtp_address(envelope_from), smtp_address(rcpt)
        except ValueError as exc:
            return Result(FAILED, None, str(exc))
        utf8 = not (sender + rcpt).isascii()
        if utf8 and not self.settings.smtputf8:
            return Result(FAILED, None, f"{rcpt}: {NEEDS_SMTPUTF8}")
        if utf8 and not conn.has_extn("smtputf8"):
            return Result(FAILED, None, f"{rcpt}: {self.relay} does not offer SMTPUTF8")
        options = ["SMTPUTF8"] if utf8 else []
        if "pipelining" in conn.esmtp_features:
            mail_from = " ".join([f"MAIL FROM:{quoted(sender)}", *options])
            conn.send(f"{mail_from}\r\nRCPT TO:{quoted(rcpt)}\r\nDATA\r\n".encode())
            mail, to, start = conn.getreply(), conn.getreply(), conn.getreply()
        else:
            mail = conn.mail(sender, options)
            to = conn.rcpt(rcpt) if mail[0] < 400 else mail
            start = conn.docmd("DATA") if to[0] in (250, 251) else to
        if start[0] == 354 and (mail[0] >= 400 or to[0] not in (250, 251)):
            conn.send(b".\r\n")  # a relay that took DATA after a refusal: send nothing
            conn.getreply()
        if mail[0] >= 500:
            self._rset()
            raise RelayDown(
                f"{self.relay} refused the sender {sender}: {mail[0]} {_text(mail[1])}",
                mail[0],
                _text(mail[1]),
            )
        if mail[0] >= 400:
            self._rset()
            return classify(*mail)
        if to[0] not in (250, 251):
            self._rset()
            return classify(*to, on_rcpt=True)
        if start[0] != 354:
            self._rset()
            return classify(*start)
        body = dot_stuffed(data)
        conn.send(body + (b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"))
        return self._final_reply(conn)

    def _final_reply(self, conn: smtplib.SMTP) -> Result:
        """The answer to the end of the message, waited for `data_timeout`. The relay may have
        taken a message it does not answer (the reply lost with the connection): that
        outcome is unknown, recorded so, and never "try again", which could send it twice."""
        conn.sock.settimeout(self.settings.data_timeout)
        try:
            reply = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            return Result(
                UNKNOWN,
                None,
                f"no answer from {self.relay} to the end of the message ({exc}); it may have "
                "been delivered, so it is not sent again",
            )
        conn.sock.settimeout(self.settings.timeout)
        return classify(*reply)

    def _rset(self) -> None:
        """Reset the transaction after a refusal; a server that hung up is simply dropped."""
        try:
            self.conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def close(self) -> None:
        """Say QUIT if the connection still answers; never raise."""
        if self.conn is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.conn.quit()
        self._drop()


PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


def quoted(address: str) -> str:
    """`<address>` for MAIL FROM and RCPT TO: what `smtplib.quoteaddr` gives, without its
    full RFC 5322 parse (a tenth of a send's CPU) for the plain addresses intake lets in."""
    if PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def dot_stuffed(data: bytes) -> bytes:
    """`data` with a dot doubled at the start of every line (RFC 5321 4.5.2), as a
    `(?m)^\\.` regex substitution would, which held the GIL for a third of a send's CPU
    on a 32 KB message. The newsletters' and confirmations' bodies never have such a line,
    so the common case is one search: a regex's, which jumps from line feed to line feed
    (9 us on 32 KB), not a `bytes` search for line feed and dot (26 to 44 us)."""
    if data.startswith(b"."):
        data = b"." + data
    if LINE_STARTING_WITH_DOT.search(data) is None:
        return data
    return data.replace(b"\n.", b"\n..")


def open_transport(config: Config) -> Transport:
    """The transport the config asks for."""
    if config.delivery.transport == "smtp":
        return SmtpTransport(config)
    return FileTransport(config.delivery.outbox)
