"""Where the documentation is, for `publisher --help` and the messages that point into it.

The documentation is the docs/ folder of publisher's source, built into a site by MkDocs
(`mkdocs serve`). Messages name a page by its path there, through `docs_page`, so when the
docs are published at an address, changing `DOCS` here moves every pointer at once; a test
checks that every page named exists.
"""

from __future__ import annotations

DOCS = "docs/"


def docs_page(path: str) -> str:
    """Where one page is, for a message: docs_page("run/upgrades.md") -> docs/run/upgrades.md."""
    return DOCS + path
