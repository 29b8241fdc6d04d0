"""H.264 in MP4: parameter sets (`avcC`), slice headers, and the bits between.

A smart cut joins a re-encoded head to the source's own packets. Giving the head parameter-set
ids the source does not use and listing both streams' SPS/PPS in the output's `avcC` makes the
joined track conform to plain `avc1` (every parameter set in the sample entry, none in-band) and
keeps the copied packets byte for byte as they were.

A copy from an open GOP's keyframe rewrites slice headers (`open_gop`): `parse_slice_header`
reads the fields that number and mark pictures, with their bit positions, and `rebuild_slice`
writes a header with new values in front of the slice's data as they were.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import av

from integrations.media.errors import MediaError
from integrations.media.probe import time_base_of


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


class BitstreamError(MediaError):
    """H.264 syntax that is malformed, or that this module does not parse or rewrite."""


class BitReader:
    """Reads an RBSP: fixed-width fields, Exp-Golomb codes, bit positions."""

    def __init__(self, rbsp: bytes, pos: int = 0) -> None:
        self.value = int.from_bytes(rbsp, "big")
        self.size = 8 * len(rbsp)
        self.pos = pos

    def u(self, bits: int) -> int:
        end = self.pos + bits
        if end > self.size:
            raise BitstreamError("syntax element past the end of the NAL unit")
        value = (self.value >> (self.size - end)) & ((1 << bits) - 1)
        self.pos = end
        return value

    def flag(self) -> bool:
        return bool(self.u(1))

    def ue(self) -> int:
        rest = self.value & ((1 << (self.size - self.pos)) - 1)
        zeros = self.size - self.pos - rest.bit_length()
        if rest == 0 or zeros > 31:
            raise BitstreamError("bad Exp-Golomb code")
        self.pos += zeros
        return self.u(zeros + 1) - 1

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


class BitWriter:
    """Builds an RBSP field by field."""

    def __init__(self) -> None:
        self.value = 0
        self.size = 0

    def u(self, bits: int, value: int) -> None:
        self.value = (self.value << bits) | value
        self.size += bits

    def ue(self, value: int) -> None:
        self.u(2 * (value + 1).bit_length() - 1, value + 1)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def copy(self, source: BitReader, start: int, end: int) -> None:
        """Append bits [start, end) of `source`."""
        self.u(end - start, (source.value >> (source.size - end)) & ((1 << (end - start)) - 1))

    def to_bytes(self) -> bytes:
        if self.size % 8:
            raise BitstreamError("an RBSP that does not end on a byte boundary")
        return self.value.to_bytes(self.size // 8, "big")


def unescape(payload: bytes) -> bytes:
    """The RBSP of a NAL unit's payload: its emulation-prevention bytes (00 00 03) removed."""
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


_NEEDS_ESCAPE = re.compile(b"\x00\x00(?=[\x00-\x03])")


def escape(rbsp: bytes) -> bytes:
    """A NAL unit payload for `rbsp`: an emulation-prevention byte after every 00 00 that
    precedes a byte up to 03, and after a final zero byte."""
    escaped = _NEEDS_ESCAPE.sub(b"\x00\x00\x03", rbsp)
    return escaped + b"\x03" if escaped.endswith(b"\x00") else escaped


def _rbsp(nal: bytes) -> bytes:
    """NAL payload without its header byte and emulation-prevention bytes."""
    return unescape(nal[1:])


def sps_id(nal: bytes) -> int:
    """seq_parameter_set_id of an SPS NAL unit."""
    try:
        return BitReader(_rbsp(nal), 24).ue()  # after profile_idc, constraint flags, level_idc
    except BitstreamError as exc:
        raise AvccError("SPS too short") from exc


def pps_ids(nal: bytes) -> tuple[int, int]:
    """(pic_parameter_set_id, seq_parameter_set_id) of a PPS NAL unit."""
    try:
        bits = BitReader(_rbsp(nal))
        return bits.ue(), bits.ue()
    except BitstreamError as exc:
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
        time_base = time_base_of(stream)
        timescale = str(time_base.denominator) if time_base.numerator == 1 else None
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


NAL_SLICE = 1  # a coded slice of a non-IDR picture
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
SLICE_P, SLICE_B, SLICE_I, SLICE_SP, SLICE_SI = range(5)
_CHROMA_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


@dataclass(frozen=True)
class SequenceParameters:
    """The fields of an SPS that slice headers depend on."""

    id: int
    chroma_array_type: int
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int  # 0 unless poc_type is 0
    max_num_ref_frames: int
    frame_mbs_only: bool
    separate_colour_plane: bool


