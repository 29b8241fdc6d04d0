"""Zoom webhooks without a web framework: signatures, the URL challenge, event deduplication.

Zoom signs every request (`endpoint.url_validation` included) with the app's secret token:
`x-zm-signature: v0=HMAC_SHA256(secret, "v0:{x-zm-request-timestamp}:{raw body}")` in hex.
`verify_request` checks that signature in constant time and rejects timestamps more than five
minutes away from now (replays of a captured request, or a badly wrong clock).

Zoom retries an event it did not see answered 200/204 within 3 s, and the same instance can
arrive more than once. `EventDeduplicator` remembers what was accepted in a bounded, thread-safe
in-memory TTL store, optionally backed by a caller's persistent claim (the status table).

The HTTP face is `integrations.webhook_app.create_app`. Nothing here logs, returns or puts into
an exception message the secret token, a signature or the body.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
SIGNATURE_VERSION = "v0"

MAX_CLOCK_SKEW_S = 300.0  # Zoom's guidance: reject requests older than 5 minutes
# Zoom retries after about 5, 30 and 90 minutes; a download_token lives 24 hours. Remember
# accepted events for a day: a later copy could not be acted on with its token anyway.
DEDUP_TTL_S = 24 * 3600.0
DEDUP_MAX_ENTRIES = 10_000

URL_VALIDATION_EVENT = "endpoint.url_validation"
RECORDING_COMPLETED_EVENT = "recording.completed"


class WebhookError(Exception):
    """Base of the webhook errors. Messages are safe to log and to return to the caller."""


class InvalidSignatureError(WebhookError):
    """The request is not signed with our secret token (missing, malformed or wrong)."""


class StaleRequestError(WebhookError):
    """The request's timestamp is missing, malformed, or too far from now."""


class InvalidEventError(WebhookError):
    """The (authentic) body is not a Zoom event this module understands."""


def _hmac_hex(secret_token: str, message: bytes) -> str:
    return hmac.new(secret_token.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret_token: str, timestamp: str, body: bytes) -> str:
    """The `x-zm-signature` value Zoom sends for `body` at `timestamp` (`v0=<hex>`)."""
    message = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    return f"{SIGNATURE_VERSION}={_hmac_hex(secret_token, message)}"


def parse_timestamp(timestamp: str | None) -> float:
    """`x-zm-request-timestamp` as epoch seconds (Zoom sends seconds; milliseconds tolerated)."""
    if timestamp is None or not timestamp.strip():
        raise StaleRequestError(f"missing {TIMESTAMP_HEADER} header")
    try:
        value = int(timestamp.strip())
    except ValueError:
        raise StaleRequestError(f"malformed {TIMESTAMP_HEADER} header") from None
    return value / 1000.0 if value > 100_000_000_000 else float(value)


def verify_request(
    secret_token: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now: float | None = None,
    max_skew: float = MAX_CLOCK_SKEW_S,
) -> None:
    """Raise unless `signature` signs `body` at `timestamp` and `timestamp` is within
    `max_skew` seconds of `now` (either way: old replays and far-future stamps both fail).

    The signature is checked first, in constant time, so an unsigned request learns nothing
    about our clock.
    """
    if not secret_token:
        raise ValueError("the webhook secret token is empty")
    if not signature:
        raise InvalidSignatureError(f"missing {SIGNATURE_HEADER} header")
    if timestamp is None:
        raise StaleRequestError(f"missing {TIMESTAMP_HEADER} header")
    expected = sign(secret_token, timestamp, body).encode("ascii")
    given = signature.strip().encode("utf-8", "replace")
    if not hmac.compare_digest(expected, given):
        raise InvalidSignatureError("signature does not match")
    sent_at = parse_timestamp(timestamp)
    current = time.time() if now is None else now
    if abs(current - sent_at) > max_skew:
        age = current - sent_at
        side = "old" if age > 0 else "in the future"
        raise StaleRequestError(f"request timestamp is {abs(age):.0f} s {side}")


