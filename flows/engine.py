"""The scheduler every stage flow and the full pipeline share.

Each stage pulls its next recording from the store as soon as one of its slots is free
(`claim(..., limit=1)`), so recordings stream through download -> process -> upload, each stage
with its own concurrency limit, and two flow runs (two workers) share the work without ever taking
the same recording. A heartbeat keeps this run's leases and its storage alive; a crashed run's
leases run out and the next run's `recover` returns its rows.

Workers need not share a disk: process and upload claim only recordings whose media is on this
run's storage (its MEDIA_DIR), downloads are open to all. A run that downloads also takes over,
at its start and with every heartbeat, the unfinished recordings of storages no run keeps alive
(`takeover`): they are downloaded again from Zoom, by this run or any other.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from logging import Logger, LoggerAdapter
from typing import Any

from prefect import Task, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture
from sqlalchemy.exc import SQLAlchemyError

from config.prefect_sync import synchronous
from config.secrets import read_once
from config.settings import get_settings
from integrations.store.database import driver_message
from integrations.store.models import Recording
from integrations.store.repository import RecordingStore
from integrations.store.states import STAGES, ProcessingStatus
from tasks.common import get_store, local_storage
from tasks.disk import DiskWait


@dataclass(frozen=True)
class Stage:
    """One pipeline stage: its task (called as `task(recording_id, worker, **kwargs)`) and limit."""

    name: str
    task: Task
    limit: int
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Touched:
    """A recording this run worked on, and the status it started from."""

    recording_id: int
    topic: str
    before: ProcessingStatus


@dataclass
class RunReport:
    touched: dict[int, Touched] = field(default_factory=dict)
    busy_seconds: dict[str, float] = field(default_factory=dict)
    # The first wait for the disk per stage: that stage starts nothing more in this run.
    disk_waits: dict[str, DiskWait] = field(default_factory=dict)

    def note_claim(self, stage: str, row: Recording) -> None:
        self.touched.setdefault(row.id, Touched(row.id, row.topic, STAGES[stage][0]))

    def note_disk_wait(self, wait: DiskWait, logger: Logger | LoggerAdapter) -> None:
        """Say once per stage that it waits for the disk, and stop starting it."""
        if wait.stage in self.disk_waits:
            return
        self.disk_waits[wait.stage] = wait
        logger.warning(
            "The %s stage waits for the disk until a later run (recording %s is back at %s, "
            "no attempt used; stages that write nothing go on): %s",
            wait.stage,
            wait.recording_id,
            wait.status,
            wait.cause,
        )


class RunProgress:
    """A Prefect progress artifact: stage tasks done out of those ready when the run began."""

    def __init__(
        self,
        store: RecordingStore,
        stages: Sequence[Stage],
        ids: Sequence[int] | None,
        storage: str,
    ) -> None:
        names = [stage.name for stage in stages]
        # A recording ready for stage k still has every later stage of this run ahead of it.
        self.total = sum(
            store.ready_count(name, ids, storage=storage) * (len(names) - position)
            for position, name in enumerate(names)
        )
        self.done = 0
        self.artifact = synchronous(
            create_progress_artifact(
                progress=0.0, description=f"{' -> '.join(names)}: stage tasks done"
            )
        )

    def advance(self, finished: int) -> None:
        if not finished:
            return
        self.done += finished
        self.total = max(self.total, self.done)
        update_progress_artifact(self.artifact, progress=100 * self.done / self.total)


class LeaseHeartbeat:
    """Renews every lease the worker holds and its storage's life, every third of the lease,
    until stopped.

    The leases' time is the store's (`RecordingStore.clock`, the database's on PostgreSQL);
    the heartbeat only counts the interval between beats. A failed renewal (the database
    restarting, a dropped connection) is logged and tried again at the next beat: two more
    beats fit in the lease before another run may take the rows.
    """

    def __init__(
        self,
        store: RecordingStore,
        worker: str,
        storage: str,
        lease_seconds: int,
        logger: Logger | LoggerAdapter,
    ) -> None:
        self.store, self.worker, self.storage = store, worker, storage
        self.lease_seconds = lease_seconds
        self.logger = logger
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def keep_storage_alive(self) -> None:
        self.store.touch_storage(
            self.storage,
            media_dir=str(get_settings().media_dir.resolve()),
            host=socket.gethostname(),
            lease_seconds=self.lease_seconds,
        )

    def beat(self) -> None:
        """One beat: renew the worker's leases and its storage; a failure is logged."""
        try:
            self.store.renew(self.worker, self.lease_seconds)
            self.keep_storage_alive()
        except SQLAlchemyError as exc:
            self.logger.warning(
                "Could not renew this run's leases (trying again): %s", driver_message(exc)
            )

    def _beat(self) -> None:
        while not self._stop.wait(beat_seconds(self.lease_seconds)):
            self.beat()

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def beat_seconds(lease_seconds: int) -> float:
    return max(lease_seconds / 3, 0.5)


class Recovery:
    """Rows a run may pick up from others: expired leases (`recover`), and, for a run that
    downloads, the unfinished recordings of storages no run keeps alive (`takeover`)."""

    def __init__(
        self,
        store: RecordingStore,
        storage: str,
        takes_over: bool,
        ids: Sequence[int] | None,
        logger: Logger | LoggerAdapter,
    ) -> None:
        self.store, self.storage, self.takes_over, self.ids = store, storage, takes_over, ids
        self.logger = logger

    def __call__(self) -> None:
        for change in self.store.recover():
            self.logger.warning(
                "Recording %s: %s -> %s (a previous run's lease ran out)",
                change.recording_id,
                change.before,
                change.after,
            )
        if not self.takes_over:
            return
        for change in self.store.takeover(self.storage, ids=self.ids):
            self.logger.warning(
                "Recording %s: %s -> %s: %s",
                change.recording_id,
                change.before,
                change.after,
                change.reason,
            )


def run_stages(
    stages: Sequence[Stage],
    worker: str,
    *,
    ids: Sequence[int] | None = None,
    poll_seconds: float = 1.0,
) -> RunReport:
    """Run every ready recording (all, or `ids`) through `stages`, streaming; return a report."""
    settings = get_settings()
    store = get_store()
    logger = get_run_logger()
    storage = local_storage()
    heartbeat = LeaseHeartbeat(store, worker, storage, settings.lease_seconds, logger)
    heartbeat.keep_storage_alive()
    takes_over = any(stage.name == "download" for stage in stages)
    recover = Recovery(store, storage, takes_over, ids, logger)
    recover()
    next_recovery = time.monotonic() + beat_seconds(settings.lease_seconds)
    report = RunReport()
    progress = RunProgress(store, stages, ids, storage)
    done: queue.SimpleQueue[PrefectFuture] = queue.SimpleQueue()
    running: dict[str, dict[PrefectFuture, tuple[Recording, float]]] = {s.name: {} for s in stages}
    settled_here: set[int] = set()
    # A run that also cuts and publishes keeps no more recordings ahead of its uploads than its
    # cut and upload slots: it downloads no work it cannot start soon, so other workers get it.
    later = [stage.limit for stage in stages if stage.name != "download"]
    ahead_limit = sum(later) if takes_over and later else None
    slots = Slots(store, worker, storage, ahead_limit, ids, settled_here, running, report, done)
    with heartbeat, read_once():  # each credentials block read once for the run's tasks
        try:
            while True:
                if time.monotonic() >= next_recovery:
                    recover()
                    next_recovery = time.monotonic() + beat_seconds(settings.lease_seconds)
                for stage in reversed(stages):  # downstream first: finished work moves on
                    slots.fill(stage)
                if not any(running.values()):
                    break
                finished = _finished(done, poll_seconds)
                progress.advance(_collect(stages, finished, running, report, settled_here))
        finally:
            for change in store.release(worker):
                logger.warning("Recording %s released: %s", change.recording_id, change.after)
    return report


@dataclass
class Slots:
    """Claims rows for a stage's free slots and submits their tasks."""

    store: RecordingStore
    worker: str
    storage: str
    ahead_limit: int | None  # downloads wait while this storage holds as many ahead of upload
    ids: Sequence[int] | None
    settled_here: set[int]
    running: dict[str, dict[PrefectFuture, tuple[Recording, float]]]
    report: RunReport
    done: queue.SimpleQueue[PrefectFuture]

    def in_flight(self) -> set[int]:
        """Rows whose task has not returned yet: the store may already have them FAILED, which
        a claim could take again before `_collect` settles them."""
        return {row.id for tasks in self.running.values() for row, _ in tasks.values()}

    def waits_for_disk(self, stage: Stage) -> bool:
        return stage.name in self.report.disk_waits

    def backlog_full(self) -> bool:
        limit = self.ahead_limit
        return limit is not None and self.store.ahead_of_upload(self.storage, self.ids) >= limit

    def fill(self, stage: Stage) -> None:
        settings = get_settings()
        while len(self.running[stage.name]) < stage.limit and not self.waits_for_disk(stage):
            if stage.name == "download" and self.backlog_full():
                return
            claimed = self.store.claim(
                stage.name,
                self.worker,
                lease_seconds=settings.lease_seconds,
                storage=self.storage,
                ids=self.ids,
                exclude=self.settled_here | self.in_flight(),
                limit=1,
                max_attempts=settings.max_attempts,
            )
            if not claimed:
                return
            row = claimed[0]
            self.report.note_claim(stage.name, row)
            named = stage.task.with_options(task_run_name=task_run_name(stage.name, row))
            future = named.submit(row.id, self.worker, **stage.kwargs)
            future.add_done_callback(self.done.put)
            self.running[stage.name][future] = (row, time.monotonic())


def _finished(done: queue.SimpleQueue[PrefectFuture], poll_seconds: float) -> list[PrefectFuture]:
    """The futures whose threads have returned: waits up to `poll_seconds` for the first."""
    finished: list[PrefectFuture] = []
    with contextlib.suppress(queue.Empty):
        finished.append(done.get(timeout=poll_seconds))
        while True:
            finished.append(done.get_nowait())
    return finished


def _collect(
    stages: Sequence[Stage],
    finished: Sequence[PrefectFuture],
    running: dict[str, dict[PrefectFuture, tuple[Recording, float]]],
    report: RunReport,
    settled_here: set[int],
) -> int:
    """Record every finished task; returns how many there were.

    Only futures whose thread has returned are looked at: their final state (with its result) is
    in memory. The API may already call a task final while its thread still runs, and a state read
    from the API carries no result.
    """
    for future in finished:
        stage = next(s for s in stages if future in running[s.name])
        row, started = running[stage.name].pop(future)
        report.busy_seconds[stage.name] = (
            report.busy_seconds.get(stage.name, 0.0) + time.monotonic() - started
        )
        future.wait()  # its thread has returned: this only takes the final state it gave back
        state = future.state
        result = state.result() if state.is_completed() else None
        if isinstance(result, DiskWait):
            report.note_disk_wait(result, get_run_logger())
        # A FAILED row, or one handed back to the stage's input status (it waits, e.g. for
        # its Zoom account, a quota or the disk), is not claimed again in this run.
        handed_back = result == STAGES[stage.name][0] or isinstance(result, DiskWait)
        if state.is_failed() or handed_back:
            settled_here.add(row.id)
    return len(finished)


def task_run_name(stage: str, row: Recording) -> str:
    """`download-12-algebra-lecture-3`: the stage, the recording ID and its topic."""
    words = "".join(c if c.isalnum() else "-" for c in row.topic.lower()).split("-")
    slug = "-".join(w for w in words if w)[:40].rstrip("-")
    return f"{stage}-{row.id}-{slug}" if slug else f"{stage}-{row.id}"
