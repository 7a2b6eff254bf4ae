"""All disk output of a build, written so that a failed build changes nothing.

Files go into a staging folder beside the output (same file system, so renames are atomic);
`commit()` swaps it in for the old output in one step, `discard()` drops it. Writing the
same path twice is a bug (two posts or tags mapping to one URL) and raises instead of
silently keeping the last one.

Making a fresh tree of a thousand folders and deleting the old one costs more than the
rest of an incremental build, so the old output is kept beside the new one as
`<output>.spare` and recycled as the next staging folder: its folders already exist, and an
unchanged page that is already the same file (hard link) as the live one is left alone.
A page is only ever replaced by unlinking and creating, never edited in place, because
the spare's files are hard links to the live site's.

Measured by switching each off (`bench/build_bench.py`, 3-6 interleaved runs on a busy
2-core machine, CPU = user + system of all processes):

- recycling the spare: making a fresh tree and deleting the old one cost 100-109% more CPU
  (3-10x the wall time) of the one-post-changed rebuild at 5,000 posts.
- two writer threads: one cost 11-25% more wall time (0-13% CPU) of the full build at
  1,000 posts.
- hard-link reuse: copying unchanged files instead cost -1 to +1% CPU, within noise; kept
  because an unchanged file stays the very same file (tests rely on it) and the spare and
  the live site share their disk space.
- `renameat2` through ctypes: the two-rename fallback cost nothing measurable (-5 to
  +2%); kept because it is what makes the swap atomic: with two renames there is a moment
  with no site at all.

A staging folder is named `<output>.tmp-<process id>-...`, so the next build can remove the
ones a killed build left behind (their process is gone) without touching a concurrent
build's. A full disk, a read-only file system or a permission error stops the build as an
`OutputError` naming the path; the staging folder is deleted, the live site untouched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from publisher.errors import PublisherError

RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths atomically
AT_FDCWD = -100
WRITE_THREADS = 2
STALE_SECONDS = 24 * 3600  # a staging folder of unknown owner this old is a dead build's
_STAGING_RE = re.compile(r"\.tmp-(?:(\d+)-)?")


class OutputError(PublisherError):
    """The disk refused a file (full, read-only, no permission); the old output stays."""

    exit_code = 1


@contextlib.contextmanager
def disk_errors() -> Iterator[None]:
    """Turn an OSError into an OutputError naming the path (also a decorator)."""
    try:
        yield
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or str(exc)
        raise OutputError(
            f"{where}{reason}; the build stopped and the site was left as it was"
        ) from exc


class Writer:
    """Writes one build into a staging folder, then swaps it in for `output`."""

    def __init__(self, output: Path):
        self.output = output.resolve()
        if self.output.exists() and not self.output.is_dir():
            raise PublisherError(f"{output}: exists and is not a folder; move it away")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.spare = self.output.with_name(self.output.name + ".spare")
        remove_dead_staging(self.output)
        self.staging = Path(
            tempfile.mkdtemp(
                prefix=f"{self.output.name}.tmp-{os.getpid()}-", dir=self.output.parent
            )
        )
        # Onto the empty folder mkdtemp made; no spare yet (or another build took it):
        # start from nothing.
        with contextlib.suppress(OSError):
            os.rename(self.spare, self.staging)
        umask = os.umask(0)
        os.umask(umask)
        self.staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; a site is public
        self.written: set[str] = set()
        self._folders: set[str] = {""}

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, OSError):
            if exc.filename:  # name the page, not the staging folder that is deleted now
                exc.filename = str(exc.filename).replace(str(self.staging), str(self.output))
            shutil.rmtree(self.staging, ignore_errors=True)
        elif self.staging.exists():
            self.discard()

    def _claim(self, path: str, exists: bool = False, deferred: bool = False) -> str:
        """The staging file for `path` (relative, with /), claimed once per build.

        `exists`: the staging file is known to be there, so its folder is too;
        `deferred`: the caller makes the folder. Plain strings rather than Path objects:
        this runs for every page of the site.
        """
        if path in self.written:
            raise PublisherError(f"{path}: two pages of the site would be written to this file")
        self.written.add(path)
        folder, _, _ = path.rpartition("/")
        if folder not in self._folders:
            if not (exists or deferred) and not os.path.isdir(f"{self.staging}/{folder}"):
                _make_folder(self.staging / folder, self.staging)
            self._folders.add(folder)
        return f"{self.staging}/{path}"

    def _replace(self, path: str) -> str:
        """Claim `path` and clear what the recycled staging folder holds there."""
        target = self._claim(path)
        _remove(target)
        return target

    def write(self, path: str, content: str | bytes) -> None:
        _store(self._replace(path), content)

    def write_many(self, files: Iterable[tuple[str, str | bytes]]) -> Iterator[str]:
        """Write many files, yielding each path once written.

        Paths are claimed here, in order (so a duplicate still raises), and the files
        written by a few threads: on the disks we build on, creating a folder or a file
        costs about half a millisecond of kernel time, most of a full build, and the
        kernel does two at once in about half the time.
        """
        with ThreadPoolExecutor(WRITE_THREADS) as pool:
            pending = [
                (
                    path,
                    pool.submit(
                        self._write_claimed, path, self._claim(path, deferred=True), content
                    ),
                )
                for path, content in files
            ]
            for path, future in pending:
                future.result()
                yield path

    def _write_claimed(self, path: str, target: str, content: str | bytes) -> None:
        folder = path.rpartition("/")[0]
        if folder and not os.path.isdir(f"{self.staging}/{folder}"):
            _make_folder(self.staging / folder, self.staging)
        _remove(target)
        _store(target, content)

    def reuse(self, path: str) -> bool:
        """Take `path` unchanged from the current output; False when it is not there."""
        live_path, target = f"{self.output}/{path}", f"{self.staging}/{path}"
        try:
            live = os.stat(live_path)
        except OSError:
            return False
        if path in self.written:
            return False
        try:
            staged = os.stat(target)
            same = (staged.st_ino, staged.st_dev) == (live.st_ino, live.st_dev)
        except OSError:
            same = False
        self._claim(path, exists=same)
        if same:
            return True  # already the very same file
        _remove(target)
        try:
            os.link(live_path, target)
        except OSError:
            shutil.copy2(live_path, target)
        return True

    def copy(self, source: Path, path: str) -> None:
        target = self._replace(path)
        with _naming(target):
            shutil.copyfile(source, target)

    def commit(self) -> None:
        """Drop what this build did not write, then swap the staging folder in."""
        self._prune()
        if not self.output.exists():
            os.rename(self.staging, self.output)
            return
        if not _exchange(self.staging, self.output):  # two renames where it is unsupported
            old = self.staging.with_name(self.staging.name + "-old")
            os.rename(self.output, old)
            os.rename(self.staging, self.output)
            self.staging = old
        self.discard()  # the old output becomes the spare

    def discard(self) -> None:
        """Keep the staging folder as the spare (its contents never matter), or delete it
        when there already is one (another build finished at the same time)."""
        try:
            os.rename(self.staging, self.spare)
        except OSError:
            shutil.rmtree(self.staging, ignore_errors=True)

    def _prune(self) -> None:
        """Delete the recycled files and folders that are not part of this build."""
        keep = {""}
        for folder in self._folders:
            while folder not in keep:
                keep.add(folder)
                folder = folder.rpartition("/")[0]
        root = str(self.staging)
        for folder, subfolders, files in os.walk(root, topdown=False):
            relative = folder[len(root) + 1 :]
            prefix = relative + "/" if relative else ""
            for name in files:
                if prefix + name not in self.written:
                    os.unlink(f"{folder}/{name}")
            for name in subfolders:
                if prefix + name not in keep:
                    _remove(f"{folder}/{name}")


def remove_dead_staging(output: Path) -> None:
    """Delete the staging folders beside `output` that a killed build left: its process is
    gone, or (named without one) it is older than STALE_SECONDS."""
    prefix = output.name + ".tmp-"
    for folder in output.parent.iterdir():
        if not folder.name.startswith(prefix):
            continue
        match = _STAGING_RE.match(folder.name, len(output.name))
        owner = int(match.group(1)) if match and match.group(1) else None
        if owner is None:
            dead = time.time() - folder.lstat().st_mtime > STALE_SECONDS
        else:
            dead = not _running(owner)
        if dead:
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def _naming(target: str) -> Iterator[None]:
    """Put `target` in an OSError that lacks a path (a failed write() does not say where)."""
    try:
        yield
    except OSError as exc:
        exc.filename = exc.filename or target
        raise


def _store(target: str, content: str | bytes) -> None:
    with _naming(target), open(target, "wb") as file:
        file.write(content.encode("utf-8") if isinstance(content, str) else content)


def _remove(path: Path | str) -> None:
    """Delete a file, link or folder at `path`, if there is one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)


def _make_folder(folder: Path, root: Path) -> None:
    """mkdir -p, removing recycled files that stand where a folder must be."""
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        for parent in [*reversed(folder.relative_to(root).parents), folder.relative_to(root)]:
            if (root / parent).is_file() or (root / parent).is_symlink():
                os.unlink(root / parent)
        os.makedirs(folder, exist_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    return renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0
