"""What every task shares: the store of this process, the retry policy, the run's identity."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from prefect.states import Failed, State

from config.settings import get_settings
from integrations.errors import IntegrationError
from integrations.storage_id import storage_id
from integrations.store.models import Recording
from integrations.store.repository import LostClaimError, RecordingStore
from integrations.store.states import STAGES, ProcessingStatus
from tasks.disk import DiskWait, disk_wait_of

logger = logging.getLogger("zoom_publisher")


@lru_cache(maxsize=4)
def _store_for(url: str) -> RecordingStore:
    return RecordingStore.open(url)


def get_store() -> RecordingStore:
    """The status store of this process (one engine and pool per URL, shared by all tasks)."""
    return _store_for(get_settings().resolved_database_url)


def local_storage() -> str:
    """The id of this worker's media storage (its `MEDIA_DIR`'s), created on first use."""
    return storage_id(get_settings().media_dir)


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The Prefect run's logger (shown in the UI) inside a run, else the package logger."""
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logger


def is_transient(exc: BaseException) -> bool:
    """Whether a later try may succeed: network trouble, 429, 5xx; never bad input. An
    integration's error says so itself (`IntegrationError.retryable`)."""
    if isinstance(exc, IntegrationError):
        return exc.retryable
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError)


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only errors worth retrying."""
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised by `result()`
        return is_transient(exc)
    return False


def retry_delays(attempts: int) -> list[float]:
    """Exponential backoff for Prefect task retries (the level above one HTTP request's
    `RetryPolicy`), from `TASK_RETRY_BACKOFF`."""
    base = get_settings().task_retry_backoff
    return [base * 2**n for n in range(max(attempts, 1))]


def retrying_task(name: str, **options: Any) -> Any:
    """`@task` with the project's policy: retries with exponential backoff and jitter, only on
    errors worth retrying, and no result caching (side effects are idempotent via the store)."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    retries = get_settings().task_retries
    return task(
        name=name,
        retries=retries,
        retry_delay_seconds=retry_delays(retries),
        retry_jitter_factor=0.5,
        retry_condition_fn=retry_if_transient,
        cache_policy=NO_CACHE,
        **options,
    )


def worker_identity(run_id: object | None = None) -> str:
    """Who claims rows: this flow run (so the UI and the store agree), else host and thread."""
    if run_id is None:
        from prefect.runtime import flow_run

        run_id = flow_run.id
    host = socket.gethostname()
    return f"{host}/{run_id}" if run_id else f"{host}/{threading.get_ident()}"


def human_reason(exc: BaseException) -> str:
    """A one-line reason for `status_reason`: the error's own message, never a traceback."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."


class SkipRecording(Exception):  # noqa: N818 - an outcome, not a failure
    """Raised by stage work: the recording is not to be published (e.g. it has no sound)."""


@dataclass
class StageOutcome:
    """What stage work returns: columns to set and, unless the stage's usual output, a status."""

    fields: dict[str, Any] = field(default_factory=dict)
    status: ProcessingStatus | None = None
    reason: str | None = None


class MediaLostError(FileNotFoundError):
    """A recording's local media is gone and Zoom's copy was freed: only a person can help."""


def download_again(recording: Recording, missing: Path) -> StageOutcome:
    """The outcome for a recording whose local media is gone: back to INITIALIZED, to be
    downloaded again from Zoom by any worker (resuming what is there). `MediaLostError` (the
    row ends FAILED) when Zoom's copy was already freed (`free-zoom`)."""
    if recording.zoom_cleanup:
        raise MediaLostError(
            f"needs a person: {missing} is missing and the Zoom recording was already freed "
            f"({recording.zoom_cleanup}); put the file back, then run "
            f"`zoom-publisher reset --recordings {recording.id}`"
        )
    reason = f"{missing} is missing on this storage: downloading it again from Zoom"
    run_logger().warning("Recording %s: %s", recording.id, reason)
    return StageOutcome(
        status=ProcessingStatus.INITIALIZED,
        reason=reason,
        # Not a failed try: the download starts afresh, on whichever storage claims it.
        fields={"storage": None, "source_path": None, "processed_path": None, "attempts": 0},
    )


def retries_left() -> bool:
    """Whether Prefect will run the current task again if it raises now."""
    from prefect.context import TaskRunContext

    context = TaskRunContext.get()
    if context is None:
        return False
    return context.task_run.run_count <= context.task.retries


def run_claimed(
    stage: str, recording_id: int, worker: str, work: Callable[[Recording], StageOutcome]
) -> ProcessingStatus | DiskWait | State:
    """Run one stage's work on a row this worker claimed, and record how it ended.

    Success moves the row to the stage's output status (or the outcome's own); `SkipRecording`
    to SKIPPED; a full or read-only disk back to the stage's input status, the attempt unused
    (a `DiskWait`); a transient error with retries left is re-raised for Prefect to retry (the claim
    stays); any other error marks the row FAILED with a readable reason and returns a Failed
    state, which a task returns as is: its run ends Failed with that message, no traceback.
    """
    _, working, output = STAGES[stage]
    store = get_store()
    row = store.get(recording_id)
    if row.claimed_by != worker or row.status != working:
        raise LostClaimError(f"recording {recording_id} is not claimed by {worker} for {stage}")
    try:
        outcome = work(row)
    except SkipRecording as exc:
        store.transition(recording_id, ProcessingStatus.SKIPPED, reason=str(exc), worker=worker)
        run_logger().info("Recording %s skipped: %s", recording_id, exc)
        return ProcessingStatus.SKIPPED
    except LostClaimError:
        raise
    except Exception as exc:
        if (wait := disk_wait_of(stage, recording_id, exc)) is not None:
            # Not a failed try: the claim's attempt is given back.
            attempts = max(row.attempts - 1, 0)
            store.transition(
                recording_id, wait.status, reason=wait.reason, worker=worker, attempts=attempts
            )
            run_logger().info("Recording %s: %s", recording_id, wait.reason)
            return wait
        if is_transient(exc) and retries_left():
            run_logger().warning("Recording %s: %s; retrying", recording_id, human_reason(exc))
            raise
        reason = human_reason(exc)
        store.transition(recording_id, ProcessingStatus.FAILED, reason=reason, worker=worker)
        run_logger().error("Recording %s failed to %s: %s", recording_id, stage, reason)
        return Failed(message=f"recording {recording_id} ({stage}): {reason}")
    target = outcome.status or output
    store.transition(recording_id, target, reason=outcome.reason, worker=worker, **outcome.fields)
    return target
