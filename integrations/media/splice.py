"""Write a cut MP4 from the source's own index, in one pass, without FFmpeg.

The kept span's packets stay where the source has them, so the output is: the source's `ftyp`,
a new index (`moov`) built from the source's sample tables, then one `mdat` holding the
re-encoded head (smart cut) and the few audio packets stored before the first copied keyframe,
followed by the source's bytes from that keyframe to the last kept packet, copied by the kernel
(`copy_file_range`). The index is written before the data, so the file is streamable and
written once; nothing is demuxed or remuxed packet by packet.

Timestamps follow FFmpeg's reading of the source (an edit list's media_time shifts them), so
the plan's times (read with FFmpeg's demuxer) pick the same packets. An edit list per track
starts the video at the first kept frame and the audio at the exact start within its first
packet. Layouts this does not model raise `Mp4LayoutError`; the caller then joins with FFmpeg.

A copy from a keyframe that is not an IDR picture (an open GOP) is made to decode on its own
(`open_gop.recover`): the keyframe and the first pictures after it are rewritten and gathered
before the copied range (their old bytes stay in it, unreferenced), leading pictures are left
out of the index, and the frame numbers of the rest are patched in place after the copy.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import operator
import os
import struct
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import groupby
from pathlib import Path
from typing import BinaryIO

from integrations.media.mp4 import (
    Movie,
    Mp4LayoutError,
    Track,
    avcc_payload,
    box,
    full_box,
    read_movie,
    stsd_with_avcc,
    table_box,
    with_duration,
)
from integrations.media.open_gop import (
    Recovery,
    idr_pic_id_after,
    is_recovery_point,
    leading_pictures,
    recover,
)

COPY_CHUNK = 64 * 1024 * 1024  # per copy_file_range call (and progress report)
BUFFER = 1024 * 1024  # where the kernel cannot copy between these files
# copy_file_range fails so between filesystems (before Linux 5.3) and where it is not offered.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}
CO64_ABOVE = (1 << 32) - 64 * 1024 * 1024  # leave room for the index before the data


@dataclass(frozen=True)
class SpliceSpan:
    """What to keep, in the source's (FFmpeg's) seconds: the values of a `CutPlan`."""

    start: float  # pts of the first kept video frame
    end: float  # pts just after the last kept frame
    copy_from_dts: float  # decode time of the first copied source packet (a keyframe)
    outpoint: float | None  # decode time at which the copy stops; None: the track's end
    keyframe: float | None = None  # smart cut: pts of that keyframe (the head ends there)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class _Plan:
    """One output track, in decode order: the head's samples (video of a smart cut), then the
    source's samples `copied`, with the output's timing."""

    track: Track
    copied: tuple[range, ...]  # source samples, in decode order
    head_offsets: array  # "Q": in the head's file
    head_sizes: array  # "I"
    dts: array  # "q": output decode times, from 0
    composition: array  # "i"
    sync: array  # "I": 0-based output indices of sync samples
    last_duration: int
    edit_media_time: int
    stsd: bytes
    replaced: dict[int, bytes] = field(default_factory=dict)  # copied sample -> its new bytes
    patches: list[tuple[int, int, bytes]] = field(default_factory=list)  # (copied, at, bytes)

    @cached_property
    def copied_offsets(self) -> array:
        """Where the copied samples lie in the source."""
        return _concatenated(self.track.offsets, self.copied)

    @cached_property
    def copied_sizes(self) -> array:
        sizes = _concatenated(self.track.sizes, self.copied)
        for index, data in self.replaced.items():
            sizes[index] = len(data)
        return sizes

    @property
    def sizes(self) -> array:
        """Every output sample's size, the head's first."""
        return self.head_sizes + self.copied_sizes


@dataclass(frozen=True)
class SourceIndex:
    """A source's parsed index, or why a cut cannot be written from it."""

    movie: Movie | None
    problem: str | None = None


def read_index(source: Path) -> SourceIndex:
    """Parse `source`'s index (a tenth of a second for an hour), ahead of the cut."""
    try:
        return SourceIndex(read_movie(source))
    except Mp4LayoutError as exc:
        return SourceIndex(None, str(exc))


