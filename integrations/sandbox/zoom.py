"""Zoom emulator: S2S OAuth, users, cloud recordings, past instances, deletion and downloads.

Follows the published contract (../shared/notes/zoom-api.md): real paths, field names, paging
with `next_page_token`, a one-month cap on `from..to`, double-encoded UUIDs, closed captions
(CC) and timeline (TIMELINE) files listed without `id`, `file_size`, `status`, `recording_type`
or `play_url`, downloads that redirect to a signed storage URL serving `Range` from disk in
bounded chunks. `recording_completed` builds the webhook event Zoom sends for a meeting: its
files carry the event's own `/rec/webhook_download/...` URLs, which answer only to the event's
`download_token` (valid 24 hours), not to an account's OAuth token.

    zoom = ZoomEmulator()
    acct = zoom.add_account("acme")
    user = zoom.add_user(acct, "ann@example.com")
    zoom.add_meeting(acct, user, topic="Lecture 1", start_time=..., duration=90,
                     files=[FileSpec(path=Path("lecture.mp4"))])
    with LoopbackServer(zoom):
        client = ZoomClient(acct.credentials, api_url=zoom.api_url, oauth_url=zoom.oauth_url)
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from integrations.sandbox.server import Emulator, Fault, Request, Response, route

SERVE_CHUNK = 1024 * 1024
TOKEN_LIFETIME_S = 3599
WEBHOOK_TOKEN_LIFETIME_S = 24 * 3600
PAGE_TOKEN_LIFETIME_S = 15 * 60
MAX_PAGE_SIZE = 300
DEFAULT_PAGE_SIZE = 30
MAX_RANGE_DAYS = 30
# `GET /users?status=` values; without `status` Zoom lists active users only
# (rootalley/py-zoom-api docs/UsersApi.md, generated from Zoom's OpenAPI file: "default to active").
USER_STATUSES = ("active", "inactive", "pending")

_TYPES = {
    "audio_only": ("M4A", "M4A"),
    "audio_transcript": ("TRANSCRIPT", "VTT"),
    "closed_caption": ("CC", "VTT"),
    "chat_file": ("CHAT", "TXT"),
    "timeline": ("TIMELINE", "JSON"),
}

# Zoom's Meeting API spec, `recording_files[].file_type`: "A recording file object with file
# type of either `CC` or `TIMELINE` does not have the following properties: `id`, `status`,
# `file_size`, `recording_type`, and `play_url`" (the spec's text as generated into
# konfig-sdks/zoom-meeting-python-sdk, zoom_meeting_python_sdk/type/
# cloud_recording_list_recordings_response_meetings_item_recording_files_item.py; every field
# optional in zoom/rivet-javascript meetings/meetings.d.ts). Served so in the list, the
# single-meeting lookup and the `recording.completed` event alike (the SDK's event type marks
# them required, but no source says the event differs from the API, so the stricter reading).
BARE_FILE_TYPES = frozenset({"CC", "TIMELINE"})
BARE_FILE_FIELDS = ("id", "status", "file_size", "recording_type", "play_url")


@functools.lru_cache(maxsize=1 << 16)  # a listing formats every file's times anew
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, code: int, message: str) -> Response:
    return Response.json({"code": code, "message": message}, status)


def random_uuid() -> str:
    """A Zoom-like instance UUID: base64 of 16 random bytes (may hold `/`, `+`, `=`)."""
    return base64.b64encode(secrets.token_bytes(16)).decode()


class ManualClock:
    """A clock and sleep for tests: `sleep` records the wait and moves time forward."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FileSpec:
    """A recording file to add. Content comes from `path`, `data`, or `size` synthetic bytes.

    `recording_type` "closed_caption" or "timeline" makes a CC or TIMELINE file (listed bare);
    `reported_size` makes the listing lie about `file_size` (a size-mismatch test);
    `offset_min`/`duration_min` place a segment inside the meeting (stop/restart).
    """

    recording_type: str = "shared_screen_with_speaker_view"
    path: Path | None = None
    data: bytes | None = None
    size: int | None = None
    status: str = "completed"
    offset_min: float = 0.0
    duration_min: float | None = None
    reported_size: int | None = None
    file_type: str | None = None
    file_extension: str | None = None


