"""Threads released together, to race the status store on one key."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
RACERS = 8


def race(work: Callable[[int], T], racers: int = RACERS) -> list[T]:
    """`work(i)` for i in range(racers), in as many threads released at once by a barrier; the
    results in order (the first error raised in a thread is raised here)."""
    start = threading.Barrier(racers)

    def run(i: int) -> T:
        start.wait()
        return work(i)

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(run, range(racers)))
