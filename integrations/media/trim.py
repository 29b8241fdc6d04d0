"""Trim the silent start and end of a recording: detect, decide, cut, verify, then replace."""

from __future__ import annotations

import bisect
import logging
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from config.settings import Settings, get_settings
from integrations.media.audio_cut import PREROLL, cut_audio, verify_audio_cut
from integrations.media.cut import (
    CutPlan,
    EncodeSettings,
    PreparedHead,
    StartPlan,
    execute_cut,
    expected_frames,
    join_plans,
    moov_reserve,
    plan_end,
    plan_start,
    prepare_head,
)
from integrations.media.errors import MediaVerificationError, NoSoundError, UnsupportedMediaError
from integrations.media.mp4 import Movie
from integrations.media.output import atomic_output, check_free_space, output_errors
from integrations.media.probe import MediaInfo, probe
from integrations.media.silence import DetectionSettings, SoundSearch, SoundSpan, span_of
from integrations.media.splice import SourceIndex, read_index
from integrations.media.verify import decode_errors, verify_output

logger = logging.getLogger(__name__)

TrimMethod = Literal["copy", "smart", "reencode", "untouched"]
# Presets that keep the High profile's tools (ultrafast drops CABAC and 8x8 transforms).
HeadPreset = Literal["superfast", "veryfast", "faster", "fast", "medium", "slow", "slower"]


