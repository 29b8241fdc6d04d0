"""Loudness measured in parallel pieces, and audio encoded in pieces joined frame-exactly."""

from __future__ import annotations

import itertools
import math
import re
import subprocess
import time
from array import array
from pathlib import Path

import pytest

from config.processing import LoudnessProfile
from integrations.media.aac_join import FRAME, window_of
from integrations.media.errors import FFmpegError, MediaError
from integrations.media.ffmpeg import ffmpeg_binary
from integrations.media.loudness import (
    SILENCE_LUFS,
    LoudnessGain,
    integrated_loudness,
    measure_loudness,
    parse_frame_log,
    plan_gain,
)
from integrations.media.loudness_encode import encode_loudness
from integrations.media.mp4 import read_movie
from integrations.media.parallel import FFmpegJob, run_ffmpeg_jobs
from integrations.media.probe import probe

# A tone over a little noise (so that two encoders do not code it alike), with a loud 20 ms
# burst every 1.3 s: the gain to -16 LUFS needs the limiter there, and only there.
SPEECH = "0.03*sin(2*PI*440*t)+0.004*(2*random(0)-1)+0.3*sin(2*PI*1000*t)*lt(mod(t,1.3),0.02)"


def ffmpeg(*args: str, output: bool = False) -> bytes:
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-v", "error", "-y", *args]
    return subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout


def make_audio(path: Path, expression: str, rate: int = 32000, channels: int = 1) -> Path:
    """10 s of `expression` in every channel, AAC in an M4A, as Zoom writes audio."""
    layout = "|".join([expression] * channels)
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc='{layout}':s={rate}:d=10", "-c:a", "aac", "-b:a", "64k",
           str(path))  # fmt: skip
    return path


def pcm(path: Path, chain: str | None = None) -> array:
    """The first audio stream of `path` decoded (through `chain`), interleaved floats."""
    samples = array("f")
    filters = ["-af", chain] if chain else []
    samples.frombytes(ffmpeg("-i", str(path), "-map", "0:a:0", *filters, "-f", "f32le", "-"))
    return samples


