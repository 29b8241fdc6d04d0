"""Which Zoom cloud recordings may be moved to Zoom's trash or deleted (`delete_from_zoom`).

A recording's Zoom copy goes only when `delete_from_zoom` is not off, every enabled platform's
publication is UPLOADED, no publication of any platform is FAILED, WAITING or otherwise
unfinished, and each enabled platform, asked again (`verify`), returns the video finished
(processed, its files present) with the expected duration. Everything else is kept, with the
reasons, so that a dry run can show both lists. What a platform reports without blocking (a
privacy that differs from the configured one) is carried in the reasons.

Pure: the caller adapts its rows to `CleanupCandidate` and performs the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

DeletionMode = Literal["off", "trash", "delete"]
MODES: tuple[DeletionMode, ...] = ("off", "trash", "delete")
UPLOADED = "UPLOADED"

# A remote copy matches when |actual - expected| <= max(2 s, 0.5 % of expected): YouTube and
# VK report whole seconds and their transcoding moves the end by a frame or two, while a
# truncated or wrong upload is off by far more than that.
DURATION_TOLERANCE_S = 2.0
DURATION_TOLERANCE_RATIO = 0.005


@dataclass(frozen=True)
class PublicationState:
    """One publication of a recording: platform name, PlatformStatus value, remote video id."""

    platform: str
    status: str
    remote_id: str | None = None


@dataclass(frozen=True)
class CleanupCandidate:
    """A recording whose Zoom copy might go: expected duration is the published (cut) one."""

    recording_id: int
    zoom_uuid: str
    expected_duration_s: float | None
    publications: Sequence[PublicationState] = ()
    topic: str = ""


@dataclass(frozen=True)
class RemoteCheck:
    """What a platform says of its copy: a `problem` keeps the Zoom original; `notes` are shown."""

    problem: str | None = None
    notes: tuple[str, ...] = ()


Verifier = Callable[[CleanupCandidate, PublicationState], RemoteCheck]


@dataclass(frozen=True)
class CleanupDecision:
    """What happens to one recording's Zoom copy, and why."""

    candidate: CleanupCandidate
    action: Literal["trash", "delete", "keep"]
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what the platforms reported beside the verdict

    @property
    def removes(self) -> bool:
        return self.action != "keep"

    def describe(self) -> str:
        c = self.candidate
        label = f"#{c.recording_id} {c.topic}".rstrip() + f" ({c.zoom_uuid})"
        return f"{self.action:<6} {label}: {'; '.join((*self.reasons, *self.notes))}"


@dataclass(frozen=True)
class DeletionPlan:
    """The outcome for every candidate, in input order; `remove` and `keep` split it."""

    mode: DeletionMode
    decisions: tuple[CleanupDecision, ...] = field(default_factory=tuple)

    @property
    def remove(self) -> tuple[CleanupDecision, ...]:
        return tuple(d for d in self.decisions if d.removes)

    @property
    def keep(self) -> tuple[CleanupDecision, ...]:
        return tuple(d for d in self.decisions if not d.removes)

    def describe(self) -> list[str]:
        """Human-readable lines for a dry run: what would go first, then what stays."""
        head = f"delete_from_zoom={self.mode}: {len(self.remove)} to {self.mode}"
        if self.mode == "off":
            head = "delete_from_zoom=off: nothing is removed from Zoom"
        return [head, *(d.describe() for d in (*self.remove, *self.keep))]


def duration_matches(
    expected_s: float,
    actual_s: float | None,
    *,
    tolerance_s: float = DURATION_TOLERANCE_S,
    tolerance_ratio: float = DURATION_TOLERANCE_RATIO,
) -> bool:
    """Whether a platform's reported duration matches the published file's."""
    if actual_s is None or actual_s <= 0 or expected_s <= 0:
        return False
    return abs(actual_s - expected_s) <= max(tolerance_s, tolerance_ratio * expected_s)


