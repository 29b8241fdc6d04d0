"""WebVTT captions as Zoom writes them, re-timed to a trimmed video.

Zoom's transcript is a plain WebVTT file: the `WEBVTT` header, then numbered cues
(`00:12:03.120 --> 00:12:06.480`) whose text starts with the speaker (`Jane Doe: ...`).
After the video is cut to `[start, end)` of the original, every cue is shifted back by
`start`, cues wholly outside the kept span are dropped, cues straddling an edge are clipped,
and the rest are renumbered. Times are kept as integer milliseconds, so shifts are exact.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from integrations.errors import IntegrationError

_TIMESTAMP = re.compile(r"^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$")
_ARROW = "-->"


class CaptionFormatError(IntegrationError, ValueError):
    """The file is not WebVTT this module can read; `line` is 1-based."""

    def __init__(self, line: int, message: str, source: str | None = None) -> None:
        where = f"{source}, line {line}" if source else f"line {line}"
        super().__init__(f"{where}: {message}")
        self.line = line
        self.source = source


@dataclass(frozen=True)
class Cue:
    """One caption: `[start_ms, end_ms)`, its text lines joined with newlines."""

    start_ms: int
    end_ms: int
    text: str
    identifier: str | None = None
    settings: str = ""  # cue settings after the end time (`align:start ...`), kept verbatim

    @property
    def speaker(self) -> str | None:
        """The `Name` of a Zoom `Name: text` first line, if there is one."""
        head, sep, _rest = self.text.partition(": ")
        return head if sep and "\n" not in head and head.strip() else None


def parse_timestamp(value: str) -> int:
    """`HH:MM:SS.mmm` (hours optional, may exceed 99) as milliseconds; ValueError otherwise."""
    match = _TIMESTAMP.match(value.strip())
    if not match:
        raise ValueError(f"bad timestamp {value.strip()!r} (expected HH:MM:SS.mmm)")
    hours, minutes, seconds, millis = match.groups()
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def format_timestamp(ms: int) -> str:
    """Milliseconds as `HH:MM:SS.mmm` (at least two hour digits)."""
    if ms < 0:
        raise ValueError(f"negative time {ms} ms")
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _timing(line: str, number: int, source: str | None) -> tuple[int, int, str]:
    left, _arrow, right = line.partition(_ARROW)
    parts = right.split(None, 1)
    if not parts:
        raise CaptionFormatError(number, "cue timing without an end time", source)
    try:
        start, end = parse_timestamp(left), parse_timestamp(parts[0])
    except ValueError as exc:
        raise CaptionFormatError(number, str(exc), source) from None
    if end < start:
        raise CaptionFormatError(number, "cue ends before it starts", source)
    return start, end, parts[1].strip() if len(parts) > 1 else ""


def parse_vtt(text: str, *, source: str | None = None) -> list[Cue]:
    """The cues of a WebVTT document. NOTE, STYLE and REGION blocks are skipped.

    Raises `CaptionFormatError` naming the offending line (and `source`, when given).
    """
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines[0].startswith("WEBVTT") or lines[0][6:7] not in ("", " ", "\t"):
        raise CaptionFormatError(1, "missing the WEBVTT header", source)
    index = 1
    while index < len(lines) and lines[index].strip():  # header text after WEBVTT
        if _ARROW in lines[index]:
            raise CaptionFormatError(index + 1, "a cue needs a blank line after the header", source)
        index += 1

    cues: list[Cue] = []
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        block_start = index
        block: list[str] = []
        while index < len(lines) and lines[index].strip():
            block.append(lines[index])
            index += 1
        first = block[0].strip()
        if first.startswith(("NOTE", "STYLE", "REGION")) and _ARROW not in first:
            continue
        identifier: str | None = None
        timing_at = 0
        if _ARROW not in block[0]:
            identifier = first
            timing_at = 1
        if timing_at >= len(block) or _ARROW not in block[timing_at]:
            raise CaptionFormatError(
                block_start + timing_at + 1,
                "expected a cue timing line `HH:MM:SS.mmm --> HH:MM:SS.mmm`",
                source,
            )
        start, end, settings = _timing(block[timing_at], block_start + timing_at + 1, source)
        body = block[timing_at + 1 :]
        for offset, line in enumerate(body):
            if _ARROW in line:
                raise CaptionFormatError(
                    block_start + timing_at + 2 + offset,
                    "cue text contains '-->' (missing blank line between cues?)",
                    source,
                )
        cues.append(Cue(start, end, "\n".join(body), identifier, settings))
    return cues


def shift_cues(cues: Iterable[Cue], start: float, end: float = math.inf) -> list[Cue]:
    """The cues of the span `[start, end)` seconds of the original, re-timed to start at 0.

    Cues wholly outside the span go, cues straddling an edge are clipped to it, empty cues
    go; the rest are renumbered from 1 (identifiers become `1`, `2`, ...).
    """
    if not (start >= 0 and end > start):
        raise ValueError(f"bad kept span [{start}, {end})")
    start_ms = round(start * 1000)
    end_ms = math.inf if math.isinf(end) else round(end * 1000)
    kept: list[Cue] = []
    for cue in sorted(cues, key=lambda c: (c.start_ms, c.end_ms)):
        begin = max(cue.start_ms, start_ms)
        finish = min(cue.end_ms, end_ms)
        if finish <= begin or not cue.text.strip():
            continue
        kept.append(
            replace(
                cue,
                start_ms=begin - start_ms,
                end_ms=int(finish) - start_ms,
                identifier=str(len(kept) + 1),
            )
        )
    return kept


def format_vtt(cues: Sequence[Cue]) -> str:
    """A WebVTT document of `cues` (just the header when there are none)."""
    blocks = ["WEBVTT"]
    for cue in cues:
        timing = f"{format_timestamp(cue.start_ms)} {_ARROW} {format_timestamp(cue.end_ms)}"
        if cue.settings:
            timing += f" {cue.settings}"
        head = [cue.identifier, timing] if cue.identifier else [timing]
        blocks.append("\n".join([*head, cue.text]) if cue.text else "\n".join(head))
    return "\n\n".join(blocks) + "\n"


def shift_vtt_text(text: str, start: float, end: float = math.inf) -> tuple[str, int]:
    """`shift_cues` on a document: the new document and its cue count."""
    cues = shift_cues(parse_vtt(text), start, end)
    return format_vtt(cues), len(cues)


def shift_vtt(source: Path, destination: Path, start: float, end: float = math.inf) -> int:
    """Write `source`'s captions re-timed to the kept span `[start, end)` seconds to
    `destination` (atomically: a temporary file in its folder, then `os.replace`).

    Returns the number of cues written; 0 writes a header-only file, which a caller should
    not publish. `source` may be `destination`.
    """
    source, destination = Path(source), Path(destination)
    text = source.read_text(encoding="utf-8-sig")
    cues = shift_cues(parse_vtt(text, source=source.name), start, end)
    document = format_vtt(cues)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
    )
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(document)
        temp.chmod(0o644)  # mkstemp creates 0600; the result is an ordinary file
        temp.replace(destination)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return len(cues)
