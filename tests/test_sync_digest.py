"""A re-sync skips what Zoom lists unchanged (issue 19): the listing's digest, kept on the row,
decides without parsing; anything that could change the stored row makes it compare again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

import tasks.sync
from config.settings import get_settings
from integrations.sandbox.server import LoopbackServer
from integrations.sandbox.zoom import FileSpec, SandboxAccount, ZoomEmulator
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus
from integrations.zoom import ZoomClient
from tasks.sync import digest_context, listing_digest, store_window, synced_instances

S = ProcessingStatus
MIB = 1024 * 1024
TODAY = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
BIG = [FileSpec(size=60 * MIB), FileSpec("audio_only", size=MIB)]


@pytest.fixture
def world() -> Iterator[tuple[ZoomEmulator, SandboxAccount]]:
    """One account of six meetings: two views for one, one too short (no Prefect here)."""
    zoom = ZoomEmulator()
    with LoopbackServer(zoom):
        account = zoom.add_account("digest@example.com")
        user = zoom.add_user(account)
        for n in range(5):
            zoom.add_meeting(
                account,
                user,
                topic=f"Lecture {n}",
                start_time=TODAY - timedelta(days=n),
                duration=12 if n == 4 else 90,
                files=list(BIG),
            )
        zoom.add_meeting(
            account,
            user,
            topic="Two views",
            start_time=TODAY - timedelta(days=6),
            files=[FileSpec(size=60 * MIB), FileSpec("speaker_view", size=50 * MIB)],
        )
        yield zoom, account


def listing(zoom: ZoomEmulator, account: SandboxAccount) -> list[list[dict]]:
    with ZoomClient(account.credentials, api_url=zoom.api_url, oauth_url=zoom.oauth_url) as client:
        return list(client.recording_windows(TODAY.date() - timedelta(days=10), TODAY.date()))


def sync(store: RecordingStore, zoom: ZoomEmulator, account: SandboxAccount) -> dict[str, int]:
    outcomes: Counter[str] = Counter()
    for window in listing(zoom, account):
        outcomes.update(store_window(store, account.name, window))
    return dict(outcomes)


class Statements:
    """The reads and writes the store sends, by their first word (no BEGIN, COMMIT...)."""

    def __init__(self, store: RecordingStore) -> None:
        self.seen: list[str] = []
        self.store = store

    def _note(self, _conn, _cursor, statement, *_args) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            self.seen.append(verb)

    def __enter__(self) -> list[str]:
        event.listen(self.store.engine, "before_cursor_execute", self._note)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        event.remove(self.store.engine, "before_cursor_execute", self._note)


def stamps(store: RecordingStore) -> dict[str, tuple]:
    return {r.zoom_uuid: (r.updated_at, r.sync_digest, r.synced_at) for r in store.list()}


def test_an_unchanged_listing_is_neither_parsed_nor_written(
    store: RecordingStore, world, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoom, account = world
    assert sync(store, zoom, account) == {"added": 6}
    before = stamps(store)
    assert all(digest and synced == updated for updated, digest, synced in before.values())

    def no_parse(*_args):
        raise AssertionError("an unchanged instance was parsed")

    monkeypatch.setattr(tasks.sync, "parse_instance", no_parse)
    with Statements(store) as statements:
        assert sync(store, zoom, account) == {"unchanged": 6}

    assert statements == ["SELECT"]  # the digests; nothing written
    assert stamps(store) == before


def test_a_field_zoom_changed_is_updated_and_then_skipped_again(
    store: RecordingStore, world
) -> None:
    zoom, account = world
    sync(store, zoom, account)
    zoom.meetings[0].topic = "Lecture 0 (renamed)"

    assert sync(store, zoom, account) == {"updated": 1, "unchanged": 5}
    assert store.by_uuid(zoom.meetings[0].uuid).topic == "Lecture 0 (renamed)"
    before = stamps(store)
    with Statements(store) as statements:
        assert sync(store, zoom, account) == {"unchanged": 6}
    assert statements == ["SELECT"]
    assert stamps(store) == before


def test_a_zoom_field_not_stored_changes_only_the_digest(store: RecordingStore, world) -> None:
    zoom, account = world
    sync(store, zoom, account)
    before = stamps(store)
    zoom.meetings[1].type = 8  # became recurring: not a stored column

    with Statements(store) as statements:
        assert sync(store, zoom, account) == {"unchanged": 6}

    assert statements.count("UPDATE") == 1
    after = stamps(store)
    changed = zoom.meetings[1].uuid
    assert after[changed][0] == before[changed][0]  # updated_at kept
    assert after[changed][1] != before[changed][1] and after[changed][2] == after[changed][0]
    assert {k: v for k, v in after.items() if k != changed} == {
        k: v for k, v in before.items() if k != changed
    }


def test_a_settings_change_evaluates_every_row_again(
    store: RecordingStore, world, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoom, account = world
    sync(store, zoom, account)
    two_views = zoom.meetings[5].uuid
    assert store.by_uuid(two_views).video_files[0]["size"] == 60 * MIB

    monkeypatch.setenv("MP4_VIEW_PRIORITY", '["speaker_view"]')
    get_settings.cache_clear()
    assert sync(store, zoom, account) == {"updated": 1, "unchanged": 5}
    assert store.by_uuid(two_views).video_files[0]["recording_type"] == "speaker_view"

    monkeypatch.setenv("MIN_DURATION_MIN", "95")
    get_settings.cache_clear()
    assert sync(store, zoom, account) == {"updated": 6}  # the short one's reason names 95 min
    assert {r.status for r in store.list()} == {S.SKIPPED}
    assert "not over the minimum 95 min" in store.by_uuid(two_views).status_reason


def test_a_row_without_a_digest_is_compared_in_full_and_gets_one(
    store: RecordingStore, world
) -> None:
    """Rows stored before the digest (or by the webhook) hold none."""
    zoom, account = world
    window = listing(zoom, account)[0]
    priority = get_settings().mp4_view_priority
    instances = [tasks.sync.parse_instance(m, priority) for m in window]
    store.store_synced(synced_instances(account.name, instances))
    before = stamps(store)
    assert {digest for _, digest, _ in before.values()} == {None}

    with Statements(store) as statements:
        assert sync(store, zoom, account) == {"unchanged": 6}

    assert statements.count("UPDATE") == 1 and statements.count("INSERT") == 0
    after = stamps(store)
    context = digest_context(account.name)
    assert after == {
        str(m["uuid"]): (before[m["uuid"]][0], listing_digest(context, m), before[m["uuid"]][0])
        for m in window
    }
    with Statements(store) as statements:
        assert sync(store, zoom, account) == {"unchanged": 6}
    assert statements == ["SELECT"]


def test_a_row_written_since_its_sync_is_compared_again(store: RecordingStore, world) -> None:
    """A stage's write (a claim, files saved from the API) or the webhook's: the digest no
    longer says what the row holds."""
    zoom, account = world
    sync(store, zoom, account)
    rows = {r.zoom_uuid: r for r in store.list()}
    claimed, patched, hooked = (rows[m.uuid] for m in zoom.meetings[:3])
    store.claim("download", "someone", lease_seconds=600, ids=[claimed.id])
    store.update_fields(patched.id, total_size=1)
    store.upsert_synced(
        hooked.zoom_uuid,
        {"topic": "As the webhook stored it", "video_files": []},
        None,
    )
    assert store.sync_digests([claimed.zoom_uuid, patched.zoom_uuid, hooked.zoom_uuid]) == {}

    assert sync(store, zoom, account) == {"updated": 2, "unchanged": 4}

    again = store.get(claimed.id)
    assert (again.status, again.claimed_by) == (S.DOWNLOADING, "someone")
    assert store.get(patched.id).total_size == patched.total_size
    restored = store.get(hooked.id)
    assert (restored.topic, restored.video_files) == (hooked.topic, hooked.video_files)
    assert sync(store, zoom, account) == {"unchanged": 6}


def test_a_listing_digest_leaves_secrets_out_and_follows_every_field() -> None:
    meeting = {"uuid": "abc==", "topic": "Lecture", "recording_files": [{"id": "f1"}]}
    context = digest_context("school@example.com")
    digest = listing_digest(context, meeting)

    secret = {**meeting, "password": "123456", "recording_play_passcode": "xyz"}
    assert listing_digest(context, secret) == digest
    assert listing_digest(context, dict(reversed(list(meeting.items())))) == digest
    assert listing_digest(context, {**meeting, "recording_files": [{"id": "f2"}]}) != digest
    assert listing_digest(digest_context("other@example.com"), meeting) != digest
