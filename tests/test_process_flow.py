"""The process stage over the store: cuts recorded, no-sound skipped, a corrupt file fails alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import add_recording
from media_factory import MediaSpec, corrupt_copy, make_media

from flows.process import process_flow
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus

pytestmark = pytest.mark.usefixtures("ffmpeg_build")  # system FFmpeg, then bundled

S = ProcessingStatus


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    lecture = make_media(
        folder / "lecture.mp4", MediaSpec(duration=20, silent_head=8, silent_tail=6)
    )
    return {
        "lecture": lecture,
        "silent": make_media(folder / "silent.mp4", MediaSpec(duration=8, silent=True)),
        "corrupt": corrupt_copy(lecture, folder / "corrupt.mp4"),
    }


def downloaded(store: RecordingStore, source: Path, media: Path, topic: str) -> int:
    target = media / "unprocessed_video" / f"{topic}.mp4"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    row = add_recording(store, topic=topic, status=S.DOWNLOADED, source_path=str(target))
    return row.id


def test_process_flow_trims_skips_and_fails_each_on_its_own(
    prefect_harness: None,
    store: RecordingStore,
    sources: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    media = tmp_path / "video"
    corrupt = downloaded(store, sources["corrupt"], media, "corrupt")
    lecture = downloaded(store, sources["lecture"], media, "lecture")
    silent = downloaded(store, sources["silent"], media, "silent")
    (media / "processing").mkdir(parents=True)
    (media / "processing" / ".lecture.k1ll3d.part").write_bytes(b"left by a killed run")
    (media / "processing" / ".other.w0rk1ng.part").write_bytes(b"another recording's work")

    state = process_flow(return_state=True)

    assert state.is_failed() and f"{corrupt} (corrupt)" in state.message
    done = store.get(lecture)
    assert done.status == S.PROCESSED
    # 8 s of silence then 5 s padding: the cut starts at 3 s and ends 5 s after the sound
    # (frame accuracy itself is asserted in test_media_*).
    assert done.trim_start == pytest.approx(3.0, abs=0.1)
    assert done.trim_end == pytest.approx(19.0, abs=0.1)
    assert Path(done.processed_path).parent == media / "processed_video"
    assert Path(done.processed_path).is_file()
    skipped = store.get(silent)
    assert skipped.status == S.SKIPPED and "no sound" in skipped.status_reason
    failed = store.get(corrupt)
    assert failed.status == S.FAILED and failed.status_reason
    assert Path(failed.source_path).is_file(), "the source of a failed recording is kept"
    leftovers = [p.name for p in (media / "processing").iterdir()]
    assert leftovers == [".other.w0rk1ng.part"], "only this recording's stale parts go"
    assert sorted(p.name for p in (media / "processed_video").iterdir()) == ["lecture.mp4"]


def test_enabled_profiles_run_after_the_cut(
    prefect_harness: None, store: RecordingStore, sources: dict[str, Path], tmp_path: Path
) -> None:
    import json

    import av

    config = {"processing": {"loudness": {"enabled": True, "integrated_lufs": -20}}}
    (tmp_path / "app_config.json").write_text(json.dumps(config))
    lecture = downloaded(store, sources["lecture"], tmp_path / "video", "loud")

    assert process_flow(return_state=True).is_completed()

    done = store.get(lecture)
    assert done.status == S.PROCESSED and done.trim_start == pytest.approx(3.0, abs=0.1)
    with av.open(done.processed_path) as container:
        assert container.duration / av.time_base == pytest.approx(16.0, abs=0.1)
        assert container.streams.audio[0].sample_rate == 48000
    assert list((tmp_path / "video" / "processing").iterdir()) == []
