"""VK client: video.save, a streamed upload with bounded memory, state checks, albums, covers.

Plain Python (no Prefect). API methods go through vk_api, whose hard-coded
`https://api.vk.ru/method/` (older releases `api.vk.com`) is rewritten to `VK_API_URL` by the
`requests.Session` it is given. The file upload does not use `VkUpload` (it reads the whole file
into memory): the multipart body is a file-like object with a length, read from disk in blocks.

Crash safety is the caller's loop: store `SavedVideo.video_id`/`owner_id` before `upload`; after
a crash, `video_state` tells whether the file already arrived (`PROCESSING`/`READY`) before
uploading again. Errors 6, 9 and 10, HTTP 5xx and network failures are retried under the shared
`RetryPolicy` (`integrations/http/retry.py`; error 9, flood control, backs off `FLOOD_SLOWDOWN`
times longer); vk_api's exceptions are mapped to this module's errors in one place
(`_api_error`). 5 raises `VkAuthError`, 14 `VkCaptchaRequired`,
27 (a community token) `VkGroupTokenError`, 29 (a method's daily limit) `VkDailyLimitReached`.
`check_publishing` asks VK whether a token can publish to its community at all.
"""

from __future__ import annotations

import enum
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
import vk_api
from jconfig.memory import MemoryConfig
from vk_api.exceptions import ApiError, ApiHttpError, Captcha

from config.settings import get_settings
from integrations.clock import next_midnight
from integrations.errors import IntegrationError
from integrations.http.redact import install_log_redaction
from integrations.http.retry import RetryPolicy
from integrations.http.timeouts import http_timeout
from integrations.thumbnails import check_thumbnail

log = logging.getLogger(__name__)
install_log_redaction()

API_VERSION = "5.199"
VK_METHOD_PREFIXES = ("https://api.vk.ru/method/", "https://api.vk.com/method/")
RATE_LIMIT_CODES = {6: "too many requests per second", 9: "flood control", 10: "internal error"}
# Error 9 asks to slow down without saying for how long: its waits are this many times the
# policy's backoff (with its jitter, at least five times the base delay).
FLOOD_CONTROL = 9
FLOOD_SLOWDOWN = 10.0
ALREADY_IN_ALBUM = 800
# Error codes from VKCOM/vk-api-schema errors.json: api_error_group_auth (27, "Group authorization
# failed") and api_error_rate_limit (29, "Rate limit reached").
GROUP_AUTH_FAILED = 27
DAILY_LIMIT_REACHED = 29
# video.save: `description` "The maximum number of symbols is 5,000" (dev.vk.com/method/video.save).
DESCRIPTION_LIMIT = 5000
MOSCOW = ZoneInfo("Europe/Moscow")


# ---- errors ---------------------------------------------------------------------------------


class VkError(IntegrationError):
    """Base of every error this module raises. `retryable` tells a task whether to try again."""

    retryable = False


