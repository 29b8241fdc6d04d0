"""`app_config.json` "processing": optional profiles run after the trim, all off by default.

`{"loudness": {"enabled": true, "integrated_lufs": -16}, "compression": {"enabled": true}}`
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower"]


class LoudnessProfile(BaseModel):
    """EBU R128 loudness: one measured gain, a peak limiter where needed; the video is copied."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    integrated_lufs: float = Field(-16.0, ge=-70, le=-5, description="target loudness (LUFS)")
    true_peak_db: float = Field(-1.5, ge=-9, le=0, description="maximum true peak (dBTP)")
    peak_headroom_db: float = Field(
        2.0,
        ge=0,
        le=6,
        description="the limiter's ceiling sits this far below true_peak_db: room for the peaks "
        "between samples and the AAC encoder's overshoot (measured up to 1.4 dB at 128 kb/s)",
    )
    audio_bitrate: str = Field("128k", pattern=r"^\d+k$")


class CompressionProfile(BaseModel):
    """Re-encode the video with libx264 at a constant quality, optionally smaller or slower."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    crf: int = Field(23, ge=0, le=51)
    preset: Preset = "veryfast"
    max_fps: float | None = Field(None, gt=0, description="frame rate ceiling")
    max_height: int | None = Field(None, ge=144, description="height ceiling (keeps aspect)")


class ProcessingProfiles(BaseModel):
    """What runs after the trim. Everything is off unless enabled."""

    model_config = ConfigDict(extra="forbid")

    loudness: LoudnessProfile = LoudnessProfile()
    compression: CompressionProfile = CompressionProfile()

    @property
    def enabled(self) -> bool:
        return self.loudness.enabled or self.compression.enabled
