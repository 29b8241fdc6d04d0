"""Housekeeping flows: `reset` failed or stuck recordings, `clean` local media of finished ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State

from flows.report import REPORT_ROWS
from integrations.disk import DiskError, disk_errors
from integrations.download import segment_path
from integrations.store.backlogs import expirable_pages, expire
from integrations.store.models import Recording, utcnow
from integrations.store.repository import LIST_PAGE
from integrations.store.states import WORKING, ProcessingStatus, restart_point
from tasks.common import get_store

CLEAN_PAGE = LIST_PAGE  # finished recordings read, cleaned and marked EXPIRED per transaction


@dataclass(frozen=True)
class Expiry:
    """One finished recording `clean` removes the local media of."""

    recording_id: int
    topic: str
    files: list[Path]

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files if f.exists())


def local_media(recording: Recording) -> list[Path]:
    """Every file this recording may have left under MEDIA_DIR (source, cut, segments, parts)."""
    paths: set[Path] = set()
    for value in (recording.source_path, recording.processed_path):
        if value:
            path = Path(value)
            paths |= {path, path.with_name(path.name + ".part")}
            paths |= {segment_path(path, n) for n in range(len(recording.video_files))}
    return sorted(p for p in paths if p.exists())


def expiry(recording: Recording) -> Expiry:
    return Expiry(recording.id, recording.topic, local_media(recording))


@flow(name="clean")
def clean_flow(days: int = 30, dry_run: bool = False) -> list[dict[str, object]] | State:
    """Delete local media of finished recordings older than `days` days and mark them EXPIRED.

    Unfinished recordings never. The finished ones are read a page at a time (oldest first), and
    each page's recordings are marked in one transaction once their files are gone; a failure
    mid-page still marks the ones whose files went, and a later run goes on from there.
    """
    logger = get_run_logger()
    store = get_store()
    reason = f"media cleaned after {days} days"
    rows = []
    for page in expirable_pages(store, utcnow() - timedelta(days=days), CLEAN_PAGE):
        done: list[int] = []
        for item in map(expiry, page):
            rows.append(
                {
                    "id": item.recording_id,
                    "topic": item.topic,
                    "bytes": item.size,
                    "files": ", ".join(f.name for f in item.files),
                }
            )
            if dry_run:
                continue
            try:
                with disk_errors():
                    for path in item.files:
                        path.unlink(missing_ok=True)
            except DiskError as exc:  # one line for the command, not a traceback in the log
                expire(store, done, reason)
                logger.error("clean stopped: %s", exc)
                return Failed(message=str(exc), data=exc)
            done.append(item.recording_id)
        if done:
            expire(store, done, reason)
    verb = "would delete" if dry_run else "deleted"
    logger.info("clean %s the media of %d recordings", verb, len(rows))
    create_table_artifact(
        key="clean-report",
        table=rows[:REPORT_ROWS] or [{"id": "-", "topic": "nothing"}],
        description=f"clean --days {days}{' (dry run)' if dry_run else ''}"
        + (f", the first {REPORT_ROWS} of {len(rows)}" if len(rows) > REPORT_ROWS else ""),
    )
    return rows


@flow(name="reset")
def reset_flow(
    recording_ids: list[int] | None = None, dry_run: bool = False
) -> list[dict[str, object]]:
    """Return FAILED and stuck recordings (all, or `recording_ids`) to their last good status."""
    store = get_store()
    if dry_run:
        movable = store.list(ids=recording_ids, statuses=[ProcessingStatus.FAILED, *WORKING])
        preview: list[dict[str, object]] = [
            {"id": r.id, "before": r.status.value,
             "after": restart_point(r.status, r.last_good_status).value}
            for r in movable
        ]  # fmt: skip
        create_table_artifact(key="reset-dry-run", table=preview or [{"id": "-"}])
        return preview
    changes = store.reset(recording_ids)
    rows: list[dict[str, object]] = [
        {"id": c.recording_id, "before": c.before.value, "after": c.after.value} for c in changes
    ]
    get_run_logger().info("reset %d recordings", len(rows))
    create_table_artifact(key="reset-report", table=rows or [{"id": "-"}], description="reset")
    return rows
