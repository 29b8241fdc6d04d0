"""A loopback emulator of the parts of the YouTube Data API v3 the publisher uses.

Served on `LoopbackServer(YouTubeEmulator())`; point `YOUTUBE_API_URL` at its `url` (the client
builds the service from the bundled discovery document with that `rootUrl`) and use
`authorized_user_info()` as the stored token. It follows Google's published contracts:

- OAuth token endpoint `POST /token` (refresh_token and authorization_code grants;
  `invalid_grant` for a revoked refresh token) and 401 `authError` for expired access tokens;
- resumable `videos.insert`: `POST /upload/youtube/v3/videos?uploadType=resumable` answers 200
  with a `Location` session URI; `PUT` chunks with `Content-Range: bytes a-b/SIZE` answer 308 with
  `Range: bytes=0-N` until the last, answered 201 with the video; `Content-Range: bytes */SIZE`
  asks for the status; 404 for an unknown session, 410 for an expired one. Chunk bodies are read
  in blocks and only hashed and counted, so memory stays bounded for any file size;
- `videos.list`, `channels.list` and `playlistItems.list` (the uploads playlist), `thumbnails.set`,
  `playlists.list/insert`, `playlistItems.insert`, `captions.insert`;
- quota: each call is charged per the published cost table, `videos.insert` in its own bucket;
  going over answers the real 403 `quotaExceeded` body; `channel_upload_limit` gives the 400
  `uploadLimitExceeded`;
- what a real channel and project may impose: `custom_thumbnails=False` (a channel that may not
  set custom thumbnails: `thumbnails.set` answers 403 `forbidden`), `locked_private=True` (an API
  project that has not passed Google's audit: uploads are kept private), `set_upload_status` (a
  video YouTube is still processing, failed to process or rejected); requests that the discovery
  document calls unsupported are answered but listed in `unsupported`.

Faults come from the base `Fault`: a status on the Nth call, or `cut_after_bytes` on a chunk `PUT`
(the emulator keeps what arrived and drops the connection without answering).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from googleapiclient import discovery_cache

from integrations.sandbox.mp4 import HEAD_BYTES, iso8601_duration, movie_duration
from integrations.sandbox.server import DropConnection, Emulator, Request, Response, route

# Published costs (developers.google.com/youtube/v3/determine_quota_cost). Google now bills
# videos.insert in its own bucket (default 100 calls a day, 1 per call); the old table said 1600.
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

MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024
# Upload statuses and the reasons that go with them: schemas.VideoStatus in the discovery document
# google-api-python-client installs (discovery_cache/documents/youtube.v3.json).
_VIDEO_STATUS = json.loads(discovery_cache.get_static_doc("youtube", "v3"))["schemas"][
    "VideoStatus"
]
REASON_FIELDS = {"failed": "failureReason", "rejected": "rejectionReason"}
UPLOAD_STATUS_REASONS: dict[str, tuple[str, ...]] = {
    status: tuple(_VIDEO_STATUS["properties"][REASON_FIELDS[status]]["enum"])
    if status in REASON_FIELDS
    else ()
    for status in _VIDEO_STATUS["properties"]["uploadStatus"]["enum"]
}
# developers.google.com/youtube/v3/docs/thumbnails/set, "Errors": forbidden (403) `forbidden`.
CUSTOM_THUMBNAILS_FORBIDDEN_MESSAGE = (
    "The authenticated user doesn't have permissions to upload and set custom video thumbnails."
)
_BLOCK = 1 << 16
_UPLOAD_PATH = r"/(?:resumable/)?upload/youtube/v3/videos"


def error_body(
    status: int, reason: str, message: str, domain: str = "global", **where: str
) -> dict[str, Any]:
    """Google's JSON error envelope (`where`: `location` and `locationType`, when it names one)."""
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason, **where}],
        }
    }


def _error(
    status: int, reason: str, message: str, domain: str = "global", **where: str
) -> Response:
    return Response.json(error_body(status, reason, message, domain, **where), status)


QUOTA_EXCEEDED_MESSAGE = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.'
)


