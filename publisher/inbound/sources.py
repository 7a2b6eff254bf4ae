"""Where incoming mail is read from: one message on standard input (a Postfix or Exim pipe
alias), or a Maildir, each message processed once and then moved aside."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from publisher.errors import PublisherError

MAX_MESSAGE = 10 * 1024 * 1024  # a bounce carrying a larger message is cut here: headers suffice
PROCESSED = "processed"  # the Maildir++ folder messages are moved to once read
# Set by Postfix's pipe(8) (ORIGINAL_RECIPIENT) and Exim's pipe transport (RECIPIENT).
RECIPIENT_VARIABLES = ("ORIGINAL_RECIPIENT", "RECIPIENT")


@dataclass(frozen=True)
class Incoming:
    """One message as read, with the envelope recipient when the source knows it."""

    raw: bytes
    delivered_to: str = ""

    def parsed(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.raw)


def read_stdin(stream, recipient: str = "") -> Incoming:
    raw = stream.read(MAX_MESSAGE)
    envelope = recipient or next(
        (os.environ[name] for name in RECIPIENT_VARIABLES if os.environ.get(name)), ""
    )
    return Incoming(raw, envelope)


def read_maildir(folder: Path) -> Iterator[tuple[Incoming, Callable[[], None]]]:
    """Each message of the Maildir's new/ and cur/, with the function that moves it to
    the `.processed` folder once its effects are committed (a crash in between reads it
    again, which the Message-ID makes harmless)."""
    if not (folder / "new").is_dir() or not (folder / "cur").is_dir():
        raise PublisherError(f"{folder}: not a Maildir (no new/ and cur/ folders)")
    box = mailbox.Maildir(folder, factory=None, create=False)
    done = (
        box.add_folder(PROCESSED)
        if PROCESSED not in box.list_folders()
        else box.get_folder(PROCESSED)
    )
    for key in list(box.keys()):
        try:
            with box.get_file(key) as handle:
                raw = handle.read(MAX_MESSAGE)
        except (KeyError, FileNotFoundError):  # taken by a concurrent reader
            continue

        def move(key: str = key, raw: bytes = raw) -> None:
            done.add(raw)
            box.discard(key)

        yield Incoming(raw), move
