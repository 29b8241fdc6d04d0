"""YouTube Data API v3 client: crash-safe resumable uploads, thumbnails, playlists, captions.

Plain Python (no Prefect). The service is built from google-api-python-client's bundled
discovery document with `rootUrl` replaced by `YOUTUBE_API_URL`, so the same code talks to Google
or to the sandbox. Uploads are designed to survive a crash at any point:

1. `upload_video` opens the resumable session itself and hands the session URI to `on_session`
   before a single byte of the file goes out, so the caller can store it;
2. chunks (a multiple of 256 KiB) follow; after each chunk the server confirms, `on_progress`
   gets the confirmed byte count;
3. on a 5xx, a timeout or a dropped connection it asks the session where it stands
   (`Content-Range: bytes */SIZE`) and goes on from the server's offset, waiting as the shared
   `RetryPolicy` says; a later process passes the stored `session_uri` and does the same;
4. a session that is gone (404/410) raises `UploadSessionGone`: look for an already created
   video (`find_video(marker=...)`) before starting over.

Every call that reaches the API is reported to `on_quota(QuotaUse)` so the caller can count
units per Pacific day; `quotaExceeded` and `uploadLimitExceeded` raise `QuotaExceeded` with the
time the quota resets (midnight America/Los_Angeles).

Retries: every loop here (API requests, opening the session, chunks and session queries) counts
its failures against one `RetryPolicy` (`integrations/http/retry.py`: `attempts` tries in all,
capped jittered backoff, `Retry-After` honoured). google-api-python-client's own `num_retries`
is left at 0: its loop has another meaning of attempts (retries after the first), an uncapped
backoff whose jitter may be zero, ignores `Retry-After`, sleeps with `time.sleep` where tests
cannot see it, hides retried calls from the quota count, and on a chunk re-sends a stream slice
already read (an empty body under a non-zero `Content-Length`: the server waits, the call times
out).
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient import discovery_cache
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from config.settings import get_settings
from integrations.clock import next_midnight
from integrations.errors import IntegrationError
from integrations.http.redact import install_log_redaction
from integrations.http.retry import RetryPolicy
from integrations.http.timeouts import http_timeout
from integrations.iso8601 import parse_iso8601_duration
from integrations.thumbnails import check_thumbnail

log = logging.getLogger(__name__)
install_log_redaction()

SCOPES = (
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.force-ssl",
)
PACIFIC = ZoneInfo("America/Los_Angeles")
CHUNK_QUANTUM = 256 * 1024
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024

# Units per call, from developers.google.com/youtube/v3/determine_quota_cost (2025-2026):
# "The search.list and videos.insert methods have their own quota buckets. Each of these methods
# has a default daily limit of 100 per day. The quota cost is 1 per call." Every other method
# shares the 10,000-unit daily bucket. (The table used to list videos.insert at 1600 units;
# projects still on that scheme pass `quota_costs={"videos.insert": 1600}` and bucket "default".)
QUOTA_COSTS: dict[str, int] = {
    "videos.insert": 1,
    "videos.list": 1,
    "channels.list": 1,
    "thumbnails.set": 50,
    "playlists.list": 1,
    "playlists.insert": 50,
    "playlistItems.list": 1,
    "playlistItems.insert": 50,
    "captions.insert": 400,
}
UPLOAD_BUCKET = "videos.insert"
DEFAULT_BUCKET = "default"
QUOTA_LIMITS = {DEFAULT_BUCKET: 10_000, UPLOAD_BUCKET: 100}

_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    socket.timeout,
    TimeoutError,
    ConnectionError,
    http.client.HTTPException,
    httplib2.HttpLib2Error,
    google.auth.exceptions.TransportError,
    ssl.SSLError,
)


# ---- errors ---------------------------------------------------------------------------------


class YouTubeError(IntegrationError):
    """Base of every error this module raises. `retryable` tells a task whether to try again."""

    retryable = False


class YouTubeTransientError(YouTubeError):
    """A 5xx, 429 or network failure that outlasted the retries; trying later may succeed."""

    retryable = True


# What a resumed upload's status query may fail with and still be retried.
_QUERY_ERRORS: tuple[type[BaseException], ...] = (YouTubeTransientError, *_NETWORK_ERRORS)


class UploadInterrupted(YouTubeTransientError):  # noqa: N818 (names from the design)
    """The upload stopped on repeated network or server errors; its session is still valid.

    Call `upload_video` again with the stored `session_uri`: it continues from the server's byte.
    """


class UploadSessionGone(YouTubeError):  # noqa: N818 (names from the design)
    """The resumable session answered 404/410 (expired or unknown).

    Before starting a new upload, check that the video was not already created
    (`find_video(marker=...)`), then call `upload_video` without `session_uri`.
    """


class AuthRevoked(YouTubeError):  # noqa: N818 (names from the design)
    """The stored refresh token is revoked or expired, or Google refused the credentials."""

    def __init__(self, detail: str = "the refresh token was revoked or has expired") -> None:
        super().__init__(
            f"YouTube refused the stored credentials ({detail}). "
            "Run `zoom-publisher auth youtube` to sign in again."
        )


class QuotaExceeded(YouTubeError):  # noqa: N818 (names from the design)
    """The daily quota (`quotaExceeded`) or the channel's upload limit is used up.

    `resume_at` is the next midnight in America/Los_Angeles, when Google resets quotas.
    """

    def __init__(self, reason: str, resume_at: datetime) -> None:
        self.reason = reason
        self.resume_at = resume_at
        what = "upload limit" if reason == "uploadLimitExceeded" else "daily API quota"
        super().__init__(
            f"YouTube {what} is used up ({reason}). Uploads can resume at "
            f"{resume_at.isoformat()} (midnight Pacific time); the next scheduled run continues."
        )


class CustomThumbnailsForbidden(YouTubeError):  # noqa: N818 (names what YouTube refuses)
    """`thumbnails.set` answered 403 `forbidden`: this channel may not set custom thumbnails.

    YouTube says so for channels that are not verified (most new ones), and for a video the
    credentials may not change. The video itself is published; only its custom thumbnail is not.
    """

    def __init__(self, message: str) -> None:
        super().__init__(
            f"YouTube refused the custom thumbnail (403 forbidden: {message or 'no message'}). "
            "Verify the channel (https://www.youtube.com/verify) to allow custom thumbnails; "
            "the video is published with the thumbnail YouTube picks."
        )


class YouTubeRequestError(YouTubeError):
    """Google rejected the request itself (bad metadata, missing video...): do not retry."""

    def __init__(self, method: str, status: int, reason: str, message: str) -> None:
        self.method = method
        self.status = status
        self.reason = reason
        super().__init__(
            f"YouTube {method} failed with {status} {reason}: {message}. "
            "Fix the request (title mapping, IDs, files) before retrying."
        )


# ---- quota and time helpers -----------------------------------------------------------------


@dataclass(frozen=True)
class QuotaUse:
    """One call that reached the API: its method, the units it cost and the quota bucket."""

    method: str
    units: int
    bucket: str


def next_pacific_midnight(now: datetime | None = None) -> datetime:
    """When YouTube quotas reset next: the coming midnight in America/Los_Angeles (aware)."""
    return next_midnight(PACIFIC, now)


def pacific_day(now: datetime | None = None) -> date:
    """The quota day (a date in America/Los_Angeles) that `now` belongs to."""
    return (now or datetime.now(PACIFIC)).astimezone(PACIFIC).date()


# ---- credentials and consent ----------------------------------------------------------------


def credentials_from_info(info: Mapping[str, Any], scopes: Sequence[str] = SCOPES) -> Credentials:
    """google.oauth2 credentials from an authorized-user dict, keeping the dict's `token_uri`.

    google-auth's loader always sets Google's token endpoint; `with_token_uri` restores the
    one stored with the token, so a sandbox (or any other) endpoint is honoured.
    """
    creds = Credentials.from_authorized_user_info(dict(info), list(scopes))
    if info.get("token_uri"):
        creds = creds.with_token_uri(info["token_uri"])
    return creds


def credentials_to_info(creds: Credentials) -> dict[str, Any]:
    """The authorized-user dict to store (refresh token, client id/secret, token_uri, scopes)."""
    return {
        "type": "authorized_user",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "refresh_token": creds.refresh_token,
        "token_uri": creds.token_uri,
        "scopes": list(creds.scopes or SCOPES),
    }


def consent_flow(client_config: Mapping[str, Any], scopes: Sequence[str] = SCOPES) -> Any:
    """The installed-app consent flow for a client secrets dict (`{"installed": {...}}`)."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    return InstalledAppFlow.from_client_config(dict(client_config), list(scopes))


