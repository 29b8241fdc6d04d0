"""Upload task: publish one processed recording to YouTube and/or VK, crash-safe and quota-aware.

Every step that costs something is recorded in the recording's `publications` row before or
right after it happens, so that a rerun (a Prefect retry, the next scheduled run, a new process
after a kill -9) does only what is missing:

- YouTube: the resumable session URI is stored before a byte goes out and the confirmed byte
  count after every chunk; a stored session is resumed from the server's byte; a session that
  is gone makes it look for the video by its description marker (`[zp:<zoom uuid>]`) before
  uploading again. Thumbnail, playlist and captions are follow-ups, each marked done on its own;
  a thumbnail the channel may not set (403 `forbidden`) is noted on the publication, warned about
  once and never tried again, and the video is published without it.
- VK: the `video.save` id is stored before the file is sent; a rerun asks `video.get` whether the
  file arrived before sending it again. Album and cover are follow-ups. A method's daily limit
  (error 29) is marked used up until the next Moscow midnight and the publication WAITING, as
  for YouTube's quota; titles are cut to VK's 128 characters, descriptions to its 5,000.
- Quota: every YouTube call's units are counted per Pacific day in `quota_usage`; on
  `quotaExceeded` the bucket is marked used up until the reset and the publication WAITING, and
  every later upload waits without a call until then. A recording with a waiting platform goes
  back to PROCESSED with `not_before` set, so no run claims it before the quota resets.

Bad input (missing or too large file, wrong format, bad thumbnail) fails before any quota is
spent. One platform failing never stops the other; the recording is FAILED with every reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from prefect.states import State

from config.app_config import (
    AppConfig,
    UploadSettings,
    load_app_config,
    vk_number,
    vk_publishing_group,
)
from config.secrets import vk_credentials, youtube_credentials
from config.settings import Settings, get_settings
from config.titles import Publication as Rendered
from config.titles import render
from integrations.errors import IntegrationError
from integrations.filenames import transcript_path
from integrations.http.retry import RetryPolicy, WaitTooLong
from integrations.store.models import Publication, Recording
from integrations.store.publications import PublicationStore
from integrations.store.repository import LostClaimError
from integrations.store.states import Platform, PlatformStatus, ProcessingStatus
from integrations.thumbnails import check_thumbnail
from integrations.vk import DESCRIPTION_LIMIT, VideoState, VkClient, VkDailyLimitReached
from integrations.youtube import (
    DEFAULT_BUCKET,
    QUOTA_COSTS,
    QUOTA_LIMITS,
    UPLOAD_BUCKET,
    AuthRevoked,
    CustomThumbnailsForbidden,
    QuotaExceeded,
    QuotaUse,
    UploadSessionGone,
    VideoMetadata,
    YouTubeClient,
    next_pacific_midnight,
)
from tasks.common import (
    StageOutcome,
    download_again,
    get_store,
    human_reason,
    is_transient,
    retrying_task,
    run_claimed,
    run_logger,
)
from tasks.disk import DiskWait
from tasks.progress import Tracker

MIB = 1024 * 1024
PLATFORM_NAMES = {Platform.YOUTUBE: "YouTube", Platform.VK: "VK"}


class UploadInputError(ValueError):
    """The recording cannot be published as it is (file, format, size, configuration)."""


class UploadError(IntegrationError, RuntimeError):
    """Some platforms failed; the message lists each with its reason.

    `retryable` is true only when every failure is worth retrying (network, 5xx, rate limits).
    """

    def __init__(self, recording_id: int, failures: dict[Platform, BaseException]) -> None:
        listed = "; ".join(
            f"{PLATFORM_NAMES[platform]}: {human_reason(exc)}" for platform, exc in failures.items()
        )
        retryable = all(is_transient(exc) for exc in failures.values())
        super().__init__(f"upload failed on {listed}", retryable=retryable)
        self.failures = failures


@dataclass(frozen=True)
class PlatformResult:
    status: PlatformStatus
    waiting_until: datetime | None = None
    error: BaseException | None = None


UPLOADED = PlatformResult(PlatformStatus.UPLOADED)


def _waiting(until: datetime) -> PlatformResult:
    return PlatformResult(PlatformStatus.WAITING, waiting_until=until)


# ---- what is published ----------------------------------------------------------------------


def select_platforms(requested: list[str], config: AppConfig) -> list[Platform]:
    """The requested platforms that are enabled in the app config (unknown names refused)."""
    chosen: list[Platform] = []
    for name in requested:
        try:
            platform = Platform(name.strip().lower())
        except ValueError:
            known = ", ".join(p.value for p in Platform)
            raise UploadInputError(f"unknown platform {name!r}; use one of: {known}") from None
        if platform not in chosen and getattr(config.platforms, platform.value).enabled:
            chosen.append(platform)
    if not chosen:
        names = ", ".join(requested) or "none"
        raise UploadInputError(
            f"no enabled platform among the requested ones ({names}): set "
            '"enabled": true under "platforms" in the app config'
        )
    return chosen


def youtube_marker(zoom_uuid: str) -> str:
    """The description tag that finds a video whose upload answer was lost."""
    return f"[zp:{zoom_uuid}]"


@dataclass
class UploadJob:
    """One recording being published: its file, titles and the configuration of this run."""

    row: Recording
    config: AppConfig
    settings: Settings
    publications: PublicationStore

    @property
    def recording_id(self) -> int:
        return self.row.id

    @cached_property
    def rendered(self) -> Rendered:
        return render(
            self.config.video_title_mapping,
            self.row.topic,
            self.row.start_time,
            self.row.rule_pattern,
        )

    def captions(self) -> Path | None:
        """The caption file to publish with the video, if the rule wants captions and one exists."""
        name = self.row.processed_path or self.row.source_path
        if not (self.rendered.captions and name):
            return None
        path = transcript_path(Path(name))
        return path if path.is_file() else None

    def media(self) -> Path:
        """The file to publish, checked against `upload_settings` before any call is made."""
        name = self.row.processed_path or self.row.source_path
        if not name:
            raise UploadInputError(
                f"recording {self.row.id} has no media file; run `download` and `process` first"
            )
        path = Path(name)
        if not path.is_file():
            raise UploadInputError(
                f"the media file {path} of recording {self.row.id} is missing; "
                "run `process` (or `download`) again"
            )
        rules = self.config.upload_settings
        extension = path.suffix.lower().lstrip(".")
        formats = [f.lower().lstrip(".") for f in rules.supported_formats]
        if extension not in formats:
            raise UploadInputError(
                f"{path.name} is a .{extension} file; upload_settings.supported_formats "
                f"allows {', '.join(formats)}"
            )
        size = path.stat().st_size
        if size > rules.max_file_size_mb * MIB:
            raise UploadInputError(
                f"{path.name} is {size / MIB:.0f} MB; upload_settings.max_file_size_mb "
                f"allows {rules.max_file_size_mb} MB"
            )
        return path

    def title(self, publication: Publication, rendered_title: str) -> str:
        """A title chosen by hand (`upload -i` stores it) wins over the mapping's."""
        return publication.chosen_title or rendered_title

    def thumbnail(self, publication: Publication) -> Path | None:
        """The mapped thumbnail when it is still to be set, checked (exists, JPEG/PNG, <= 2 MB)."""
        path = self.rendered.thumbnail
        if path is None or publication.thumbnail_done:
            return None
        check_thumbnail(path)
        return path


