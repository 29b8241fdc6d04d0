"""The process stage on an audio-only Zoom recording: published over its rule's thumbnail,
or skipped, saying why, when the rule sets none."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from independent import mediainfo_tracks
from shape_factory import make_audio_only

from integrations.media.ffmpeg import ffmpeg_binary
from integrations.media.probe import probe
from integrations.store.models import Recording
from tasks.common import SkipRecording
from tasks.process import process

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled


def downloaded_audio(tmp_path: Path) -> Recording:
    # Sound from 7.3 s to 14 s of 20: with the default 5 s of padding, 2.3-19 s are kept.
    folder = tmp_path / "video" / "unprocessed_video"
    source = make_audio_only(folder / "7-Lecture.mp4", 7.3, 6.0, duration=20.0)
    return Recording(
        id=7,
        topic="Lecture",
        start_time=datetime(2026, 11, 20, 10, tzinfo=UTC),
        source_path=str(source),
    )


def write_config(tmp_path: Path, thumbnail: str | None) -> None:
    rules = {"youtube_title_template": "{original_title}", "thumbnail": thumbnail}
    mapping = {"default_rules": rules, "thumbnail_directory": "thumbnails"}
    (tmp_path / "app_config.json").write_text(json.dumps({"video_title_mapping": mapping}))


@pytest.fixture
def source_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "video" / "unprocessed_video"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.usefixtures("source_folder")
def test_an_audio_only_recording_is_published_over_its_thumbnail(tmp_path: Path) -> None:
    (tmp_path / "thumbnails").mkdir()
    picture = tmp_path / "thumbnails" / "course.png"
    make = [ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=321x181"]
    subprocess.run([*make, "-frames:v", "1", str(picture)], check=True, timeout=60)
    write_config(tmp_path, "course.png")
    recording = downloaded_audio(tmp_path)

    outcome = process(recording)

    kept = outcome.fields["trim_end"] - outcome.fields["trim_start"]
    assert outcome.fields["trim_method"] == "copy"
    assert outcome.fields["trim_start"] == pytest.approx(2.3, abs=0.03)
    assert outcome.fields["trim_end"] == pytest.approx(19.0, abs=0.03)
    published = Path(outcome.fields["processed_path"])
    assert published == tmp_path / "video" / "processed_video" / "7-Lecture.mp4"
    info = probe(published)
    assert info.video is not None and (info.video.width, info.video.height) == (320, 180)
    # The sound as kept; the picture, one frame a second, to the end of its last second.
    assert info.audio is not None and info.audio_duration == pytest.approx(kept, abs=0.03)
    assert kept <= info.video_duration <= kept + 1.0
    assert list((tmp_path / "video" / "processing").iterdir()) == []
    tracks = mediainfo_tracks(published)
    assert [t["Format"] for t in tracks["Video"]] == ["AVC"]
    assert [t["Format"] for t in tracks["Audio"]] == ["AAC"]
    assert float(tracks["Audio"][0]["Duration"]) == pytest.approx(kept, abs=0.03)
    assert kept <= float(tracks["Video"][0]["Duration"]) <= kept + 1.0


@pytest.mark.usefixtures("source_folder")
def test_an_audio_only_recording_without_a_thumbnail_is_skipped_saying_why(
    tmp_path: Path,
) -> None:
    write_config(tmp_path, None)
    with pytest.raises(SkipRecording, match=r"audio only.*no thumbnail"):
        process(downloaded_audio(tmp_path))
    assert not (tmp_path / "video" / "processing").exists()
