"""Fetch the console's Markdown editor (OverType, MIT) at its pinned version and vendor it.

The console ships the library's prebuilt file in the package, as Datasette ships its
CodeMirror bundle, so installing publisher needs no Node and loads nothing from a third
party. This script is how that file got there and how it is upgraded: change VERSION and
INTEGRITY (`npm view overtype@X dist.integrity`), run `python3 tools/vendor_editor.py`,
look at the console's editor, run tests/test_console_browser.py, commit the folder.

It needs `npm` and `node` (a developer's machine, not a server): `npm pack` fetches the
package from the registry, the tarball's sha512 must match INTEGRITY, and `node` renders
the library's own stylesheet to a file (`overtype.css`): the console's Content-Security-
Policy allows no inline style, so the style element the library would add is not used.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

NAME = "overtype"
VERSION = "2.4.0"
INTEGRITY = "sha512-V5HJcdwyN/Lye1vvU0d47y1VaEqSGsWRdCa3ZCZB/DZHdR840i1z0oBGYAmbLe/I2H2cxLx9Bv3tuVl4dTgUpA=="
TARGET = Path(__file__).resolve().parent.parent / "publisher/templates/admin/static/vendor" / NAME
FILES = {"package/dist/overtype.min.js": "overtype.min.js", "package/LICENSE": "LICENSE"}
# The bundle includes two MIT-licensed packages of its own (package.json "dependencies").
BUNDLED = "@floating-ui/dom (MIT, Floating UI contributors), markdown-actions (MIT)"

RENDER_CSS = """
import { generateStyles } from "./package/src/styles.js";
process.stdout.write(generateStyles({}));
"""


def fetch(work: Path) -> Path:
    """The package's tarball from the registry, checked against the pinned integrity."""
    subprocess.run(
        ["npm", "pack", f"{NAME}@{VERSION}", "--pack-destination", str(work), "--silent"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tarball = work / f"{NAME}-{VERSION}.tgz"
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != INTEGRITY:
        sys.exit(f"error: {tarball.name} is not the pinned {NAME} {VERSION} (sha512 differs)")
    return tarball


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        with tarfile.open(fetch(work)) as archive:
            archive.extractall(work, filter="data")
        css = subprocess.run(
            ["node", "--input-type=module", "-e", RENDER_CSS],
            cwd=work,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        if TARGET.exists():
            shutil.rmtree(TARGET)
        TARGET.mkdir(parents=True)
        for source, name in FILES.items():
            shutil.copyfile(work / source, TARGET / name)
        header = f"/* OverType {VERSION} (MIT): its generateStyles(), see tools/vendor_editor.py */"
        (TARGET / "overtype.css").write_text(header + "\n" + css.strip() + "\n", "utf-8")
        (TARGET / "VERSION").write_text(
            f"{NAME} {VERSION} {INTEGRITY}\nbundles: {BUNDLED}\n"
            "fetched by tools/vendor_editor.py; do not edit these files by hand\n",
            "utf-8",
        )
    print(f"{NAME} {VERSION} -> {TARGET}")


if __name__ == "__main__":
    main()