def splice(
    source: Path,
    span: SpliceSpan,
    output: Path,
    head: Path | None = None,
    progress: Callable[[float], None] | None = None,
    movie: Movie | None = None,
) -> Recovery | None:
    """Write the cut described by `span` to `output`; `head` is the re-encoded head's MP4, and
    `movie` the source's index when it was read already.

    Returns how a copy from a keyframe that is not an IDR picture was made to decode on its
    own (`open_gop`), None when the keyframe is one; `BitstreamError` when it cannot be.
    """
    movie = movie or read_movie(source)
    video = movie.first("vide")
    if video is None:
        raise Mp4LayoutError("no video track")
    head_track = _head_track(head, video) if head is not None else None
    copied = copied_video_range(video, span.copy_from_dts, span.outpoint)
    recovery = None
    with source.open("rb") as src:
        if is_recovery_point(_reader(src), video, copied.start):
            idr_pic_id = 0
            if head is not None and head_track is not None:
                with head.open("rb") as head_file:
                    idr_pic_id = idr_pic_id_after(_reader(head_file), head_track)
            recovery = recover(_reader(src), video, copied, idr_pic_id)
    tracks = [_video_plan(video, span, head_track, copied, recovery)]
    audio = movie.first("soun")
    if audio is not None:
        tracks.append(_audio_plan(audio, span))
    _write(source, head, movie, tracks, span, output, progress)
    return recovery


def _reader(handle: BinaryIO) -> Callable[[int, int], bytes]:
    descriptor = handle.fileno()
    return lambda offset, size: os.pread(descriptor, size, offset)


def _ticks(seconds: float, timescale: int) -> int:
    return round(seconds * timescale)


def _head_track(head: Path, video: Track) -> Track:
    track = read_movie(head).first("vide")
    if track is None or track.timescale != video.timescale:
        raise Mp4LayoutError("the head's video timescale differs from the source's")
    return track


def _concatenated(values: array, ranges: tuple[range, ...]) -> array:
    out = array(values.typecode)
    for part in ranges:
        out.extend(values[part.start : part.stop])
    return out


def _sync_in(track: Track, ranges: tuple[range, ...], base: int) -> array:
    """Output indices (from `base`) of the track's sync samples among `ranges`, copied one
    after another."""
    found = array("I")
    for part in ranges:
        low = bisect.bisect_left(track.sync, part.start)
        high = bisect.bisect_left(track.sync, part.stop)
        found.extend(i - part.start + base for i in track.sync[low:high])
        base += len(part)
    return found


def copied_video_range(video: Track, copy_from_dts: float, outpoint: float | None) -> range:
    """The video samples a cut copies: from the keyframe decoded at `copy_from_dts` to the
    last one decoded before `outpoint` (FFmpeg's seconds)."""
    scale, shift = video.timescale, video.edit_shift
    key_dts = _ticks(copy_from_dts, scale) + shift
    first = bisect.bisect_left(video.dts, key_dts)
    if first >= len(video) or video.dts[first] != key_dts:
        raise Mp4LayoutError("no source packet at the planned decode time")
    at = bisect.bisect_left(video.sync, first)
    if at >= len(video.sync) or video.sync[at] != first:
        raise Mp4LayoutError("the first copied packet is not a sync sample")
    stop = len(video)
    if outpoint is not None:
        stop = bisect.bisect_left(video.dts, outpoint * scale + shift)
    if stop <= first:
        raise Mp4LayoutError("nothing to copy")
    return range(first, stop)