class TrimOptions(BaseModel):
    """How silence is found and how the cut is made (defaults are the seed's)."""

    silence_threshold_db: float = Field(-40.0, description="below this level is silence (dBFS)")
    silence_min_duration: float = Field(2.0, gt=0, description="shortest silence, seconds")
    min_sound_duration: float | None = Field(
        None, ge=0, description="shorter sounds inside silence are ignored; default: as above"
    )
    padding: float = Field(5.0, ge=0, description="kept before the first and after the last sound")
    window: float = Field(
        900.0, gt=0, description="tail window analysed first, and the step of widening, seconds"
    )
    head_window: float = Field(300.0, gt=0, description="head window analysed first, seconds")
    preset: str = Field("veryfast", description="libx264 preset of a full re-encode")
    head_preset: HeadPreset = Field(
        "superfast", description="libx264 preset of the head re-encoded up to the next keyframe"
    )
    crf: int = Field(18, ge=0, le=51, description="libx264 CRF for re-encoded pieces")
    verify: bool = True
    min_free_disk_mb: float = Field(
        0.0, ge=0, description="kept free on the destination's disk besides the cut, MB"
    )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> TrimOptions:
        """Options from the settings (SILENCE_THRESHOLD_DB, SILENCE_MIN_DURATION, TRIM_PADDING)."""
        settings = settings or get_settings()
        return cls(
            silence_threshold_db=settings.silence_threshold_db,
            silence_min_duration=settings.silence_min_duration,
            padding=settings.trim_padding,
            min_free_disk_mb=settings.min_free_disk_mb,
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
            head_window=self.head_window,
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
    how: str = ""  # how the cut was written: the path taken, and why
    dropped: tuple[str, ...] = ()  # streams the cut left out (MediaInfo.extra_streams)

    @property
    def duration(self) -> float:
        """Length of the kept span."""
        return self.end - self.start

    def summary(self) -> str:
        """One line: the kept span, how the cut was made, and how long it all took."""
        took = f" in {self.timings['total']:.2f} s" if "total" in self.timings else ""
        if not self.trimmed:
            return f"no silence to cut in {self.source_duration:.3f} s, nothing written{took}"
        return (
            f"kept {self.start:.3f}-{self.end:.3f} s of {self.source_duration:.3f} s{took}: "
            f"{self.how}"
        )

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
        callback = self.callback
        if callback is None:
            return None
        low, high = self.WEIGHTS[name]

        def report(fraction: float) -> None:
            value = low + (high - low) * min(1.0, max(0.0, fraction))
            if value >= self.last:
                self.last = value
                callback(value)

        return report


def decide_span(info: MediaInfo, sound: SoundSpan, padding: float) -> tuple[float, float, bool]:
    """(start, end, untouched) for a detected sound span with padding, clamped to the file."""
    start = max(0.0, sound.first_sound - padding)
    end = min(info.duration, sound.last_sound + padding)
    return start, end, _untouched(info, start, end)


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

    The start and the end are found concurrently, and the head of a smart cut is re-encoded as
    soon as the start is known, while the end is still being looked for.

    The destination's disk is checked before any work (the reserve `min_free_disk_mb`) and
    again before the cut is written (its estimated size plus the reserve):
    `InsufficientSpaceError`. The operating system's refusal to write (a full or read-only
    disk, no permission, an I/O error, a vanished folder) raises `MediaOutputError`.
    """
    options = options or TrimOptions()
    source = Path(source)
    destination = Path(destination)
    with output_errors(destination, source):
        check_free_space(destination, 0, options.min_free_disk_mb)
        return _trim_file(source, destination, options, progress)


def _trim_file(
    source: Path,
    destination: Path,
    options: TrimOptions,
    progress: Callable[[float], None] | None,
) -> TrimResult:
    track = _Progress(progress)
    timings: dict[str, float] = {}

    begun = started = time.monotonic()
    info = probe(source)
    if info.audio is None:
        raise UnsupportedMediaError(f"{source.name} has no audio stream to detect silence in")
    timings["probe"] = time.monotonic() - started
    if info.video is None:
        return _trim_audio_only(source, destination, info, options, track, timings, begun)

    search = SoundSearch(source, info.duration, options.detection(), track.phase("detect"))
    settings = EncodeSettings(
        preset=options.preset, head_preset=options.head_preset, crf=options.crf
    )
    destination.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=".cut-", dir=destination.parent) as workdir,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="trim") as pool,
    ):
        head_side = pool.submit(
            _find_start, search, info, options.padding, Path(workdir), settings, timings
        )
        tail_side = pool.submit(_find_end, search, info, options.padding, timings)
        start_side, end_side = head_side.result(), tail_side.result()
        sound = _require_sound(source, info, options, start_side.sound, end_side.sound)
        if _untouched(info, start_side.start, end_side.end):
            timings["total"] = time.monotonic() - begun
            logger.info("%s: no silence at either end; left untouched", source.name)
            return _untouched_result(source, info, sound, timings)
        assert start_side.plan is not None and end_side.plan is not None
        plan = join_plans(start_side.plan, *end_side.plan)
        movie = end_side.index.movie if end_side.index is not None else None
        head = start_side.head if plan.method == "smart" else None
        needed = estimate_cut_bytes(info, plan, movie, head.path.stat().st_size if head else None)
        check_free_space(destination, needed, options.min_free_disk_mb, "for the cut")
        name = f"{destination.name} (cut from {source.name})"
        # Counted from the source's index (or packets), and the head decoded, while the join runs.
        frames = pool.submit(expected_frames, info, plan, movie) if options.verify else None
        head_check = pool.submit(_check_head, head, plan, name) if options.verify else None
        with atomic_output(destination) as temp:
            started = time.monotonic()
            written = execute_cut(
                source,
                info,
                plan,
                temp,
                settings,
                track.phase("cut"),
                timings,
                head,
                end_side.index,
            )
            timings["cut"] = time.monotonic() - started
            if frames is not None and head_check is not None:
                started = time.monotonic()
                verify_cut(temp, plan, info, frames.result(), name)  # beside the head's decode
                head_check.result()
                timings["verify"] = time.monotonic() - started
    if progress:
        progress(1.0)
    timings["total"] = time.monotonic() - begun
    t0 = info.start_time
    result = TrimResult(
        source=source,
        destination=destination,
        method=written.method,
        start=plan.start - t0,
        end=plan.end - t0,
        source_duration=info.duration,
        first_sound=sound.first_sound,
        last_sound=sound.last_sound,
        reason=written.reason,
        timings=timings,
        how=written.how,
        dropped=info.extra_streams,
    )
    _report(result)
    return result


def _trim_audio_only(
    source: Path,
    destination: Path,
    info: MediaInfo,
    options: TrimOptions,
    track: _Progress,
    timings: dict[str, float],
    begun: float,
) -> TrimResult:
    """An audio-only recording (Zoom's `audio_only` M4A): the kept span copied to the sample."""
    assert info.audio is not None
    search = SoundSearch(source, info.duration, options.detection(), track.phase("detect"))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="trim") as pool:
        first, last = pool.submit(search.first), pool.submit(search.last)
        sound = _require_sound(source, info, options, first.result(), last.result())
    timings["detect"] = time.monotonic() - started
    start, end, untouched = decide_span(info, sound, options.padding)
    result = _untouched_result(source, info, sound, timings)
    if not untouched:
        needed = int(_average_rate(info) * (end - start + PREROLL))
        needed += moov_reserve(info, end - start)
        check_free_space(destination, needed, options.min_free_disk_mb, "for the cut")
        with atomic_output(destination) as temp:
            started = time.monotonic()
            cut_audio(source, info, start, end, temp, track.phase("cut"))
            timings["cut"] = time.monotonic() - started
            if options.verify:
                started = time.monotonic()
                name = f"{destination.name} (cut from {source.name})"
                verify_audio_cut(temp, end - start, name)
                timings["verify"] = time.monotonic() - started
        result = replace(
            result,
            destination=destination,
            method="copy",
            start=start,
            end=end,
            how=f"audio only ({info.audio.codec}): packets copied from {PREROLL:g} s before "
            "the cut, an edit list starting at the exact sample",
            dropped=info.extra_streams,
        )
    if track.callback:
        track.callback(1.0)
    timings["total"] = time.monotonic() - begun
    _report(result)
    return result


