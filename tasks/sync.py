"""Sync tasks: list one Zoom account's recordings, store the instances in the status table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from config.blocks import ZoomAccount as ZoomAccountBlock
from config.prefect_sync import synchronous
from config.settings import get_settings
from integrations.zoom import (
    ZoomAccount,
    ZoomClient,
    ZoomFile,
    ZoomInstance,
    ZoomRetryLaterError,
    skip_reason,
)
from tasks.common import get_store, retrying_task


@dataclass(frozen=True)
class AccountListing:
    """One account's instances, or, with `deferred`, why its sync waits for a later run."""

    account: str
    instances: list[ZoomInstance]
    deferred: str | None = None


WAITING_FOR_ZOOM = "Zoom is still processing the recording; a later sync picks it up"


def zoom_account(block_name: str) -> ZoomAccount:
    """The Zoom client's account, loaded from its Prefect block."""
    block = synchronous(ZoomAccountBlock.load(block_name))
    return ZoomAccount(
        name=block.account,
        account_id=block.account_id,
        client_id=block.client_id,
        client_secret=block.client_secret,
    )


@retrying_task("list-zoom-recordings", task_run_name="list-{block_name}")
def list_account_recordings(block_name: str, start: date, end: date) -> AccountListing:
    """Every meeting instance with recordings of one account, all users, `start..end` (UTC).

    When Zoom asks for a longer wait than `RATE_LIMIT_PATIENCE` (a daily limit), the listing
    is deferred, not failed nor retried: it says until when, and a run after that syncs it.
    """
    account = zoom_account(block_name)
    with ZoomClient(account) as client:
        try:
            instances = client.instances(start, end, get_settings().mp4_view_priority)
        except ZoomRetryLaterError as exc:
            return AccountListing(account.name, [], deferred=str(exc))
    get_run_logger().info(
        "Zoom account %s: %d meeting instances with recordings from %s to %s",
        account.name,
        len(instances),
        start,
        end,
    )
    return AccountListing(account.name, instances)


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


@task(name="store-instances", task_run_name="store-{account}", cache_policy=NO_CACHE)
def store_instances(account: str, instances: list[ZoomInstance]) -> dict[str, int]:
    """Upsert every instance; a second sync of the same range changes nothing."""
    store = get_store()
    outcomes: Counter[str] = Counter()
    for instance in instances:
        values = recording_values(account, instance)
        outcome = store.upsert_synced(instance.uuid, values, why_skipped(instance))
        outcomes[outcome] += 1
    return dict(outcomes)
