"""The library's exceptions. Each carries a one-line message; `cli` prints it as `error: ...`.

`exit_code` says whose fault it is: 2 for bad input a person can fix (a post, the config,
a CSV), 1 for the environment (a database that cannot be opened, a relay that is down).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class PublisherError(Exception):
    """Base class: a problem reported to the user as one line, never as a traceback."""

    exit_code = 2


class ConfigError(PublisherError):
    """The configuration file or environment holds an invalid value."""


class ContentError(PublisherError):
    """A post cannot be read; the message names the file and line."""

    def __init__(self, path: Path | str, line: int, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")


class ContentErrors(PublisherError):
    """Several posts have problems; `check` reports them all at once."""

    def __init__(self, errors: Iterable[ContentError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))

    def lines(self) -> list[str]:
        return [str(e) for e in self.errors]


class TemplateError(PublisherError):
    """A template failed to render; the message names the template and line."""


class StoreError(PublisherError):
    """The subscriber store cannot be used (locked, read-only, corrupt, too new)."""

    exit_code = 1


class DeliveryError(PublisherError):
    """A message could not be handed to the relay; carries the SMTP reply when there is one."""

    exit_code = 1

    def __init__(self, message: str, code: int | None = None, reply: str = ""):
        self.code = code
        self.reply = reply
        super().__init__(message)
