"""Publication rows and API quota, as the upload stage keeps them (DESIGN.md §2).

One `publications` row per (recording, platform) holds everything a later run needs to go on
where an upload stopped: the resumable session URI, the bytes the server confirmed, the remote
id and URL, which follow-up steps (thumbnail, playlist or album, captions) are done or refused
for good (a thumbnail the channel may not set), the attempts and the last error. Nothing secret
is stored here: only session URIs and ids.

`quota_usage` counts API units per platform, quota bucket and quota day (YouTube: the Pacific
day, when Google resets quotas) and remembers until when a bucket is used up, so that every
worker stops spending calls on YouTube until then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update

from integrations.store.database import upsert
from integrations.store.models import Publication, QuotaUsage, utcnow
from integrations.store.repository import RecordingStore
from integrations.store.states import Platform, PlatformStatus

PACIFIC = ZoneInfo("America/Los_Angeles")

# The columns a caller may set with `update`; status changes go through the named methods too.
UPDATABLE = frozenset(
    {
        "status",
        "title",
        "chosen_title",
        "remote_id",
        "url",
        "collection_id",
        "upload_session",
        "session_media",
        "bytes_confirmed",
        "total_bytes",
        "thumbnail_done",
        "thumbnail_refused",
        "collection_done",
        "caption_done",
        "attempts",
        "last_error",
        "waiting_until",
    }
)


def quota_day(platform: Platform, now: datetime | None = None) -> str:
    """The quota day `now` falls in: the Pacific date for YouTube, the UTC date otherwise."""
    moment = now or utcnow()
    zone = PACIFIC if platform == Platform.YOUTUBE else ZoneInfo("UTC")
    return moment.astimezone(zone).date().isoformat()


class PublicationStore:
    """Reads and writes of `publications` and `quota_usage`, on a `RecordingStore`'s engine."""

    def __init__(self, store: RecordingStore) -> None:
        self.store = store

    # -- publications ------------------------------------------------------------------------

    def get(self, recording_id: int, platform: Platform) -> Publication | None:
        with self.store.session() as session:
            return session.scalars(
                select(Publication).where(
                    Publication.recording_id == recording_id, Publication.platform == platform
                )
            ).one_or_none()

    def get_or_create(self, recording_id: int, platform: Platform) -> Publication:
        """The publication of a recording on a platform, created PENDING when there is none.

        One `INSERT ... ON CONFLICT DO NOTHING`: of two workers creating it at once, one
        inserts and both read the same row.
        """
        now = utcnow()
        create = (
            upsert(self.store.dialect, Publication)
            .values(
                recording_id=recording_id,
                platform=platform,
                status=PlatformStatus.PENDING,
                bytes_confirmed=0,
                attempts=0,
                thumbnail_done=False,
                collection_done=False,
                caption_done=False,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["recording_id", "platform"])
        )
        with self.store.session() as session:
            session.execute(create)
            return session.scalars(
                select(Publication).where(
                    Publication.recording_id == recording_id, Publication.platform == platform
                )
            ).one()

    def update(self, recording_id: int, platform: Platform, **fields: Any) -> None:
        """Set columns of one publication (it must exist)."""
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"not publication columns: {', '.join(sorted(unknown))}")
        fields["updated_at"] = utcnow()
        with self.store.session() as session:
            result = session.execute(
                update(Publication)
                .where(Publication.recording_id == recording_id, Publication.platform == platform)
                .values(**fields)
            )
            if result.rowcount == 0:
                raise LookupError(f"recording {recording_id} has no {platform} publication")

    def start_attempt(self, recording_id: int, platform: Platform, total_bytes: int | None) -> None:
        """Mark an attempt under way: UPLOADING, one more attempt, the previous error cleared."""
        with self.store.session() as session:
            session.execute(
                update(Publication)
                .where(Publication.recording_id == recording_id, Publication.platform == platform)
                .values(
                    status=PlatformStatus.UPLOADING,
                    attempts=Publication.attempts + 1,
                    last_error=None,
                    waiting_until=None,
                    total_bytes=total_bytes,
                    updated_at=utcnow(),
                )
            )

    def record_progress(self, recording_id: int, platform: Platform, confirmed: int) -> None:
        """The byte count the server confirmed (only ever grows within a session)."""
        self.update(recording_id, platform, bytes_confirmed=confirmed)

    def record_session(
        self, recording_id: int, platform: Platform, session_uri: str, media: str | None = None
    ) -> None:
        """A new resumable session, stored before any byte of the file is sent, with which copy
        of the media it sends (`media`, see `session_media`)."""
        self.update(
            recording_id,
            platform,
            upload_session=session_uri,
            session_media=media,
            bytes_confirmed=0,
        )

    def mark_uploaded(self, recording_id: int, platform: Platform) -> None:
        self.update(
            recording_id,
            platform,
            status=PlatformStatus.UPLOADED,
            last_error=None,
            waiting_until=None,
        )

    def mark_failed(self, recording_id: int, platform: Platform, error: str) -> None:
        self.update(recording_id, platform, status=PlatformStatus.FAILED, last_error=error)

    def mark_waiting(
        self, recording_id: int, platform: Platform, until: datetime, reason: str
    ) -> None:
        self.update(
            recording_id,
            platform,
            status=PlatformStatus.WAITING,
            waiting_until=until,
            last_error=reason,
        )

    # -- quota -------------------------------------------------------------------------------

    def add_units(
        self, platform: Platform, bucket: str, units: int, now: datetime | None = None
    ) -> int:
        """Count `units` spent in `bucket` on the current quota day; returns the day's total.

        One statement: the day's row is created with `units`, or `units` is added to it
        (`ON CONFLICT DO UPDATE SET units = units + excluded.units`), so that workers counting
        at once never lose a count.
        """
        count = upsert(self.store.dialect, QuotaUsage).values(
            platform=platform, bucket=bucket, day=quota_day(platform, now), units=units
        )
        total = count.on_conflict_do_update(
            index_elements=["platform", "bucket", "day"],
            set_={"units": QuotaUsage.units + count.excluded.units},
        ).returning(QuotaUsage.units)
        with self.store.session() as session:
            return session.execute(total).scalar_one()

    def units_used(self, platform: Platform, bucket: str, day: date | str | None = None) -> int:
        """Units counted in `bucket` on `day` (default: the current quota day)."""
        day_text = day.isoformat() if isinstance(day, date) else (day or quota_day(platform))
        with self.store.session() as session:
            units = session.scalar(
                select(QuotaUsage.units).where(
                    QuotaUsage.platform == platform,
                    QuotaUsage.bucket == bucket,
                    QuotaUsage.day == day_text,
                )
            )
        return units or 0

    def mark_exhausted(
        self, platform: Platform, bucket: str, until: datetime, now: datetime | None = None
    ) -> None:
        """Remember that `bucket` is used up until `until` (e.g. the next Pacific midnight);
        a later time already stored is kept."""
        mark = upsert(self.store.dialect, QuotaUsage).values(
            platform=platform,
            bucket=bucket,
            day=quota_day(platform, now),
            units=0,
            exhausted_until=until,
        )
        stored = QuotaUsage.exhausted_until
        mark = mark.on_conflict_do_update(
            index_elements=["platform", "bucket", "day"],
            set_={"exhausted_until": mark.excluded.exhausted_until},
            where=or_(stored.is_(None), stored < mark.excluded.exhausted_until),
        )
        with self.store.session() as session:
            session.execute(mark)

    def exhausted_until(
        self,
        platform: Platform,
        buckets: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> datetime | None:
        """Until when the platform's quota (any of `buckets`, default all) is used up, or None."""
        moment = now or utcnow()
        query = select(QuotaUsage.exhausted_until).where(
            QuotaUsage.platform == platform, QuotaUsage.exhausted_until > moment
        )
        if buckets is not None:
            query = query.where(QuotaUsage.bucket.in_(list(buckets)))
        with self.store.session() as session:
            times = [t for t in session.scalars(query) if t is not None]
        return max(times) if times else None
