"""The status store on SQLite and PostgreSQL: claims, leases, guarded transitions, recovery."""

from __future__ import annotations

import threading

import pytest
from factories import add_recording

from integrations.store.errors import StoreUnavailableError
from integrations.store.models import Recording, utcnow
from integrations.store.repository import LostClaimError, RecordingStore
from integrations.store.states import IllegalTransitionError, ProcessingStatus

S = ProcessingStatus


def test_claim_moves_ready_rows_into_the_working_status(store: RecordingStore) -> None:
    ready = [add_recording(store) for _ in range(3)]
    add_recording(store, status=S.SKIPPED, status_reason="too short")

    claimed = store.claim("download", "worker-a", lease_seconds=60)

    assert [r.id for r in claimed] == [r.id for r in ready]
    for row in claimed:
        assert row.status == S.DOWNLOADING
        assert row.claimed_by == "worker-a"
        assert row.claimed_until > utcnow()
        assert row.attempts == 1
    assert store.claim("download", "worker-b", lease_seconds=60) == []


def test_claim_respects_ids_and_limit(store: RecordingStore) -> None:
    rows = [add_recording(store) for _ in range(4)]
    claimed = store.claim("download", "w", lease_seconds=60, ids=[rows[3].id, rows[1].id])
    assert sorted(r.id for r in claimed) == sorted([rows[1].id, rows[3].id])
    assert len(store.claim("download", "w", lease_seconds=60, limit=1)) == 1


def test_finished_work_leaves_the_claim(store: RecordingStore) -> None:
    row = add_recording(store)
    store.claim("download", "w", lease_seconds=60)
    done = store.transition(row.id, S.DOWNLOADED, worker="w", source_path="/m/1.mp4")
    assert done.status == S.DOWNLOADED
    assert done.last_good_status == S.DOWNLOADED
    assert done.claimed_by is None and done.claimed_until is None
    assert store.get(row.id).source_path == "/m/1.mp4"


def test_illegal_transition_raises_and_changes_nothing(store: RecordingStore) -> None:
    row = add_recording(store)
    with pytest.raises(IllegalTransitionError):
        store.transition(row.id, S.UPLOADED)
    assert store.get(row.id).status == S.INITIALIZED


def test_a_worker_cannot_finish_a_row_it_does_not_hold(store: RecordingStore) -> None:
    row = add_recording(store)
    store.claim("download", "w1", lease_seconds=60)
    with pytest.raises(LostClaimError, match="no longer claimed by w2"):
        store.transition(row.id, S.DOWNLOADED, worker="w2")
    assert store.get(row.id).status == S.DOWNLOADING


def test_expired_lease_is_recovered_to_the_last_good_status(store: RecordingStore) -> None:
    crashed = add_recording(store)
    alive = add_recording(store)
    store.claim("download", "crashed-run", lease_seconds=60, ids=[crashed.id])
    store.claim("download", "live-run", lease_seconds=3600, ids=[alive.id])

    store.clock.advance(120)
    changes = store.recover()

    assert [(c.recording_id, c.before, c.after) for c in changes] == [
        (crashed.id, S.DOWNLOADING, S.INITIALIZED)
    ]
    recovered = store.get(crashed.id)
    assert recovered.status == S.INITIALIZED and recovered.claimed_by is None
    assert store.get(alive.id).status == S.DOWNLOADING
    with pytest.raises(LostClaimError):  # the crashed run can no longer write
        store.transition(crashed.id, S.DOWNLOADED, worker="crashed-run")
    assert [r.id for r in store.claim("download", "next-run", lease_seconds=60)] == [crashed.id]


def test_recover_ignores_live_leases(store: RecordingStore) -> None:
    add_recording(store)
    store.claim("download", "w", lease_seconds=600)
    assert store.recover() == []


def test_release_returns_only_this_workers_rows(store: RecordingStore) -> None:
    mine, theirs = add_recording(store), add_recording(store)
    store.claim("download", "me", lease_seconds=600, ids=[mine.id])
    store.claim("download", "them", lease_seconds=600, ids=[theirs.id])
    assert [c.recording_id for c in store.release("me")] == [mine.id]
    assert store.get(theirs.id).status == S.DOWNLOADING


