"""Find where sound starts and ends: FFmpeg `silencedetect` on the audio only, head and tail first.

The head and tail windows run as two FFmpeg processes in parallel (`SoundSearch`: each side
can be acted on as soon as it is known); a window is widened (with overlap) only when no sound
was found in it, and a short file is analysed whole. The head's first window is shorter than
the tail's: sound usually starts within minutes, and the cut waits for the head's search.
Sounds shorter than `min_sound` (a cough, a chair) inside a silence do not count as the start
or the end.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from integrations.media.ffmpeg import run_ffmpeg

logger = logging.getLogger(__name__)

_START = re.compile(r"silence_start:\s*(-?[\d.]+(?:e-?\d+)?)")
_END = re.compile(r"silence_end:\s*(-?[\d.]+(?:e-?\d+)?)")
_EPSILON = 0.05


@dataclass(frozen=True)
class Interval:
    """A span of the recording in seconds."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SoundSpan:
    """First and last sound of a recording (seconds, before padding)."""

    first_sound: float
    last_sound: float


@dataclass(frozen=True)
class DetectionSettings:
    """`silencedetect` parameters and how the file is split into windows."""

    threshold_db: float = -40.0
    min_silence: float = 2.0
    min_sound: float = 2.0
    window: float = 900.0  # the tail's first window, and what the search widens by
    head_window: float = 300.0  # the head's first window
    timeout_base: float = 120.0
    timeout_per_second: float = 0.2


def parse_silences(stderr: str, offset: float, window_end: float) -> list[Interval]:
    """Silences reported by `silencedetect` in `stderr`, shifted by `offset` seconds.

    A silence still open when the window ends closes at `window_end` (absolute seconds).
    """
    events: list[tuple[int, str, float]] = []
    for match in _START.finditer(stderr):
        events.append((match.start(), "start", float(match.group(1))))
    for match in _END.finditer(stderr):
        events.append((match.start(), "end", float(match.group(1))))
    events.sort()
    silences: list[Interval] = []
    open_start: float | None = None
    for _, kind, value in events:
        if kind == "start":
            open_start = max(0.0, value) + offset
        elif open_start is not None:
            silences.append(Interval(open_start, min(value + offset, window_end)))
            open_start = None
    if open_start is not None and open_start < window_end:
        silences.append(Interval(open_start, window_end))
    return silences


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for item in sorted(intervals, key=lambda i: i.start):
        if merged and item.start <= merged[-1].end + _EPSILON:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, item.end))
        else:
            merged.append(item)
    return merged


def _complement(covered: Interval, silences: list[Interval]) -> list[Interval]:
    """Sound intervals inside `covered`: what is not silence."""
    sounds: list[Interval] = []
    cursor = covered.start
    for silence in silences:
        if silence.end <= covered.start or silence.start >= covered.end:
            continue
        if silence.start > cursor + _EPSILON:
            sounds.append(Interval(cursor, min(silence.start, covered.end)))
        cursor = max(cursor, silence.end)
    if cursor < covered.end - _EPSILON:
        sounds.append(Interval(cursor, covered.end))
    return sounds


def run_silencedetect(
    path: Path, window: Interval, settings: DetectionSettings, file_duration: float
) -> list[Interval]:
    """Silences inside `window` (absolute seconds), from one audio-only FFmpeg process."""
    args: list[str] = []
    if window.start > 0:
        args += ["-ss", f"{window.start:.6f}"]
    if window.end < file_duration:
        args += ["-t", f"{window.length:.6f}"]
    args += [
        "-vn", "-sn", "-dn", "-i", str(path), "-map", "0:a:0",
        "-af", f"silencedetect=noise={settings.threshold_db:g}dB:d={settings.min_silence:g}",
        "-f", "null", "-",
    ]  # fmt: skip
    timeout = settings.timeout_base + settings.timeout_per_second * window.length
    run = run_ffmpeg(args, timeout=timeout, loglevel="info")
    return parse_silences(run.stderr, window.start, window.end)


