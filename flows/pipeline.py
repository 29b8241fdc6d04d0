"""The `full-pipeline` flow: sync, then download -> process -> upload as a stream.

One recording uploads while the next is processed and a third downloads; each stage has its own
concurrency limit, and one recording's failure never stops the others.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from config.app_config import load_app_config
from config.settings import Settings, get_settings
from flows.dry_run import preview_download, preview_process, preview_sync, preview_upload
from flows.engine import Stage, run_stages
from flows.hooks import RELEASE_HOOKS
from flows.preflight import unusable_ffmpeg
from flows.report import finish_run
from flows.sync import sync_flow, sync_range
from flows.task_runner import thread_pool
from flows.zoom_cleanup import free_zoom_storage_flow
from tasks.common import worker_identity
from tasks.download import download_recording_task
from tasks.process import process_recording_task
from tasks.upload import upload_recording

ALL_PLATFORMS = ["youtube", "vk"]


def pipeline_stages(settings: Settings, platforms: list[str]) -> list[Stage]:
    return [
        Stage("download", download_recording_task, settings.download_concurrency),
        Stage("process", process_recording_task, settings.process_concurrency),
        Stage(
            "upload",
            upload_recording,
            settings.upload_concurrency,
            {"platforms": platforms},
        ),
    ]


def preview_pipeline(
    platforms: list[str] | None, ids: list[int] | None, sync: bool, last_days: int | None
) -> dict[str, Any]:
    """Each stage's dry run over what is ready for it now (a new recording shows in `sync`;
    its trim points are known once it is downloaded)."""
    return {
        "sync": preview_sync(*sync_range(last_days, None, None)) if sync else [],
        "download": preview_download(ids),
        "process": preview_process(ids),
        "upload": preview_upload(ids, platforms),
        "free-zoom": free_zoom_storage_flow(dry_run=True),
    }


def _slots(settings: Settings) -> int:
    return (
        settings.download_concurrency + settings.process_concurrency + settings.upload_concurrency
    )


@flow(
    name="full-pipeline",
    task_runner=thread_pool(_slots(get_settings())),
    **RELEASE_HOOKS,
)
def full_pipeline_flow(
    platforms: list[str] | None = None,
    recording_ids: list[int] | None = None,
    sync: bool = True,
    last_days: int | None = None,
    dry_run: bool = False,
) -> dict[str, Any] | State:
    """Sync (unless `sync` is false), then stream every eligible recording through the stages.

    `platforms`: where to publish (default: every platform enabled in app_config.json).
    `recording_ids`: only these recordings (default: all that are ready).
    Ends Completed when every recording reached a final or waiting state, Failed otherwise.
    `dry_run`: what each stage would do now, from reads only (nothing changes anywhere).
    """
    if problem := unusable_ffmpeg():
        return problem
    if dry_run:
        return preview_pipeline(platforms, recording_ids, sync, last_days)
    logger = get_run_logger()
    if sync:
        synced = sync_flow(last_days=last_days, return_state=True)
        if synced.is_failed():
            logger.warning("Sync was incomplete (%s); going on with what is stored", synced.message)
    stages = pipeline_stages(get_settings(), platforms or ALL_PLATFORMS)
    report = run_stages(stages, worker_identity(), ids=recording_ids)
    logger.info(
        "Stage busy time: %s",
        ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.busy_seconds.items()),
    )
    if (
        load_app_config(get_settings().app_config, missing_ok=True).upload_settings.delete_from_zoom
        != "off"
    ):
        free_zoom_storage_flow()
    return finish_run(report, "pipeline")