class VkAuthError(VkError):
    """Error 5: VK rejected the access token (expired, revoked or without the video scope)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"VK rejected the access token (error 5: {detail}). Create a new user access "
            "token of an administrator of the community, with the `video`, `groups` and "
            "`offline` rights, and store it with `zoom-publisher credentials import --vk <file>`."
        )


class VkCaptchaRequired(VkError):  # noqa: N818 (reads better as a state)
    """Error 14: VK wants a captcha, which an unattended upload cannot solve."""

    def __init__(self) -> None:
        super().__init__(
            "VK asks for a captcha (error 14): the account made too many similar requests. "
            "Open vk.com with this account in a browser, act once by hand (solve the captcha), "
            "wait a while, then run the upload again."
        )


class VkGroupTokenError(VkError):
    """Error 27: a community token; every `video.*` method takes a user token only.

    VKCOM/vk-api-schema video/methods.json: `"access_token_type": ["user"]` on every method.
    """

    def __init__(self, method: str) -> None:
        self.method = method
        super().__init__(
            f"VK refused {method} (error 27: group authorization failed): the token is a "
            "community token, and VK's video methods take a user token only. Create a user "
            "access token of an administrator of the community, with the `video`, `groups` and "
            "`offline` rights, put it in vk_creds.json and store it with "
            "`zoom-publisher credentials import --vk <file>`."
        )


class VkDailyLimitReached(VkError):  # noqa: N818 (reads better as a state)
    """Error 29: the app used up a method's daily limit (video.save: 5,000 calls a day).

    VK does not say when the limit resets; `resume_at` is the next midnight in Moscow (see
    `next_moscow_midnight`). Not retryable within a run: the caller waits.
    """

    def __init__(self, method: str, resume_at: datetime) -> None:
        self.method = method
        self.resume_at = resume_at
        super().__init__(
            f"VK's daily limit of {method} is used up (error 29: rate limit reached). Uploads "
            f"resume at {resume_at.isoformat()} (midnight Moscow time); the next scheduled run "
            "continues."
        )


class VkRateLimited(VkError):  # noqa: N818 (reads better as a state)
    """Errors 6/9/10 kept coming after every retry; try again later."""

    retryable = True


class VkTransientError(VkError):
    """A network failure or an HTTP 5xx that outlasted the retries."""

    retryable = True


class VkApiFailure(VkError):  # noqa: N818 (reads better as a state)
    """Any other VK API error: the request itself is wrong (bad album, bad parameter...)."""

    def __init__(self, method: str, code: int, message: str) -> None:
        self.method = method
        self.code = code
        super().__init__(f"VK {method} failed with error {code}: {message}")


class VkUploadError(VkError):
    """The upload server refused the file."""


# ---- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedVideo:
    """What `video.save` answered: store `video_id` and `owner_id` before uploading."""

    video_id: int
    owner_id: int
    upload_url: str
    access_key: str = ""


@dataclass(frozen=True)
class UploadResult:
    """What the upload server answered."""

    video_id: int
    owner_id: int
    size: int
    video_hash: str


class VideoState(enum.Enum):
    """Where a saved video stands, as `video.get` shows it."""

    MISSING = "missing"  # the file never arrived (upload it)
    PROCESSING = "processing"  # the file arrived, VK is converting it
    READY = "ready"


@dataclass(frozen=True)
class VideoCheck:
    """What `video.get` reports of one video.

    Fields per VKCOM/vk-api-schema video/objects.json (`video_video_full`): `duration` (seconds),
    `files` (`video_video_files`: the mp4_* URLs), `processing` (set while VK processes the file)
    and `converting`.
    """

    listed: bool  # video.get returned it
    processing: bool  # `processing` or `converting` is set
    has_files: bool  # `files` is present
    duration: float | None  # None while processing and while no file is there

    @property
    def state(self) -> VideoState:
        """MISSING unless the file arrived: processing, or listed with files or a duration.

        No source says whether `video.get` lists a video saved without its file yet; a listed
        video without files, duration or processing flag is taken as missing, so the caller
        uploads (after deleting the empty video) instead of publishing an empty one.
        """
        if self.processing:
            return VideoState.PROCESSING
        if self.listed and (self.has_files or self.duration):
            return VideoState.READY
        return VideoState.MISSING


@dataclass(frozen=True)
class PublishingCheck:
    """What VK said of a token and the community it publishes to."""

    token_problem: str | None = None  # the token cannot publish anywhere (community, revoked)
    community_problem: str | None = None  # it cannot publish to this community
    notes: tuple[str, ...] = ()

    @property
    def problems(self) -> list[str]:
        return [p for p in (self.token_problem, self.community_problem) if p]


def next_moscow_midnight(now: datetime | None = None) -> datetime:
    """When VK's daily limits are taken to reset: the coming midnight in Europe/Moscow (aware).

    VK does not say (error 29 carries no time; dev.vk.com gives the limits per day). Moscow's
    midnight is the earliest plausible reset of a per-day limit of a Moscow-based service; if
    the limit is a rolling 24 hours instead, the call made then is refused once more and waits
    again, while waiting a full 24 hours would delay every upload by up to a day for nothing.
    """
    return next_midnight(MOSCOW, now)


# ---- plumbing -------------------------------------------------------------------------------


class _RewritingSession(requests.Session):
    """A requests session that sends vk_api's hard-coded API URL to `api_url`, with a timeout."""

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/") + "/"
        self.timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        text = url.decode() if isinstance(url, bytes) else url
        for prefix in VK_METHOD_PREFIXES:
            if text.startswith(prefix):
                text = self.api_url + text[len(prefix) :]
                break
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, text, *args, **kwargs)