# Playlists and albums found or created by title: one at a time in this process, so that two
# recordings of the same course uploaded together do not both create one.
_collection_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def collection_lock(platform: Platform, title: str) -> Iterator[None]:
    with _locks_guard:
        lock = _collection_locks.setdefault((platform.value, title), threading.Lock())
    with lock:
        yield


class QuotaCounter:
    """`on_quota` for the YouTube client: counts units in the store, remembers the last bucket."""

    def __init__(self, publications: PublicationStore) -> None:
        self.publications = publications
        self.last_bucket = DEFAULT_BUCKET

    def __call__(self, use: QuotaUse) -> None:
        self.last_bucket = use.bucket
        self.publications.add_units(Platform.YOUTUBE, use.bucket, use.units)


# ---- YouTube --------------------------------------------------------------------------------


def youtube_token_info() -> dict[str, Any]:
    """The stored OAuth token as the client takes it (only ever held in memory)."""
    block = youtube_credentials()
    if block.refresh_token is None:
        raise AuthRevoked("no refresh token is stored")
    return {
        "type": "authorized_user",
        "client_id": block.client_id,
        "client_secret": block.client_secret.get_secret_value(),
        "refresh_token": block.refresh_token.get_secret_value(),
        "token_uri": block.token_uri,
        "scopes": list(block.scopes),
    }


