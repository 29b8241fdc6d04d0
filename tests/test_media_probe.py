"""Probing, H.264 parameter sets, cut planning and output verification."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from media_factory import MediaSpec, cached_media, corrupt_copy

from integrations.media.cut import plan_cut
from integrations.media.errors import MediaProbeError, MediaVerificationError
from integrations.media.ffmpeg import ffmpeg_binary, run_ffmpeg
from integrations.media.h264 import (
    AvccError,
    free_parameter_set_id,
    merge_avcc,
    parse_avcc,
    pps_ids,
    sps_id,
    video_extradata,
)
from integrations.media.probe import keyframes_near, probe, read_video_packets
from integrations.media.verify import top_level_atoms, verify_output

BASIC = MediaSpec(duration=6.0, gop=30)


def test_probe_reads_stream_parameters() -> None:
    info = probe(cached_media(BASIC))
    assert info.duration == pytest.approx(6.0, abs=0.05)
    video = info.video
    assert video is not None
    assert (video.codec, video.profile, video.level, video.level_string) == (
        "h264",
        "High",
        30,
        "3.0",
    )
    assert (video.width, video.height, video.fps, video.pix_fmt) == (
        320,
        180,
        Fraction(30),
        "yuv420p",
    )
    assert video.has_b_frames
    assert video.time_base.denominator > 0
    assert info.audio is not None
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 48000, 1)


def test_keyframes_near_reads_the_gop() -> None:
    assert keyframes_near(cached_media(BASIC), 3.0, span=2.0) == pytest.approx(
        [1.0, 2.0, 3.0, 4.0, 5.0]
    )


def test_packets_come_in_decode_order_from_the_keyframe_before() -> None:
    packets = read_video_packets(cached_media(BASIC), 2.5, lambda seen: len(seen) >= 10)
    assert packets[0].keyframe and packets[0].pts == pytest.approx(2.0)
    dts = [p.dts for p in packets]
    assert dts == sorted(dts)
    assert any(p.pts != p.dts for p in packets)  # B-frames reorder


def test_probe_rejects_non_media(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaProbeError, match=r"junk\.mp4"):
        probe(junk)


def test_avcc_merge_keeps_both_parameter_sets() -> None:
    source = parse_avcc(video_extradata(cached_media(BASIC)))
    assert source.nal_length_size == 4
    assert [sps_id(n) for n in source.sps] == [0]
    assert [pps_ids(n) for n in source.pps] == [(0, 0)]
    free = free_parameter_set_id(source)
    assert free == 1
    with pytest.raises(AvccError, match="collide"):
        merge_avcc(source, source)
    assert parse_avcc(source.to_bytes()) == source
    with pytest.raises(AvccError):
        parse_avcc(b"\x00\x00\x00\x01\x67")  # Annex B, not avcC


def test_plan_snaps_start_and_end_to_frames() -> None:
    info = probe(cached_media(BASIC))
    assert plan_cut(info, 2.51, 4.49).start == pytest.approx(2.5)  # the nearest frame
    plan = plan_cut(info, 2.53, 4.49)
    assert plan.method == "smart"
    assert plan.start == pytest.approx(2.5333, abs=1e-3)
    assert plan.keyframe == pytest.approx(3.0)
    assert plan.head_frames == 14
    assert 4.49 <= plan.end < 4.49 + 4 / 30  # the first clean boundary at or after the end
    assert plan_cut(info, 3.0 + 0.01, 5.0).method == "copy"  # within half a frame of a keyframe


def _remux(source: Path, destination: Path, *extra: str) -> Path:
    subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-y",
            "-i",
            str(source),
            "-c",
            "copy",
            *extra,
            str(destination),
        ],
        check=True,
        timeout=60,
    )
    return destination


def test_verify_accepts_a_good_file() -> None:
    report = verify_output(cached_media(BASIC), expected_duration=6.0, frame_duration=1 / 30)
    assert report.moov_first and abs(report.av_offset) <= 1 / 30


def test_verify_rejects_moov_at_the_end(tmp_path: Path) -> None:
    path = _remux(cached_media(BASIC), tmp_path / "late.mp4")
    assert top_level_atoms(path).index("mdat") < top_level_atoms(path).index("moov")
    with pytest.raises(MediaVerificationError, match="moov"):
        verify_output(path, expected_duration=6.0, frame_duration=1 / 30)


def test_verify_rejects_wrong_duration() -> None:
    with pytest.raises(MediaVerificationError, match="lasts"):
        verify_output(cached_media(BASIC), expected_duration=5.9, frame_duration=1 / 30)


def test_verify_rejects_av_offset(tmp_path: Path) -> None:
    src = cached_media(BASIC)
    path = tmp_path / "offset.mp4"
    run_ffmpeg(
        ["-i", str(src), "-itsoffset", "0.2", "-i", str(src), "-map", "0:v", "-map", "1:a",
         "-c", "copy", "-t", "5.8", "-movflags", "+faststart", "-y", str(path)],
        timeout=60,
    )  # fmt: skip
    with pytest.raises(MediaVerificationError, match=r"after the audio|lasts"):
        verify_output(path, expected_duration=probe(path).duration, frame_duration=1 / 30)


def test_verify_rejects_decode_errors(tmp_path: Path) -> None:
    source = cached_media(MediaSpec(duration=6.0, gop=300))
    data = bytearray(source.read_bytes())
    # Damage the media data a little after the header: the first seconds fail to decode.
    atoms = top_level_atoms(source)
    assert atoms[:3] == ["ftyp", "moov", "mdat"] or "moov" in atoms
    mdat = data.find(b"mdat")
    data[mdat + 2000 : mdat + 6000] = b"\xff" * 4000
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(MediaVerificationError, match="errors"):
        verify_output(broken, expected_duration=6.0, frame_duration=1 / 30)


def test_corrupt_copy_helper_truncates(tmp_path: Path) -> None:
    out = corrupt_copy(cached_media(BASIC), tmp_path / "c.mp4")
    assert out.stat().st_size < cached_media(BASIC).stat().st_size
