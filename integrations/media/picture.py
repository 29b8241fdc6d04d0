"""A video of one still picture over an audio-only recording, so that it can be published.

YouTube and VK take videos, and Zoom writes `audio_only` M4A recordings: the rule's thumbnail
becomes the picture, one frame a second (`-tune stillimage`: 4 s of CPU per 5 minutes at
720p), the audio is copied as it is. The picture lasts to the end of the sound's last second.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from integrations.media.errors import MediaError, MediaVerificationError, UnsupportedMediaError
from integrations.media.ffmpeg import run_ffmpeg
from integrations.media.output import atomic_output
from integrations.media.probe import probe


def still_video(
    picture: Path,
    audio: Path,
    destination: Path,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Write `destination` (MP4, index first): `picture` for as long as `audio` plays."""
    info = probe(audio)
    if info.audio is None:
        raise UnsupportedMediaError(f"{audio.name} has no audio to put under a picture")
    args = [
        "-loop", "1", "-framerate", "1", "-i", str(picture), "-i", str(audio),
        "-map", "0:v:0", "-map", "1:a:0", "-t", f"{info.duration:.6f}",
        # Even dimensions and 4:2:0, which every player and both platforms take.
        "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-c:a", "copy",
        "-movflags", "+faststart", "-f", "mp4",
    ]  # fmt: skip
    with atomic_output(destination) as temp:
        run_ffmpeg(
            [*args, "-y", str(temp)],
            timeout=120 + info.duration,
            duration=info.duration,
            progress=progress,
        )
        try:
            made = probe(temp)
        except MediaError as exc:
            raise MediaVerificationError(f"{destination.name} cannot be read back: {exc}") from exc
        if made.video is None or made.audio is None or abs(made.duration - info.duration) > 1.0:
            raise MediaVerificationError(
                f"{destination.name}: expected a picture and sound for {info.duration:.1f} s, "
                f"got {made.duration:.1f} s (video: {made.video is not None})"
            )
