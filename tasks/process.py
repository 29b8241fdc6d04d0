"""The process task: cut the silent start and end off one claimed, downloaded recording."""

from __future__ import annotations

import shutil
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.states import State

from config.app_config import load_app_config
from config.settings import get_settings
from config.titles import render
from integrations.captions import CaptionFormatError, shift_vtt
from integrations.disk import disk_errors
from integrations.filenames import transcript_path
from integrations.media.errors import NoSoundError
from integrations.media.output import output_errors, remove_stale_parts
from integrations.media.picture import still_video
from integrations.media.probe import probe
from integrations.media.profile_space import check_profile_space
from integrations.media.profiles import apply_profiles
from integrations.media.trim import TrimOptions, trim_file
from integrations.store.models import Recording
from integrations.store.states import ProcessingStatus
from integrations.thumbnails import check_thumbnail
from tasks.common import (
    SkipRecording,
    StageOutcome,
    download_again,
    local_storage,
    run_claimed,
    run_logger,
)
from tasks.disk import DiskWait
from tasks.progress import Tracker


def process(recording: Recording) -> StageOutcome:
    """Detect the sound, cut frame-accurately into `processing/`, verify, move to `processed/`.

    A recording without silence at either end is published as downloaded (no rewrite); one
    without any sound is skipped. An audio-only recording is published as a video of its
    rule's thumbnail, and skipped when the rule sets none. A source that is gone is
    downloaded again (`download_again`).
    """
    settings = get_settings()
    source = Path(recording.source_path or "")
    if not source.is_file():
        return download_again(recording, source)
    picture = _picture_for(recording, source)
    working = settings.processing_dir / source.name
    final = settings.processed_dir / source.name
    if working.parent.is_dir():  # what a killed earlier attempt at this recording left behind
        remove_stale_parts(working.parent, working.stem)
    label = f"Trim {recording.id} {recording.topic}"
    with Tracker(f"process-{recording.id}", label, 100, unit="%") as t:
        try:
            result = trim_file(
                source, working, TrimOptions.from_settings(settings), lambda f: t(100 * f)
            )
        except NoSoundError as exc:
            raise SkipRecording(f"no sound at all: {exc}") from exc
    if result.dropped:
        run_logger().warning(
            "Recording %s: the cut left out %s", recording.id, "; ".join(result.dropped)
        )
    fields = {"trim_start": result.start, "trim_end": result.end, "trim_method": result.method}
    try:
        duration = result.end - result.start if result.destination else result.source_duration
        media = _with_profiles(recording, result.destination or source, working, duration)
        if picture is not None:
            media = _with_picture(recording, media, picture, working)
            final = final.with_suffix(".mp4")
        if media == source:
            run_logger().info("Recording %s has no silence to cut; published as is", recording.id)
            return StageOutcome(fields={**fields, **_here(source)})
        with disk_errors(final):
            final.parent.mkdir(parents=True, exist_ok=True)
            media.replace(final)
    except BaseException:
        _discard_intermediates(working)  # a later attempt starts from the source again
        raise
    with disk_errors(transcript_path(final)):
        if result.destination is not None:
            _shift_captions(recording, source, final, result.start, result.end)
        elif transcript_path(source).is_file():  # untouched, only re-encoded: same timing
            shutil.copyfile(transcript_path(source), transcript_path(final))
    run_logger().info(
        "Recording %s: kept %.2f-%.2f s of %.2f s (%s)",
        recording.id,
        result.start,
        result.end,
        result.source_duration,
        result.method,
    )
    return StageOutcome(fields={**fields, **_here(final)})


def _here(processed: Path) -> dict[str, str]:
    """The processed file, and this storage as the one holding the recording's media."""
    return {"processed_path": str(processed), "storage": local_storage()}


def _with_profiles(recording: Recording, media: Path, working: Path, duration: float) -> Path:
    """`media` (lasting `duration` s) through the enabled processing profiles (loudness,
    compression), else itself. Their output's space is checked before they start."""
    settings = get_settings()
    profiles = load_app_config(settings.app_config, missing_ok=True).processing
    if not profiles.enabled:
        return media
    profiled = _profiled(working)
    label = f"Profiles {recording.id} {recording.topic}"
    with output_errors(profiled, media):
        check_profile_space(media, profiled, duration, profiles, settings.min_free_disk_mb)
        with Tracker(f"profiles-{recording.id}", label, 100, unit="%") as track:
            result = apply_profiles(media, profiled, profiles, lambda f: track(100 * f))
    if media.parent == working.parent:
        media.unlink(missing_ok=True)  # the trimmed intermediate
    run_logger().info("Recording %s: applied %s", recording.id, ", ".join(result.applied))
    return profiled


def _profiled(working: Path) -> Path:
    return working.with_name(f"{working.stem}.profiled{working.suffix}")


def _pictured(working: Path) -> Path:
    return working.with_name(f"{working.stem}.picture.mp4")


def _discard_intermediates(working: Path) -> None:
    """Delete what this recording's processing left in the working folder (the trimmed,
    profiled and pictured files): nothing stays there once the stage stops."""
    for path in (working, _profiled(working), _pictured(working)):
        path.unlink(missing_ok=True)


def _picture_for(recording: Recording, source: Path) -> Path | None:
    """None for a recording with video; for an audio-only one, its rule's thumbnail (checked),
    to publish as the picture. `SkipRecording` when the rule sets no thumbnail."""
    if probe(source).video is not None:
        return None
    mapping = load_app_config(get_settings().app_config, missing_ok=True).video_title_mapping
    rendered = render(mapping, recording.topic, recording.start_time, recording.rule_pattern)
    if rendered.thumbnail is None:
        raise SkipRecording(
            "audio only, and its title rule sets no thumbnail to show as the picture "
            "(set the rule's thumbnail to publish it)"
        )
    check_thumbnail(rendered.thumbnail)
    return rendered.thumbnail


def _with_picture(recording: Recording, audio: Path, picture: Path, working: Path) -> Path:
    """A video of `picture` over the audio-only `audio`, in the working folder."""
    video = _pictured(working)
    label = f"Picture {recording.id} {recording.topic}"
    with output_errors(video, audio), Tracker(f"picture-{recording.id}", label, 100, unit="%") as t:
        still_video(picture, audio, video, lambda f: t(100 * f))
    if audio.parent == working.parent:
        audio.unlink(missing_ok=True)  # the trimmed (or profiled) intermediate
    run_logger().info(
        "Recording %s is audio only: published with %s as the picture", recording.id, picture.name
    )
    return video


def _shift_captions(recording: Recording, source: Path, final: Path, start: float, end: float):
    """The transcript's cues moved by the cut (cues outside the kept span dropped)."""
    captions = transcript_path(source)
    if not captions.is_file():
        return
    try:
        kept = shift_vtt(captions, transcript_path(final), start, end)
    except CaptionFormatError as exc:
        run_logger().warning("Recording %s: captions left out: %s", recording.id, exc)
        return
    run_logger().info(
        "Recording %s: %d caption cues kept, shifted by %.2f s", recording.id, kept, start
    )


@task(name="process-recording", cache_policy=NO_CACHE)
def process_recording_task(recording_id: int, worker: str) -> ProcessingStatus | DiskWait | State:
    """Trim one recording this run claimed: PROCESSED, SKIPPED (no sound) or FAILED."""
    return run_claimed("process", recording_id, worker, process)
