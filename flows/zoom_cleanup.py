"""The `free-zoom-storage` flow: trash (or delete) Zoom cloud recordings that are safely published.

Opt-in (`upload_settings.delete_from_zoom`: off, trash, delete). A recording qualifies only when
every enabled platform reports its video published and the remote copy is verified: the platform
returns the video with the expected duration. Never with a failed or waiting publication.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from config.app_config import AppConfig, load_app_config
from config.secrets import zoom_block_for
from config.settings import get_settings
from integrations.cleanup import (
    CleanupCandidate,
    PublicationState,
    duration_matches,
    zoom_deletion_plan,
)
from integrations.store.models import Recording, utcnow
from integrations.store.states import ProcessingStatus
from integrations.vk import VkClient
from integrations.youtube import YouTubeClient
from integrations.zoom import ZoomClient
from tasks.common import get_store
from tasks.sync import zoom_account
from tasks.upload import youtube_token_info


class RemoteCopies:
    """Asks each platform how long its copy of a video is (clients made on first use)."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config

    @cached_property
    def youtube(self) -> YouTubeClient:
        return YouTubeClient(youtube_token_info(), api_url=get_settings().youtube_api_url)

    @cached_property
    def vk(self) -> VkClient:
        from config.secrets import vk_credentials

        # video.get names each video's owner: the group id (maybe the seed's "your_group_id"
        # placeholder when app_config.json holds the real one) is not needed.
        return VkClient(vk_credentials().access_token.get_secret_value())

    def __call__(self, candidate: CleanupCandidate, publication: PublicationState) -> bool:
        remote = str(publication.remote_id)
        if publication.platform == "youtube":
            seconds = self.youtube.video_duration(remote)
        else:
            owner, _, video = remote.partition("_")
            seconds = self.vk.video_duration(int(owner), int(video))
        return duration_matches(candidate.expected_duration_s or 0, seconds)


def candidate(recording: Recording) -> CleanupCandidate:
    expected = None
    if recording.trim_start is not None and recording.trim_end is not None:
        expected = recording.trim_end - recording.trim_start
    publications = [
        PublicationState(p.platform.value, p.status.value, p.remote_id)
        for p in recording.publications
    ]
    return CleanupCandidate(
        recording.id, recording.zoom_uuid, expected, publications, recording.topic
    )


@flow(name="free-zoom-storage")
def free_zoom_storage_flow(dry_run: bool = False) -> list[dict[str, Any]]:
    """Move published, verified recordings to Zoom's trash (or delete them), per the setting."""
    logger = get_run_logger()
    settings = get_settings()
    config = load_app_config(settings.app_config, missing_ok=True)
    mode = config.upload_settings.delete_from_zoom
    store = get_store()
    published = store.list(statuses=[ProcessingStatus.UPLOADED, ProcessingStatus.EXPIRED])
    pending = {r.id: r for r in published if r.zoom_cleanup is None}
    enabled = [name for name, platform in config.platforms if platform.enabled]
    plan = zoom_deletion_plan(
        [candidate(r) for r in pending.values()], enabled, mode, RemoteCopies(config)
    )
    rows = []
    for decision in plan.decisions:
        recording = pending[decision.candidate.recording_id]
        done = decision.removes and not dry_run
        if done:
            with ZoomClient(zoom_account(zoom_block_for(recording.account))) as client:
                client.delete_recordings(recording.zoom_uuid, action=decision.action)
            store.update_fields(
                recording.id, zoom_cleanup=decision.action, zoom_cleaned_at=utcnow()
            )
        rows.append(
            {
                "id": recording.id,
                "topic": recording.topic,
                "action": decision.action if decision.removes else "keep",
                "done": done,
                "why": "; ".join(decision.reasons),
            }
        )
    verb = "would free" if dry_run else "freed"
    logger.info(
        "Zoom storage (%s): %s %d recordings, kept %d",
        mode,
        verb,
        sum(1 for d in plan.decisions if d.removes),
        sum(1 for d in plan.decisions if not d.removes),
    )
    create_table_artifact(
        key="zoom-storage-report",
        table=rows or [{"id": "-", "topic": "nothing published yet"}],
        description=f"delete_from_zoom={mode}{' (dry run)' if dry_run else ''}",
    )
    return rows
