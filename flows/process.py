"""The `process` flow: trim the silent start and end of downloaded recordings, concurrently."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import State

from config.settings import get_settings
from flows.dry_run import preview_process
from flows.engine import Stage, run_stages
from flows.hooks import RELEASE_HOOKS
from flows.preflight import unusable_ffmpeg
from flows.report import finish_run
from flows.task_runner import thread_pool
from tasks.common import worker_identity
from tasks.process import process_recording_task


@flow(
    name="process",
    task_runner=thread_pool(get_settings().process_concurrency),
    **RELEASE_HOOKS,
)
def process_flow(
    recording_ids: list[int] | None = None, dry_run: bool = False
) -> dict[str, Any] | list[dict[str, Any]] | State:
    """Trim every downloaded recording (or only `recording_ids`), up to one per core at once.

    With `dry_run`, only detects the trim points (nothing is written)."""
    if problem := unusable_ffmpeg():
        return problem
    if dry_run:
        return preview_process(recording_ids)
    limit = get_settings().process_concurrency
    stages = [Stage("process", process_recording_task, limit)]
    return finish_run(run_stages(stages, worker_identity(), ids=recording_ids), "process")
