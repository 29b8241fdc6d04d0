"""Run several FFmpeg commands at once, with one progress report and one failure for all."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

from integrations.media.ffmpeg import FFmpegRun, run_ffmpeg


@dataclass(frozen=True)
class FFmpegJob:
    """One FFmpeg command and how much of the whole work it is (its media seconds)."""

    args: list[str]
    seconds: float
    loglevel: str = "error"


class _CancelledError(Exception):
    """Raised from a job's progress callback to stop it: another job failed."""


def run_ffmpeg_jobs(
    jobs: Sequence[FFmpegJob],
    timeout: float,
    progress: Callable[[float], None] | None = None,
) -> list[FFmpegRun]:
    """Run `jobs` in parallel threads (each its own FFmpeg process); their runs, in order.

    `progress(fraction)` gets the share of the jobs' seconds done, from one thread at a time.
    When a job fails (or `progress` raises, or this call is interrupted) the others are
    killed and the first error is raised.
    """
    total = sum(job.seconds for job in jobs) or 1.0
    done = [0.0] * len(jobs)
    lock = threading.Lock()
    cancelled = threading.Event()

    def report(index: int) -> Callable[[float], None]:
        def update(fraction: float) -> None:
            if cancelled.is_set():
                raise _CancelledError
            with lock:
                done[index] = fraction * jobs[index].seconds
                if progress is not None:
                    progress(sum(done) / total)

        return update

    def run(index: int) -> FFmpegRun:
        job = jobs[index]
        return run_ffmpeg(
            job.args,
            timeout=timeout,
            duration=max(job.seconds, 1e-3),
            progress=report(index),
            loglevel=job.loglevel,
        )

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run, index) for index in range(len(jobs))]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            cancelled.set()  # stops what still runs: only a failure or an interruption leaves any
            wait(futures)
    errors = [f.exception() for f in futures if f.exception() is not None]
    first = next((e for e in errors if not isinstance(e, _CancelledError)), None)
    if first is not None:
        raise first
    return [f.result() for f in futures]
