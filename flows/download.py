"""The `download` flow: claimed recordings from Zoom, concurrently, resumable and verified."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import State

from config.settings import get_settings
from flows.dry_run import preview_download
from flows.engine import Stage, run_stages
from flows.hooks import RELEASE_HOOKS
from flows.report import finish_run
from flows.task_runner import thread_pool
from tasks.common import worker_identity
from tasks.download import download_recording_task


@flow(
    name="download",
    task_runner=thread_pool(get_settings().download_concurrency),
    **RELEASE_HOOKS,
)
def download_flow(
    recording_ids: list[int] | None = None, dry_run: bool = False
) -> dict[str, Any] | list[dict[str, Any]] | State:
    """Download every recording ready for it (or only `recording_ids`); `dry_run`: list them."""
    if dry_run:
        return preview_download(recording_ids)
    limit = get_settings().download_concurrency
    stages = [Stage("download", download_recording_task, limit)]
    return finish_run(run_stages(stages, worker_identity(), ids=recording_ids), "download")