def url_validation_response(secret_token: str, plain_token: str) -> dict[str, str]:
    """The answer to `endpoint.url_validation`: the token and its HMAC-SHA256 in hex."""
    if not plain_token:
        raise InvalidEventError("endpoint.url_validation without payload.plainToken")
    return {
        "plainToken": plain_token,
        "encryptedToken": _hmac_hex(secret_token, plain_token.encode("utf-8")),
    }


def _object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    payload = event.get("payload")
    obj = payload.get("object") if isinstance(payload, Mapping) else None
    return obj if isinstance(obj, Mapping) else {}


def event_key(event: Mapping[str, Any], *, per_instance: bool = False) -> str:
    """The deduplication key of an event: `event|instance uuid|event_ts`.

    With `per_instance`, the timestamp is left out, so every delivery about one instance (a
    retry, or a second `recording.completed` for it) shares a key. Without an instance UUID
    the object's `id` stands in; without `event_ts` the key is the event and object only.
    """
    name = str(event.get("event") or "")
    obj = _object(event)
    instance = str(obj.get("uuid") or obj.get("id") or "")
    if per_instance:
        return f"{name}|{instance}"
    return f"{name}|{instance}|{event.get('event_ts') or ''}"


def recording_completed_job(event: Mapping[str, Any]) -> dict[str, Any]:
    """What a `recording.completed` hands on: `payload.object` plus its `download_token`
    (valid 24 hours) and the payload's `account_id` when the object lacks one."""
    obj = _object(event)
    if not obj.get("uuid"):
        raise InvalidEventError("recording.completed without payload.object.uuid")
    job = dict(obj)
    token = event.get("download_token")
    if token:
        job["download_token"] = token
    payload = event.get("payload")
    if isinstance(payload, Mapping) and payload.get("account_id"):
        job.setdefault("account_id", payload["account_id"])
    return job


class TTLSet:
    """A bounded, thread-safe set whose members expire `ttl` seconds after being added.

    When full, the oldest members go first. `clock` gives seconds (tests pass a fake).
    """

    def __init__(
        self,
        ttl: float = DEDUP_TTL_S,
        max_entries: int = DEDUP_MAX_ENTRIES,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_entries <= 0:
            raise ValueError("ttl and max_entries must be positive")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now:
                break
            del self._expiry[key]

    def add(self, key: str) -> bool:
        """Add `key`; True when it was not present (or had expired), False for a duplicate."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if key in self._expiry:
                return False
            self._expiry[key] = now + self.ttl
            while len(self._expiry) > self.max_entries:
                self._expiry.popitem(last=False)
            return True

    def discard(self, key: str) -> None:
        with self._lock:
            self._expiry.pop(key, None)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._expire(self._clock())
            return key in self._expiry

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._expiry)


class EventDeduplicator:
    """Accept each event key once: in memory first, then through an optional persistent claim.

    `claim(key) -> bool` is the caller's durable store (e.g. an INSERT that ignores conflicts):
    True when the key is new there. It is asked only for keys new in memory, so duplicates
    arriving within the TTL never touch it. If it raises, the key is forgotten in memory too
    (so Zoom's retry can be accepted later) and the error propagates.
    """

    def __init__(
        self,
        memory: TTLSet | None = None,
        claim: Callable[[str], bool] | None = None,
    ) -> None:
        self.memory = memory if memory is not None else TTLSet()
        self.claim = claim

    def accept(self, key: str) -> bool:
        """True the first time `key` is seen, False for every duplicate."""
        if not self.memory.add(key):
            return False
        if self.claim is None:
            return True
        try:
            return bool(self.claim(key))
        except BaseException:
            self.memory.discard(key)
            raise

    def forget(self, key: str) -> None:
        """Let `key` be accepted again (in memory; a persistent claim is the caller's)."""
        self.memory.discard(key)