@dataclass
class SandboxAccount:
    name: str
    account_id: str
    client_id: str
    client_secret: str = field(repr=False)

    @property
    def credentials(self) -> Any:
        """The client-side `ZoomAccount` for this account."""
        from pydantic import SecretStr

        from integrations.zoom import ZoomAccount

        return ZoomAccount(
            self.name, self.account_id, self.client_id, SecretStr(self.client_secret)
        )


@dataclass
class SandboxUser:
    id: str
    email: str
    account_id: str
    status: str = "active"


@dataclass
class SandboxFile:
    id: str
    key: str  # the opaque part of download_url
    spec: FileSpec
    file_type: str
    file_extension: str
    start: datetime
    end: datetime
    size: int
    trashed: bool = False

    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        """The bytes `[start, stop)` in chunks of at most SERVE_CHUNK, read lazily."""
        spec = self.spec
        if spec.path is not None:
            with spec.path.open("rb") as handle:
                handle.seek(start)
                left = stop - start
                while left > 0:
                    chunk = handle.read(min(SERVE_CHUNK, left))
                    if not chunk:
                        return
                    left -= len(chunk)
                    yield chunk
        elif spec.data is not None:
            view = memoryview(spec.data)
            for pos in range(start, stop, SERVE_CHUNK):
                yield bytes(view[pos : min(stop, pos + SERVE_CHUNK)])
        else:
            for pos in range(start, stop, SERVE_CHUNK):
                yield synthetic_bytes(pos, min(stop, pos + SERVE_CHUNK))


_PERIOD = bytes(range(251))


