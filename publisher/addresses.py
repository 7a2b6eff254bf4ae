"""Email addresses: validated with email-validator (syntax and IDN), normalized once.

The stored `email` is the display form: the local part as the person typed it, the domain
lower-cased (Unicode for IDN). `key` is the whole address lower-cased: uniqueness and
suppression are case-insensitive, because the same person types `Ana@` and `ana@`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import sys
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from .errors import PublisherError

# email-validator spends most of its time checking the domain (IDNA, UTS #46), and a list
# of a million addresses shares a few thousand domains: check each domain once per process
# (1.6x faster imports). The function is pure; should a later email-validator move it,
# validation stays the same, only slower. The public API cannot do this: it validates no
# local part alone, and the length rules span both parts. tests/test_addresses.py proves
# results are identical with and without the cache, and fails if the cache is gone.
_module = sys.modules.get("email_validator.validate_email")
if _module is not None and hasattr(_module, "validate_email_domain_name"):
    _module.validate_email_domain_name = functools.lru_cache(maxsize=16384)(
        _module.validate_email_domain_name
    )


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
