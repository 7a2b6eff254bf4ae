"""All disk output of a build, written so that a failed build changes nothing.

Files go into a fresh folder beside the output (same file system, so renames are atomic);
`commit()` swaps it in for the old output in one step and `discard()` throws it away. The
previous output is kept readable until the swap, so unchanged pages are reused from it by
hard link instead of being rendered again. Writing the same path twice is a bug (two posts
or tags that map to one URL) and raises instead of silently keeping the last one.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from .errors import PublisherError

RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths atomically
AT_FDCWD = -100


class Writer:
    """Writes one build into a staging folder, then swaps it in for `output`."""

    def __init__(self, output: Path):
        self.output = output.resolve()
        if self.output.exists() and not self.output.is_dir():
            raise PublisherError(f"{output}: exists and is not a folder; move it away")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(
            tempfile.mkdtemp(prefix=f"{self.output.name}.tmp-", dir=self.output.parent)
        )
        umask = os.umask(0)
        os.umask(umask)
        self.staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; a site is public
        self.written: set[str] = set()
        self._folders: set[Path] = {self.staging}

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.staging.exists():
            self.discard()

    def _target(self, path: str) -> Path:
        """The staging file for `path` (relative, with /), claimed once per build."""
        if path in self.written:
            raise PublisherError(f"{path}: two pages of the site would be written to this file")
        self.written.add(path)
        target = self.staging / path
        if target.parent not in self._folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(target.parent)
        return target

    def write(self, path: str, content: str | bytes) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        self._target(path).write_bytes(data)

    def reuse(self, path: str) -> bool:
        """Take `path` unchanged from the previous output; False when it is not there."""
        previous = self.output / path
        if path in self.written or not previous.is_file():
            return False
        target = self._target(path)
        try:
            os.link(previous, target)
        except OSError:
            shutil.copy2(previous, target)
        return True

    def copy(self, source: Path, path: str) -> None:
        shutil.copyfile(source, self._target(path))

    def commit(self) -> None:
        """Put the staged build in place of the output, then delete the old output."""
        if not self.output.exists():
            os.rename(self.staging, self.output)
            return
        if not _exchange(self.staging, self.output):
            old = Path(tempfile.mkdtemp(prefix=f"{self.output.name}.old-", dir=self.output.parent))
            os.rename(self.output, old / "site")
            os.rename(self.staging, self.output)
            self.staging = old
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return result == 0
