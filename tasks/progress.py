"""Progress of long work (bytes downloaded, seconds encoded, bytes uploaded), for whoever watches.

Tasks report here; the CLI installs a Rich display, and inside a Prefect run the default observer
logs at sensible intervals. Observers must be thread-safe: several tasks report at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

logger = logging.getLogger("zoom_publisher.progress")


class ProgressObserver(Protocol):
    def started(self, key: str, description: str, total: float | None, unit: str) -> None: ...
    def advanced(self, key: str, completed: float) -> None: ...
    def finished(self, key: str) -> None: ...


class LoggingObserver:
    """Logs each piece of work every `every` fraction (default 10%) or every `seconds`."""

    def __init__(self, every: float = 0.1, seconds: float = 30.0) -> None:
        self.every, self.seconds = every, seconds
        self._state: dict[str, tuple[str, float | None, float, float]] = {}
        self._lock = threading.Lock()

    def started(self, key: str, description: str, total: float | None, unit: str) -> None:
        with self._lock:
            self._state[key] = (description, total, 0.0, time.monotonic())

    def advanced(self, key: str, completed: float) -> None:
        with self._lock:
            description, total, last_fraction, last_time = self._state.get(
                key, (key, None, 0.0, 0.0)
            )
            fraction = completed / total if total else 0.0
            now = time.monotonic()
            if fraction - last_fraction < self.every and now - last_time < self.seconds:
                return
            self._state[key] = (description, total, fraction, now)
        if total:
            _run_logger().info("%s: %.0f%%", description, 100 * fraction)

    def finished(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The task run's logger (so progress shows in the Prefect UI), else this module's."""
    from tasks.common import run_logger

    found = run_logger()
    return logger if found.name == "zoom_publisher" else found


class _Hub:
    def __init__(self) -> None:
        self.observer: ProgressObserver = LoggingObserver()


_hub = _Hub()


def install(observer: ProgressObserver) -> ProgressObserver:
    """Send progress to `observer` from now on; returns the previous one."""
    previous, _hub.observer = _hub.observer, observer
    return previous


class Tracker:
    """One piece of work's progress: `with Tracker(key, "Downloading 4", total) as t: t(done)`.

    `unit` is "bytes" (transfers: shown with speed) or "%" (encodes: `total` is 100).
    """

    def __init__(self, key: str, description: str, total: float | None, unit: str = "bytes"):
        self.key, self.description, self.total, self.unit = key, description, total, unit

    def __enter__(self) -> Tracker:
        _hub.observer.started(self.key, self.description, self.total, self.unit)
        return self

    def __call__(self, completed: float) -> None:
        _hub.observer.advanced(self.key, completed)

    def __exit__(self, *exc: object) -> None:
        _hub.observer.finished(self.key)
