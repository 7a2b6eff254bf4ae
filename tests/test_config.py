"""The config schema: file, then environment; every problem reported at once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from publisher.config import load_config
from publisher.errors import ConfigError
from publisher.values import parse_duration

from conftest import write_config


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={}, now="2026-03-02T15:00:00Z")
    assert config.delivery.transport == "file"
    assert config.database.url == "sqlite:///data/publisher.db"
    assert config.now == datetime(2026, 3, 2, 15, tzinfo=UTC)


def test_file_values_and_relative_paths(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[delivery]\noutbox = "mail/out"\n[digest]\nat = "07:30"\n')
    config = load_config(path, env={})
    assert config.root == tmp_path
    assert config.site.title == "Test Clinic Blog"
    assert config.delivery.outbox == tmp_path / "mail" / "out"
    assert config.site.output == tmp_path / "public"
    assert config.digest.at == time(7, 30)
    assert str(config.tz) == "America/Chicago"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[smtp]\nport = 25\n")
    env = {
        "PUBLISHER_SMTP_PORT": "2525",
        "PUBLISHER_NEWSLETTER_UTM": "false",
        "PUBLISHER_DIGEST_GRACE": "36h",
        "PUBLISHER_NOW": "2026-03-08T08:30:00-05:00",
    }
    config = load_config(path, env=env)
    assert config.smtp.port == 2525
    assert config.newsletter.utm is False
    assert config.digest.grace == timedelta(hours=36)
    assert config.now == datetime(2026, 3, 8, 13, 30, tzinfo=UTC)


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    assert load_config(env={"PUBLISHER_CONFIG": str(path)}).site.title == "Test Clinic Blog"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[smtp]\nport = "many"\nsecurity = "tls"\n[delivery]\ncolour = "red"\n'
        '[digest]\nevery = "fortnight"\n[bogus]\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={"PUBLISHER_SITE_TIMEZONE": "Mars/Olympus"})
    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    text = str(caught.value)
    assert "[smtp] port: expected a whole number, got 'many'" in text
    assert "[smtp] security: expected one of starttls, ssl, none, got 'tls'" in text
    assert "[delivery] colour: unknown key" in text
    assert "[digest] every: expected 'day', 'month' or a weekday name" in text
    assert "[bogus]: unknown section" in text
    assert "[site] timezone: unknown time zone 'Mars/Olympus'" in text
    assert len(lines) == 6


def test_unreadable_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config" / "site.toml"
    path.parent.mkdir()
    path.write_text("[site\ntitle = 1\n")
    with pytest.raises(ConfigError, match=r"site\.toml: "):
        load_config(path, env={})


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml", env={})


def test_bad_now_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="--now: expected an ISO 8601 time"):
        load_config(env={"PUBLISHER_NOW": "tomorrow"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2d", timedelta(days=2)), ("36h", timedelta(hours=36)), ("90", timedelta(seconds=90))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
