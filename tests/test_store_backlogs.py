"""The housekeeping backlogs (issue 19): `clean`, `free-zoom` and the quota alert read only what
is due, a page at a time, and a `clean` that stops mid-way loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from disk_mounts import remount, tmpfs
from factories import add_recording
from sqlalchemy import update

from flows.alerts import wait_alert
from flows.maintenance import clean_flow
from integrations.store.backlogs import (
    expirable_pages,
    expire,
    quota_waits,
    zoom_due_pages,
)
from integrations.store.models import Publication
from integrations.store.publications import PublicationStore
from integrations.store.repository import RecordingStore
from integrations.store.states import Platform, PlatformStatus, ProcessingStatus

S = ProcessingStatus
NOW = datetime.now(UTC)


def ids(pages) -> list[list[int]]:
    return [[r.id for r in page] for page in pages]


def test_expirable_pages_are_the_finished_rows_before_the_cutoff_oldest_first(
    store: RecordingStore,
) -> None:
    old = NOW - timedelta(days=40)
    same_start = [add_recording(store, status=S.UPLOADED, start_time=old) for _ in range(3)]
    skipped = add_recording(store, status=S.SKIPPED, start_time=old - timedelta(hours=1))
    for status in (S.INITIALIZED, S.PROCESSED, S.FAILED, S.EXPIRED):
        add_recording(store, status=status, start_time=old)  # not finished, or expired already
    add_recording(store, status=S.UPLOADED, start_time=NOW - timedelta(days=2))  # too new

    pages = ids(expirable_pages(store, NOW - timedelta(days=30), size=2))

    assert pages == [[skipped.id, same_start[0].id], [same_start[1].id, same_start[2].id]]


def test_expiring_a_page_does_not_shift_the_next_and_skips_rows_changed_since(
    store: RecordingStore,
) -> None:
    rows = [add_recording(store, status=S.UPLOADED) for _ in range(5)]
    later = NOW + timedelta(days=400)
    pages = expirable_pages(store, later, size=2)

    first = next(pages)
    store.transition(rows[1].id, S.UPLOADING)  # a platform enabled later publishes it
    assert expire(store, [r.id for r in first], "media cleaned") == [rows[0].id]
    rest = ids(pages)

    assert rest == [[rows[2].id, rows[3].id], [rows[4].id]]
    assert [store.get(r.id).status for r in rows[:2]] == [S.EXPIRED, S.UPLOADING]
    assert store.get(rows[0].id).status_reason == "media cleaned"


def published(store: RecordingStore, status: ProcessingStatus, **fields) -> int:
    row = add_recording(store, status=status, **fields)
    publications = PublicationStore(store)
    publications.get_or_create(row.id, Platform.YOUTUBE)
    publications.update(row.id, Platform.YOUTUBE, status=PlatformStatus.UPLOADED, remote_id="v")
    return row.id


def test_zoom_due_pages_are_the_published_rows_whose_zoom_copy_is_still_there(
    store: RecordingStore,
) -> None:
    due = [published(store, S.UPLOADED), published(store, S.EXPIRED), published(store, S.UPLOADED)]
    published(store, S.UPLOADED, zoom_cleanup="trash")  # freed already
    published(store, S.PROCESSED)  # not finished
    add_recording(store, status=S.EXPIRED)  # skipped, then expired by `clean`: never published

    assert ids(zoom_due_pages(store, size=2)) == [due[:2], due[2:]]


def waiting(store: RecordingStore, status: ProcessingStatus, platform: Platform, age: timedelta):
    row = add_recording(store, status=status, topic="Physics")
    publications = PublicationStore(store)
    publications.get_or_create(row.id, platform)
    publications.mark_waiting(row.id, platform, NOW + timedelta(hours=5), "quota used up")
    with store.session() as session:  # its first attempt was `age` ago
        session.execute(
            update(Publication)
            .where(Publication.recording_id == row.id)
            .values(created_at=NOW - age)
        )
    return row


def test_quota_waits_count_every_long_wait_and_load_the_oldest(store: RecordingStore) -> None:
    longest = waiting(store, S.PROCESSED, Platform.YOUTUBE, timedelta(days=5))
    second = waiting(store, S.PROCESSED, Platform.VK, timedelta(days=3))
    newest = waiting(store, S.PROCESSED, Platform.YOUTUBE, timedelta(days=2))
    waiting(store, S.PROCESSED, Platform.YOUTUBE, timedelta(hours=3))  # not a day yet
    waiting(store, S.UPLOADING, Platform.YOUTUBE, timedelta(days=4))  # being tried now
    published(store, S.UPLOADED)

    waits = quota_waits(store, NOW - timedelta(days=1), limit=2)

    assert waits.count == 3
    assert waits.newest is not None
    assert abs(waits.newest - store.get(newest.id).publications[0].created_at) < timedelta(0, 1)
    assert [(r.id, p.platform) for r, p in waits.oldest] == [
        (longest.id, Platform.YOUTUBE),
        (second.id, Platform.VK),
    ]
    subject, body = wait_alert(waits, NOW)
    assert subject == "zoom-publisher: 3 publications waiting for quota"
    assert f"#{longest.id} Physics: YouTube has waited 5.0 days" in body
    assert body.endswith("... and 1 more")
    assert quota_waits(store, NOW - timedelta(days=10)).count == 0


@pytest.mark.usefixtures("prefect_harness")
def test_clean_goes_page_by_page_and_a_failure_mid_way_loses_nothing(
    store: RecordingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five finished recordings, cleaned two per page; the fourth's file is on a read-only
    disk. The three before it are marked EXPIRED (the third mid-page), the rest stay UPLOADED
    with their files, and the next run, the disk writable again, finishes the job."""
    monkeypatch.setattr("flows.maintenance.CLEAN_PAGE", 2)
    old = NOW - timedelta(days=40)
    with tmpfs(tmp_path / "media", "128k") as disk:
        files = [tmp_path / f"{n}.mp4" for n in range(5)]
        files[3] = disk / "3.mp4"
        rows = []
        for n, path in enumerate(files):
            path.write_bytes(b"\0" * 100)
            start = old + timedelta(hours=n)
            rows.append(
                add_recording(store, status=S.UPLOADED, processed_path=str(path), start_time=start)
            )
        kept = add_recording(store, status=S.PROCESSED, start_time=old)  # unfinished: never
        remount(disk, "ro")

        failed = clean_flow(days=30, return_state=True)

        assert failed.is_failed() and "read-only file system" in (failed.message or "")
        statuses = [store.get(r.id).status for r in rows]
        assert statuses == [S.EXPIRED] * 3 + [S.UPLOADED] * 2
        assert [path.exists() for path in files] == [False] * 3 + [True] * 2

        remount(disk, "rw")
        again = clean_flow(days=30)

        assert [row["id"] for row in again] == [rows[3].id, rows[4].id]
        assert {store.get(r.id).status for r in rows} == {S.EXPIRED}
        assert not any(path.exists() for path in files)
        assert store.get(kept.id).status == S.PROCESSED