class _Coverage:
    """What has been analysed so far and the silences found in it."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.windows: list[Interval] = []
        self.silences: list[Interval] = []

    def add(self, window: Interval, silences: list[Interval]) -> None:
        self.windows = _merge([*self.windows, window])
        self.silences = _merge([*self.silences, *silences])

    def head_end(self) -> float:
        """End of the analysed span that starts at 0."""
        first = self.windows[0] if self.windows else None
        return first.end if first and first.start <= _EPSILON else 0.0

    def tail_start(self) -> float:
        """Start of the analysed span that ends at the end of the file."""
        last = self.windows[-1] if self.windows else None
        return last.start if last and last.end >= self.duration - _EPSILON else self.duration

    def complete(self) -> bool:
        return self.head_end() >= self.duration - _EPSILON


def _first_sound(cov: _Coverage, min_sound: float) -> float | None:
    """Start of the first sound of at least `min_sound` s; None if none is known yet."""
    end = cov.head_end()
    for sound in _complement(Interval(0.0, end), cov.silences):
        if sound.length >= min_sound:
            return sound.start
        if sound.end >= end - _EPSILON and end < cov.duration - _EPSILON:
            return None  # a sound cut by the window edge: it may go on
    return None


def _last_sound(cov: _Coverage, min_sound: float) -> float | None:
    """End of the last sound of at least `min_sound` s; None if none is known yet."""
    start = cov.tail_start()
    for sound in reversed(_complement(Interval(start, cov.duration), cov.silences)):
        if sound.length >= min_sound:
            return sound.end
        if sound.start <= start + _EPSILON and start > _EPSILON:
            return None
    return None


class SoundSearch:
    """The search for the first sound (from the head) and the last (from the tail) of one file.

    `first()` and `last()` may run in two threads at once, so that a caller can act on the
    start (e.g. encode the head of a cut) while the tail is still being searched. Each side
    analyses its window and widens it (doubling, with overlap) only while no qualifying sound
    is found; both share what has been analysed, so the two sides of a silent file meet in the
    middle instead of each decoding it all. A short file is analysed once, whole.
    """

    def __init__(
        self,
        path: Path,
        duration: float,
        settings: DetectionSettings | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.path = path
        self.duration = duration
        self.settings = settings or DetectionSettings()
        self.progress = progress
        self.overlap = self.settings.min_silence + 1.0
        self.window = max(self.settings.window, 2 * self.overlap)
        self.head_window = min(max(self.settings.head_window, 2 * self.overlap), self.window)
        self.whole = duration <= self.head_window + self.window + self.overlap
        self._cov = _Coverage(duration)
        self._lock = threading.Lock()
        self._whole_lock = threading.Lock()

    def _analyse(self, window: Interval) -> None:
        logger.debug("silencedetect window: %s", window)
        silences = run_silencedetect(self.path, window, self.settings, self.duration)
        with self._lock:
            self._cov.add(window, silences)
            covered = sum(w.length for w in self._cov.windows)
        if self.progress:
            self.progress(min(1.0, covered / self.duration))

    def _ensure_whole(self) -> None:
        with self._whole_lock:  # the other side waits instead of analysing the file again
            if not self._cov.complete():
                self._analyse(Interval(0.0, self.duration))

    def first(self) -> float | None:
        """Where the first sound of at least `min_sound` seconds starts; None: no sound."""
        if self.whole:
            self._ensure_whole()
        else:
            self._analyse(Interval(0.0, self.head_window))
        while True:
            with self._lock:
                found = _first_sound(self._cov, self.settings.min_sound)
                if found is not None or self._cov.complete():
                    return found
                head_end = self._cov.head_end()
                widened = max(self.window, 2 * head_end)
                end = min(self._cov.tail_start() + self.overlap, widened, self.duration)
                window = Interval(max(0.0, head_end - self.overlap), end)
            self._analyse(window)

    def last(self) -> float | None:
        """Where the last sound of at least `min_sound` seconds ends; None: no sound."""
        if self.whole:
            self._ensure_whole()
        else:
            self._analyse(Interval(self.duration - self.window, self.duration))
        while True:
            with self._lock:
                found = _last_sound(self._cov, self.settings.min_sound)
                if found is not None or self._cov.complete():
                    return found
                tail_start = self._cov.tail_start()
                size = max(self.window, self.duration - tail_start)
                start = max(self._cov.head_end() - self.overlap, tail_start - size, 0.0)
                window = Interval(start, min(self.duration, tail_start + self.overlap))
            self._analyse(window)


def span_of(first: float | None, last: float | None) -> SoundSpan | None:
    """The sound span the two searches found, or None when there is no sound."""
    if first is None or last is None or last <= first:
        return None
    return SoundSpan(first_sound=first, last_sound=last)


def detect_sound(
    path: Path,
    duration: float,
    settings: DetectionSettings | None = None,
    progress: Callable[[float], None] | None = None,
) -> SoundSpan | None:
    """First and last sound of `path`, or None when there is no sound at all.

    Times are seconds from the container's start, as FFmpeg reports them.
    """
    search = SoundSearch(path, duration, settings, progress)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="silencedetect") as pool:
        first, last = pool.submit(search.first), pool.submit(search.last)
        return span_of(first.result(), last.result())
