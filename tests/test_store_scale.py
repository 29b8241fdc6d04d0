"""Claims, ready counts and `list` pages whose cost follows what they return, not the finished
history (issue 19).

The table is filled with finished rows older than a few ready ones (the worst case for a claim
ordered by start time), and the planner's plan for the exact SQL the store issues is read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import add_recording
from sqlalchemy import event, text

from integrations.store.backlogs import expirable_pages, quota_waits, zoom_due_pages
from integrations.store.models import Recording
from integrations.store.publications import PublicationStore
from integrations.store.repository import RecordingStore
from integrations.store.states import Platform, PlatformStatus, ProcessingStatus

S = ProcessingStatus
FINISHED = 20_000
INDEX = "ix_recordings_claimable"

# Finished rows (UPLOADED, SKIPPED, EXPIRED), all recorded before the ready ones below.
FILL_POSTGRES = """
INSERT INTO recordings (account, zoom_uuid, zoom_meeting_id, topic, start_time, duration_min,
    total_size, video_files, status, last_good_status, attempts, created_at, updated_at,
    status_changed_at)
SELECT 'history@example.com', 'history-' || g, '1', 'old lecture',
    timestamptz '2024-01-01 00:00+00' + g * interval '10 minutes', 60, 1000, '[]',
    (ARRAY['UPLOADED', 'UPLOADED', 'UPLOADED', 'SKIPPED', 'EXPIRED'])[1 + g % 5],
    'PROCESSED', 0, now(), now(), now()
FROM generate_series(1, :n) AS g
"""
FILL_SQLITE = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n)
INSERT INTO recordings (account, zoom_uuid, zoom_meeting_id, topic, start_time, duration_min,
    total_size, video_files, status, last_good_status, attempts, created_at, updated_at,
    status_changed_at)
SELECT 'history@example.com', 'history-' || n, '1', 'old lecture',
    datetime('2024-01-01', '+' || (n * 10) || ' minutes'), 60, 1000, '[]', 'UPLOADED',
    'PROCESSED', 0, datetime('now'), datetime('now'), datetime('now')
FROM g
"""


class Statements:
    """The SQL (and parameters) the store sends, captured as the driver receives it."""

    def __init__(self, store: RecordingStore) -> None:
        self.seen: list[tuple[str, Any]] = []
        event.listen(store.engine, "before_cursor_execute", self._note)

    def _note(self, _conn, _cursor, statement, parameters, _context, _executemany) -> None:
        self.seen.append((statement, parameters))

    def first(self, starts: str) -> tuple[str, Any]:
        return next(s for s in self.seen if s[0].lstrip().upper().startswith(starts))


def _history_with_ready_rows(store: RecordingStore, fill: str) -> list[int]:
    with store.engine.begin() as connection:
        connection.execute(text(fill), {"n": FINISHED})
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    ready = [add_recording(store, start_time=start + timedelta(hours=3 - n)).id for n in range(3)]
    add_recording(store, status=S.DOWNLOADED, start_time=start - timedelta(days=1))
    add_recording(store, status=S.PROCESSED, start_time=start - timedelta(days=2))
    return ready


@pytest.fixture
def postgres_store(postgres_database: str) -> Iterator[RecordingStore]:
    store = RecordingStore.open(postgres_database)
    with store.engine.begin() as connection:
        # Empty tables and indexes as new (DELETE would leave the pages other tests filled,
        # and the planner weighs an index by its pages).
        connection.execute(text("TRUNCATE publications, recordings"))
    yield store
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM recordings"))
    store.dispose()


def _analyze(store: RecordingStore) -> None:
    """Fresh planner statistics for `recordings` (autovacuum would take its time)."""
    with store.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("ANALYZE recordings")
        )


def _explain_postgres(store: RecordingStore, statement: str, parameters: Any) -> str:
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars()
        return "\n".join(rows)


def test_claim_reads_the_claimable_index_not_the_history_on_postgres(
    postgres_store: RecordingStore,
) -> None:
    store = postgres_store
    ready = _history_with_ready_rows(store, FILL_POSTGRES)
    _analyze(store)
    statements = Statements(store)

    claimed = store.claim("download", "w", lease_seconds=60, limit=1)

    assert [row.id for row in claimed] == [ready[-1]]  # the oldest ready row
    plan = _explain_postgres(store, *statements.first("UPDATE"))
    assert f"Index Scan using {INDEX} on recordings" in plan, plan
    assert "Seq Scan on recordings" not in plan, plan
    assert "ix_recordings_start_time" not in plan, plan