class MultipartFile:
    """A `multipart/form-data` body with one file field, read from disk block by block.

    It has a length and no `__iter__`, so requests sends `Content-Length` (not chunked) and
    urllib3 streams it through `read`; memory stays at one block whatever the file size.
    """

    def __init__(
        self,
        path: str | Path,
        field: str,
        *,
        content_type: str = "application/octet-stream",
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.boundary = secrets.token_hex(16)
        name = self.path.name.replace('"', "_")
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._size = self.path.stat().st_size
        self._file = self.path.open("rb")
        self._pos = 0
        self._on_progress = on_progress
        self._sent_file = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 20
        out = b""
        head_end = len(self._head)
        file_end = head_end + self._size
        if self._pos < head_end:
            out = self._head[self._pos : self._pos + size]
        elif self._pos < file_end:
            out = self._file.read(min(size, file_end - self._pos))
            self._sent_file += len(out)
            if self._on_progress is not None:
                self._on_progress(self._sent_file)
        else:
            start = self._pos - file_end
            out = self._tail[start : start + size]
        self._pos += len(out)
        return out

    def close(self) -> None:
        self._file.close()


def _raise(error: Exception) -> None:
    raise error


def _api_error(method: str, exc: Exception, failures: int) -> VkError:
    """vk_api's (or requests') exception from calling `method`, as this module's error, the
    one place they are mapped; `failures`: the failed tries so far, for the message.

    Rate limits (6, 9, 10), HTTP 429/5xx and network failures are retryable; the rest not.
    """
    if isinstance(exc, Captcha):
        return VkCaptchaRequired()
    if isinstance(exc, ApiError):
        code = exc.code
        message = str(exc.error.get("error_msg", ""))
        if code == 5:
            return VkAuthError(message)
        if code == 14:
            return VkCaptchaRequired()
        if code == GROUP_AUTH_FAILED:
            return VkGroupTokenError(method)
        if code == DAILY_LIMIT_REACHED:
            return VkDailyLimitReached(method, next_moscow_midnight())
        if code not in RATE_LIMIT_CODES:
            return VkApiFailure(method, code, message)
        return VkRateLimited(
            f"VK {method} kept answering error {code} ({RATE_LIMIT_CODES[code]}) "
            f"after {failures} attempts; try again later."
        )
    if isinstance(exc, ApiHttpError):
        status = exc.response.status_code
        if status < 500 and status != 429:
            return VkError(f"VK {method} answered HTTP {status}; check VK_API_URL")
        return VkTransientError(f"VK {method} answered HTTP {status}; retry later")
    return VkTransientError(f"VK {method} failed: {type(exc).__name__}; check the network")


def _what_failed(exc: Exception) -> str:
    """A failed call in a few words, for the log."""
    if isinstance(exc, ApiError):
        return f"error {exc.code}"
    if isinstance(exc, ApiHttpError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


# ---- the client -----------------------------------------------------------------------------


class VkClient:
    """One VK user or community token (not thread-safe: one per task)."""

    def __init__(
        self,
        token: str,
        *,
        group_id: int | str | None = None,
        api_url: str | None = None,
        api_version: str = API_VERSION,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        rps_delay: float = vk_api.VkApi.RPS_DELAY,
    ) -> None:
        settings = get_settings()
        self.group_id = abs(int(group_id)) if group_id else None
        self.api_url = api_url or settings.vk_api_url
        self.timeout = http_timeout(timeout)
        self.retry = retry or RetryPolicy.from_settings()
        self._flood_retry = self.retry.slower(FLOOD_SLOWDOWN)
        self._session = _RewritingSession(self.api_url, self.timeout)
        self._vk = vk_api.VkApi(
            token=token, api_version=api_version, session=self._session, config=MemoryConfig
        )
        self._vk.RPS_DELAY = rps_delay
        # vk_api sleeps 0.5 s and retries error 6 once by itself; retry 6 and 9 here instead,
        # under the policy (its sleep injectable). Captchas are raised, never prompted for.
        self._vk.error_handlers[6] = _raise
        self._vk.error_handlers[14] = _raise
        self._upload_http = requests.Session()

    def __repr__(self) -> str:
        return f"VkClient(group_id={self.group_id!r}, api_url={self.api_url!r})"

    @property
    def owner_id(self) -> int | None:
        """The owner of the community's videos and albums (negative), None for the user's own."""
        return -self.group_id if self.group_id else None

    # ---- API calls ----

    def call(self, method: str, **params: Any) -> Any:
        """Call an API method (None values left out) with retries for 6/9/10, 5xx and network."""
        values = {k: v for k, v in params.items() if v is not None}
        failures = 0
        while True:
            policy, retry_after = self.retry, None
            try:
                return self._vk.method(method, values)
            except (Captcha, ApiError, ApiHttpError, requests.RequestException) as exc:
                failures += 1
                error = _api_error(method, exc, failures)
                if not error.retryable or self.retry.exhausted(failures):
                    raise error from None
                if isinstance(exc, ApiError) and exc.code == FLOOD_CONTROL:
                    policy = self._flood_retry
                if isinstance(exc, ApiHttpError):
                    retry_after = self.retry.retry_after(exc.response.headers.get("Retry-After"))
                log.warning("VK %s: %s; retry %d", method, _what_failed(exc), failures)
            policy.wait(failures, retry_after)

    def save_video(
        self,
        name: str,
        *,
        description: str = "",
        album_id: int | None = None,
        privacy_view: str | None = None,
        privacy_comment: str | None = None,
        no_comments: bool = False,
        repeat: bool = False,
        wallpost: bool = False,
    ) -> SavedVideo:
        """`video.save`: create the video, get its upload URL; store the ids before uploading."""
        response = self.call(
            "video.save",
            name=name,
            description=description,
            group_id=self.group_id,
            album_id=album_id,
            privacy_view=privacy_view,
            privacy_comment=privacy_comment,
            no_comments=int(no_comments),
            repeat=int(repeat),
            wallpost=int(wallpost),
        )
        return SavedVideo(
            video_id=int(response["video_id"]),
            owner_id=int(response["owner_id"]),
            upload_url=response["upload_url"],
            access_key=response.get("access_key", ""),
        )

    def upload(
        self,
        saved: SavedVideo,
        path: str | Path,
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> UploadResult:
        """Stream `path` to the upload URL (field `video_file`), with bounded memory.

        On a network error or 5xx it checks `video_state` before sending again, so a file that
        did arrive is not sent twice.
        """
        failures = 0
        while True:
            try:
                return self._post_file(saved, Path(path), on_progress)
            except (requests.RequestException, VkTransientError) as exc:
                failures += 1
                if self.retry.exhausted(failures):
                    raise VkTransientError(
                        f"uploading to VK failed {failures} times ({type(exc).__name__}); "
                        "check the network and run the upload again"
                    ) from None
                log.warning("VK upload failed (%s), retry %d", type(exc).__name__, failures)
            self.retry.wait(failures)
            if self.video_state(saved.owner_id, saved.video_id) is not VideoState.MISSING:
                log.info("VK already has the file of video %s", saved.video_id)
                return UploadResult(saved.video_id, saved.owner_id, Path(path).stat().st_size, "")

    def _post_file(
        self, saved: SavedVideo, path: Path, on_progress: Callable[[int], None] | None
    ) -> UploadResult:
        body = MultipartFile(path, "video_file", content_type="video/mp4", on_progress=on_progress)
        try:
            response = self._upload_http.post(
                saved.upload_url,
                data=body,
                headers={"Content-Type": body.content_type},
                timeout=self.timeout,
            )
        finally:
            body.close()
        if response.status_code >= 500:
            raise VkTransientError(f"the VK upload server answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = {"error": response.text[:200]}
        if not response.ok or "error" in answer:
            raise VkUploadError(
                f"the VK upload server refused the file ({response.status_code}: "
                f"{answer.get('error')}); call save_video again for a fresh upload URL"
            )
        return UploadResult(
            video_id=int(answer.get("video_id", saved.video_id)),
            owner_id=int(answer.get("owner_id", saved.owner_id)),
            size=int(answer.get("size", 0)),
            video_hash=str(answer.get("video_hash", "")),
        )

    def video_check(self, owner_id: int, video_id: int) -> VideoCheck:
        """What VK reports of a video: listed, processing, its files, its duration."""
        response = self.call("video.get", owner_id=owner_id, videos=f"{owner_id}_{video_id}")
        items = response.get("items", [])
        if not items:
            return VideoCheck(listed=False, processing=False, has_files=False, duration=None)
        item = items[0]
        processing = bool(item.get("processing") or item.get("converting"))
        has_files = bool(item.get("files"))
        seconds = float(item.get("duration") or 0)
        duration = seconds if seconds and not processing else None
        return VideoCheck(True, processing, has_files, duration)

    def video_state(self, owner_id: int, video_id: int) -> VideoState:
        """Whether the file of a saved video arrived (`PROCESSING`/`READY`) or not (`MISSING`)."""
        return self.video_check(owner_id, video_id).state

    def delete_video(self, owner_id: int, video_id: int) -> None:
        """Delete a video (e.g. the empty one a crash left between `video.save` and upload)."""
        self.call("video.delete", owner_id=owner_id, video_id=video_id)

    # ---- checks ----

    def check_publishing(self, privacy_view: str | None = None) -> PublishingCheck:
        """Whether this token can publish to `group_id`, asked of VK with two cheap calls.

        `video.getAlbums` takes a user token only (VKCOM/vk-api-schema video/methods.json), so a
        community token gets error 27 there. `groups.getById` takes any token and, for a user
        token, tells `can_upload_video`, `admin_level` and `is_closed` (groups/objects.json);
        `privacy_view` "all" is only for open communities (dev.vk.com/reference/objects/privacy).
        A network failure is a note: the token is then not checked.
        """
        try:
            self.call("video.getAlbums", count=1)
        except (VkGroupTokenError, VkAuthError) as exc:
            return PublishingCheck(token_problem=str(exc))
        except (VkTransientError, VkRateLimited) as exc:
            return PublishingCheck(notes=(f"the VK token was not checked: {exc}",))
        notes = ["VK takes the token as a user token"]
        if self.group_id is None:
            return PublishingCheck(notes=(*notes, "no community to check: no group_id is set"))
        fields = "is_closed,is_admin,admin_level,can_upload_video"
        try:
            answer = self.call("groups.getById", group_id=self.group_id, fields=fields)
        except (VkTransientError, VkRateLimited) as exc:
            return PublishingCheck(notes=(*notes, f"the community was not checked: {exc}"))
        except VkApiFailure as exc:
            return PublishingCheck(community_problem=f"community {self.group_id}: {exc}")
        group = answer["groups"][0]
        name = f"community {group.get('name', '')!r} ({self.group_id})"
        if not group.get("can_upload_video"):
            return PublishingCheck(
                community_problem=f"the token's user may not upload videos to {name}: make "
                "them an administrator of it on VK, or store a token of one who is",
                notes=tuple(notes),
            )
        roles = {1: "moderator", 2: "editor", 3: "administrator"}
        role = roles.get(int(group.get("admin_level") or 0), "member")
        notes.append(f"its user, {role} of {name}, may upload videos there")
        if privacy_view == "all" and group.get("is_closed"):
            notes.append(
                f"{name} is not open, and privacy all (0) is only for open communities: set "
                "platforms.vk.default_privacy to members (1) or by_link (3)"
            )
        return PublishingCheck(notes=tuple(notes))

    # ---- albums ----

    def find_album(self, title: str) -> int | None:
        """The id of the album titled exactly `title`, if any."""
        offset = 0
        while True:
            page = self.call("video.getAlbums", owner_id=self.owner_id, offset=offset, count=100)
            items = page.get("items", [])
            for album in items:
                if album.get("title") == title:
                    return int(album["id"])
            offset += len(items)
            if not items or offset >= int(page.get("count", 0)):
                return None

    def find_or_create_album(self, title: str) -> int:
        """The id of the album titled `title`, created when there is none.

        No `privacy` is sent: video.addAlbum's takes a user's codes only ("0" all, "1" friends,
        "2" friends of friends, "3" only me; VKCOM/vk-api-schema video/methods.json), and no
        source says what they mean for a community's album.
        """
        if (found := self.find_album(title)) is not None:
            return found
        response = self.call("video.addAlbum", group_id=self.group_id, title=title)
        log.info("VK album created: %s", title)
        return int(response["album_id"])

    def add_to_album(self, album_id: int, owner_id: int, video_id: int) -> bool:
        """Add a video to an album; False when it is already there (error 800)."""
        try:
            self.call(
                "video.addToAlbum",
                target_id=self.owner_id,
                album_id=album_id,
                owner_id=owner_id,
                video_id=video_id,
            )
        except VkApiFailure as exc:
            if exc.code == ALREADY_IN_ALBUM:
                return False
            raise
        return True

    # ---- cover ----

    def set_cover(self, owner_id: int, video_id: int, path: str | Path) -> dict[str, Any]:
        """Upload `path` as the video's cover (`video.getThumbUploadUrl` + `saveUploadedThumb`).

        The image is checked first (JPEG/PNG, at most 2 MB).
        """
        mime = check_thumbnail(path)
        upload_url = self.call("video.getThumbUploadUrl", owner_id=owner_id)["upload_url"]
        body = MultipartFile(path, "file", content_type=mime)
        try:
            response = self._upload_http.post(
                upload_url,
                data=body,
                headers={"Content-Type": body.content_type},
                timeout=self.timeout,
            )
        finally:
            body.close()
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not response.ok or not isinstance(answer, dict) or "error" in answer:
            raise VkUploadError(
                f"the VK cover upload was refused ({response.status_code}: {answer.get('error')})"
            )
        thumb_json = answer.get("thumb_json")
        if thumb_json is None:
            thumb_json = response.text
        elif not isinstance(thumb_json, str):
            thumb_json = json.dumps(thumb_json)
        return self.call(
            "video.saveUploadedThumb",
            owner_id=owner_id,
            video_id=video_id,
            thumb_json=thumb_json,
            thumb_size=answer.get("thumb_size"),
            random_tag=answer.get("random_tag"),
            set_thumb=1,
        )

    @staticmethod
    def video_url(owner_id: int, video_id: int) -> str:
        return f"https://vk.com/video{owner_id}_{video_id}"
