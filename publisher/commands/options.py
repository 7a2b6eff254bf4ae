"""The options every command takes (--config, --now, --debug) and the config they select.

Commands import these from here, not from `publisher.cli`, which loads the commands.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from publisher.config import Config
    from publisher.store.db import Store

# The config module is imported when a command reads its config, not here: `publisher
# --version` and `--help` read none.


@dataclass
class Options:
    config: str | None = None
    now: str | None = None
    debug: bool = False


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(ctx.find_root().ensure_object(Options), name, value)

    return callback


def common_options(command: Callable) -> Callable:
    """Add --config/--now/--debug to a command (they are also accepted before it)."""
    options = [
        click.option(
            "--config",
            metavar="FILE",
            expose_value=False,
            callback=_store("config"),
            help="Config file (default config/site.toml or $PUBLISHER_CONFIG).",
        ),
        click.option(
            "--now",
            metavar="TIME",
            expose_value=False,
            callback=_store("now"),
            help="Pretend it is TIME: 2026-03-02 09:00 is site time (or $PUBLISHER_NOW).",
        ),
        click.option(
            "--debug",
            is_flag=True,
            expose_value=False,
            callback=_store("debug"),
            help="Show tracebacks.",
        ),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), options, command)


def get_config() -> Config:
    """The configuration for the running command, honouring --config and --now."""
    from publisher.config import load_config

    options = click.get_current_context().find_root().ensure_object(Options)
    return load_config(options.config, options.now)


def config_file() -> Path:
    """The config file the running command reads (--config, $PUBLISHER_CONFIG, else
    config/site.toml); it may not exist yet."""
    from publisher.config import default_config_path

    options = click.get_current_context().find_root().ensure_object(Options)
    return Path(options.config) if options.config else default_config_path(os.environ)


def get_now() -> datetime:
    """--now (or $PUBLISHER_NOW) for a command that has no config to read it with."""
    from publisher.values import parse_now

    options = click.get_current_context().find_root().ensure_object(Options)
    return parse_now(options.now or os.environ.get("PUBLISHER_NOW"))


@contextmanager
def opened() -> Iterator[tuple[Config, Store]]:
    """The running command's config and its store, open for the block."""
    from publisher.store.db import Store  # lazy: only the commands that use the store

    config = get_config()
    with Store.open(config) as store:
        yield config, store
