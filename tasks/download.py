"""The download task: one claimed recording from Zoom to `unprocessed_video/`, verified.

A row the webhook stored has its files without URLs (the event's need its 24-hour token): they
are taken from Zoom's API with the account's own token first. A row whose Zoom account is not
imported yet waits, INITIALIZED, without using up an attempt; so does one whose account Zoom
asks to come back to later than the run's patience (a daily limit), until then. Captions are
optional: the
audio transcript, else the closed captions (which Zoom lists without a size), beside the
video; whatever goes wrong with them is logged and the recording goes on without.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.states import State

from config.errors import CredentialsMissingError
from config.secrets import zoom_block_for
from config.settings import get_settings
from integrations.disk import DiskError
from integrations.download import (
    DownloadError,
    InvalidMediaError,
    download_file,
    download_recording,
    local_file_errors,
    verify_mp4,
    verify_vtt,
)
from integrations.filenames import safe_filename, transcript_path
from integrations.http.retry import WaitTooLong
from integrations.store.models import Recording
from integrations.store.states import ProcessingStatus
from integrations.zoom import ZoomClient, parse_instance
from integrations.zoom.errors import ZoomRetryLaterError
from tasks.common import (
    StageOutcome,
    get_store,
    retrying_task,
    run_claimed,
    run_logger,
)
from tasks.disk import DiskWait
from tasks.progress import Tracker
from tasks.sync import recording_values, zoom_account


@dataclass(frozen=True)
class StoredFile:
    """A Zoom file as the sync stored it (what the downloader needs of it)."""

    download_url: str
    file_size: int | None  # None: Zoom lists no size (its closed captions)

    @classmethod
    def from_row(cls, item: dict[str, Any]) -> StoredFile:
        """From a stored file entry; a size of 0 or none (rows of older syncs) is unknown."""
        return cls(item["download_url"], int(item["size"]) if item.get("size") else None)


def destination(recording: Recording) -> Path:
    return get_settings().unprocessed_dir / safe_filename(recording.id, recording.topic)


def _already_downloaded(path: Path, files: list[StoredFile]) -> bool:
    """A complete file from an earlier attempt that crashed before recording its success."""
    if not path.is_file():
        return False
    if len(files) == 1 and files[0].file_size not in (None, path.stat().st_size):
        return False
    try:
        verify_mp4(path)
    except InvalidMediaError:
        return False
    return True


def api_files(recording: Recording, client: ZoomClient) -> Recording:
    """The row with its files (and account name) as Zoom's API lists the instance now, saved:
    for a row the webhook stored, whose files have no URL."""
    instance = parse_instance(
        client.meeting_recordings(recording.zoom_uuid), get_settings().mp4_view_priority
    )
    if not instance.mp4_files:
        raise DownloadError(f"Zoom lists no MP4 file of instance {recording.zoom_uuid} any more")
    values = recording_values(client.account.name, instance)
    store = get_store()
    store.update_fields(
        recording.id,
        recording.claimed_by,
        **{k: values[k] for k in ("account", "total_size", "video_files", "transcript_file")},
    )
    return store.get(recording.id)


def _has_urls(recording: Recording) -> bool:
    meta = recording.transcript_file
    files = [*recording.video_files, *([meta] if meta else [])]
    return bool(files) and all(f.get("download_url") for f in files)


def fetch(recording: Recording) -> StageOutcome:
    """Download every MP4 segment (resuming), verify, join; the transcript beside it."""
    try:
        block = zoom_block_for(recording.account)
    except CredentialsMissingError as exc:
        run_logger().warning("Recording %s waits: %s", recording.id, exc)
        return StageOutcome(
            status=ProcessingStatus.INITIALIZED,
            reason=f"waiting: {exc}",
            fields={"attempts": 0},  # waiting is not a failed try
        )
    try:
        with ZoomClient(zoom_account(block)) as client:
            if not _has_urls(recording):
                recording = api_files(recording, client)
            files = [StoredFile.from_row(f) for f in recording.video_files]
            dest = destination(recording)
            if _already_downloaded(dest, files):
                run_logger().info("Recording %s: %s is already complete", recording.id, dest.name)
            else:
                _fetch_video(recording, files, dest, client)
            fetch_transcript(recording, dest, client)
    except (ZoomRetryLaterError, WaitTooLong) as exc:
        reason = f"waiting: Zoom accepts requests again at {exc.resume_at:%Y-%m-%d %H:%M} UTC"
        run_logger().warning("Recording %s %s", recording.id, reason)
        return StageOutcome(
            status=ProcessingStatus.INITIALIZED,
            reason=reason,
            fields={"not_before": exc.resume_at, "attempts": 0},  # waiting is not a failed try
        )
    return StageOutcome(fields={"source_path": str(dest)})


def _fetch_video(
    recording: Recording, files: list[StoredFile], dest: Path, client: ZoomClient
) -> None:
    total = sum(f.file_size or 0 for f in files)
    label = f"{recording.id} {recording.topic}"
    with Tracker(f"download-{recording.id}", f"Download {label}", total) as track:
        info = download_recording(
            files, dest, token=client.bearer, progress=lambda done, _: track(done), label=label
        )
    run_logger().info(
        "Recording %s: downloaded %.1f MB, %.0f s of media",
        recording.id,
        total / 2**20,
        info.duration,
    )


def fetch_transcript(recording: Recording, video: Path, client: ZoomClient) -> None:
    """Zoom's captions (a WebVTT file) beside the video, when there are any, checked as WebVTT.
    Optional: a failure is logged, not fatal."""
    meta = recording.transcript_file
    target = transcript_path(video)
    if not meta or target.is_file():
        return
    remote = StoredFile.from_row(meta)
    if remote.file_size is None:
        run_logger().info(
            "Recording %s: captions from Zoom's closed captions (CC), which Zoom lists without "
            "a size: the server's own length is checked instead, then the WebVTT",
            recording.id,
        )
    try:
        result = download_file(remote.download_url, target, remote.file_size, token=client.bearer)
        try:
            cues = verify_vtt(result.part_path)
        except InvalidMediaError:
            result.part_path.unlink(missing_ok=True)  # complete but not WebVTT: fetch again
            raise
        with local_file_errors(target.name):
            result.part_path.replace(target)
    except DownloadError as exc:
        if isinstance(exc, DiskError) and exc.waits:
            raise  # the disk, not the captions: the recording waits and gets them next time
        run_logger().warning("Recording %s: no captions: %s", recording.id, exc)
        return
    run_logger().info("Recording %s: captions downloaded, %d cues", recording.id, cues)


@retrying_task("download-recording")
def download_recording_task(recording_id: int, worker: str) -> ProcessingStatus | DiskWait | State:
    """Download one recording this run claimed: DOWNLOADED, or FAILED with the reason."""
    return run_claimed("download", recording_id, worker, fetch)