def _youtube_budget(job: UploadJob, publication: Publication, thumbnail: Path | None) -> int:
    """Units of the shared daily bucket this publication still needs (an estimate)."""
    units = 0
    if thumbnail is not None:
        units += QUOTA_COSTS["thumbnails.set"]
    if not publication.collection_done and (
        job.rendered.youtube_playlist_id or job.rendered.youtube_playlist_title
    ):
        units += QUOTA_COSTS["playlistItems.insert"] + QUOTA_COSTS["playlistItems.list"]
        if not (publication.collection_id or job.rendered.youtube_playlist_id):
            units += QUOTA_COSTS["playlists.insert"] + QUOTA_COSTS["playlists.list"]
    return units


def _quota_wait(
    job: UploadJob, publication: Publication, thumbnail: Path | None
) -> datetime | None:
    """Until when YouTube must not be called for this publication, from the store alone."""
    store = job.publications
    if until := store.exhausted_until(Platform.YOUTUBE):
        return until
    limit = job.config.platforms.youtube.daily_quota_units
    needed = _youtube_budget(job, publication, thumbnail)
    used = store.units_used(Platform.YOUTUBE, DEFAULT_BUCKET)
    full = needed and used + needed > limit
    if publication.remote_id is None:
        uploads = store.units_used(Platform.YOUTUBE, UPLOAD_BUCKET)
        full = full or uploads >= QUOTA_LIMITS[UPLOAD_BUCKET]
    if not full:
        return None
    until = next_pacific_midnight()
    bucket = DEFAULT_BUCKET if needed and used + needed > limit else UPLOAD_BUCKET
    store.mark_exhausted(Platform.YOUTUBE, bucket, until)
    return until


def upload_retry(rules: UploadSettings) -> RetryPolicy:
    """The retry policy of YouTube's and VK's calls: `upload_settings.retry_attempts` retries
    after the first try (the seed's meaning of the field), the first after about `retry_delay`
    seconds; the patience and the cap of the HTTP settings."""
    return RetryPolicy.from_settings(
        attempts=rules.retry_attempts + 1, backoff_base=rules.retry_delay
    )


def _come_back_later(
    job: UploadJob, platform: Platform, exc: WaitTooLong, name: str
) -> PlatformResult:
    """The platform asked (`Retry-After`) for a longer wait than the run's patience: the
    publication waits until then, not a failure."""
    reason = f"{name} asks to wait: {human_reason(exc)}"
    job.publications.mark_waiting(job.recording_id, platform, exc.resume_at, reason)
    run_logger().warning("Recording %s: %s", job.recording_id, reason)
    return _waiting(exc.resume_at)


