"""The status store: `RecordingStore`, its reads, what a sync stores, and guarded transitions.

Every change of `recordings.status` is checked against the state machine (states.py): here by
`transition` (a stage's work ending, with the worker's claim checked) and by a sync's update of
rows no stage has touched; claims, leases, recovery and takeover are in claims.py.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import cast as cast_as

from sqlalchemy import (
    JSON,
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

from integrations.store.claims import ClaimStore, LeaseClock, apply_status
from integrations.store.database import check_schema, upgrade_to_head
from integrations.store.errors import LostClaimError, RecordingNotFoundError
from integrations.store.models import Recording, utcnow
from integrations.store.states import (
    STABLE_RESTART_POINTS,
    WORKING,
    ProcessingStatus,
    check_transition,
)

S = ProcessingStatus
# Instances per sync transaction: one page of Zoom's list (300) fits; 500 rows of about 18
# columns stay far below PostgreSQL's 65,535 and SQLite's 32,766 bound parameters.
SYNC_BATCH = 500
LIST_PAGE = 500  # recordings per read when a caller goes through many (`list`, run reports)


@dataclass(frozen=True)
class SyncedInstance:
    """One Zoom meeting instance as a sync stores it: its `recordings` columns, why a sync
    filter skips it (None: it passes), and the digest of the listing they come from (None: not
    from a listing, e.g. a webhook's event)."""

    zoom_uuid: str
    values: dict[str, Any]
    skip: str | None = None
    digest: str | None = None


class RecordingStore(ClaimStore):
    """All reads and writes of the `recordings` and `publications` tables: the claims and
    leases (claims.py), and here the reads, syncs and guarded transitions."""

    @classmethod
    def open(cls, url: str, clock: LeaseClock | None = None) -> RecordingStore:
        """A store whose schema is known to be current (else a clear `StoreUnavailableError`)."""
        store = cls(url, clock)
        try:
            check_schema(store.engine)
        except Exception:
            store.dispose()
            raise
        return store

    def upgrade(self) -> tuple[str | None, str]:
        return upgrade_to_head(self.url)

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
        return self.keyset_pages(query, size=size, newest_first=True, limit=limit)

    def keyset_pages(
        self,
        query: Select,
        *,
        size: int = LIST_PAGE,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> Iterator[builtins.list[Recording]]:
        """`query`'s recordings in (start time, ID) order, `size` at a time and at most `limit`,
        each page one short read after the last row of the page before (keyset paging: rows
        that change meanwhile do not shift the next page)."""
        if newest_first:
            first = query.order_by(Recording.start_time.desc(), Recording.id.desc())
        else:
            first = query.order_by(Recording.start_time, Recording.id)
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
            if newest_first:
                after = and_(
                    Recording.start_time <= last.start_time,
                    or_(Recording.start_time < last.start_time, Recording.id < last.id),
                )
            else:
                after = and_(
                    Recording.start_time >= last.start_time,
                    or_(Recording.start_time > last.start_time, Recording.id > last.id),
                )
            page_query = first.where(after)
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

    def sync_digests(self, uuids: Iterable[str]) -> dict[str, str]:
        """The `sync_digest` of each stored row of `uuids` that nothing wrote since the sync
        that stored it (`synced_at` equals `updated_at`): a listing with that digest changes
        nothing there."""
        wanted = list(uuids)
        found: dict[str, str] = {}
        with self.session() as session:
            for start in range(0, len(wanted), SYNC_BATCH):
                query = select(Recording.zoom_uuid, Recording.sync_digest).where(
                    self._uuid_in(wanted[start : start + SYNC_BATCH]),
                    Recording.synced_at == Recording.updated_at,
                )
                found.update((uuid, digest) for uuid, digest in session.execute(query))
        return found

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
        nothing is written for an unchanged recording but its instance's `digest`, when the row
        holds another (see `sync_digests`). Metadata Zoom changed is updated. The
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
        stamps = (Recording.sync_digest, Recording.synced_at, Recording.updated_at)
        read = select(*seen, Recording.last_good_status, *stamps, *columns).where(
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
            _stamp_digests(session, chunk, stored, outcomes)
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
                "sync_digest": item.digest,
                "synced_at": now if item.digest else None,
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
            apply_status(row, target, reason, fields)
            return row

    def update_fields(self, recording_id: int, worker: str | None = None, **fields: Any) -> None:
        """Change non-status columns (e.g. paths, metadata); with `worker`, only under its claim."""
        query = update(Recording).where(Recording.id == recording_id)
        if worker is not None:
            query = query.where(Recording.claimed_by == worker)
        with self.session() as session:
            if session.execute(query.values(**fields)).rowcount == 0:
                raise LostClaimError(f"recording {recording_id} is not claimed by {worker}")


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
    if not changed and target is None:
        return "unchanged"
    for name, value in changed.items():
        setattr(row, name, value)
    if target is not None:
        if row.status != target:
            check_transition(row.id, row.status, target)
        apply_status(row, target, item.skip, {})
    if item.digest is not None:
        row.sync_digest = item.digest
        row.updated_at = row.synced_at = utcnow()
    return "updated"


def _stamp_digests(
    session: Session, chunk: list[SyncedInstance], stored: dict[str, Any], outcomes: dict[str, str]
) -> None:
    """Write the digest of each unchanged instance whose row holds another (or none, or was
    written since): its `updated_at` stays, and a row written meanwhile is left alone."""
    stale = [
        {"b_uuid": item.zoom_uuid, "b_digest": item.digest, "b_seen": row.updated_at}
        for item in chunk
        if item.digest is not None
        and outcomes[item.zoom_uuid] == "unchanged"
        and (row := stored.get(item.zoom_uuid)) is not None
        and (row.sync_digest != item.digest or row.synced_at != row.updated_at)
    ]
    if not stale:
        return
    stamp = (
        update(Recording)
        .where(
            Recording.zoom_uuid == bindparam("b_uuid"),
            Recording.updated_at == bindparam("b_seen"),
        )
        .values(
            sync_digest=bindparam("b_digest"),
            synced_at=Recording.updated_at,
            updated_at=Recording.updated_at,
        )
    )
    session.connection().execute(stamp, stale)


def _last_good(status: ProcessingStatus, fallback: ProcessingStatus) -> ProcessingStatus:
    return status if status in STABLE_RESTART_POINTS else fallback
