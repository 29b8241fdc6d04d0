"""Which Zoom recording view is published when an instance has several (best first)."""

from __future__ import annotations

DEFAULT_VIEW_PRIORITY: tuple[str, ...] = (
    "shared_screen_with_speaker_view",
    "shared_screen_with_gallery_view",
    "speaker_view",
    "active_speaker",
    "gallery_view",
    "shared_screen",
)
