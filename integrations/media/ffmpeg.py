"""Where the FFmpeg binary comes from: `FFMPEG_BINARY`, an `ffmpeg` on PATH, or the bundled one."""

from __future__ import annotations

import shutil
from functools import lru_cache

from config.settings import get_settings


@lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """Path of the ffmpeg to run; the imageio-ffmpeg wheel's static build when nothing else is set."""
    configured = get_settings().ffmpeg_binary
    if configured:
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()
