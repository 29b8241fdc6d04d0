"""Media core (no Prefect): probe, silence detection, frame-accurate cut, verification.

Entry point: `integrations.media.trim.trim_file`. Modules: `probe` (PyAV: `MediaInfo`, the
one description of a media file), `mp4` (the one MP4 box reader, the index parser, box
writers), `silence` (silencedetect windows), `cut` (copy / smart / re-encode plans), `h264`
(avcC parameter sets), `verify`, `output` (temporary file + atomic replace), `profiles`
(loudness, compression), `ffmpeg` (binary and runner), `errors`.
"""
