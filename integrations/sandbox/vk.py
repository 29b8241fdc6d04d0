"""A loopback emulator of the VK API methods the publisher uses.

Served on `LoopbackServer(VkEmulator())`; point `VK_API_URL` at `url + "/method/"` and use
`emulator.token`. It follows dev.vk.com's contracts:

- `/method/<name>` with form parameters, answering `{"response": ...}` or
  `{"error": {"error_code", "error_msg", "request_params": [...]}}` (5 for a bad token);
- two kinds of token: `emulator.token` is a user's (an administrator of every community unless
  `groups` says otherwise); `community_token(group_id)` makes a community's, which every
  `video.*` method refuses with error 27;
- daily method limits (`daily_limits`, video.save 5,000): past one, error 29;
- `video.save` returns `upload_url` (pointing here), `video_id`, `owner_id`; the upload URL takes
  a `multipart/form-data` POST with the `video_file` field, read in blocks (bounded memory; a
  chunked body is refused with 411) and answers `{"video_id", "owner_id", "size", "video_hash"}`.
  It refuses (error 100) a `name` over 128 characters, a `description` over 5,000, and privacy
  that the owner does not take: a community's video takes community privacy only;
- `video.get` lists a video once its file arrived (with `list_before_upload`, from `video.save`
  on: no source says which VK does), with `duration`, `processing: 1` while it is processed, and
  `files` (`video_video_files` in VKCOM/vk-api-schema video/objects.json) once it is done (the
  moment VK adds them is not documented; the later one is the stricter for a client);
- `groups.getById` (the 5.199 `{"groups": [...]}` shape) with `is_closed`, `is_admin`,
  `admin_level`, `can_upload_video` for the user token;
- `video.getAlbums` (offset/count paging), `video.addAlbum`, `video.addToAlbum` (error 800 when
  the video is already in the album; a video saved with `album_id` is already there);
- covers: `video.getThumbUploadUrl` -> multipart POST of `file` -> `video.saveUploadedThumb`.

Errors are injected with `emulator.fail(method, code, times=..., skip=...)` (a `Fault` whose
answer carries the real `request_params`); `cut_after_bytes` on the upload path drops the
connection mid-body.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from integrations.sandbox.mp4 import HEAD_BYTES, movie_duration
from integrations.sandbox.server import DropConnection, Emulator, Fault, Request, Response, route

_BLOCK = 1 << 16

ERROR_MESSAGES = {
    1: "Unknown error occurred",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    14: "Captcha needed",
    15: "Access denied",
    # errors.json api_error_group_auth; the rest of the text as VK answers a community token
    # on a video method (reported in ../shared/notes/api-contracts.md, VK section).
    27: "Group authorization failed: method is unavailable with group auth.",
    29: "Rate limit reached",  # errors.json api_error_rate_limit
    100: "One of the parameters specified was missing or invalid",
    800: "This video is already added",
}


# Community privacy, by name or number (dev.vk.com/reference/objects/privacy, "Types of Community
# Privacy"): what a video owned by a community takes.
COMMUNITY_PRIVACY_VIEW = {"all", "members", "editors", "by_link", "donut", "0", "1", "2", "3", "5"}
COMMUNITY_PRIVACY_COMMENT = {"all", "members", "editors", "nobody", "0", "1", "2", "4"}
# The same page's values for a user's own video (lists and user ids, optionally negated, too).
USER_PRIVACY = re.compile(
    r"all|friends|friends_of_friends|friends_of_friends_only|nobody|only_me|-?(list)?\d+"
)
# dev.vk.com/method/video.save: `name` "The maximum number of characters is 128", `description`
# "The maximum number of symbols is 5,000", and "no more than 5,000 times a day". Whether VK
# cuts or refuses a longer text is not documented: refusing is the stricter choice.
NAME_LIMIT = 128
DESCRIPTION_LIMIT = 5000
VIDEO_SAVE_PER_DAY = 5000
# video.addAlbum `privacy`: enum "0".."3" (VKCOM/vk-api-schema video/methods.json).
ALBUM_PRIVACY = {"0", "1", "2", "3"}


@dataclass
class VkErrorFault(Fault):
    """A fault answered by the emulator as a VK API error with `error_code`."""

    error_code: int = 6


@dataclass
class Part:
    """One part of a multipart body: its form name, file name, size and SHA-256 (never kept)."""

    name: str
    filename: str | None
    size: int = 0
    digest: Any = field(default_factory=hashlib.sha256)
    value: bytes = b""  # the first `keep` bytes, for small fields and checks

    def feed(self, data: bytes, keep: int) -> None:
        self.size += len(data)
        self.digest.update(data)
        if len(self.value) < keep:
            self.value += data[: keep - len(self.value)]


class VkEmulator(Emulator):
    """VK API on loopback: video.save + streamed upload, video.get, albums, covers, errors."""

    def __init__(self, *, user_id: int = 743784474, processing_seconds: float = 0.0) -> None:
        super().__init__()
        self.user_id = user_id
        self.processing_seconds = processing_seconds
        self.token = "vk1.a.sandbox-" + secrets.token_urlsafe(32)
        self.valid_tokens = {self.token}
        self.community_tokens: dict[str, int] = {}  # token -> its community's id
        # Communities by id, as groups.getById shows them to the user; unlisted ones are open
        # and administered by the user.
        self.groups: dict[int, dict[str, Any]] = {}
        self.daily_limits = {"video.save": VIDEO_SAVE_PER_DAY}
        self.calls_today: dict[str, int] = {}
        self.list_before_upload = False  # video.get lists a saved video before its file arrives
        self.videos: dict[tuple[int, int], dict[str, Any]] = {}
        self.albums: dict[tuple[int, int], dict[str, Any]] = {}
        self.album_videos: set[tuple[int, int, int, int]] = set()  # album owner, album, owner, vid
        self.upload_wire_bytes = 0
        self.uploads_received = 0
        self.lose_upload_answers = 0  # store the next N uploads, then drop the connection
        self.thumbs: dict[str, dict[str, Any]] = {}
        self._video_ids = itertools.count(456239017)
        self._album_ids = itertools.count(1)
        self._photo_ids = itertools.count(457239017)

    # ---- helpers for tests ---------------------------------------------------------------

    def fail(self, method: str, code: int, *, times: int = 1, skip: int = 0) -> Fault:
        """Answer the next `times` calls of `method` (after `skip`) with VK error `code`."""
        return self.inject(
            VkErrorFault(
                path=rf"^/method/{re.escape(method)}$", error_code=code, times=times, skip=skip
            )
        )

    def community_token(self, group_id: int) -> str:
        """A new access token of the community `group_id` (as made in its settings)."""
        token = "vk1.a.community-" + secrets.token_urlsafe(32)
        self.community_tokens[token] = abs(group_id)
        return token

    def group(self, group_id: int) -> dict[str, Any]:
        """How the community `group_id` is set up (see `groups`)."""
        group = {
            "id": group_id,
            "name": f"Community {group_id}",
            "screen_name": f"club{group_id}",
            "is_closed": 0,
            "type": "group",
            "is_admin": 1,
            "admin_level": 3,
            "can_upload_video": 1,
        }
        return group | self.groups.get(group_id, {})

    def revoke(self, token: str | None = None) -> None:
        self.valid_tokens.discard(token or self.token)

    def video(self, owner_id: int, video_id: int) -> dict[str, Any]:
        return self.videos[(owner_id, video_id)]

    def in_album(self, album_owner: int, album_id: int, owner_id: int, video_id: int) -> bool:
        return (album_owner, album_id, owner_id, video_id) in self.album_videos

    # ---- API dispatch --------------------------------------------------------------------

    @route("POST", r"/method/(?P<name>[A-Za-z]+\.[A-Za-z]+)")
    def method_post(self, request: Request) -> Response:
        return self._method(request)

    @route("GET", r"/method/(?P<name>[A-Za-z]+\.[A-Za-z]+)")
    def method_get(self, request: Request) -> Response:
        return self._method(request)

    def _method(self, request: Request) -> Response:
        name = request.match["name"]
        params = dict(request.query)
        if request.body:
            params |= {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        if isinstance(request.fault, VkErrorFault):
            return self._error(request.fault.error_code, name, params)
        token = params.get("access_token")
        if token in self.community_tokens:
            # Every video method is `"access_token_type": ["user"]` (VKCOM/vk-api-schema
            # video/methods.json): a community token gets error 27.
            if name.startswith("video."):
                return self._error(27, name, params)
        elif token not in self.valid_tokens:
            return self._error(5, name, params)
        handler = getattr(self, "m_" + name.replace(".", "_"), None)
        if handler is None:
            return self._error(3, name, params, "Unknown method passed")
        with self.lock:
            limit = self.daily_limits.get(name)
            if limit is not None and self.calls_today.get(name, 0) >= limit:
                return self._error(29, name, params)
            self.calls_today[name] = self.calls_today.get(name, 0) + 1
            result = handler(params)
        if isinstance(result, _VkError):
            return self._error(result.code, name, params, result.message)
        return Response.json({"response": result})

    def _error(
        self, code: int, method: str, params: dict[str, str], message: str | None = None
    ) -> Response:
        shown = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
        shown += [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
        error: dict[str, Any] = {
            "error_code": code,
            "error_msg": message or ERROR_MESSAGES.get(code, "Unknown error occurred"),
            "request_params": shown,
        }
        if code == 14:
            sid = secrets.token_hex(6)
            error |= {"captcha_sid": sid, "captcha_img": f"{self.base_url}/captcha.php?sid={sid}"}
        return Response.json({"error": error})

    def _owner(self, params: dict[str, str]) -> int:
        if params.get("group_id"):
            return -abs(int(params["group_id"]))
        if params.get("owner_id"):
            return int(params["owner_id"])
        return self.user_id

    # ---- video.save and the upload URL ---------------------------------------------------

    def m_video_save(self, params: dict[str, str]) -> Any:
        owner = self._owner(params)
        if problem := _video_save_problem(params, community=owner < 0):
            return _VkError(
                100, f"One of the parameters specified was missing or invalid: {problem}"
            )
        video_id = next(self._video_ids)
        album_id = int(params.get("album_id") or 0)
        if album_id and (owner, album_id) not in self.albums:
            return _VkError(100, "One of the parameters specified was missing or invalid: album_id")
        sig = secrets.token_hex(16)
        self.videos[(owner, video_id)] = {
            "id": video_id,
            "owner_id": owner,
            "title": params.get("name", "Untitled"),
            "description": params.get("description", ""),
            "date": int(time.time()),
            "access_key": secrets.token_hex(9),
            "privacy_view": params.get("privacy_view"),
            "privacy_comment": params.get("privacy_comment"),
            "no_comments": params.get("no_comments") == "1",
            "repeat": params.get("repeat") == "1",
            "sig": sig,
            "state": "created",  # -> processing -> ready
            "size": 0,
            "uploads": 0,
            "thumb": None,
        }
        if album_id:
            self.album_videos.add((owner, album_id, owner, video_id))
        video = self.videos[(owner, video_id)]
        upload_url = f"{self.base_url}/upload/video?vid={video_id}&oid={owner}&sig={sig}"
        return {
            "access_key": video["access_key"],
            "description": video["description"],
            "owner_id": owner,
            "title": video["title"],
            "upload_url": upload_url,
            "video_id": video_id,
        }

    @route("POST", r"/upload/video", streaming=True)
    def upload_video(self, request: Request) -> Response:
        if "content-length" not in request.headers:
            return Response.json({"error": "Length Required"}, 411, {"Connection": "close"})
        length = int(request.headers["content-length"])
        key = (int(request.query.get("oid", 0)), int(request.query.get("vid", 0)))
        with self.lock:
            video = self.videos.get(key)
        cut = request.fault.cut_after_bytes if request.fault else None
        parts = read_multipart(
            request, length, keep=HEAD_BYTES, cut_after=cut, on_bytes=self._count
        )
        if video is None or video["sig"] != request.query.get("sig"):
            return Response.json({"error": "invalid upload signature"}, 403)
        files = [p for p in parts if p.name == "video_file" and p.filename is not None]
        if not files:
            return Response.json({"error": "no video_file field in the form"}, 400)
        part = files[0]
        with self.lock:
            video |= {"state": "processing", "size": part.size, "sha256": part.digest.hexdigest()}
            video["duration"] = round(movie_duration(part.value) or 0)
            video["ready_at"] = time.time() + self.processing_seconds
            video["uploads"] += 1
            self.uploads_received += 1
            lose = self.lose_upload_answers > 0
            self.lose_upload_answers -= int(lose)
        if lose:  # the file arrived but the answer is lost (a cut after the last byte)
            raise DropConnection
        return Response.json(
            {
                "video_hash": hashlib.md5(video["sha256"].encode()).hexdigest()[:18],  # noqa: S324
                "size": part.size,
                "owner_id": key[0],
                "video_id": key[1],
            }
        )

    def _count(self, n: int) -> None:
        with self.lock:
            self.upload_wire_bytes += n

    # ---- video.get -----------------------------------------------------------------------

    def _public(self, video: dict[str, Any]) -> dict[str, Any]:
        item = {
            "id": video["id"],
            "owner_id": video["owner_id"],
            "title": video["title"],
            "description": video["description"],
            "date": video["date"],
            "access_key": video["access_key"],
            "duration": video.get("duration", 0),
            "player": f"https://vk.com/video_ext.php?oid={video['owner_id']}&id={video['id']}",
            "can_edit": 1,
        }
        if video["state"] == "processing" and time.time() < video.get("ready_at", 0):
            item["processing"] = 1
        elif video["state"] == "processing":  # processed: its files (video_video_files)
            stem = f"https://vkvd.sandbox/{video['owner_id']}_{video['id']}"
            item["files"] = {f"mp4_{height}": f"{stem}.{height}.mp4" for height in (360, 720)}
        if video["thumb"]:
            item["image"] = [{"url": video["thumb"], "width": 1280, "height": 720}]
        return item

    def m_video_get(self, params: dict[str, str]) -> Any:
        wanted = [v for v in params.get("videos", "").split(",") if v]
        keys = [tuple(int(x) for x in v.split("_")[:2]) for v in wanted]
        if not keys:
            owner = int(params.get("owner_id") or self.user_id)
            keys = [k for k in self.videos if k[0] == owner]
        items = [
            self._public(self.videos[k])
            for k in keys
            if k in self.videos
            and (self.list_before_upload or self.videos[k]["state"] != "created")
        ]
        return {"count": len(items), "items": items}

    def m_video_delete(self, params: dict[str, str]) -> Any:
        key = (int(params.get("owner_id") or self.user_id), int(params.get("video_id") or 0))
        if key not in self.videos:
            return _VkError(15, "Access denied: video not found")
        del self.videos[key]
        return 1

    # ---- albums --------------------------------------------------------------------------

    def m_video_getAlbums(self, params: dict[str, str]) -> Any:  # noqa: N802 (VK's name)
        owner = int(params.get("owner_id") or self.user_id)
        count = min(int(params.get("count") or 50), 100)
        offset = int(params.get("offset") or 0)
        albums = [a for (o, _), a in sorted(self.albums.items()) if o == owner]
        return {"count": len(albums), "items": albums[offset : offset + count]}

    def m_video_addAlbum(self, params: dict[str, str]) -> Any:  # noqa: N802 (VK's name)
        title = params.get("title", "").strip()
        if not title:
            return _VkError(100, "One of the parameters specified was missing or invalid: title")
        if not set(_values(params.get("privacy"))) <= ALBUM_PRIVACY:
            return _VkError(100, "One of the parameters specified was missing or invalid: privacy")
        owner = self._owner({"group_id": params.get("group_id", "")})
        album_id = next(self._album_ids)
        self.albums[(owner, album_id)] = {
            "id": album_id,
            "owner_id": owner,
            "title": title[:128],
            "count": 0,
            "updated_time": int(time.time()),
        }
        return {"album_id": album_id}

    def m_video_addToAlbum(self, params: dict[str, str]) -> Any:  # noqa: N802 (VK's name)
        target = int(params.get("target_id") or self.user_id)
        album_ids = [
            int(a) for a in (params.get("album_ids") or params.get("album_id", "")).split(",") if a
        ]
        owner, video_id = int(params.get("owner_id", 0)), int(params.get("video_id", 0))
        if (owner, video_id) not in self.videos:
            return _VkError(100, "One of the parameters specified was missing or invalid: video_id")
        for album_id in album_ids:
            if (target, album_id) not in self.albums:
                return _VkError(
                    100, "One of the parameters specified was missing or invalid: album_id"
                )
            if (target, album_id, owner, video_id) in self.album_videos:
                return _VkError(800)
        for album_id in album_ids:
            self.album_videos.add((target, album_id, owner, video_id))
            self.albums[(target, album_id)]["count"] += 1
        return 1

    # ---- communities ---------------------------------------------------------------------

    def m_groups_getById(self, params: dict[str, str]) -> Any:  # noqa: N802 (VK's name)
        """groups_getById_object_response (VKCOM/vk-api-schema groups/responses.json)."""
        community = self.community_tokens.get(params.get("access_token", ""))
        wanted = params.get("group_id") or params.get("group_ids") or str(community or "")
        fields = set(_values(params.get("fields")))
        groups = []
        for text in _values(wanted):
            if not text.isdigit():
                return _VkError(
                    100, "One of the parameters specified was missing or invalid: group_id"
                )
            group = self.group(int(text))
            basic = {k: group[k] for k in ("id", "name", "screen_name", "is_closed", "type")}
            # The current user's relation to it: not for a community token.
            mine = {} if community else {k: group[k] for k in fields & group.keys()}
            if not group["is_admin"]:
                mine.pop("admin_level", None)
            groups.append(basic | mine)
        if not groups:
            return _VkError(100, "One of the parameters specified was missing or invalid: group_id")
        return {"groups": groups, "profiles": []}

    # ---- covers --------------------------------------------------------------------------

    def m_video_getThumbUploadUrl(self, params: dict[str, str]) -> Any:  # noqa: N802
        owner = int(params.get("owner_id") or self.user_id)
        sig = secrets.token_hex(16)
        self.thumbs[sig] = {"owner_id": owner, "photo": None}
        return {"upload_url": f"{self.base_url}/upload/thumb?oid={owner}&sig={sig}"}

    @route("POST", r"/upload/thumb", streaming=True)
    def upload_thumb(self, request: Request) -> Response:
        length = int(request.header("content-length") or 0)
        parts = read_multipart(request, length, keep=4 * 1024 * 1024)
        slot = self.thumbs.get(request.query.get("sig", ""))
        files = [p for p in parts if p.name == "file"]
        if slot is None:
            return Response.json({"error": "invalid upload signature"}, 403)
        if not files or not files[0].value.startswith((b"\xff\xd8\xff", b"\x89PNG")):
            return Response.json({"error": "ERR_UPLOAD_BAD_IMAGE_SIZE: not an image"}, 400)
        photo = secrets.token_hex(12)
        with self.lock:
            slot["photo"] = photo
        return Response.json({"photo": photo, "server": 1, "hash": secrets.token_hex(8)})

    def m_video_saveUploadedThumb(self, params: dict[str, str]) -> Any:  # noqa: N802
        try:
            photo = json.loads(params.get("thumb_json", "")).get("photo")
        except (ValueError, AttributeError):
            photo = None
        slot = next((s for s in self.thumbs.values() if photo and s["photo"] == photo), None)
        if slot is None:
            return _VkError(
                100, "One of the parameters specified was missing or invalid: thumb_json"
            )
        owner = int(params.get("owner_id") or slot["owner_id"])
        photo_id = next(self._photo_ids)
        if params.get("set_thumb") == "1" and params.get("video_id"):
            video = self.videos.get((owner, int(params["video_id"])))
            if video is None:
                return _VkError(
                    100, "One of the parameters specified was missing or invalid: video_id"
                )
            video["thumb"] = f"https://sun9.userapi.com/impg/{photo}.jpg"
        return {"photo_id": photo_id, "photo_owner_id": owner, "photo_hash": photo[:18]}


@dataclass
class _VkError:
    code: int
    message: str | None = None


def _values(text: str | None) -> list[str]:
    """An array parameter as sent in a form: comma-separated."""
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def _video_save_problem(params: dict[str, str], *, community: bool) -> str | None:
    """Which video.save parameter VK would refuse, if any (see the limits above)."""
    if len(params.get("name", "")) > NAME_LIMIT:
        return "name is too long"
    if len(params.get("description", "")) > DESCRIPTION_LIMIT:
        return "description is too long"
    for key, community_values in (
        ("privacy_view", COMMUNITY_PRIVACY_VIEW),
        ("privacy_comment", COMMUNITY_PRIVACY_COMMENT),
    ):
        for value in _values(params.get(key)):
            valid = value in community_values if community else USER_PRIVACY.fullmatch(value)
            if not valid:
                return f"{key} is invalid"
    return None


def read_multipart(
    request: Request,
    length: int,
    *,
    keep: int = 4096,
    cut_after: int | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> list[Part]:
    """Read a `multipart/form-data` body from `request.stream` in blocks, hashing each part.

    Holds at most one block plus a boundary in memory (and `keep` bytes of each part's start).
    With `cut_after`, raises `DropConnection` once that many body bytes were read.
    """
    match = re.search(r'boundary="?([^";]+)"?', request.header("content-type") or "")
    reader = _BodyReader(request.stream, length, cut_after, on_bytes)
    if not match:
        reader.discard()
        return []
    delimiter = b"\r\n--" + match.group(1).encode()
    hold = len(delimiter) + 1
    parts: list[Part] = []
    current: Part | None = None
    buffer = b"\r\n"  # so the first boundary looks like every other delimiter
    while True:
        if current is not None and current.size < 0:  # reading this part's headers
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                named = _part_from_headers(buffer[:end])
                current.name, current.filename, current.size = named.name, named.filename, 0
                buffer = buffer[end + 4 :]
                continue
        else:
            at = buffer.find(delimiter)
            if at >= 0 and len(buffer) >= at + len(delimiter) + 2:
                if current is not None:
                    current.feed(buffer[:at], keep)
                rest = buffer[at + len(delimiter) :]
                if rest.startswith(b"--"):
                    reader.discard()
                    return parts
                current = Part("", None, size=-1)
                parts.append(current)
                buffer = rest[2:]
                continue
            if at < 0 and len(buffer) > hold:
                if current is not None:
                    current.feed(buffer[:-hold], keep)
                buffer = buffer[-hold:]
        block = reader.read()
        if not block:
            return [p for p in parts if p.size >= 0]
        buffer += block


class _BodyReader:
    """Reads a request body of known length in blocks, optionally dropping the connection."""

    def __init__(
        self,
        stream: Any,
        length: int,
        cut_after: int | None,
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        self.stream, self.left, self.cut_after, self.on_bytes = stream, length, cut_after, on_bytes
        self.read_bytes = 0

    def read(self) -> bytes:
        if self.left <= 0:
            return b""
        want = min(_BLOCK, self.left)
        if self.cut_after is not None:
            if self.read_bytes >= self.cut_after:
                raise DropConnection
            want = min(want, self.cut_after - self.read_bytes)
        block = self.stream.read(want)
        self.left = self.left - len(block) if block else 0
        self.read_bytes += len(block)
        if self.on_bytes is not None and block:
            self.on_bytes(len(block))
        return block

    def discard(self) -> None:
        while self.read():
            pass


def _part_from_headers(raw: bytes) -> Part:
    text = raw.decode("utf-8", "replace")
    name = re.search(r'name="([^"]*)"', text)
    filename = re.search(r'filename="([^"]*)"', text)
    return Part(name.group(1) if name else "", filename.group(1) if filename else None)