def _video_plan(
    video: Track,
    span: SpliceSpan,
    head: Track | None,
    copied: range,
    recovery: Recovery | None,
) -> _Plan:
    scale, shift = video.timescale, video.edit_shift
    first, stop = copied.start, copied.stop
    key_pts = video.dts[first] + video.composition[first]
    if recovery is None:
        if leading_pictures(video, first, stop):
            raise Mp4LayoutError("open GOP: a copied frame is shown before its IDR keyframe")
        recovery = Recovery(leading=0, key_dts=video.dts[first])
    # Leading pictures are left out; the keyframe is decoded when the last of them was.
    key_dts, skip = recovery.key_dts, recovery.leading
    ranges = (range(first, first + 1), range(first + 1 + skip, stop)) if skip else (copied,)
    empty_q, empty_i = array("q"), array("i")
    if head is None:
        if abs(key_pts - shift - _ticks(span.start, scale)) > 1:
            raise Mp4LayoutError("a copy cut that does not start at its keyframe")
        head_dts, head_comp, head_sync = empty_q, empty_i, array("I")
        head_offsets, head_sizes, head_len = array("Q"), array("I"), 0
    else:
        keyframe = span.keyframe if span.keyframe is not None else span.start
        head_len = _ticks(keyframe, scale) - _ticks(span.start, scale)
        shown = [d + c for d, c in zip(head.dts, head.composition, strict=True)]
        zero = min(shown)  # the head's first frame is shown at output time 0
        if max(shown) - zero >= head_len:
            raise Mp4LayoutError("the head overlaps the first copied keyframe")
        head_dts = array("q", (d - zero for d in head.dts))
        head_comp, head_sync = head.composition, head.sync
        head_offsets, head_sizes = head.offsets, head.sizes
    # Source sample i is decoded at dts[i] - key_pts + head_len on the output's clock.
    move = head_len - key_pts
    origin = head_dts[0] if len(head_dts) else key_dts + move
    if len(head_dts) and head_dts[-1] >= key_dts + move:
        raise Mp4LayoutError("decode times would not increase across the junction")
    copied_dts = _concatenated(video.dts, ranges)
    copied_dts[0] = key_dts
    dts = array("q", (d - origin for d in head_dts))
    dts.extend(d + move - origin for d in copied_dts)
    composition = _concatenated(video.composition, ranges)
    composition[0] = key_pts - key_dts

    def position(index: int) -> int:  # of source sample `index` among the copied ones
        return 0 if index == first else index - first - skip

    return _Plan(
        track=video,
        copied=ranges,
        head_offsets=head_offsets,
        head_sizes=head_sizes,
        dts=dts,
        composition=head_comp + composition,
        sync=head_sync + _sync_in(video, ranges, len(head_sizes)),
        last_duration=video.duration_of(stop - 1),
        edit_media_time=-origin,
        stsd=stsd_with_avcc(video.stsd, avcc_payload(head.stsd)) if head else video.stsd,
        replaced={position(i): data for i, data in recovery.replaced.items()},
        patches=[(position(i), at, data) for i, at, data in recovery.patches],
    )


def _audio_plan(audio: Track, span: SpliceSpan) -> _Plan:
    scale, shift = audio.timescale, audio.edit_shift
    start = span.start * scale + shift
    first = max(0, bisect.bisect_right(audio.dts, start) - 1)
    stop = bisect.bisect_left(audio.dts, span.end * scale + shift)
    if stop <= first:
        raise Mp4LayoutError("no audio in the kept span")
    origin = audio.dts[first]
    return _Plan(
        track=audio,
        copied=(range(first, stop),),
        head_offsets=array("Q"),
        head_sizes=array("I"),
        dts=array("q", (d - origin for d in audio.dts[first:stop])),
        composition=audio.composition[first:stop],
        sync=_sync_in(audio, (range(first, stop),), 0),
        last_duration=audio.duration_of(stop - 1),
        edit_media_time=round(start) - origin,
        stsd=audio.stsd,
    )


@dataclass
class _Layout:
    """Where every sample goes: gathered ones first (the head, packets stored before the
    copied range, rewritten samples), then the range of source bytes copied as they are."""

    gathered: list[tuple[bool, int, int] | bytes]  # (from the head, offset, size) or the bytes
    range_start: int
    range_end: int
    placed: list[array]  # per track: each sample's offset from the start of the data
    copied_at: int  # offset of the copied range from the start of the data

    @property
    def size(self) -> int:
        return self.copied_at + self.range_end - self.range_start


