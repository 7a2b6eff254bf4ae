"""Addresses: the per-domain cache over email-validator changes no result, only the speed.

`publisher.subscribers.addresses` wraps email-validator's `validate_email_domain_name` (an internal
function) in an lru_cache, because no public API validates a local part alone. These tests
prove the cache is in place and that every result, valid or not, is the same without it.
"""

from __future__ import annotations

import sys

import pytest
from email_validator import EmailNotValidError, validate_email

from publisher.subscribers import addresses

addresses.normalize("ana@example.org", smtputf8=True)  # the first use installs the cache

SAMPLE = [
    "Ana@Example.ORG",
    "ana@example.org",
    "ANA@EXAMPLE.ORG",
    "Postmaster@Example.com",  # a mailbox name email-validator lower-cases
    "josé@Bücher.DE",
    "jose@xn--bcher-kva.de",  # the same domain, as punycode
    "user@MÜNCHEN.de",
    "a@例え.テスト",
    "Δ@ΑΒΓ.gr",
    "a@ＥＸＡＭＰＬＥ.com",  # full-width letters
    "first.last+tag@sub.domain.example.co.uk",
    "x@" + "a" * 63 + ".com",
    "a" * 65 + "@example.com",  # over RFC 5321's 64, accepted unless strict
    # invalid
    "a@" + "a" * 64 + ".com",
    "a@exa_mple.com",
    "a@-bad.com",
    "a@example",
    "a@localhost",
    "a@example.invalid",
    "a@.com",
    "a@example..com",
    "a@example.com.",
    "a@[192.0.2.1]",
    "a@ex\u200bample.com",
    "a@xn--.com",
    "a@",
    "@example.com",
    "a..b@example.com",
    "a@" + ".".join(["b" * 60] * 5) + ".com",
    "b" * 64 + "@" + ".".join(["c" * 50] * 4) + ".com",  # a valid domain, too long in all
]


def outcome(address: str) -> tuple:
    """Everything validation says about an address: the result's fields or the error."""
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return ("error", type(exc).__name__, str(exc))
    try:
        ours = addresses.normalize(address, smtputf8=True)
    except addresses.AddressError as exc:
        return ("refused", vars(result), str(exc))
    return ("valid", vars(result), ours)


def test_the_domain_cache_is_installed() -> None:
    module = sys.modules["email_validator.validate_email"]
    assert hasattr(module.validate_email_domain_name, "cache_info"), (
        "email-validator moved validate_email_domain_name: imports are 2-3x slower; "
        "update the cache in publisher/addresses.py"
    )


def test_cached_and_uncached_validation_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    module = sys.modules["email_validator.validate_email"]
    cached = module.validate_email_domain_name
    cached_twice = [(outcome(a), outcome(a)) for a in SAMPLE]  # the second from the cache
    monkeypatch.setattr(module, "validate_email_domain_name", cached.__wrapped__)
    uncached = [outcome(a) for a in SAMPLE]
    for address, (first, second), plain in zip(SAMPLE, cached_twice, uncached, strict=True):
        assert first == second == plain, address
    assert sum(result[0] == "valid" for result in uncached) == 13
    assert cached.cache_info().hits > 0
