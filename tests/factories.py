"""Rows for the status store, made with sensible defaults."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.store.models import Recording
from integrations.store.repository import RecordingStore

_counter = itertools.count(1)


def add_recording(store: RecordingStore, **fields: Any) -> Recording:
    n = next(_counter)
    values: dict[str, Any] = {
        "account": "school@example.com",
        "zoom_uuid": f"uuid-{n}==",
        "zoom_meeting_id": str(80000000000 + n),
        "topic": f"Lecture {n}",
        "start_time": datetime(2026, 11, 20, 10, tzinfo=UTC) + timedelta(hours=n),
        "duration_min": 90,
        "total_size": 300 * 1024 * 1024,
    }
    values.update(fields)
    return store.add(**values)
