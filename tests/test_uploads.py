"""Pictures uploaded in the console (`content.uploads`): raster only, upright, at most
MAX_WIDTH wide, no EXIF left (GPS), WebP stored in a format mail clients show, and the
stored file's size is what the email gives its picture."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from publisher.config import load_config
from publisher.content.uploads import MAX_WIDTH, UploadError, save_picture
from publisher.mail.images import email_size

from conftest import png

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def photo(width: int, height: int, fmt: str = "JPEG", **save: object) -> bytes:
    out = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, (width, height), (200, 120, 40, 255)[: len(mode)]).save(out, fmt, **save)
    return out.getvalue()


def camera_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 6 = turn 90 degrees clockwise to show
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    exif[0x8825] = gps  # GPSInfo: where the photo was taken
    return exif


def test_a_phone_photo_is_turned_upright_shrunk_and_loses_its_exif(site: Path) -> None:
    config = load_config()
    data = photo(4000, 3000, exif=camera_exif(6).tobytes())
    assert b"PhoneMaker" in data

    upload = save_picture(config, data, "IMG_2041 Spring Clinic.JPG", NOW)

    assert upload.url.startswith("/static/uploads/2026/img-2041-spring-clinic-")
    assert upload.url.endswith(".jpg")
    assert upload.path == site / "templates/site" / upload.url.lstrip("/")
    stored = upload.path.read_bytes()
    assert b"PhoneMaker" not in stored
    with Image.open(upload.path) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert image.size == (upload.width, upload.height) == (MAX_WIDTH, 2133)  # upright
    assert oct(upload.path.stat().st_mode & 0o777) == "0o644"
    # The email reads the size from the stored file.
    picture = email_size(config, upload.url, 600)
    assert (picture.width, picture.height) == (600, 800)
    # The same picture again is the same file.
    assert save_picture(config, data, "IMG_2041 Spring Clinic.JPG", NOW) == upload


def test_webp_becomes_jpeg_and_a_see_through_png_stays_png(site: Path) -> None:
    config = load_config()
    webp = save_picture(config, photo(800, 600, "WEBP"), "banner.webp", NOW)
    assert webp.url.endswith(".jpg") and (webp.width, webp.height) == (800, 600)
    logo = save_picture(config, photo(300, 100, "PNG"), "logo.png", NOW)
    with Image.open(logo.path) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (300, 100))


def test_an_animated_gif_keeps_its_frames_when_shrunk(site: Path) -> None:
    frames = [Image.new("RGB", (2000, 500), c) for c in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    upload = save_picture(load_config(), out.getvalue(), "wave.gif", NOW)
    with Image.open(upload.path) as image:
        assert (image.format, image.size, image.n_frames) == ("GIF", (MAX_WIDTH, 400), 3)


def bomb_png(width: int, height: int) -> bytes:
    """A PNG header claiming `width` x `height` pixels, with next to no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>', "a.svg", "SVG"),
        (png(10, 10), "disguised.svg", "SVG"),
        (b"%PDF-1.7 not a picture", "flyer.pdf", "not a JPEG, PNG, WebP or GIF"),
        (photo(20, 20, "BMP"), "old.bmp", "not a JPEG, PNG, WebP or GIF"),
        (photo(200, 200)[:700], "cut.jpg", "damaged"),
        (bomb_png(60_000, 60_000), "bomb.png", "more than 50 megapixels"),
        (bomb_png(8000, 7000), "wide.png", "8000x7000 pixels is more than 50 megapixels"),
    ],
)
def test_refused_uploads_say_why_and_write_nothing(
    site: Path, data: bytes, name: str, says: str
) -> None:
    with pytest.raises(UploadError, match=says) as refused:
        save_picture(load_config(), data, name, NOW)
    assert str(refused.value).startswith(f"{name}: ")
    assert not (site / "templates").exists()
