"""The download task: one claimed recording from Zoom to `unprocessed_video/`, verified.

A row the webhook stored has its files without URLs (the event's need its 24-hour token): they
are taken from Zoom's API with the account's own token first. A row whose Zoom account is not
imported yet waits, INITIALIZED, without using up an attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect.states import State

from config.errors import CredentialsMissingError
from config.secrets import zoom_block_for
from config.settings import get_settings
from integrations.download import (
    DownloadError,
    InvalidMediaError,
    download_file,
    download_recording,
    part_path,
    verify_mp4,
)
from integrations.filenames import safe_filename, transcript_path
from integrations.store.models import Recording
from integrations.store.states import ProcessingStatus
from integrations.zoom import ZoomClient, parse_instance
from tasks.common import (
    StageOutcome,
    get_store,
    retrying_task,
    run_claimed,
    run_logger,
)
from tasks.progress import Tracker
from tasks.sync import recording_values, zoom_account


@dataclass(frozen=True)
class StoredFile:
    """A Zoom file as the sync stored it (what the downloader needs of it)."""

    download_url: str
    file_size: int


def destination(recording: Recording) -> Path:
    return get_settings().unprocessed_dir / safe_filename(recording.id, recording.topic)


def _already_downloaded(path: Path, files: list[StoredFile]) -> bool:
    """A complete file from an earlier attempt that crashed before recording its success."""
    if not path.is_file():
        return False
    if len(files) == 1 and path.stat().st_size != files[0].file_size:
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
    with ZoomClient(zoom_account(block)) as client:
        if not _has_urls(recording):
            recording = api_files(recording, client)
        files = [StoredFile(f["download_url"], int(f["size"])) for f in recording.video_files]
        dest = destination(recording)
        if _already_downloaded(dest, files):
            run_logger().info("Recording %s: %s is already complete", recording.id, dest.name)
        else:
            _fetch_video(recording, files, dest, client)
        fetch_transcript(recording, dest, client)
    return StageOutcome(fields={"source_path": str(dest)})


def _fetch_video(
    recording: Recording, files: list[StoredFile], dest: Path, client: ZoomClient
) -> None:
    total = sum(f.file_size for f in files)
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
    """Zoom's VTT transcript beside the video, when there is one (captions are optional: a
    failure is logged, not fatal)."""
    meta = recording.transcript_file
    target = transcript_path(video)
    if not meta or target.is_file():
        return
    try:
        download_file(meta["download_url"], target, int(meta["size"]), token=client.bearer)
        part_path(target).replace(target)
    except DownloadError as exc:
        run_logger().warning("Recording %s: no captions: %s", recording.id, exc)


@retrying_task("download-recording")
def download_recording_task(recording_id: int, worker: str) -> ProcessingStatus | State:
    """Download one recording this run claimed: DOWNLOADED, or FAILED with the reason."""
    return run_claimed("download", recording_id, worker, fetch)
