"""Housekeeping flows: `reset` failed or stuck recordings, `clean` local media of finished ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State

from integrations.disk import DiskError, disk_errors
from integrations.download import segment_path
from integrations.store.models import Recording, utcnow
from integrations.store.states import WORKING, ProcessingStatus, restart_point
from tasks.common import get_store

FINISHED = (ProcessingStatus.UPLOADED, ProcessingStatus.SKIPPED)


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


def expiries(days: int) -> list[Expiry]:
    """Finished recordings that started more than `days` days ago; unfinished ones never."""
    cutoff = utcnow() - timedelta(days=days)
    finished = get_store().list(until=cutoff, statuses=FINISHED)
    return [Expiry(r.id, r.topic, local_media(r)) for r in finished]


@flow(name="clean")
def clean_flow(days: int = 30, dry_run: bool = False) -> list[dict[str, object]] | State:
    """Delete local media of finished recordings older than `days` days and mark them EXPIRED."""
    logger = get_run_logger()
    store = get_store()
    rows = []
    for item in expiries(days):
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
            logger.error("clean stopped: %s", exc)
            return Failed(message=str(exc), data=exc)
        store.transition(
            item.recording_id, ProcessingStatus.EXPIRED, reason=f"media cleaned after {days} days"
        )
    verb = "would delete" if dry_run else "deleted"
    logger.info("clean %s the media of %d recordings", verb, len(rows))
    create_table_artifact(
        key="clean-report",
        table=rows or [{"id": "-", "topic": "nothing"}],
        description=f"clean --days {days}{' (dry run)' if dry_run else ''}",
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