def test_failed_row_is_retried_until_attempts_run_out(store: RecordingStore) -> None:
    row = add_recording(store)
    for attempt in range(1, 4):
        claimed = store.claim("download", "w", lease_seconds=60, max_attempts=3)
        assert [r.attempts for r in claimed] == [attempt]
        store.transition(row.id, S.FAILED, worker="w", reason="connection reset")
    assert store.claim("download", "w", lease_seconds=60, max_attempts=3) == []
    failed = store.get(row.id)
    assert (failed.status, failed.status_reason) == (S.FAILED, "connection reset")


def test_reset_returns_failed_and_stuck_rows_and_clears_attempts(store: RecordingStore) -> None:
    failed = add_recording(store)
    stuck = add_recording(store)
    done = add_recording(store)
    store.claim("download", "w", lease_seconds=600)
    store.transition(failed.id, S.DOWNLOADED, worker="w")
    store.claim("process", "w", lease_seconds=600, ids=[failed.id])
    store.transition(failed.id, S.FAILED, worker="w", reason="bad audio")
    store.transition(done.id, S.DOWNLOADED, worker="w")

    changes = {c.recording_id: (c.before, c.after) for c in store.reset()}

    assert changes == {
        failed.id: (S.FAILED, S.DOWNLOADED),
        stuck.id: (S.DOWNLOADING, S.INITIALIZED),
    }
    assert store.get(failed.id).attempts == 0
    assert store.get(done.id).status == S.DOWNLOADED


def _race(store_url: str, workers: int, per_claim: int) -> list[list[int]]:
    """Every worker claims at once, then each goes on once all hold their first batch: the
    first claims always race, whatever order the database's lock lets the rest run in."""
    start, first_held = threading.Barrier(workers), threading.Barrier(workers, timeout=60)
    results: list[list[int]] = [[] for _ in range(workers)]

    def claim(own: RecordingStore, index: int) -> list[Recording]:
        batch = own.claim("download", f"w{index}", lease_seconds=60, limit=per_claim)
        results[index].extend(r.id for r in batch)
        return batch

    def claim_all(index: int) -> None:
        own = RecordingStore(store_url)
        start.wait()
        claim(own, index)
        first_held.wait()
        while claim(own, index):
            pass
        own.dispose()

    threads = [threading.Thread(target=claim_all, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_claimers_never_get_the_same_row(store: RecordingStore) -> None:
    ids = {add_recording(store).id for _ in range(60)}
    results = _race(store.url, workers=4, per_claim=1)
    claimed = [rid for batch in results for rid in batch]
    assert len(claimed) == len(set(claimed)), "a row was claimed twice"
    assert set(claimed) == ids
    assert all(results), "a claimer got nothing while rows were waiting"


def test_schema_head_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from integrations.store.database import SCHEMA_HEAD, _alembic_config

    scripts = ScriptDirectory.from_config(_alembic_config("sqlite://"))
    assert scripts.get_heads() == [SCHEMA_HEAD], "a new migration: set SCHEMA_HEAD to it"


def test_init_db_upgrades_an_older_schema_keeping_rows(tmp_path) -> None:
    from alembic import command

    from integrations.store.database import SCHEMA_HEAD, _alembic_config, schema_revision

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(_alembic_config(url), "0001")
    old = RecordingStore(url)
    assert schema_revision(old.engine) == "0001"
    with pytest.raises(StoreUnavailableError, match="an older one: run `zoom-publisher init-db`"):
        RecordingStore.open(url)
    with old.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO recordings (account, zoom_uuid, zoom_meeting_id, topic, start_time,"
            " duration_min, total_size, video_files, status, last_good_status, attempts,"
            " created_at, updated_at, status_changed_at) VALUES ('a', 'u1', '1', 'kept',"
            " '2026-01-01 10:00:00', 60, 1, '[]', 'UPLOADED', 'PROCESSED', 0,"
            " '2026-01-01 10:00:00', '2026-01-01 10:00:00', '2026-01-01 10:00:00')"
        )
    old.dispose()

    assert RecordingStore(url).upgrade() == ("0001", SCHEMA_HEAD)

    upgraded = RecordingStore.open(url)
    (row,) = upgraded.list()
    assert (row.topic, row.status, row.zoom_cleanup) == ("kept", ProcessingStatus.UPLOADED, None)
    upgraded.dispose()