def rms(values: array | list[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / max(len(values), 1))


# --- measurement ---------------------------------------------------------------------------


def test_integrated_loudness_gates_as_bs1770() -> None:
    assert integrated_loudness([-20.0] * 10 + [-75.0] * 5) == pytest.approx(-20.0)  # absolute
    # relative gate: the mean of both is -22.9 LUFS, so blocks under -32.9 LUFS are left out
    assert integrated_loudness([-20.0] * 10 + [-35.0] * 10) == pytest.approx(-20.0)
    both = -20 + 10 * math.log10((1 + 0.1) / 2)  # -30 LUFS has a tenth of the energy
    assert integrated_loudness([-20.0] * 10 + [-30.0] * 10) == pytest.approx(both)
    assert integrated_loudness([-120.7] * 3) == SILENCE_LUFS


FRAME_LOG = """[Parsed_ebur128_0 @ 0x1] t: 0.0999688  TARGET:-23 LUFS    M:-120.7 S:-120.7     \
I: -70.0 LUFS       LRA:   0.0 LU  SPK: -11.9 dBFS
[Parsed_ebur128_0 @ 0x1] t: 0.399969   TARGET:-23 LUFS    M: -31.2 S:-120.7     I: -31.2 \
LUFS       LRA:   0.0 LU  SPK: -11.9 -12.0 dBFS
[Parsed_ebur128_0 @ 0x1] Summary:

  Integrated loudness:
    I:         -31.2 LUFS
    Threshold: -41.2 LUFS

  Sample peak:
    Peak:       -5.6 dBFS
"""


def test_parse_frame_log_reads_blocks_and_sample_peak() -> None:
    assert parse_frame_log(FRAME_LOG) == ([-120.7, -31.2], -5.6)
    silence = FRAME_LOG.replace("-5.6 dBFS", "-inf dBFS")
    assert parse_frame_log(silence)[1] == float("-inf")
    with pytest.raises(MediaError):
        parse_frame_log(FRAME_LOG.partition("Summary:")[0])


def _ffmpeg_integrated(path: Path) -> float:
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-nostats", "-i", str(path)]
    cmd += ["-af", "ebur128", "-f", "null", "-"]
    stderr = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stderr
    found = re.search(r"I:\s+(-?[\d.]+) LUFS", stderr.rpartition("Summary:")[2])
    assert found is not None
    return float(found.group(1))


@pytest.mark.usefixtures("ffmpeg_build")
def test_pieces_measure_what_one_run_measures(tmp_path: Path) -> None:
    # quiet for 4 s, then four times louder: the relative gate leaves out the quiet part
    source = make_audio(tmp_path / "a.m4a", f"({SPEECH})*(0.1+0.9*gt(t,4))")
    info = probe(source)
    whole = measure_loudness(source, info, timeout=60)
    pieces = measure_loudness(source, info, timeout=60, pieces=3)
    assert pieces.integrated == pytest.approx(whole.integrated, abs=0.01)
    assert pieces.sample_peak == whole.sample_peak
    assert whole.integrated == pytest.approx(_ffmpeg_integrated(source), abs=0.06)


# --- frames and their join -----------------------------------------------------------------

ONLY_LONG, LONG_START, EIGHT_SHORT, LONG_STOP = range(4)
FOLLOWS = {  # the window sequences that may come after each (ISO/IEC 14496-3, 4.6.11)
    ONLY_LONG: {ONLY_LONG, LONG_START},
    LONG_START: {EIGHT_SHORT},
    EIGHT_SHORT: {EIGHT_SHORT, LONG_STOP},
    LONG_STOP: {ONLY_LONG, LONG_START},
}


def frames_of(path: Path) -> list[bytes]:
    track = read_movie(path).first("soun")
    assert track is not None
    data = path.read_bytes()
    return [data[o : o + s] for o, s in zip(track.offsets, track.sizes, strict=True)]


@pytest.mark.usefixtures("ffmpeg_build")
@pytest.mark.parametrize("channels", [1, 2])
def test_window_of_reads_the_encoders_windows(tmp_path: Path, channels: int) -> None:
    source = make_audio(tmp_path / "a.m4a", SPEECH, channels=channels)
    out = tmp_path / "fast.m4a"
    ffmpeg("-i", str(source), "-c:a", "aac", "-aac_coder", "fast", "-b:a", "128k", str(out))
    frames = frames_of(out)
    windows = [window_of(frame) for frame in frames]
    if channels == 1:
        assert None not in windows
    else:  # a pair whose channels chose different windows is not read: rare
        assert windows.count(None) < len(windows) // 10
    sequences = {window[0] for window in windows if window is not None}
    assert {ONLY_LONG, EIGHT_SHORT} <= sequences  # the bursts need short windows
    for before, after in itertools.pairwise(windows):
        if before is not None and after is not None:
            assert after[0] in FOLLOWS[before[0]]
    assert any(frame[0] >> 5 == 6 for frame in frames)  # frames led by a fill element, read past


@pytest.mark.usefixtures("ffmpeg_build")
@pytest.mark.parametrize(("rate", "channels"), [(32000, 1), (48000, 2)])
def test_pieces_join_as_one_encoder_would(tmp_path: Path, rate: int, channels: int) -> None:
    source = make_audio(tmp_path / "a.m4a", SPEECH, rate, channels)
    info = probe(source)
    gain = plan_gain(LoudnessProfile(), measure_loudness(source, info, timeout=60))
    assert gain.limit is not None  # the bursts need the limiter
    one, two = tmp_path / "one.m4a", tmp_path / "two.m4a"
    assert encode_loudness(source, info, gain, one, "128k", 1, timeout=60) == []
    (junction,) = encode_loudness(source, info, gain, two, "128k", 2, timeout=60)
    assert list(tmp_path.glob("*.part")) == []  # the pieces are gone
    ideal = pcm(source, gain.filters())  # what the encoders were given
    single, joined = pcm(one), pcm(two)
    assert len(single) == len(joined) == len(ideal)
    frame = FRAME * channels
    # The limiter is idle where the pieces overlap: both were given the same samples there.
    quiet = ideal[(junction - 1) * frame - int(0.07 * rate) * channels : (junction + 1) * frame]
    assert max(map(abs, quiet)) < gain.limit
    # Up to the frames that overlap at the junction, the joined audio is the first encoder's.
    before = (junction - 1) * frame
    assert joined[:before] == single[:before]
    assert joined[before : before + frame] != single[before : before + frame]
    # Around the junction it is as close to what was encoded as one encoder's output is.
    for index in range(junction - 2, junction + 3):
        span = slice(index * frame, (index + 1) * frame)
        error = rms([a - b for a, b in zip(joined[span], ideal[span], strict=True)])
        single_error = rms([a - b for a, b in zip(single[span], ideal[span], strict=True)])
        assert error < 3 * single_error + 1e-4, index


@pytest.mark.usefixtures("ffmpeg_build")
def test_without_a_quiet_place_the_audio_is_one_piece(tmp_path: Path) -> None:
    source = make_audio(tmp_path / "a.m4a", "0.3*(2*random(0)-1)")  # loud noise throughout
    info = probe(source)
    gain = LoudnessGain(6.0, -9.0)  # the limiter works on every few samples
    out = tmp_path / "out.m4a"
    assert encode_loudness(source, info, gain, out, "128k", 2, timeout=60) == []
    assert len(pcm(out)) == len(pcm(source))
    assert list(tmp_path.glob("*.part")) == []


# --- parallel runs ---------------------------------------------------------------------------


@pytest.mark.usefixtures("ffmpeg_build")
def test_parallel_jobs_report_one_progress() -> None:
    seen: list[float] = []
    silence = ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "20", "-f", "null", "-"]
    runs = run_ffmpeg_jobs(
        [FFmpegJob(silence, 20.0), FFmpegJob(silence, 20.0)], timeout=60, progress=seen.append
    )
    assert len(runs) == 2
    assert seen[-1] == pytest.approx(1.0)
    assert seen == sorted(seen)


@pytest.mark.usefixtures("ffmpeg_build")
def test_a_failing_job_stops_the_others() -> None:
    slow = ["-re", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "60", "-f", "null", "-"]
    broken = ["-f", "lavfi", "-i", "no_such_source", "-f", "null", "-"]
    started = time.monotonic()
    with pytest.raises(FFmpegError):
        run_ffmpeg_jobs([FFmpegJob(slow, 60.0), FFmpegJob(broken, 1.0)], timeout=120)
    assert time.monotonic() - started < 30  # the real-time job was killed, not waited for
