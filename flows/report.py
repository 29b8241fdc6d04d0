"""What a flow run did, as a Prefect table artifact and as its final state."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State

from flows.alerts import send_run_alerts
from flows.engine import RunReport
from flows.render import thumbnail_note
from integrations.store.models import Recording
from integrations.store.states import ProcessingStatus
from tasks.common import get_store


def _links(recording: Recording) -> str:
    return " ".join(f"[{p.platform.value}]({p.url})" for p in recording.publications if p.url)


def _notes(recording: Recording) -> str:
    """What a publication lacks although it went out (a refused thumbnail), per platform."""
    return "; ".join(
        f"{p.platform.value}: {note}" for p in recording.publications if (note := thumbnail_note(p))
    )


def _trim(recording: Recording) -> str:
    if recording.trim_start is None or recording.trim_end is None:
        return ""
    return f"{recording.trim_start:.2f}-{recording.trim_end:.2f} s ({recording.trim_method})"


def report_rows(report: RunReport) -> list[dict[str, Any]]:
    """One row per recording the run touched, with its state now."""
    current = {r.id: r for r in get_store().list(ids=list(report.touched))}
    rows = []
    for entry in report.touched.values():
        recording = current[entry.recording_id]
        rows.append(
            {
                "id": recording.id,
                "topic": recording.topic,
                "before": entry.before.value,
                "after": recording.status.value,
                "trim": _trim(recording),
                "published": _links(recording),
                "notes": _notes(recording),
                "reason": recording.status_reason or "",
            }
        )
    return rows


def finish_run(report: RunReport, stage: str) -> dict[str, Any] | State:
    """Publish the run's table artifact; a summary, or a Failed state naming what failed."""
    rows = report_rows(report)
    description = f"Recordings this {stage} run worked on"
    for wait in report.disk_waits.values():
        description += f". The {wait.stage} stage waits for the disk: {wait.cause}"
    create_table_artifact(
        key=f"{stage}-report",
        table=rows or [{"id": "-", "topic": "nothing to do"}],
        description=description,
    )
    failed = [r for r in rows if r["after"] == ProcessingStatus.FAILED.value]
    send_run_alerts([r["id"] for r in failed])
    summary = {
        "recordings": len(rows),
        "touched": [r["id"] for r in rows],
        "disk_waits": [
            f"the {w.stage} stage waits for the disk (the recordings keep their attempts; run "
            f"again once there is room): {w.cause}"
            for w in report.disk_waits.values()
        ],
    }
    if failed:
        listing = "; ".join(f"{r['id']} ({r['topic']}): {r['reason']}" for r in failed)
        return Failed(message=f"{len(failed)} of {len(rows)} recordings failed: {listing}")
    return summary