@dataclass
class UploadSession:
    """One resumable upload as the server sees it."""

    upload_id: str
    metadata: dict[str, Any]
    part: str
    size: int | None
    mime: str
    received: int = 0  # contiguous bytes kept (what `Range` reports)
    wire_bytes: int = 0  # every body byte read for this session, kept or not
    digest: Any = field(default_factory=hashlib.sha256)
    video_id: str | None = None
    expired: bool = False
    head: bytearray = field(default_factory=bytearray)  # the file's first bytes (its duration)


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _page_offset(token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(raw.removeprefix("o:")) if raw.startswith("o:") else None
    except ValueError:
        return None


class YouTubeEmulator(Emulator):
    """YouTube Data API v3 on loopback: OAuth, resumable uploads, playlists, captions, quota."""

    def __init__(
        self,
        *,
        daily_quota: int = 10_000,
        daily_uploads: int = 100,
        channel_upload_limit: int | None = None,
        access_token_ttl: int = 3599,
        custom_thumbnails: bool = True,
        locked_private: bool = False,
    ) -> None:
        super().__init__()
        self.daily_quota = daily_quota
        self.daily_uploads = daily_uploads
        self.channel_upload_limit = channel_upload_limit
        self.access_token_ttl = access_token_ttl
        self.custom_thumbnails = custom_thumbnails  # False: an unverified channel
        self.locked_private = locked_private  # True: an API project that has not been audited
        self.unsupported: list[str] = []  # requests the discovery document says are unsupported
        self.client_id = "sandbox-client.apps.googleusercontent.com"
        self.client_secret = "sandbox-client-secret"
        self.refresh_token = "sandbox-refresh-" + secrets.token_urlsafe(12)
        self.auth_code = "sandbox-auth-code"
        self.channel_id = "UC" + secrets.token_urlsafe(16)[:22]
        self.refresh_tokens: dict[str, bool] = {self.refresh_token: True}
        self.access_tokens: dict[str, float] = {}
        self.quota_used: dict[str, int] = {DEFAULT_BUCKET: 0, UPLOAD_BUCKET: 0}
        self.quota_log: list[tuple[str, int]] = []
        self.sessions: dict[str, UploadSession] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.durations: dict[str, str] = {}  # video id -> the file's duration, once processed
        self.uploads: list[str] = []  # video ids, oldest first
        self.playlists: dict[str, dict[str, Any]] = {}
        self.playlist_items: list[dict[str, Any]] = []
        self.thumbnails: dict[str, int] = {}  # video id -> bytes
        self.captions: list[dict[str, Any]] = []
        self.caption_files: dict[str, bytes] = {}  # caption id -> the file received
        self.stall_chunks = 0  # hold the answer to the next N chunks for `stall_seconds`
        self.stall_seconds = 0.0
        self._session_lock = threading.Lock()

    # ---- helpers for tests and the demo -------------------------------------------------

    def authorized_user_info(self) -> dict[str, Any]:
        """The stored-token dict (as `auth youtube` writes it) for this emulator."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "token_uri": f"{self.base_url}/token",
            "type": "authorized_user",
        }

    def client_config(self) -> dict[str, Any]:
        """An installed-app client secrets dict whose endpoints point at this emulator."""
        return {
            "installed": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": f"{self.base_url}/o/oauth2/auth",
                "token_uri": f"{self.base_url}/token",
                "redirect_uris": ["http://localhost"],
            }
        }

    def revoke(self, refresh_token: str | None = None) -> None:
        """Revoke a refresh token (the default one) and every access token issued so far."""
        with self.lock:
            self.refresh_tokens[refresh_token or self.refresh_token] = False
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Make every issued access token expired (the client must refresh)."""
        with self.lock:
            for token in self.access_tokens:
                self.access_tokens[token] = 0.0

    def expire_session(self, session: str) -> None:
        """Expire an upload session, by id or URI: further requests answer 410 Gone."""
        upload_id = session.rsplit("upload_id=", 1)[-1]
        with self.lock:
            self.sessions[upload_id].expired = True

    def session_for(self, uri: str) -> UploadSession:
        return self.sessions[uri.rsplit("upload_id=", 1)[-1]]

    def set_upload_status(self, video_id: str, status: str, reason: str | None = None) -> None:
        """Set what YouTube made of an upload; "failed" and "rejected" take their reason.

        "uploaded" means still processing: `contentDetails.duration` is then "P0D" (as reported;
        the reference does not say). A failed or rejected video keeps the duration of its file,
        so only `uploadStatus` tells that it is not published.
        """
        reasons = UPLOAD_STATUS_REASONS[status]
        if (reason is None) != (not reasons) or (reason is not None and reason not in reasons):
            raise ValueError(f"upload status {status!r} takes one of {reasons}, not {reason!r}")
        with self.lock:
            video = self.videos[video_id]
            kept = {k: v for k, v in video["status"].items() if k not in REASON_FIELDS.values()}
            video["status"] = kept | {"uploadStatus": status}
            if status in REASON_FIELDS:  # only present with that status (VideoStatus)
                video["status"][REASON_FIELDS[status]] = reason
            duration = "P0D" if status == "uploaded" else self.durations[video_id]
            video["contentDetails"]["duration"] = duration

    def reset_quota(self) -> None:
        """A new Pacific day: both buckets back to zero."""
        with self.lock:
            self.quota_used = {DEFAULT_BUCKET: 0, UPLOAD_BUCKET: 0}

    @property
    def upload_wire_bytes(self) -> int:
        """Every chunk byte received over all sessions."""
        return sum(s.wire_bytes for s in self.sessions.values())

    # ---- auth and quota ------------------------------------------------------------------

    def _issue_access_token(self) -> str:
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        self.access_tokens[token] = time.time() + self.access_token_ttl
        return token

    def _check_auth(self, request: Request) -> Response | None:
        header = request.header("authorization") or ""
        token = header.removeprefix("Bearer ").strip()
        with self.lock:
            expiry = self.access_tokens.get(token)
        if expiry is not None and expiry > time.time():
            return None
        message = (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential."
        )
        response = _error(401, "authError", message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
        return response

    def _charge(self, method: str) -> Response | None:
        cost = QUOTA_COSTS[method]
        bucket = UPLOAD_BUCKET if method == "videos.insert" else DEFAULT_BUCKET
        limit = self.daily_uploads if bucket == UPLOAD_BUCKET else self.daily_quota
        with self.lock:
            if self.quota_used[bucket] + cost > limit:
                return _error(403, "quotaExceeded", QUOTA_EXCEEDED_MESSAGE, "youtube.quota")
            self.quota_used[bucket] += cost
            self.quota_log.append((method, cost))
        return None

    def _guard(self, request: Request, method: str) -> Response | None:
        return self._check_auth(request) or self._charge(method)

    # ---- OAuth ---------------------------------------------------------------------------

    @route("POST", r"/token")
    def token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        basic = request.header("authorization") or ""
        if basic.startswith("Basic "):  # client authentication in the header (RFC 6749 2.3.1)
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", unquote_plus(user))
            form.setdefault("client_secret", unquote_plus(password))
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return Response.json(
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
                401,
            )
        grant = form.get("grant_type")
        with self.lock:
            if grant == "refresh_token":
                if not self.refresh_tokens.get(form.get("refresh_token", "")):
                    return Response.json(
                        {
                            "error": "invalid_grant",
                            "error_description": "Token has been expired or revoked.",
                        },
                        400,
                    )
                payload: dict[str, Any] = {"access_token": self._issue_access_token()}
            elif grant == "authorization_code" and form.get("code") == self.auth_code:
                payload = {
                    "access_token": self._issue_access_token(),
                    "refresh_token": self.refresh_token,
                }
            else:
                return Response.json(
                    {"error": "invalid_grant", "error_description": "Bad Request"}, 400
                )
        payload |= {
            "expires_in": self.access_token_ttl,
            "scope": "https://www.googleapis.com/auth/youtube.upload "
            "https://www.googleapis.com/auth/youtube.force-ssl",
            "token_type": "Bearer",
        }
        return Response.json(payload)

    # ---- resumable videos.insert ---------------------------------------------------------

    @route("POST", _UPLOAD_PATH)
    def open_upload(self, request: Request) -> Response:
        if request.query.get("uploadType") != "resumable":
            return _error(400, "badRequest", "The sandbox accepts resumable uploads only.")
        if denied := self._check_auth(request):
            return denied
        try:
            metadata = request.json() or {}
        except ValueError:
            return _error(400, "parseError", "Parse Error")
        if invalid := self._validate_video(metadata):
            return invalid
        with self.lock:
            limit = self.channel_upload_limit
            if limit is not None and len(self.uploads) >= limit:
                return _error(
                    400,
                    "uploadLimitExceeded",
                    "The user has exceeded the number of videos they may upload.",
                    "youtube.video",
                )
        if over := self._charge("videos.insert"):
            return over
        size_header = request.header("x-upload-content-length")
        upload_id = "ADPycd" + secrets.token_urlsafe(24)
        session = UploadSession(
            upload_id=upload_id,
            metadata=metadata,
            part=request.query.get("part", "snippet,status"),
            size=int(size_header) if size_header else None,
            mime=request.header("x-upload-content-type") or "video/*",
        )
        with self.lock:
            self.sessions[upload_id] = session
        location = (
            f"{self.base_url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}"
        )
        return Response(200, b"", {"Location": location, "X-GUploader-UploadID": upload_id})

    def _validate_video(self, metadata: dict[str, Any]) -> Response | None:
        snippet = metadata.get("snippet") or {}
        title = snippet.get("title")
        if not title or len(title) > 100 or "<" in title or ">" in title:
            return _error(
                400, "invalidTitle", "The request metadata specifies an invalid video title.",
                "youtube.video",
            )  # fmt: skip
        description = snippet.get("description") or ""
        if len(description.encode()) > 5000 or "<" in description or ">" in description:
            return _error(
                400, "invalidDescription",
                "The request metadata specifies an invalid video description.", "youtube.video",
            )  # fmt: skip
        privacy = (metadata.get("status") or {}).get("privacyStatus", "public")
        if privacy not in {"public", "unlisted", "private"}:
            return _error(
                400, "invalidValue", f"Invalid value for privacyStatus: {privacy}",
                "youtube.video",
            )  # fmt: skip
        return None

    @route("PUT", _UPLOAD_PATH, streaming=True)
    def upload_chunk(self, request: Request) -> Response:
        length = int(request.header("content-length") or 0)
        with self.lock:
            session = self.sessions.get(request.query.get("upload_id", ""))
        if session is None or session.expired:
            self._skip(request, length)
            if session is None:
                return _error(404, "notFound", "Not Found")
            return _error(410, "gone", "The upload session has expired.")
        crange = request.header("content-range") or ""
        with self._session_lock:
            return self._chunk(request, session, crange, length)

    def _chunk(
        self, request: Request, session: UploadSession, crange: str, length: int
    ) -> Response:
        if crange.startswith("bytes */"):
            self._skip(request, length)
            total = crange.removeprefix("bytes */")
            if total.isdigit() and session.size is None:
                session.size = int(total)
            if session.size is not None and session.received >= session.size:
                return self._finish(session, 200)
            return self._incomplete(session)
        try:
            span, total = crange.removeprefix("bytes ").split("/")
            start, end = (int(x) for x in span.split("-"))
        except ValueError:
            self._skip(request, length)
            return _error(400, "badContent", f"Invalid Content-Range: {crange!r}")
        if total != "*":
            session.size = int(total)
        if session.video_id is not None:
            self._skip(request, length)
            return self._finish(session, 200)
        if start > session.received or end - start + 1 != length:
            self._skip(request, length)
            return self._incomplete(session)
        cut = request.fault.cut_after_bytes if request.fault else None
        skip = session.received - start  # bytes of this chunk the server already has
        read = 0
        while read < length:
            want = min(_BLOCK, length - read)
            if cut is not None:
                want = min(want, cut - read)
                if want <= 0:
                    raise DropConnection
            block = request.stream.read(want)
            if not block:
                return self._incomplete(session)  # the client went away; keep what arrived
            session.wire_bytes += len(block)
            if skip < len(block):
                session.digest.update(block[max(skip, 0) :])
                if len(session.head) < HEAD_BYTES:
                    session.head += block[max(skip, 0) :][: HEAD_BYTES - len(session.head)]
                session.received += len(block) - max(skip, 0)
            skip -= len(block)
            read += len(block)
        if self.stall_chunks > 0:  # the bytes are kept, but the answer comes too late
            self.stall_chunks -= 1
            time.sleep(self.stall_seconds)
        if session.size is not None and session.received >= session.size:
            return self._finish(session, 201)
        return self._incomplete(session)

    def _skip(self, request: Request, length: int) -> None:
        while length > 0:
            got = request.stream.read(min(length, _BLOCK))
            if not got:
                return
            length -= len(got)

    def _incomplete(self, session: UploadSession) -> Response:
        headers = {"X-GUploader-UploadID": session.upload_id}
        if session.received:
            headers["Range"] = f"bytes=0-{session.received - 1}"
        return Response(308, b"", headers)

    def _finish(self, session: UploadSession, status: int) -> Response:
        with self.lock:
            if session.video_id is None:
                session.video_id = self._create_video(session)
            video = self.videos[session.video_id]
            # The insert's answer is the video as received: not processed yet ("uploaded", as
            # reported answers show), with the privacy asked for (a lock shows later, see below).
            answer = video | {
                "status": {
                    **video["status"],
                    "privacyStatus": _requested_privacy(session.metadata),
                    "uploadStatus": "uploaded",
                }
            }
        return Response.json(self._project(answer, session.part), status)

    def _create_video(self, session: UploadSession) -> str:
        video_id = secrets.token_urlsafe(8)[:11]
        snippet = dict(session.metadata.get("snippet") or {})
        privacy = _requested_privacy(session.metadata)
        if self.locked_private:
            # developers.google.com/youtube/v3/docs/videos (and videos/insert): "All videos
            # uploaded via the videos.insert endpoint from unverified API projects created after
            # 28 July 2020 will be restricted to private viewing mode." (The discovery document's
            # VideoStatus.privacyStatus text says the opposite.) That the answer to the upload
            # still shows the privacy asked for and the lock comes later is only reported
            # (porjo/youtubeuploader#86: "locked to private shortly after upload").
            privacy = "private"
        status = {
            **(session.metadata.get("status") or {}),
            "privacyStatus": privacy,
            # Processing is instant here; `set_upload_status` makes it otherwise.
            "uploadStatus": "processed",
        }
        snippet |= {"publishedAt": _now_iso(), "channelId": self.channel_id}
        snippet.setdefault("description", "")
        duration = iso8601_duration(movie_duration(session.head) or 0)
        self.durations[video_id] = duration
        self.videos[video_id] = {
            "kind": "youtube#video",
            "etag": secrets.token_urlsafe(8),
            "id": video_id,
            "snippet": snippet,
            "status": status,
            "fileDetails": {"fileSize": str(session.received)},
            "contentDetails": {"duration": duration},
            "sha256": session.digest.hexdigest(),
        }
        self.uploads.append(video_id)
        return video_id

    @staticmethod
    def _project(resource: dict[str, Any], part: str) -> dict[str, Any]:
        parts = {p.strip() for p in part.split(",")}
        keep = {"kind", "etag", "id"} | parts
        return {k: v for k, v in resource.items() if k in keep}

    # ---- read calls ----------------------------------------------------------------------

    @route("GET", r"/youtube/v3/videos")
    def videos_list(self, request: Request) -> Response:
        if denied := self._guard(request, "videos.list"):
            return denied
        ids = [i for i in request.query.get("id", "").split(",") if i]
        if ids and "maxResults" in request.query:
            # Discovery document, videos.list parameter maxResults: "not supported for use in
            # conjunction with the id parameter". What Google answers then is not documented.
            with self.lock:
                self.unsupported.append("videos.list: maxResults with id")
        part = request.query.get("part", "snippet")
        with self.lock:
            items = [self._project(self.videos[i], part) for i in ids if i in self.videos]
        return Response.json(
            {
                "kind": "youtube#videoListResponse",
                "items": items,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
            }
        )

    @route("GET", r"/youtube/v3/channels")
    def channels_list(self, request: Request) -> Response:
        if denied := self._guard(request, "channels.list"):
            return denied
        channel = {
            "kind": "youtube#channel",
            "id": self.channel_id,
            "contentDetails": {"relatedPlaylists": {"uploads": "UU" + self.channel_id[2:]}},
        }
        return Response.json({"kind": "youtube#channelListResponse", "items": [channel]})

    def _page(
        self, request: Request, items: list[dict[str, Any]], kind: str, default: int = 5
    ) -> Response:
        try:
            size = int(request.query.get("maxResults", default))
        except ValueError:
            size = -1
        if not 0 <= size <= 50:
            return _error(400, "invalidValue", "maxResults must be between 0 and 50.")
        offset = 0
        if token := request.query.get("pageToken"):
            found = _page_offset(token)
            if found is None:
                return _error(
                    400, "invalidPageToken", "The request specifies an invalid page token."
                )
            offset = found
        page = items[offset : offset + size]
        payload: dict[str, Any] = {
            "kind": kind,
            "items": page,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
        }
        if offset + size < len(items):
            payload["nextPageToken"] = _page_token(offset + size)
        if offset > 0:
            payload["prevPageToken"] = _page_token(max(0, offset - size))
        return Response.json(payload)

    @route("GET", r"/youtube/v3/playlists")
    def playlists_list(self, request: Request) -> Response:
        if denied := self._guard(request, "playlists.list"):
            return denied
        with self.lock:
            items = list(self.playlists.values())
        if ids := request.query.get("id"):
            items = [p for p in items if p["id"] in ids.split(",")]
        elif request.query.get("mine") != "true":
            return _error(400, "missingRequiredParameter", "No filter selected.")
        return self._page(request, items, "youtube#playlistListResponse")

    @route("POST", r"/youtube/v3/playlists")
    def playlists_insert(self, request: Request) -> Response:
        if denied := self._guard(request, "playlists.insert"):
            return denied
        body = request.json() or {}
        title = (body.get("snippet") or {}).get("title")
        if not title:
            return _error(
                400, "playlistTitleRequired", "The request must specify a playlist title.",
                "youtube.playlist",
            )  # fmt: skip
        playlist: dict[str, Any] = {
            "kind": "youtube#playlist",
            "id": "PL" + secrets.token_urlsafe(24)[:32],
            "snippet": {
                "title": title,
                "description": body["snippet"].get("description", ""),
                "channelId": self.channel_id,
                "publishedAt": _now_iso(),
            },
            "status": {"privacyStatus": (body.get("status") or {}).get("privacyStatus", "public")},
        }
        with self.lock:
            self.playlists[playlist["id"]] = playlist
        return Response.json(playlist)

    def _playlist_entries(self, playlist_id: str) -> list[dict[str, Any]] | None:
        if playlist_id == "UU" + self.channel_id[2:]:
            return [
                {
                    "kind": "youtube#playlistItem",
                    "id": f"UU-{vid}",
                    "snippet": {
                        "playlistId": playlist_id,
                        "title": self.videos[vid]["snippet"].get("title", ""),
                        "description": self.videos[vid]["snippet"].get("description", ""),
                        "resourceId": {"kind": "youtube#video", "videoId": vid},
                    },
                }
                for vid in reversed(self.uploads)
            ]
        if playlist_id not in self.playlists:
            return None
        return [i for i in self.playlist_items if i["snippet"]["playlistId"] == playlist_id]

    @route("GET", r"/youtube/v3/playlistItems")
    def playlist_items_list(self, request: Request) -> Response:
        if denied := self._guard(request, "playlistItems.list"):
            return denied
        with self.lock:
            items = self._playlist_entries(request.query.get("playlistId", ""))
        if items is None:
            return _error(
                404, "playlistNotFound", "The playlist identified with the request's "
                "<code>playlistId</code> parameter cannot be found.", "youtube.playlistItem",
            )  # fmt: skip
        if video_id := request.query.get("videoId"):
            items = [i for i in items if i["snippet"]["resourceId"]["videoId"] == video_id]
        return self._page(request, items, "youtube#playlistItemListResponse")

    @route("POST", r"/youtube/v3/playlistItems")
    def playlist_items_insert(self, request: Request) -> Response:
        if denied := self._guard(request, "playlistItems.insert"):
            return denied
        snippet = (request.json() or {}).get("snippet") or {}
        playlist_id = snippet.get("playlistId", "")
        video_id = (snippet.get("resourceId") or {}).get("videoId", "")
        with self.lock:
            if playlist_id not in self.playlists:
                return _error(
                    404, "playlistNotFound", "Playlist not found.", "youtube.playlistItem"
                )
            if video_id not in self.videos:
                return _error(404, "videoNotFound", "Video not found.", "youtube.playlistItem")
            item = {
                "kind": "youtube#playlistItem",
                "id": "PLI" + secrets.token_urlsafe(12),
                "snippet": {
                    "playlistId": playlist_id,
                    "resourceId": {"kind": "youtube#video", "videoId": video_id},
                    "position": len(self._playlist_entries(playlist_id) or []),
                },
            }
            self.playlist_items.append(item)
        return Response.json(item)

    # ---- media uploads besides videos ----------------------------------------------------

    @route("POST", r"/(?:resumable/)?upload/youtube/v3/thumbnails/set")
    def thumbnails_set(self, request: Request) -> Response:
        if denied := self._guard(request, "thumbnails.set"):
            return denied
        video_id = request.query.get("videoId", "")
        data = request.body
        if request.query.get("uploadType") == "multipart":
            data = _multipart_parts(request)[-1][1]
        with self.lock:
            if video_id not in self.videos:
                return _error(404, "videoNotFound", "The video could not be found.")
        if not self.custom_thumbnails:
            # The reference page gives the status, reason and message; the domain and location
            # are as users report the body (joedawson/youtube#82,
            # Stekeblad/Stekeblads-Video-Uploader#69).
            return _error(
                403, "forbidden", CUSTOM_THUMBNAILS_FORBIDDEN_MESSAGE, "youtube.thumbnail",
                location="Authorization", locationType="header",
            )  # fmt: skip
        if len(data) > MAX_THUMBNAIL_BYTES:
            return _error(
                413, "mediaBodyTooLarge", "The thumbnail is larger than 2 MB.", "youtube.thumbnail"
            )
        if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG")):
            return _error(400, "invalidImage", "The provided image content is invalid.")
        with self.lock:
            self.thumbnails[video_id] = len(data)
        url = f"https://i.ytimg.com/vi/{video_id}/maxresdefault.jpg"
        return Response.json(
            {
                "kind": "youtube#thumbnailSetResponse",
                "items": [{"default": {"url": url, "width": 120, "height": 90}}],
            }
        )

    @route("POST", r"/(?:resumable/)?upload/youtube/v3/captions")
    def captions_insert(self, request: Request) -> Response:
        if denied := self._guard(request, "captions.insert"):
            return denied
        parts = _multipart_parts(request)
        if len(parts) < 2:
            return _error(400, "badRequest", "captions.insert needs metadata and a caption file.")
        snippet = (json.loads(parts[0][1] or b"{}").get("snippet")) or {}
        video_id = snippet.get("videoId", "")
        with self.lock:
            if video_id not in self.videos:
                return _error(404, "videoNotFound", "The video could not be found.")
            caption: dict[str, Any] = {
                "kind": "youtube#caption",
                "id": "CAP" + secrets.token_urlsafe(12),
                "snippet": {
                    "videoId": video_id,
                    "language": snippet.get("language", ""),
                    "name": snippet.get("name", ""),
                    "status": "serving",
                },
                "bytes": len(parts[1][1]),
            }
            self.captions.append(caption)
            self.caption_files[caption["id"]] = parts[1][1]
        return Response.json({k: v for k, v in caption.items() if k != "bytes"})


def _requested_privacy(metadata: dict[str, Any]) -> str:
    """The privacy a `videos.insert` asked for; `public` when it names none (VideoStatus)."""
    return (metadata.get("status") or {}).get("privacyStatus", "public")


def _multipart_parts(request: Request) -> list[tuple[str, bytes]]:
    """The parts of a `multipart/related` body as (content type, payload) pairs."""
    head = f"Content-Type: {request.header('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(EmailMessage, policy=email.policy.HTTP).parsebytes(
        head + request.body
    )
    if not message.is_multipart():
        return [(message.get_content_type(), request.body)]
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)  # bytes; None for a nested multipart
        parts.append((part.get_content_type(), payload if isinstance(payload, bytes) else b""))
    return parts
