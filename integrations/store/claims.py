"""Claims and leases: which worker holds a recording, until when, and how a row comes back
when its worker is gone.

A stage works on a recording only while it holds the row's claim (`claimed_by`) and its lease
(`claimed_until`): `claim` takes ready rows into the stage's working status in one short
transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: `BEGIN IMMEDIATE`), so two workers
never take the same row. A live run renews its leases (`renew`, flows/engine.py's heartbeat)
and its storage's life (`touch_storage`). A run that ends gives its rows back (`release`); a
killed run's rows come back when their lease runs out (`recover`), and the unfinished rows of a
storage no run keeps alive are downloaded again by another (`takeover`). Every row moved here
goes to a status `states.py` allows, by `apply_status`.

Leases are written and compared in the database's time (`LeaseClock`), so machines whose own
clocks disagree still agree on whose lease ran out.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, selectinload

from integrations.store.database import StoreConnection, upsert
from integrations.store.models import CLAIMABLE, Recording, Storage, UTCDateTime, utcnow
from integrations.store.states import (
    MEDIA_STAGES,
    STABLE_RESTART_POINTS,
    STAGES,
    WORKING,
    PlatformStatus,
    ProcessingStatus,
    check_transition,
    restart_point,
)

S = ProcessingStatus
STAGE_OUTPUTS = frozenset(output for _, _, output in STAGES.values())


@dataclass
class LeaseClock:
    """The time leases are written in and compared with.

    On PostgreSQL it is the database server's (`now()`, inside the statement): every machine
    sharing the store measures leases with that one clock, so a worker whose own clock runs
    ahead cannot take a live run's rows, nor one whose clock lags keep a dead run's. On SQLite
    the store is a file on one machine and its clock is this machine's.

    `shift` moves the clock ahead, for tests: a lease runs out without anybody waiting for it.
    """

    shift: timedelta = timedelta(0)

    def now(self, dialect: str, plus_seconds: float = 0) -> ColumnElement[datetime]:
        """Now (and `plus_seconds`), as SQL for `dialect`."""
        ahead = self.shift + timedelta(seconds=plus_seconds)
        if dialect == "postgresql":
            return func.now() + ahead if ahead else func.now()
        return at(utcnow() + ahead)

    def advance(self, seconds: float) -> None:
        self.shift += timedelta(seconds=seconds)


def at(moment: datetime) -> ColumnElement[datetime]:
    """A given time as SQL (a bound parameter, stored as the store keeps times)."""
    return literal(moment, UTCDateTime())


@dataclass(frozen=True)
class StatusChange:
    """One row moved by `recover`, `release`, `reset` or `takeover`, for reports."""

    recording_id: int
    before: ProcessingStatus
    after: ProcessingStatus
    reason: str | None = None


class ClaimStore(StoreConnection):
    """The claims and leases of the `recordings` table (`RecordingStore` adds the rest).

    `now=` on a method pins the time it works in (tests); otherwise it is the `clock`'s.
    """

    def __init__(self, url: str, clock: LeaseClock | None = None) -> None:
        super().__init__(url)
        self.clock = clock or LeaseClock()

    def _now(self, now: datetime | None = None, plus_seconds: float = 0) -> ColumnElement[datetime]:
        if now is not None:
            return at(now + timedelta(seconds=plus_seconds))
        return self.clock.now(self.dialect, plus_seconds)

    def claim(
        self,
        stage: str,
        worker: str,
        *,
        lease_seconds: int,
        storage: str | None = None,
        ids: Sequence[int] | None = None,
        exclude: Iterable[int] = (),
        limit: int | None = None,
        max_attempts: int = 3,
        now: datetime | None = None,
    ) -> builtins.list[Recording]:
        """Atomically take up to `limit` rows ready for `stage` and put them in its working status.

        Ready means the stage's input status, or FAILED there with attempts left, and not deferred
        (`not_before` in the future). Rows held by another worker are never returned. With
        `storage` (the claiming worker's), process and upload take only rows whose media is on
        that storage or has no storage recorded; downloads are open to every storage, and a
        row claimed for download is on the claimer's storage from then on.
        """
        _, working, _ = STAGES[stage]
        started = self._now(now)
        candidates = self._ready_query(stage, started, ids, exclude, max_attempts, storage)
        if limit is not None:
            candidates = candidates.limit(limit)
        candidates = candidates.with_for_update(skip_locked=True)
        located = {"storage": storage} if storage is not None and stage not in MEDIA_STAGES else {}
        with self.session() as session:
            claimed = session.scalars(
                update(Recording)
                .where(Recording.id.in_(candidates.scalar_subquery()))
                .values(
                    status=working,
                    status_reason=None,
                    claimed_by=worker,
                    claimed_until=self._now(now, lease_seconds),
                    attempts=Recording.attempts + 1,
                    status_changed_at=started,
                    updated_at=started,
                    **located,
                )
                .returning(Recording.id)
            ).all()
            return _rows(session, claimed)

    def ready(
        self,
        stage: str,
        ids: Sequence[int] | None = None,
        max_attempts: int = 3,
        storage: str | None = None,
    ) -> builtins.list[Recording]:
        """The rows `claim` would take for `stage` now, without taking them (dry runs)."""
        ready = self._ready_query(stage, self._now(), ids, (), max_attempts, storage)
        query = (
            select(Recording)
            .where(Recording.id.in_(ready.order_by(None).scalar_subquery()))
            .options(selectinload(Recording.publications))
            .order_by(Recording.start_time, Recording.id)
        )
        with self.session() as session:  # one query, however many are ready (no ID list)
            return list(session.scalars(query))

    def ready_count(
        self,
        stage: str,
        ids: Sequence[int] | None = None,
        max_attempts: int = 3,
        storage: str | None = None,
    ) -> int:
        """How many rows `ready` would return, counted by the database (no rows loaded)."""
        ready = self._ready_query(stage, self._now(), ids, (), max_attempts, storage)
        with self.session() as session:
            query = select(func.count()).select_from(ready.order_by(None).subquery())
            return session.scalar(query) or 0

    def ahead_of_upload(
        self, storage: str, ids: Sequence[int] | None = None, now: datetime | None = None
    ) -> int:
        """How many recordings (of `ids`, default all) on `storage` are being downloaded, wait
        for or are in the cut, or wait for an upload slot; one parked until a quota resets is
        not counted."""
        ahead = [S.DOWNLOADING, S.DOWNLOADED, S.PROCESSING, S.PROCESSED]
        query = select(func.count()).where(
            Recording.status.in_(ahead), Recording.storage == storage, _due(self._now(now))
        )
        if ids is not None:
            query = query.where(Recording.id.in_(list(ids)))
        with self.session() as session:
            return session.scalar(query) or 0

    @staticmethod
    def _ready_query(
        stage: str,
        now: ColumnElement[datetime],
        ids: Sequence[int] | None,
        exclude: Iterable[int],
        max_attempts: int,
        storage: str | None = None,
    ) -> Select[Any]:
        """IDs ready for `stage`: its input status, or FAILED there with attempts left; due;
        for a stage that reads media and a given `storage`, only rows on it or on none."""
        input_status = STAGES[stage][0]
        ready = or_(
            Recording.status == input_status,
            and_(
                Recording.status == S.FAILED,
                Recording.last_good_status == input_status,
                Recording.attempts < max_attempts,
            ),
        )
        # Implied by `ready`, and spelled as ix_recordings_claimable's WHERE (literals, not bound
        # parameters) so that the planner reads that index: claimable rows in claim order, not
        # the finished history. tests/test_store_scale.py checks the plans.
        claimable = Recording.status.in_([literal_column(f"'{s.value}'") for s in CLAIMABLE])
        query = (
            select(Recording.id)
            .where(claimable, ready, _due(now))
            .order_by(Recording.start_time, Recording.id)
        )
        if storage is not None and stage in MEDIA_STAGES:
            # A filter on the claimable rows the index yields: other storages' ready rows are
            # passed over, the finished history is still never read.
            query = query.where(or_(Recording.storage.is_(None), Recording.storage == storage))
        if ids is not None:
            query = query.where(Recording.id.in_(list(ids)))
        if excluded := list(exclude):
            query = query.where(Recording.id.not_in(excluded))
        return query

    def renew(self, worker: str, lease_seconds: int) -> int:
        """Extend every lease `worker` still holds (its heartbeat); returns how many."""
        with self.session() as session:
            result = session.execute(
                update(Recording)
                .where(Recording.claimed_by == worker, Recording.status.in_(list(WORKING)))
                .values(claimed_until=self._now(plus_seconds=lease_seconds))
            )
            return result.rowcount

    def touch_storage(
        self,
        storage: str,
        *,
        media_dir: str,
        host: str,
        lease_seconds: int,
        now: datetime | None = None,
    ) -> None:
        """Mark `storage` alive for `lease_seconds` more (a run works on it): every run does at
        its start and with each heartbeat. Its recordings are taken over once nobody does."""
        register = upsert(self.dialect, Storage).values(
            id=storage,
            media_dir=media_dir,
            host=host,
            alive_until=self._now(now, lease_seconds),
        )
        renew = {name: register.excluded[name] for name in ("media_dir", "host", "alive_until")}
        with self.session() as session:
            session.execute(register.on_conflict_do_update(index_elements=["id"], set_=renew))

    def takeover(
        self, storage: str, ids: Sequence[int] | None = None, now: datetime | None = None
    ) -> builtins.list[StatusChange]:
        """Send the unfinished recordings of storages nobody works on to a new download.

        Rows DOWNLOADED or PROCESSED (and due) whose media is on another storage that no run has
        renewed (`touch_storage`) go back to INITIALIZED with no storage and no paths: any worker
        downloads them again from Zoom, where the source stays until it is published; their
        unfinished uploads start over. A row whose Zoom source was already freed cannot be
        downloaded again: it is FAILED with a reason that asks a person for its storage.
        With `ids`, only those rows (a run limited to them takes over nothing else).
        """
        moment = self._now(now)
        alive = select(Storage.id).where(Storage.alive_until >= moment)
        stranded = and_(
            Recording.status.in_([S.DOWNLOADED, S.PROCESSED]),
            Recording.storage.is_not(None),
            Recording.storage != storage,
            Recording.storage.not_in(alive),
            _due(moment),
        )
        if ids is not None:
            stranded = and_(stranded, Recording.id.in_(list(ids)))
        changes: builtins.list[StatusChange] = []
        with self.session() as session:
            rows = session.scalars(
                select(Recording).where(stranded).with_for_update(skip_locked=True)
            ).all()
            gone = {row.storage for row in rows}
            last_seen = {
                found.id: found.alive_until
                for found in session.scalars(select(Storage).where(Storage.id.in_(gone)))
            }
            for row in rows:
                since = last_seen.get(row.storage or "")
                where = f"storage {row.storage} (no run alive there since {_minute(since)})"
                if row.zoom_cleanup:
                    target = S.FAILED
                    reason = (
                        f"needs a person: its media is only on {where} and its Zoom recording "
                        f"was already freed ({row.zoom_cleanup}); start a worker on that storage "
                        "again to finish it"
                    )
                    fields: dict[str, Any] = {}
                else:
                    target = S.INITIALIZED
                    reason = f"taken over from {where}: downloading it again from Zoom"
                    fields = {
                        "storage": None,
                        "source_path": None,
                        "processed_path": None,
                        "attempts": 0,
                    }
                    _restart_uploads(row)
                check_transition(row.id, row.status, target)
                changes.append(StatusChange(row.id, row.status, target, reason))
                apply_status(row, target, reason, fields)
        return changes

    def recover(self, now: datetime | None = None) -> builtins.list[StatusChange]:
        """Return rows whose lease ran out (a crashed or killed run) to their last good status."""
        expired = and_(Recording.status.in_(WORKING), Recording.claimed_until < self._now(now))
        return self._release(expired, "lease expired; recovered")

    def release(self, worker: str) -> builtins.list[StatusChange]:
        """Return every row `worker` still holds to its last good status (a run ending early)."""
        held = and_(Recording.status.in_(WORKING), Recording.claimed_by == worker)
        return self._release(held, f"released by {worker}")

    def reset(self, ids: Iterable[int] | None = None) -> builtins.list[StatusChange]:
        """Return FAILED and working (stuck) rows to their last good status, attempts cleared."""
        movable: ColumnElement[bool] = Recording.status.in_([S.FAILED, *WORKING])
        if ids is not None:
            movable = and_(movable, Recording.id.in_(list(ids)))
        return self._release(movable, "reset by user", clear_attempts=True)

    def _release(
        self, condition: ColumnElement[bool], reason: str, clear_attempts: bool = False
    ) -> builtins.list[StatusChange]:
        """Move the rows matching `condition` (working or FAILED ones) to their restart point."""
        changes: builtins.list[StatusChange] = []
        with self.session() as session:
            rows = session.scalars(
                select(Recording).where(condition).with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                target = restart_point(row.status, row.last_good_status)
                check_transition(row.id, row.status, target)
                changes.append(StatusChange(row.id, row.status, target))
                apply_status(row, target, reason, {})
                if clear_attempts:
                    row.attempts = 0
                _restart_uploads(row)
        return changes


def apply_status(
    row: Recording, target: ProcessingStatus, reason: str | None, fields: dict[str, Any]
) -> None:
    """Put a locked row, whose move to `target` was checked, in `target`: its time stamps, last
    good status and per-stage attempts follow, and a row leaving a working status leaves its
    claim."""
    now = utcnow()
    row.status = target
    row.status_reason = reason
    row.status_changed_at = now
    row.updated_at = now
    if target in STABLE_RESTART_POINTS:
        row.last_good_status = target
    if target in STAGE_OUTPUTS:
        row.attempts = 0  # attempts count per stage: the next stage starts afresh
    if target not in WORKING:
        row.claimed_by = None
        row.claimed_until = None
    for name, value in fields.items():
        setattr(row, name, value)


def _due(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    """Not deferred (`not_before`, e.g. until a quota resets) past `now`."""
    return or_(Recording.not_before.is_(None), Recording.not_before <= now)


def _restart_uploads(row: Recording) -> None:
    """Publications left mid-upload or failed go back to PENDING (tried again from the store)."""
    for publication in row.publications:
        if publication.status in (PlatformStatus.UPLOADING, PlatformStatus.FAILED):
            publication.status = PlatformStatus.PENDING


def _minute(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "ever"


def _rows(session: Session, ids: Sequence[int]) -> builtins.list[Recording]:
    """The recordings with these IDs, publications loaded, in pipeline order."""
    query = (
        select(Recording)
        .where(Recording.id.in_(list(ids)))
        .options(selectinload(Recording.publications))
        .order_by(Recording.start_time, Recording.id)
    )
    return list(session.scalars(query))
