"""Zoom's request signature, and the answer to its URL challenge.

Zoom signs every request (`endpoint.url_validation` included) with the app's secret token:
`x-zm-signature: v0=HMAC_SHA256(secret, "v0:{x-zm-request-timestamp}:{raw body}")` in hex.
`verify_request` checks that signature in constant time and rejects timestamps more than five
minutes away from now (replays of a captured request, or a badly wrong clock).

Nothing here logs, returns or puts into an exception message the secret token, a signature or
the body.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from integrations.webhook.errors import InvalidEventError, InvalidSignatureError, StaleRequestError

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"
SIGNATURE_VERSION = "v0"

MAX_CLOCK_SKEW_S = 300.0  # Zoom's guidance: reject requests older than 5 minutes


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