def run_consent(
    client_config: Mapping[str, Any],
    *,
    scopes: Sequence[str] = SCOPES,
    open_browser: bool = True,
    port: int = 0,
    console: bool = False,
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run Google's consent for the installed app; return the authorized-user info to store.

    Uses a local redirect server (`run_local_server`); with `console=True`, or when no local
    server or browser can be used (a headless machine), prints the consent URL and asks for the
    address the browser was sent to after consenting (it carries the `code`).
    """
    flow = consent_flow(client_config, scopes)
    if not console:
        try:
            creds = flow.run_local_server(
                port=port, open_browser=open_browser, access_type="offline", prompt="consent"
            )
            return credentials_to_info(creds)
        except (OSError, RuntimeError) as exc:  # no browser / cannot bind: fall back
            print_fn(f"Local consent server unavailable ({exc}); using the console instead.")
            flow = consent_flow(client_config, scopes)
    return credentials_to_info(_console_consent(flow, input_fn, print_fn))


def _console_consent(
    flow: Any, input_fn: Callable[[str], str], print_fn: Callable[[str], None]
) -> Credentials:
    from urllib.parse import parse_qs, urlsplit

    flow.redirect_uri = "http://localhost:1/"
    url, _ = flow.authorization_url(access_type="offline", prompt="consent")
    print_fn(
        "Open this address in a browser on any machine, allow access, then paste the address "
        f"the browser ends on (http://localhost:1/?...code=..., it will not load):\n{url}"
    )
    answer = input_fn("Redirected address or code: ").strip()
    code = parse_qs(urlsplit(answer).query).get("code", [answer])[0] if "://" in answer else answer
    flow.fetch_token(code=code)
    return flow.credentials


# ---- metadata -------------------------------------------------------------------------------


@dataclass
class VideoMetadata:
    """What `videos.insert` sends: snippet and status (unlisted, not made for kids, by default)."""

    title: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    category_id: str = "27"  # Education
    privacy_status: str = "unlisted"
    default_language: str | None = None
    made_for_kids: bool = False

    def to_body(self) -> dict[str, Any]:
        snippet: dict[str, Any] = {
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "categoryId": self.category_id,
        }
        if self.default_language:
            snippet["defaultLanguage"] = self.default_language
            snippet["defaultAudioLanguage"] = self.default_language
        status = {
            "privacyStatus": self.privacy_status,
            "selfDeclaredMadeForKids": self.made_for_kids,
        }
        return {"snippet": snippet, "status": status}


@dataclass(frozen=True)
class VideoCheck:
    """A video as YouTube holds it (`videos.list` parts `contentDetails,status`).

    Only `upload_status` "processed" is a published video; "failed" and "rejected" come with
    `failure_reason` / `rejection_reason`, whatever the duration says. `privacy_status` is the
    one applied, which may differ from the one asked for (unaudited API projects: private).
    """

    video_id: str
    upload_status: str  # uploaded (still processing), processed, failed, rejected, deleted
    privacy_status: str  # public, unlisted, private
    duration: float | None  # seconds; None while processing or unknown
    failure_reason: str | None = None
    rejection_reason: str | None = None


class _ChunkUpload(MediaFileUpload):
    """A MediaFileUpload whose chunks are read as bytes.

    With a stream, a re-sent request (httplib2's reconnect, google-auth's refresh on 401) would
    carry an already-consumed slice: an empty body under a non-zero Content-Length. Bytes can be
    sent again. Memory stays at one chunk.
    """

    def has_stream(self) -> bool:
        return False


# ---- the client -----------------------------------------------------------------------------


class YouTubeClient:
    """One authorized YouTube Data API client (not thread-safe: one per task)."""

    def __init__(
        self,
        credentials: Mapping[str, Any] | Credentials,
        *,
        api_url: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        on_quota: Callable[[QuotaUse], None] | None = None,
        quota_costs: Mapping[str, int] | None = None,
    ) -> None:
        settings = get_settings()
        if chunk_size <= 0 or chunk_size % CHUNK_QUANTUM:
            raise ValueError(f"chunk_size must be a positive multiple of {CHUNK_QUANTUM} bytes")
        self.api_url = (api_url or settings.youtube_api_url).rstrip("/") + "/"
        self.timeout = http_timeout(timeout)
        self.retry = retry or RetryPolicy.from_settings()
        self.chunk_size = chunk_size
        self.on_quota = on_quota
        self.quota_costs = {**QUOTA_COSTS, **(quota_costs or {})}
        if isinstance(credentials, Credentials):
            self.credentials = credentials
        else:
            self.credentials = credentials_from_info(credentials)
        raw = httplib2.Http(timeout=self.timeout)
        raw.redirect_codes = raw.redirect_codes - {308}  # 308 means "resume incomplete" here
        self.http = google_auth_httplib2.AuthorizedHttp(self.credentials, http=raw)
        doc = json.loads(discovery_cache.get_static_doc("youtube", "v3"))
        doc["rootUrl"] = self.api_url
        self.service = build_from_document(doc, http=self.http)

    def __repr__(self) -> str:
        return f"YouTubeClient(api_url={self.api_url!r})"

    # ---- plumbing ----

    def _record(self, method: str) -> None:
        units = self.quota_costs.get(method, 1)
        bucket = UPLOAD_BUCKET if method == "videos.insert" and units == 1 else DEFAULT_BUCKET
        if self.on_quota is not None:
            self.on_quota(QuotaUse(method, units, bucket))

    def _wait(self, failures: int, resp: Any = None) -> None:
        """Wait before the next try: the answer's `Retry-After` if it has one, else backoff."""
        retry_after = self.retry.retry_after(resp.get("retry-after")) if resp is not None else None
        self.retry.wait(failures, retry_after)

    def _map_http(self, exc: HttpError, method: str) -> YouTubeError:
        status = exc.resp.status
        reason, message = _error_reason(exc.content)
        if reason in ("quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"):
            return QuotaExceeded(reason, next_pacific_midnight())
        if status == 401:
            return AuthRevoked("the API answered 401 even after refreshing the access token")
        if status in (408, 429) or status >= 500 or reason in ("rateLimitExceeded", "backendError"):
            return YouTubeTransientError(f"YouTube {method} failed with {status} {reason}")
        if method == "thumbnails.set" and status == 403 and reason == "forbidden":
            return CustomThumbnailsForbidden(message)
        return YouTubeRequestError(method, status, reason, message)

    def _auth_error(self, exc: google.auth.exceptions.RefreshError) -> YouTubeError:
        text = str(exc.args[0]) if exc.args else ""
        if "invalid_grant" in text or "invalid_client" in text or "unauthorized" in text:
            return AuthRevoked(text.split(":")[0] or "invalid_grant")
        if exc.retryable:  # google-auth's own verdict (GoogleAuthError.retryable)
            return YouTubeTransientError("refreshing the YouTube access token failed; retry later")
        return AuthRevoked("the token endpoint refused the refresh")

    def _execute(self, method: str, request: Any) -> Any:
        """Run one API request with retries for 5xx/429/network errors; map the rest."""
        failures = 0
        while True:
            resp = None
            try:
                result = request.execute(num_retries=0)
            except HttpError as exc:
                self._record(method)
                error = self._map_http(exc, method)
                failures += 1
                if not error.retryable or self.retry.exhausted(failures):
                    raise error from exc
                resp = exc.resp
                log.warning("YouTube %s: %s; retry %d", method, exc.resp.status, failures)
            except google.auth.exceptions.RefreshError as exc:
                raise self._auth_error(exc) from None
            except _NETWORK_ERRORS as exc:
                failures += 1
                if self.retry.exhausted(failures):
                    raise YouTubeTransientError(
                        f"YouTube {method} failed: {type(exc).__name__}; check the network"
                    ) from exc
                log.warning("YouTube %s: %s; retry %d", method, type(exc).__name__, failures)
            else:
                self._record(method)
                return result
            self._wait(failures, resp)

    # ---- uploads ----

    def upload_video(
        self,
        path: str | Path,
        metadata: VideoMetadata | Mapping[str, Any],
        *,
        session_uri: str | None = None,
        on_session: Callable[[str], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        notify_subscribers: bool = False,
    ) -> dict[str, Any]:
        """Upload `path` with a resumable session and return the created video resource.

        Without `session_uri` a new session is opened and passed to `on_session` before any file
        byte is sent. With it (a stored session) the server is asked for its offset first and the
        upload continues from there. `on_progress(bytes_confirmed)` runs after every chunk the
        server confirms. Raises `UploadSessionGone`, `QuotaExceeded`, `AuthRevoked`,
        `YouTubeRequestError` or `UploadInterrupted` (resume later with the same session).
        """
        file = Path(path)
        size = file.stat().st_size
        body = metadata.to_body() if isinstance(metadata, VideoMetadata) else dict(metadata)
        part = ",".join(k for k in ("snippet", "status", "recordingDetails") if k in body)
        media = _ChunkUpload(
            str(file), mimetype="video/*", chunksize=self.chunk_size, resumable=True
        )
        try:
            request = self.service.videos().insert(
                part=part, body=body, media_body=media, notifySubscribers=notify_subscribers
            )
            if session_uri is None:
                request.resumable_uri = self._open_session(request, size)
                if on_session is not None:
                    on_session(request.resumable_uri)
            else:
                request.resumable_uri = session_uri
                done = self._resync(request, size, 0)
                if done is not None:
                    return done
            return self._send_chunks(request, size, on_progress)
        finally:
            media._fd.close()

    def _open_session(self, request: Any, size: int) -> str:
        headers = dict(request.headers)
        headers["X-Upload-Content-Type"] = "video/*"
        headers["X-Upload-Content-Length"] = str(size)
        headers["content-length"] = str(len(request.body or ""))
        failures = 0
        while True:
            try:
                resp, content = self.http.request(
                    request.uri, "POST", body=request.body, headers=headers
                )
            except google.auth.exceptions.RefreshError as exc:
                raise self._auth_error(exc) from None
            except _NETWORK_ERRORS as exc:
                failures += 1
                if self.retry.exhausted(failures):
                    raise YouTubeTransientError(
                        f"opening the YouTube upload session failed: {type(exc).__name__}"
                    ) from exc
                self._wait(failures)
                continue
            self._record("videos.insert")
            if resp.status == 200 and "location" in resp:
                log.info("YouTube upload session opened for %d bytes", size)
                return resp["location"]
            error = self._map_http(HttpError(resp, content, uri=request.uri), "videos.insert")
            failures += 1
            if not error.retryable or self.retry.exhausted(failures):
                raise error
            self._wait(failures, resp)

    def _send_chunks(
        self, request: Any, size: int, on_progress: Callable[[int], None] | None
    ) -> dict[str, Any]:
        failures = 0
        while True:
            resp = None
            try:
                _, done = request.next_chunk(num_retries=0)
            except HttpError as exc:
                if exc.resp.status in (404, 410):
                    raise UploadSessionGone(
                        f"The YouTube upload session is gone ({exc.resp.status}). Check whether "
                        "the video was already created before uploading again."
                    ) from exc
                error = self._map_http(exc, "videos.insert")
                if not error.retryable:
                    raise error from exc
                failures += 1
                resp = exc.resp
                log.warning("YouTube chunk failed with %s; asking the session", exc.resp.status)
            except google.auth.exceptions.RefreshError as exc:
                raise self._auth_error(exc) from None
            except _NETWORK_ERRORS as exc:
                failures += 1
                log.warning("YouTube chunk failed (%s); asking the session", type(exc).__name__)
            else:
                if done is not None:
                    if on_progress is not None:
                        on_progress(size)
                    return done
                failures = 0
                if on_progress is not None:
                    on_progress(request.resumable_progress)
                continue
            finished = self._resync(request, size, failures, resp)
            if finished is not None:
                if on_progress is not None:
                    on_progress(size)
                return finished

    def _resync(
        self, request: Any, size: int, failures: int, resp: Any = None
    ) -> dict[str, Any] | None:
        """Ask the session for its offset and set it on `request`, after `failures` failed
        tries (none: ask at once; `resp`: the failed answer, whose `Retry-After` is honoured).

        Returns the video resource if the upload turns out to be complete.
        """
        while True:
            if self.retry.exhausted(failures):
                raise UploadInterrupted(
                    "The YouTube upload stopped after repeated network or server errors; the "
                    "session is kept, so the next attempt resumes from the confirmed byte."
                )
            if failures:
                self._wait(failures, resp)
            try:
                result = self.query_session(request.resumable_uri, size)
            except _QUERY_ERRORS:
                failures += 1
                resp = None
                continue
            if isinstance(result, dict):
                return result
            request.resumable_progress = result
            request._in_error_state = False
            log.info("YouTube upload resumes at byte %d of %d", result, size)
            return None

    def query_session(self, session_uri: str, size: int) -> int | dict[str, Any]:
        """Ask a resumable session where it stands: the bytes it holds, or the finished video.

        Raises `UploadSessionGone` on 404/410 and `YouTubeTransientError` on 5xx.
        """
        headers = {"Content-Range": f"bytes */{size}", "Content-Length": "0"}
        try:
            resp, content = self.http.request(session_uri, "PUT", body=b"", headers=headers)
        except google.auth.exceptions.RefreshError as exc:
            raise self._auth_error(exc) from None
        if resp.status in (200, 201):
            return json.loads(content)
        if resp.status == 308:
            ranges = resp.get("range")
            return int(ranges.rsplit("-", 1)[1]) + 1 if ranges else 0
        if resp.status in (404, 410):
            raise UploadSessionGone(
                f"The YouTube upload session is gone ({resp.status}). Check whether the video "
                "was already created before uploading again."
            )
        raise self._map_http(HttpError(resp, content, uri=session_uri), "videos.insert")

    # ---- follow-up calls ----

    def video_duration(self, video_id: str) -> float | None:
        """Seconds YouTube reports for a video (None: no such video, or not processed yet)."""
        check = self.video_check(video_id)
        return check.duration if check is not None else None

    def video_check(self, video_id: str) -> VideoCheck | None:
        """How YouTube holds an uploaded video (one `videos.list` call); None: no such video.

        `maxResults` is not sent: the discovery document says it is not supported with `id`.
        """
        response = self._execute(
            "videos.list", self.service.videos().list(part="contentDetails,status", id=video_id)
        )
        items = response.get("items", [])
        if not items:
            return None
        status = items[0].get("status", {})
        duration = items[0].get("contentDetails", {}).get("duration")
        seconds = parse_iso8601_duration(duration) if duration else 0.0  # 0 before processing
        return VideoCheck(
            video_id=video_id,
            upload_status=status.get("uploadStatus", ""),
            privacy_status=status.get("privacyStatus", ""),
            duration=seconds or None,
            failure_reason=status.get("failureReason"),
            rejection_reason=status.get("rejectionReason"),
        )

    def find_video(
        self, video_id: str | None = None, *, marker: str | None = None, scan: int = 100
    ) -> dict[str, Any] | None:
        """A video of this channel by id, or the newest upload whose description has `marker`.

        `marker` (a string the caller put in the description, e.g. a publication key) finds a
        video created by a session whose answer was lost; up to `scan` recent uploads are read.
        """
        if video_id:
            response = self._execute(
                "videos.list",
                self.service.videos().list(part="snippet,status", id=video_id),
            )
            items = response.get("items", [])
            return items[0] if items else None
        if not marker:
            raise ValueError("find_video needs a video_id or a marker")
        channels = self._execute(
            "channels.list", self.service.channels().list(part="contentDetails", mine=True)
        )
        if not channels.get("items"):
            return None
        uploads = channels["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
        token: str | None = None
        seen = 0
        while seen < scan:
            page = self._execute(
                "playlistItems.list",
                self.service.playlistItems().list(
                    part="snippet", playlistId=uploads, maxResults=50, pageToken=token
                ),
            )
            for item in page.get("items", []):
                seen += 1
                if marker in item["snippet"].get("description", ""):
                    return self.find_video(item["snippet"]["resourceId"]["videoId"])
            token = page.get("nextPageToken")
            if not token:
                return None
        return None

    def set_thumbnail(self, video_id: str, path: str | Path) -> dict[str, Any]:
        """Set a custom thumbnail; the file is checked (JPEG/PNG, at most 2 MB) before any call."""
        mime = check_thumbnail(path)
        media = MediaFileUpload(str(path), mimetype=mime, resumable=False)
        try:
            return self._execute(
                "thumbnails.set", self.service.thumbnails().set(videoId=video_id, media_body=media)
            )
        finally:
            media._fd.close()

    def find_playlist(self, title: str) -> str | None:
        """The id of this channel's playlist titled exactly `title`, if any."""
        token: str | None = None
        while True:
            page = self._execute(
                "playlists.list",
                self.service.playlists().list(
                    part="snippet", mine=True, maxResults=50, pageToken=token
                ),
            )
            for item in page.get("items", []):
                if item["snippet"]["title"] == title:
                    return item["id"]
            token = page.get("nextPageToken")
            if not token:
                return None

    def find_or_create_playlist(
        self, title: str, *, privacy_status: str = "unlisted", description: str = ""
    ) -> str:
        """The id of the playlist titled `title`, created when there is none."""
        if found := self.find_playlist(title):
            return found
        body = {
            "snippet": {"title": title, "description": description},
            "status": {"privacyStatus": privacy_status},
        }
        created = self._execute(
            "playlists.insert", self.service.playlists().insert(part="snippet,status", body=body)
        )
        log.info("YouTube playlist created: %s", title)
        return created["id"]

    def add_to_playlist(self, playlist_id: str, video_id: str) -> dict[str, Any] | None:
        """Add a video to a playlist unless it is already there; return the new item (or None)."""
        existing = self._execute(
            "playlistItems.list",
            self.service.playlistItems().list(
                part="id", playlistId=playlist_id, videoId=video_id, maxResults=1
            ),
        )
        if existing.get("items"):
            return None
        body = {
            "snippet": {
                "playlistId": playlist_id,
                "resourceId": {"kind": "youtube#video", "videoId": video_id},
            }
        }
        return self._execute(
            "playlistItems.insert", self.service.playlistItems().insert(part="snippet", body=body)
        )

    def insert_caption(
        self, video_id: str, path: str | Path, *, language: str, name: str = ""
    ) -> dict[str, Any]:
        """Upload a caption track (SRT/VTT) for a video."""
        body = {"snippet": {"videoId": video_id, "language": language, "name": name}}
        media = MediaFileUpload(str(path), mimetype="application/octet-stream", resumable=False)
        try:
            return self._execute(
                "captions.insert",
                self.service.captions().insert(part="snippet", body=body, media_body=media),
            )
        finally:
            media._fd.close()

    @staticmethod
    def video_url(video_id: str) -> str:
        return f"https://youtu.be/{video_id}"


def _error_reason(content: bytes | str | None) -> tuple[str, str]:
    """(reason, message) from a Google error body; ("", text) when it is not JSON."""
    try:
        error = json.loads(content or b"{}").get("error", {})
    except (ValueError, AttributeError):
        return "", ""
    if isinstance(error, str):  # OAuth endpoints: {"error": "invalid_grant"}
        return error, ""
    errors = error.get("errors") or [{}]
    return errors[0].get("reason", "") or error.get("status", ""), error.get("message", "")
