"""trim_file end to end on generated recordings: cut points, frame accuracy, sync, failures."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import av
import pytest
from media_factory import (
    MediaSpec,
    assert_read_independently,
    cached_media,
    corrupt_copy,
    make_media,
)

from integrations.media import trim as trim_module
from integrations.media.cut import execute_cut, expected_frames, plan_cut, plan_end
from integrations.media.errors import (
    MediaError,
    MediaProbeError,
    MediaVerificationError,
    NoSoundError,
)
from integrations.media.ffmpeg import ffmpeg_binary
from integrations.media.probe import probe, video_frame_count
from integrations.media.splice import read_index
from integrations.media.trim import TrimOptions, trim_file
from integrations.media.verify import (
    decode_errors,
    first_timestamps,
    moov_before_mdat,
    picture_distance,
    small_gray,
    source_frame_index_of_first_frame,
    top_level_atoms,
    verify_output,
)

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled

FRAME = 1 / 30
ROOT = Path(__file__).resolve().parents[1]

# GOP of 2 s; the cut at 7.3 - 5 = 2.3 s falls between keyframes (2.0 and 4.0).
SMART = MediaSpec(duration=20.0, silent_head=7.3, silent_tail=7.7, noise_db=-60.0)
# Keyframes at 0 and 20 s only: the cut at 2.3 s re-encodes 17.7 s up to the keyframe.
LONG_GOP = MediaSpec(duration=30.0, silent_head=7.3, silent_tail=6.0, gop=600)
# The cut at 9 - 5 = 4.0 s sits on a keyframe: plain copy.
ON_KEYFRAME = MediaSpec(duration=20.0, silent_head=9.0, silent_tail=6.0)
# SMART as a fragmented MP4: the cut is not written from the source's index but joined by FFmpeg.
FRAGMENTED = MediaSpec(
    duration=20.0, silent_head=7.3, silent_tail=7.7, noise_db=-60.0,
    movflags="+frag_keyframe+empty_moov+default_base_moof",
)  # fmt: skip
FFMPEG_JOIN = "joining with FFmpeg"
# SMART with x264's open GOPs: every keyframe after the first is an I picture that is not an IDR
# picture (a recovery point); most have leading pictures (decoded after them, shown before).
OPEN_GOP = MediaSpec(
    duration=20.0, silent_head=7.3, silent_tail=7.7, noise_db=-60.0, x264_params="open_gop=1"
)


def thumbnails(path: Path) -> list[tuple[float, bytes]]:
    with av.open(str(path)) as container:
        return [(float(f.pts * f.time_base), small_gray(f)) for f in container.decode(video=0)]


def assert_frames_match(source: Path, output: Path, start: float, at: list[float]) -> None:
    """The output frame at each time in `at` shows the source frame at start + that time."""
    src = thumbnails(source)
    out = thumbnails(output)
    for t in at:
        i = min(range(len(out)), key=lambda k: abs(out[k][0] - t))
        distances = [(picture_distance(out[i][1], pic), ts) for ts, pic in src]
        best = min(distances)[1]
        assert best == pytest.approx(start + out[i][0], abs=FRAME / 2), f"output frame at {t} s"


def video_packets(path: Path, start: float, end: float) -> list[bytes]:
    """The video packets presented in [start, end), in decode order, as bytes."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            bytes(p)
            for p in container.demux(stream)
            if p.pts is not None and start <= float(p.pts * stream.time_base) < end
        ]


def pictures(path: Path) -> dict[float, str]:
    """Every decoded video frame (a digest of its pixels) by presentation time in ms."""
    with av.open(str(path)) as container:
        return {
            round(float(f.pts * f.time_base), 3): hashlib.md5(
                b"".join(bytes(plane) for plane in f.planes)
            ).hexdigest()
            for f in container.decode(video=0)
        }


def assert_copied_pictures_are_the_source(source: Path, output: Path, start: float, key: float):
    """Decoded, the output from the keyframe `key` on shows the source's very pixels."""
    theirs = pictures(source)
    ours = {round(t + start, 3): digest for t, digest in pictures(output).items()}
    copied = [t for t in ours if t >= key - 1e-6]
    assert copied and all(ours[t] == theirs[t] for t in copied)