def synthetic_bytes(start: int, stop: int) -> bytes:
    """Deterministic filler content: byte i of a synthetic file is `i % 251`."""
    offset = start % 251
    count = stop - start
    return (_PERIOD * ((offset + count) // 251 + 1))[offset : offset + count]


@dataclass
class SandboxMeeting:
    uuid: str
    id: int
    topic: str
    start_time: datetime
    duration: int
    host_id: str
    account_id: str
    type: int
    files: list[SandboxFile]

    def visible_files(self) -> list[SandboxFile]:
        return [f for f in self.files if not f.trashed]


class ZoomEmulator(Emulator):
    """The Zoom API on loopback. Populate with `add_account`, `add_user`, `add_meeting`.

    `page_size_cap` lowers the largest page the server hands out (to exercise paging without
    hundreds of meetings); `honour_range=False` makes storage ignore `Range` (answers 200).
    The token response names the API host in `api_url`, as Zoom's does: this server, or
    `token_api_url` when set (another region's host, say).
    """

    def __init__(self, page_size_cap: int = MAX_PAGE_SIZE, honour_range: bool = True) -> None:
        super().__init__()
        self.page_size_cap = page_size_cap
        self.honour_range = honour_range
        self.accounts: dict[str, SandboxAccount] = {}
        self.users: dict[str, SandboxUser] = {}
        self.meetings: list[SandboxMeeting] = []
        # The same meeting objects by host, in the order added: a host's listing reads its own
        # (a world of 10,000 recordings was scanned whole for each of its 100 hosts' requests).
        self._by_host: dict[str, list[SandboxMeeting]] = {}
        self.token_api_url: str | None = None
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (account_id, expires)
        self._download_tokens: dict[str, str] = {}  # download_access_token -> meeting uuid
        self._webhook_tokens: dict[str, tuple[str, float]] = {}  # token -> (uuid, expires)
        self._page_tokens: dict[str, tuple[tuple[Any, ...], int, float]] = {}
        self._expiry_triggers: list[Fault] = []
        self._signing_key = secrets.token_bytes(32)
        self._ids = iter(range(1, 1 << 30))
        self._id_lock = threading.Lock()

    # -- building -----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v2"

    @property
    def oauth_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    def _next(self) -> int:
        with self._id_lock:
            return next(self._ids)

    def add_account(
        self,
        name: str,
        account_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> SandboxAccount:
        account = SandboxAccount(
            name,
            account_id or f"acct{self._next():04d}{secrets.token_hex(4)}",
            client_id or f"cid{secrets.token_hex(8)}",
            client_secret or secrets.token_urlsafe(24),
        )
        self.accounts[account.account_id] = account
        return account

    def add_user(
        self, account: SandboxAccount, email: str | None = None, status: str = "active"
    ) -> SandboxUser:
        """A user of `account`; `status="inactive"` is a deactivated user (whose recordings
        stay in the cloud), `"pending"` an invited one who has not joined yet."""
        if status not in USER_STATUSES:
            raise ValueError(f"user status {status!r}: Zoom has {', '.join(USER_STATUSES)}")
        number = self._next()
        user = SandboxUser(
            f"u{number:05d}{secrets.token_hex(5)}",
            email or f"user{number}@example.com",
            account.account_id,
            status,
        )
        self.users[user.id] = user
        return user

    def add_meeting(
        self,
        account: SandboxAccount,
        user: SandboxUser,
        *,
        topic: str,
        start_time: datetime,
        duration: int = 60,
        files: list[FileSpec] | None = None,
        meeting_id: int | None = None,
        uuid: str | None = None,
    ) -> SandboxMeeting:
        """Add one meeting instance; pass an existing `meeting_id` for another instance of a
        recurring meeting. Default files: one MP4 (shared screen + speaker) and one M4A."""
        if user.account_id != account.account_id:
            raise ValueError(f"user {user.email} is not in account {account.name}")
        if start_time.tzinfo is None:
            start_time = start_time.replace(tzinfo=UTC)
        recurring = meeting_id is not None and any(m.id == meeting_id for m in self.meetings)
        if recurring:
            for other in self.meetings:
                if other.id == meeting_id:
                    other.type = 8
        meeting = SandboxMeeting(
            uuid=uuid or random_uuid(),
            id=meeting_id or 80_000_000_000 + self._next(),
            topic=topic,
            start_time=start_time,
            duration=duration,
            host_id=user.id,
            account_id=account.account_id,
            type=8 if recurring else 2,
            files=[],
        )
        specs = files if files is not None else [FileSpec(size=1024), FileSpec("audio_only")]
        for spec in specs:
            meeting.files.append(self._make_file(meeting, spec))
        self.meetings.append(meeting)
        self._by_host.setdefault(meeting.host_id, []).append(meeting)
        return meeting

    def _make_file(self, meeting: SandboxMeeting, spec: FileSpec) -> SandboxFile:
        file_type, ext = _TYPES.get(spec.recording_type, ("MP4", "MP4"))
        if spec.path is not None:
            size = spec.path.stat().st_size
        elif spec.data is not None:
            size = len(spec.data)
        else:
            size = spec.size if spec.size is not None else 1024
        start = meeting.start_time + timedelta(minutes=spec.offset_min)
        length = spec.duration_min if spec.duration_min is not None else meeting.duration
        return SandboxFile(
            id=f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}",
            key=secrets.token_urlsafe(18),
            spec=spec,
            file_type=spec.file_type or file_type,
            file_extension=spec.file_extension or ext,
            start=start,
            end=start + timedelta(minutes=length),
            size=size,
        )

    # -- faults and tokens --------------------------------------------------------------

    def rate_limit(
        self,
        path: str,
        retry_after: float | datetime | None = None,
        *,
        times: int = 1,
        skip: int = 0,
        method: str | None = None,
        limit_type: str = "QPS",
    ) -> Fault:
        """Answer matching calls 429 with Zoom's body and headers; `Retry-After` if given, as
        delta-seconds or, for a datetime, an ISO-8601 UTC time."""
        headers = {"X-RateLimit-Category": "Medium", "X-RateLimit-Type": limit_type}
        headers.update({"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0"})
        if isinstance(retry_after, datetime):
            headers["Retry-After"] = _iso(retry_after)
        elif retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        body = {"code": 429, "message": "You have reached the maximum per-second rate limit."}
        return self.inject(Fault(path, method, 429, body, headers, skip=skip, times=times))

    def daily_limit(
        self,
        path: str,
        reset_at: datetime | None = None,
        *,
        times: int = 1,
        skip: int = 0,
        method: str | None = None,
    ) -> Fault:
        """Answer matching calls Zoom's daily-limit 429: `X-RateLimit-Type: Daily-limit` and
        `Retry-After` as an ISO-8601 time, by default the next 00:00 UTC."""
        # Headers and values as Zoom's rate-limit page shows them ("X-RateLimit-Type:
        # Daily-limit", "Retry-After: 2020-05-31T00:00:00Z"), quoted on devforum.zoom.us/t/18928;
        # the message as Zoom answered there ("You have exceeded the daily rate limit ...").
        if reset_at is None:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            reset_at = today + timedelta(days=1)
        headers = {
            "X-RateLimit-Category": "Heavy",
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": "30000",
            "X-RateLimit-Remaining": "0",
            "Retry-After": _iso(reset_at),
        }
        message = "You have exceeded the daily rate limit (30000) of Heavy API requests."
        body = {"code": 429, "message": message}
        return self.inject(Fault(path, method, 429, body, headers, skip=skip, times=times))

    def server_error(self, path: str, status: int = 500, *, times: int = 1, skip: int = 0) -> Fault:
        body = {"code": status, "message": "Internal server error"}
        return self.inject(Fault(path, None, status, body, skip=skip, times=times))

    def cut_download(self, after_bytes: int, *, times: int = 1, skip: int = 0) -> Fault:
        """Drop the connection after `after_bytes` of a storage response's body."""
        return self.inject(
            Fault(r"^/storage/", "GET", cut_after_bytes=after_bytes, times=times, skip=skip)
        )

    def expire_tokens(self, account: SandboxAccount | None = None) -> None:
        """Make every issued access token (of one account) expired now."""
        with self.lock:
            for token, (account_id, _) in list(self._tokens.items()):
                if account is None or account.account_id == account_id:
                    self._tokens[token] = (account_id, 0.0)

    def expire_tokens_on(self, path: str, *, skip: int = 0) -> Fault:
        """Expire all tokens just before the (skip+1)-th request whose path matches."""
        trigger = Fault(path, skip=skip)
        with self.lock:
            self._expiry_triggers.append(trigger)
        return trigger

    def issued_tokens(self) -> list[str]:
        with self.lock:
            return list(self._tokens)

    def _authorize(self, request: Request, query_token: bool = False) -> str | Response:
        """The account id behind the request's bearer token, or the 401 to answer."""
        with self.lock:
            for trigger in self._expiry_triggers:
                if trigger.fired < trigger.times and re.search(trigger.path, request.path):
                    if trigger.skip > 0:
                        trigger.skip -= 1
                    else:
                        trigger.fired += 1
                        self.expire_tokens()
        header = request.header("authorization") or ""
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token and query_token:
            token = request.query.get("access_token", "")
        with self.lock:
            entry = self._tokens.get(token)
        if entry is None:
            return _error(401, 124, "Invalid access token.")
        account_id, expires = entry
        if time.monotonic() >= expires:
            return _error(401, 124, "Access token is expired.")
        return account_id

    # -- OAuth --------------------------------------------------------------------------

    @route("POST", r"/oauth/token")
    def token(self, request: Request) -> Response:
        if request.query.get("grant_type") != "account_credentials":
            body = {"reason": "Unsupported grant type", "error": "unsupported_grant_type"}
            return Response.json(body, 400)
        header = request.header("authorization") or ""
        client_id = secret = ""
        if header.lower().startswith("basic "):
            with contextlib.suppress(ValueError):
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        account = self.accounts.get(request.query.get("account_id", ""))
        ok = account is not None and (
            hmac.compare_digest(account.client_id, client_id)
            and hmac.compare_digest(account.client_secret, secret)
        )
        if not ok:
            body = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
            return Response.json(body, 401)
        assert account is not None
        token = f"eyJ{secrets.token_urlsafe(48)}"
        with self.lock:
            self._tokens[token] = (account.account_id, time.monotonic() + TOKEN_LIFETIME_S)
        return Response.json(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME_S,
                "scope": "user:read:admin recording:read:admin recording:write:admin",
                "api_url": self.token_api_url or self.base_url,
            }
        )

    # -- paging -------------------------------------------------------------------------

    def _page(
        self, request: Request, key: tuple[Any, ...], items: list[Any]
    ) -> tuple[list[Any], dict[str, Any]] | Response:
        try:
            asked = int(request.query.get("page_size") or DEFAULT_PAGE_SIZE)
        except ValueError:
            return _error(400, 300, "Invalid field: page_size")
        size = max(1, min(asked, MAX_PAGE_SIZE, self.page_size_cap))
        offset = 0
        page_token = request.query.get("next_page_token", "")
        if page_token:
            with self.lock:
                entry = self._page_tokens.pop(page_token, None)
            if entry is None or entry[0] != key or time.monotonic() > entry[2]:
                return _error(400, 300, "The next page token is invalid or expired.")
            offset = entry[1]
        page = items[offset : offset + size]
        next_token = ""
        if offset + size < len(items):
            next_token = secrets.token_urlsafe(24)
            expires = time.monotonic() + PAGE_TOKEN_LIFETIME_S
            with self.lock:
                self._page_tokens[next_token] = (key, offset + size, expires)
        info = {
            "page_count": -(-len(items) // size),
            "page_size": size,
            "total_records": len(items),
            "next_page_token": next_token,
        }
        return page, info

    # -- users --------------------------------------------------------------------------

    @route("GET", r"/v2/users")
    def list_users(self, request: Request) -> Response:
        account_id = self._authorize(request)
        if isinstance(account_id, Response):
            return account_id
        status = request.query.get("status", "active")
        users = [
            u for u in self.users.values() if u.account_id == account_id and u.status == status
        ]
        paged = self._page(request, ("users", account_id, status), users)
        if isinstance(paged, Response):
            return paged
        page, info = paged
        body = {**info, "page_number": 1, "users": [self._user_json(u) for u in page]}
        return Response.json(body)

    @staticmethod
    def _user_json(user: SandboxUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "email": user.email,
            "first_name": user.email.split("@")[0],
            "last_name": "",
            "type": 2,
            "status": user.status,
            "timezone": "UTC",
        }

    # -- recordings ---------------------------------------------------------------------

    @route("GET", r"/v2/users/(?P<user>[^/]+)/recordings")
    def list_recordings(self, request: Request) -> Response:
        account_id = self._authorize(request)
        if isinstance(account_id, Response):
            return account_id
        user_ref = unquote(request.match["user"])
        user = self.users.get(user_ref)
        if user_ref == "me":
            user = next((u for u in self.users.values() if u.account_id == account_id), None)
        if user is None or user.account_id != account_id:
            return _error(404, 1001, f"User does not exist: {user_ref}.")
        today = datetime.now(UTC).date()
        try:
            first = date.fromisoformat(request.query.get("from") or today.isoformat())
            last = date.fromisoformat(request.query.get("to") or today.isoformat())
        except ValueError:
            return _error(400, 300, "Invalid parameter: from/to (expected yyyy-mm-dd).")
        if last - first > timedelta(days=MAX_RANGE_DAYS):
            first = last - timedelta(days=MAX_RANGE_DAYS)  # Zoom answers only the last month
        meetings = [
            m
            for m in self._by_host.get(user.id, ())
            if m.visible_files() and first <= m.start_time.astimezone(UTC).date() <= last
        ]
        meetings.sort(key=lambda m: (m.start_time, m.uuid), reverse=True)
        key = ("recordings", user.id, first, last)
        paged = self._page(request, key, meetings)
        if isinstance(paged, Response):
            return paged
        page, info = paged
        body = {
            "from": first.isoformat(),
            "to": last.isoformat(),
            **info,
            "meetings": [self.meeting_json(m) for m in page],
        }
        return Response.json(body)

    def meeting_json(self, meeting: SandboxMeeting, route: str = "download") -> dict[str, Any]:
        """One meeting as the API lists it; its files' URLs are `/rec/{route}/...`."""
        files = meeting.visible_files()
        return {
            "uuid": meeting.uuid,
            "id": meeting.id,
            "account_id": meeting.account_id,
            "host_id": meeting.host_id,
            "topic": meeting.topic,
            "type": meeting.type,
            "start_time": _iso(meeting.start_time),
            "timezone": "UTC",
            "duration": meeting.duration,
            "total_size": sum(f.spec.reported_size or f.size for f in files),
            "recording_count": len(files),
            "share_url": f"{self.base_url}/rec/share/{meeting.id}",
            "recording_files": [self._file_json(meeting, f, route) for f in files],
        }

    def recording_completed(
        self, meeting: SandboxMeeting, *, event_ts: int | None = None
    ) -> dict[str, Any]:
        """The `recording.completed` event for `meeting`: `payload.object` as the API lists it,
        but with the event's download URLs and a `download_token` valid 24 hours for them."""
        token = f"wdt{secrets.token_urlsafe(40)}"
        with self.lock:
            self._webhook_tokens[token] = (meeting.uuid, time.time() + WEBHOOK_TOKEN_LIFETIME_S)
        obj = self.meeting_json(meeting, route="webhook_download")
        return {
            "event": "recording.completed",
            "event_ts": event_ts if event_ts is not None else int(time.time() * 1000),
            "payload": {"account_id": meeting.account_id, "object": obj},
            "download_token": token,
        }

    def _file_json(self, meeting: SandboxMeeting, f: SandboxFile, route: str) -> dict[str, Any]:
        data = {
            "id": f.id,
            "meeting_id": meeting.uuid,
            "recording_start": _iso(f.start),
            "recording_end": _iso(f.end),
            "file_type": f.file_type,
            "file_extension": f.file_extension,
            "file_size": f.spec.reported_size if f.spec.reported_size is not None else f.size,
            "play_url": f"{self.base_url}/rec/play/{f.key}",
            "download_url": f"{self.base_url}/rec/{route}/{f.key}",
            "status": f.spec.status,
            "recording_type": f.spec.recording_type,
        }
        if f.spec.status != "completed":
            data["file_size"] = 0
        if f.file_type in BARE_FILE_TYPES:
            for name in BARE_FILE_FIELDS:
                del data[name]
        return data

    def _resolve_uuid(self, raw: str) -> str | Response:
        """A path's meeting reference as Zoom decodes it: one decoding by the web server, a
        second for the double-encoded form; a leading `/` or a `//` left after the first
        decoding splits the path (404, code 3301)."""
        once = unquote(raw)
        if once.startswith("/") or "//" in once:
            return _error(404, 3301, "This recording does not exist.")
        return unquote(once) if "%" in once else once

    def _find_meeting(self, account_id: str, ref: str) -> SandboxMeeting | None:
        mine = [m for m in self.meetings if m.account_id == account_id]
        if ref.isdigit():
            same = [m for m in mine if m.id == int(ref)]
            return max(same, key=lambda m: m.start_time) if same else None
        return next((m for m in mine if m.uuid == ref), None)

    @route("GET", r"/v2/meetings/(?P<ref>.+)/recordings")
    def get_recordings(self, request: Request) -> Response:
        account_id = self._authorize(request)
        if isinstance(account_id, Response):
            return account_id
        ref = self._resolve_uuid(request.match["ref"])
        if isinstance(ref, Response):
            return ref
        meeting = self._find_meeting(account_id, ref)
        if meeting is None or not meeting.visible_files():
            return _error(404, 3301, "This recording does not exist.")
        body = self.meeting_json(meeting)
        if "download_access_token" in request.query.get("include_fields", ""):
            token = f"dat{secrets.token_urlsafe(40)}"
            with self.lock:
                self._download_tokens[token] = meeting.uuid
            body["download_access_token"] = token
        return Response.json(body)

    @route("GET", r"/v2/past_meetings/(?P<ref>.+)/instances")
    def past_instances(self, request: Request) -> Response:
        account_id = self._authorize(request)
        if isinstance(account_id, Response):
            return account_id
        ref = self._resolve_uuid(request.match["ref"])
        if isinstance(ref, Response):
            return ref
        mine = [m for m in self.meetings if m.account_id == account_id]
        target = next((m for m in mine if str(m.id) == ref or m.uuid == ref), None)
        if target is None:
            return _error(404, 3001, f"Meeting does not exist: {ref}.")
        instances = sorted((m for m in mine if m.id == target.id), key=lambda m: m.start_time)
        body = {"meetings": [{"uuid": m.uuid, "start_time": _iso(m.start_time)} for m in instances]}
        return Response.json(body)

    @route("DELETE", r"/v2/meetings/(?P<ref>.+)/recordings")
    def delete_recordings(self, request: Request) -> Response:
        return self._delete(request, None)

    @route("DELETE", r"/v2/meetings/(?P<ref>.+)/recordings/(?P<file>[^/]+)")
    def delete_file(self, request: Request) -> Response:
        return self._delete(request, unquote(request.match["file"]))

    def _delete(self, request: Request, file_id: str | None) -> Response:
        account_id = self._authorize(request)
        if isinstance(account_id, Response):
            return account_id
        action = request.query.get("action", "trash")
        if action not in ("trash", "delete"):
            return _error(400, 300, f"Invalid parameter: action {action!r}.")
        ref = self._resolve_uuid(request.match["ref"])
        if isinstance(ref, Response):
            return ref
        meeting = self._find_meeting(account_id, ref)
        if meeting is None:
            return _error(404, 3301, "This recording does not exist.")
        targets = [f for f in meeting.visible_files() if file_id is None or f.id == file_id]
        if not targets:
            return _error(404, 3301, "This recording does not exist.")
        with self.lock:
            for f in targets:
                if action == "delete":
                    meeting.files.remove(f)
                else:
                    f.trashed = True
        return Response(204)

    # -- downloads ----------------------------------------------------------------------

    def _file_by_key(self, key: str) -> tuple[SandboxMeeting, SandboxFile] | None:
        for meeting in self.meetings:
            for f in meeting.files:
                if f.key == key and not f.trashed:
                    return meeting, f
        return None

    def _signature(self, key: str, expires: int) -> str:
        message = f"{key}:{expires}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    @route("GET", r"/rec/download/(?P<key>[^/]+)")
    def download(self, request: Request) -> Response:
        found = self._file_by_key(request.match["key"])
        if found is None:
            return _error(404, 3301, "This recording does not exist.")
        meeting, f = found
        query_token = request.query.get("access_token", "")
        with self.lock:
            download_grant = self._download_tokens.get(query_token) == meeting.uuid
        if not download_grant:
            account_id = self._authorize(request, query_token=True)
            if isinstance(account_id, Response):
                return account_id
            if account_id != meeting.account_id:
                return _error(404, 3301, "This recording does not exist.")
        return self._to_storage(f)

    @route("GET", r"/rec/webhook_download/(?P<key>[^/]+)")
    def webhook_download(self, request: Request) -> Response:
        """A webhook event's file URL: only that event's `download_token` opens it."""
        found = self._file_by_key(request.match["key"])
        if found is None:
            return _error(404, 3301, "This recording does not exist.")
        meeting, f = found
        header = request.header("authorization") or ""
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        with self.lock:
            entry = self._webhook_tokens.get(token or request.query.get("access_token", ""))
        if entry is None or entry[0] != meeting.uuid:
            return _error(401, 124, "Invalid access token.")
        if time.time() >= entry[1]:
            return _error(401, 124, "Access token is expired.")
        return self._to_storage(f)

    def _to_storage(self, f: SandboxFile) -> Response:
        """The redirect to a signed storage URL, valid an hour, that needs no Authorization."""
        expires = int(time.time()) + 3600
        signature = self._signature(f.key, expires)
        location = f"{self.base_url}/storage/{f.key}?expires={expires}&signature={signature}"
        return Response(302, b"", {"Location": location})

    @route("HEAD", r"/storage/(?P<key>[^/]+)")
    def storage_head(self, request: Request) -> Response:
        return self.storage(request)

    @route("GET", r"/storage/(?P<key>[^/]+)")
    def storage(self, request: Request) -> Response:
        key = request.match["key"]
        try:
            expires = int(request.query.get("expires", "0"))
        except ValueError:
            expires = 0
        signature = request.query.get("signature", "")
        valid = hmac.compare_digest(signature, self._signature(key, expires))
        if not valid or time.time() > expires:
            return Response(403, b"<Error><Code>AccessDenied</Code></Error>")
        found = self._file_by_key(key)
        if found is None:
            return Response(404, b"<Error><Code>NoSuchKey</Code></Error>")
        f = found[1]
        size = f.size
        headers = {"Content-Type": "video/mp4", "Accept-Ranges": "bytes"}
        start, stop, status = 0, size, 200
        wanted = request.header("range")
        if wanted and self.honour_range:
            parsed = _parse_range(wanted, size)
            if parsed is None:
                headers["Content-Range"] = f"bytes */{size}"
                return Response(416, b"", headers)
            start, stop = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        if request.method == "HEAD":
            return Response(status, None, headers, length=stop - start)
        return Response(status, f.chunks(start, stop), headers, length=stop - start)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`bytes=N-`, `bytes=N-M` or `bytes=-K` as a half-open span; None when unsatisfiable."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or not (match[1] or match[2]):
        return None
    if not match[1]:
        length = int(match[2])
        return (max(0, size - length), size) if length else None
    start = int(match[1])
    stop = min(size, int(match[2]) + 1) if match[2] else size
    if start >= size or stop <= start:
        return None
    return start, stop
