"""Cutting an audio-only recording (Zoom's `audio_only` M4A) to the sample, with each FFmpeg
build; the result read back by FFmpeg, MediaInfo and GStreamer's demuxer."""

from __future__ import annotations

from pathlib import Path

import pytest
from independent import gstreamer_audio, mediainfo_tracks
from shape_factory import make_audio_only, make_extra_tracks, samples

from integrations.media import audio_cut
from integrations.media.audio_cut import PREROLL, cut_audio, verify_audio_cut
from integrations.media.errors import MediaVerificationError
from integrations.media.probe import probe
from integrations.media.verify import first_timestamps

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled

ONSET = 4.3  # the tone starts (make_audio_only's head)


@pytest.mark.parametrize(
    ("start", "rate", "layout"),
    # The last: the cut 20 ms in, so that the pre-roll would start before the file.
    [(3.3, 48000, "mono"), (3.3, 32000, "stereo"), (0.02, 48000, "mono")],
    ids=["48k-mono", "32k-stereo", "cut-in-the-first-packet"],
)
def test_an_audio_only_recording_is_cut_to_the_sample(
    tmp_path: Path, start: float, rate: int, layout: str
) -> None:
    source = make_audio_only(tmp_path / "audio_only.m4a", ONSET, 3.2, rate, layout)
    output, end = tmp_path / "cut.m4a", 9.8
    seen: list[float] = []
    cut_audio(source, probe(source), start, end, output, seen.append)
    verify_audio_cut(output, end - start, "cut.m4a")
    assert seen and seen[-1] == 1.0
    # Decoded, the cut is the source's sound from the exact sample on: the packets before the
    # cut are there for the decoder (without them the first packet decodes wrong: up to 0.003
    # off on this hum) and hidden by the edit list. Further on, a sample shifted by one would
    # be off by 3e-4 on the hum and 0.03 on the tone; only bands the encoder coded as noise
    # (PNS, random by design) may differ.
    ours, theirs = samples(output), samples(source)
    first, kept = round(start * rate), (end - start) * rate
    assert kept <= len(ours) <= kept + 1024
    head_window = range(2048)
    assert max(abs(theirs[first + i]) for i in head_window) > 0.003
    assert max(abs(ours[i] - theirs[first + i]) for i in head_window) < 2e-4
    differing = sum(abs(a - b) > 2e-4 for a, b in zip(ours, theirs[first:], strict=False))
    assert differing < len(ours) / 1000
    out = probe(output)
    assert out.video is None and out.audio is not None and out.audio.sample_rate == rate
    assert first_timestamps(output) == (None, pytest.approx(0.0, abs=1e-3))
    # MediaInfo reads one AAC track lasting the kept span (to one packet more).
    tracks = mediainfo_tracks(output)
    assert "Video" not in tracks and [t["Format"] for t in tracks["Audio"]] == ["AAC"]
    listed = float(tracks["General"][0]["Duration"])
    assert end - start - 0.002 <= listed <= end - start + 1024 / rate + 0.002
    assert int(tracks["Audio"][0]["SamplingRate"]) == rate
    # GStreamer's demuxer (qtdemux 1.22) plays the source's sound too, from the cut or up to a
    # packet (1024 samples) before it: it skips the pre-roll the edit list hides, in whole
    # packets; and it stops early by about as much as it skipped (the kept span's end is in
    # the padding: a tenth of a second of silence less).
    theirs_at = gstreamer_audio(output, tmp_path / "gst.raw", 2 if layout == "stereo" else 1)
    onset = round((ONSET - start) * rate)  # where the tone starts: unambiguous
    window = range(onset - 200, onset + 200)

    def misfit(shift: int) -> float:
        return max(abs(theirs_at[i] - theirs[first + shift + i]) for i in window)

    early = min(range(-1100, 100), key=misfit)
    assert -1024 <= early <= 0 and misfit(early) < 2e-4
    assert 0 <= len(ours) - (len(theirs_at) + early) <= (PREROLL + 0.05) * rate


def test_the_pre_roll_is_what_makes_the_start_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the packets before the cut, FFmpeg's copy starts with a wrongly decoded one."""
    monkeypatch.setattr(audio_cut, "PREROLL", 0.0)
    source = make_audio_only(tmp_path / "audio_only.m4a", ONSET, 3.2)
    cut_audio(source, probe(source), 3.3, 9.8, tmp_path / "cut.m4a")
    ours, theirs = samples(tmp_path / "cut.m4a"), samples(source)
    first = round(3.3 * 48000)
    assert max(abs(ours[i] - theirs[first + i]) for i in range(1024)) > 1e-3


def test_verification_rejects_what_is_not_the_audio_cut(tmp_path: Path) -> None:
    source = make_audio_only(tmp_path / "audio_only.m4a", ONSET, 3.2)
    with pytest.raises(MediaVerificationError, match=r"index \(moov\) is not before the data"):
        verify_audio_cut(source, 12.0, "source")
    cut_audio(source, probe(source), 3.3, 9.8, tmp_path / "cut.m4a")
    with pytest.raises(MediaVerificationError, match=r"lasts 6\.5\d\d s, expected 5\.000-5\.120 s"):
        verify_audio_cut(tmp_path / "cut.m4a", 5.0, "cut")
    with pytest.raises(MediaVerificationError, match="not one audio stream"):
        verify_audio_cut(make_extra_tracks(tmp_path / "extra.mp4"), 8.0, "video")