def assert_sound_cut(result, source: Path, expected_start: float, expected_end: float) -> None:
    assert result.start == pytest.approx(expected_start, abs=FRAME + 1e-6)
    # The end snaps to the first frame at or after it where decode and display order agree
    # (B-pyramid: one in four frames).
    assert expected_end - 1e-6 <= result.end < expected_end + 4 * FRAME
    out = probe(result.destination)
    assert out.video_duration == pytest.approx(result.end - result.start, abs=FRAME)
    assert out.duration == pytest.approx(result.end - result.start, abs=FRAME)
    video_first, audio_first = first_timestamps(result.destination)
    assert abs(video_first - audio_first) <= FRAME
    assert source_frame_index_of_first_frame(source, result.destination, result.start, FRAME) == 0
    assert moov_before_mdat(result.destination)
    assert oct(result.destination.stat().st_mode & 0o777) == oct(0o644)
    assert_read_independently(result.destination)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_smart_cut_known_silences(tmp_path: Path) -> None:
    source = cached_media(SMART)
    seen: list[float] = []
    result = trim_file(source, tmp_path / "out.mp4", TrimOptions(), progress=seen.append)
    assert result.method == "smart"
    assert result.reason is None
    assert_sound_cut(result, source, 7.3 - 5, 20.0 - 7.7 + 5)
    # Frames across the junction (the keyframe at 4.0 s is 1.7 s into the output) are right.
    assert_frames_match(source, result.destination, result.start, [0.0, 1.6, 1.667, 1.7, 1.8])
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert set(result.timings) >= {
        "probe",
        "detect_head",
        "detect_tail",
        "head_encode",
        "join",
        "verify",
    }
    assert leftovers(tmp_path) == []


def test_copy_when_a_keyframe_sits_at_the_cut(tmp_path: Path) -> None:
    source = cached_media(ON_KEYFRAME)
    result = trim_file(source, tmp_path / "out.mp4", TrimOptions())
    assert result.method == "copy"
    assert_sound_cut(result, source, 4.0, 19.0)


def test_long_gop_source_is_cut_frame_accurately(tmp_path: Path) -> None:
    source = cached_media(LONG_GOP)
    result = trim_file(source, tmp_path / "out.mp4", TrimOptions())
    assert result.method == "smart"
    assert_sound_cut(result, source, 2.3, 29.0)
    junction = 20.0 - result.start
    assert_frames_match(
        source, result.destination, result.start, [0.0, junction - FRAME, junction, 26.0]
    )


def test_no_silence_leaves_the_file_untouched(tmp_path: Path) -> None:
    destination = tmp_path / "out.mp4"
    result = trim_file(cached_media(MediaSpec(duration=8.0)), destination, TrimOptions())
    assert result.method == "untouched"
    assert result.destination is None
    assert (result.start, result.end) == (0.0, 8.0)
    assert not destination.exists()
    assert list(tmp_path.iterdir()) == []


def test_all_silence_raises_no_sound(tmp_path: Path) -> None:
    source = cached_media(MediaSpec(duration=8.0, silent=True, noise_db=-55.0))
    with pytest.raises(NoSoundError) as caught:
        trim_file(source, tmp_path / "out.mp4", TrimOptions())
    assert caught.value.duration == pytest.approx(8.0, abs=0.05)
    assert list(tmp_path.iterdir()) == []


def test_non_h264_source_is_reencoded_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_media(
        tmp_path / "mpeg4.mp4",
        MediaSpec(duration=10.0, silent_head=6.3, silent_tail=1.0, video_codec="mpeg4"),
    )
    result = trim_file(source, tmp_path / "out.mp4", TrimOptions())
    assert result.method == "reencode"
    assert "mpeg4" in (result.reason or "")
    assert "mpeg4" in caplog.text
    assert_sound_cut(result, source, 1.3, 10.0)
    assert probe(result.destination).video.codec == "h264"


def test_corrupt_file_fails_cleanly(tmp_path: Path) -> None:
    source = corrupt_copy(cached_media(SMART), tmp_path / "corrupt.mp4")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(MediaError) as caught:
        trim_file(source, out_dir / "out.mp4", TrimOptions())
    assert "corrupt.mp4" in str(caught.value)
    assert list(out_dir.iterdir()) == []


