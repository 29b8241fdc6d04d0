"""Cut an audio-only recording (Zoom's `audio_only` M4A) to the sample, without re-encoding.

An AAC packet decodes with the one before it (each overlaps its predecessor by a window), so a
copy starting at the packet that holds the cut plays its first milliseconds wrong: FFmpeg's
plain `-ss` copy does that (measured: up to 0.12 off in the first 6 ms of a tone). Here the
copy starts `PREROLL` seconds earlier and the output's timestamps are moved so that the cut is
time 0: the MP4 muxer writes an edit list that starts inside the kept packets, and decoders
decode the pre-roll and play the sound from the exact sample on (measured: the samples equal
the source's decoded from the beginning, within 2e-5). The end is the end of the packet that
holds the asked end: at most one packet later (1024 samples of AAC: 21 ms at 48 kHz).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from integrations.media.errors import MediaVerificationError
from integrations.media.ffmpeg import run_ffmpeg
from integrations.media.probe import MediaInfo
from integrations.media.verify import decode_errors, first_timestamps, read_back

# More than a decoder needs before the cut: AAC one packet (21-64 ms), MP3 two frames (its bit
# reservoir), Opus 80 ms. Decoders decode it; the edit list hides it.
PREROLL = 0.1
LONGEST_PACKET = 0.12  # Opus's longest; AAC's are 1024 or 2048 samples
_TOLERANCE = 1e-3


def cut_audio(
    source: Path,
    info: MediaInfo,
    start: float,
    end: float,
    output: Path,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Copy the first audio stream's [start, end) seconds (from the source's start) to `output`,
    an MP4 (M4A) with its index first."""
    seek = max(0.0, start - PREROLL)
    args = [
        "-ss", f"{seek:.6f}", "-t", f"{end - seek:.6f}", "-i", str(source),
        "-map", "0:a:0", "-c", "copy", "-output_ts_offset", f"{seek - start:.6f}",
        "-movflags", "+faststart", "-f", "mp4", "-y", str(output),
    ]  # fmt: skip
    run_ffmpeg(args, timeout=120 + end - start, duration=end - start, progress=progress)


def verify_audio_cut(path: Path, expected: float, name: str) -> None:
    """Raise `MediaVerificationError` unless `path` is an audio-only MP4 with its index first,
    starting at 0, lasting `expected` seconds to one packet more, and decoding cleanly."""
    info = read_back(path, name)
    if info.audio is None or info.video is not None:
        raise MediaVerificationError(f"{name} is not one audio stream")
    longest = expected + LONGEST_PACKET
    if not expected - _TOLERANCE <= info.duration <= longest + _TOLERANCE:
        raise MediaVerificationError(
            f"{name}: lasts {info.duration:.3f} s, expected {expected:.3f}-{longest:.3f} s"
        )
    first = first_timestamps(path)[1]
    if first is None or abs(first) > _TOLERANCE:
        raise MediaVerificationError(f"{name}: the sound starts at {first} s, not at 0")
    for at in (0.0, max(0.0, info.duration - 1.0)):
        if errors := decode_errors(path, at, 1.0):
            raise MediaVerificationError(
                f"{name}: decoding 1 s from {at:.1f} s reports errors: {errors.splitlines()[0]}"
            )
