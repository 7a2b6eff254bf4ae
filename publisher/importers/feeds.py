"""The old blog's feed addresses, kept: written into the site's config file as
`[site] old_feeds`, so every build writes the feed there too and the old blog's readers
keep getting posts (a redirect page does not move a feed reader).

Each tool's importer says where its feed was (`Harvest.feeds`); here they are added to
what the config file already lists, with tomlkit, which keeps the file's comments and
order. A config file that cannot be written is a thing to fix, never a lost import.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from publisher.config import Config
from publisher.importers.model import Fix

OURS = ("feed.xml", "rss.xml")  # written by every build anyway


def keep(
    paths: list[str], config: Config, config_file: Path
) -> tuple[Config, list[str], list[Fix]]:
    """(`config` with the old feeds added, the paths added, what to fix)."""
    import tomlkit  # lazy: only an import with a feed to keep writes the config file

    current = [p.strip() for p in config.site.old_feeds.split(",") if p.strip("/ ")]
    known = {p.strip("/") for p in current} | set(OURS)
    added = [p for p in dict.fromkeys("/" + p.strip("/") for p in paths) if p[1:] not in known]
    if not added:
        return config, [], []
    value = ", ".join([*current, *added])
    try:
        text = config_file.read_text("utf-8") if config_file.is_file() else ""
        document = tomlkit.parse(text)
        document.setdefault("site", tomlkit.table())["old_feeds"] = value
        _replace(config_file, tomlkit.dumps(document))
    except OSError as exc:
        fix = f"cannot write {config_file} ({exc.strerror}); add old_feeds = {value!r} to [site]"
        return config, [], [Fix(str(config_file), 1, fix)]
    site = dataclasses.replace(config.site, old_feeds=value)
    return dataclasses.replace(config, site=site), added, []


def _replace(path: Path, text: str) -> None:
    """Write `path` whole or not at all (a crash must not leave half a config file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, path)
