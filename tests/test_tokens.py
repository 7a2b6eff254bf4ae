"""Signed links: round trips, tampering, wrong purpose, expiry, and where the secret comes from."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from publisher.config import load_config
from publisher.subscribers import tokens
from publisher.subscribers.tokens import TokenExpired, TokenInvalid, Tokens

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SIGNER = Tokens(b"a test secret")
KEY = "0123456789abcdef0123456789abcdef"  # a subscriber's token_key
STRONG = "a kept secret, long enough to sign links"


@pytest.mark.parametrize("purpose", tokens.PURPOSES)
def test_round_trip(purpose: str) -> None:
    token = SIGNER.make(purpose, 42, KEY, NOW)
    later = NOW + min(tokens.EXPIRY[purpose] or timedelta(days=7), timedelta(days=7)) * 0.9
    assert SIGNER.read(purpose, token, KEY, later) == 42


def test_tampered_or_foreign_tokens_are_invalid() -> None:
    token = SIGNER.make("unsubscribe", 42, KEY, NOW)
    subscriber_id, issued, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    forged = [
        f"43.{issued}.{signature}",  # someone else's id
        f"{subscriber_id}.{int(issued) + 1}.{signature}",  # a later time
        f"{subscriber_id}.{issued}.{flipped}",
        f"{subscriber_id}.{issued}.",
        "",
        "garbage",
        "1.2.3.4",
        "-1.2.abc",
    ]
    for text in forged:
        with pytest.raises(TokenInvalid):
            SIGNER.read("unsubscribe", text, KEY, NOW)
    with pytest.raises(TokenInvalid):  # made for another purpose
        SIGNER.read("preferences", token, KEY, NOW)
    with pytest.raises(TokenInvalid):  # signed with another secret
        Tokens(b"another secret").read("unsubscribe", token, KEY, NOW)


def test_tokens_are_bound_to_the_subscribers_key() -> None:
    """The key goes with the subscriber's row: without it no link of theirs reads, whoever
    later has a row with that id."""
    token = SIGNER.make("unsubscribe", 42, KEY, NOW)
    assert SIGNER.subscriber_id(token) == 42
    for other in ("f" * 32, ""):
        with pytest.raises(TokenInvalid):
            SIGNER.read("unsubscribe", token, other, NOW)
        with pytest.raises(TokenInvalid):
            SIGNER.issued("unsubscribe", token, other)


def test_links_mailed_before_keys_still_read_with_the_empty_key() -> None:
    """Rows from before schema version 3 have the key "": their links, already in people's
    inboxes, were signed over purpose, id and time alone, and must keep working."""
    issued = int(NOW.timestamp())
    digest = hmac.new(b"a test secret", f"unsubscribe:42:{issued}".encode(), hashlib.sha256)
    signature = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    old = f"42.{issued}.{signature}"
    assert SIGNER.make("unsubscribe", 42, "", NOW) == old
    assert SIGNER.read("unsubscribe", old, "", NOW + timedelta(days=3650)) == 42


def test_only_the_canonical_form_is_read() -> None:
    """The same numbers written another way (a leading zero, other scripts' digits, a sign,
    spaces, base64 padding) are not the token that was made: refused."""
    token = SIGNER.make("unsubscribe", 7, KEY, NOW)
    subscriber_id, issued, signature = token.split(".")
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    variants = [
        f"07.{issued}.{signature}",
        f"{subscriber_id}.0{issued}.{signature}",
        f"{subscriber_id.translate(arabic)}.{issued}.{signature}",
        f"{subscriber_id}.{issued.translate(arabic)}.{signature}",
        f"+7.{issued}.{signature}",
        f" {token}",
        f"{token}\n",
        f"{token}=",
        f"{subscriber_id}.{issued}.{signature[:-1]}",
    ]
    for variant in variants:
        with pytest.raises(TokenInvalid):
            SIGNER.read("unsubscribe", variant, KEY, NOW)
        with pytest.raises(TokenInvalid):
            SIGNER.subscriber_id(variant)
    assert SIGNER.read("unsubscribe", token, KEY, NOW) == 7


IDS = st.integers(min_value=0, max_value=2**63 - 1)
TIMES = st.integers(min_value=0, max_value=2**37).map(lambda t: datetime.fromtimestamp(t, UTC))


@given(IDS, TIMES)
def test_every_made_token_reads_back(subscriber_id: int, issued: datetime) -> None:
    token = SIGNER.make("preferences", subscriber_id, KEY, issued)
    assert SIGNER.read("preferences", token, KEY, issued) == subscriber_id
    assert SIGNER.issued("preferences", token, KEY) == issued


@given(IDS, TIMES, st.integers(min_value=0, max_value=80), st.integers(0, 2), st.text(max_size=3))
@example(7, NOW, 0, 0, "0")
@example(7, NOW, 0, 1, "٧")
def test_any_other_string_is_refused(
    subscriber_id: int, issued: datetime, at: int, cut: int, inserted: str
) -> None:
    """A made token with up to two characters cut at any place and any text put there:
    unless that gives back the very same string, it is refused."""
    token = SIGNER.make("unsubscribe", subscriber_id, KEY, issued)
    variant = token[:at] + inserted + token[at + cut :]
    if variant == token:
        assert SIGNER.read("unsubscribe", variant, KEY, issued) == subscriber_id
        return
    with pytest.raises(TokenInvalid):
        SIGNER.read("unsubscribe", variant, KEY, issued)


@given(st.text(max_size=80))
def test_arbitrary_text_is_refused(text: str) -> None:
    with pytest.raises(TokenInvalid):
        SIGNER.read("unsubscribe", text, KEY, NOW)


def test_confirm_tokens_expire_after_seven_days_others_never() -> None:
    confirm = SIGNER.make("confirm", 7, KEY, NOW)
    assert SIGNER.read("confirm", confirm, KEY, NOW + timedelta(days=7)) == 7
    with pytest.raises(TokenExpired):
        SIGNER.read("confirm", confirm, KEY, NOW + timedelta(days=7, seconds=1))
    unsubscribe = SIGNER.make("unsubscribe", 7, KEY, NOW)
    assert SIGNER.read("unsubscribe", unsubscribe, KEY, NOW + timedelta(days=3650)) == 7


def test_secret_from_the_environment_variable_named_in_config(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLISHER_NEWSLETTER_SECRET_ENV", "MY_KEY")
    monkeypatch.setenv("MY_KEY", "from the environment")
    config = load_config(now=NOW)
    assert tokens.load_tokens(config).secret == b"from the environment"
    assert tokens.is_generated_secret(config) is False
    assert not (config.data_dir / tokens.SECRET_FILE).exists()


def test_generated_secret_is_private_stable_and_announced_once(
    site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("PUBLISHER_SECRET_KEY")
    config = load_config(now=NOW)
    with caplog.at_level(logging.WARNING):
        first = tokens.load_tokens(config)
        second = tokens.load_tokens(config)
    path = config.data_dir / tokens.SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first == second and len(first.secret) >= 32
    assert [r.message for r in caplog.records if "generated a signing secret" in r.message] == [
        f"generated a signing secret in {path}; set the environment variable of "
        "[newsletter] secret_env in production"
    ]
    assert tokens.is_generated_secret(config) is True
    assert sorted(p.name for p in path.parent.iterdir()) == [tokens.SECRET_FILE]
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_urls_carry_tokens_that_read_back(site: Path) -> None:
    config = load_config(now=NOW)
    signer = tokens.load_tokens(config)
    for purpose, make in [
        ("confirm", tokens.confirm_url),
        ("unsubscribe", tokens.unsubscribe_url),
        ("preferences", tokens.preferences_url),
    ]:
        url = make(config, signer, 12, KEY)
        parts = urlsplit(url)
        assert (
            f"{parts.scheme}://{parts.netloc}{parts.path}" == f"https://blog.example.org/{purpose}"
        )
        assert signer.read(purpose, parse_qs(parts.query)["token"][0], KEY, NOW) == 12


def test_urls_are_signed_at_the_time_given_not_at_start_up(site: Path) -> None:
    """A web server loaded its config weeks ago: its confirm links must still last 7 days
    from when they are sent."""
    config = load_config(now=NOW)
    signer = tokens.load_tokens(config)
    later = NOW + timedelta(days=30)
    for purpose, make in [
        ("confirm", tokens.confirm_url),
        ("unsubscribe", tokens.unsubscribe_url),
        ("preferences", tokens.preferences_url),
    ]:
        token = parse_qs(urlsplit(make(config, signer, 12, KEY, now=later)).query)["token"][0]
        assert signer.issued(purpose, token, KEY) == later
        assert signer.read(purpose, token, KEY, later + timedelta(days=6)) == 12


def test_issued_is_verified_and_ignores_expiry() -> None:
    token = SIGNER.make("confirm", 3, KEY, NOW + timedelta(microseconds=500))
    assert SIGNER.issued("confirm", token, KEY) == NOW  # whole seconds
    assert SIGNER.issued("confirm", token, KEY).tzinfo == UTC
    with pytest.raises(TokenExpired):
        SIGNER.read("confirm", token, KEY, NOW + timedelta(days=8))
    assert SIGNER.issued("confirm", token, KEY) == NOW  # an expired link still tells its age
    subscriber_id, issued, signature = token.split(".")
    for forged in [f"{subscriber_id}.{int(issued) - 60}.{signature}", "garbage"]:
        with pytest.raises(TokenInvalid):
            SIGNER.issued("confirm", forged, KEY)
    with pytest.raises(TokenInvalid):
        SIGNER.issued("unsubscribe", token, KEY)


def test_check_warns_when_smtp_mail_is_signed_with_a_generated_secret(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from publisher.cli import main

    monkeypatch.delenv("PUBLISHER_SECRET_KEY")
    smtp = {"PUBLISHER_DELIVERY_TRANSPORT": "smtp"}
    warned = CliRunner().invoke(main, ["check"], env=smtp)
    assert warned.exit_code == 0, warned.output
    assert (
        "warning: [delivery] transport is smtp, but links are signed with the generated secret "
        f"in {site / 'data' / tokens.SECRET_FILE}: set the environment variable "
        "PUBLISHER_SECRET_KEY on every machine"
    ) in warned.stderr
    for env in [{}, smtp | {"PUBLISHER_SECRET_KEY": STRONG}]:
        quiet = CliRunner().invoke(main, ["check"], env=env)
        assert quiet.exit_code == 0, quiet.output
        assert "secret" not in quiet.stderr


def test_a_short_secret_is_refused_for_smtp_and_warned_about_otherwise(
    site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`PUBLISHER_SECRET_KEY=a` was taken silently: anyone could then sign links."""
    from click.testing import CliRunner

    from publisher.cli import main

    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "a")
    with caplog.at_level(logging.WARNING):
        tokens.load_tokens(load_config(now=NOW))
    assert "PUBLISHER_SECRET_KEY is 1 byte long" in caplog.text
    refused = CliRunner().invoke(main, ["check"], env={"PUBLISHER_DELIVERY_TRANSPORT": "smtp"})
    assert refused.exit_code != 0
    assert "error: PUBLISHER_SECRET_KEY is 1 byte long" in refused.stderr
    warned = CliRunner().invoke(main, ["check"])
    assert warned.exit_code == 0, warned.output
    assert "warning: PUBLISHER_SECRET_KEY is 1 byte long" in warned.stderr
    sized = CliRunner().invoke(main, ["check"], env={"PUBLISHER_SECRET_KEY": "x" * 32})
    assert sized.exit_code == 0 and "byte" not in sized.stderr
