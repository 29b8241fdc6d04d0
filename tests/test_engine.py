"""The stage scheduler (flows/engine.py) with a real Prefect API and status store."""

from __future__ import annotations

import logging
import time

import pytest
from factories import add_recording
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import OperationalError

from flows.engine import LeaseHeartbeat, RunReport, Stage, beat_seconds, run_stages
from integrations.store.models import utcnow
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus
from tasks.common import StageOutcome, run_claimed, worker_identity

S = ProcessingStatus
LINGER_SECONDS = 1.5


def _linger(*_: object) -> None:
    """Runs after the task's final state is in the API, before its thread returns."""
    time.sleep(LINGER_SECONDS)


@task(name="fetch-slowly-returning", cache_policy=NO_CACHE, on_completion=[_linger])
def fetch(recording_id: int, worker: str) -> object:
    return run_claimed("download", recording_id, worker, lambda row: StageOutcome())


@flow(name="scheduler-under-test")
def schedule(poll_seconds: float) -> RunReport:
    return run_stages([Stage("download", fetch, 2)], worker_identity(), poll_seconds=poll_seconds)


def test_a_task_final_in_the_api_but_still_returning_is_collected_once_it_returns(
    prefect_harness: None, store: RecordingStore
) -> None:
    """The scheduler polls often while the task's completion hook still runs: the API already
    calls the task Completed, but that state carries no result (the old `MissingResult`)."""
    rows = [add_recording(store, status=S.INITIALIZED) for _ in range(2)]

    report = schedule(poll_seconds=0.05)

    assert sorted(report.touched) == sorted(row.id for row in rows)
    assert report.busy_seconds["download"] >= 2 * LINGER_SECONDS
    assert {store.get(row.id).status for row in rows} == {S.DOWNLOADED}
    assert all(store.get(row.id).claimed_by is None for row in rows)


def _broken(row: object) -> StageOutcome:
    raise ValueError("the source is broken")


@task(name="fail-slowly-returning", cache_policy=NO_CACHE, on_failure=[_linger])
def fail(recording_id: int, worker: str) -> object:
    return run_claimed("download", recording_id, worker, _broken)


@flow(name="failing-scheduler-under-test")
def schedule_failures(poll_seconds: float) -> RunReport:
    return run_stages([Stage("download", fail, 2)], worker_identity(), poll_seconds=poll_seconds)


def test_a_row_failed_in_this_run_is_not_claimed_again_while_its_task_returns(
    prefect_harness: None, store: RecordingStore
) -> None:
    """The store has the row FAILED (attempts left) before its task's thread returns: the
    scheduler, polling often meanwhile, must not claim it again in the same run."""
    row = add_recording(store, status=S.INITIALIZED)

    schedule_failures(poll_seconds=0.05)

    failed = store.get(row.id)
    assert failed.status == S.FAILED and failed.attempts == 1
    assert "the source is broken" in (failed.status_reason or "")


class DroppingStore(RecordingStore):
    """A store whose first lease renewal fails as it does when the connection drops."""

    failures_left = 1

    def renew(self, worker: str, lease_seconds: int) -> int:
        if self.failures_left:
            self.failures_left -= 1
            dropped = ConnectionError("server closed the connection unexpectedly")
            raise OperationalError("UPDATE recordings", {}, dropped)
        return super().renew(worker, lease_seconds)


def test_the_heartbeat_outlives_a_failed_renewal(
    store: RecordingStore, caplog: pytest.LogCaptureFixture
) -> None:
    row = add_recording(store, status=S.INITIALIZED)
    store.claim("download", "worker-a", lease_seconds=3, ids=[row.id])
    flaky = DroppingStore(store.url, store.clock)  # one lease clock for both connections
    logger = logging.getLogger("test-heartbeat")
    heartbeat = LeaseHeartbeat(flaky, "worker-a", "storage-a", lease_seconds=3, logger=logger)

    for _ in range(4):  # the heartbeat thread's beats, a third of the lease apart
        heartbeat.beat()
        store.clock.advance(beat_seconds(3))

    # 4 s on: past the first lease, only the beats after the failed one can have kept it.
    assert store.recover() == []
    held = store.get(row.id)
    assert held.claimed_by == "worker-a" and held.claimed_until > utcnow() + store.clock.shift
    assert "Could not renew this run's leases (trying again): server closed" in caplog.text
    flaky.dispose()
