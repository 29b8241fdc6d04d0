"""The `free-zoom-storage` flow: trash (or delete) Zoom cloud recordings that are safely published.

Opt-in (`upload_settings.delete_from_zoom`: off, trash, delete). A recording qualifies only when
every enabled platform reports its video published and the remote copy is verified: the platform
returns the video finished (YouTube: processed; VK: listed with its files) with the expected
duration. Never with a failed or waiting publication.
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import cached_property
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from config.app_config import AppConfig, load_app_config
from config.secrets import zoom_block_for
from config.settings import get_settings
from flows.report import REPORT_ROWS
from integrations.store.backlogs import zoom_due_pages
from integrations.store.models import Recording, utcnow
from integrations.vk import VkClient
from integrations.youtube import YouTubeClient
from integrations.zoom import ZoomClient
from integrations.zoom.deletion import (
    CleanupCandidate,
    CleanupDecision,
    PublicationState,
    RemoteCheck,
    duration_problem,
    zoom_deletion_plan,
)
from tasks.common import get_store
from tasks.sync import zoom_account
from tasks.upload import youtube_token_info


class RemoteCopies:
    """Asks each platform whether its copy of a video is finished and whole (clients on first use).

    YouTube: only `uploadStatus` "processed" counts (a failed, rejected or deleted upload, or
    one still processing, keeps the original, whatever its duration says); a privacy other
    than the configured one is reported. VK: the video must be listed, not processing, with its
    files. Both: the duration must match the published file's.
    """

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

    def __call__(self, candidate: CleanupCandidate, publication: PublicationState) -> RemoteCheck:
        remote = str(publication.remote_id)
        expected = candidate.expected_duration_s or 0
        if publication.platform == "youtube":
            return self.youtube_check(remote, expected)
        owner, _, video = remote.partition("_")
        return self.vk_check(int(owner), int(video), expected)

    def youtube_check(self, video_id: str, expected_s: float) -> RemoteCheck:
        video = self.youtube.video_check(video_id)
        if video is None:
            return RemoteCheck("is not on YouTube")
        if video.upload_status != "processed":
            why = video.rejection_reason or video.failure_reason
            status = f"{video.upload_status or 'unknown'}{f' ({why})' if why else ''}"
            return RemoteCheck(f"has upload status {status}, not processed")
        notes: tuple[str, ...] = ()
        wanted = self.config.platforms.youtube.default_privacy
        if video.privacy_status != wanted:
            notes = (f"privacy is {video.privacy_status}, configured {wanted}",)
        return RemoteCheck(duration_problem(expected_s, video.duration), notes)

    def vk_check(self, owner_id: int, video_id: int, expected_s: float) -> RemoteCheck:
        video = self.vk.video_check(owner_id, video_id)
        if not video.listed:
            return RemoteCheck("is not on VK")
        if video.processing:
            return RemoteCheck("is still processing")
        if not video.has_files:
            return RemoteCheck("has no files")
        return RemoteCheck(duration_problem(expected_s, video.duration))


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


def report_row(decision: CleanupDecision, done: bool) -> dict[str, Any]:
    return {
        "id": decision.candidate.recording_id,
        "topic": decision.candidate.topic,
        "action": decision.action if decision.removes else "keep",
        "done": done,
        "why": "; ".join((*decision.reasons, *decision.notes)),
    }


@flow(name="free-zoom-storage")
def free_zoom_storage_flow(dry_run: bool = False) -> list[dict[str, Any]]:
    """Move published, verified recordings to Zoom's trash (or delete them), per the setting.

    Reads only the recordings still due (published, Zoom copy not freed yet), a page at a time;
    with clean-up off, none.
    """
    logger = get_run_logger()
    settings = get_settings()
    config = load_app_config(settings.app_config, missing_ok=True)
    mode = config.upload_settings.delete_from_zoom
    enabled = [name for name, platform in config.platforms if platform.enabled]
    verify = RemoteCopies(config)
    store = get_store()
    rows = []
    with ExitStack() as stack:
        clients: dict[str, ZoomClient] = {}

        def zoom(account: str) -> ZoomClient:
            if account not in clients:
                client = ZoomClient(zoom_account(zoom_block_for(account)))
                clients[account] = stack.enter_context(client)
            return clients[account]

        for page in zoom_due_pages(store) if mode != "off" else ():
            recordings = {r.id: r for r in page}
            plan = zoom_deletion_plan(map(candidate, page), enabled, mode, verify)
            for decision in plan.decisions:
                recording = recordings[decision.candidate.recording_id]
                done = False
                if decision.action != "keep" and not dry_run:
                    zoom(recording.account).delete_recordings(
                        recording.zoom_uuid, action=decision.action
                    )
                    store.update_fields(
                        recording.id, zoom_cleanup=decision.action, zoom_cleaned_at=utcnow()
                    )
                    done = True
                for note in decision.notes:
                    logger.warning("Recording %s: %s", recording.id, note)
                rows.append(report_row(decision, done))
    verb = "would free" if dry_run else "freed"
    freed = sum(1 for row in rows if row["action"] != "keep")
    logger.info(
        "Zoom storage (%s): %s %d recordings, kept %d", mode, verb, freed, len(rows) - freed
    )
    more = f", the first {REPORT_ROWS} of {len(rows)}" if len(rows) > REPORT_ROWS else ""
    create_table_artifact(
        key="zoom-storage-report",
        table=rows[:REPORT_ROWS] or [{"id": "-", "topic": "nothing due"}],
        description=f"delete_from_zoom={mode}{' (dry run)' if dry_run else ''}{more}",
    )
    return rows