def test_a_claim_on_one_storage_reads_the_claimable_index_on_postgres(
    postgres_store: RecordingStore,
) -> None:
    store = postgres_store
    _history_with_ready_rows(store, FILL_POSTGRES)
    start = datetime(2026, 10, 1, 9, tzinfo=UTC)  # older than every ready row: claimed first
    for _ in range(20):  # another storage's downloaded rows, passed over
        add_recording(store, status=S.DOWNLOADED, storage="other", start_time=start)
    mine = add_recording(store, status=S.DOWNLOADED, storage="mine", start_time=start)
    _analyze(store)
    statements = Statements(store)

    claimed = store.claim("process", "w", lease_seconds=60, storage="mine", limit=1)

    assert [row.id for row in claimed] == [mine.id]
    plan = _explain_postgres(store, *statements.first("UPDATE"))
    # The planner may read the claimable index, or look the stage's input status and FAILED up
    # in ix_recordings_status: either way only ready rows, never the finished history.
    assert INDEX in plan or "Index Cond: (((status)::text = 'DOWNLOADED'" in plan, plan
    assert "Seq Scan on recordings" not in plan, plan


def test_ready_count_counts_in_the_database_without_the_history_on_postgres(
    postgres_store: RecordingStore,
) -> None:
    store = postgres_store
    _history_with_ready_rows(store, FILL_POSTGRES)
    _analyze(store)
    statements = Statements(store)

    assert store.ready_count("download") == 3
    assert store.ready_count("process") == 1
    assert store.ready_count("upload") == 1

    statement, parameters = statements.seen[0]
    assert len(statements.seen) == 3  # one query each, no rows loaded
    assert "count(" in statement.lower()
    plan = _explain_postgres(store, statement, parameters)
    assert INDEX in plan, plan
    assert "Seq Scan on recordings" not in plan, plan


def _explain_sqlite(store: RecordingStore, statement: str, parameters: Any) -> str:
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row[-1]) for row in rows)


def _full_scan(line: str) -> bool:
    """A plan line reading every row of `recordings` (or walking a full index of it)."""
    return line.startswith("SCAN recordings") and INDEX not in line


def test_claim_and_count_use_the_claimable_index_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    RecordingStore(url).upgrade()
    store = RecordingStore.open(url)
    ready = _history_with_ready_rows(store, FILL_SQLITE)
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    statements = Statements(store)

    assert store.ready_count("download") == 3
    claimed = store.claim("download", "w", lease_seconds=60, limit=1)

    assert [row.id for row in claimed] == [ready[-1]]
    kinds = ("UPDATE", "SELECT COUNT")
    claim_plan, count_plan = (_explain_sqlite(store, *statements.first(kind)) for kind in kinds)
    # The claim walks the partial index (claimable rows only, in claim order); the count may
    # as well look the claimable statuses up in ix_recordings_status: neither reads the history.
    assert f"SCAN recordings USING INDEX {INDEX}" in claim_plan, claim_plan
    assert "SEARCH recordings USING" in count_plan or INDEX in count_plan, count_plan
    for plan in (claim_plan, count_plan):
        assert not [line for line in plan.splitlines() if _full_scan(line)], plan
    store.dispose()


def test_ready_count_is_the_number_of_rows_ready_returns(store: RecordingStore) -> None:
    add_recording(store)
    add_recording(store, status=S.DOWNLOADED)
    add_recording(store, status=S.PROCESSED)
    add_recording(store, status=S.UPLOADED)
    add_recording(store, status=S.SKIPPED, status_reason="too short")
    failed = add_recording(store, status=S.FAILED)
    add_recording(store, not_before=datetime.now(UTC) + timedelta(hours=1))

    for stage in ("download", "process", "upload"):
        assert store.ready_count(stage) == len(store.ready(stage)), stage
    assert store.ready_count("download") == 2  # INITIALIZED, and FAILED there with attempts left
    assert store.ready_count("download", ids=[failed.id]) == 1
    assert store.ready_count("download", max_attempts=0) == 1


def test_pages_go_newest_first_a_page_at_a_time_ties_by_id(store: RecordingStore) -> None:
    noon = datetime(2026, 11, 20, 12, tzinfo=UTC)
    rows = [add_recording(store, start_time=noon) for _ in range(5)]
    rows += [add_recording(store, start_time=noon - timedelta(hours=n)) for n in (2, 1)]
    rows.append(add_recording(store, start_time=noon + timedelta(hours=1)))
    newest_first = [r.id for r in sorted(rows, key=lambda r: (r.start_time, r.id), reverse=True)]

    pages = list(store.pages(size=2))

    assert [len(page) for page in pages] == [2, 2, 2, 2]
    assert [r.id for page in pages for r in page] == newest_first
    assert [r.id for page in store.pages(size=3, limit=4) for r in page] == newest_first[:4]
    at_noon = store.pages(since=noon, until=noon + timedelta(minutes=1), size=2)
    assert [r.id for page in at_noon for r in page] == sorted(
        (r.id for r in rows[:5]), reverse=True
    )
    assert list(store.pages(since=noon + timedelta(days=1))) == []


def test_a_deep_page_reads_the_start_time_index_not_the_table_on_postgres(
    postgres_store: RecordingStore,
) -> None:
    store = postgres_store
    _history_with_ready_rows(store, FILL_POSTGRES)
    _analyze(store)
    statements = Statements(store)

    pages = store.pages(size=100)
    first, second = next(pages), next(pages)

    assert first[0].start_time > first[-1].start_time >= second[0].start_time
    keyset = [s for s in statements.seen if "FROM recordings" in s[0] and "<=" in s[0]]
    plan = _explain_postgres(store, *keyset[0])
    assert "Index Scan Backward using ix_recordings_start_time on recordings" in plan, plan
    assert "Seq Scan on recordings" not in plan, plan


