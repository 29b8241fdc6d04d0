"""The `upload` flow: publish processed recordings to YouTube and/or VK.

Recordings are claimed one at a time per free slot (`settings.upload_concurrency`), so two runs
on two machines share the work. A recording that waits for YouTube's quota goes back to
PROCESSED with `not_before`, so runs before the quota resets leave it alone. The run publishes a
table artifact (`upload-report`) with links to the videos and ends Failed, after every other
recording ran, naming the recordings that failed and why.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State

from config.app_config import load_app_config
from config.settings import get_settings
from flows.dry_run import preview_upload
from flows.engine import Stage, run_stages
from flows.hooks import RELEASE_HOOKS
from flows.report import finish_run
from flows.task_runner import thread_pool
from integrations.store.states import Platform
from tasks.common import get_store, worker_identity
from tasks.upload import PLATFORM_NAMES, UploadInputError, select_platforms, upload_recording


@flow(
    name="upload",
    task_runner=thread_pool(max(1, get_settings().upload_concurrency)),
    **RELEASE_HOOKS,
)
def upload_flow(
    platforms: list[str] | None = ["youtube"],  # noqa: B006 - Prefect validates a copy per run
    recording_ids: list[int] | None = None,
    dry_run: bool = False,
) -> dict[str, Any] | list[dict[str, Any]] | State:
    """Publish every PROCESSED recording (or only `recording_ids`) to `platforms`.

    With `dry_run`, only shows the titles, playlists/albums and thumbnails it would use.

    `platforms`: "youtube" and/or "vk"; None means every platform enabled in app_config.json
    (a requested platform that is disabled there is left out). Returns `{"recordings",
    "touched", "statuses"}`; ends Failed, after all others ran, naming each failed recording.
    """
    logger = get_run_logger()
    settings = get_settings()
    config = load_app_config(settings.app_config, missing_ok=True)
    requested = list(platforms) if platforms is not None else [p.value for p in Platform]
    try:
        chosen = [p.value for p in select_platforms(requested, config)]
    except UploadInputError as exc:  # nothing claimed, nothing changed
        return Failed(message=str(exc))
    if dry_run:
        return preview_upload(recording_ids, chosen)
    names = ", ".join(PLATFORM_NAMES[Platform(p)] for p in chosen)
    logger.info("Publishing to %s", names)
    stage = Stage(
        "upload",
        upload_recording,
        limit=max(1, settings.upload_concurrency),
        kwargs={"platforms": chosen},
    )
    report = run_stages([stage], worker_identity(), ids=recording_ids)
    counts = get_store().status_counts(report.touched)
    statuses = Counter({status.value: count for status, count in counts.items()})
    logger.info(
        "Upload to %s done: %d uploaded, %d waiting for quota, %d failed",
        names,
        statuses["UPLOADED"],
        statuses["PROCESSED"],
        statuses["FAILED"],
    )
    result = finish_run(report, "upload")
    if isinstance(result, dict):
        result["statuses"] = dict(statuses)
    return result
