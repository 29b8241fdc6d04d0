"""Silence detection: parsing, head/tail windows, noise floors, coughs, edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_factory import MediaSpec, cached_media

from integrations.media import silence
from integrations.media.silence import DetectionSettings, Interval, detect_sound, parse_silences

STDERR = """\
[silencedetect @ 0x1] silence_start: 0
[silencedetect @ 0x1] silence_end: 7.30102 | silence_duration: 7.30102
size=N/A time=00:00:20.00 bitrate=N/A speed=300x
[silencedetect @ 0x1] silence_start: 12.5
"""


def test_parse_silences_shifts_by_offset_and_closes_open_silence() -> None:
    found = parse_silences(STDERR, offset=100.0, window_end=120.0)
    assert found == [Interval(100.0, 107.30102), Interval(112.5, 120.0)]


def test_parse_silences_without_silence() -> None:
    assert parse_silences("size=N/A time=00:00:20.00\n", 0.0, 20.0) == []


# Each cough is shorter than the 2 s minimum and sits between silences of at least 2 s.
NOISY_HEAD = MediaSpec(
    duration=20.0,
    silent_head=8.0,
    silent_tail=4.6,
    noise_db=-60.0,
    coughs=((2.5, 0.3), (5.2, 0.3), (17.6, 0.3)),
)

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled


def test_noise_floor_and_short_coughs_are_silence() -> None:
    span = detect_sound(cached_media(NOISY_HEAD), 20.0)
    assert span is not None
    assert span.first_sound == pytest.approx(8.0, abs=0.05)
    assert span.last_sound == pytest.approx(20.0 - 4.6, abs=0.05)


def test_a_cough_counts_when_min_sound_is_zero() -> None:
    span = detect_sound(cached_media(NOISY_HEAD), 20.0, DetectionSettings(min_sound=0.0))
    assert span is not None
    assert span.first_sound == pytest.approx(2.5, abs=0.05)
    assert span.last_sound == pytest.approx(17.9, abs=0.05)


def test_all_silence_is_no_sound() -> None:
    path = cached_media(MediaSpec(duration=8.0, silent=True, noise_db=-55.0))
    assert detect_sound(path, 8.0) is None


def test_no_silence_gives_whole_file() -> None:
    span = detect_sound(cached_media(MediaSpec(duration=8.0)), 8.0)
    assert span is not None
    assert span.first_sound == pytest.approx(0.0, abs=0.05)
    assert span.last_sound == pytest.approx(8.0, abs=0.05)


@pytest.fixture
def analysed_windows(monkeypatch: pytest.MonkeyPatch) -> list[Interval]:
    """Every window `silencedetect` is run on, in the order the runs start."""
    windows: list[Interval] = []
    real = silence.run_silencedetect

    def recording(path: Path, window: Interval, *args: object) -> list[Interval]:
        windows.append(window)
        return real(path, window, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(silence, "run_silencedetect", recording)
    return windows


def test_head_and_tail_windows_widen_only_when_needed(analysed_windows: list[Interval]) -> None:
    """With 4 s windows on a 40 s file: head and tail first, then widen each side as needed."""
    spec = MediaSpec(duration=40.0, silent_head=9.0, silent_tail=2.5, noise_db=-60.0)
    path = cached_media(spec)
    span = detect_sound(path, 40.0, DetectionSettings(window=4.0))
    assert span is not None
    assert span.first_sound == pytest.approx(9.0, abs=0.05)
    assert span.last_sound == pytest.approx(37.5, abs=0.05)
    # Head and tail run at once (either may start first); 2x(min_silence+1) is the floor.
    assert set(analysed_windows[:2]) == {Interval(0.0, 6.0), Interval(34.0, 40.0)}
    # The tail found its last sound at once; only the head was widened, with overlap.
    assert all(w.end <= 34.0 + 3.0 for w in analysed_windows[2:])
    assert analysed_windows[2].start < 6.0
    assert sum(w.length for w in analysed_windows) < 40.0  # never analysed the whole file


def test_widening_a_silent_file_ends_in_no_sound() -> None:
    path = cached_media(MediaSpec(duration=30.0, silent=True))
    assert detect_sound(path, 30.0, DetectionSettings(window=4.0)) is None


@pytest.mark.parametrize(
    ("silent_head", "head_windows"),
    [
        (3.5, [Interval(0.0, 6.0)]),  # found in the head's short first window
        (8.0, [Interval(0.0, 6.0), Interval(3.0, 12.0)]),  # widened to the tail's size
    ],
)
def test_the_head_starts_with_a_shorter_window(
    analysed_windows: list[Interval], silent_head: float, head_windows: list[Interval]
) -> None:
    path = cached_media(MediaSpec(duration=60.0, silent_head=silent_head, silent_tail=5.0))
    span = detect_sound(path, 60.0, DetectionSettings(window=12.0, head_window=6.0))
    assert span is not None
    assert span.first_sound == pytest.approx(silent_head, abs=0.05)
    assert span.last_sound == pytest.approx(55.0, abs=0.05)
    assert [w for w in analysed_windows if w.start < 30.0] == head_windows
    assert [w for w in analysed_windows if w.start >= 30.0] == [Interval(48.0, 60.0)]
