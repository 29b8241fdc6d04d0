"""Thumbnail checks done before any upload, so a bad image fails before quota is spent.

YouTube's `thumbnails.set` takes JPEG or PNG up to 2 MB; VK covers take the same files. The
type is read from the file's first bytes, not its name.
"""

from __future__ import annotations

from pathlib import Path

from integrations.errors import IntegrationError

MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024

_MAGIC = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


class ThumbnailError(IntegrationError, ValueError):
    """A thumbnail that cannot be uploaded; the message says which file and what to change."""


def detect_image_type(head: bytes) -> str | None:
    """The MIME type (`image/jpeg` or `image/png`) of a file starting with `head`, else None."""
    for magic, mime in _MAGIC.items():
        if head.startswith(magic):
            return mime
    return None


def check_thumbnail(path: str | Path, max_bytes: int = MAX_THUMBNAIL_BYTES) -> str:
    """Check that `path` exists, is a JPEG or PNG and is at most `max_bytes`; return its MIME type.

    Raises `ThumbnailError` with what to fix otherwise.
    """
    file = Path(path)
    if not file.is_file():
        raise ThumbnailError(
            f"Thumbnail {file} does not exist. Fix the path in the title mapping "
            "(thumbnail_directory and the rule's thumbnail) or remove the thumbnail."
        )
    size = file.stat().st_size
    if size > max_bytes:
        raise ThumbnailError(
            f"Thumbnail {file} is {size / 1024 / 1024:.1f} MB; the limit is "
            f"{max_bytes / 1024 / 1024:.0f} MB. Save it smaller (e.g. 1280x720 JPEG, quality 85)."
        )
    with file.open("rb") as handle:
        mime = detect_image_type(handle.read(8))
    if mime is None:
        raise ThumbnailError(
            f"Thumbnail {file} is not a JPEG or PNG image (checked by its content, not its "
            "name). Convert it to JPEG or PNG."
        )
    return mime
