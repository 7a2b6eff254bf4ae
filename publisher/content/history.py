"""Post files saved from the console, committed to the site's git repository, so its
history says who changed what (`[admin] git_commit`, when the site folder has `.git`).

`git` runs as a subprocess with a time limit; a commit that fails (git missing, a hook
refusing, a lock held) is logged and the save stands: the file is written either way.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from publisher.config import Config

log = logging.getLogger(__name__)

GIT_SECONDS = 15
COMMITTER = ("publisher console", "console@publisher.invalid")


def commit_file(config: Config, path: Path, message: str, name: str, email: str) -> bool:
    """Commit `path` (written, or moved away) alone, authored by `name <email>`; whether a
    commit was made."""
    if not config.admin.git_commit or not (config.root / ".git").exists():
        return False
    relative = path.relative_to(config.root).as_posix()
    env_committer = [f"user.name={COMMITTER[0]}", f"user.email={COMMITTER[1]}"]
    steps = [
        ["add", "--all", "--", relative],
        [
            "commit",
            "--quiet",
            "--no-verify",
            f"--author={name} <{email}>",
            "-m",
            message,
            "--",
            relative,
        ],
    ]
    for step in steps:
        command = ["git", *(arg for pair in env_committer for arg in ("-c", pair)), *step]
        try:
            done = subprocess.run(
                command,
                cwd=config.root,
                capture_output=True,
                text=True,
                timeout=GIT_SECONDS,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("%s saved, not committed: git %s: %s", relative, step[0], exc)
            return False
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["failed"]
            log.warning("%s saved, not committed: git %s: %s", relative, step[0], why[0])
            return False
    return True
