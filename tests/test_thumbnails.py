"""Thumbnail checks: existence, JPEG/PNG by content, the 2 MB limit."""

from __future__ import annotations

import pytest

from integrations.thumbnails import (
    MAX_THUMBNAIL_BYTES,
    ThumbnailError,
    check_thumbnail,
    detect_image_type,
)


def test_jpeg_and_png_are_recognised_by_content(tmp_path):
    jpeg = tmp_path / "a.png"  # the name does not matter
    jpeg.write_bytes(b"\xff\xd8\xff\xdb" + b"\0" * 100)
    png = tmp_path / "b.jpg"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    assert check_thumbnail(jpeg) == "image/jpeg"
    assert check_thumbnail(png) == "image/png"


def test_exactly_two_megabytes_is_allowed(tmp_path):
    path = tmp_path / "max.jpg"
    path.write_bytes(b"\xff\xd8\xff" + b"\0" * (MAX_THUMBNAIL_BYTES - 3))
    assert check_thumbnail(path) == "image/jpeg"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xd8\xff" + b"\0" * MAX_THUMBNAIL_BYTES, "limit is 2 MB"),
        (b"GIF89a" + b"\0" * 10, "not a JPEG or PNG"),
        (b"", "not a JPEG or PNG"),
        (None, "does not exist"),
    ],
)
def test_bad_thumbnails_say_what_to_fix(tmp_path, content, message):
    path = tmp_path / "thumb.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ThumbnailError, match=message) as info:
        check_thumbnail(path)
    assert str(path) in str(info.value)


def test_a_directory_is_not_a_thumbnail(tmp_path):
    with pytest.raises(ThumbnailError, match="does not exist"):
        check_thumbnail(tmp_path)


def test_detect_image_type():
    assert detect_image_type(b"\x89PNG\r\n\x1a\nxxxx") == "image/png"
    assert detect_image_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert detect_image_type(b"RIFF....WEBP") is None
