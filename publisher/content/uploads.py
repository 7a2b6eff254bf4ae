"""Pictures staff upload in the console: checked, resized, stripped of their metadata and
written under the site's static folder, where the site, `check` and the email find them.

Every upload is hostile: only the raster formats Pillow reads and mail clients or browsers
show are opened (JPEG, PNG, WebP, GIF; SVG can carry scripts and is refused), the pixel
count is read from the header and capped before anything is decoded (a decompression
bomb is a small file that unpacks to gigabytes), and the picture is re-encoded, so the
camera's EXIF (GPS position, device, time) never reaches the web. WebP is written as JPEG
or PNG, since Gmail and Outlook drop it (`mail.images`). The stored file's width and
height are its own, so the page and the email read them from its header.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from publisher.config import Config
from publisher.content.frontmatter import slugify
from publisher.errors import PublisherError

READ = ("JPEG", "PNG", "WEBP", "GIF")  # the decoders an upload may reach, no others
MAX_PIXELS = 50_000_000  # a 50-megapixel camera's photo; a bomb claims far more
MAX_WIDTH = 1600  # twice the post column, sharp on high-density screens and in email
MAX_BYTES = 20 * 1024 * 1024
FOLDER = "static/uploads"  # under templates/site/, so `static/uploads/...` on the site


class UploadError(PublisherError):
    """An upload that is not a picture the site can use; the message says what to send."""


@dataclass(frozen=True)
class Upload:
    """A stored picture: its address on the site (`image:` takes it as is), file, size."""

    url: str
    path: Path
    width: int
    height: int


def save_picture(config: Config, data: bytes, filename: str, now: datetime) -> Upload:
    """Check, resize and store an uploaded picture; the same bytes give the same file."""
    picture = _open(data, filename)
    image, kind = _prepared(picture)
    encoded = _encode(image, kind, picture)
    digest = hashlib.sha256(encoded).hexdigest()[:10]
    stem = slugify(PurePosixPath(filename.replace("\\", "/")).stem)[:60] or "picture"
    name = f"{FOLDER}/{now:%Y}/{stem}-{digest}.{kind.lower().replace('jpeg', 'jpg')}"
    path = config.templates_dir / "site" / name
    if not path.exists():
        _write(path, encoded)
    width, height = image.size
    return Upload(f"/{name}", path, width, height)


def _open(data: bytes, filename: str) -> Image.Image:
    named = filename or "the file"
    if len(data) > MAX_BYTES:
        raise UploadError(f"{named}: larger than {MAX_BYTES // 2**20} MB; send a smaller picture")
    if data.lstrip()[:1] == b"<" or filename.lower().endswith((".svg", ".svgz")):
        raise UploadError(f"{named}: SVG is not taken (it can carry scripts); send a PNG or JPEG")
    too_big = f"more than {MAX_PIXELS // 1_000_000} megapixels; send a smaller picture"
    try:
        picture = Image.open(io.BytesIO(data), formats=READ)
    except Image.DecompressionBombError:  # Pillow's own, far higher, cap
        raise UploadError(f"{named}: {too_big}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise UploadError(f"{named}: not a JPEG, PNG, WebP or GIF picture") from None
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise UploadError(f"{named}: {width}x{height} pixels is {too_big}")
    try:
        picture.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        raise UploadError(f"{named}: the picture is damaged; export it again") from None
    return picture


def _prepared(picture: Image.Image) -> tuple[Image.Image, str]:
    """The picture upright (as the camera's orientation tag said), at most MAX_WIDTH wide,
    and the format to store it in."""
    if picture.format == "GIF" and getattr(picture, "is_animated", False):
        return picture, "GIF"  # frames are resized in `_encode`
    image = ImageOps.exif_transpose(picture)
    if image.width > MAX_WIDTH:
        image = image.resize(_fit(image.size), Image.Resampling.LANCZOS)
    see_through = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if picture.format == "JPEG" or (picture.format == "WEBP" and not see_through):
        return image.convert("RGB"), "JPEG"  # photos stay photos
    return image.convert("RGBA" if see_through else "RGB"), "PNG"  # drawings stay sharp


def _encode(image: Image.Image, kind: str, picture: Image.Image) -> bytes:
    """The picture re-encoded with no metadata but its colour profile (no EXIF, no text)."""
    out = io.BytesIO()
    profile = picture.info.get("icc_profile")
    if kind == "GIF":
        frames = [_fitted(frame.copy()) for frame in ImageSequence.Iterator(picture)]
        frames[0].save(
            out,
            "GIF",
            save_all=True,
            append_images=frames[1:],
            loop=picture.info.get("loop", 0),
            duration=picture.info.get("duration", 100),
        )
    elif kind == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True, icc_profile=profile)
    else:
        image.save(out, "PNG", optimize=True, icc_profile=profile)
    return out.getvalue()


def _fitted(frame: Image.Image) -> Image.Image:
    return frame.resize(_fit(frame.size)) if frame.width > MAX_WIDTH else frame


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    return MAX_WIDTH, max(1, round(height * MAX_WIDTH / width))


def _write(path: Path, data: bytes) -> None:
    """Write whole or not at all: a crash leaves no half picture for the site to copy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(temporary, 0o644)  # the web server reads the site's static files
    os.replace(temporary, path)
