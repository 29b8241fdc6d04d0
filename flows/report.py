"""What a flow run did, as a Prefect table artifact and as its final state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State

from flows.alerts import send_run_alerts
from flows.engine import RunReport, Touched
from integrations.store.models import Recording
from integrations.store.repository import LIST_PAGE
from integrations.store.states import ProcessingStatus
from tasks.common import get_store

REPORT_ROWS = 1_000  # rows in a run's table artifact (a nightly run may touch 10,000 recordings)
FAILED_NAMED = 20  # failed recordings a Failed state's message names


def _links(recording: Recording) -> str:
    return " ".join(f"[{p.platform.value}]({p.url})" for p in recording.publications if p.url)


def _notes(recording: Recording) -> str:
    """What a publication lacks although it went out (a refused thumbnail), per platform."""
    return "; ".join(
        f"{p.platform.value}: {note}" for p in recording.publications if (note := p.thumbnail_note)
    )


def _trim(recording: Recording) -> str:
    if recording.trim_start is None or recording.trim_end is None:
        return ""
    return f"{recording.trim_start:.2f}-{recording.trim_end:.2f} s ({recording.trim_method})"


def _row(entry: Touched, recording: Recording) -> dict[str, Any]:
    return {
        "id": recording.id,
        "topic": recording.topic,
        "before": entry.before.value,
        "after": recording.status.value,
        "trim": _trim(recording),
        "published": _links(recording),
        "notes": _notes(recording),
        "reason": recording.status_reason or "",
    }


@dataclass
class RunSummary:
    """What a run did, read from the store a page at a time: its table artifact's rows (all of
    them up to `REPORT_ROWS`; beyond, the failed ones first), and the counts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    recordings: int = 0
    failed: list[str] = field(default_factory=list)  # "id (topic): reason", the first ones
    failed_ids: list[int] = field(default_factory=list)  # every one (the alerts name them)


def summarize(report: RunReport) -> RunSummary:
    """One row per recording the run touched, with its state now; memory for a page and the
    capped rows, whatever the run's size."""
    store = get_store()
    entries = list(report.touched.values())
    summary = RunSummary(recordings=len(entries))
    failed_rows: list[dict[str, Any]] = []
    for start in range(0, len(entries), LIST_PAGE):
        page = entries[start : start + LIST_PAGE]
        current = {r.id: r for r in store.list(ids=[e.recording_id for e in page])}
        for entry in page:
            row = _row(entry, current[entry.recording_id])
            if len(summary.rows) < REPORT_ROWS:
                summary.rows.append(row)
            if row["after"] != ProcessingStatus.FAILED.value:
                continue
            summary.failed_ids.append(row["id"])
            if len(summary.failed) < FAILED_NAMED:
                summary.failed.append(f"{row['id']} ({row['topic']}): {row['reason']}")
            if len(failed_rows) < REPORT_ROWS:
                failed_rows.append(row)
    if summary.recordings > REPORT_ROWS:
        rest = [r for r in summary.rows if r["after"] != ProcessingStatus.FAILED.value]
        summary.rows = (failed_rows + rest)[:REPORT_ROWS]
    return summary


def finish_run(report: RunReport, stage: str) -> dict[str, Any] | State:
    """Publish the run's table artifact; a summary, or a Failed state naming what failed."""
    summary = summarize(report)
    description = f"Recordings this {stage} run worked on"
    if summary.recordings > len(summary.rows):
        description += (
            f": {len(summary.rows)} of {summary.recordings} shown, the failed ones first "
            "(`zoom-publisher list` shows them all)"
        )
    for wait in report.disk_waits.values():
        description += f". The {wait.stage} stage waits for the disk: {wait.cause}"
    create_table_artifact(
        key=f"{stage}-report",
        table=summary.rows or [{"id": "-", "topic": "nothing to do"}],
        description=description,
    )
    send_run_alerts(summary.failed_ids)
    result = {
        "recordings": summary.recordings,
        "touched": list(report.touched),
        "disk_waits": [
            f"the {w.stage} stage waits for the disk (the recordings keep their attempts; run "
            f"again once there is room): {w.cause}"
            for w in report.disk_waits.values()
        ],
    }
    if summary.failed_ids:
        listing = "; ".join(summary.failed)
        if len(summary.failed_ids) > len(summary.failed):
            listing += f"; and {len(summary.failed_ids) - len(summary.failed)} more"
        return Failed(
            message=f"{len(summary.failed_ids)} of {summary.recordings} recordings failed: "
            f"{listing}"
        )
    return result
