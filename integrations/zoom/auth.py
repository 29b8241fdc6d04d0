"""Server-to-Server OAuth: account credentials and a per-account access-token cache."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from integrations.http.retry import RetryPolicy
from integrations.zoom.errors import (
    ZoomAuthError,
    ZoomRateLimitError,
    ZoomRetryLaterError,
    ZoomUnavailableError,
)
from integrations.zoom.limits import asked_wait, limit_kind

log = logging.getLogger(__name__)

# Refresh this many seconds before Zoom's `expires_in` runs out.
EXPIRY_MARGIN_S = 120.0


@dataclass(frozen=True)
class ZoomAccount:
    """One Zoom account's S2S OAuth app. `name` is how logs and errors refer to it."""

    name: str
    account_id: str
    client_id: str
    client_secret: SecretStr

    def __post_init__(self) -> None:
        if not isinstance(self.client_secret, SecretStr):
            object.__setattr__(self, "client_secret", SecretStr(str(self.client_secret)))


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float
    api_url: str | None = None  # the account's API host, as the token response names it


class TokenCache:
    """Fetches and caches one account's access token until shortly before it expires.

    Thread-safe: concurrent callers share one token and one refresh.
    """

    def __init__(
        self,
        account: ZoomAccount,
        http: httpx.Client,
        oauth_url: str,
        retry: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self._http = http
        self._oauth_url = oauth_url
        self._retry = retry
        self._clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenCache(account={self.account.name!r})"

    def get(self, refresh: bool = False, stale: str | None = None) -> str:
        """A valid token. With `refresh`, a new one unless another thread already replaced
        `stale` (the token the caller saw refused)."""
        with self._lock:
            token = self._token
            if token is not None and refresh and (stale is None or stale == token.value):
                token = None
            if token is None or self._clock() >= token.expires_at:
                token = self._fetch()
                self._token = token
            return token.value

    @property
    def api_url(self) -> str | None:
        """The API host the current token's response named (`https://api.zoom.us`, another
        region's, ZoomGov's), None before the first token or when it named none."""
        token = self._token
        return token.api_url if token is not None else None

    def _fetch(self) -> _Token:
        account = self.account
        params = {"grant_type": "account_credentials", "account_id": account.account_id}
        auth = (account.client_id, account.client_secret.get_secret_value())
        failures = 0
        while True:
            try:
                response = self._http.post(self._oauth_url, params=params, auth=auth)
            except httpx.TransportError as exc:
                failures += 1
                if self._retry.exhausted(failures):
                    raise ZoomUnavailableError(
                        f"Zoom account {account.name!r}: token endpoint unreachable after "
                        f"{failures} attempts ({type(exc).__name__}: {exc})"
                    ) from None
                self._retry.wait(failures)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                failures += 1
                retry_after = asked_wait(response.headers, now=self._retry.now)
                if retry_after is not None and self._retry.exceeds_patience(retry_after):
                    where = f"Zoom account {account.name!r}: token endpoint"
                    why = f"HTTP {status} ({limit_kind(response.headers)})"
                    raise ZoomRetryLaterError.after(where, why, retry_after, self._retry.now)
                if self._retry.exhausted(failures):
                    cls = ZoomRateLimitError if status == 429 else ZoomUnavailableError
                    raise cls(
                        f"Zoom account {account.name!r}: token endpoint answered HTTP {status} "
                        f"{failures} times; giving up"
                    )
                self._retry.wait(failures, retry_after)
                continue
            if status != 200:
                raise ZoomAuthError(
                    account.name,
                    f"the token endpoint refused the credentials (HTTP {status}: "
                    f"{_oauth_error(response)}); check the account id, client id and secret",
                )
            data = response.json()
            expires_in = float(data.get("expires_in", 3599))
            log.debug("Zoom account %r: new access token for %.0f s", account.name, expires_in)
            expires_at = self._clock() + expires_in - EXPIRY_MARGIN_S
            return _Token(data["access_token"], expires_at, data.get("api_url") or None)


def _oauth_error(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return "no JSON body"
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "reason", "message") if body.get(k)]
        if parts:
            return ": ".join(parts)
    return "unexpected body"
