"""Deployment: `[site] deploy` run after a build, and the lock that serializes builds.

A marker file stays in the data folder from a successful build until its deploy succeeds,
so a failed deploy is retried by the next tick even when nothing else changed.
"""

from __future__ import annotations

import fcntl
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from publisher.config import Config
from publisher.errors import PublisherError

log = logging.getLogger(__name__)


class DeployError(PublisherError):
    """`[site] deploy` failed; the site stays built and the next tick runs it again."""

    exit_code = 1


def deploy_marker(config: Config) -> Path:
    """Present while a successful build has not been deployed yet."""
    return config.data_dir / "deploy-pending"


@contextmanager
def site_lock(config: Config) -> Iterator[bool]:
    """Hold `data/site.lock` (flock); yields False after `[scheduler] lock_wait` without it."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + config.scheduler.lock_wait.total_seconds()
    with open(config.data_dir / "site.lock", "w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def deploy(config: Config) -> None:
    """Run `[site] deploy` in the site root, its output logged; DeployError when it fails."""
    command = config.site.deploy
    log.info("deploy: running %s", command)
    try:
        done = subprocess.run(
            command,
            shell=True,
            cwd=config.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=config.scheduler.deploy_timeout.total_seconds(),
        )
    except subprocess.TimeoutExpired:
        raise DeployError(
            f"deploy: {command!r} ran longer than {config.scheduler.deploy_timeout}; "
            "the next tick tries again"
        ) from None
    for line in done.stdout.splitlines():
        log.info("deploy: %s", line)
    if done.returncode != 0:
        raise DeployError(
            f"deploy: {command!r} exited with status {done.returncode}; "
            "the site is built and the next tick tries again"
        )
    deploy_marker(config).unlink(missing_ok=True)