def publish_youtube(job: UploadJob, publication: Publication) -> PlatformResult:
    """Upload (or resume), then thumbnail, playlist and captions; each recorded as it is done."""
    platform = Platform.YOUTUBE
    rid = job.recording_id
    store = job.publications
    settings = job.config.platforms.youtube
    # Checked before any quota is spent; a thumbnail YouTube refused is not tried again.
    thumbnail = None if publication.thumbnail_refused else job.thumbnail(publication)
    path = job.media() if publication.remote_id is None else None
    if until := _quota_wait(job, publication, thumbnail):
        reason = f"YouTube quota used up; uploads resume at {until.isoformat()}"
        store.mark_waiting(rid, platform, until, reason)
        run_logger().info("Recording %s: %s", rid, reason)
        return _waiting(until)

    rules = job.config.upload_settings
    counter = QuotaCounter(store)
    client = YouTubeClient(
        youtube_token_info(),
        api_url=job.settings.youtube_api_url,
        chunk_size=int(settings.chunk_size_mb * MIB),
        retry=upload_retry(rules),
        on_quota=counter,
    )
    size = path.stat().st_size if path else publication.total_bytes or 0
    store.start_attempt(rid, platform, size)
    try:
        video_id = publication.remote_id
        if video_id is None:
            assert path is not None
            video_id = _youtube_video(job, publication, client, path)
        if thumbnail is not None:
            _youtube_thumbnail(job, client, video_id, thumbnail)
        _youtube_playlist(job, publication, client, video_id)
        _youtube_captions(job, publication, client, video_id)
    except QuotaExceeded as exc:
        store.mark_exhausted(platform, counter.last_bucket, exc.resume_at)
        store.mark_waiting(rid, platform, exc.resume_at, human_reason(exc))
        run_logger().warning("Recording %s: %s", rid, human_reason(exc))
        return _waiting(exc.resume_at)
    except WaitTooLong as exc:
        return _come_back_later(job, platform, exc, "YouTube")
    store.mark_uploaded(rid, platform)
    return UPLOADED


def _youtube_metadata(job: UploadJob, publication: Publication) -> VideoMetadata:
    settings = job.config.platforms.youtube
    rendered = job.rendered
    marker = youtube_marker(job.row.zoom_uuid)
    description = f"{rendered.description}\n\n{marker}" if rendered.description else marker
    return VideoMetadata(
        title=job.title(publication, rendered.youtube_title),
        description=description,
        tags=list(rendered.tags),
        category_id=settings.category_id,
        privacy_status=settings.default_privacy,
        default_language=settings.default_language or None,
        made_for_kids=False,
    )


def _youtube_video(
    job: UploadJob, publication: Publication, client: YouTubeClient, path: Path
) -> str:
    """The video id: a stored session resumed, a lost answer found, or a new upload."""
    platform, rid, store = Platform.YOUTUBE, job.recording_id, job.publications
    metadata = _youtube_metadata(job, publication)
    store.update(rid, platform, title=metadata.title)
    size = path.stat().st_size
    stamp = media_stamp(path)

    def on_session(uri: str) -> None:
        store.record_session(rid, platform, uri, media=stamp)

    with Tracker(f"upload-{rid}-youtube", f"Uploading {rid} to YouTube", size) as tracker:

        def on_progress(confirmed: int) -> None:
            store.record_progress(rid, platform, confirmed)
            tracker(confirmed)

        def upload(session_uri: str | None) -> dict[str, Any]:
            return client.upload_video(
                path,
                metadata,
                session_uri=session_uri,
                on_session=on_session,
                on_progress=on_progress,
            )

        session = publication.upload_session
        try:
            video = None
            # A session stored before copies were told apart (no `session_media`) is resumed.
            if session is not None and publication.session_media not in (None, stamp):
                video = _finished_elsewhere(job, publication, client, session)
                session = None
            video = video or upload(session)
        except UploadSessionGone:
            # The session expired or was lost: the video may exist already (the answer to the
            # last chunk was lost). Only when it does not is the file sent again.
            found = client.find_video(marker=youtube_marker(job.row.zoom_uuid))
            if found is not None:
                run_logger().info("Recording %s: found video %s on YouTube", rid, found["id"])
                video = found
            else:
                run_logger().info("Recording %s: upload session gone; starting over", rid)
                store.update(rid, platform, upload_session=None, bytes_confirmed=0)
                video = upload(None)
    video_id = str(video["id"])
    store.update(
        rid,
        platform,
        remote_id=video_id,
        url=client.video_url(video_id),
        upload_session=None,
        bytes_confirmed=size,
    )
    run_logger().info("Recording %s: uploaded to YouTube as %s", rid, video_id)
    return video_id


