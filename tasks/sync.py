"""Sync tasks: one Zoom account's recordings into the status table, a window at a time."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from prefect import get_run_logger

from config.secrets import zoom_account_block
from config.settings import get_settings
from integrations.store.repository import RecordingStore, SyncedInstance
from integrations.zoom import (
    ZoomAccount,
    ZoomClient,
    ZoomFile,
    ZoomInstance,
    ZoomRetryLaterError,
    parse_instance,
    skip_reason,
)
from tasks.common import get_store, retrying_task


@dataclass(frozen=True)
class AccountSync:
    """What a sync did for one account: how many instances Zoom listed and what became of them,
    and, with `deferred`, why the rest of its sync waits for a later run."""

    account: str
    instances: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    deferred: str | None = None


WAITING_FOR_ZOOM = "Zoom is still processing the recording; a later sync picks it up"
# Goes into every listing digest: bump it when what a sync stores from the same listing changes
# (`parse_instance`, `recording_values`, the filters and their reasons), so that the next sync
# compares every row again instead of trusting digests of the old mapping.
SYNC_MAPPING_VERSION = 1
# Fields of a listed meeting left out of its digest: secrets, which a sync never stores either
# (a listing carries no download token; Zoom's list may carry the meeting's passcodes).
NOT_DIGESTED = frozenset({"download_access_token", "password", "recording_play_passcode"})


def zoom_account(block_name: str) -> ZoomAccount:
    """The Zoom client's account, from its Prefect block (read once per run, `read_once`)."""
    block = zoom_account_block(block_name)
    return ZoomAccount(
        name=block.account,
        account_id=block.account_id,
        client_id=block.client_id,
        client_secret=block.client_secret,
    )


@retrying_task("sync-zoom-account", task_run_name="sync-{block_name}")
def sync_account(block_name: str, start: date, end: date) -> AccountSync:
    """Store every meeting instance with recordings of one account, all users, `start..end`
    (UTC), one window of Zoom's listing at a time (`RecordingStore.store_synced`: one
    transaction per page of instances, nothing written for an unchanged one).

    When Zoom asks for a longer wait than `RATE_LIMIT_PATIENCE` (a daily limit), the account is
    deferred, not failed nor retried: the windows listed before are stored, the report says
    until when, and a run after that syncs the rest.
    """
    account = zoom_account(block_name)
    store = get_store()
    instances = 0
    outcomes: Counter[str] = Counter()
    try:
        with ZoomClient(account) as client:
            for window in client.recording_windows(start, end):
                outcomes.update(store_window(store, account.name, window))
                instances += len(window)
    except ZoomRetryLaterError as exc:
        return AccountSync(account.name, instances, dict(outcomes), deferred=str(exc))
    get_run_logger().info(
        "Zoom account %s: %d meeting instances with recordings from %s to %s",
        account.name,
        instances,
        start,
        end,
    )
    return AccountSync(account.name, instances, dict(outcomes))


def store_window(store: RecordingStore, account: str, window: list[dict[str, Any]]) -> Counter[str]:
    """Store one window of an account's listing (raw meetings, one per UUID); the outcomes.

    An instance listed as it was when a sync last stored its row, which nothing wrote since
    (the same digest, `RecordingStore.sync_digests`), is unchanged without being parsed; the
    others are parsed and stored (`RecordingStore.store_synced`) with their digest.
    """
    context = digest_context(account)
    digests = {str(meeting["uuid"]): listing_digest(context, meeting) for meeting in window}
    stored = store.sync_digests(digests)
    fresh = [m for m in window if stored.get(str(m["uuid"])) != digests[str(m["uuid"])]]
    priority = get_settings().mp4_view_priority
    instances = [parse_instance(meeting, priority) for meeting in fresh]
    outcomes = Counter(store.store_synced(synced_instances(account, instances, digests)))
    if len(fresh) < len(window):
        outcomes["unchanged"] += len(window) - len(fresh)
    return outcomes


def digest_context(account: str) -> bytes:
    """What a stored row depends on besides its listing: the mapping's version, the account's
    name and the settings that choose the files and the filters' verdict."""
    settings = get_settings()
    return orjson.dumps(
        [
            SYNC_MAPPING_VERSION,
            account,
            list(settings.mp4_view_priority),
            settings.min_duration_min,
            settings.min_size_mb,
        ]
    )


def listing_digest(context: bytes, meeting: Mapping[str, Any]) -> str:
    """A hash of one listed meeting (its JSON with sorted keys, secrets left out) and of
    `context`: equal digests store equal rows."""
    if not NOT_DIGESTED.isdisjoint(meeting):
        meeting = {k: v for k, v in meeting.items() if k not in NOT_DIGESTED}
    digest = hashlib.blake2b(context, digest_size=16)
    digest.update(orjson.dumps(meeting, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def account_windows(account: ZoomAccount, start: date, end: date) -> Iterator[list[SyncedInstance]]:
    """What a sync would store for one account, every instance parsed, one window of Zoom's
    listing at a time, oldest first (the dry run's preview); `ZoomRetryLaterError` when Zoom
    asks to come back later."""
    with ZoomClient(account) as client:
        for window in client.instance_windows(start, end, get_settings().mp4_view_priority):
            yield synced_instances(account.name, window)


def _file(item: ZoomFile) -> dict[str, Any]:
    return {
        "id": item.id,
        "size": item.file_size,
        "recording_type": item.recording_type,
        "extension": item.file_extension,
        "recording_start": item.recording_start.isoformat() if item.recording_start else None,
        "download_url": item.download_url,
        "status": item.status,
    }


def recording_values(account: str, instance: ZoomInstance) -> dict[str, Any]:
    """The `recordings` columns a sync sets from one instance."""
    return {
        "account": account,
        "zoom_meeting_id": str(instance.meeting_id),
        "zoom_user_id": instance.host_id or None,
        "topic": instance.topic,
        "start_time": instance.start_time,
        "duration_min": instance.duration_min,
        "total_size": instance.mp4_size or instance.total_size,
        "video_files": [_file(f) for f in instance.mp4_files],
        "transcript_file": _file(instance.transcript) if instance.transcript else None,
    }


def why_skipped(instance: ZoomInstance) -> str | None:
    settings = get_settings()
    reason = skip_reason(instance, settings.min_duration_min, settings.min_size_mb)
    if reason is None and instance.processing:
        return WAITING_FOR_ZOOM
    return reason


def synced_instances(
    account: str, instances: Iterable[ZoomInstance], digests: Mapping[str, str] | None = None
) -> list[SyncedInstance]:
    """The rows a sync stores for these instances of `account` (with their listing's digest,
    when given)."""
    digests = digests or {}
    return [
        SyncedInstance(
            instance.uuid,
            recording_values(account, instance),
            why_skipped(instance),
            digests.get(instance.uuid),
        )
        for instance in instances
    ]
