"""Read and write the parts of an MP4 (ISO BMFF) file that a lossless cut needs.

`read_movie` parses the index (`moov`) of a plain, non-fragmented MP4 into per-track sample
tables: each sample's file offset, size, decode time, composition offset and sync flag.
`box` and the `*_box` builders write the tables of a new index. Anything this reader does not
model (fragments, external data, several sample descriptions, `stz2`) raises
`Mp4LayoutError`, and the caller falls back to FFmpeg.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from integrations.media.errors import MediaError, MediaProbeError


class Mp4LayoutError(MediaError):
    """An MP4 whose layout the lossless cut does not handle (FFmpeg does the cut instead)."""


class TruncatedMp4Error(MediaProbeError):
    """An MP4 cut off: a box, or the samples its index lists, run past the end of the data."""


@dataclass(frozen=True)
class Box:
    """One box: its type and where it lies in the buffer or file it was read from."""

    kind: str
    start: int  # offset of the box header
    payload: int  # offset of the payload
    end: int  # offset just past the box (as declared: past the data for a truncated box)


Source = bytes | bytearray | memoryview | BinaryIO
"""Where boxes are read from: a buffer, or an open file (of which only headers are read)."""
_BUFFERS = (bytes, bytearray, memoryview)


def iter_boxes(
    source: Source, start: int = 0, end: int | None = None, *, partial: bool = False
) -> Iterator[Box]:
    """The boxes laid end to end from `start` to `end`: a parent's end, or by default the end
    of the data.

    A box's size is 32-bit, or 1 followed by a 64-bit `largesize`, or 0: the box runs to `end`
    (the end of the file, at the top level). Fewer than 8 bytes left before `end` are ignored.
    A box that runs past its parent's `end` is malformed: `Mp4LayoutError`. A box (or a header)
    that the data end inside is `TruncatedMp4Error`; with `partial`, such a box is yielded as
    declared (its `end` past the data) and the walk stops there: for a file's first bytes, or a
    file whose truncation its index tells better.
    """
    data_size = len(source) if isinstance(source, _BUFFERS) else source.seek(0, os.SEEK_END)
    limit = data_size if end is None else end
    pos = start
    while pos + 8 <= limit:
        header = _header(source, pos, data_size)
        if header is None:
            if partial:
                return
            raise TruncatedMp4Error(f"the MP4 data end at byte {data_size}, in the box at {pos}")
        kind, size, header_size = header
        box_end = limit if size == 0 else pos + size
        if box_end - pos < header_size:
            raise Mp4LayoutError(f"box {kind!r} at {pos} is smaller than its header")
        if box_end > limit and end is not None:
            raise Mp4LayoutError(f"box {kind!r} at {pos} overruns its parent")
        if box_end > data_size:
            if partial:
                yield Box(kind, pos, pos + header_size, box_end)
                return
            raise TruncatedMp4Error(
                f"box {kind!r} at {pos} ends at byte {box_end}, the MP4 data at {data_size}"
            )
        yield Box(kind, pos, pos + header_size, box_end)
        pos = box_end


def _header(source: Source, pos: int, data_size: int) -> tuple[str, int, int] | None:
    """(type, size as declared, header length) of the box at `pos`; None when the data end
    inside its header."""
    if pos + 8 > data_size:
        return None
    if isinstance(source, _BUFFERS):
        view, at = source, pos
    else:
        source.seek(pos)
        view, at = source.read(16), 0
    size, kind = struct.unpack_from(">I4s", view, at)
    if size != 1:
        return kind.decode("latin-1"), size, 8
    if pos + 16 > data_size:
        return None
    return kind.decode("latin-1"), struct.unpack_from(">Q", view, at + 8)[0], 16


def by_kind(boxes: Iterable[Box]) -> dict[str, list[Box]]:
    """`boxes` grouped by type, each group in order."""
    found: dict[str, list[Box]] = {}
    for found_box in boxes:
        found.setdefault(found_box.kind, []).append(found_box)
    return found


def children(data: bytes | memoryview, parent: Box) -> dict[str, list[Box]]:
    """The boxes directly inside `parent`, by type."""
    return by_kind(iter_boxes(data, parent.payload, parent.end))


def only(found: dict[str, list[Box]], kind: str, where: str) -> Box:
    boxes = found.get(kind, [])
    if len(boxes) != 1:
        raise Mp4LayoutError(f"{where} has {len(boxes)} {kind!r} boxes, expected one")
    return boxes[0]


def top_level(handle: BinaryIO) -> dict[str, list[Box]]:
    """Top-level boxes of an open file by type, from their headers; the last one may run past
    the end of a truncated file (see `iter_boxes`' `partial`)."""
    return by_kind(iter_boxes(handle, partial=True))


def _big_endian(values: array) -> array:
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _u32s(data: bytes | memoryview, offset: int, count: int) -> array:
    values = array("I")
    values.frombytes(bytes(data[offset : offset + 4 * count]))
    return _big_endian(values)


def _s32s(data: bytes | memoryview, offset: int, count: int) -> array:
    values = array("i")
    values.frombytes(bytes(data[offset : offset + 4 * count]))
    return _big_endian(values)


def _u64s(data: bytes | memoryview, offset: int, count: int) -> array:
    values = array("Q")
    values.frombytes(bytes(data[offset : offset + 8 * count]))
    return _big_endian(values)


@dataclass
class Track:
    """One track of a movie: its boxes (raw, for reuse) and its samples in decode order."""

    handler: str  # "vide", "soun", ...
    timescale: int
    tkhd: bytes
    mdhd: bytes
    hdlr: bytes
    media_header: bytes  # vmhd / smhd / nmhd
    dinf: bytes
    stsd: bytes
    edit_shift: int  # media time shown at the movie's time 0 (its single edit's media_time)
    offsets: array  # "Q": file offset of each sample
    sizes: array  # "I"
    dts: array  # "q": decode time, media timescale
    composition: array  # "i": composition time minus decode time
    sync: array  # "I": 0-based indices of sync samples

    def __len__(self) -> int:
        return len(self.sizes)

    def duration_of(self, index: int) -> int:
        """How long sample `index` lasts (the last one: as long as the one before it)."""
        if index + 1 < len(self.dts):
            return self.dts[index + 1] - self.dts[index]
        return self.dts[index] - self.dts[index - 1] if index else 0


@dataclass
class Movie:
    """A parsed MP4 index: file-level boxes and the tracks."""

    ftyp: bytes
    mvhd: bytes
    timescale: int
    tracks: list[Track]

    def first(self, handler: str) -> Track | None:
        return next((t for t in self.tracks if t.handler == handler), None)


def read_movie(path: Path) -> Movie:
    """Parse the index of `path`; `Mp4LayoutError` when it is not a plain, self-contained MP4,
    `TruncatedMp4Error` when its samples run past the end of the file."""
    with path.open("rb") as handle:
        size = path.stat().st_size
        boxes = top_level(handle)
        if "moof" in boxes:
            raise Mp4LayoutError("fragmented MP4")
        if len(boxes.get("moov", [])) != 1 or len(boxes.get("ftyp", [])) != 1:
            raise Mp4LayoutError("not one ftyp and one moov")
        ftyp = _read_whole(handle, boxes["ftyp"][0], path, size)
        moov_bytes = _read_whole(handle, boxes["moov"][0], path, size)
    data = memoryview(moov_bytes)
    moov = next(iter_boxes(data))
    inside = children(data, moov)
    if "mvex" in inside:
        raise Mp4LayoutError("fragmented MP4 (mvex)")
    mvhd = only(inside, "mvhd", "moov")
    version = data[mvhd.payload]
    timescale = struct.unpack_from(">I", data, mvhd.payload + (20 if version == 1 else 12))[0]
    tracks = [_read_track(data, trak) for trak in inside.get("trak", [])]
    expected = max((t.offsets[-1] + t.sizes[-1] for t in tracks if len(t)), default=0)
    if expected > size:
        raise TruncatedMp4Error(
            f"{path.name} is truncated: its index lists data up to byte {expected}, "
            f"the file has {size} bytes"
        )
    return Movie(ftyp, bytes(data[mvhd.start : mvhd.end]), timescale, tracks)


def _read_whole(handle: BinaryIO, found: Box, path: Path, size: int) -> bytes:
    """The bytes of a top-level box; `TruncatedMp4Error` when the file ends inside it."""
    if found.end > size:
        raise TruncatedMp4Error(
            f"{path.name} is truncated: its {found.kind!r} box ends at byte {found.end}, "
            f"the file has {size} bytes"
        )
    handle.seek(found.start)
    return handle.read(found.end - found.start)


def _raw(data: memoryview, found: Box) -> bytes:
    return bytes(data[found.start : found.end])


def _read_track(data: memoryview, trak: Box) -> Track:
    parts = children(data, trak)
    mdia = children(data, only(parts, "mdia", "trak"))
    minf = children(data, only(mdia, "minf", "mdia"))
    stbl = children(data, only(minf, "stbl", "minf"))
    mdhd, hdlr = only(mdia, "mdhd", "mdia"), only(mdia, "hdlr", "mdia")
    handler = bytes(data[hdlr.payload + 8 : hdlr.payload + 12]).decode("latin-1")
    version = data[mdhd.payload]
    timescale = struct.unpack_from(">I", data, mdhd.payload + (20 if version == 1 else 12))[0]
    media_header = next((minf[k][0] for k in ("vmhd", "smhd", "nmhd", "sthd") if k in minf), None)
    dinf = only(minf, "dinf", "minf")
    _require_self_contained(data, dinf)
    stsd = only(stbl, "stsd", "stbl")
    if struct.unpack_from(">I", data, stsd.payload + 4)[0] != 1:
        raise Mp4LayoutError("a track with several sample descriptions")
    if "stz2" in stbl:
        raise Mp4LayoutError("compact sample sizes (stz2)")
    sizes = _sizes(data, only(stbl, "stsz", "stbl"))
    count = len(sizes)
    dts = _decode_times(data, only(stbl, "stts", "stbl"), count)
    composition = _composition(data, stbl["ctts"][0], count) if "ctts" in stbl else None
    sync = _sync(data, stbl["stss"][0]) if "stss" in stbl else array("I", range(count))
    chunk_offsets = _chunk_offsets(data, stbl)
    offsets = _sample_offsets(data, only(stbl, "stsc", "stbl"), chunk_offsets, sizes)
    return Track(
        handler=handler,
        timescale=timescale,
        tkhd=_raw(data, only(parts, "tkhd", "trak")),
        mdhd=_raw(data, mdhd),
        hdlr=_raw(data, hdlr),
        media_header=_raw(data, media_header) if media_header else b"",
        dinf=_raw(data, dinf),
        stsd=_raw(data, stsd),
        edit_shift=_edit_shift(data, parts),
        offsets=offsets,
        sizes=sizes,
        dts=dts,
        composition=composition if composition is not None else array("i", bytes(4 * count)),
        sync=sync,
    )


def _require_self_contained(data: memoryview, dinf: Box) -> None:
    dref = only(children(data, dinf), "dref", "dinf")
    for entry in iter_boxes(data, dref.payload + 8, dref.end):
        if not data[entry.payload + 3] & 1:
            raise Mp4LayoutError("media data in another file (dref)")


def _edit_shift(data: memoryview, parts: dict[str, list[Box]]) -> int:
    """The media time shown first: a single edit's media_time (0 with no edit list)."""
    if "edts" not in parts:
        return 0
    elst_boxes = children(data, parts["edts"][0]).get("elst", [])
    if not elst_boxes:
        return 0
    elst = elst_boxes[0]
    version = data[elst.payload]
    (count,) = struct.unpack_from(">I", data, elst.payload + 4)
    if count != 1:
        raise Mp4LayoutError(f"an edit list of {count} entries")
    layout = ">Qq" if version == 1 else ">Ii"
    _, media_time = struct.unpack_from(layout, data, elst.payload + 8)
    rate = struct.unpack_from(">i", data, elst.payload + 8 + struct.calcsize(layout))[0]
    if media_time < 0 or rate != 0x10000:
        raise Mp4LayoutError("an empty or rate-changing edit")
    return media_time


def _sizes(data: memoryview, stsz: Box) -> array:
    uniform, count = struct.unpack_from(">II", data, stsz.payload + 4)
    if uniform:
        return array("I", [uniform]) * count
    return _u32s(data, stsz.payload + 12, count)


def _decode_times(data: memoryview, stts: Box, count: int) -> array:
    (entries,) = struct.unpack_from(">I", data, stts.payload + 4)
    runs = _u32s(data, stts.payload + 8, 2 * entries)
    times = array("q")
    now = 0
    for run in range(entries):
        samples, delta = runs[2 * run], runs[2 * run + 1]
        times.extend(range(now, now + samples * delta, delta) if delta else [now] * samples)
        now += samples * delta
    if len(times) != count:
        raise Mp4LayoutError(f"stts lists {len(times)} samples, stsz {count}")
    return times


def _composition(data: memoryview, ctts: Box, count: int) -> array:
    (entries,) = struct.unpack_from(">I", data, ctts.payload + 4)
    runs = _s32s(data, ctts.payload + 8, 2 * entries)  # version 0 offsets fit in 31 bits too
    offsets = array("i")
    for run in range(entries):
        offsets.extend(array("i", [runs[2 * run + 1]]) * runs[2 * run])
    if len(offsets) != count:
        raise Mp4LayoutError(f"ctts lists {len(offsets)} samples, stsz {count}")
    return offsets


def _sync(data: memoryview, stss: Box) -> array:
    (entries,) = struct.unpack_from(">I", data, stss.payload + 4)
    return array("I", (n - 1 for n in _u32s(data, stss.payload + 8, entries)))


def _chunk_offsets(data: memoryview, stbl: dict[str, list[Box]]) -> array:
    if "co64" in stbl:
        box_ = stbl["co64"][0]
        (entries,) = struct.unpack_from(">I", data, box_.payload + 4)
        return _u64s(data, box_.payload + 8, entries)
    box_ = only(stbl, "stco", "stbl")
    (entries,) = struct.unpack_from(">I", data, box_.payload + 4)
    return array("Q", _u32s(data, box_.payload + 8, entries))


def _sample_offsets(data: memoryview, stsc: Box, chunks: array, sizes: array) -> array:
    (entries,) = struct.unpack_from(">I", data, stsc.payload + 4)
    table = _u32s(data, stsc.payload + 8, 3 * entries)
    offsets = array("Q")
    sample = 0
    for entry in range(entries):
        first, per_chunk = table[3 * entry] - 1, table[3 * entry + 1]
        last = table[3 * entry + 3] - 1 if entry + 1 < entries else len(chunks)
        for chunk in range(first, last):
            position = chunks[chunk]
            for size in sizes[sample : sample + per_chunk]:
                offsets.append(position)
                position += size
            sample += per_chunk
    if len(offsets) != len(sizes):
        raise Mp4LayoutError(f"stsc places {len(offsets)} samples, stsz lists {len(sizes)}")
    return offsets


def box(kind: str, *payload: bytes) -> bytes:
    """A box of `kind` around `payload` (64-bit size when it needs one)."""
    size = 8 + sum(len(part) for part in payload)
    if size >= 1 << 32:
        return struct.pack(">I4sQ", 1, kind.encode(), size + 8) + b"".join(payload)
    return struct.pack(">I4s", size, kind.encode()) + b"".join(payload)


def full_box(kind: str, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def table_box(kind: str, rows: int, values: array, version: int = 0) -> bytes:
    """A full box of `rows` table rows: a 32-bit count, then `values` as big-endian words."""
    words = array(values.typecode, values)
    return full_box(kind, version, 0, struct.pack(">I", rows), _big_endian(words).tobytes())


def with_duration(raw: bytes, duration: int, offset_v0: int, offset_v1: int) -> bytes:
    """A copy of the full box `raw` (mvhd, tkhd, mdhd) with its duration field set."""
    out = bytearray(raw)
    header = 16 if struct.unpack_from(">I", raw)[0] == 1 else 8
    if out[header] == 1:
        struct.pack_into(">Q", out, header + offset_v1, duration)
    elif duration < 1 << 32:
        struct.pack_into(">I", out, header + offset_v0, duration)
    else:
        raise Mp4LayoutError("a duration too long for a version-0 header")
    return bytes(out)


VISUAL_ENTRY_FIELDS = 78  # a visual sample entry's fixed fields, before its child boxes


def stsd_with_avcc(stsd: bytes, avcc: bytes) -> bytes:
    """`stsd` (one `avc1` entry) with the entry's `avcC` payload replaced by `avcc`."""
    outer = next(iter_boxes(stsd))
    entry = next(iter_boxes(stsd, outer.payload + 8, outer.end))
    if entry.kind != "avc1":
        raise Mp4LayoutError(f"sample entry {entry.kind!r}, not avc1")
    fields_end = entry.payload + VISUAL_ENTRY_FIELDS
    parts = []
    for child in iter_boxes(stsd, fields_end, entry.end):
        parts.append(box("avcC", avcc) if child.kind == "avcC" else stsd[child.start : child.end])
    if not any(c.kind == "avcC" for c in iter_boxes(stsd, fields_end, entry.end)):
        raise Mp4LayoutError("avc1 entry without avcC")
    new_entry = box("avc1", stsd[entry.payload : fields_end], *parts)
    return box("stsd", stsd[outer.payload : outer.payload + 8], new_entry)


def avcc_payload(stsd: bytes) -> bytes:
    """The `avcC` payload of the single `avc1` entry in `stsd`."""
    outer = next(iter_boxes(stsd))
    entry = next(iter_boxes(stsd, outer.payload + 8, outer.end))
    for child in iter_boxes(stsd, entry.payload + VISUAL_ENTRY_FIELDS, entry.end):
        if child.kind == "avcC":
            return stsd[child.payload : child.end]
    raise Mp4LayoutError(f"sample entry {entry.kind!r} has no avcC")
