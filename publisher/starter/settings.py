"""The config file of a new site, written from the config schema so it never drifts.

Every key of every section is written with its one-line doc as a comment and its default
value, except the few the person answered; a key added to `publisher.config` appears in
the next site made, with no list to keep in step.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from publisher.config import SECTIONS
from publisher.values import format_duration

HEADER = """\
# The configuration of {title}, written by `publisher init`.
# Every key is here with its default; change what you need. Relative paths resolve
# against this site's folder (the one holding config/). Any key can be set from the
# environment instead, as PUBLISHER_<SECTION>_<KEY> (e.g. PUBLISHER_SMTP_PORT=2525),
# which wins over this file. Secrets (the signing key, the SMTP password) never go here:
# they are read from the environment variables named by secret_env and password_env.
"""


def toml_value(value: Any) -> str:
    """A config value as TOML that `publisher.config` reads back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, timedelta):
        value = format_duration(value)
    elif isinstance(value, time):
        value = f"{value:%H:%M}"
    elif isinstance(value, Path):
        value = "" if value == Path("") else value.as_posix()
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def config_text(title: str, values: dict[tuple[str, str], Any]) -> str:
    """The whole config file: `values` ((section, key) -> value) over the defaults."""
    parts = [HEADER.format(title=title)]
    for section, cls in SECTIONS.items():
        parts.append(f"\n[{section}]\n")
        for field in dataclasses.fields(cls):
            doc = field.metadata["doc"]
            if field.metadata["choices"]:
                doc += f" One of: {', '.join(field.metadata['choices'])}."
            parts.append(textwrap.fill(doc, 88, initial_indent="# ", subsequent_indent="# "))
            value = values.get((section, field.name), field.default)
            parts.append(f"\n{field.name} = {toml_value(value)}\n")
    return "".join(parts)
