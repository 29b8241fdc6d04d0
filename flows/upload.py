"""The `upload` flow: publish processed recordings to YouTube and/or VK.

Recordings are claimed one at a time per free slot (`settings.upload_concurrency`), so two runs
on two machines share the work. A recording that waits for YouTube's quota goes back to
PROCESSED with `not_before`, so runs before the quota resets leave it alone. The run publishes a
table artifact with links to the videos and fails at the end, after every other recording ran,
when some recordings failed.
"""

from __future__ import annotations

from collections import Counter

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from config.app_config import load_app_config
from config.settings import get_settings
from flows.engine import RunReport, Stage, run_stages
from integrations.store.publications import PublicationStore
from integrations.store.states import Platform, ProcessingStatus
from tasks.common import get_store, worker_identity
from tasks.upload import PLATFORM_NAMES, select_platforms, upload_recording


class UploadFlowError(RuntimeError):
    """Some recordings failed to publish; the others were published (or wait for quota)."""


def _links(report: RunReport) -> dict[int, dict[Platform, str]]:
    """Each touched recording's per-platform cell: a Markdown link, or the platform status."""
    publications = PublicationStore(get_store()).for_recordings(report.touched)
    cells: dict[int, dict[Platform, str]] = {}
    for recording_id, by_platform in publications.items():
        for platform, publication in by_platform.items():
            if publication.url:
                text = f"[{publication.status.value}]({publication.url})"
            else:
                text = publication.status.value
            if publication.waiting_until is not None and publication.url is None:
                text += f" until {publication.waiting_until.isoformat(timespec='minutes')}"
            cells.setdefault(recording_id, {})[platform] = text
    return cells


def report_rows(report: RunReport) -> list[dict[str, str]]:
    """The artifact table: ID, topic, status before and after, reason, links per platform."""
    links = _links(report)
    rows = []
    for entry in sorted(report.touched.values(), key=lambda t: t.recording_id):
        row = {
            "ID": str(entry.recording_id),
            "Topic": entry.topic,
            "Before": entry.before.value,
            "After": entry.after.value if entry.after else "-",
            "Reason": entry.reason or "",
        }
        for platform in Platform:
            row[PLATFORM_NAMES[platform]] = links.get(entry.recording_id, {}).get(platform, "-")
        rows.append(row)
    return rows


@flow(
    name="upload",
    task_runner=ThreadPoolTaskRunner(max_workers=max(1, get_settings().upload_concurrency)),
)
def upload_flow(
    platforms: list[str] = ["youtube"],  # noqa: B006 - Prefect validates a copy per run
    recording_ids: list[int] | None = None,
) -> dict[str, int]:
    """Publish every PROCESSED recording (or the given IDs) to `platforms` ("youtube", "vk").

    Returns how many recordings ended in each status. Raises `UploadFlowError` listing the
    recordings that failed, after all others ran.
    """
    logger = get_run_logger()
    settings = get_settings()
    config = load_app_config(settings.app_config, missing_ok=True)
    chosen = [p.value for p in select_platforms(list(platforms), config)]  # fails fast
    logger.info("Publishing to %s", ", ".join(PLATFORM_NAMES[Platform(p)] for p in chosen))
    stage = Stage(
        "upload",
        upload_recording,
        limit=max(1, settings.upload_concurrency),
        kwargs={"platforms": chosen},
    )
    report = run_stages([stage], worker_identity(), ids=recording_ids)
    rows = report_rows(report)
    create_table_artifact(
        key="upload-report",
        table=rows or [{"ID": "-", "Topic": "nothing to publish"}],
        description=f"Upload to {', '.join(PLATFORM_NAMES[Platform(p)] for p in chosen)}",
    )
    totals = Counter((entry.after or entry.before).value for entry in report.touched.values())
    logger.info(
        "Upload done: %d uploaded, %d waiting for quota, %d failed",
        totals[ProcessingStatus.UPLOADED.value],
        totals[ProcessingStatus.PROCESSED.value],
        totals[ProcessingStatus.FAILED.value],
    )
    failed = [
        entry
        for entry in report.touched.values()
        if entry.after in (ProcessingStatus.FAILED, None)
        or entry.after == ProcessingStatus.UPLOADING
    ]
    if failed:
        listed = "; ".join(
            f"{entry.recording_id} ({entry.topic}): {entry.reason or 'no result'}"
            for entry in sorted(failed, key=lambda t: t.recording_id)
        )
        raise UploadFlowError(f"{len(failed)} recordings failed to publish: {listed}")
    return dict(totals)
