"""Locality and takeover in the store: storages, local claims, and a dead storage's recordings.

Two storages (two MEDIA_DIRs on two machines) share one status store. Time is passed to the
store (`now=`), so that leases and storages run out without sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from factories import add_recording
from racing import RACERS, race
from sqlalchemy import select

from integrations.storage_id import MARKER, storage_id, unwritten_id
from integrations.store.models import Storage
from integrations.store.publications import PublicationStore
from integrations.store.repository import RecordingStore
from integrations.store.states import Platform, PlatformStatus, ProcessingStatus
from tasks.process import process_recording_task

S = ProcessingStatus
A, B = "machine-a-0123456789ab", "machine-b-ba9876543210"
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
LEASE = 60


def alive(store: RecordingStore, storage: str, now: datetime = T0) -> None:
    store.touch_storage(
        storage, media_dir=f"/srv/{storage}", host=storage, lease_seconds=LEASE, now=now
    )


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ---- storage ids ----------------------------------------------------------------------------


def test_a_media_dir_gets_one_id_however_many_workers_ask_at_once(tmp_path: Path) -> None:
    shared = tmp_path / "nfs-export"
    found: list[str] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        found.append(storage_id(shared))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(found)) == 1 and len(found) == 8
    assert (shared / MARKER).read_text().strip() == found[0]
    assert [p.name for p in shared.iterdir()] == [MARKER], "no temporary file is left"
    assert storage_id(shared) == found[0]
    assert storage_id(tmp_path / "other-disk") != found[0]


def test_a_media_dir_that_cannot_hold_the_id_yet_is_named_after_host_and_path(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "video"
    blocked.write_text("a file where MEDIA_DIR's folder should be")  # as unwritable as it gets

    assert storage_id(blocked) == storage_id(blocked) == unwritten_id(blocked)
    assert unwritten_id(blocked) != unwritten_id(tmp_path / "other")

    blocked.unlink()  # writable again: the id is written, and names the folder from now on
    written = storage_id(blocked)
    assert written != unwritten_id(blocked)
    assert (blocked / MARKER).read_text().strip() == written == storage_id(blocked)


# ---- claims ---------------------------------------------------------------------------------


def test_stages_that_read_media_claim_only_their_storage_and_downloads_are_open(
    store: RecordingStore,
) -> None:
    on_a = add_recording(store, status=S.DOWNLOADED, storage=A, source_path="/a/1.mp4")
    on_b = add_recording(store, status=S.DOWNLOADED, storage=B, source_path="/b/2.mp4")
    unknown = add_recording(store, status=S.DOWNLOADED, source_path="video/3.mp4")
    processed_b = add_recording(store, status=S.PROCESSED, storage=B, processed_path="/b/4.mp4")
    new = add_recording(store)

    assert store.ready_count("process", storage=A) == 2
    assert [r.id for r in store.ready("upload", storage=A)] == []
    claimed = store.claim("process", "run-a", lease_seconds=LEASE, storage=A)
    assert [r.id for r in claimed] == [on_a.id, unknown.id]
    assert store.claim("upload", "run-a", lease_seconds=LEASE, storage=A) == []
    assert [r.id for r in store.claim("download", "run-a", lease_seconds=LEASE, storage=A)] == [
        new.id
    ]
    assert store.get(new.id).storage == A, "its download goes to A's disk"

    assert [r.id for r in store.claim("process", "run-b", lease_seconds=LEASE, storage=B)] == [
        on_b.id
    ]
    assert [r.id for r in store.claim("upload", "run-b", lease_seconds=LEASE, storage=B)] == [
        processed_b.id
    ]


def test_a_failed_stage_is_retried_on_its_own_storage_only(store: RecordingStore) -> None:
    failed = add_recording(store, status=S.FAILED, storage=A, attempts=1)
    store.update_fields(failed.id, last_good_status=S.PROCESSED)  # it failed to upload

    assert store.claim("upload", "run-b", lease_seconds=LEASE, storage=B) == []
    assert [r.id for r in store.claim("upload", "run-a", lease_seconds=LEASE, storage=A)] == [
        failed.id
    ]


def test_what_a_storage_holds_ahead_of_upload_is_counted_without_parked_rows(
    store: RecordingStore,
) -> None:
    rows = [
        add_recording(store, status=status, storage=A)
        for status in (S.DOWNLOADING, S.DOWNLOADED, S.PROCESSING, S.PROCESSED)
    ]
    add_recording(store, status=S.PROCESSED, storage=A, not_before=later(3600))  # quota
    for status in (S.UPLOADING, S.UPLOADED, S.FAILED, S.INITIALIZED):
        add_recording(store, status=status, storage=A)
    add_recording(store, status=S.DOWNLOADED, storage=B)

    assert store.ahead_of_upload(A, now=T0) == 4
    assert store.ahead_of_upload(A, ids=[rows[0].id, rows[3].id], now=T0) == 2
    assert store.ahead_of_upload(B, now=T0) == 1


# ---- takeover -------------------------------------------------------------------------------


def test_a_dead_workers_recording_is_taken_over_once_its_lease_and_storage_run_out(
    store: RecordingStore,
) -> None:
    alive(store, A)
    alive(store, B)
    row = add_recording(store, status=S.DOWNLOADED, storage=A, source_path="/a/1.mp4")
    assert store.claim("process", "run-a", lease_seconds=LEASE, storage=A, now=T0)
    # Run A is killed here: neither its lease nor its storage is renewed again.
    alive(store, B, now=later(30))

    assert store.recover(now=later(30)) == [] and store.takeover(B, now=later(30)) == []
    assert store.get(row.id).status == S.PROCESSING

    alive(store, B, now=later(LEASE + 1))
    [recovered] = store.recover(now=later(LEASE + 1))
    assert (recovered.before, recovered.after) == (S.PROCESSING, S.DOWNLOADED)
    assert store.claim("process", "run-b", lease_seconds=LEASE, storage=B) == []
    [taken] = store.takeover(B, now=later(LEASE + 1))

    assert (taken.before, taken.after) == (S.DOWNLOADED, S.INITIALIZED)
    moved = store.get(row.id)
    assert moved.status == S.INITIALIZED and moved.last_good_status == S.INITIALIZED
    assert (moved.storage, moved.source_path, moved.processed_path) == (None, None, None)
    assert moved.attempts == 0
    assert f"taken over from storage {A}" in moved.status_reason
    assert "downloading it again from Zoom" in moved.status_reason
    claimed = store.claim("download", "run-b", lease_seconds=LEASE, storage=B)
    assert [r.id for r in claimed] == [row.id]


def test_takeover_leaves_live_storages_its_own_and_deferred_rows_alone(
    store: RecordingStore,
) -> None:
    alive(store, A, now=later(100))
    live = add_recording(store, status=S.PROCESSED, storage=A, processed_path="/a/1.mp4")
    own = add_recording(store, status=S.PROCESSED, storage=B, processed_path="/b/2.mp4")
    waiting = add_recording(store, status=S.PROCESSED, storage="gone-0", not_before=later(3600))
    due = add_recording(store, status=S.PROCESSED, storage="gone-0")
    other = add_recording(store, status=S.DOWNLOADED, storage="gone-0")

    taken = store.takeover(B, ids=[live.id, own.id, waiting.id, due.id], now=later(120))

    assert [change.recording_id for change in taken] == [due.id]
    assert store.get(due.id).status_reason.endswith(
        "(no run alive there since ever): downloading it again from Zoom"
    )
    for kept in (live, own, waiting):
        assert store.get(kept.id).status == S.PROCESSED
    assert store.get(other.id).status == S.DOWNLOADED, "outside `ids`"
    assert [c.recording_id for c in store.takeover(B, now=later(120))] == [other.id]


def test_a_taken_over_recordings_uploads_start_again_and_keep_what_is_done(
    store: RecordingStore,
) -> None:
    row = add_recording(store, status=S.PROCESSED, storage=A, processed_path="/a/1.mp4")
    publications = PublicationStore(store)
    publications.get_or_create(row.id, Platform.YOUTUBE)
    publications.start_attempt(row.id, Platform.YOUTUBE, 1000)
    publications.record_session(row.id, Platform.YOUTUBE, "https://upload/1", media="1000:1")
    publications.get_or_create(row.id, Platform.VK)
    publications.update(row.id, Platform.VK, status=PlatformStatus.UPLOADED, remote_id="-1_2")

    store.takeover(B, now=later(1))

    youtube, vk = (store.get(row.id).publication(p) for p in (Platform.YOUTUBE, Platform.VK))
    assert youtube is not None and vk is not None
    # The session stays: the upload checks whether that copy's upload finished before a new one.
    assert youtube.status == PlatformStatus.PENDING
    assert (youtube.upload_session, youtube.session_media) == ("https://upload/1", "1000:1")
    assert vk.status == PlatformStatus.UPLOADED and vk.remote_id == "-1_2"


def test_a_dead_storages_recording_whose_zoom_copy_was_freed_needs_a_person(
    store: RecordingStore,
) -> None:
    alive(store, A)
    row = add_recording(
        store, status=S.PROCESSED, storage=A, processed_path="/a/1.mp4", zoom_cleanup="trash"
    )

    [change] = store.takeover(B, now=later(LEASE + 1))

    failed = store.get(row.id)
    assert (change.after, failed.status) == (S.FAILED, S.FAILED)
    assert failed.status_reason == (
        f"needs a person: its media is only on storage {A} (no run alive there since "
        f"{later(LEASE):%Y-%m-%d %H:%M} UTC) and its Zoom recording was already freed (trash); "
        "start a worker on that storage again to finish it"
    )
    assert failed.storage == A and failed.processed_path == "/a/1.mp4"
    assert store.takeover(B, now=later(LEASE + 2)) == [], "told once"
    assert store.claim("upload", "run-b", lease_seconds=LEASE, storage=B) == []
    # Its storage back, a run there finishes it without anyone's help.
    assert [r.id for r in store.claim("upload", "run-a", lease_seconds=LEASE, storage=A)] == [
        row.id
    ]


# ---- media gone on the storage that holds the row -------------------------------------------


def test_a_vanished_source_is_downloaded_again_not_failed(
    store: RecordingStore, tmp_path: Path
) -> None:
    here = storage_id(tmp_path / "video")
    gone = tmp_path / "video" / "unprocessed_video" / "1-lecture.mp4"
    row = add_recording(store, status=S.DOWNLOADED, storage=here, source_path=str(gone))
    assert store.claim("process", "run-a", lease_seconds=LEASE, storage=here)

    assert process_recording_task.fn(row.id, "run-a") == S.INITIALIZED

    again = store.get(row.id)
    assert again.status == S.INITIALIZED and again.claimed_by is None
    assert again.status_reason == (
        f"{gone} is missing on this storage: downloading it again from Zoom"
    )
    assert (again.storage, again.source_path, again.attempts) == (None, None, 0)


def test_a_vanished_source_whose_zoom_copy_was_freed_fails_asking_a_person(
    store: RecordingStore, tmp_path: Path
) -> None:
    gone = tmp_path / "video" / "unprocessed_video" / "1-lecture.mp4"
    row = add_recording(store, status=S.DOWNLOADED, source_path=str(gone), zoom_cleanup="delete")
    assert store.claim("process", "run-a", lease_seconds=LEASE, storage="here")

    result = process_recording_task.fn(row.id, "run-a")

    assert result.is_failed()
    failed = store.get(row.id)
    assert failed.status == S.FAILED
    assert failed.status_reason == (
        f"needs a person: {gone} is missing and the Zoom recording was already freed "
        f"(delete); put the file back, then run `zoom-publisher reset --recordings {row.id}`"
    )


def test_runs_registering_one_storage_at_once_leave_one_row_renewed(store: RecordingStore) -> None:
    race(lambda i: alive(store, A, now=later(i)))

    with store.session() as session:
        (registered,) = session.scalars(select(Storage)).all()
    assert registered.id == A and registered.host == A
    assert registered.alive_until in {later(i + LEASE) for i in range(RACERS)}
