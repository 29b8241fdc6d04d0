"""Trim the silent start and end of a recording: detect, decide, cut, verify, then replace."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from config.settings import Settings, get_settings
from integrations.media.cut import CutPlan, EncodeSettings, execute_cut, plan_cut
from integrations.media.errors import NoSoundError, UnsupportedMediaError
from integrations.media.output import atomic_output
from integrations.media.probe import MediaInfo, probe
from integrations.media.silence import DetectionSettings, SoundSpan, detect_sound
from integrations.media.verify import verify_output

logger = logging.getLogger(__name__)

TrimMethod = Literal["copy", "smart", "reencode", "untouched"]


class TrimOptions(BaseModel):
    """How silence is found and how the cut is made (defaults are the seed's)."""

    silence_threshold_db: float = Field(-40.0, description="below this level is silence (dBFS)")
    silence_min_duration: float = Field(2.0, gt=0, description="shortest silence, seconds")
    min_sound_duration: float | None = Field(
        None, ge=0, description="shorter sounds inside silence are ignored; default: as above"
    )
    padding: float = Field(5.0, ge=0, description="kept before the first and after the last sound")
    window: float = Field(900.0, gt=0, description="head/tail window analysed first, seconds")
    preset: str = Field("veryfast", description="libx264 preset for re-encoded pieces")
    crf: int = Field(18, ge=0, le=51, description="libx264 CRF for re-encoded pieces")
    verify: bool = True

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> TrimOptions:
        """Options from the settings (SILENCE_THRESHOLD_DB, SILENCE_MIN_DURATION, TRIM_PADDING)."""
        settings = settings or get_settings()
        return cls(
            silence_threshold_db=settings.silence_threshold_db,
            silence_min_duration=settings.silence_min_duration,
            padding=settings.trim_padding,
        )

    def detection(self) -> DetectionSettings:
        return DetectionSettings(
            threshold_db=self.silence_threshold_db,
            min_silence=self.silence_min_duration,
            min_sound=(
                self.silence_min_duration
                if self.min_sound_duration is None
                else self.min_sound_duration
            ),
            window=self.window,
        )


@dataclass
class TrimResult:
    """What `trim_file` did. Times are seconds from the source's start (as FFmpeg's `-ss`)."""

    source: Path
    destination: Path | None  # None when untouched: nothing was written
    method: TrimMethod
    start: float
    end: float
    source_duration: float
    first_sound: float | None
    last_sound: float | None
    reason: str | None = None  # why a full re-encode was needed, when it was
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Length of the kept span."""
        return self.end - self.start

    @property
    def trimmed(self) -> bool:
        return self.method != "untouched"


class _Progress:
    """Maps each phase's 0..1 onto the overall 0..1 the caller sees."""

    WEIGHTS: ClassVar[dict[str, tuple[float, float]]] = {
        "detect": (0.0, 0.15),
        "cut": (0.15, 0.95),
        "verify": (0.95, 1.0),
    }

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self.callback = callback
        self.last = 0.0

    def phase(self, name: str) -> Callable[[float], None] | None:
        if self.callback is None:
            return None
        low, high = self.WEIGHTS[name]

        def report(fraction: float) -> None:
            value = low + (high - low) * min(1.0, max(0.0, fraction))
            if value >= self.last:
                self.last = value
                self.callback(value)  # type: ignore[misc]

        return report


def decide_span(info: MediaInfo, sound: SoundSpan, padding: float) -> tuple[float, float, bool]:
    """(start, end, untouched) for a detected sound span with padding, clamped to the file."""
    frame = info.video.frame_duration if info.video else 0.02
    start = max(0.0, sound.first_sound - padding)
    end = min(info.duration, sound.last_sound + padding)
    untouched = start <= frame and end >= info.duration - frame
    return start, end, untouched


def trim_file(
    source: Path,
    destination: Path,
    options: TrimOptions | None = None,
    progress: Callable[[float], None] | None = None,
) -> TrimResult:
    """Cut the silent start and end of `source` into `destination`, frame-accurately.

    Returns a `TrimResult`; method "untouched" means the recording has no silence to cut and
    nothing was written (publish `source` as it is). Raises `NoSoundError` when the recording
    holds no sound at all, `MediaProbeError` for unreadable files, `UnsupportedMediaError`,
    `FFmpegError`/`FFmpegTimeoutError` and `MediaVerificationError`. `destination` only ever
    appears complete and verified: the work goes to a temporary file beside it that is removed
    on any failure or interruption.
    """
    options = options or TrimOptions()
    source = Path(source)
    destination = Path(destination)
    track = _Progress(progress)
    timings: dict[str, float] = {}

    started = time.monotonic()
    info = probe(source)
    if info.audio is None:
        raise UnsupportedMediaError(f"{source.name} has no audio stream to detect silence in")
    if info.video is None:
        raise UnsupportedMediaError(f"{source.name} has no video stream")
    timings["probe"] = time.monotonic() - started

    started = time.monotonic()
    sound = detect_sound(source, info.duration, options.detection(), track.phase("detect"))
    timings["detect"] = time.monotonic() - started
    if sound is None:
        raise NoSoundError(
            f"{source.name}: no sound above {options.silence_threshold_db:g} dB "
            f"in {info.duration:.0f} s",
            duration=info.duration,
        )
    start, end, untouched = decide_span(info, sound, options.padding)
    if untouched:
        logger.info("%s: no silence at either end; left untouched", source.name)
        return TrimResult(
            source=source,
            destination=None,
            method="untouched",
            start=0.0,
            end=info.duration,
            source_duration=info.duration,
            first_sound=sound.first_sound,
            last_sound=sound.last_sound,
            timings=timings,
        )

    started = time.monotonic()
    t0 = info.start_time  # detection counts from the container start; packets are absolute
    plan: CutPlan = plan_cut(info, start + t0, end + t0)
    timings["plan"] = time.monotonic() - started
    settings = EncodeSettings(preset=options.preset, crf=options.crf)

    with atomic_output(destination) as temp:
        started = time.monotonic()
        execute_cut(source, info, plan, temp, settings, track.phase("cut"), timings)
        timings["cut"] = time.monotonic() - started
        if options.verify:
            started = time.monotonic()
            junction = plan.keyframe - plan.start if plan.keyframe is not None else None
            verify_output(
                temp,
                expected_duration=plan.duration,
                frame_duration=plan.frame_duration,
                has_audio=info.audio is not None,
                junction=junction,
                name=f"{destination.name} (cut from {source.name})",
            )
            timings["verify"] = time.monotonic() - started
    if progress:
        progress(1.0)
    logger.info(
        "%s: kept [%.3f, %.3f) of %.1f s by %s cut",
        source.name,
        plan.start - t0,
        plan.end - t0,
        info.duration,
        plan.method,
    )
    return TrimResult(
        source=source,
        destination=destination,
        method=plan.method,
        start=plan.start - t0,
        end=plan.end - t0,
        source_duration=info.duration,
        first_sound=sound.first_sound,
        last_sound=sound.last_sound,
        reason=plan.reason,
        timings=timings,
    )
