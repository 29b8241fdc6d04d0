"""What the processing profiles (loudness, compression) will write, checked before they run.

Kept apart from the profiles themselves: the check needs only the input's size and duration and
the profiles' settings, and runs before any FFmpeg process starts.
"""

from __future__ import annotations

from pathlib import Path

from config.processing import ProcessingProfiles
from integrations.media.output import check_free_space

# A whole video re-encoded: about what Zoom's recordings give (integrations/media/trim.py's
# REENCODE_GROWTH), generous so that the check does not refuse an output that fits.
REENCODE_GROWTH = 1.5
# The MP4 index: about 0.9 MB per hour of video and audio; the constant covers short files.
INDEX_BYTES_PER_SECOND = 400
INDEX_BYTES_MIN = 1024 * 1024


def estimate_profile_bytes(media_bytes: int, duration: float, profiles: ProcessingProfiles) -> int:
    """Bytes the profiles write for an input of `media_bytes` lasting `duration` seconds.

    The video is copied (or, with compression, re-encoded with some growth); with loudness the
    audio is re-encoded at its bitrate on top (the input's own audio is not subtracted: its
    size is unknown without reading the file); plus the index.
    """
    data = media_bytes * (REENCODE_GROWTH if profiles.compression.enabled else 1.0)
    if profiles.loudness.enabled:
        kbps = int(profiles.loudness.audio_bitrate.removesuffix("k"))
        data += kbps * 1000 / 8 * duration
    return int(data) + max(INDEX_BYTES_MIN, int(INDEX_BYTES_PER_SECOND * duration))


def check_profile_space(
    media: Path,
    destination: Path,
    duration: float,
    profiles: ProcessingProfiles,
    reserve_mb: float,
) -> None:
    """Raise `InsufficientSpaceError` (before any work) unless what the enabled profiles will
    write from `media` to `destination`, plus the reserve (MIN_FREE_DISK_MB), fits."""
    needed = estimate_profile_bytes(Path(media).stat().st_size, duration, profiles)
    check_free_space(destination, needed, reserve_mb, "for the processing profiles")
