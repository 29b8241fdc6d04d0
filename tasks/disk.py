"""A full or read-only media disk is a wait, not a failure (issue 20).

A stage's work that the disk refuses (no room for the download or the cut, a read-only file
system) hands its recording back to the stage's input status, its attempt unused, with a
reason that names the disk and the space it needs; the run stops starting that stage and goes
on with the stages that write nothing (uploads).
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.disk import DiskError, disk_error, is_disk_fault
from integrations.store.states import STAGES, ProcessingStatus


@dataclass(frozen=True)
class DiskWait:
    """What a stage's task returns when the disk stopped it: the row is back at `status`."""

    stage: str
    recording_id: int
    status: ProcessingStatus
    cause: str  # the disk's refusal: which disk or file, and the space needed and free

    @property
    def reason(self) -> str:
        """The row's `status_reason` while it waits."""
        return f"waiting for the disk: {self.cause}"


def disk_wait_of(stage: str, recording_id: int, exc: BaseException) -> DiskWait | None:
    """The wait `exc` means (a full or read-only disk, described or a bare `OSError`), else
    None."""
    if isinstance(exc, OSError) and is_disk_fault(exc):
        exc = disk_error(exc)
    if not isinstance(exc, DiskError) or not exc.waits:
        return None
    return DiskWait(stage, recording_id, STAGES[stage][0], str(exc))
