"""The housekeeping backlogs, read in pages whose cost follows what is due, not the history.

`clean` expires the media of finished recordings, `free-zoom` frees the Zoom copy of published
ones and the quota alert names publications waiting for a platform's quota. Each reads a partial
index that holds only the rows it may act on (models.py), a page at a time after the last row of
the page before (keyset paging), so that a run holds one page, and a page costs the same however
many finished rows the table keeps. The queries spell each index's WHERE with the same literal
SQL (a planner uses a partial index only when it can prove the query implies it; SQLite only
when the query holds the same terms). tests/test_store_backlogs.py checks the plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, select, text
from sqlalchemy.orm import selectinload

from integrations.store.claims import apply_status
from integrations.store.models import (
    EXPIRABLE_SQL,
    WAITING_SQL,
    ZOOM_DUE_SQL,
    Publication,
    Recording,
)
from integrations.store.repository import LIST_PAGE, RecordingStore
from integrations.store.states import PlatformStatus, ProcessingStatus, check_transition

EXPIRABLE = (ProcessingStatus.UPLOADED, ProcessingStatus.SKIPPED)
WAIT_ROWS = 50  # publications a quota-wait alert names; the rest are counted


@dataclass(frozen=True)
class QuotaWaits:
    """Publications of PROCESSED recordings waiting for quota since before a cutoff: how many,
    when the newest of them started waiting, and the oldest (recording, publication) pairs."""

    count: int
    newest: datetime | None
    oldest: list[tuple[Recording, Publication]]


def _pages(
    store: RecordingStore, query: Select, size: int, publications: bool = True
) -> Iterator[list[Recording]]:
    """`query`'s rows oldest first, `size` at a time (keyset pages: rows that leave the backlog
    meanwhile do not shift the next page)."""
    if publications:
        query = query.options(selectinload(Recording.publications))
    return store.keyset_pages(query, size=size)


def expirable_pages(
    store: RecordingStore, before: datetime, size: int = LIST_PAGE
) -> Iterator[list[Recording]]:
    """Finished (UPLOADED or SKIPPED) recordings that started before `before`, oldest first."""
    query = select(Recording).where(text(EXPIRABLE_SQL), Recording.start_time < before)
    return _pages(store, query, size, publications=False)


def expire(store: RecordingStore, ids: Iterable[int], reason: str) -> list[int]:
    """Mark these recordings EXPIRED in one transaction; a row no longer finished (changed since
    it was read) is left as it is. Returns the IDs expired."""
    expired = []
    with store.session() as session:
        query = select(Recording).where(Recording.id.in_(list(ids))).with_for_update()
        for row in session.scalars(query.order_by(Recording.id)):
            if row.status in EXPIRABLE:
                check_transition(row.id, row.status, ProcessingStatus.EXPIRED)
                apply_status(row, ProcessingStatus.EXPIRED, reason, {})
                expired.append(row.id)
    return expired


def zoom_due_pages(store: RecordingStore, size: int = LIST_PAGE) -> Iterator[list[Recording]]:
    """Recordings whose Zoom copy may be due to go, oldest first, with their publications:
    UPLOADED or EXPIRED, not freed yet, and published on at least one platform (a skipped
    recording that `clean` expired never is)."""
    published = exists().where(
        Publication.recording_id == Recording.id,
        Publication.status == PlatformStatus.UPLOADED,
    )
    return _pages(store, select(Recording).where(text(ZOOM_DUE_SQL), published), size)


def quota_waits(
    store: RecordingStore, since_before: datetime, limit: int = WAIT_ROWS
) -> QuotaWaits:
    """Publications of PROCESSED recordings waiting for quota since before `since_before`:
    counted, and the oldest `limit` of them loaded."""
    waiting = and_(
        text(f"publications.{WAITING_SQL}"),
        Publication.created_at < since_before,
        Recording.status == ProcessingStatus.PROCESSED,
    )
    joined = select(Recording, Publication).join(Publication.recording).where(waiting)
    summary = (
        select(func.count(), func.max(Publication.created_at))
        .select_from(Publication)
        .join(Publication.recording)
        .where(waiting)
    )
    with store.session() as session:
        count, newest = session.execute(summary).one()
        oldest = session.execute(
            joined.order_by(Publication.created_at, Publication.id).limit(limit)
        ).all()
        return QuotaWaits(count, newest, [(r, p) for r, p in oldest])
