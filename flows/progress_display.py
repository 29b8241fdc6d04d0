"""A Rich display of task progress for the CLI: a bar per active file and an overall bar."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class RichProgress:
    """A `tasks.progress.ProgressObserver` drawing with Rich; use as a context manager."""

    def __init__(self, console: Console, overall: str = "All recordings") -> None:
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._overall = self._progress.add_task(overall, total=0, start=True)
        self._tasks: dict[str, tuple[TaskID, float]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        from tasks.progress import install

        self._previous = install(self)
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        from tasks.progress import install

        install(self._previous)
        self._progress.stop()

    def started(self, key: str, description: str, total: float | None) -> None:
        with self._lock:
            task = self._progress.add_task(description[:60], total=total or None)
            self._tasks[key] = (task, 0.0)
            overall_total = self._progress.tasks[self._overall].total or 0
            self._progress.update(self._overall, total=overall_total + (total or 0))

    def advanced(self, key: str, completed: float) -> None:
        with self._lock:
            if key not in self._tasks:
                return
            task, before = self._tasks[key]
            self._tasks[key] = (task, completed)
            self._progress.update(task, completed=completed)
            self._progress.advance(self._overall, completed - before)

    def finished(self, key: str) -> None:
        with self._lock:
            task, _ = self._tasks.pop(key, (None, 0.0))
            if task is not None:
                self._progress.remove_task(task)
