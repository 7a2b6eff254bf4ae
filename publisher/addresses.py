"""Email addresses: validated with email-validator (syntax and IDN), normalized once.

The stored `email` is the display form: the local part as the person typed it, the domain
lower-cased (Unicode for IDN). `key` is the whole address lower-cased: uniqueness and
suppression are case-insensitive, because the same person types `Ana@` and `ana@`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from .errors import PublisherError


class AddressError(PublisherError):
    """An address that cannot be used; the message says why."""


@dataclass(frozen=True)
class Address:
    email: str  # display form
    key: str  # case-insensitive identity

    def hashed(self, salt: str) -> str:
        """The salted hash kept in `suppressions` after the address is erased."""
        return hmac.new(salt.encode(), self.key.encode(), hashlib.sha256).hexdigest()


def normalize(text: str, check_dns: bool = False) -> Address:
    """Validate `text` and return its display form and key; `check_dns` also asks DNS
    whether the domain accepts mail (off by default: slow, and offline machines exist)."""
    candidate = text.strip()
    if not candidate:
        raise AddressError("empty address")
    try:
        result = validate_email(candidate, check_deliverability=check_dns)
    except EmailNotValidError as exc:
        raise AddressError(f"{candidate}: {exc}") from None
    return Address(email=result.normalized, key=result.normalized.lower())
