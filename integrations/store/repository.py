"""The status store's operations: claims with leases, guarded transitions, recovery and queries.

Every change of `recordings.status` goes through `check_transition`, and every claim is one
short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: `BEGIN IMMEDIATE`), so two
workers never take the same row and a crashed worker's rows come back when its lease runs out.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from typing import cast as cast_as

from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from integrations.store.database import (
    check_schema,
    create_store_engine,
    session_factory,
    transaction,
    upgrade_to_head,
    upsert,
)
from integrations.store.errors import LostClaimError, RecordingNotFoundError
from integrations.store.models import CLAIMABLE, Recording, Storage, utcnow
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
# Instances per sync transaction: one page of Zoom's list (300) fits; 500 rows of about 16
# columns stay far below PostgreSQL's 65,535 and SQLite's 32,766 bound parameters.
SYNC_BATCH = 500
LIST_PAGE = 500  # recordings per read when a caller goes through many (`list`, run reports)


@dataclass(frozen=True)
class SyncedInstance:
    """One Zoom meeting instance as a sync stores it: its `recordings` columns, and why a
    sync filter skips it (None: it passes)."""

    zoom_uuid: str
    values: dict[str, Any]
    skip: str | None = None


@dataclass(frozen=True)
class StatusChange:
    """One row moved by `recover`, `reset` or `takeover`, for reports."""

    recording_id: int
    before: ProcessingStatus
    after: ProcessingStatus
    reason: str | None = None


class RecordingStore:
    """All reads and writes of the `recordings` and `publications` tables."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        self._sessions = session_factory(self.engine)

    @classmethod
    def open(cls, url: str) -> RecordingStore:
        """A store whose schema is known to be current (else a clear `StoreUnavailableError`)."""
        store = cls(url)
        try:
            check_schema(store.engine)
        except Exception:
            store.dispose()
            raise
        return store

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self) -> tuple[str | None, str]:
        return upgrade_to_head(self.url)

    def dispose(self) -> None:
        self.engine.dispose()

    def session(self):
        """A transaction: commits on success, rolls back on error."""
        return transaction(self._sessions)

    # -- reads -------------------------------------------------------------------------------

    def get(self, recording_id: int) -> Recording:
        with self.session() as session:
            row = session.get(
                Recording, recording_id, options=[selectinload(Recording.publications)]
            )
            if row is None:
                raise RecordingNotFoundError(f"no recording with ID {recording_id}")
            return row

    def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        ids: Iterable[int] | None = None,
        statuses: Iterable[ProcessingStatus] | None = None,
    ) -> builtins.list[Recording]:
        """Recordings ordered by start time, with their publications loaded."""
        query = select(Recording).options(selectinload(Recording.publications))
        if since is not None:
            query = query.where(Recording.start_time >= since)
        if until is not None:
            query = query.where(Recording.start_time < until)
        if ids is not None:
            query = query.where(Recording.id.in_(list(ids)))
        if statuses is not None:
            query = query.where(Recording.status.in_(list(statuses)))
        with self.session() as session:
            return list(session.scalars(query.order_by(Recording.start_time, Recording.id)))

    def pages(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        size: int = LIST_PAGE,
    ) -> Iterator[builtins.list[Recording]]:
        """Recordings newest first (start time, then ID), with their publications, `size` at a
        time and at most `limit`.

        Each page is one short read that starts after the last row of the page before (keyset
        paging), so a page costs the same at the top of the table as deep in its history, and
        the caller holds one page at a time.
        """
        query = select(Recording).options(selectinload(Recording.publications))
        if since is not None:
            query = query.where(Recording.start_time >= since)
        if until is not None:
            query = query.where(Recording.start_time < until)
        first = query.order_by(Recording.start_time.desc(), Recording.id.desc())
        page_query, left = first, limit
        while left is None or left > 0:
            take = size if left is None else min(size, left)
            with self.session() as session:
                page = list(session.scalars(page_query.limit(take)))
            if page:
                yield page
            if len(page) < take:
                return
            last = page[-1]
            page_query = first.where(
                Recording.start_time <= last.start_time,
                or_(Recording.start_time < last.start_time, Recording.id < last.id),
            )
            if left is not None:
                left -= take

    def status_counts(self, ids: Iterable[int]) -> dict[ProcessingStatus, int]:
        """How many of these recordings are in each status, counted by the database."""
        counts: dict[ProcessingStatus, int] = {}
        wanted = list(ids)
        with self.session() as session:
            for start in range(0, len(wanted), LIST_PAGE):
                query = (
                    select(Recording.status, func.count())
                    .where(Recording.id.in_(wanted[start : start + LIST_PAGE]))
                    .group_by(Recording.status)
                )
                for status, count in session.execute(query):
                    counts[status] = counts.get(status, 0) + count
        return counts

    def by_uuid(self, zoom_uuid: str) -> Recording | None:
        """The recording of one Zoom meeting instance, if stored."""
        with self.session() as session:
            query = select(Recording).where(Recording.zoom_uuid == zoom_uuid)
            return session.scalars(query).one_or_none()

    def missing_ids(self, ids: Iterable[int]) -> builtins.list[int]:
        wanted = set(ids)
        with self.session() as session:
            found = set(session.scalars(select(Recording.id).where(Recording.id.in_(wanted))))
        return sorted(wanted - found)

    # -- writes ------------------------------------------------------------------------------

    def add(self, **fields: Any) -> Recording:
        """Insert a recording (status INITIALIZED unless given)."""
        status = fields.pop("status", S.INITIALIZED)
        row = Recording(status=status, last_good_status=_last_good(status, S.INITIALIZED), **fields)
        with self.session() as session:
            session.add(row)
        return row

    def upsert_synced(self, zoom_uuid: str, values: dict[str, Any], skip: str | None) -> str:
        """Store one meeting instance (a webhook's event); "added", "updated" or "unchanged"."""
        return self.store_synced([SyncedInstance(zoom_uuid, values, skip)])[0]

    def store_synced(
        self, instances: Sequence[SyncedInstance], preview: bool = False
    ) -> builtins.list[str]:
        """Store a page of a sync's meeting instances: each one's outcome ("added", "updated" or
        "unchanged"), in order; with `preview`, what would be done, changing nothing.

        One transaction per `SYNC_BATCH` instances: one read of the stored rows, one insert of
        the new ones (duplicates ignored), and locked row updates only for what Zoom changed;
        nothing is written for an unchanged recording. Metadata Zoom changed is updated. The
        status is only decided for rows that no stage has touched: new ones, and ones a sync
        filter skipped (re-checked, e.g. once Zoom finished processing). Rows in progress or
        done keep their status. An instance given twice is stored once (the first).
        """
        outcomes: dict[str, str] = {}
        for start in range(0, len(instances), SYNC_BATCH):
            chunk: dict[str, SyncedInstance] = {}
            for item in instances[start : start + SYNC_BATCH]:
                if item.zoom_uuid not in outcomes:
                    chunk.setdefault(item.zoom_uuid, item)
            outcomes.update(self._store_synced(list(chunk.values()), preview))
        return [outcomes[item.zoom_uuid] for item in instances]

    def _store_synced(self, chunk: builtins.list[SyncedInstance], preview: bool) -> dict[str, str]:
        names = dict.fromkeys(name for item in chunk for name in item.values)
        columns = [getattr(Recording, name) for name in names]
        seen = (Recording.zoom_uuid, Recording.status, Recording.status_reason)
        read = select(*seen, Recording.last_good_status, *columns).where(
            self._uuid_in(item.zoom_uuid for item in chunk)
        )
        with self.session() as session:
            stored = {row.zoom_uuid: row for row in session.execute(read)}
            outcomes = {
                item.zoom_uuid: _sync_outcome(stored.get(item.zoom_uuid), item) for item in chunk
            }
            if preview:
                return outcomes
            new = [item for item in chunk if item.zoom_uuid not in stored]
            added = self._insert_synced(session, new) if new else set()
            # Changed rows, and new ones another sync (or the webhook) stored first, are read
            # again under a row lock and updated as they are now.
            redo = {i.zoom_uuid: i for i in chunk if outcomes[i.zoom_uuid] == "updated"}
            redo |= {i.zoom_uuid: i for i in new if i.zoom_uuid not in added}
            if redo:
                locked = select(Recording).where(self._uuid_in(redo)).with_for_update()
                for row in session.scalars(locked):
                    outcomes[row.zoom_uuid] = _update_synced(row, redo[row.zoom_uuid])
            return outcomes

    def _insert_synced(self, session: Session, new: builtins.list[SyncedInstance]) -> set[str]:
        """Insert new instances in one statement; returns the UUIDs that were not there yet."""
        now = utcnow()
        rows = [
            {
                "zoom_uuid": item.zoom_uuid,
                "status": S.SKIPPED if item.skip else S.INITIALIZED,
                "last_good_status": S.INITIALIZED,
                "status_reason": item.skip,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
                "status_changed_at": now,
                **item.values,
            }
            for item in new
        ]
        table = cast_as(Table, Recording.__table__)
        if self.dialect == "postgresql":
            names, recordset = _json_recordset(rows)
            from_json = (
                postgresql_insert(table)
                .from_select(names, recordset)
                .on_conflict_do_nothing(index_elements=[table.c.zoom_uuid])
                .returning(table.c.zoom_uuid)
            )
            return set(session.scalars(from_json))
        # SQLite: compiled once; SQLAlchemy sends the rows as one multi-row VALUES statement.
        values = (
            sqlite_insert(table)
            .on_conflict_do_nothing(index_elements=[table.c.zoom_uuid])
            .returning(table.c.zoom_uuid)
        )
        return set(session.execute(values, rows).scalars())

    def _uuid_in(self, uuids: Iterable[str]):
        """`zoom_uuid` is one of `uuids`: on PostgreSQL one array parameter (a short statement
        the driver parses once, not a list of 500 placeholders parsed on every call)."""
        wanted = list(uuids)
        if self.dialect == "postgresql":
            return Recording.zoom_uuid == any_(bindparam("uuids", wanted, type_=ARRAY(String)))
        return Recording.zoom_uuid.in_(wanted)

    def transition(
        self,
        recording_id: int,
        target: ProcessingStatus,
        *,
        reason: str | None = None,
        worker: str | None = None,
        **fields: Any,
    ) -> Recording:
        """Move one row to `target` (checked); with `worker`, only while it holds the claim."""
        with self.session() as session:
            row = session.get(Recording, recording_id, with_for_update=True)
            if row is None:
                raise RecordingNotFoundError(f"no recording with ID {recording_id}")
            if worker is not None and (row.claimed_by != worker or row.status not in WORKING):
                raise LostClaimError(
                    f"recording {recording_id} is no longer claimed by {worker} "
                    f"(status {row.status}, claimed by {row.claimed_by or 'nobody'})"
                )
            check_transition(recording_id, row.status, target)
            _apply(row, target, reason, fields)
            return row

    def update_fields(self, recording_id: int, worker: str | None = None, **fields: Any) -> None:
        """Change non-status columns (e.g. paths, metadata); with `worker`, only under its claim."""
        query = update(Recording).where(Recording.id == recording_id)
        if worker is not None:
            query = query.where(Recording.claimed_by == worker)
        with self.session() as session:
            if session.execute(query.values(**fields)).rowcount == 0:
                raise LostClaimError(f"recording {recording_id} is not claimed by {worker}")

    # -- claims ------------------------------------------------------------------------------

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
        now = now or utcnow()
        candidates = self._ready_query(stage, now, ids, exclude, max_attempts, storage)
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
                    claimed_until=now + timedelta(seconds=lease_seconds),
                    attempts=Recording.attempts + 1,
                    status_changed_at=now,
                    updated_at=now,
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
        ready = self._ready_query(stage, utcnow(), ids, (), max_attempts, storage)
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
        ready = self._ready_query(stage, utcnow(), ids, (), max_attempts, storage).order_by(None)
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(ready.subquery())) or 0

    def ahead_of_upload(
        self, storage: str, ids: Sequence[int] | None = None, now: datetime | None = None
    ) -> int:
        """How many recordings (of `ids`, default all) on `storage` are being downloaded, wait
        for or are in the cut, or wait for an upload slot; one parked until a quota resets is
        not counted."""
        now = now or utcnow()
        ahead = [S.DOWNLOADING, S.DOWNLOADED, S.PROCESSING, S.PROCESSED]
        query = select(func.count()).where(
            Recording.status.in_(ahead),
            Recording.storage == storage,
            or_(Recording.not_before.is_(None), Recording.not_before <= now),
        )
        if ids is not None:
            query = query.where(Recording.id.in_(list(ids)))
        with self.session() as session:
            return session.scalar(query) or 0

    @staticmethod
    def _ready_query(
        stage: str,
        now: datetime,
        ids: Sequence[int] | None,
        exclude: Iterable[int],
        max_attempts: int,
        storage: str | None = None,
    ):
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
        due = or_(Recording.not_before.is_(None), Recording.not_before <= now)
        # Implied by `ready`, and spelled as ix_recordings_claimable's WHERE (literals, not bound
        # parameters) so that the planner reads that index: claimable rows in claim order, not
        # the finished history. tests/test_store_scale.py checks the plans.
        claimable = Recording.status.in_([literal_column(f"'{s.value}'") for s in CLAIMABLE])
        query = (
            select(Recording.id)
            .where(claimable, ready, due)
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

    def preview_synced(self, zoom_uuid: str, values: dict[str, Any], skip: str | None) -> str:
        """What `upsert_synced` would do ("added", "updated", "unchanged"), changing nothing."""
        return self.store_synced([SyncedInstance(zoom_uuid, values, skip)], preview=True)[0]

    def renew(self, worker: str, lease_seconds: int) -> int:
        """Extend every lease `worker` still holds (its heartbeat); returns how many."""
        now = utcnow()
        with self.session() as session:
            result = session.execute(
                update(Recording)
                .where(Recording.claimed_by == worker, Recording.status.in_(list(WORKING)))
                .values(claimed_until=now + timedelta(seconds=lease_seconds))
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
            alive_until=(now or utcnow()) + timedelta(seconds=lease_seconds),
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
        now = now or utcnow()
        alive = select(Storage.id).where(Storage.alive_until >= now)
        stranded = and_(
            Recording.status.in_([S.DOWNLOADED, S.PROCESSED]),
            Recording.storage.is_not(None),
            Recording.storage != storage,
            Recording.storage.not_in(alive),
            or_(Recording.not_before.is_(None), Recording.not_before <= now),
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
                _apply(row, target, reason, fields)
        return changes

    def recover(self, now: datetime | None = None) -> builtins.list[StatusChange]:
        """Return rows whose lease ran out (a crashed or killed run) to their last good status."""
        expired = and_(Recording.status.in_(WORKING), Recording.claimed_until < (now or utcnow()))
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
                _apply(row, target, reason, {})
                if clear_attempts:
                    row.attempts = 0
                _restart_uploads(row)
        return changes


def _restart_uploads(row: Recording) -> None:
    """Publications left mid-upload or failed go back to PENDING (tried again from the store)."""
    for publication in row.publications:
        if publication.status in (PlatformStatus.UPLOADING, PlatformStatus.FAILED):
            publication.status = PlatformStatus.PENDING


def _minute(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "ever"


def _rows(session: Session, ids: Sequence[int]) -> list[Recording]:
    """The recordings with these IDs, publications loaded, in pipeline order."""
    query = (
        select(Recording)
        .where(Recording.id.in_(list(ids)))
        .options(selectinload(Recording.publications))
        .order_by(Recording.start_time, Recording.id)
    )
    return list(session.scalars(query))


def _sync_changes(
    row: Any, values: dict[str, Any], skip: str | None
) -> tuple[dict[str, Any], ProcessingStatus | None]:
    """A sync's effect on a stored row (a `Recording` or a row of its columns): the changed
    columns, and the status to move it to (only for rows no stage has touched: INITIALIZED, or
    SKIPPED by a sync filter)."""
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    untouched = row.status == S.INITIALIZED or (
        row.status == S.SKIPPED and row.last_good_status == S.INITIALIZED
    )
    target = S.SKIPPED if skip else S.INITIALIZED
    if untouched and (row.status, row.status_reason) != (target, skip):
        return changed, target
    return changed, None


def _json_recordset(rows: list[dict[str, Any]]) -> tuple[list[str], Select]:
    """`rows` as `recordings` rows that PostgreSQL makes from one JSON parameter
    (`json_populate_recordset`): the statement stays short however many rows there are, where a
    VALUES list of 16 parameters a row cost the driver more CPU than the rest of a sync."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    payload = bindparam("rows", json.dumps(rows, default=_json_value), type_=Text)
    recordset = func.json_populate_recordset(
        literal_column("NULL::recordings"), cast(payload, JSON)
    ).table_valued(*names)
    return names, select(*(recordset.c[name] for name in names))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not stored by a sync")


def _sync_outcome(row: Any, item: SyncedInstance) -> str:
    """What storing `item` does to the stored `row` (None: not stored yet)."""
    if row is None:
        return "added"
    changed, target = _sync_changes(row, item.values, item.skip)
    return "updated" if changed or target else "unchanged"


def _update_synced(row: Recording, item: SyncedInstance) -> str:
    """Apply a sync's changes to a locked row; "updated" or "unchanged"."""
    changed, target = _sync_changes(row, item.values, item.skip)
    for name, value in changed.items():
        setattr(row, name, value)
    if target is not None:
        if row.status != target:
            check_transition(row.id, row.status, target)
        _apply(row, target, item.skip, {})
    return "updated" if changed or target else "unchanged"


def _last_good(status: ProcessingStatus, fallback: ProcessingStatus) -> ProcessingStatus:
    return status if status in STABLE_RESTART_POINTS else fallback


def _apply(row: Recording, target: ProcessingStatus, reason: str | None, fields: dict) -> None:
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
