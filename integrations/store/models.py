"""The status store's tables (DESIGN.md §2), as SQLAlchemy 2 ORM models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from integrations.store.states import STAGES, Platform, PlatformStatus, ProcessingStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset by itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(enum_type: type, name: str) -> Enum:
    # Stored as VARCHAR + CHECK so both PostgreSQL and SQLite hold the same schema.
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy's class-level mapping
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[dict[str, Any]]: JSON,
    }


# The statuses a claim can take a row from: a stage's input status, or FAILED (attempts left).
CLAIMABLE = (*(input_status for input_status, _, _ in STAGES.values()), ProcessingStatus.FAILED)
# The same as the literal SQL that both the partial index below and the claim query hold: a planner
# uses a partial index only when it can prove the query's WHERE implies the index's (SQLite: only
# when the query holds the same term), and a bound parameter proves nothing.
CLAIMABLE_SQL = "status IN ({})".format(", ".join(f"'{status.value}'" for status in CLAIMABLE))
# The same literal SQL for the housekeeping backlogs (integrations/store/backlogs.py), each with a
# partial index in its order, so that what a run reads follows what is due, not the history:
# finished rows whose local media `clean` may expire; published rows whose Zoom copy is not freed
# yet; publications waiting for a platform's quota.
EXPIRABLE_SQL = "status IN ('UPLOADED', 'SKIPPED')"
ZOOM_DUE_SQL = "status IN ('UPLOADED', 'EXPIRED') AND zoom_cleanup IS NULL"
WAITING_SQL = "status = 'WAITING'"


class Recording(Base):
    """One Zoom meeting instance (one UUID) and how far it got through the pipeline."""

    __tablename__ = "recordings"
    __table_args__ = (
        # Claims read only claimable rows, in claim order, not the finished history before them.
        Index(
            "ix_recordings_claimable",
            "start_time",
            "id",
            postgresql_where=text(CLAIMABLE_SQL),
            sqlite_where=text(CLAIMABLE_SQL),
        ),
        Index(
            "ix_recordings_expirable",
            "start_time",
            "id",
            postgresql_where=text(EXPIRABLE_SQL),
            sqlite_where=text(EXPIRABLE_SQL),
        ),
        Index(
            "ix_recordings_zoom_due",
            "start_time",
            "id",
            postgresql_where=text(ZOOM_DUE_SQL),
            sqlite_where=text(ZOOM_DUE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(255))
    zoom_uuid: Mapped[str] = mapped_column(String(255), unique=True)
    zoom_meeting_id: Mapped[str] = mapped_column(String(64), index=True)
    zoom_user_id: Mapped[str | None] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(Text)
    start_time: Mapped[datetime] = mapped_column(index=True)
    duration_min: Mapped[int] = mapped_column(Integer)
    total_size: Mapped[int] = mapped_column(BigInteger)
    # The MP4 segments of the chosen view: [{id, size, recording_type, recording_start, ...}].
    video_files: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    transcript_file: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rule_pattern: Mapped[str | None] = mapped_column(Text)  # a rule chosen by hand (`sync -i`)
    # The digest of the Zoom listing (and sync settings) the last sync stored this row from
    # (tasks/sync.py, `listing_digest`), and when: while `synced_at` equals `updated_at` nothing
    # wrote the row since, so a listing with the same digest would change nothing.
    sync_digest: Mapped[str | None] = mapped_column(String(32))
    synced_at: Mapped[datetime | None] = mapped_column()

    status: Mapped[ProcessingStatus] = mapped_column(
        _enum(ProcessingStatus, "processing_status"), index=True
    )
    last_good_status: Mapped[ProcessingStatus] = mapped_column(
        _enum(ProcessingStatus, "last_good_status")
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    source_path: Mapped[str | None] = mapped_column(Text)
    processed_path: Mapped[str | None] = mapped_column(Text)
    trim_start: Mapped[float | None] = mapped_column(Float)
    trim_end: Mapped[float | None] = mapped_column(Float)
    trim_method: Mapped[str | None] = mapped_column(String(32))
    # The storage (a MEDIA_DIR's id, integrations/storage_id.py) holding the downloaded and
    # processed media; None before the download (and for rows stored before it was kept).
    storage: Mapped[str | None] = mapped_column(String(64))

    zoom_cleanup: Mapped[str | None] = mapped_column(String(16))  # "trash"/"delete" once done
    zoom_cleaned_at: Mapped[datetime | None] = mapped_column()

    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None] = mapped_column(index=True)
    not_before: Mapped[datetime | None] = mapped_column()  # deferred, e.g. until quota resets

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    publications: Mapped[list[Publication]] = relationship(
        back_populates="recording", cascade="all, delete-orphan", order_by="Publication.platform"
    )

    def publication(self, platform: Platform) -> Publication | None:
        return next((p for p in self.publications if p.platform == platform), None)


class Publication(Base):
    """One recording on one platform: remote id, upload session and follow-up steps."""

    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("recording_id", "platform"),
        Index(
            "ix_publications_waiting",
            "created_at",
            postgresql_where=text(WAITING_SQL),
            sqlite_where=text(WAITING_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    platform: Mapped[Platform] = mapped_column(_enum(Platform, "platform"))
    status: Mapped[PlatformStatus] = mapped_column(
        _enum(PlatformStatus, "platform_status"), default=PlatformStatus.PENDING
    )
    title: Mapped[str | None] = mapped_column(Text)  # the title it was last saved with
    # A title a person chose (`upload -i`): kept at every attempt. Without one, each attempt
    # renders the title from the mapping as it stands then.
    chosen_title: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(Text)
    collection_id: Mapped[str | None] = mapped_column(String(128))  # playlist or album
    upload_session: Mapped[str | None] = mapped_column(Text)
    # Which file the session is sending ("size:mtime_ns", `media_stamp`): a session opened for
    # another copy (the media made again after a takeover) is not resumed with this one's bytes.
    session_media: Mapped[str | None] = mapped_column(String(64))
    bytes_confirmed: Mapped[int] = mapped_column(BigInteger, default=0)
    total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    thumbnail_done: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the platform refused the custom thumbnail (the video is published without it and it
    # is not tried again), e.g. YouTube's 403 for a channel that may not set custom thumbnails.
    thumbnail_refused: Mapped[str | None] = mapped_column(Text)
    collection_done: Mapped[bool] = mapped_column(Boolean, default=False)
    caption_done: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    waiting_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    recording: Mapped[Recording] = relationship(back_populates="publications")

    @property
    def thumbnail_note(self) -> str | None:
        """Why the video has no custom thumbnail, when the platform refused it for good."""
        if self.thumbnail_refused is None:
            return None
        return f"no custom thumbnail: {self.thumbnail_refused}"


class QuotaUsage(Base):
    """API units spent per platform, quota bucket and quota day (YouTube: per Pacific day)."""

    __tablename__ = "quota_usage"

    platform: Mapped[Platform] = mapped_column(_enum(Platform, "quota_platform"), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. "default"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD in the quota's zone
    units: Mapped[int] = mapped_column(Integer, default=0)
    exhausted_until: Mapped[datetime | None] = mapped_column()


class Storage(Base):
    """A media storage that a run works on: alive while a run on it renews `alive_until`."""

    __tablename__ = "storages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_dir: Mapped[str] = mapped_column(Text)  # as the last run on it named it
    host: Mapped[str] = mapped_column(String(255))  # where that run was
    alive_until: Mapped[datetime] = mapped_column()