def test_not_media_fails_with_probe_error(tmp_path: Path) -> None:
    source = tmp_path / "notes.mp4"
    source.write_bytes(b"this is not a video" * 100)
    with pytest.raises(MediaProbeError, match=r"notes\.mp4"):
        trim_file(source, tmp_path / "out.mp4", TrimOptions())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_interrupt_mid_ffmpeg_removes_the_temp_file(tmp_path: Path) -> None:
    calls: list[float] = []

    def interrupt(fraction: float) -> None:
        calls.append(fraction)
        if fraction > 0.15:  # inside the cut phase
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trim_file(cached_media(SMART), tmp_path / "out.mp4", TrimOptions(), progress=interrupt)
    assert calls
    assert list(tmp_path.iterdir()) == []


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from integrations.media.trim import TrimOptions, trim_file

    marker = Path(sys.argv[3])

    def progress(fraction):
        if fraction > 0.2 and not marker.exists():
            marker.write_text("cutting")

    trim_file(Path(sys.argv[1]), Path(sys.argv[2]), TrimOptions(), progress=progress)
    """
)


def _ffmpeg_writing(folder: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(folder) in cmdline and "ffmpeg" in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_kill_9_mid_cut_leaves_no_file_under_the_final_name(tmp_path: Path) -> None:
    # A full re-encode (mpeg4 source) of 40 s at 640x360 takes long enough to be caught.
    source = make_media(
        tmp_path / "src.mp4",
        MediaSpec(
            duration=40.0,
            silent_head=6.3,
            silent_tail=3.0,
            width=640,
            height=360,
            video_codec="mpeg4",
        ),
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    destination = out_dir / "final.mp4"
    marker = tmp_path / "marker"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(source), str(destination), str(marker)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), "the trim never reached the cut"
        assert proc.poll() is None, "the trim finished before it could be killed"
        assert any(p.suffix == ".part" for p in out_dir.iterdir())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not destination.exists()
    # The ffmpeg child dies with its parent instead of finishing the orphaned temp file.
    deadline = time.monotonic() + 5
    while _ffmpeg_writing(out_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ffmpeg_writing(out_dir) == []
    assert not destination.exists()


def test_source_with_a_non_zero_start_time(tmp_path: Path) -> None:
    """Timestamps that start at 3 s (an edited or restarted recording) are cut at the same place."""
    shifted = tmp_path / "shifted.mp4"
    subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-i", str(cached_media(SMART)), "-c", "copy",
         "-output_ts_offset", "3", "-movflags", "+faststart", str(shifted)],
        check=True,
        timeout=60,
    )  # fmt: skip
    info = probe(shifted)
    assert info.start_time > 2.9
    result = trim_file(shifted, tmp_path / "out.mp4", TrimOptions())
    assert result.method == "smart"
    assert result.start == pytest.approx(2.3 + (3.0 - info.start_time), abs=FRAME + 1e-6)
    absolute_start = result.start + info.start_time
    assert (
        source_frame_index_of_first_frame(shifted, result.destination, absolute_start, FRAME) == 0
    )
    video_first, audio_first = first_timestamps(result.destination)
    assert abs(video_first - audio_first) <= FRAME


def test_too_small_index_reservation_falls_back_to_faststart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from integrations.media import cut

    monkeypatch.setattr(cut, "moov_reserve", lambda info, duration: 1024)
    with caplog.at_level("INFO", logger="integrations.media.cut"):
        result = trim_file(cached_media(FRAGMENTED), tmp_path / "out.mp4", TrimOptions())
    assert FFMPEG_JOIN in caplog.text and "faststart" in caplog.text
    assert moov_before_mdat(result.destination)
    assert top_level_atoms(result.destination)[:2] == ["ftyp", "moov"]


@pytest.mark.parametrize(
    "spec",
    [SMART, LONG_GOP, ON_KEYFRAME, FRAGMENTED],
    ids=["smart", "long-gop", "copy", "fragmented"],
)
def test_the_cut_holds_exactly_the_source_frames_of_its_span(
    spec: MediaSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """30 fps CFR sources: the kept span's frame count, as the container's index lists it,
    and the copied packets as they are in the source, whichever way the file is written."""
    source = cached_media(spec)
    with caplog.at_level("INFO", logger="integrations.media.cut"):
        result = trim_file(source, tmp_path / "out.mp4", TrimOptions())
    assert (FFMPEG_JOIN in caplog.text) == (spec is FRAGMENTED), caplog.text
    plan = plan_cut(probe(source), result.start, result.end)
    frames = round((result.end - result.start) * 30)
    listed = None if spec is FRAGMENTED else frames  # fragments list no frame count up front
    assert expected_frames(probe(source), plan) == listed  # FFmpeg's packet times
    assert expected_frames(probe(source), plan, read_index(source).movie) == listed  # the index
    assert video_frame_count(result.destination) == frames
    first_copied = plan.keyframe if plan.keyframe is not None else plan.start
    kept = video_packets(source, first_copied - 1e-6, plan.end - 1e-6)
    assert video_packets(result.destination, first_copied - plan.start - 1e-6, 1e9) == kept


def test_verification_catches_a_frame_lost_or_doubled_at_a_join(tmp_path: Path) -> None:
    result = trim_file(cached_media(SMART), tmp_path / "out.mp4", TrimOptions(verify=False))
    frames = video_frame_count(result.destination)
    assert frames is not None
    common = {"expected_duration": result.duration, "frame_duration": FRAME, "junction": 1.7}
    verify_output(result.destination, expected_frames=frames, **common)
    for wrong in (frames - 1, frames + 1):
        with pytest.raises(MediaVerificationError, match=f"holds {frames} video frames"):
            verify_output(result.destination, expected_frames=wrong, **common)


def test_the_head_preset_must_keep_the_high_profile_tools() -> None:
    """ultrafast drops CABAC and the 8x8 transform: a High-profile source's head would be Main."""
    from pydantic import ValidationError

    assert TrimOptions().head_preset == "superfast"
    with pytest.raises(ValidationError, match="head_preset"):
        TrimOptions(head_preset="ultrafast")