@dataclass(frozen=True)
class PictureParameters:
    """The fields of a PPS that slice headers depend on."""

    id: int
    sps_id: int
    cabac: bool
    bottom_field_pic_order: bool
    slice_groups: int
    ref_idx_defaults: tuple[int, int]  # num_ref_idx_l0/l1_default_active
    weighted_pred: bool
    weighted_bipred_idc: int
    deblocking_control: bool
    redundant_pic_cnt: bool


def _skip_scaling_list(bits: BitReader, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def parse_sps(nal: bytes) -> SequenceParameters:
    """The slice-relevant fields of an SPS NAL unit."""
    bits = BitReader(_rbsp(nal))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level_idc
    sps = bits.ue()
    chroma_format, separate = 1, False
    if profile in _CHROMA_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            separate = bits.flag()
        bits.ue(), bits.ue(), bits.u(1)  # bit depths, qpprime_y_zero_transform_bypass_flag
        if bits.flag():  # seq_scaling_matrix_present_flag
            for index in range(12 if chroma_format == 3 else 8):
                if bits.flag():
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    log2_max_frame_num = bits.ue() + 4
    poc_type = bits.ue()
    log2_max_poc_lsb = 0
    if poc_type == 0:
        log2_max_poc_lsb = bits.ue() + 4
    elif poc_type == 1:
        bits.u(1), bits.se(), bits.se()
        for _ in range(bits.ue()):
            bits.se()
    max_num_ref_frames = bits.ue()
    bits.u(1), bits.ue(), bits.ue()  # gaps allowed, width and height in macroblocks
    return SequenceParameters(
        id=sps,
        chroma_array_type=0 if separate else chroma_format,
        log2_max_frame_num=log2_max_frame_num,
        poc_type=poc_type,
        log2_max_poc_lsb=log2_max_poc_lsb,
        max_num_ref_frames=max_num_ref_frames,
        frame_mbs_only=bits.flag(),
        separate_colour_plane=separate,
    )


def parse_pps(nal: bytes) -> PictureParameters:
    """The slice-relevant fields of a PPS NAL unit."""
    bits = BitReader(_rbsp(nal))
    pps, sps, cabac, bottom_field = bits.ue(), bits.ue(), bits.flag(), bits.flag()
    slice_groups = bits.ue() + 1
    if slice_groups > 1:
        raise BitstreamError("slice groups (FMO)")
    defaults = (bits.ue() + 1, bits.ue() + 1)
    weighted_pred, weighted_bipred = bits.flag(), bits.u(2)
    bits.se(), bits.se(), bits.se()  # pic_init_qp, pic_init_qs, chroma_qp_index_offset
    deblocking = bits.flag()
    bits.u(1)  # constrained_intra_pred_flag
    return PictureParameters(
        id=pps,
        sps_id=sps,
        cabac=cabac,
        bottom_field_pic_order=bottom_field,
        slice_groups=slice_groups,
        ref_idx_defaults=defaults,
        weighted_pred=weighted_pred,
        weighted_bipred_idc=weighted_bipred,
        deblocking_control=deblocking,
        redundant_pic_cnt=bits.flag(),
    )


@dataclass(frozen=True)
class ParameterSets:
    """A stream's SPSs and PPSs by id."""

    sps: dict[int, SequenceParameters]
    pps: dict[int, PictureParameters]

    @classmethod
    def of(cls, avcc: Avcc) -> ParameterSets:
        sequences = {s.id: s for s in map(parse_sps, avcc.sps)}
        pictures = {p.id: p for p in map(parse_pps, avcc.pps)}
        return cls(sequences, pictures)


Modifications = tuple[tuple[int, int], ...]  # (modification_of_pic_nums_idc 0/1, abs_diff - 1)


@dataclass(frozen=True)
class SliceHeader:
    """A slice header's fields that a cut rewrites, with their bit positions in the RBSP
    (the NAL header byte excluded)."""

    nal_type: int
    ref_idc: int
    kind: int  # slice_type % 5: SLICE_P ... SLICE_SI
    sps: SequenceParameters
    pps: PictureParameters
    frame_num: int
    frame_num_at: int
    idr_pic_id: int | None
    poc_lsb: int | None  # pic_order_cnt_lsb (poc_type 0)
    poc_lsb_at: int
    modifications: tuple[Modifications | None, ...]  # per reference list; None: not modified
    modifications_at: int
    modifications_end: int
    marking_at: int  # dec_ref_pic_marking(); equal to marking_end when there is none
    marking_end: int
    adaptive_marking: bool
    unmark: tuple[int, ...]  # difference_of_pic_nums_minus1 of each operation 1, in order
    end: int  # just past the header's last bit


def slice_prefix(nal: bytes, sets: ParameterSets, bits: BitReader | None = None) -> dict[str, int]:
    """A slice header's fields up to pic_order_cnt_lsb (read from `bits`, by default the NAL
    unit's RBSP): nal_type, ref_idc, kind, pps, sps, frame_num(_at), idr_pic_id, poc_lsb(_at)."""
    bits = bits or BitReader(_rbsp(nal))
    fields = {"nal_type": nal[0] & 0x1F, "ref_idc": (nal[0] >> 5) & 3}
    bits.ue()  # first_mb_in_slice
    fields["kind"] = bits.ue() % 5
    pps = sets.pps.get(bits.ue())
    sps = sets.sps.get(pps.sps_id) if pps else None
    if pps is None or sps is None:
        raise BitstreamError("a slice refers to a parameter set the sample entry does not hold")
    if not sps.frame_mbs_only:
        raise BitstreamError("interlaced coding (field pictures or MBAFF)")
    if sps.poc_type == 1:
        raise BitstreamError("picture order count type 1")
    fields.update(pps=pps.id, sps=sps.id)
    if sps.separate_colour_plane:
        bits.u(2)
    fields["frame_num_at"] = bits.pos
    fields["frame_num"] = bits.u(sps.log2_max_frame_num)
    if fields["nal_type"] == NAL_IDR:
        fields["idr_pic_id"] = bits.ue()
    fields["poc_lsb_at"] = bits.pos
    if sps.poc_type == 0:
        fields["poc_lsb"] = bits.u(sps.log2_max_poc_lsb)
    return fields


def _read_modifications(bits: BitReader, lists: int) -> list[Modifications | None]:
    found: list[Modifications | None] = []
    for _ in range(lists):
        if not bits.flag():  # ref_pic_list_modification_flag_lX
            found.append(None)
            continue
        operations = []
        while (idc := bits.ue()) != 3:
            if idc > 1:
                raise BitstreamError(f"reference list modification {idc} (long-term or view)")
            operations.append((idc, bits.ue()))
        found.append(tuple(operations))
    return found


def _skip_weights(bits: BitReader, counts: tuple[int, int], lists: int, chroma: bool) -> None:
    bits.ue()  # luma_log2_weight_denom
    if chroma:
        bits.ue()
    for count in counts[:lists]:
        for _ in range(count):
            if bits.flag():
                bits.se(), bits.se()
            if chroma and bits.flag():
                bits.se(), bits.se(), bits.se(), bits.se()


def parse_slice_header(nal: bytes, sets: ParameterSets) -> SliceHeader:
    """The header of a slice NAL unit (types 1 and 5), with the positions of its fields."""
    bits = BitReader(_rbsp(nal))
    fields = slice_prefix(nal, sets, bits)
    sps, pps = sets.sps[fields["sps"]], sets.pps[fields["pps"]]
    kind, nal_type = fields["kind"], fields["nal_type"]
    if sps.poc_type == 0 and pps.bottom_field_pic_order:
        bits.se()  # delta_pic_order_cnt_bottom
    if pps.redundant_pic_cnt:
        bits.ue()
    if kind == SLICE_B:
        bits.u(1)  # direct_spatial_mv_pred_flag
    counts = pps.ref_idx_defaults
    lists = {SLICE_P: 1, SLICE_SP: 1, SLICE_B: 2}.get(kind, 0)
    if lists and bits.flag():  # num_ref_idx_active_override_flag
        counts = (bits.ue() + 1, bits.ue() + 1 if kind == SLICE_B else counts[1])
    modifications_at = bits.pos
    modifications = _read_modifications(bits, lists)
    modifications_end = bits.pos
    if (pps.weighted_pred and lists == 1) or (pps.weighted_bipred_idc == 1 and lists == 2):
        _skip_weights(bits, counts, lists, sps.chroma_array_type != 0)
    marking_at, adaptive, unmark = bits.pos, False, []
    if fields["ref_idc"]:
        if nal_type == NAL_IDR:
            bits.u(2)  # no_output_of_prior_pics_flag, long_term_reference_flag
        elif adaptive := bits.flag():
            while (operation := bits.ue()) != 0:
                if operation != 1:
                    raise BitstreamError(f"memory management operation {operation}")
                unmark.append(bits.ue())
    marking_end = bits.pos
    if pps.cabac and kind not in (SLICE_I, SLICE_SI):
        bits.ue()  # cabac_init_idc
    bits.se()  # slice_qp_delta
    if kind in (SLICE_SP, SLICE_SI):
        if kind == SLICE_SP:
            bits.u(1)
        bits.se()
    if pps.deblocking_control and bits.ue() != 1:
        bits.se(), bits.se()
    return SliceHeader(
        nal_type=nal_type,
        ref_idc=fields["ref_idc"],
        kind=kind,
        sps=sps,
        pps=pps,
        frame_num=fields["frame_num"],
        frame_num_at=fields["frame_num_at"],
        idr_pic_id=fields.get("idr_pic_id"),
        poc_lsb=fields.get("poc_lsb"),
        poc_lsb_at=fields["poc_lsb_at"],
        modifications=tuple(modifications),
        modifications_at=modifications_at,
        modifications_end=modifications_end,
        marking_at=marking_at,
        marking_end=marking_end,
        adaptive_marking=adaptive,
        unmark=tuple(unmark),
        end=bits.pos,
    )


def rebuild_slice(
    nal: bytes,
    header: SliceHeader,
    frame_num: int,
    poc_lsb: int | None,
    *,
    idr_pic_id: int | None = None,
    modifications: tuple[Modifications | None, ...] | None = None,
    unmark: tuple[int, ...] | None = None,
) -> bytes:
    """`nal` (a non-IDR slice) with new frame_num and pic_order_cnt_lsb, and optionally new
    reference list modifications and unmarking operations; with `idr_pic_id`, as an IDR slice
    (which marks no reference picture itself). The slice data are kept as they are."""
    rbsp = unescape(nal[1:])
    source, out = BitReader(rbsp), BitWriter()
    sps = header.sps
    out.copy(source, 0, header.frame_num_at)
    out.u(sps.log2_max_frame_num, frame_num)
    if idr_pic_id is not None:
        out.ue(idr_pic_id)
    position = header.frame_num_at + sps.log2_max_frame_num
    if poc_lsb is not None:
        out.copy(source, position, header.poc_lsb_at)
        out.u(sps.log2_max_poc_lsb, poc_lsb)
        position = header.poc_lsb_at + sps.log2_max_poc_lsb
    out.copy(source, position, header.modifications_at)
    if modifications is None:
        out.copy(source, header.modifications_at, header.modifications_end)
    else:
        for operations in modifications:
            out.u(1, operations is not None)
            for idc, value in operations or ():
                out.ue(idc)
                out.ue(value)
            if operations is not None:
                out.ue(3)
    out.copy(source, header.modifications_end, header.marking_at)  # prediction weights
    if idr_pic_id is not None:
        out.u(2, 0)  # no_output_of_prior_pics_flag, long_term_reference_flag
    elif unmark is None or not header.adaptive_marking:
        out.copy(source, header.marking_at, header.marking_end)
    else:
        out.u(1, 1)
        for difference in unmark:
            out.ue(1)
            out.ue(difference)
        out.ue(0)
    out.copy(source, header.marking_end, header.end)
    if header.pps.cabac:  # the slice data start on a byte boundary: keep their bytes
        out.u(-out.size % 8, (1 << (-out.size % 8)) - 1)  # cabac_alignment_one_bit
        payload = out.to_bytes() + rbsp[(header.end + 7) // 8 :]
    else:  # the slice data follow bit by bit, up to the stop bit
        stop = source.size - (source.value & -source.value).bit_length()
        out.copy(source, header.end, stop)
        out.u(1, 1)
        out.u(-out.size % 8, 0)
        payload = out.to_bytes()
    nal_type = NAL_IDR if idr_pic_id is not None else header.nal_type
    return bytes([nal[0] & 0xE0 | nal_type]) + escape(payload)


def nal_units(sample: bytes, length_size: int) -> list[bytes]:
    """The NAL units of an MP4 sample (each preceded by its `length_size`-byte length)."""
    units, position = [], 0
    while position < len(sample):
        length = int.from_bytes(sample[position : position + length_size], "big")
        position += length_size
        if length == 0 or position + length > len(sample):
            raise BitstreamError("a NAL unit runs past the end of its sample")
        units.append(sample[position : position + length])
        position += length
    return units


def join_nal_units(units: list[bytes], length_size: int) -> bytes:
    """An MP4 sample holding `units`."""
    return b"".join(len(unit).to_bytes(length_size, "big") + unit for unit in units)


def keyframe_is_idr(path: Path, dts: float) -> bool:
    """Whether the video packet decoded at `dts` (seconds, as FFmpeg reads them) is an IDR
    picture; True for anything but H.264 in avcC, where this cannot tell."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = bytes(stream.codec_context.extradata or b"")
        if stream.codec_context.name != "h264" or len(extradata) < 5 or extradata[0] != 1:
            return True
        time_base = time_base_of(stream)
        container.seek(int(dts / time_base), stream=stream, backward=True)
        for packet in container.demux(stream):
            if packet.dts is None or float(packet.dts * time_base) < dts - 1e-4:
                continue
            units = nal_units(bytes(packet), (extradata[4] & 0x03) + 1)
            kinds = {unit[0] & 0x1F for unit in units}
            return NAL_IDR in kinds or NAL_SLICE not in kinds
    return True
