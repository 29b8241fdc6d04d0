"""Synchronous Zoom REST client: users, recordings, past instances, deletion.

Every request carries the account's bearer token (refreshed once on a 401), retries 429
(honouring `Retry-After`), 5xx and connection errors with backoff, and raises a `ZoomError`
with a readable message otherwise; a 429 asking for a longer wait than the run's patience (a
daily limit) raises `ZoomRetryLaterError` with the time Zoom accepts requests again. Paths in
logs and errors never carry tokens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson

from integrations.http.redact import install_log_redaction
from integrations.http.retry import RetryPolicy
from integrations.http.timeouts import http_timeout
from integrations.http.tls import tls_context
from integrations.zoom.auth import TokenCache, ZoomAccount
from integrations.zoom.errors import (
    ZoomAPIError,
    ZoomAuthError,
    ZoomNotFoundError,
    ZoomRateLimitError,
    ZoomRetryLaterError,
    ZoomUnavailableError,
)
from integrations.zoom.limits import asked_wait, limit_kind
from integrations.zoom.models import DEFAULT_VIEW_PRIORITY, ZoomInstance, ZoomUser, parse_instance

log = logging.getLogger(__name__)
install_log_redaction()

DEFAULT_API_URL = "https://api.zoom.us/v2"
PAGE_SIZE = 300
WINDOW_DAYS = 30
# Whose recordings a sync lists. `GET /users` takes `status` active (the default), inactive or
# pending (rootalley/py-zoom-api docs/UsersApi.md, generated from Zoom's OpenAPI file: "default
# to active"; JosephMcEvoy/PSZoom PSZoom/Public/Users/Get-ZoomUsers.ps1). A deactivated host's
# cloud recordings stay in the account, so `inactive` is listed too. Pending users are left
# out: they have not activated their account in this one (the same UsersApi.md: a pending user
# has only `id` and `created_at`; devforum.zoom.us/t/98314: a `status=pending` listing may carry
# no id at all), and an invited user's recordings move in only on accepting the invitation
# (kb.uccs.edu, "Zoom - Accepting Invitation to Zoom Account").
HOST_STATUSES = ("active", "inactive")
DeleteAction = Literal["trash", "delete"]


def encode_uuid(uuid: str) -> str:
    """A meeting UUID for a URL path: encoded twice when it starts with `/` or holds `//`."""
    once = quote(uuid, safe="")
    if uuid.startswith("/") or "//" in uuid:
        return quote(once, safe="")
    return once


def date_windows(start: date, end: date, days: int = WINDOW_DAYS) -> list[tuple[date, date]]:
    """Split the inclusive range `start..end` into inclusive windows of at most `days` days."""
    if end < start:
        raise ValueError(f"range ends ({end}) before it starts ({start})")
    windows = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + timedelta(days=days - 1))
        windows.append((cursor, last))
        cursor = last + timedelta(days=1)
    return windows


class ZoomClient:
    """One Zoom account's API. Use as a context manager or call `close()`."""

    def __init__(
        self,
        account: ZoomAccount,
        *,
        api_url: str | None = None,
        oauth_url: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        if api_url is None or oauth_url is None or retry is None:
            from config.settings import get_settings

            settings = get_settings()
            api_url = api_url or settings.zoom_api_url
            oauth_url = oauth_url or settings.zoom_oauth_url
            retry = retry or RetryPolicy.from_settings()
        self.account = account
        self._fixed_api_url = api_url.rstrip("/") if api_url else None
        self.retry = retry
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=http_timeout(timeout), verify=tls_context())
        self.tokens = TokenCache(account, self._http, oauth_url, retry, clock or time.monotonic)

    def __repr__(self) -> str:
        return f"ZoomClient(account={self.account.name!r}, api_url={self.api_url!r})"

    @property
    def api_url(self) -> str:
        """The REST base: the `api_url` given (or `ZOOM_API_URL`) when set, else the host the
        token response names plus `/v2` (other regions, ZoomGov), else Zoom's default."""
        if self._fixed_api_url:
            return self._fixed_api_url
        # The S2S token response carries `api_url`, e.g. "https://api.zoom.us" (no /v2): the
        # project's notes on Zoom's token response; appcalipse/meetwith src/types/Zoom.ts.
        host = self.tokens.api_url
        if not host:
            return DEFAULT_API_URL
        host = host.rstrip("/")
        return host if host.endswith("/v2") else f"{host}/v2"

    def __enter__(self) -> ZoomClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    # -- tokens -------------------------------------------------------------------------

    def bearer(self, refresh: bool = False) -> str:
        """The current access token (a new one with `refresh`): the downloader's token source."""
        return self.tokens.get(refresh=refresh)

    # -- requests -----------------------------------------------------------------------

    def request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """One API call with auth, retries and error mapping. `path` is relative to the API
        base and already encoded."""
        name = self.account.name
        refreshed = False
        failures = 0
        while True:
            token = self.tokens.get()
            url = f"{self.api_url}{path}"  # after the token: its response may name the host
            try:
                response = self._http.request(
                    method, url, params=params, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError as exc:
                failures += 1
                reason = f"{type(exc).__name__}: {exc}"
                if self.retry.exhausted(failures):
                    raise ZoomUnavailableError(
                        f"Zoom {method} {path} (account {name!r}) failed {failures} times; "
                        f"last error {reason}"
                    ) from None
                delay = self.retry.wait(failures)
                log.warning("Zoom %s %s: %s; retried after %.1f s", method, path, reason, delay)
                continue
            status = response.status_code
            if status == 401:
                if refreshed:
                    raise ZoomAuthError(
                        name,
                        f"Zoom refused a freshly issued access token on {method} {path} "
                        f"({_error_detail(response)[1]})",
                    )
                log.info("Zoom account %r: access token refused, fetching a new one", name)
                self.tokens.get(refresh=True, stale=token)
                refreshed = True
                continue
            if status == 429 or status >= 500:
                failures += 1
                message = _error_detail(response)[1] if status == 429 else ""
                retry_after = asked_wait(response.headers, message, self.retry.now)
                self._give_up_or_wait(method, path, response, failures, retry_after)
                continue
            if status >= 400:
                code, detail = _error_detail(response)
                cls = ZoomNotFoundError if status == 404 else ZoomAPIError
                raise cls(method, path, status, code, detail)
            return response

    def _give_up_or_wait(
        self,
        method: str,
        path: str,
        response: httpx.Response,
        failures: int,
        retry_after: float | None,
    ) -> None:
        status = response.status_code
        where = f"Zoom {method} {path} (account {self.account.name!r})"
        why = (
            f"rate limited ({limit_kind(response.headers)})" if status == 429 else f"HTTP {status}"
        )
        if retry_after is not None and self.retry.exceeds_patience(retry_after):
            raise ZoomRetryLaterError.after(where, why, retry_after, self.retry.now)
        if status == 429:
            if self.retry.exhausted(failures):
                raise ZoomRateLimitError(
                    f"{where}: still {why} after {failures} attempts", retry_after
                )
        elif self.retry.exhausted(failures):
            raise ZoomUnavailableError(f"{where}: HTTP {status} on all {failures} attempts")
        delay = self.retry.wait(failures, retry_after)
        log.warning(
            "%s: HTTP %s, retry %d/%d after %.1f s",
            where,
            status,
            failures,
            self.retry.attempts - 1,
            delay,
        )

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One GET's JSON body, decoded by orjson: a sync of 10,000 instances decodes 12 MB of
        listings, which `json` took about 0.18 s of CPU for."""
        return orjson.loads(self.request("GET", path, params).content)

    def _pages(self, path: str, params: Mapping[str, Any], key: str) -> Iterator[dict[str, Any]]:
        """Every item of a `next_page_token`-paged list, to the last page."""
        token = ""
        seen_tokens: set[str] = set()
        while True:
            query = {**params, "page_size": PAGE_SIZE}
            if token:
                query["next_page_token"] = token
            data = self.get_json(path, query)
            yield from data.get(key) or []
            token = data.get("next_page_token") or ""
            if not token:
                return
            if token in seen_tokens:
                raise ZoomAPIError("GET", path, 200, None, "Zoom repeated a next_page_token")
            seen_tokens.add(token)

    # -- endpoints ----------------------------------------------------------------------

    def users(self, status: str = "active") -> list[ZoomUser]:
        """Every user of the account with `status` (all pages)."""
        return [
            ZoomUser(id=str(u["id"]), email=str(u.get("email", "")), status=str(u.get("status")))
            for u in self._pages("/users", {"status": status}, "users")
        ]

    def hosts(self) -> list[ZoomUser]:
        """Every user whose cloud recordings the account holds: active and deactivated."""
        found: dict[str, ZoomUser] = {}
        for status in HOST_STATUSES:
            for user in self.users(status):
                found.setdefault(user.id, user)
        return list(found.values())

    def recording_windows(self, start: date, end: date) -> Iterator[list[dict[str, Any]]]:
        """Raw meeting instances of every host (active or deactivated) with recordings started
        on `start..end` (UTC days, inclusive), one window of at most 30 days at a time, oldest
        window first: all pages of every host, deduplicated by UUID (across windows too), oldest
        first. A sync stores each window before it lists the next."""
        hosts = self.hosts()
        seen: set[str] = set()
        for first, last in date_windows(start, end):
            found: dict[str, dict[str, Any]] = {}
            params = {"from": first.isoformat(), "to": last.isoformat()}
            for user in hosts:
                path = f"/users/{quote(user.id, safe='')}/recordings"
                for meeting in self._pages(path, params, "meetings"):
                    uuid = str(meeting["uuid"])
                    if uuid not in seen:
                        found.setdefault(uuid, meeting)
            seen.update(found)
            yield sorted(found.values(), key=lambda m: (str(m.get("start_time")), str(m["uuid"])))

    def instances(
        self, start: date, end: date, priority: Sequence[str] = DEFAULT_VIEW_PRIORITY
    ) -> list[ZoomInstance]:
        """Every window's instances, oldest first (`instance_windows` in one list)."""
        return [i for window in self.instance_windows(start, end, priority) for i in window]

    def instance_windows(
        self, start: date, end: date, priority: Sequence[str] = DEFAULT_VIEW_PRIORITY
    ) -> Iterator[list[ZoomInstance]]:
        """`recording_windows` parsed into `ZoomInstance`s (the sync's input)."""
        for window in self.recording_windows(start, end):
            yield [parse_instance(m, priority) for m in window]

    def meeting_recordings(
        self, meeting: str | int, include_download_token: bool = False
    ) -> dict[str, Any]:
        """One instance by UUID (or the latest instance of a numeric meeting id)."""
        params = {"include_fields": "download_access_token"} if include_download_token else None
        return self.get_json(f"/meetings/{self._meeting_ref(meeting)}/recordings", params)

    def past_instances(self, meeting_id: int | str) -> list[dict[str, Any]]:
        """`[{"uuid", "start_time"}, ...]` of every past instance of a meeting."""
        data = self.get_json(f"/past_meetings/{self._meeting_ref(meeting_id)}/instances")
        return list(data.get("meetings") or [])

    def delete_recordings(self, uuid: str, action: DeleteAction = "trash") -> None:
        """Trash (or delete for good) every recording file of one instance."""
        self.request("DELETE", f"/meetings/{encode_uuid(uuid)}/recordings", {"action": action})

    def delete_recording_file(
        self, uuid: str, file_id: str, action: DeleteAction = "trash"
    ) -> None:
        """Trash (or delete for good) one recording file of an instance."""
        path = f"/meetings/{encode_uuid(uuid)}/recordings/{quote(file_id, safe='')}"
        self.request("DELETE", path, {"action": action})

    @staticmethod
    def _meeting_ref(meeting: str | int) -> str:
        text = str(meeting)
        return text if text.isdigit() else encode_uuid(text)


def _error_detail(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, f"HTTP {response.status_code} without a JSON body"
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message") or body.get("reason") or body.get("error") or "no message"
        return (int(code) if isinstance(code, int) else None), str(message)
    return None, "unexpected error body"
