"""Whether a site has its subscriber store yet, told from the URL and the disk alone.

`publisher build` on a site that never sent anything must not create a store, and needs
nothing from one; asking SQLAlchemy would import it (a fifth of a second of every build).
"""

from __future__ import annotations

from pathlib import Path


def store_exists(url: str, root: Path) -> bool:
    """False for a SQLite store whose file is not there yet (or one in memory); True for a
    database server, whose tables the first command that opens it creates."""
    scheme, _, rest = url.partition("://")
    if scheme.split("+")[0] != "sqlite":
        return True
    database = rest.partition("/")[2].partition("?")[0]  # sqlite:///relative, ////absolute
    if not database or database == ":memory:":
        return False
    path = Path(database)
    return (path if path.is_absolute() else root / path).exists()