def duration_problem(expected_s: float, actual_s: float | None) -> str | None:
    """Why a platform's reported duration does not match the published file's, if it does not."""
    if duration_matches(expected_s, actual_s):
        return None
    if actual_s is None or actual_s <= 0:
        return "reports no duration yet"
    return f"lasts {actual_s:.0f} s, expected {expected_s:.0f} s"


def _decide(
    candidate: CleanupCandidate,
    enabled: Sequence[str],
    mode: DeletionMode,
    verify: Verifier,
) -> CleanupDecision:
    def keep(*reasons: str) -> CleanupDecision:
        return CleanupDecision(candidate, "keep", reasons)

    if not candidate.zoom_uuid:
        return keep("no Zoom instance UUID")
    if not enabled:
        return keep("no platform is enabled")
    if not candidate.expected_duration_s or candidate.expected_duration_s <= 0:
        return keep("expected duration unknown, so the remote copies cannot be verified")

    problems: list[str] = []
    for publication in candidate.publications:
        if str(publication.status) != UPLOADED:
            problems.append(f"{publication.platform}: {publication.status}")
    by_platform: dict[str, list[PublicationState]] = {}
    for publication in candidate.publications:
        by_platform.setdefault(str(publication.platform), []).append(publication)
    for platform in enabled:
        found = by_platform.get(platform, [])
        if not found:
            problems.append(f"{platform}: not published")
        elif len(found) > 1:
            problems.append(f"{platform}: {len(found)} publications")
        elif found[0].status == UPLOADED and not found[0].remote_id:
            problems.append(f"{platform}: UPLOADED without a remote id")
    if problems:
        return keep(*problems)

    verified: list[str] = []
    notes: list[str] = []
    for platform in enabled:
        publication = by_platform[platform][0]
        try:
            check = verify(candidate, publication)
        except Exception as exc:
            return keep(f"{platform}: verification failed ({type(exc).__name__}: {exc})")
        notes.extend(f"{platform}: {note}" for note in check.notes)
        if check.problem is not None:
            reason = f"{platform}: remote video {publication.remote_id} {check.problem}"
            return CleanupDecision(candidate, "keep", (reason,), tuple(notes))
        verified.append(f"{platform} {publication.remote_id} verified")
    action: Literal["trash", "delete"] = "delete" if mode == "delete" else "trash"
    return CleanupDecision(candidate, action, tuple(verified), tuple(notes))


def zoom_deletion_plan(
    recordings: Iterable[CleanupCandidate],
    enabled_platforms: Collection[str],
    mode: DeletionMode,
    verify: Verifier,
) -> DeletionPlan:
    """Decide, for each recording, whether its Zoom copy may be trashed/deleted (see module).

    `verify(candidate, publication)` asks the platform for the video `publication.remote_id`
    and returns a `RemoteCheck`: no problem only when the video is there, finished, and lasts
    `candidate.expected_duration_s` (`duration_problem` helps); it is called only when every
    status already allows removal, at most once per enabled platform, and never when `mode`
    is "off". An exception from it keeps the recording.
    """
    if mode not in MODES:
        raise ValueError(f"delete_from_zoom must be one of {', '.join(MODES)}, not {mode!r}")
    candidates = list(recordings)
    if mode == "off":
        return DeletionPlan(
            mode,
            tuple(CleanupDecision(c, "keep", ("delete_from_zoom is off",)) for c in candidates),
        )
    enabled = sorted({str(p) for p in enabled_platforms})
    decisions: list[CleanupDecision] = []
    seen: dict[str, int] = {}
    for candidate in candidates:
        if candidate.zoom_uuid and candidate.zoom_uuid in seen:
            reason = f"same Zoom instance as recording #{seen[candidate.zoom_uuid]}"
            decisions.append(CleanupDecision(candidate, "keep", (reason,)))
            continue
        if candidate.zoom_uuid:
            seen[candidate.zoom_uuid] = candidate.recording_id
        decisions.append(_decide(candidate, enabled, mode, verify))
    return DeletionPlan(mode, tuple(decisions))
