"""Media core (no Prefect): probe, silence detection, frame-accurate cut, verification.

Entry point: `integrations.media.trim.trim_file`. Modules: `probe` (PyAV), `silence`
(silencedetect windows), `cut` (copy / smart / re-encode plans), `h264` (avcC parameter sets),
`verify`, `output` (temporary file + atomic replace), `profiles` (loudness, compression),
`ffmpeg` (binary and runner), `errors`.
"""
