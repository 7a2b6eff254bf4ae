"""Reading `[inbound] mailbox` on an IMAP or POP3 server: each message processed once, then
moved to the `Processed` folder (IMAP) or deleted (POP3, which has no folders). A message
that could not be read is moved to the `Failed` folder (IMAP); POP3 leaves it on the server,
where each reading reports it again until someone deletes it.

The password comes from the environment (`[inbound] password_env`). A message is moved or
deleted only after its effects are committed: a crash in between reads it again, which the
Message-ID makes harmless.
"""

from __future__ import annotations

import os
import poplib
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from publisher.config import Config
from publisher.errors import ConfigError, PublisherError
from publisher.inbound.sources import MAX_MESSAGE, Incoming, Waiting

PROCESSED, FAILED = "Processed", "Failed"
TIMEOUT = 60  # seconds for any one exchange with the server


class MailboxError(PublisherError):
    """The mailbox server cannot be reached or refuses us: try again at the next tick."""

    exit_code = 1


def read_mailbox(config: Config) -> Iterator[Waiting]:
    """Every message waiting in the configured mailbox, with the function that files it."""
    url = urlsplit(config.inbound.mailbox)
    password = os.environ.get(config.inbound.password_env, "")
    if not password:
        raise ConfigError(
            f"[inbound] mailbox: set the password in the {config.inbound.password_env} variable"
        )
    user = unquote(url.username or "")
    try:
        if url.scheme.startswith("imap"):
            yield from _imap(url, user, password)
        else:
            yield from _pop3(url, user, password)
    except (OSError, poplib.error_proto) as exc:
        raise MailboxError(f"[inbound] mailbox {url.hostname}: {exc}") from None


def _imap(url, user: str, password: str) -> Iterator[Waiting]:
    from imapclient import IMAPClient  # lazy: only where a mailbox is read
    from imapclient.exceptions import IMAPClientError

    secure = url.scheme == "imaps"
    port = url.port or (993 if secure else 143)
    folder = unquote(url.path.strip("/")) or "INBOX"
    try:
        with IMAPClient(url.hostname, port=port, ssl=secure, timeout=TIMEOUT) as client:
            if not secure and client.has_capability("STARTTLS"):
                client.starttls()
            client.login(user, password)
            if not client.folder_exists(PROCESSED):
                client.create_folder(PROCESSED)
            client.select_folder(folder)
            part = f"BODY.PEEK[]<0.{MAX_MESSAGE}>"
            for uid in client.search(["NOT", "DELETED"]):
                fetched = client.fetch([uid], [part]).get(uid, {})
                raw = next((v for k, v in fetched.items() if k.startswith(b"BODY[]")), b"")
                yield Incoming(raw), lambda read, uid=uid: _file(client, uid, read)
            client.expunge()
    except IMAPClientError as exc:
        raise MailboxError(f"[inbound] mailbox {url.hostname}: {exc}") from None


def _file(client, uid: int, read: bool) -> str:
    """Move message `uid` to `Processed`, or to `Failed` when it could not be read."""
    folder = PROCESSED if read else FAILED
    if not read and not client.folder_exists(FAILED):  # made when first needed
        client.create_folder(FAILED)
    if client.has_capability("MOVE"):
        client.move([uid], folder)
    else:
        client.copy([uid], folder)
        client.delete_messages([uid])
    return f"moved to the {folder} folder"


def _pop3(url, user: str, password: str) -> Iterator[Waiting]:
    secure = url.scheme == "pop3s"
    port = url.port or (995 if secure else 110)
    box = (poplib.POP3_SSL if secure else poplib.POP3)(url.hostname, port, timeout=TIMEOUT)
    try:
        box.user(user)
        box.pass_(password)
        for entry in box.list()[1]:
            number, size = (int(n) for n in entry.split()[:2])
            lines = box.retr(number)[1] if size <= MAX_MESSAGE else box.top(number, 100)[1]
            yield Incoming(b"\r\n".join(lines) + b"\r\n"), lambda read, n=number: _pop(box, n, read)
        box.quit()  # deletions take effect on QUIT, after every message was applied
    except BaseException:
        box.close()
        raise


def _pop(box: poplib.POP3, number: int, read: bool) -> str:
    """Delete message `number` once read; POP3 has no folder to set one aside in."""
    if read:
        box.dele(number)
        return "deleted"
    return "left on the POP3 server (no folders there): delete it with a mail client"
