"""The Zoom cloud clean-up policy: what may be trashed or deleted, and why the rest is kept."""

from __future__ import annotations

import pytest

from integrations.store.states import Platform, PlatformStatus
from integrations.zoom.deletion import (
    CleanupCandidate,
    PublicationState,
    RemoteCheck,
    duration_matches,
    duration_problem,
    zoom_deletion_plan,
)

BOTH = ("youtube", "vk")


def candidate(rid: int = 1, *publications: PublicationState, duration: float = 3600.0):
    return CleanupCandidate(rid, f"uuid-{rid}==", duration, publications, topic=f"Lecture {rid}")


def uploaded(platform: str, remote_id: str = "v1") -> PublicationState:
    return PublicationState(platform, "UPLOADED", remote_id)


class Verifier:
    """Records calls; `remote` maps (platform, remote id) to the duration the platform reports."""

    def __init__(self, remote: dict[tuple[str, str], float] | None = None) -> None:
        self.remote = remote
        self.calls: list[tuple[int, str]] = []

    def __call__(self, rec: CleanupCandidate, pub: PublicationState) -> RemoteCheck:
        self.calls.append((rec.recording_id, pub.platform))
        if self.remote is None:
            return RemoteCheck()
        actual = self.remote.get((pub.platform, pub.remote_id or ""))
        return RemoteCheck(duration_problem(rec.expected_duration_s or 0, actual))


def test_trash_only_after_every_platform_verified() -> None:
    verify = Verifier({("youtube", "yt1"): 3601.0, ("vk", "vk1"): 3599.0})
    rec = candidate(1, uploaded("youtube", "yt1"), uploaded("vk", "vk1"))
    plan = zoom_deletion_plan([rec], BOTH, "trash", verify)
    assert [d.candidate.recording_id for d in plan.remove] == [1]
    assert plan.remove[0].action == "trash"
    assert plan.remove[0].reasons == ("vk vk1 verified", "youtube yt1 verified")
    assert sorted(verify.calls) == [(1, "vk"), (1, "youtube")]
    assert plan.keep == ()
    assert zoom_deletion_plan([rec], BOTH, "delete", verify).remove[0].action == "delete"


def test_store_enums_are_accepted() -> None:
    pubs = (
        PublicationState(Platform.YOUTUBE, PlatformStatus.UPLOADED, "yt1"),
        PublicationState(Platform.VK, PlatformStatus.UPLOADED, "vk1"),
    )
    plan = zoom_deletion_plan(
        [candidate(1, *pubs)], [Platform.YOUTUBE, Platform.VK], "trash", Verifier()
    )
    assert len(plan.remove) == 1


@pytest.mark.parametrize(
    ("publications", "reason"),
    [
        ((uploaded("youtube"), PublicationState("vk", "FAILED", None)), "vk: FAILED"),
        ((uploaded("youtube"), PublicationState("vk", "WAITING", None)), "vk: WAITING"),
        ((uploaded("youtube"), PublicationState("vk", "UPLOADING", None)), "vk: UPLOADING"),
        ((uploaded("youtube"), PublicationState("vk", "PENDING", None)), "vk: PENDING"),
        ((uploaded("youtube"),), "vk: not published"),
        ((uploaded("youtube"), PublicationState("vk", "UPLOADED", None)), "without a remote id"),
    ],
)
def test_never_after_partial_failure_or_waiting(publications, reason) -> None:
    verify = Verifier()
    plan = zoom_deletion_plan([candidate(1, *publications)], BOTH, "trash", verify)
    assert plan.remove == ()
    assert any(reason in r for r in plan.keep[0].reasons)
    assert verify.calls == []  # no platform API calls for a recording that cannot go anyway


def test_failed_publication_on_a_disabled_platform_still_keeps() -> None:
    rec = candidate(1, uploaded("youtube"), PublicationState("vk", "FAILED", None))
    plan = zoom_deletion_plan([rec], ["youtube"], "trash", Verifier())
    assert plan.remove == () and plan.keep[0].reasons == ("vk: FAILED",)


def test_mode_off_does_nothing() -> None:
    verify = Verifier()
    rec = candidate(1, uploaded("youtube"), uploaded("vk"))
    plan = zoom_deletion_plan([rec], BOTH, "off", verify)
    assert plan.remove == ()
    assert plan.keep[0].reasons == ("delete_from_zoom is off",)
    assert verify.calls == []
    assert plan.describe()[0] == "delete_from_zoom=off: nothing is removed from Zoom"


