"""What the platforms' emulators learn from the first bytes of an uploaded MP4: its duration.

A real platform decodes what it receives; the emulators only keep the file's first bytes and
read the movie header (`moov/mvhd`), which a `+faststart` file carries right at its start.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

HEAD_BYTES = 64 * 1024  # what an emulator keeps of each upload


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in `data[start:end]`, as far as complete."""
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1 and offset + 16 <= end:
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = end - offset
        if size < header:
            return
        yield kind, offset + header, min(offset + size, end)
        offset += size


def movie_duration(head: bytes | bytearray) -> float | None:
    """Seconds from the `mvhd` box in the file's first bytes (None when it is not there)."""
    for kind, payload, end in _boxes(head, 0, len(head)):
        if kind != b"moov":
            continue
        for child, body, child_end in _boxes(head, payload, end):
            if child != b"mvhd" or child_end - body < 32:
                continue
            if head[body] == 1:
                timescale, duration = struct.unpack_from(">IQ", head, body + 20)
            else:
                timescale, duration = struct.unpack_from(">II", head, body + 12)
            return duration / timescale if timescale else None
    return None


def iso8601_duration(seconds: float) -> str:
    """YouTube's `contentDetails.duration` form: `PT1H2M3S` (whole seconds)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or total == 0 else "")
