"""Where incoming mail is read from: one message on standard input (a Postfix or Exim pipe
alias), or a Maildir, each message processed once and then moved aside: to the `processed`
folder, or to the `failed` folder when it could not be read."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from publisher.errors import PublisherError
from publisher.inbound.parsing import parse

MAX_MESSAGE = 10 * 1024 * 1024  # a bounce carrying a larger message is cut here: headers suffice
PROCESSED = "processed"  # the Maildir++ folder messages are moved to once read
FAILED = "failed"  # and those that could not be read, created when first needed
# Set by Postfix's pipe(8) (ORIGINAL_RECIPIENT) and Exim's pipe transport (RECIPIENT).
RECIPIENT_VARIABLES = ("ORIGINAL_RECIPIENT", "RECIPIENT")


@dataclass(frozen=True)
class Incoming:
    """One message as read, with the envelope recipient when the source knows it."""

    raw: bytes
    delivered_to: str = ""

    def parsed(self) -> EmailMessage:
        return parse(self.raw)


# A message waiting in a Maildir or mailbox, and the function that files it once handled:
# `file_away(True)` once its effects are committed, `file_away(False)` when it could not be
# read; it says where the message went.
Waiting = tuple[Incoming, Callable[[bool], str]]


def read_stdin(stream, recipient: str = "") -> Incoming:
    raw = stream.read(MAX_MESSAGE)
    envelope = recipient or next(
        (os.environ[name] for name in RECIPIENT_VARIABLES if os.environ.get(name)), ""
    )
    return Incoming(raw, envelope)


def read_maildir(folder: Path) -> Iterator[Waiting]:
    """Each message of the Maildir's new/ and cur/, with the function that moves it to the
    `.processed` folder once its effects are committed (a crash in between reads it again,
    which the Message-ID makes harmless), or to `.failed` when it could not be read."""
    if not (folder / "new").is_dir() or not (folder / "cur").is_dir():
        raise PublisherError(f"{folder}: not a Maildir (no new/ and cur/ folders)")
    box = mailbox.Maildir(folder, factory=None, create=False)
    for key in list(box.keys()):
        try:
            with box.get_file(key) as handle:
                raw = handle.read(MAX_MESSAGE)
        except (KeyError, FileNotFoundError):  # taken by a concurrent reader
            continue

        def move(read: bool, key: str = key) -> str:
            name = PROCESSED if read else FAILED
            with box.get_file(key) as handle:  # the whole file, past MAX_MESSAGE too
                _subfolder(box, name).add(handle)
            box.discard(key)
            return f"moved to {folder / ('.' + name)}"

        yield Incoming(raw), move


def _subfolder(box: mailbox.Maildir, name: str) -> mailbox.Maildir:
    return box.get_folder(name) if name in box.list_folders() else box.add_folder(name)