def test_verification_failing_keeps_it() -> None:
    rec = candidate(1, uploaded("youtube", "yt1"), uploaded("vk", "vk1"))
    short = Verifier({("youtube", "yt1"): 3600.0, ("vk", "vk1"): 1800.0})  # half the video
    plan = zoom_deletion_plan([rec], BOTH, "trash", short)
    assert plan.remove == ()
    assert plan.keep[0].reasons == ("vk: remote video vk1 lasts 1800 s, expected 3600 s",)
    missing = Verifier({("youtube", "yt1"): 3600.0})  # VK no longer has it
    assert zoom_deletion_plan([rec], BOTH, "trash", missing).remove == ()


def test_notes_are_reported_without_keeping_the_original() -> None:
    def locked_private(_rec: CleanupCandidate, pub: PublicationState) -> RemoteCheck:
        if pub.platform == "youtube":
            return RemoteCheck(notes=("privacy is private, configured unlisted",))
        return RemoteCheck()

    rec = candidate(1, uploaded("youtube", "yt1"), uploaded("vk", "vk1"))
    plan = zoom_deletion_plan([rec], BOTH, "trash", locked_private)
    assert plan.remove[0].reasons == ("vk vk1 verified", "youtube yt1 verified")
    assert plan.remove[0].notes == ("youtube: privacy is private, configured unlisted",)
    assert plan.describe()[1].endswith(
        "youtube yt1 verified; youtube: privacy is private, configured unlisted"
    )


def test_verifier_exception_keeps_it() -> None:
    def broken(_rec: CleanupCandidate, _pub: PublicationState) -> RemoteCheck:
        raise ConnectionError("VK unreachable")

    rec = candidate(1, uploaded("youtube"), uploaded("vk"))
    plan = zoom_deletion_plan([rec], BOTH, "delete", broken)
    assert plan.remove == ()
    assert "verification failed (ConnectionError: VK unreachable)" in plan.keep[0].reasons[0]


def test_mixed_batch_and_dry_run_description() -> None:
    recs = [
        candidate(1, uploaded("youtube", "a"), uploaded("vk", "b")),
        candidate(2, uploaded("youtube", "c"), PublicationState("vk", "FAILED", None)),
        candidate(3, uploaded("youtube", "d"), uploaded("vk", "e"), duration=0),
        CleanupCandidate(4, "uuid-1==", 3600.0, (uploaded("youtube"), uploaded("vk"))),
    ]
    plan = zoom_deletion_plan(recs, BOTH, "trash", Verifier())
    assert [d.candidate.recording_id for d in plan.remove] == [1]
    assert [d.candidate.recording_id for d in plan.keep] == [2, 3, 4]
    lines = plan.describe()
    assert lines[0] == "delete_from_zoom=trash: 1 to trash"
    assert lines[1].startswith("trash  #1 Lecture 1 (uuid-1==): ")
    assert "vk: FAILED" in lines[2]
    assert "expected duration unknown" in lines[3]
    assert "same Zoom instance as recording #1" in lines[4]


def test_no_enabled_platform_keeps_everything() -> None:
    plan = zoom_deletion_plan([candidate(1)], [], "trash", Verifier())
    assert plan.keep[0].reasons == ("no platform is enabled",)


def test_bad_mode_rejected() -> None:
    with pytest.raises(ValueError, match="delete_from_zoom"):
        zoom_deletion_plan([], BOTH, "purge", Verifier())  # type: ignore[arg-type]


def test_duration_tolerance() -> None:
    assert duration_matches(3600.0, 3602.0)
    assert duration_matches(3600.0, 3618.0)  # 0.5 % of an hour
    assert not duration_matches(3600.0, 3619.0)
    assert duration_matches(60.0, 58.0) and not duration_matches(60.0, 57.5)
    assert not duration_matches(60.0, None) and not duration_matches(60.0, 0)
    assert duration_problem(3600.0, 3601.0) is None
    assert duration_problem(3600.0, None) == "reports no duration yet"
    assert duration_problem(3600.0, 1800.4) == "lasts 1800 s, expected 3600 s"
