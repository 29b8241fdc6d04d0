"""H.264 parameter sets in MP4 (`avcC`): read them and merge two streams' sets into one.

A smart cut joins a re-encoded head to the source's own packets. Giving the head parameter-set
ids the source does not use and listing both streams' SPS/PPS in the output's `avcC` makes the
joined track conform to plain `avc1` (every parameter set in the sample entry, none in-band) and
keeps the copied packets byte for byte as they were.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import av

from integrations.media.errors import MediaError


class AvccError(MediaError):
    """Extradata that is not a well-formed `avcC` record."""


@dataclass(frozen=True)
class Avcc:
    """An AVCDecoderConfigurationRecord split into its parts."""

    header: bytes  # version, profile, compatibility, level, lengthSizeMinusOne byte
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    trailer: bytes  # High-profile extension (chroma format, bit depths, SPS-ext)

    @property
    def nal_length_size(self) -> int:
        return (self.header[4] & 0x03) + 1

    def to_bytes(self) -> bytes:
        out = bytearray(self.header)
        out.append(0xE0 | len(self.sps))
        for nal in self.sps:
            out += struct.pack(">H", len(nal)) + nal
        out.append(len(self.pps))
        for nal in self.pps:
            out += struct.pack(">H", len(nal)) + nal
        return bytes(out + self.trailer)


def parse_avcc(data: bytes) -> Avcc:
    """Split `avcC` extradata; `AvccError` for Annex B or malformed data."""
    if len(data) < 7 or data[0] != 1:
        raise AvccError("extradata is not an avcC record")
    try:
        pos = 6
        sps = []
        for _ in range(data[5] & 0x1F):
            (length,) = struct.unpack_from(">H", data, pos)
            sps.append(bytes(data[pos + 2 : pos + 2 + length]))
            pos += 2 + length
        pps = []
        count = data[pos]
        pos += 1
        for _ in range(count):
            (length,) = struct.unpack_from(">H", data, pos)
            pps.append(bytes(data[pos + 2 : pos + 2 + length]))
            pos += 2 + length
    except (struct.error, IndexError) as exc:
        raise AvccError(f"truncated avcC record: {exc}") from exc
    if pos > len(data) or not sps or not pps:
        raise AvccError("avcC record without SPS/PPS")
    return Avcc(bytes(data[:5]), tuple(sps), tuple(pps), bytes(data[pos:]))


class _Bits:
    def __init__(self, rbsp: bytes) -> None:
        self.data = rbsp
        self.pos = 0

    def bit(self) -> int:
        byte = self.data[self.pos // 8]
        value = (byte >> (7 - self.pos % 8)) & 1
        self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise AvccError("bad exp-Golomb code")
        value = 0
        for _ in range(zeros):
            value = (value << 1) | self.bit()
        return (1 << zeros) - 1 + value


def _rbsp(nal: bytes) -> bytes:
    """NAL payload without its header byte and emulation-prevention bytes."""
    return nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")


def sps_id(nal: bytes) -> int:
    """seq_parameter_set_id of an SPS NAL unit."""
    try:
        return _Bits(_rbsp(nal)[3:]).ue()  # after profile_idc, constraint flags, level_idc
    except IndexError as exc:
        raise AvccError("SPS too short") from exc


def pps_ids(nal: bytes) -> tuple[int, int]:
    """(pic_parameter_set_id, seq_parameter_set_id) of a PPS NAL unit."""
    try:
        bits = _Bits(_rbsp(nal))
        return bits.ue(), bits.ue()
    except IndexError as exc:
        raise AvccError("PPS too short") from exc


def free_parameter_set_id(avcc: Avcc) -> int:
    """An id in 0..31 used by neither the SPS nor the PPS of `avcc` (x264 uses one for both)."""
    used = {sps_id(nal) for nal in avcc.sps}
    for nal in avcc.pps:
        used.update(pps_ids(nal))
    for candidate in range(1, 32):
        if candidate not in used:
            return candidate
    raise AvccError("no free parameter-set id")


def merge_avcc(source: Avcc, head: Avcc) -> Avcc:
    """The source's record with the head's SPS/PPS added (their ids must not collide)."""
    if source.nal_length_size != head.nal_length_size:
        raise AvccError("NAL length sizes differ")
    source_ids = {sps_id(nal) for nal in source.sps}
    if source_ids & {sps_id(nal) for nal in head.sps}:
        raise AvccError("SPS ids collide")
    if len(source.sps) + len(head.sps) > 31 or len(source.pps) + len(head.pps) > 255:
        raise AvccError("too many parameter sets")
    return Avcc(source.header, source.sps + head.sps, source.pps + head.pps, source.trailer)


def video_extradata(path: Path) -> bytes:
    """Extradata of the first video stream of `path`."""
    with av.open(str(path)) as container:
        return bytes(container.streams.video[0].codec_context.extradata or b"")


def remux_with_extradata(source: Path, destination: Path, extradata: bytes) -> None:
    """Copy the first video stream of `source` into an MP4 whose sample entry holds `extradata`."""
    with av.open(str(source)) as inp:
        stream = inp.streams.video[0]
        timescale = str(stream.time_base.denominator) if stream.time_base.numerator == 1 else None
        options = {"video_track_timescale": timescale} if timescale else {}
        with av.open(str(destination), "w", format="mp4", options=options) as out:
            target = out.add_stream_from_template(stream)
            target.codec_context.extradata = extradata
            target.time_base = stream.time_base
            for packet in inp.demux(stream):
                if packet.size == 0:
                    continue
                packet.stream = target
                out.mux(packet)
