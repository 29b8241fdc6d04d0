"""Optional processing profiles, off by default: loudness normalization and compression.

The models are meant to sit under `app_config.json` "processing", e.g.
`{"loudness": {"enabled": true, "integrated_lufs": -16}, "compression": {"enabled": true}}`.
Both profiles run in one FFmpeg pass (plus a fast audio-only measuring pass for loudness).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config.processing import CompressionProfile, LoudnessProfile, ProcessingProfiles
from integrations.media.errors import MediaError, UnsupportedMediaError
from integrations.media.ffmpeg import run_ffmpeg
from integrations.media.output import atomic_output
from integrations.media.probe import probe

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoudnessMeasurement:
    """First-pass `loudnorm` figures of the input."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float
    target_offset: float


@dataclass
class ProfileResult:
    """What `apply_profiles` did."""

    applied: list[str]
    loudness: LoudnessMeasurement | None = None
    timings: dict[str, float] = field(default_factory=dict)


_JSON_BLOCK = re.compile(r"\{[^{}]*\"input_i\"[^{}]*\}", re.DOTALL)


def parse_loudnorm(stderr: str) -> LoudnessMeasurement:
    """The JSON block `loudnorm=print_format=json` prints at the end of a run."""
    blocks = _JSON_BLOCK.findall(stderr)
    if not blocks:
        raise MediaError("loudnorm printed no measurement")
    data = json.loads(blocks[-1])

    def number(key: str) -> float:
        value = float(data[key])
        return -99.0 if value == float("-inf") else value

    return LoudnessMeasurement(
        input_i=number("input_i"),
        input_tp=number("input_tp"),
        input_lra=number("input_lra"),
        input_thresh=number("input_thresh"),
        target_offset=number("target_offset"),
    )


def _targets(profile: LoudnessProfile) -> str:
    return (
        f"I={profile.integrated_lufs:g}:TP={profile.true_peak_db:g}:LRA={profile.loudness_range:g}"
    )


def measure_loudness(path: Path, profile: LoudnessProfile, timeout: float) -> LoudnessMeasurement:
    """First pass: measure the audio only (no video decoding)."""
    measure = f"loudnorm={_targets(profile)}:print_format=json"
    args = ["-vn", "-sn", "-dn", "-i", str(path), "-map", "0:a:0", "-af", measure]
    run = run_ffmpeg([*args, "-f", "null", "-"], timeout=timeout, loglevel="info")
    return parse_loudnorm(run.stderr)


def loudnorm_filter(profile: LoudnessProfile, measured: LoudnessMeasurement) -> str:
    """Second-pass filter using the measured values (linear gain when the range allows)."""
    return (
        f"loudnorm={_targets(profile)}:measured_I={measured.input_i:g}"
        f":measured_TP={measured.input_tp:g}:measured_LRA={measured.input_lra:g}"
        f":measured_thresh={measured.input_thresh:g}:offset={measured.target_offset:g}"
        ":linear=true:print_format=summary"
    )


def _video_filters(profile: CompressionProfile, source_fps: float | None) -> list[str]:
    filters = []
    if profile.max_fps and (source_fps is None or source_fps > profile.max_fps):
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
) -> ProfileResult:
    """Write `source` through the enabled profiles to `destination` (atomically).

    With no profile enabled nothing is written and `applied` is empty.
    """
    if not profiles.enabled:
        return ProfileResult(applied=[])
    info = probe(source)
    if profiles.loudness.enabled and info.audio is None:
        raise UnsupportedMediaError(f"{source.name} has no audio to normalize")
    timeout = 120 + timeout_per_second * info.duration
    result = ProfileResult(applied=[])
    args = ["-i", str(source), "-map", "0:v:0?", "-map", "0:a:0?"]
    if profiles.loudness.enabled:
        assert info.audio is not None
        started = time.monotonic()
        result.loudness = measure_loudness(source, profiles.loudness, timeout)
        result.timings["loudness_measure"] = time.monotonic() - started
        args += [
            "-af", loudnorm_filter(profiles.loudness, result.loudness),
            # loudnorm works at 192 kHz inside: give the output the source's rate back.
            "-ar", str(info.audio.sample_rate),
            "-c:a", "aac", "-b:a", profiles.loudness.audio_bitrate,
        ]  # fmt: skip
        result.applied.append("loudness")
    else:
        args += ["-c:a", "copy"]
    compression = profiles.compression
    if compression.enabled:
        filters = _video_filters(compression, float(info.video.fps) if info.video else None)
        if filters:
            args += ["-vf", ",".join(filters)]
        args += [
            "-c:v", "libx264", "-preset", compression.preset, "-crf", str(compression.crf),
            "-pix_fmt", "yuv420p",
        ]  # fmt: skip
        result.applied.append("compression")
    else:
        args += ["-c:v", "copy"]
    # -t: loudnorm in FFmpeg 7.0 adds 0.1 s of audio at the end.
    args += ["-t", f"{info.duration:.6f}", "-movflags", "+faststart", "-f", "mp4"]
    started = time.monotonic()
    with atomic_output(destination) as temp:
        run_ffmpeg(
            [*args, "-y", str(temp)],
            timeout=timeout,
            duration=info.duration,
            progress=progress,
        )
    result.timings["encode"] = time.monotonic() - started
    logger.info("%s: applied %s", source.name, ", ".join(result.applied))
    return result