def _layout(tracks: list[_Plan]) -> _Layout:
    range_start = tracks[0].copied_offsets[0]  # the first copied keyframe
    gathered: list[tuple[bool, int, int] | bytes] = []
    head_at: list[array] = []
    position = 0
    for plan in tracks:
        at = array("Q")
        for offset, size in zip(plan.head_offsets, plan.head_sizes, strict=True):
            gathered.append((True, offset, size))
            at.append(position)
            position += size
        head_at.append(at)
    early = sorted(
        (offset, number, index)
        for number, plan in enumerate(tracks)
        for index, offset in enumerate(plan.copied_offsets)
        if offset < range_start and index not in plan.replaced
    )
    early_at: list[dict[int, int]] = [{} for _ in tracks]
    for offset, number, index in early:
        size = tracks[number].copied_sizes[index]
        early_at[number][index] = position
        gathered.append((False, offset, size))
        position += size
    for number, plan in enumerate(tracks):
        for index, data in sorted(plan.replaced.items()):
            early_at[number][index] = position
            gathered.append(data)
            position += len(data)
    copied_at = position
    range_end = max(
        max(map(operator.add, plan.copied_offsets, _concatenated(plan.track.sizes, plan.copied)))
        for plan in tracks
    )
    placed = []
    for plan, at, moved in zip(tracks, head_at, early_at, strict=True):
        shift = copied_at - range_start
        at.extend(moved[i] if i in moved else o + shift for i, o in enumerate(plan.copied_offsets))
        placed.append(at)
    return _Layout(gathered, range_start, range_end, placed, copied_at)


def _chunks(placed: array, sizes: array) -> tuple[array, array]:
    """Runs of samples that lie back to back: (first offset of each chunk, samples in it)."""
    starts, counts = array("Q"), array("I")
    following = -1
    for offset, size in zip(placed, sizes, strict=True):
        if offset == following:
            counts[-1] += 1
        else:
            starts.append(offset)
            counts.append(1)
        following = offset + size
    return starts, counts


