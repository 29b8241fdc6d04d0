"""Join AAC-LC tracks encoded from overlapping pieces of one signal into one M4A track.

FFmpeg's AAC encoder runs on one core, so a long track is encoded as pieces in parallel. Each
piece after the first starts some frames before its junction, on the first piece's 1024-sample
grid, so that its frame n covers the same samples as the first encoder's frame n would. The
pieces are joined at a frame J: the piece before gives the frames before J, the next piece the
frames from J on. AAC-LC frames depend on each other only through the overlap of their
transforms (each frame's MDCT spans its own and the previous frame's samples, with a window
the previous frame chose), so the joined stream decodes as a single encoder's would when
- both encoders were given the same samples under frames J-1 and J (the caller's part), and
- their frames J-1 have the same window sequence and shape (`window_of`): the next piece's
  frame J was then made for exactly the overlap a decoder does with the first piece's J-1.
The joined frames are written as an M4A file with the pieces' priming edit (their first frame
is the encoder's delay) and the real length of the signal, as the encoder itself writes it.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

from integrations.media.errors import MediaError
from integrations.media.mp4 import (
    Movie,
    Track,
    box,
    full_box,
    read_movie,
    table_box,
    with_duration,
)
from integrations.media.splice import CO64_ABOVE, copy_range

FRAME = 1024  # samples per AAC-LC frame

# syntactic elements of an AAC raw data block (ISO/IEC 14496-3, table 4.85)
_SCE, _CPE, _DSE, _FIL = 0, 1, 4, 6


class AacJoinError(MediaError):
    """No frame among the candidates where two pieces can be joined."""


class _TruncatedError(Exception):
    """The frame ends before the bits asked for."""


class _Bits:
    """Reads a frame's bits from the first."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.size = 8 * len(data)
        self.pos = 0

    def read(self, count: int) -> int:
        if self.pos + count > self.size:
            raise _TruncatedError
        self.pos += count
        return (self.value >> (self.size - self.pos)) & ((1 << count) - 1)

    def skip_bytes(self, count: int, aligned: bool = False) -> None:
        if aligned:
            self.pos += -self.pos % 8
        self.pos += 8 * count  # a read past the end raises


def window_of(frame: bytes) -> tuple[int, int] | None:
    """(window_sequence, window_shape) of a mono or stereo AAC-LC frame: of its single channel
    element, or of its channel pair when the pair shares one window; None otherwise."""
    bits = _Bits(frame)
    try:
        while True:
            element = bits.read(3)
            if element == _FIL:
                count = bits.read(4)
                if count == 15:
                    count += bits.read(8) - 1
                bits.skip_bytes(count)
            elif element == _DSE:
                bits.read(4)  # element_instance_tag
                aligned = bool(bits.read(1))
                count = bits.read(8)
                if count == 255:
                    count += bits.read(8)
                bits.skip_bytes(count, aligned)
            elif element == _SCE:
                bits.read(4 + 8)  # element_instance_tag, global_gain
                break
            elif element == _CPE:
                bits.read(4)
                if not bits.read(1):  # no common_window: each channel has its own
                    return None
                break
            else:
                return None
        bits.read(1)  # ics_reserved_bit
        return bits.read(2), bits.read(1)
    except _TruncatedError:
        return None


@dataclass(frozen=True)
class EncodedPiece:
    """An encoder's output (an M4A file) and the frame of the whole signal its frame 0 is."""

    path: Path
    first_frame: int


@dataclass
class _Opened:
    piece: EncodedPiece
    movie: Movie
    track: Track
    media_duration: int  # the track's length in its timescale (mdhd)

    def holds(self, index: int) -> bool:
        return 0 <= index - self.piece.first_frame < len(self.track)

    def frame(self, index: int) -> bytes:
        """Frame `index` of the whole signal, from this piece."""
        local = index - self.piece.first_frame
        with self.piece.path.open("rb") as handle:
            handle.seek(self.track.offsets[local])
            return handle.read(self.track.sizes[local])

    def duration_of(self, local: int) -> int:
        if local + 1 < len(self.track):
            return self.track.dts[local + 1] - self.track.dts[local]
        return self.media_duration - self.track.dts[local]


def _duration_field(raw: bytes, offset_v0: int, offset_v1: int) -> int:
    """The duration in a full box (mvhd, mdhd) as `mp4.with_duration` writes it."""
    if raw[8] == 1:
        return int(struct.unpack_from(">Q", raw, 8 + offset_v1)[0])
    return int(struct.unpack_from(">I", raw, 8 + offset_v0)[0])


def _open(piece: EncodedPiece) -> _Opened:
    movie = read_movie(piece.path)
    track = movie.first("soun")
    if track is None or len(track) == 0:
        raise MediaError(f"{piece.path.name} holds no audio frames")
    return _Opened(piece, movie, track, _duration_field(track.mdhd, 16, 24))


