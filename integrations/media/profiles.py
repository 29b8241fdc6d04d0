"""Optional processing profiles, off by default: loudness normalization and compression.

The models are meant to sit under `app_config.json` "processing", e.g.
`{"loudness": {"enabled": true, "integrated_lufs": -16}, "compression": {"enabled": true}}`.
Loudness is measured on the audio alone (`loudness.measure_loudness`), then one gain, with a peak
limiter only when the gain would push samples past the ceiling, is applied while the audio is
re-encoded on every core (`loudness_encode`); a last FFmpeg pass puts that audio beside the
video, copied (or re-encoded by the compression profile).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config.processing import CompressionProfile, LoudnessProfile, ProcessingProfiles
from integrations.media.errors import UnsupportedMediaError
from integrations.media.ffmpeg import run_ffmpeg
from integrations.media.loudness import (
    LoudnessGain,
    LoudnessMeasurement,
    measure_loudness,
    plan_gain,
)
from integrations.media.loudness_encode import encode_loudness
from integrations.media.output import atomic_output, temporary_output
from integrations.media.probe import MediaInfo, probe

logger = logging.getLogger(__name__)

MAX_PIECES = 4  # the audio is measured and encoded in at most this many parallel pieces
MIN_PIECE_SECONDS = 60.0  # ... each at least this long


@dataclass
class ProfileResult:
    """What `apply_profiles` did."""

    applied: list[str]
    loudness: LoudnessMeasurement | None = None
    gain: LoudnessGain | None = None
    dropped: tuple[str, ...] = ()  # streams left out: only the first video and audio are kept
    audio_pieces: int = 0  # how many pieces the audio was encoded in (0: copied)
    timings: dict[str, float] = field(default_factory=dict)


def default_pieces(info: MediaInfo) -> int:
    """One piece per core, up to MAX_PIECES, none shorter than MIN_PIECE_SECONDS."""
    longest = int((info.audio_duration or info.duration) // MIN_PIECE_SECONDS)
    return max(1, min(os.cpu_count() or 1, MAX_PIECES, longest))


def _video_filters(profile: CompressionProfile, source_fps: float) -> list[str]:
    filters = []
    if profile.max_fps and source_fps > profile.max_fps:
        filters.append(f"fps=fps={profile.max_fps:g}")
    if profile.max_height:
        filters.append(f"scale=-2:'min(ih,{profile.max_height})'")
    return filters


def apply_profiles(
    source: Path,
    destination: Path,
    profiles: ProcessingProfiles,
    progress: Callable[[float], None] | None = None,
    timeout_per_second: float = 5.0,
    audio_pieces: int | None = None,
) -> ProfileResult:
    """Write `source` through the enabled profiles to `destination` (atomically).

    With no profile enabled nothing is written and `applied` is empty. The loudness profile
    measures and encodes the audio in `audio_pieces` parallel pieces (default: `default_pieces`).
    """
    if not profiles.enabled:
        return ProfileResult(applied=[])
    info = probe(source)
    if profiles.loudness.enabled and info.audio is None:
        raise UnsupportedMediaError(f"{source.name} has no audio to normalize")
    compression = profiles.compression if profiles.compression.enabled else None
    if info.video is None:
        compression = None  # an audio-only file has no picture to compress
    run = _Run(source, destination, info, 120 + timeout_per_second * info.duration, progress)
    audio: Path | None = None
    # The share of the progress before the last pass: the measurement and the audio encode.
    before_last = 0.0 if not profiles.loudness.enabled else 0.1 if compression else 0.85
    try:
        if profiles.loudness.enabled:
            audio = temporary_output(destination)
            pieces = audio_pieces or default_pieces(info)
            run.normalize(profiles.loudness, audio, pieces, before_last)
        if compression is not None:
            run.result.applied.append("compression")
        started = time.monotonic()
        with atomic_output(destination) as temp:
            run_ffmpeg(
                [*_last_pass(source, info, audio, compression), "-y", str(temp)],
                timeout=run.timeout,
                duration=info.duration,
                progress=run.stage(before_last, 1 - before_last),
            )
        run.result.timings["last_pass"] = time.monotonic() - started
    finally:
        if audio is not None:
            with contextlib.suppress(FileNotFoundError):
                audio.unlink()
    logger.info("%s: applied %s", source.name, ", ".join(run.result.applied))
    if info.extra_streams:
        run.result.dropped = info.extra_streams
        logger.warning("%s: left out %s", source.name, "; ".join(info.extra_streams))
    return run.result


@dataclass
class _Run:
    """One `apply_profiles` call."""

    source: Path
    destination: Path
    info: MediaInfo
    timeout: float
    progress: Callable[[float], None] | None
    result: ProfileResult = field(default_factory=lambda: ProfileResult(applied=[]))

    def stage(self, start: float, width: float) -> Callable[[float], None] | None:
        """`progress` for a stage that takes `width` of the whole from `start` on."""
        if self.progress is None:
            return None
        report = self.progress
        return lambda fraction: report(start + width * fraction)

    def normalize(self, profile: LoudnessProfile, audio: Path, pieces: int, share: float) -> None:
        """Measure the loudness, plan the gain and encode the audio through it to `audio` (an
        M4A file), in `pieces` parallel pieces, reporting up to `share` of the progress."""
        result = self.result
        started = time.monotonic()
        result.loudness = measure_loudness(self.source, self.info, self.timeout, pieces)
        result.timings["loudness_measure"] = time.monotonic() - started
        measured = share * 0.15
        if self.progress is not None:
            self.progress(measured)
        result.gain = plan_gain(profile, result.loudness)
        logger.info(
            "%s: %.1f LUFS, sample peak %.1f dBFS; %s",
            self.source.name,
            result.loudness.integrated,
            result.loudness.sample_peak,
            result.gain.describe(),
        )
        started = time.monotonic()
        junctions = encode_loudness(
            self.source,
            self.info,
            result.gain,
            audio,
            profile.audio_bitrate,
            pieces,
            self.timeout,
            self.stage(measured, share - measured),
            named_after=self.destination,
        )
        result.timings["audio_encode"] = time.monotonic() - started
        result.audio_pieces = len(junctions) + 1
        result.applied.append("loudness")


def _last_pass(
    source: Path, info: MediaInfo, audio: Path | None, compression: CompressionProfile | None
) -> list[str]:
    """FFmpeg's arguments for the output: the video copied or compressed, the audio copied
    from the source or from the normalized `audio`, placed where the source's audio starts."""
    args = ["-i", str(source)]
    if audio is None:
        args += ["-map", "0:v:0?", "-map", "0:a:0?"]
    else:
        offset = info.audio_start - info.start_time
        args += [
            "-itsoffset", f"{offset:.6f}", "-i", str(audio), "-map", "0:v:0?", "-map", "1:a:0",
            # The audio stream keeps the source's tags (language, title, handler).
            "-map_metadata:s:a:0", "0:s:a:0",
        ]  # fmt: skip
    args += ["-c:a", "copy"]
    if compression is not None:
        filters = _video_filters(compression, float(info.video.fps) if info.video else 0.0)
        if filters:
            args += ["-vf", ",".join(filters)]
        args += [
            "-c:v", "libx264", "-preset", compression.preset, "-crf", str(compression.crf),
            "-pix_fmt", "yuv420p",
        ]  # fmt: skip
    else:
        args += ["-c:v", "copy"]
    # The MP4 muxer would write a timecode track from the video's tag: left out like the rest.
    return [*args, "-write_tmcd", "0", "-movflags", "+faststart", "-f", "mp4"]
