"""The state machine: recording and publication statuses, the one table of legal transitions
(`TRANSITIONS`, enforced by `check_transition`), and which status each stage takes, works in
and gives (`STAGES`). The store applies it (claims.py, repository.py); nothing else moves a
status."""

from __future__ import annotations

from enum import StrEnum


class ProcessingStatus(StrEnum):
    INITIALIZED = "INITIALIZED"
    DOWNLOADING = "DOWNLOADING"
    DOWNLOADED = "DOWNLOADED"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    UPLOADING = "UPLOADING"
    UPLOADED = "UPLOADED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    EXPIRED = "EXPIRED"


class PlatformStatus(StrEnum):
    PENDING = "PENDING"
    UPLOADING = "UPLOADING"
    UPLOADED = "UPLOADED"
    WAITING = "WAITING"  # deferred, e.g. the YouTube quota is spent until `waiting_until`
    FAILED = "FAILED"


class Platform(StrEnum):
    YOUTUBE = "youtube"
    VK = "vk"


S = ProcessingStatus

# Work statuses: the stage a claim starts, and the status it leaves when the work is done.
STAGES: dict[str, tuple[ProcessingStatus, ProcessingStatus, ProcessingStatus]] = {
    # stage: (input status, working status, output status)
    "download": (S.INITIALIZED, S.DOWNLOADING, S.DOWNLOADED),
    "process": (S.DOWNLOADED, S.PROCESSING, S.PROCESSED),
    "upload": (S.PROCESSED, S.UPLOADING, S.UPLOADED),
}
WORKING = frozenset(working for _, working, _ in STAGES.values())
# The stages that read a recording's local media: they run on the storage that holds it.
# Downloads are open to every storage (that is how work spreads).
MEDIA_STAGES = frozenset({"process", "upload"})
STABLE_RESTART_POINTS = frozenset({S.INITIALIZED, S.DOWNLOADED, S.PROCESSED})

# -> INITIALIZED from a later status: the media is gone (or on a storage nobody works on any
# more), so the recording is downloaded again from Zoom. -> FAILED from DOWNLOADED or PROCESSED:
# the same, but Zoom's copy was already freed, so a person must bring the media back.
TRANSITIONS: dict[ProcessingStatus, frozenset[ProcessingStatus]] = {
    S.INITIALIZED: frozenset({S.DOWNLOADING, S.SKIPPED, S.EXPIRED}),
    S.DOWNLOADING: frozenset({S.DOWNLOADED, S.FAILED, S.INITIALIZED}),
    S.DOWNLOADED: frozenset({S.PROCESSING, S.EXPIRED, S.INITIALIZED, S.FAILED}),
    S.PROCESSING: frozenset({S.PROCESSED, S.FAILED, S.SKIPPED, S.DOWNLOADED, S.INITIALIZED}),
    S.PROCESSED: frozenset({S.UPLOADING, S.EXPIRED, S.INITIALIZED, S.FAILED}),
    # UPLOADING -> PROCESSED: released unfinished (lease expired, or a platform waits for quota).
    S.UPLOADING: frozenset({S.UPLOADED, S.FAILED, S.PROCESSED, S.INITIALIZED}),
    # UPLOADED -> UPLOADING: a platform enabled later publishes what is missing.
    S.UPLOADED: frozenset({S.UPLOADING, S.EXPIRED}),
    # FAILED goes back to its last good status by `reset`, or straight into the stage it failed in.
    S.FAILED: frozenset({S.INITIALIZED, S.DOWNLOADED, S.PROCESSED, *WORKING, S.EXPIRED}),
    # SKIPPED -> INITIALIZED: Zoom finished processing the files, or the filters changed.
    S.SKIPPED: frozenset({S.INITIALIZED, S.EXPIRED}),
    S.EXPIRED: frozenset(),
}


class IllegalTransitionError(RuntimeError):
    """A status change that the state machine does not allow: a bug, never a silent overwrite."""

    def __init__(self, recording_id: int, current: ProcessingStatus, target: ProcessingStatus):
        self.recording_id = recording_id
        self.current = current
        self.target = target
        super().__init__(f"recording {recording_id}: illegal status change {current} -> {target}")


def is_legal(current: ProcessingStatus, target: ProcessingStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(
    recording_id: int, current: ProcessingStatus, target: ProcessingStatus
) -> None:
    """Raise `IllegalTransitionError` unless `current -> target` is in the table."""
    if not is_legal(current, target):
        raise IllegalTransitionError(recording_id, current, target)


def restart_point(status: ProcessingStatus, last_good: ProcessingStatus | None) -> ProcessingStatus:
    """The stable status a working or failed row returns to (recovery and `reset`)."""
    for input_status, working, _ in STAGES.values():
        if status == working:
            return input_status
    if status == S.FAILED and last_good in STABLE_RESTART_POINTS:
        return last_good
    if status == S.FAILED:
        return S.INITIALIZED
    return status