def _stsc(counts: array) -> bytes:
    rows = array("I")
    previous = -1
    for index, count in enumerate(counts, start=1):
        if count != previous:
            rows.extend((index, count, 1))
            previous = count
    return table_box("stsc", len(rows) // 3, rows)


def _runs_box(kind: str, values: array, typecode: str, version: int = 0) -> bytes:
    """stts / ctts: (count, value) runs of `values`."""
    flat = array(typecode)
    runs = 0
    for value, group in groupby(values):
        flat.extend((sum(1 for _ in group), value))
        runs += 1
    return table_box(kind, runs, flat, version)


@dataclass(frozen=True)
class _TrackIndex:
    """A track's boxes; only the chunk offsets depend on where the media data begins."""

    tkhd_edts: bytes
    mdia_head: bytes  # mdhd, hdlr
    minf_head: bytes  # vmhd/smhd, dinf
    tables: bytes  # stsd ... stsc
    chunk_starts: array  # "Q": from the start of the media data
    wide: bool

    def to_bytes(self, data_start: int) -> bytes:
        starts = array("Q", (s + data_start for s in self.chunk_starts))
        if self.wide:
            offsets = table_box("co64", len(starts), starts)
        else:
            offsets = table_box("stco", len(starts), array("I", starts))
        stbl = box("stbl", self.tables, offsets)
        return box(
            "trak", self.tkhd_edts, box("mdia", self.mdia_head, box("minf", self.minf_head, stbl))
        )


def _track_index(
    plan: _Plan, placed: array, movie: Movie, duration: float, wide: bool
) -> _TrackIndex:
    track, sizes = plan.track, plan.sizes
    starts, counts = _chunks(placed, sizes)
    deltas = array("I", map(operator.sub, plan.dts[1:], plan.dts[:-1]))
    deltas.append(plan.last_duration)
    tables = [plan.stsd, _runs_box("stts", deltas, "I")]
    if any(plan.composition):
        signed = min(plan.composition) < 0  # version 1 holds signed offsets
        tables.append(_runs_box("ctts", plan.composition, "i" if signed else "I", int(signed)))
    if len(plan.sync) != len(sizes):
        tables.append(table_box("stss", len(plan.sync), array("I", (i + 1 for i in plan.sync))))
    tables.append(full_box("stsz", 0, 0, struct.pack(">II", 0, len(sizes)), _words(sizes)))
    tables.append(_stsc(counts))
    shown = _ticks(duration, movie.timescale)
    large = max(shown, plan.edit_media_time) >= 1 << 31
    entry = struct.pack(">Qq" if large else ">Ii", shown, plan.edit_media_time)
    elst = full_box("elst", int(large), 0, struct.pack(">I", 1), entry, struct.pack(">I", 0x10000))
    media = plan.dts[-1] + plan.last_duration
    return _TrackIndex(
        tkhd_edts=with_duration(track.tkhd, shown, 20, 28) + box("edts", elst),
        mdia_head=with_duration(track.mdhd, media, 16, 24) + track.hdlr,
        minf_head=track.media_header + track.dinf,
        tables=b"".join(tables),
        chunk_starts=starts,
        wide=wide,
    )


def _words(values: array) -> bytes:
    """`values` as big-endian words."""
    copy = array(values.typecode, values)
    if sys.byteorder == "little":
        copy.byteswap()
    return copy.tobytes()


def _write(
    source: Path,
    head: Path | None,
    movie: Movie,
    tracks: list[_Plan],
    span: SpliceSpan,
    output: Path,
    progress: Callable[[float], None] | None,
) -> None:
    layout = _layout(tracks)
    wide = layout.size > CO64_ABOVE
    indexes = [
        _track_index(plan, placed, movie, span.duration, wide)
        for plan, placed in zip(tracks, layout.placed, strict=True)
    ]
    mvhd = with_duration(movie.mvhd, _ticks(span.duration, movie.timescale), 16, 24)

    def moov(data_start: int) -> bytes:
        return box("moov", mvhd, *(index.to_bytes(data_start) for index in indexes))

    long_mdat = layout.size + 8 >= 1 << 32
    mdat_header = 16 if long_mdat else 8
    data_start = len(movie.ftyp) + len(moov(0)) + mdat_header  # sizes do not depend on offsets
    if long_mdat:
        mdat = struct.pack(">I4sQ", 1, b"mdat", layout.size + 16)
    else:
        mdat = struct.pack(">I4s", layout.size + 8, b"mdat")
    with source.open("rb") as src, output.open("wb") as out:
        out.write(movie.ftyp + moov(data_start) + mdat)
        _write_gathered(out, src, head, layout.gathered)
        out.flush()
        copy_range(src, out, layout.range_start, layout.range_end - layout.range_start, progress)
        for plan, placed in zip(tracks, layout.placed, strict=True):
            first = len(plan.head_sizes)
            for index, at, data in plan.patches:
                os.pwrite(out.fileno(), data, data_start + placed[first + index] + at)


def _write_gathered(
    out: BinaryIO,
    src: BinaryIO,
    head: Path | None,
    gathered: list[tuple[bool, int, int] | bytes],
) -> None:
    with contextlib.ExitStack() as files:
        head_file = files.enter_context(head.open("rb")) if head is not None else None
        for piece in gathered:
            if isinstance(piece, bytes):
                out.write(piece)
                continue
            in_head, offset, size = piece
            handle = head_file if in_head else src
            assert handle is not None
            handle.seek(offset)
            data = handle.read(size)
            if len(data) != size:
                raise Mp4LayoutError("a sample lies past the end of its file")
            out.write(data)


def copy_range(
    src: BinaryIO,
    out: BinaryIO,
    offset: int,
    length: int,
    progress: Callable[[float], None] | None,
) -> None:
    """Append `length` bytes of `src` from `offset` to `out`: in the kernel where it can
    (`copy_file_range`, Linux), else through a buffer."""
    kernel_copy = getattr(os, "copy_file_range", None)
    destination = out.tell()
    done = 0
    while done < length:
        step = min(COPY_CHUNK, length - done)
        copied = None
        if kernel_copy is not None:
            try:
                copied = kernel_copy(
                    src.fileno(), out.fileno(), step, offset + done, destination + done
                )
            except OSError as exc:
                if exc.errno not in _NO_KERNEL_COPY:
                    raise  # a full disk, say: as it is
                kernel_copy = None
        if copied is None:
            copied = _copy_through_buffer(src, out, offset + done, destination + done, step)
        if copied == 0:
            raise Mp4LayoutError("the source ends inside the kept span")
        done += copied
        if progress:
            progress(done / length)


def _copy_through_buffer(
    src: BinaryIO, out: BinaryIO, offset: int, destination: int, length: int
) -> int:
    src.seek(offset)
    out.seek(destination)
    copied = 0
    while copied < length and (data := src.read(min(BUFFER, length - copied))):
        out.write(data)
        copied += len(data)
    out.flush()
    return copied
