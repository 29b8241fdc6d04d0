"""Pure parts of the Zoom layer: instance parsing, view choice, filters, windows, encoding."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from integrations.http.retry import parse_retry_after
from integrations.sandbox.zoom import FileSpec, ZoomEmulator
from integrations.zoom import (
    ZoomInstance,
    date_windows,
    encode_uuid,
    parse_instance,
    skip_reason,
)

MIB = 1024 * 1024


def meeting_json(files: list[FileSpec], duration: int = 90) -> dict:
    zoom = ZoomEmulator()
    account = zoom.add_account("acme")
    user = zoom.add_user(account)
    start = datetime(2026, 9, 1, 10, tzinfo=UTC)
    meeting = zoom.add_meeting(
        account, user, topic="Lecture", start_time=start, duration=duration, files=files
    )
    return zoom.meeting_json(meeting)


def test_stop_restart_segments_of_the_preferred_view_in_order():
    data = meeting_json(
        [
            FileSpec("speaker_view", size=100 * MIB, offset_min=0, duration_min=30),
            FileSpec("shared_screen_with_speaker_view", size=30 * MIB, offset_min=50),
            FileSpec("shared_screen_with_speaker_view", size=20 * MIB, offset_min=0),
            FileSpec("shared_screen_with_speaker_view", size=10 * MIB, offset_min=35),
            FileSpec("audio_transcript", size=2000),
            FileSpec("audio_only", size=5 * MIB),
        ]
    )
    data["recording_files"].reverse()  # Zoom's order is not a promise
    instance = parse_instance(data)
    assert instance.view == "shared_screen_with_speaker_view"
    assert [f.file_size for f in instance.mp4_files] == [20 * MIB, 10 * MIB, 30 * MIB]
    starts = [f.recording_start for f in instance.mp4_files]
    assert starts == sorted(starts)
    assert instance.mp4_size == 60 * MIB
    assert instance.transcript is not None and instance.transcript.file_extension == "VTT"
    assert instance.start_time == datetime(2026, 9, 1, 10, tzinfo=UTC)
    assert instance.start_time.tzinfo is not None
    assert not instance.processing
    assert instance.meeting_id == data["id"] and instance.uuid == data["uuid"]


def test_view_priority_is_configurable_and_falls_back_to_the_largest():
    data = meeting_json(
        [FileSpec("gallery_view", size=5 * MIB), FileSpec("speaker_view", size=9 * MIB)]
    )
    assert parse_instance(data).view == "speaker_view"
    assert parse_instance(data, ["gallery_view"]).view == "gallery_view"
    assert parse_instance(data, ["shared_screen"]).view == "speaker_view"


def test_processing_flag_when_a_chosen_file_is_not_completed():
    data = meeting_json(
        [FileSpec(size=50 * MIB, status="processing"), FileSpec("audio_only", size=MIB)]
    )
    instance = parse_instance(data)
    assert instance.processing
    assert skip_reason(instance, 30, 40) is None  # size is unknown until Zoom is done


def make(duration: int, size_mb: float, *, mp4: bool = True) -> ZoomInstance:
    spec = FileSpec(size=int(size_mb * MIB)) if mp4 else FileSpec("audio_only", size=MIB)
    return parse_instance(meeting_json([spec], duration=duration))


def test_filters_give_human_reasons():
    assert skip_reason(make(31, 41), 30, 40) is None
    assert skip_reason(make(30, 500), 30, 40) == "duration 30 min is not over the minimum 30 min"
    assert skip_reason(make(90, 40), 30, 40) == "MP4 size 40.0 MB is not over the minimum 40 MB"
    assert skip_reason(make(30, 1, mp4=False), 30, 40) == (
        "duration 30 min is not over the minimum 30 min"
    )
    assert skip_reason(make(90, 1, mp4=False), 30, 40) is None  # no size rule for sound only
    nothing = parse_instance(meeting_json([FileSpec("audio_transcript", size=2000)]))
    assert skip_reason(nothing, 30, 40) == "no MP4 or audio-only recording in this meeting instance"


def test_a_meeting_recorded_as_sound_only_keeps_its_m4a():
    data = meeting_json(
        [
            FileSpec("audio_only", size=3 * MIB, offset_min=40),
            FileSpec("audio_only", size=2 * MIB, offset_min=0),
            FileSpec("audio_transcript", size=2000),
        ]
    )
    instance = parse_instance(data)
    assert instance.view == "audio_only"
    assert [(f.file_type, f.file_size) for f in instance.mp4_files] == [
        ("M4A", 2 * MIB),
        ("M4A", 3 * MIB),
    ]
    assert instance.transcript is not None
    with_video = meeting_json([FileSpec(size=50 * MIB), FileSpec("audio_only", size=MIB)])
    assert [f.file_type for f in parse_instance(with_video).mp4_files] == ["MP4"]


def test_timestamps_become_aware_utc():
    data = meeting_json([FileSpec(size=MIB)])
    data["start_time"] = "2026-09-01T12:00:00+02:00"
    assert parse_instance(data).start_time == datetime(2026, 9, 1, 10, tzinfo=UTC)
    data["start_time"] = "2026-09-01T10:00:00"
    assert parse_instance(data).start_time.utcoffset() == timedelta(0)


def test_date_windows_cover_the_range_in_at_most_30_days():
    windows = date_windows(date(2026, 1, 1), date(2026, 3, 31))
    assert windows[0][0] == date(2026, 1, 1) and windows[-1][1] == date(2026, 3, 31)
    for (_, b), (c, _) in itertools.pairwise(windows):
        assert c == b + timedelta(days=1)
    assert all((b - a).days + 1 <= 30 for a, b in windows)
    assert date_windows(date(2026, 1, 1), date(2026, 1, 1)) == [
        (date(2026, 1, 1), date(2026, 1, 1))
    ]
    with pytest.raises(ValueError, match="before it starts"):
        date_windows(date(2026, 1, 2), date(2026, 1, 1))


def test_encode_uuid_double_encodes_only_when_needed():
    assert encode_uuid("abc+d/ef==") == "abc%2Bd%2Fef%3D%3D"
    assert encode_uuid("/abc==") == "%252Fabc%253D%253D"
    assert encode_uuid("ab//c") == "ab%252F%252Fc"


def test_retry_after_parsing():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    when = parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0)
    assert when == 10.0


def bare(meeting: dict, file_type: str, extension: str) -> dict:
    """A `CC` or `TIMELINE` entry as Zoom's spec describes it (`file_type`: such an entry "does
    not have" `id`, `status`, `file_size`, `recording_type` or `play_url`), added to `meeting`."""
    entry = {
        "meeting_id": meeting["uuid"],
        "recording_start": meeting["start_time"],
        "recording_end": meeting["start_time"],
        "file_type": file_type,
        "file_extension": extension,
        "download_url": f"https://zoom.us/rec/download/{file_type.lower()}-key",
    }
    meeting["recording_files"].insert(0, entry)
    return entry