def _require_sound(
    source: Path,
    info: MediaInfo,
    options: TrimOptions,
    first: float | None,
    last: float | None,
) -> SoundSpan:
    """The span from the first sound to the last; `NoSoundError` when there is none."""
    sound = span_of(first, last)
    if sound is None:
        raise NoSoundError(
            f"{source.name}: no sound above {options.silence_threshold_db:g} dB "
            f"in {info.duration:.0f} s",
            duration=info.duration,
        )
    return sound


def _untouched_result(
    source: Path, info: MediaInfo, sound: SoundSpan, timings: dict[str, float]
) -> TrimResult:
    """The result for a source kept whole: nothing written."""
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


def _report(result: TrimResult) -> None:
    """Log the cut's one line, and one line naming every stream it left out: none vanishes
    without a word."""
    logger.info("%s: %s", result.source.name, result.summary())
    if result.dropped:
        logger.warning(
            "%s: the cut keeps one video and one audio stream; left out: %s",
            result.source.name,
            "; ".join(result.dropped),
        )


@dataclass
class _Start:
    sound: float | None  # first sound (seconds from the container start)
    start: float = 0.0  # where the kept span begins, padding included
    plan: StartPlan | None = None
    head: PreparedHead | None = None


@dataclass
class _End:
    sound: float | None  # last sound
    end: float = 0.0  # where the kept span ends, padding included
    plan: tuple[float, float | None] | None = None  # plan_end's (end pts, outpoint)
    index: SourceIndex | None = None  # the source's index, read while the head is encoded


# A re-encoded GOP (CRF 18, a fast preset) against the source's bytes for the same time, and a
# whole span re-encoded: generous for the few seconds of a head, about what Zoom's recordings
# give for a whole re-encode (the check must not refuse a cut that fits).
HEAD_GROWTH = 3.0
REENCODE_GROWTH = 1.5


