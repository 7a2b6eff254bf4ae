"""Settings an earlier version of publisher read under another name: read at their new
place, with a warning saying what to edit, so an upgrade never stops a site."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Keys an earlier version read elsewhere: (old section, old key) -> (section, key).
MOVED = {("newsletter", "digest_subject"): ("digest", "subject")}


def moved_settings(
    data: dict[str, Any], env: Mapping[str, str]
) -> tuple[dict[str, Any], Mapping[str, str], tuple[str, ...]]:
    """The file and environment with each moved key read at its new place (unless set
    there too), and a warning for each, so an upgrade keeps working and says what to edit."""
    data, env, warnings = dict(data), dict(env), []
    for (old_section, old), (section, new) in MOVED.items():
        old_env, new_env = (
            f"PUBLISHER_{old_section}_{old}".upper(),
            f"PUBLISHER_{section}_{new}".upper(),
        )
        if old_env in env:
            env.setdefault(new_env, env.pop(old_env))
            warnings.append(f"{old_env} is now {new_env}; rename it")
        table = data.get(old_section)
        if isinstance(table, dict) and old in table:
            table = dict(table)
            value = table.pop(old)
            data[old_section] = table
            target = data.setdefault(section, {})
            if isinstance(target, dict):
                data[section] = {new: value, **target}
            warnings.append(f"[{old_section}] {old} is now [{section}] {new}; move it there")
    return data, env, tuple(warnings)