def media_stamp(path: Path) -> str:
    """Which copy of the media a file is ("size:mtime_ns"): a copy made again differs."""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _finished_elsewhere(
    job: UploadJob, publication: Publication, client: YouTubeClient, session: str
) -> dict[str, Any] | None:
    """The video of a stored session that was sending another copy of the media (one made
    before a takeover, or before the file was lost), if that upload finished; else the session
    is dropped, since this copy's bytes may differ from what it holds, and None."""
    rid = job.recording_id
    size = int(str(publication.session_media).split(":")[0])
    state = client.query_session(session, size)
    if isinstance(state, dict):
        run_logger().info("Recording %s: an earlier copy's upload had finished", rid)
        return state
    run_logger().info(
        "Recording %s: the stored YouTube session was sending another copy of the media "
        "(%d bytes confirmed); uploading this copy from the start",
        rid,
        state,
    )
    job.publications.update(rid, Platform.YOUTUBE, upload_session=None, bytes_confirmed=0)
    return None


def _youtube_thumbnail(job: UploadJob, client: YouTubeClient, video_id: str, path: Path) -> None:
    """Set the custom thumbnail; one the channel may not set is noted and warned about once."""
    rid, store = job.recording_id, job.publications
    try:
        client.set_thumbnail(video_id, path)
    except CustomThumbnailsForbidden as exc:
        # The video is there already: it stays published without the thumbnail, and the
        # playlist and captions still follow.
        store.update(rid, Platform.YOUTUBE, thumbnail_refused=human_reason(exc))
        run_logger().warning("Recording %s: %s", rid, human_reason(exc))
        return
    store.update(rid, Platform.YOUTUBE, thumbnail_done=True)


def _youtube_playlist(
    job: UploadJob, publication: Publication, client: YouTubeClient, video_id: str
) -> None:
    rendered = job.rendered
    title = rendered.youtube_playlist_title
    if publication.collection_done or not (rendered.youtube_playlist_id or title):
        return
    rid, store = job.recording_id, job.publications
    playlist_id = publication.collection_id or rendered.youtube_playlist_id
    if not playlist_id:
        assert title is not None
        with collection_lock(Platform.YOUTUBE, title):
            playlist_id = client.find_or_create_playlist(
                title, privacy_status=job.config.platforms.youtube.default_privacy
            )
        store.update(rid, Platform.YOUTUBE, collection_id=playlist_id)
    client.add_to_playlist(playlist_id, video_id)  # a no-op when the video is there already
    store.update(rid, Platform.YOUTUBE, collection_done=True)


def _youtube_captions(
    job: UploadJob, publication: Publication, client: YouTubeClient, video_id: str
) -> None:
    """Zoom's transcript, shifted by the cut, as the video's caption track (once)."""
    captions = job.captions()
    if publication.caption_done or captions is None:
        return
    language = job.config.platforms.youtube.default_language
    client.insert_caption(video_id, captions, language=language, name="Transcript")
    job.publications.update(job.recording_id, Platform.YOUTUBE, caption_done=True)
    run_logger().info("Recording %s: captions added on YouTube", job.recording_id)


# ---- VK -------------------------------------------------------------------------------------


def _vk_ids(remote_id: str) -> tuple[int, int]:
    owner, _, video = remote_id.partition("_")
    return int(owner), int(video)


