"""Optional processing profiles, off by default: loudness normalization and compression.

The models are meant to sit under `app_config.json` "processing", e.g.
`{"loudness": {"enabled": true, "integrated_lufs": -16}, "compression": {"enabled": true}}`.
Both profiles run in one FFmpeg pass, plus, for loudness, an audio-only pass that measures the
integrated loudness and true peak (`ebur128`). Loudness is one gain, with a peak limiter only when
the gain would push the peaks past the ceiling: the audio is re-encoded, the video copied.
"""

from __future__ import annotations

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


# `ebur128` reports -70 LUFS (its absolute gate) when no block is louder: nothing to measure.
SILENCE_LUFS = -70.0


@dataclass(frozen=True)
class LoudnessMeasurement:
    """EBU R128 figures of a file's first audio stream."""

    integrated: float  # LUFS; SILENCE_LUFS when nothing passes the gate
    true_peak: float  # dBTP; -inf for digital silence

    @property
    def silent(self) -> bool:
        return self.integrated <= SILENCE_LUFS


@dataclass(frozen=True)
class LoudnessGain:
    """What the loudness profile applies: one gain, and a limiter's ceiling when needed."""

    gain_db: float
    ceiling_db: float | None  # sample-peak ceiling of the limiter; None: no limiter

    def filters(self) -> str:
        """The FFmpeg audio filter chain (the limiter's delay compensated: A/V sync kept)."""
        chain = f"volume={self.gain_db:.2f}dB"
        if self.ceiling_db is not None:
            limit = 10 ** (self.ceiling_db / 20)
            chain += f",alimiter=limit={limit:.4f}:level=disabled:latency=1"
        return chain

    def describe(self) -> str:
        """E.g. "gain +16.8 dB, limited at -3.5 dBFS"."""
        limited = "" if self.ceiling_db is None else f", limited at {self.ceiling_db:g} dBFS"
        return f"gain {self.gain_db:+.1f} dB{limited}"


@dataclass
class ProfileResult:
    """What `apply_profiles` did."""

    applied: list[str]
    loudness: LoudnessMeasurement | None = None
    gain: LoudnessGain | None = None
    dropped: tuple[str, ...] = ()  # streams left out: only the first video and audio are kept
    timings: dict[str, float] = field(default_factory=dict)


_SUMMARY_NUMBER = r"\s+(-?(?:\d+(?:\.\d+)?|inf))"
_INTEGRATED = re.compile(r"Integrated loudness:\s+I:" + _SUMMARY_NUMBER + " LUFS")
_TRUE_PEAK = re.compile(r"True peak:\s+Peak:" + _SUMMARY_NUMBER + " dBFS")


def parse_ebur128(stderr: str) -> LoudnessMeasurement:
    """The summary `ebur128=peak=true` logs at the end of a run (the same in FFmpeg 4.2-9.0)."""
    summary = stderr.rpartition("Summary:")[2]
    integrated, peak = _INTEGRATED.search(summary), _TRUE_PEAK.search(summary)
    if integrated is None or peak is None:
        raise MediaError("ebur128 printed no loudness summary")
    return LoudnessMeasurement(float(integrated.group(1)), float(peak.group(1)))


def measure_loudness(path: Path, timeout: float) -> LoudnessMeasurement:
    """Integrated loudness and true peak of the first audio stream (the video is not read)."""
    args = ["-vn", "-sn", "-dn", "-i", str(path), "-map", "0:a:0"]
    args += ["-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"]
    return parse_ebur128(run_ffmpeg(args, timeout=timeout, loglevel="info").stderr)


def plan_gain(profile: LoudnessProfile, measured: LoudnessMeasurement) -> LoudnessGain:
    """The gain to the target, limited when it would lift the true peak past the ceiling."""
    if measured.silent:
        return LoudnessGain(0.0, None)
    gain = profile.integrated_lufs - measured.integrated
    ceiling = profile.true_peak_db - profile.peak_headroom_db
    return LoudnessGain(gain, ceiling if measured.true_peak + gain > ceiling else None)


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
        started = time.monotonic()
        result.loudness = measure_loudness(source, timeout)
        result.timings["loudness_measure"] = time.monotonic() - started
        result.gain = plan_gain(profiles.loudness, result.loudness)
        args += [
            "-af", result.gain.filters(),
            # The fast coder takes about half the default (twoloop) coder's time.
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", profiles.loudness.audio_bitrate,
        ]  # fmt: skip
        result.applied.append("loudness")
    else:
        args += ["-c:a", "copy"]
    compression = profiles.compression
    if compression.enabled and info.video is not None:  # an audio-only file has none to compress
        filters = _video_filters(compression, float(info.video.fps))
        if filters:
            args += ["-vf", ",".join(filters)]
        args += [
            "-c:v", "libx264", "-preset", compression.preset, "-crf", str(compression.crf),
            "-pix_fmt", "yuv420p",
        ]  # fmt: skip
        result.applied.append("compression")
    else:
        args += ["-c:v", "copy"]
    # The MP4 muxer would write a timecode track from the video's tag: left out like the rest.
    args += ["-write_tmcd", "0", "-movflags", "+faststart", "-f", "mp4"]
    started = time.monotonic()
    with atomic_output(destination) as temp:
        run_ffmpeg(
            [*args, "-y", str(temp)],
            timeout=timeout,
            duration=info.duration,
            progress=progress,
        )
    result.timings["encode"] = time.monotonic() - started
    if result.loudness is not None and result.gain is not None:
        logger.info(
            "%s: %.1f LUFS, true peak %.1f dBTP; %s",
            source.name,
            result.loudness.integrated,
            result.loudness.true_peak,
            result.gain.describe(),
        )
    logger.info("%s: applied %s", source.name, ", ".join(result.applied))
    if info.extra_streams:
        result.dropped = info.extra_streams
        logger.warning("%s: left out %s", source.name, "; ".join(info.extra_streams))
    return result