# The history as a daily `clean` and `free-zoom` leave it: expired, Zoom copy freed, published.
SETTLED_POSTGRES = """
UPDATE recordings SET status = 'EXPIRED', zoom_cleanup = 'trash';
INSERT INTO publications (recording_id, platform, status, bytes_confirmed, thumbnail_done,
    collection_done, caption_done, attempts, created_at, updated_at)
SELECT id, 'youtube', 'UPLOADED', 0, true, true, true, 1, start_time, start_time FROM recordings;
"""


def add_backlogs(
    store: RecordingStore, day: datetime, published: int
) -> tuple[list[Recording], Recording]:
    """`published` rows uploaded to YouTube (due for clean and free-zoom) and one processed row
    whose YouTube upload waits for the quota, all recorded on `day`."""
    publications = PublicationStore(store)
    uploaded = [add_recording(store, status=S.UPLOADED, start_time=day) for _ in range(published)]
    for row in uploaded:
        publications.get_or_create(row.id, Platform.YOUTUBE)
        publications.update(row.id, Platform.YOUTUBE, status=PlatformStatus.UPLOADED)
    waiting = add_recording(store, status=S.PROCESSED, start_time=day)
    publications.get_or_create(waiting.id, Platform.YOUTUBE)
    publications.mark_waiting(waiting.id, Platform.YOUTUBE, day, "quota used up")
    return uploaded, waiting


def test_housekeeping_backlogs_read_their_partial_indexes_on_postgres(
    postgres_store: RecordingStore,
) -> None:
    """`clean`, `free-zoom` and the quota alert read what is due, not the settled history."""
    store = postgres_store
    with store.engine.begin() as connection:
        connection.execute(text(FILL_POSTGRES), {"n": FINISHED})
        connection.exec_driver_sql(SETTLED_POSTGRES)
    day = datetime(2026, 11, 1, 9, tzinfo=UTC)
    uploaded, waiting = add_backlogs(store, day, published=3)
    with store.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("ANALYZE recordings, publications")
        )
    statements = Statements(store)

    expirable = [r.id for page in expirable_pages(store, day + timedelta(days=1)) for r in page]
    due = [r.id for page in zoom_due_pages(store) for r in page]
    waits = quota_waits(store, datetime.now(UTC) + timedelta(days=1))

    assert expirable == due == [r.id for r in uploaded]
    assert waits.count == 1 and [r.id for r, _ in waits.oldest] == [waiting.id]
    reads = [s for s in statements.seen if s[0].lstrip().upper().startswith("SELECT")]
    # With few finished rows the planner may as well look UPLOADED and SKIPPED up in
    # ix_recordings_status and sort them: neither reads the expired history.
    expirable_scan = "Index Cond: ((status)::text = ANY ('{UPLOADED,SKIPPED}'"
    plans = [
        (("ix_recordings_expirable", expirable_scan), reads[0]),
        (("ix_recordings_zoom_due",), reads[1]),
        (("ix_publications_waiting",), reads[3]),  # after zoom_due's publications: the count
        (("ix_publications_waiting",), reads[4]),  # and the oldest waits
    ]
    for accepted, statement in plans:
        plan = _explain_postgres(store, *statement)
        assert any(term in plan for term in accepted), plan
        assert "Seq Scan" not in plan, plan


def test_housekeeping_backlogs_read_their_partial_indexes_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    RecordingStore(url).upgrade()
    store = RecordingStore.open(url)
    with store.engine.begin() as connection:
        connection.execute(text(FILL_SQLITE), {"n": FINISHED})
        for statement in SETTLED_POSTGRES.split(";")[:2]:  # the same SQL holds on SQLite
            connection.execute(text(statement))
    day = datetime(2026, 11, 1, 9, tzinfo=UTC)
    (uploaded,), _ = add_backlogs(store, day, published=1)
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    statements = Statements(store)

    assert [r.id for p in expirable_pages(store, day + timedelta(days=1)) for r in p] == [
        uploaded.id
    ]
    assert [r.id for p in zoom_due_pages(store) for r in p] == [uploaded.id]
    assert quota_waits(store, datetime.now(UTC) + timedelta(days=1)).count == 1

    reads = [s for s in statements.seen if s[0].lstrip().upper().startswith("SELECT")]
    indexes = ["ix_recordings_expirable", "ix_recordings_zoom_due", None, "ix_publications_waiting"]
    for index, statement in zip(indexes, reads, strict=False):
        if index is None:  # zoom_due's publications, by recording ID
            continue
        plan = _explain_sqlite(store, *statement)
        assert index in plan, plan
        # A SCAN walks the whole of what it names: only the partial index may be walked.
        scans = [line for line in plan.splitlines() if line.startswith("SCAN ")]
        assert all(f"USING INDEX {index}" in line for line in scans), plan
    store.dispose()
