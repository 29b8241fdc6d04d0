"""The task runner of the flows that run stages concurrently: Prefect's thread pool."""

from __future__ import annotations

from typing import Any, cast

from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner


def thread_pool(max_workers: int) -> TaskRunner[PrefectFuture[Any]]:
    """A `ThreadPoolTaskRunner` of `max_workers` threads, typed as `@flow(task_runner=)` takes it.

    The cast is only for the type checker: Prefect declares `TaskRunner`'s future type invariant,
    so its own thread pool is rejected by `@flow` (PrefectHQ/prefect#16938).
    """
    return cast("TaskRunner[PrefectFuture[Any]]", ThreadPoolTaskRunner(max_workers=max_workers))
