"""A sync's writes in batches (issue 19): one read and at most one insert per page, nothing
written for an unchanged recording, the same outcomes as one instance at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from integrations.store.repository import SYNC_BATCH, RecordingStore, SyncedInstance
from integrations.store.states import ProcessingStatus

S = ProcessingStatus
START = datetime(2026, 11, 2, 9, tzinfo=UTC)


def instance(n: int, skip: str | None = None, **changes: Any) -> SyncedInstance:
    values: dict[str, Any] = {
        "account": "school@example.com",
        "zoom_meeting_id": str(80_000_000_000 + n),
        "zoom_user_id": "u1",
        "topic": f"Lecture {n}",
        "start_time": START + timedelta(hours=n),
        "duration_min": 90,
        "total_size": 60 * 1024 * 1024,
        "video_files": [{"id": f"f{n}", "size": 60 * 1024 * 1024, "status": "completed"}],
        "transcript_file": None,
    }
    values.update(changes)
    return SyncedInstance(f"uuid-{n}==", values, skip)


class Statements:
    """The SQL statements the store sends, by their first word."""

    def __init__(self, store: RecordingStore) -> None:
        self.seen: list[str] = []
        self.store = store
        event.listen(store.engine, "before_cursor_execute", self._note)

    def _note(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        self.seen.append(statement.lstrip().split(None, 1)[0].upper())

    def __enter__(self) -> Statements:
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.store.engine, "before_cursor_execute", self._note)

    def count(self, verb: str) -> int:
        return self.seen.count(verb)


def test_a_page_is_one_read_and_one_insert_and_ids_follow_its_order(
    store: RecordingStore,
) -> None:
    page = [instance(n) for n in range(300)]

    with Statements(store) as statements:
        outcomes = store.store_synced(page)

    assert outcomes == ["added"] * 300
    assert (statements.count("SELECT"), statements.count("INSERT")) == (1, 1)
    assert statements.count("UPDATE") == 0
    rows = store.list()
    assert [r.zoom_uuid for r in sorted(rows, key=lambda r: r.id)] == [i.zoom_uuid for i in page]
    assert {(r.status, r.last_good_status, r.attempts) for r in rows} == {
        (S.INITIALIZED, S.INITIALIZED, 0)
    }
    assert rows[0].video_files == page[0].values["video_files"]
    assert rows[0].start_time == page[0].values["start_time"]


def test_more_than_a_batch_is_one_transaction_per_batch(store: RecordingStore) -> None:
    page = [instance(n) for n in range(SYNC_BATCH + 3)]
    with Statements(store) as statements:
        assert store.store_synced(page) == ["added"] * len(page)
    assert statements.count("INSERT") == 2 and statements.count("SELECT") == 2


def test_an_unchanged_recording_is_not_written(store: RecordingStore) -> None:
    page = [instance(n) for n in range(20)]
    store.store_synced(page)
    before = {r.id: (r.updated_at, r.status_changed_at) for r in store.list()}

    with Statements(store) as statements:
        outcomes = store.store_synced(page)

    assert outcomes == ["unchanged"] * 20
    assert statements.seen.count("SELECT") == 1
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements.seen), statements.seen
    assert {r.id: (r.updated_at, r.status_changed_at) for r in store.list()} == before


def test_a_page_gives_what_one_instance_at_a_time_gives(store: RecordingStore) -> None:
    """Every case of a sync against stored rows, batched and one by one: same outcomes, rows."""
    stored = [instance(n) for n in range(6)]
    stored[2] = instance(2, skip="Zoom is still processing")
    store.store_synced(stored)
    busy = store.by_uuid(stored[3].zoom_uuid)
    assert busy is not None
    store.claim("download", "someone", lease_seconds=600, ids=[busy.id])
    page = [
        stored[0],  # unchanged
        instance(1, topic="Lecture 1 (renamed)"),  # metadata changed
        instance(2),  # Zoom finished processing: SKIPPED -> INITIALIZED
        instance(3, topic="Renamed while downloading"),  # keeps DOWNLOADING
        instance(4, skip="duration 12 min is not over the minimum 30 min"),  # now filtered
        instance(6),  # new
        instance(7, skip="no MP4"),  # new, skipped
        instance(6),  # listed twice: stored once
    ]
    expected = [
        "unchanged",
        "updated",
        "updated",
        "updated",
        "updated",
        "added",
        "added",
        "added",
    ]

    assert store.store_synced(page, preview=True) == expected
    assert store.by_uuid(page[5].zoom_uuid) is None  # a preview changes nothing

    assert store.store_synced(page) == expected
    rows = {r.zoom_uuid: r for r in store.list()}
    assert rows[page[1].zoom_uuid].topic == "Lecture 1 (renamed)"
    assert (rows[page[2].zoom_uuid].status, rows[page[2].zoom_uuid].status_reason) == (
        S.INITIALIZED,
        None,
    )
    renamed = rows[page[3].zoom_uuid]
    assert (renamed.topic, renamed.status, renamed.claimed_by) == (
        "Renamed while downloading",
        S.DOWNLOADING,
        "someone",
    )
    assert rows[page[4].zoom_uuid].status == S.SKIPPED
    assert "duration 12 min" in rows[page[4].zoom_uuid].status_reason
    assert rows[page[6].zoom_uuid].status == S.SKIPPED
    assert len(rows) == 8

    for item in page:  # the single-instance path (the webhook's) agrees
        assert store.upsert_synced(item.zoom_uuid, item.values, item.skip) == "unchanged"


@pytest.fixture
def postgres_store(empty_postgres: str) -> Iterator[RecordingStore]:
    store = RecordingStore.open(empty_postgres)
    yield store
    store.dispose()


def test_an_instance_another_sync_stored_first_is_updated_not_duplicated_on_postgres(
    postgres_store: RecordingStore,
) -> None:
    """Between this page's read and its insert, another process stores one of its instances."""
    store = postgres_store
    other = RecordingStore(store.url)
    first = instance(1, topic="As the webhook stored it")

    def before_insert(_conn, _cursor, statement, *_args) -> None:
        if (
            statement.lstrip().upper().startswith("INSERT")
            and other.by_uuid(first.zoom_uuid) is None
        ):
            other.upsert_synced(first.zoom_uuid, first.values, first.skip)

    event.listen(store.engine, "before_cursor_execute", before_insert)
    try:
        outcomes = store.store_synced([instance(0), instance(1), instance(2)])
    finally:
        event.remove(store.engine, "before_cursor_execute", before_insert)
        other.dispose()

    assert outcomes == ["added", "updated", "added"]
    rows = store.list()
    assert [r.zoom_uuid for r in rows] == ["uuid-0==", "uuid-1==", "uuid-2=="]
    assert rows[1].topic == "Lecture 1" and rows[1].status == S.INITIALIZED
