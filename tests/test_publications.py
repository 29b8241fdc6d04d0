"""Publication rows and quota counting in the status store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.store.publications import PublicationStore, quota_day
from integrations.store.states import Platform, PlatformStatus, ProcessingStatus
from tests.factories import add_recording
from tests.racing import RACERS, race


def test_get_or_create_is_idempotent_and_updates_stick(store):
    row = add_recording(store, status=ProcessingStatus.PROCESSED)
    publications = PublicationStore(store)

    first = publications.get_or_create(row.id, Platform.YOUTUBE)
    again = publications.get_or_create(row.id, Platform.YOUTUBE)
    assert first.id == again.id and first.status == PlatformStatus.PENDING

    publications.start_attempt(row.id, Platform.YOUTUBE, 1000)
    publications.record_session(row.id, Platform.YOUTUBE, "http://x/upload?upload_id=1")
    publications.record_progress(row.id, Platform.YOUTUBE, 512)
    publications.mark_failed(row.id, Platform.YOUTUBE, "network")
    publications.start_attempt(row.id, Platform.YOUTUBE, 1000)

    stored = publications.get(row.id, Platform.YOUTUBE)
    assert stored.status == PlatformStatus.UPLOADING
    assert stored.attempts == 2 and stored.last_error is None
    assert stored.upload_session.endswith("upload_id=1") and stored.bytes_confirmed == 512
    assert store.get(row.id).publication(Platform.YOUTUBE).total_bytes == 1000
    with pytest.raises(ValueError, match="not publication columns"):
        publications.update(row.id, Platform.YOUTUBE, status_reason="x")
    with pytest.raises(LookupError):
        publications.update(row.id, Platform.VK, url="x")


def test_quota_units_add_up_per_pacific_day_and_exhaustion_expires(store):
    publications = PublicationStore(store)
    late = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)  # 23:30 on June 30 in Los Angeles
    assert quota_day(Platform.YOUTUBE, late) == "2026-06-30"
    assert quota_day(Platform.VK, late) == "2026-07-01"

    assert publications.add_units(Platform.YOUTUBE, "default", 50, now=late) == 50
    assert publications.add_units(Platform.YOUTUBE, "default", 1, now=late) == 51
    publications.add_units(Platform.YOUTUBE, "default", 7, now=late + timedelta(hours=1))
    assert publications.units_used(Platform.YOUTUBE, "default", "2026-06-30") == 51
    assert publications.units_used(Platform.YOUTUBE, "default", "2026-07-01") == 7

    now = datetime.now(UTC)
    assert publications.exhausted_until(Platform.YOUTUBE) is None
    until = now + timedelta(hours=3)
    publications.mark_exhausted(Platform.YOUTUBE, "videos.insert", until)
    publications.mark_exhausted(Platform.YOUTUBE, "videos.insert", now + timedelta(hours=1))
    assert publications.exhausted_until(Platform.YOUTUBE) == until  # the later time is kept
    assert publications.exhausted_until(Platform.YOUTUBE, ["default"]) is None
    assert publications.exhausted_until(Platform.VK) is None
    assert publications.exhausted_until(Platform.YOUTUBE, now=until + timedelta(seconds=1)) is None


def test_a_refused_thumbnail_is_kept_past_new_attempts_and_the_upload(store):
    row = add_recording(store, status=ProcessingStatus.PROCESSED)
    publications = PublicationStore(store)
    publications.get_or_create(row.id, Platform.YOUTUBE)
    publications.start_attempt(row.id, Platform.YOUTUBE, 1000)
    publications.update(row.id, Platform.YOUTUBE, thumbnail_refused="403 forbidden")
    publications.mark_failed(row.id, Platform.YOUTUBE, "captions: 503")

    publications.start_attempt(row.id, Platform.YOUTUBE, 1000)
    publications.mark_uploaded(row.id, Platform.YOUTUBE)

    stored = publications.get(row.id, Platform.YOUTUBE)
    assert stored.status == PlatformStatus.UPLOADED and stored.last_error is None
    assert stored.thumbnail_refused == "403 forbidden" and not stored.thumbnail_done


def test_the_upgrade_keeps_only_titles_typed_before_any_attempt_as_chosen(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, text

    from integrations.store.database import _alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(_alembic_config(url), "0004")
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO recordings (id, account, zoom_meeting_id, zoom_uuid, topic, "
                "start_time, duration_min, total_size, video_files, status, last_good_status, "
                "attempts, created_at, updated_at, status_changed_at) VALUES (1, 'a', '1', 'u1', "
                "'Optics', :t, 60, 1, '[]', 'PROCESSED', 'PROCESSED', 0, :t, :t, :t)"
            ),
            {"t": "2026-12-01 00:00:00"},
        )
        for platform, status, attempts, title in (
            ("youtube", "PENDING", 0, "Typed by hand"),
            ("vk", "FAILED", 1, "Mapped at the first attempt"),
        ):
            db.execute(
                text(
                    "INSERT INTO publications (recording_id, platform, status, title, attempts, "
                    "bytes_confirmed, thumbnail_done, collection_done, caption_done, created_at, "
                    "updated_at) VALUES (1, :p, :s, :t, :a, 0, 0, 0, 0, :c, :c)"
                ),
                {"p": platform, "s": status, "t": title, "a": attempts, "c": "2026-12-01 00:00:00"},
            )
    command.upgrade(_alembic_config(url), "head")

    with engine.connect() as db:
        rows = db.execute(text("SELECT platform, chosen_title FROM publications ORDER BY id"))
        assert rows.all() == [("youtube", "Typed by hand"), ("vk", None)]
    engine.dispose()


def test_workers_creating_one_publication_at_once_all_get_the_same_row(store):
    row = add_recording(store, status=ProcessingStatus.PROCESSED)
    publications = PublicationStore(store)

    made = race(lambda _: publications.get_or_create(row.id, Platform.VK))

    assert {p.id for p in made} == {publications.get(row.id, Platform.VK).id}
    assert all(p.status == PlatformStatus.PENDING for p in made)
    assert len(store.get(row.id).publications) == 1


def test_workers_counting_quota_at_once_lose_no_unit(store):
    publications = PublicationStore(store)
    noon = datetime(2026, 7, 1, 19, tzinfo=UTC)

    totals = race(lambda _: publications.add_units(Platform.YOUTUBE, "default", 3, now=noon))

    # Each call answers the day's total just after its own units: 3, 6, ... in some order.
    assert sorted(totals) == [3 * n for n in range(1, RACERS + 1)]
    assert publications.units_used(Platform.YOUTUBE, "default", "2026-07-01") == 3 * RACERS


def test_workers_marking_a_quota_used_up_at_once_keep_the_latest_time(store):
    publications = PublicationStore(store)
    now = datetime.now(UTC)
    until = [now + timedelta(minutes=10 * (1 + i)) for i in range(RACERS)]

    race(lambda i: publications.mark_exhausted(Platform.VK, "video.save", until[i]))

    assert publications.exhausted_until(Platform.VK) == max(until)
    assert publications.units_used(Platform.VK, "default") == 0
