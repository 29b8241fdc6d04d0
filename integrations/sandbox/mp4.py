"""What the platforms' emulators learn from the first bytes of an uploaded MP4: its duration.

A real platform decodes what it receives; the emulators only keep the file's first bytes and
read the movie header (`moov/mvhd`), which a `+faststart` file carries right at its start.
"""

from __future__ import annotations

import struct

from integrations.media.mp4 import Mp4LayoutError, iter_boxes

HEAD_BYTES = 64 * 1024  # what an emulator keeps of each upload


def movie_duration(head: bytes | bytearray) -> float | None:
    """Seconds from the `mvhd` box in the file's first bytes (None when it is not there)."""
    try:
        for top in iter_boxes(head, partial=True):
            if top.kind != "moov":
                continue
            for child in iter_boxes(head, top.payload, top.end, partial=True):
                body = child.payload
                if child.kind != "mvhd" or min(child.end, len(head)) - body < 32:
                    continue
                if head[body] == 1:
                    timescale, duration = struct.unpack_from(">IQ", head, body + 20)
                else:
                    timescale, duration = struct.unpack_from(">II", head, body + 12)
                return duration / timescale if timescale else None
    except Mp4LayoutError:  # not an MP4 as far as its first bytes go
        return None
    return None


def iso8601_duration(seconds: float) -> str:
    """YouTube's `contentDetails.duration` form: `PT1H2M3S` (whole seconds)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or total == 0 else "")
