"""Typed views of Zoom's recording JSON and the sync filters: pure functions, no I/O (a debug
log line names the files left out)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from config.zoom_views import DEFAULT_VIEW_PRIORITY

MIB = 1024 * 1024
log = logging.getLogger(__name__)

# Zoom's Meeting API spec, `recording_files[].file_type`: "A recording file object with file
# type of either `CC` or `TIMELINE` does not have the following properties: `id`, `status`,
# `file_size`, `recording_type`, and `play_url`" (the spec's text as generated into
# konfig-sdks/zoom-meeting-python-sdk, zoom_meeting_python_sdk/type/
# cloud_recording_list_recordings_response_meetings_item_recording_files_item.py); Zoom's own
# SDK types mark every recording-file field optional (zoom/rivet-javascript,
# meetings/meetings.d.ts, CloudRecordingGetMeetingRecordingsResponse).
TRANSCRIPT = "TRANSCRIPT"  # the audio transcript (VTT): listed with id, size and status
CLOSED_CAPTIONS = "CC"  # closed captions (VTT): no id, size, status or recording type
AUDIO_ONLY = "audio_only"  # the recording type of the M4A that holds the sound alone


@dataclass(frozen=True)
class ZoomUser:
    id: str
    email: str
    status: str


@dataclass(frozen=True)
class ZoomFile:
    """One entry of `recording_files`. `id`, `recording_type`, `file_size` and `status` are None
    when Zoom lists none (never for `CC` and `TIMELINE` files); a `file_size` of 0 (a file
    still processing) is None too: the size is not known."""

    id: str | None
    file_type: str
    file_extension: str
    recording_type: str | None
    file_size: int | None
    status: str | None
    download_url: str
    recording_start: datetime | None
    recording_end: datetime | None

    @property
    def completed(self) -> bool:
        """Ready: `completed`, or no status at all (CC and TIMELINE files carry none)."""
        return self.status in (None, "completed")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ZoomFile:
        return cls(
            id=_text(data.get("id")),
            file_type=str(data.get("file_type", "")).upper(),
            file_extension=str(data.get("file_extension", "")).upper(),
            recording_type=_text(data.get("recording_type")),
            file_size=int(data["file_size"]) if data.get("file_size") else None,
            status=_text(data.get("status")),
            download_url=str(data.get("download_url", "")),
            recording_start=parse_time(data.get("recording_start")),
            recording_end=parse_time(data.get("recording_end")),
        )


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class ZoomInstance:
    """One meeting instance (one row of the status table) with the files chosen for it.

    `mp4_files` are the segments of the chosen view, ordered by `recording_start` (several
    when the host stopped and restarted recording); a meeting recorded as sound only has its
    `audio_only` M4A files there, and `view` "audio_only". `transcripts` the audio transcripts
    (`TRANSCRIPT`) and `closed_captions` the `CC` files likewise. `processing` is true while
    Zoom still works on an MP4 or a transcript.
    """

    uuid: str
    meeting_id: int
    topic: str
    start_time: datetime
    duration_min: int
    total_size: int
    host_id: str
    view: str | None
    mp4_files: tuple[ZoomFile, ...]
    transcripts: tuple[ZoomFile, ...]
    closed_captions: tuple[ZoomFile, ...]
    processing: bool

    @property
    def mp4_size(self) -> int:
        return sum(f.file_size or 0 for f in self.mp4_files)

    @property
    def transcript(self) -> ZoomFile | None:
        """The captions to publish: the audio transcript, else the closed captions (WebVTT as
        well, but listed without a size: the download checks them by the server's length)."""
        return next(iter(self.transcripts or self.closed_captions), None)


def parse_time(value: Any) -> datetime | None:
    """A Zoom timestamp (`2024-03-01T10:00:00Z`) as a timezone-aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _by_start(files: Sequence[ZoomFile]) -> tuple[ZoomFile, ...]:
    floor = datetime.min.replace(tzinfo=UTC)
    return tuple(sorted(files, key=lambda f: (f.recording_start or floor, f.id or "")))


def choose_view(files: Sequence[ZoomFile], priority: Sequence[str]) -> str | None:
    """The MP4 `recording_type` to keep: the first of `priority` present, else the largest."""
    mp4 = [f for f in files if f.file_type == "MP4"]
    present = {f.recording_type for f in mp4}
    for view in priority:
        if view in present:
            return view
    if not mp4:
        return None
    sizes: dict[str | None, int] = {}
    for f in mp4:
        sizes[f.recording_type] = sizes.get(f.recording_type, 0) + (f.file_size or 0)
    return max(sorted(sizes, key=str), key=lambda view: sizes[view])


def parse_instance(
    meeting: Mapping[str, Any], priority: Sequence[str] = DEFAULT_VIEW_PRIORITY
) -> ZoomInstance:
    """Turn one meeting of a recordings list (or `/meetings/{uuid}/recordings`) into a
    `ZoomInstance`."""
    files = [ZoomFile.from_json(f) for f in meeting.get("recording_files") or []]
    view = choose_view(files, priority)
    mp4 = _by_start([f for f in files if f.file_type == "MP4" and f.recording_type == view])
    if not mp4:  # recorded as sound only: the M4A is published (over the rule's thumbnail)
        mp4 = _by_start([f for f in files if f.recording_type == AUDIO_ONLY])
        view = AUDIO_ONLY if mp4 else None
    transcripts = _by_start([f for f in files if f.file_type == TRANSCRIPT])
    captions = _by_start([f for f in files if f.file_type == CLOSED_CAPTIONS])
    left_out = [f.file_type for f in files if f.file_type == "TIMELINE"]
    if transcripts:
        left_out += [f.file_type for f in captions]
    if left_out:
        log.debug(
            "Zoom instance %s: %s left out (captions come from %s)",
            meeting.get("uuid"),
            ", ".join(left_out),
            "its audio transcript" if transcripts else "its closed captions, if any",
        )
    start = parse_time(meeting.get("start_time"))
    if start is None:
        raise ValueError(f"meeting {meeting.get('uuid')!r} has no start_time")
    return ZoomInstance(
        uuid=str(meeting["uuid"]),
        meeting_id=int(meeting.get("id") or 0),
        topic=str(meeting.get("topic") or ""),
        start_time=start,
        duration_min=int(meeting.get("duration") or 0),
        total_size=int(meeting.get("total_size") or 0),
        host_id=str(meeting.get("host_id") or ""),
        view=view,
        mp4_files=mp4,
        transcripts=transcripts,
        closed_captions=captions,
        processing=any(not f.completed for f in (*mp4, *transcripts)),
    )


def skip_reason(instance: ZoomInstance, min_duration_min: float, min_size_mb: float) -> str | None:
    """Why the instance is SKIPPED (a human-readable reason), or None when it passes.

    Keeps recordings with duration > `min_duration_min` and MP4 size > `min_size_mb` MiB
    (the seed's strict comparisons). The size rule waits while Zoom is still processing, and
    is for video only (a recording of sound alone is many times smaller).
    """
    if not instance.mp4_files:
        return "no MP4 or audio-only recording in this meeting instance"
    if instance.duration_min <= min_duration_min:
        return (
            f"duration {instance.duration_min} min is not over the minimum {min_duration_min:g} min"
        )
    video = instance.view != AUDIO_ONLY
    if video and not instance.processing and instance.mp4_size <= min_size_mb * MIB:
        return (
            f"MP4 size {instance.mp4_size / MIB:.1f} MB is not over the minimum {min_size_mb:g} MB"
        )
    return None
