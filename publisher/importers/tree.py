"""The old blog's folder, read without ever leaving it.

An import reads what SRC holds and nothing else, since SRC may come from anywhere: a
`_posts/key.md` that is a symbolic link to `config/dkim.pem` or `/etc/passwd` would
otherwise be published at once, in its page, its description, the index and the feeds.
So a symbolic link (to a file or a folder, pointing in or out) is named and never
followed, a folder reached through one is never walked, a file is opened only when it
is a regular file reached through no link, and a file over a size cap is refused with a
line.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from publisher.errors import PublisherError
from publisher.importers.model import Harvest

SYMLINK = (
    "a symbolic link, not followed (an import reads only the files inside the folder it "
    "is given); copy the file itself in to import it"
)
SETTINGS_BYTES = 1_000_000  # a settings file (_config.yml, hugo.toml, pelicanconf.py)
# Open without following a link at the last step; without blocking on a FIFO.
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class Refused(Exception):
    """A file an import does not read; the message says why (and what to do)."""


def inside(root: Path, path: Path) -> bool:
    """`path` is `root` or under it, and reached from it through no symbolic link."""
    try:
        relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return False
    real = os.path.normpath(os.path.join(os.path.realpath(root), relative))
    return os.path.realpath(path) == real


def folder(src: Path, relative: str | Path) -> Path:
    """The folder `relative` of the old site; a PublisherError when it is a symbolic link
    or leaves SRC (Pelican's PATH may be any path)."""
    path = src / relative
    if not inside(src, path):
        raise PublisherError(
            f"{src}: {relative} is a symbolic link or outside the folder, not followed (an "
            "import reads only the files inside the folder it is given); give the folder "
            "that holds the site itself"
        )
    return path


def files(found: Harvest, top: Path) -> list[Path]:
    """Every regular file under `top`, in a stable order; hidden folders left out, and
    each symbolic link (file or folder) and other special file named in `found`."""
    if not inside(found.src, top):
        found.skip(top, SYMLINK)
        return []
    result = []
    for parent, dirs, names in os.walk(top):  # never enters a linked folder itself
        dirs.sort()
        for name in list(dirs):
            path = Path(parent, name)
            if name.startswith(".") or path.is_symlink():
                dirs.remove(name)
                if not name.startswith("."):
                    found.skip(path, SYMLINK)
        for name in sorted(names):
            path = Path(parent, name)
            kind = path.lstat().st_mode
            if stat.S_ISLNK(kind):
                found.skip(path, SYMLINK)
            elif not stat.S_ISREG(kind):
                found.skip(path, "not a regular file (a pipe, socket or device)")
            else:
                result.append(path)
    return sorted(result)


def read(src: Path, path: Path, cap: int, advice: str) -> bytes:
    """The bytes of a regular file inside `src`, at most `cap` of them; Refused when it is
    a symbolic link, not a regular file, unreadable, or over `cap` (`advice` then says
    what to do)."""
    if not inside(src, path):
        raise Refused(SYMLINK)
    try:
        handle = os.open(path, _FLAGS)
    except OSError as exc:
        raise Refused(
            SYMLINK if exc.errno == errno.ELOOP else f"cannot be read ({exc.strerror})"
        ) from None
    with os.fdopen(handle, "rb") as file:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise Refused("not a regular file (a pipe, socket or device)")
        data = file.read(cap + 1)
    if len(data) > cap:
        raise Refused(f"over {size(cap)}{advice}")
    return data


def size(count: int) -> str:
    """'1 MB', '20 MB', '512 KB'."""
    return f"{count // 1_000_000:g} MB" if count >= 1_000_000 else f"{count // 1000:g} KB"


def settings_text(found: Harvest, name: str) -> str | None:
    """The old site's settings file `name` as text, or None when there is none; a link,
    a file too large or not UTF-8 is named in `found` and not read."""
    path = found.src / name
    if not os.path.lexists(path):
        return None
    try:
        return read(found.src, path, SETTINGS_BYTES, "; its settings were not read").decode()
    except Refused as problem:
        found.skip(path, str(problem))
    except UnicodeDecodeError:
        found.skip(path, "not UTF-8 text; its settings were not read (save it as UTF-8)")
    return None