def _vk_waiting(job: UploadJob, until: datetime, reason: str) -> PlatformResult:
    """The publication waits for VK's daily limit to reset: not a failure."""
    job.publications.mark_waiting(job.recording_id, Platform.VK, until, reason)
    run_logger().warning("Recording %s: %s", job.recording_id, reason)
    return _waiting(until)


def publish_vk(job: UploadJob, publication: Publication) -> PlatformResult:
    """`video.save` (id stored first), the streamed upload, then album and cover.

    Error 29 (a method's daily limit, e.g. video.save's 5,000 calls) marks VK used up until the
    next Moscow midnight and makes this and every later VK publication wait, without a call.
    """
    platform = Platform.VK
    rid, store = job.recording_id, job.publications
    settings = job.config.platforms.vk
    thumbnail = job.thumbnail(publication)  # checked before any call
    path = job.media() if publication.remote_id is None else None
    credentials = vk_credentials()
    group = vk_publishing_group(settings.group_id, credentials.group_id)
    if until := store.exhausted_until(platform):
        reason = f"VK daily method limit used up; uploads resume at {until.isoformat()}"
        return _vk_waiting(job, until, reason)
    rules = job.config.upload_settings
    client = VkClient(
        credentials.access_token.get_secret_value(),
        group_id=group,
        api_url=job.settings.vk_api_url,
        retry=upload_retry(rules),
    )
    store.start_attempt(rid, platform, path.stat().st_size if path else publication.total_bytes)
    try:
        _vk_publish(job, publication, client, thumbnail, path)
    except VkDailyLimitReached as exc:
        store.mark_exhausted(platform, exc.method, exc.resume_at)
        return _vk_waiting(job, exc.resume_at, human_reason(exc))
    except WaitTooLong as exc:
        return _come_back_later(job, platform, exc, "VK")
    store.mark_uploaded(rid, platform)
    return UPLOADED


def _vk_publish(
    job: UploadJob,
    publication: Publication,
    client: VkClient,
    thumbnail: Path | None,
    path: Path | None,
) -> None:
    """The VK steps still to do, each recorded in the store as it is done."""
    platform = Platform.VK
    rid, store = job.recording_id, job.publications
    settings = job.config.platforms.vk
    album_id = _vk_album(job, publication, client)
    collection_done = publication.collection_done

    ids = _vk_ids(publication.remote_id) if publication.remote_id else None
    if ids is not None and client.video_state(*ids) is VideoState.MISSING:
        # Saved, but the file never arrived: drop that empty video, save a fresh one (with a
        # new upload URL) so that the group is left with exactly one copy.
        run_logger().info("Recording %s: VK video %s_%s has no file; replacing it", rid, *ids)
        client.delete_video(*ids)
        ids = None
    if ids is None:
        path = path or job.media()
        saved = client.save_video(
            job.title(publication, job.rendered.vk_title),
            description=job.rendered.description[:DESCRIPTION_LIMIT],
            album_id=album_id,
            privacy_view=settings.default_privacy,
            privacy_comment=settings.privacy_comment,
            no_comments=settings.no_comments,
            repeat=settings.repeat,
        )
        ids = (saved.owner_id, saved.video_id)
        collection_done = album_id is not None  # saved into the album already
        store.update(
            rid,
            platform,
            title=job.title(publication, job.rendered.vk_title),
            remote_id=f"{saved.owner_id}_{saved.video_id}",
            url=client.video_url(*ids),
            collection_done=collection_done,
            bytes_confirmed=0,
        )
        size = path.stat().st_size
        with Tracker(f"upload-{rid}-vk", f"Uploading {rid} to VK", size) as tracker:
            client.upload(saved, path, on_progress=tracker)
        store.update(rid, platform, bytes_confirmed=size)
        run_logger().info("Recording %s: uploaded to VK as %s_%s", rid, *ids)
    if album_id is not None and not collection_done:
        client.add_to_album(album_id, *ids)  # False (error 800) when it is there already
        store.update(rid, platform, collection_done=True)
    if thumbnail is not None and not publication.thumbnail_done:
        client.set_cover(*ids, thumbnail)
        store.update(rid, platform, thumbnail_done=True)