def test_cc_and_timeline_entries_parse_without_id_size_status_or_type(caplog):
    data = meeting_json([FileSpec(size=50 * MIB), FileSpec("audio_transcript", size=2000)])
    bare(data, "CC", "VTT")
    bare(data, "TIMELINE", "JSON")

    with caplog.at_level(logging.DEBUG, logger="integrations.zoom.models"):
        instance = parse_instance(data)

    assert "TIMELINE, CC left out (captions come from its audio transcript)" in caplog.text
    assert instance.transcript is not None and instance.transcript.file_type == "TRANSCRIPT"
    assert instance.transcript.file_size == 2000
    (cc,) = instance.closed_captions
    assert (cc.id, cc.file_size, cc.status, cc.recording_type) == (None, None, None, None)
    assert cc.completed and cc.download_url == "https://zoom.us/rec/download/cc-key"
    assert [f.file_size for f in instance.mp4_files] == [50 * MIB]
    assert not instance.processing
    assert skip_reason(instance, 30, 40) is None


def test_closed_captions_stand_in_when_there_is_no_transcript():
    data = meeting_json([FileSpec(size=50 * MIB)])
    bare(data, "TIMELINE", "JSON")
    bare(data, "CC", "VTT")
    instance = parse_instance(data)
    assert instance.transcripts == ()
    assert instance.transcript is not None
    assert (instance.transcript.file_type, instance.transcript.file_size) == ("CC", None)


def test_only_mp4_and_transcript_files_hold_the_instance_back():
    data = meeting_json(
        [FileSpec(size=50 * MIB), FileSpec("audio_transcript", size=2000, status="processing")]
    )
    bare(data, "CC", "VTT")
    assert parse_instance(data).processing
    data = meeting_json([FileSpec(size=50 * MIB)])
    bare(data, "CC", "VTT")
    assert not parse_instance(data).processing  # a CC file has no status to wait for
