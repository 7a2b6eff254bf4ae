"""Email addresses and subscriber names: what every intake accepts, checked once, here.

The address policy (every intake applies it: the web form, `subscribers add`, each CSV row):
- Syntax and IDN are checked by email-validator; control characters are refused.
- The stored `email` is the form mail travels in: the local part as the person typed it,
  the domain in ASCII (punycode, `xn--...`), lower-cased.
- A local part with non-ASCII characters (josé@...) is accepted only when the relay offers
  SMTPUTF8 (`[smtp] smtputf8 = true`); otherwise it is refused at intake, never accepted
  and then failing when a message to it is built.
- `key` is the address with its Unicode domain, lower-cased: uniqueness and suppression are
  case-insensitive (the same person types `Ana@` and `ana@`), the punycode and Unicode
  spellings of a domain are one address, and keys and erasure hashes made before the
  domain was stored in ASCII still match.

Names: a name may not hold control characters (C0 including TAB, DEL, C1, and the line and
paragraph separators U+2028/U+2029) or lone surrogates, which would break a header, a
terminal or the database; `visible` shows any such character already stored as an escape
like `\\x1b`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import sys
from dataclasses import dataclass

from publisher.errors import PublisherError


@functools.cache
def _validator():
    """email-validator, imported on first use: 22 ms that a tick validating no address
    (the usual one) does not pay.

    It spends most of its time checking the domain (IDNA, UTS #46), and a list of a million
    addresses shares a few thousand domains: each domain is checked once per process (1.6x
    faster imports). The function is pure; should a later email-validator move it,
    validation stays the same, only slower. The public API cannot do this: it validates no
    local part alone, and the length rules span both parts. tests/test_addresses.py proves
    results are identical with and without the cache, and fails if the cache is gone."""
    import email_validator

    module = sys.modules.get("email_validator.validate_email")
    if module is not None and hasattr(module, "validate_email_domain_name"):
        module.validate_email_domain_name = functools.lru_cache(maxsize=16384)(
            module.validate_email_domain_name
        )
    return email_validator


# C0 controls (TAB and LF included), DEL, C1 controls, line and paragraph separators; and
# lone surrogates (an undecodable byte on a command line), which no encoding can write.
# Intake refuses them; the message builder and transport use the same class as a last guard.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
NAME_LIMIT = 200  # characters; the `name` column's size
SHOWN_LIMIT = 80  # characters of a refused value quoted in its message
NOT_SMTPUTF8 = (
    "the part before @ has non-ASCII characters, which this site's mail relay cannot "
    "deliver (set [smtp] smtputf8 = true if it offers SMTPUTF8)"
)


class AddressError(PublisherError):
    """An address that cannot be used; the message says why."""


class InvalidName(PublisherError):
    """A name that cannot be used; the message says why."""


@dataclass(frozen=True)
class Address:
    email: str  # stored form: the domain in ASCII, what mail is sent to
    key: str  # case-insensitive identity (Unicode domain), for uniqueness and hashes

    def hashed(self, salt: str) -> str:
        """The salted hash kept in `suppressions` after the address is erased."""
        return hmac.new(salt.encode(), self.key.encode(), hashlib.sha256).hexdigest()


def normalize(text: str, *, smtputf8: bool, check_dns: bool = False) -> Address:
    """Validate `text` under the address policy (module docstring) and return its stored
    form and key. `smtputf8`: the relay delivers non-ASCII local parts (`[smtp] smtputf8`);
    a lookup that sends nothing passes True. `check_dns` also asks DNS whether the domain
    accepts mail (off by default: slow, and offline machines exist)."""
    candidate = text.strip()
    if not candidate:
        raise AddressError("empty address")
    quoted = shown(candidate)
    found = control_character(candidate)
    if found:
        raise AddressError(f"{quoted}: contains {found}; remove it")
    validator = _validator()
    try:
        result = validator.validate_email(
            candidate, check_deliverability=check_dns, allow_smtputf8=True
        )
    except validator.EmailNotValidError as exc:
        raise AddressError(f"{quoted}: {exc}") from None
    if not (smtputf8 or result.local_part.isascii()):
        raise AddressError(f"{quoted}: {NOT_SMTPUTF8}")
    return Address(
        email=f"{result.local_part}@{result.ascii_domain}", key=result.normalized.lower()
    )


def check_name(text: str) -> str:
    """`text` without surrounding whitespace, or InvalidName: a control character in a name
    would break the header or the terminal it is written to."""
    name = text.strip()
    found = control_character(name)
    if found:
        raise InvalidName(f"name contains {found}; remove it")
    if len(name) > NAME_LIMIT:
        raise InvalidName(f"name longer than {NAME_LIMIT} characters")
    return name


def control_character(text: str) -> str | None:
    """The first control character in `text`, described for a message, or None."""
    found = CONTROL.search(text)
    if not found:
        return None
    code = ord(found.group())
    kind = "an invalid character" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"{kind} (U+{code:04X})"


def visible(text: str) -> str:
    """`text` with each control character shown as an escape (`\\x1b`, `\\u2028`): how
    output shows values stored before intake refused them."""
    return CONTROL.sub(lambda found: _escape(ord(found.group())), text)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: str) -> str:
    """A refused value as its one-line message quotes it: escaped, and cut if long."""
    if len(text) > SHOWN_LIMIT:
        text = text[: SHOWN_LIMIT - 1] + "…"
    return visible(text)


def readable(email: str) -> str:
    """A stored address as people read it: its domain in Unicode (ana@bücher.example, not
    ana@xn--bcher-kva.example), for listings; mail still travels in the stored form."""
    local, _, domain = email.rpartition("@")
    if "xn--" not in domain:
        return email
    import idna  # email-validator's own dependency

    try:
        return f"{local}@{idna.decode(domain)}"
    except idna.IDNAError:
        return email  # shown as stored rather than not at all
