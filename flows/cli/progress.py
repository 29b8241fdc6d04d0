"""A Rich display of task progress for the CLI: a bar per active file and an overall bar."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


class _ByUnit(ProgressColumn):
    """Bytes done and speed for transfers; the percentage for everything else."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes, self._speed = DownloadColumn(), TransferSpeedColumn()
        self._percent = TaskProgressColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "bytes":
            return Text.assemble(self._bytes.render(task), " ", self._speed.render(task))
        return self._percent.render(task)


class RichProgress:
    """A `tasks.progress.ProgressObserver` drawing with Rich; use as a context manager."""

    def __init__(self, console: Console, overall: str = "Files done") -> None:
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            _ByUnit(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._overall = self._progress.add_task(overall, total=0, unit="%")
        self._tasks: dict[str, TaskID] = {}
        self._started = 0
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

    def started(self, key: str, description: str, total: float | None, unit: str) -> None:
        with self._lock:
            task = self._progress.add_task(description[:60], total=total or None, unit=unit)
            self._tasks[key] = task
            self._started += 1
            self._progress.update(self._overall, total=self._started)

    def advanced(self, key: str, completed: float) -> None:
        with self._lock:
            if key not in self._tasks:
                return
            self._progress.update(self._tasks[key], completed=completed)

    def finished(self, key: str) -> None:
        with self._lock:
            task = self._tasks.pop(key, None)
            if task is not None:
                self._progress.remove_task(task)
                self._progress.advance(self._overall, 1)
