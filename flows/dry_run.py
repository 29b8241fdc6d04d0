"""Dry runs: what a stage would do, computed from reads only (the store, Zoom's lists, local media).

Nothing is claimed, downloaded, written or published; a table artifact shows the preview.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect.artifacts import create_table_artifact

from config.app_config import load_app_config
from config.secrets import zoom_account_names
from config.settings import get_settings
from config.titles import render
from integrations.media.errors import MediaError
from integrations.media.probe import probe
from integrations.media.silence import detect_sound
from integrations.media.trim import TrimOptions, decide_span
from integrations.store.models import Recording
from integrations.zoom import ZoomRetryLaterError
from tasks.common import get_store, local_storage
from tasks.sync import account_windows, zoom_account

Rows = list[dict[str, Any]]


def publish(stage: str, rows: Rows) -> Rows:
    create_table_artifact(
        key=f"{stage}-dry-run",
        table=rows or [{"id": "-", "would": "nothing"}],
        description=f"What `{stage}` would do (dry run: nothing was changed)",
    )
    return rows


def preview_sync(start: date, end: date) -> Rows:
    """Each instance Zoom lists: whether it would be added, updated or left, and its status."""
    store = get_store()
    rows: Rows = []
    for name in zoom_account_names():
        account = zoom_account(name)
        try:
            for window in account_windows(account, start, end):
                would = store.store_synced(window, preview=True)
                rows.extend(
                    {
                        "account": account.name,
                        "topic": item.values["topic"],
                        "start": item.values["start_time"].isoformat(),
                        "would": outcome,
                        "status": "SKIPPED: " + item.skip if item.skip else "INITIALIZED",
                    }
                    for item, outcome in zip(window, would, strict=True)
                )
        except ZoomRetryLaterError as exc:
            rows.append({"account": account.name, "would": "defer", "status": str(exc)})
    return publish("sync", rows)


def _ready(stage: str, ids: list[int] | None) -> list[Recording]:
    """What this worker would claim for `stage`: for process and upload, on its storage."""
    return get_store().ready(stage, ids, get_settings().max_attempts, local_storage())


def preview_download(ids: list[int] | None) -> Rows:
    rows = [
        {"id": r.id, "topic": r.topic, "would": "download", "bytes": r.total_size,
         "segments": len(r.video_files)}
        for r in _ready("download", ids)
    ]  # fmt: skip
    return publish("download", rows)


def trim_points(source: Path) -> dict[str, Any]:
    """The cut `trim` would make: detection only (audio decode), no file written."""
    options = TrimOptions.from_settings()
    try:
        info = probe(source)
        sound = detect_sound(source, info.duration, options.detection())
    except MediaError as exc:
        return {"would": f"fail: {exc}"}
    if sound is None:
        return {"would": "skip: no sound at all"}
    start, end, untouched = decide_span(info, sound, options.padding)
    if untouched:
        return {"would": "publish as is (no silence to cut)", "start": 0.0, "end": info.duration}
    return {"would": "cut", "start": round(start, 3), "end": round(end, 3)}


def preview_process(ids: list[int] | None) -> Rows:
    rows = []
    for recording in _ready("process", ids):
        source = Path(recording.source_path or "")
        missing = {"would": f"download again: {source} is missing"}
        found = trim_points(source) if source.is_file() else missing
        rows.append({"id": recording.id, "topic": recording.topic, **found})
    return publish("process", rows)


def preview_upload(ids: list[int] | None, platforms: list[str] | None) -> Rows:
    config = load_app_config(get_settings().app_config, missing_ok=True)
    enabled = [name for name, p in config.platforms if p.enabled]
    wanted = [p for p in (platforms or enabled) if p in enabled]
    rows = []
    for recording in _ready("upload", ids):
        titles = render(
            config.video_title_mapping,
            recording.topic,
            recording.start_time,
            recording.rule_pattern,
        )
        done = {p.platform.value for p in recording.publications if p.status.value == "UPLOADED"}
        for platform in wanted:
            youtube = platform == "youtube"
            rows.append(
                {
                    "id": recording.id,
                    "platform": platform,
                    "would": "skip: already published" if platform in done else "publish",
                    "title": titles.youtube_title if youtube else titles.vk_title,
                    "collection": (
                        titles.youtube_playlist_id or titles.youtube_playlist_title
                        if youtube
                        else titles.vk_album_id or titles.vk_album_title
                    )
                    or "",
                    "thumbnail": str(titles.thumbnail or ""),
                }
            )
    return publish("upload", rows)