def _vk_album(job: UploadJob, publication: Publication, client: VkClient) -> int | None:
    rendered = job.rendered
    if publication.collection_id:
        return int(publication.collection_id)
    if rendered.vk_album_id:
        return vk_number(rendered.vk_album_id, f"vk_album_id of the rule {rendered.rule_pattern!r}")
    if not rendered.vk_album_title:
        return None
    with collection_lock(Platform.VK, rendered.vk_album_title):
        album_id = client.find_or_create_album(rendered.vk_album_title)
    job.publications.update(job.recording_id, Platform.VK, collection_id=str(album_id))
    return album_id


PUBLISHERS: dict[Platform, Callable[[UploadJob, Publication], PlatformResult]] = {
    Platform.YOUTUBE: publish_youtube,
    Platform.VK: publish_vk,
}


# ---- the stage ------------------------------------------------------------------------------


def _missing_media(row: Recording, chosen: list[Platform]) -> Path | None:
    """The recording's media file, when it is gone and a chosen platform is not done yet."""
    name = row.processed_path or row.source_path
    if not name or Path(name).is_file():
        return None
    done = {p.platform for p in row.publications if p.status == PlatformStatus.UPLOADED}
    return Path(name) if set(chosen) - done else None


def publish(row: Recording, platforms: list[str]) -> StageOutcome:
    """Publish one claimed recording on every requested, enabled platform not yet done."""
    settings = get_settings()
    config = load_app_config(settings.app_config, missing_ok=True)
    chosen = select_platforms(platforms, config)
    job = UploadJob(row, config, settings, PublicationStore(get_store()))
    if missing := _missing_media(row, chosen):
        return download_again(row, missing)
    logger = run_logger()
    results: dict[Platform, PlatformResult] = {}
    for platform in chosen:
        publication = job.publications.get_or_create(row.id, platform)
        if publication.status == PlatformStatus.UPLOADED:
            results[platform] = UPLOADED
            continue
        try:
            results[platform] = PUBLISHERS[platform](job, publication)
        except LostClaimError:
            raise
        except Exception as exc:
            reason = human_reason(exc)
            job.publications.mark_failed(row.id, platform, reason)
            logger.warning("Recording %s: %s upload failed: %s", row.id, platform.value, reason)
            results[platform] = PlatformResult(PlatformStatus.FAILED, error=exc)

    failures = {p: r.error for p, r in results.items() if r.error is not None}
    if failures:
        raise UploadError(row.id, failures)
    waits = {p: r.waiting_until for p, r in results.items() if r.waiting_until is not None}
    if waits:
        until = max(waits.values())
        names = " and ".join(f"{PLATFORM_NAMES[p]} quota" for p in waits)
        return StageOutcome(
            status=ProcessingStatus.PROCESSED,
            reason=f"waiting for {names} until {until.isoformat()}",
            # Waiting is not a failed try: the row must stay claimable once the quota resets.
            fields={"not_before": until, "attempts": 0},
        )
    return StageOutcome(fields={"not_before": None})


@retrying_task("upload-recording")
def upload_recording(
    recording_id: int, worker: str, platforms: list[str]
) -> ProcessingStatus | DiskWait | State:
    """Publish a recording this worker claimed (UPLOADING) to `platforms` ("youtube", "vk").

    UPLOADED when every requested, enabled platform has it; PROCESSED with `not_before` when a
    platform waits for its quota; otherwise the row is FAILED and a Failed state is returned
    (the task run ends Failed) whose message lists each platform's reason.
    A rerun skips what is done: published platforms, stored sessions, finished follow-ups.
    """
    return run_claimed("upload", recording_id, worker, lambda row: publish(row, list(platforms)))