def _junction(before: _Opened, after: _Opened, candidates: list[int]) -> int:
    for frame in candidates:
        if not (before.holds(frame - 1) and after.holds(frame - 1)):
            continue
        window = window_of(before.frame(frame - 1))
        if window is not None and window == window_of(after.frame(frame - 1)):
            return frame
    raise AacJoinError(
        f"{before.piece.path.name} and {after.piece.path.name}: no frame among "
        f"{len(candidates)} candidates where both encoders chose the same window"
    )


def join_pieces(pieces: list[EncodedPiece], candidates: list[list[int]], output: Path) -> list[int]:
    """Write the frames of `pieces` joined at one of each junction's `candidates` (frames of the
    whole signal, in order of preference) to `output` (an M4A file); the chosen frames."""
    opened = [_open(piece) for piece in pieces]
    junctions = [
        _junction(before, after, wanted)
        for before, after, wanted in zip(opened[:-1], opened[1:], candidates, strict=True)
    ]
    starts = [0, *junctions]
    ends = [*junctions, opened[-1].piece.first_frame + len(opened[-1].track)]
    spans = [
        range(start - part.piece.first_frame, end - part.piece.first_frame)
        for part, start, end in zip(opened, starts, ends, strict=True)
    ]
    _write(opened, spans, output)
    return junctions


def _runs(track: Track, frames: range) -> list[range]:
    """`frames` split where they are not stored one after the other."""
    runs: list[range] = []
    start = frames.start
    for index in frames[1:]:
        if track.offsets[index] != track.offsets[index - 1] + track.sizes[index - 1]:
            runs.append(range(start, index))
            start = index
    runs.append(range(start, frames.stop))
    return runs


def _write(opened: list[_Opened], spans: list[range], output: Path) -> None:
    first, last = opened[0], opened[-1]
    sizes = array("I")
    durations = array("I")
    chunks: list[tuple[_Opened, range]] = []
    for part, span in zip(opened, spans, strict=True):
        sizes.extend(part.track.sizes[span.start : span.stop])
        durations.extend(part.duration_of(local) for local in span)
        chunks += [(part, run) for run in _runs(part.track, span)]
    # The signal's length: where the last piece starts plus what its edit shows.
    rate = first.track.timescale
    shown_last = _duration_field(last.movie.mvhd, 16, 24) * rate // last.movie.timescale
    real = last.piece.first_frame * FRAME + shown_last
    shown = real * first.movie.timescale // rate
    media = sum(durations)
    elst = full_box("elst", 1, 0, struct.pack(">IQqI", 1, shown, first.track.edit_shift, 0x10000))
    data = sum(sizes)
    counts = array("I", (len(run) for _, run in chunks))
    stsc = table_box("stsc", len(chunks), array("I", _stsc_rows(counts)))
    head = [
        first.track.stsd,
        _stts(durations),
        stsc,
        full_box("stsz", 0, 0, struct.pack(">II", 0, len(sizes)), _be(sizes)),
    ]
    roll = [
        full_box("sgpd", 1, 0, b"roll", struct.pack(">IIh", 2, 1, -1)),
        full_box("sbgp", 0, 0, b"roll", struct.pack(">III", 1, len(sizes), 1)),
    ]

    def moov(data_start: int) -> bytes:
        starts = array("Q")
        position = data_start
        for part, run in chunks:
            starts.append(position)
            position += sum(part.track.sizes[run.start : run.stop])
        if data > CO64_ABOVE:
            offsets = table_box("co64", len(starts), starts)
        else:
            offsets = table_box("stco", len(starts), array("I", starts))
        stbl = box("stbl", *head, offsets, *roll)
        minf = box("minf", first.track.media_header, first.track.dinf, stbl)
        mdia = box("mdia", with_duration(first.track.mdhd, media, 16, 24), first.track.hdlr, minf)
        trak = box("trak", with_duration(first.track.tkhd, shown, 20, 28), box("edts", elst), mdia)
        return box("moov", with_duration(first.movie.mvhd, shown, 16, 24), trak)

    if data + 8 >= 1 << 32:
        mdat = struct.pack(">I4sQ", 1, b"mdat", data + 16)
    else:
        mdat = struct.pack(">I4s", data + 8, b"mdat")
    data_start = len(first.movie.ftyp) + len(moov(0)) + len(mdat)
    with output.open("wb") as out:
        out.write(first.movie.ftyp + moov(data_start) + mdat)
        for part, run in chunks:
            length = sum(part.track.sizes[run.start : run.stop])
            with part.piece.path.open("rb") as src:
                out.flush()
                copy_range(src, out, part.track.offsets[run.start], length, None)
                out.seek(0, 2)


def _be(values: array) -> bytes:
    """`values` as big-endian words."""
    copy = array(values.typecode, values)
    if sys.byteorder == "little":
        copy.byteswap()
    return copy.tobytes()


def _stts(durations: array) -> bytes:
    rows: list[int] = []
    for duration in durations:
        if rows and rows[-1] == duration:
            rows[-2] += 1
        else:
            rows += [1, duration]
    return table_box("stts", len(rows) // 2, array("I", rows))


def _stsc_rows(counts: array) -> list[int]:
    rows: list[int] = []
    for chunk, count in enumerate(counts, start=1):
        if not rows or rows[-2] != count:
            rows += [chunk, count, 1]
    return rows