def test_open_gop_source_is_cut_frame_accurately(tmp_path: Path) -> None:
    """The copy starts at a keyframe that is not an IDR picture: it is made one, its leading
    picture is re-encoded in the head, and every copied picture decodes as in the source."""
    source = cached_media(OPEN_GOP)
    result = trim_file(source, tmp_path / "out.mp4", TrimOptions())
    assert result.method == "smart"
    assert "open GOP: the keyframe at 4.000 s made an IDR picture" in result.how
    assert_sound_cut(result, source, 2.3, 20.0 - 7.7 + 5)
    assert decode_errors(result.destination, 0.0, result.duration) == ""
    junction = 4.0 - result.start
    assert_frames_match(source, result.destination, result.start, [0.0, junction - FRAME])
    assert_copied_pictures_are_the_source(source, result.destination, result.start, 4.0)


def test_every_open_gop_keyframe_is_copied_from(tmp_path: Path) -> None:
    """Keyframes with and without leading pictures, cut just before them (a head re-encoded
    up to them) and right at them (copied from them, leading pictures left out)."""
    source = cached_media(OPEN_GOP)
    info = probe(source)
    leading = set()
    for key in (4.0, 6.0, 10.0):
        for start in (key - 0.3, key):
            plan = plan_cut(info, start, key + 2.5)
            output = tmp_path / f"cut-{start}.mp4"
            written = execute_cut(source, info, plan, output)
            assert (written.method, plan.method) == ("smart" if start < key else "copy",) * 2
            assert "made an IDR picture" in written.how
            assert decode_errors(output, 0.0, plan.duration) == ""
            assert video_frame_count(output) == expected_frames(info, plan)
            assert source_frame_index_of_first_frame(source, output, plan.start, FRAME) == 0
            assert_copied_pictures_are_the_source(source, output, plan.start, key)
            assert_read_independently(output)
            leading.add(plan.leading)
    assert 0 in leading and max(leading) > 0, "both shapes of keyframe should be covered"


@pytest.mark.parametrize(
    "spec,why",
    [
        (replace(OPEN_GOP, movflags=FRAGMENTED.movflags), "in a layout only FFmpeg joins"),
        (replace(OPEN_GOP, x264_params="open_gop=1:interlaced=1"), "interlaced coding"),
    ],
    ids=["fragmented", "interlaced"],
)
def test_open_gop_the_writer_cannot_copy_from_is_reencoded_and_says_why(
    spec: MediaSpec, why: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_media(tmp_path / "source.mp4", spec)
    result = trim_file(source, tmp_path / "out.mp4", TrimOptions())
    assert result.method == "reencode"
    # Counted from the container's start (a fragmented file's starts 2 frames early).
    assert re.search(r"the keyframe at 4\.0\d\d s is not an IDR picture \(open GOP\)", result.how)
    assert why in (result.reason or "")
    assert result.how.startswith("the whole span re-encoded: ")
    assert why in caplog.text
    assert source_frame_index_of_first_frame(source, result.destination, result.start, FRAME) == 0
    assert decode_errors(result.destination, 0.0, result.duration) == ""
    assert_read_independently(result.destination)


def test_the_end_is_the_first_clean_boundary_at_or_after_the_padded_end() -> None:
    """B-pyramid: decode and display order agree before one frame in four; the end never
    falls short of the padding."""
    info = probe(cached_media(SMART))
    for step in range(0, 60, 7):
        end = 15.0 + step / 90  # on frames, between them, a third of one past
        snapped, outpoint = plan_end(info, end)
        assert end - 1e-6 <= snapped < end + 4 * FRAME
        assert outpoint is not None and snapped - 4 * FRAME < outpoint < snapped
        assert round(snapped / FRAME, 6) == round(snapped / FRAME)


def test_truncated_source_is_named_before_any_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is at the front, the data cut off: nothing is cut, and the error says so."""
    full = cached_media(SMART)
    source = tmp_path / "cut-off.mp4"
    kept = full.stat().st_size * 7 // 10
    source.write_bytes(full.read_bytes()[:kept])
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    def no_cut(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cut began")

    monkeypatch.setattr(trim_module, "execute_cut", no_cut)
    expected = (
        f"cut-off.mp4 is truncated: its index lists data up to byte {full.stat().st_size}, "
        f"the file has {kept} bytes"
    )
    with pytest.raises(MediaProbeError, match=expected):
        trim_file(source, out_dir / "out.mp4", TrimOptions())
    assert list(out_dir.iterdir()) == []