def estimate_cut_bytes(
    info: MediaInfo, plan: CutPlan, movie: Movie | None = None, head_bytes: int | None = None
) -> int:
    """What the cut will write: the kept span's bytes (from the source's index when read, else
    at the file's average rate), a smart cut's re-encoded head (`head_bytes` when encoded
    already, else estimated), a full re-encode at the span's rate with some growth, and the MP4
    index."""
    if plan.method == "reencode":
        data = _span_bytes(info, movie, plan.start, plan.end) * REENCODE_GROWTH
    elif plan.method == "smart" and plan.keyframe is not None:
        if head_bytes is None:
            head_bytes = int(_span_bytes(info, movie, plan.start, plan.keyframe) * HEAD_GROWTH)
        data = head_bytes + _span_bytes(info, movie, plan.keyframe, plan.end)
    else:
        data = _span_bytes(info, movie, plan.copy_from_dts or plan.start, plan.end)
    return int(data) + moov_reserve(info, plan.duration)


def _average_rate(info: MediaInfo) -> float:
    """The source's bytes per second over the whole file."""
    return info.path.stat().st_size / info.duration if info.duration > 0 else 0.0


def _span_bytes(info: MediaInfo, movie: Movie | None, start: float, end: float) -> float:
    """The source's video and audio bytes decoded from `start` to `end` (FFmpeg's seconds)."""
    if movie is None:
        return _average_rate(info) * max(0.0, end - start)
    total = 0
    for handler in ("vide", "soun"):
        track = movie.first(handler)
        if track is None:
            continue
        first = bisect.bisect_left(track.dts, int(start * track.timescale) + track.edit_shift)
        stop = bisect.bisect_left(track.dts, int(end * track.timescale) + track.edit_shift)
        total += sum(track.sizes[first:stop])
    return float(total)


def _find_start(
    search: SoundSearch,
    info: MediaInfo,
    padding: float,
    workdir: Path,
    settings: EncodeSettings,
    timings: dict[str, float],
) -> _Start:
    """The first sound, where the cut begins, and (smart cut) its re-encoded head."""
    started = time.monotonic()
    first = search.first()
    timings["detect_head"] = time.monotonic() - started
    if first is None:
        return _Start(None)
    start = max(0.0, first - padding)
    started = time.monotonic()
    plan = plan_start(info, start + info.start_time)
    timings["plan_head"] = time.monotonic() - started
    head = None
    if plan.method == "smart" and start > _frame(info):
        started = time.monotonic()
        head = prepare_head(info.path, info, plan, workdir, settings)
        timings["head_encode"] = time.monotonic() - started
    return _Start(first, start, plan, head)


def _find_end(
    search: SoundSearch, info: MediaInfo, padding: float, timings: dict[str, float]
) -> _End:
    """The last sound and where the cut ends."""
    started = time.monotonic()
    last = search.last()
    timings["detect_tail"] = time.monotonic() - started
    if last is None:
        return _End(None)
    end = min(info.duration, last + padding)
    started = time.monotonic()
    plan = plan_end(info, end + info.start_time)
    timings["plan_tail"] = time.monotonic() - started
    started = time.monotonic()
    index = read_index(info.path)
    timings["read_index"] = time.monotonic() - started
    return _End(last, end, plan, index)


def _frame(info: MediaInfo) -> float:
    return info.video.frame_duration if info.video else 0.02


def _untouched(info: MediaInfo, start: float, end: float) -> bool:
    """Whether the kept span is the whole file: nothing to cut at either end."""
    return start <= _frame(info) and end >= info.duration - _frame(info)


def _check_head(head: PreparedHead | None, plan: CutPlan, name: str) -> None:
    """The re-encoded head decodes without an error (its packets go into the output as they are)."""
    if head is None or plan.keyframe is None:
        return
    errors = decode_errors(head.path, 0.0, plan.keyframe - plan.start + plan.frame_duration)
    if errors:
        raise MediaVerificationError(f"{name}: the re-encoded head reports decode errors: {errors}")


def verify_cut(output: Path, plan: CutPlan, info: MediaInfo, frames: int | None, name: str) -> None:
    """The checks of `verify_output` for this cut's duration, frame count and junction."""
    junction = plan.keyframe - plan.start if plan.keyframe is not None else None
    verify_output(
        output,
        expected_duration=plan.duration,
        frame_duration=plan.frame_duration,
        has_audio=info.audio is not None,
        junction=junction,
        expected_frames=frames,
        name=name,
    )
