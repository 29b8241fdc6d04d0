"""Zoom's webhook events: their names, what a `recording.completed` hands on, dedup keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.webhook.errors import InvalidEventError

URL_VALIDATION_EVENT = "endpoint.url_validation"
RECORDING_COMPLETED_EVENT = "recording.completed"


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
