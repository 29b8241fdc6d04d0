"""The pipeline's stages as commands: sync, download, process, upload, full-process, trim."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from flows.cli.common import (
    UsageProblem,
    app_config,
    chosen_ids,
    dry_run_option,
    fail,
    friendly_errors,
    open_store,
    out,
    platform_options,
    platforms_of,
    print_outcome,
    print_preview,
    reads_app_config,
    require_ffmpeg,
    require_selection,
    run_flow,
    run_stage,
    run_with_progress,
    selection_options,
)


@click.command()
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="The last N days (14).")
@click.option("--from", "from_", type=click.DateTime(["%Y-%m-%d"]), help="From this day on.")
@click.option("--to", type=click.DateTime(["%Y-%m-%d"]), help="Up to this day (inclusive).")
@click.option("-i", "--interactive", is_flag=True, help="Assign a title rule to unmapped topics.")
@dry_run_option
@friendly_errors
@reads_app_config
def sync(
    last: int | None,
    from_: datetime | None,
    to: datetime | None,
    interactive: bool,
    dry_run: bool,
) -> None:
    """Fetch the cloud recordings of every Zoom account (all users, all pages) into the store."""
    if last is not None and from_ is not None:
        raise UsageProblem("--last and --from exclude each other")
    open_store().dispose()  # a missing schema is reported before Prefect starts
    from config.secrets import zoom_account_names
    from flows.sync import sync_flow, sync_range

    zoom_account_names()
    start, end = sync_range(last, from_ and from_.date(), to and to.date())
    if dry_run:
        rows = run_flow(sync_flow, from_date=start, to_date=end, dry_run=True)
        print_preview({"sync": rows})
        return
    totals = run_flow(sync_flow, last_days=last, from_date=start, to_date=end)
    out.print(
        f"Synced {start} to {end}: {totals.get('added', 0)} new, "
        f"{totals.get('updated', 0)} updated, {totals.get('unchanged', 0)} unchanged."
    )
    if deferred := totals.get("deferred", 0):
        out.print(
            f"{deferred} Zoom account(s) deferred: Zoom asked to come back after its limit "
            "resets (the run's log and its sync-report say when); the next run syncs "
            "them."
        )
    if interactive:
        from flows.cli.selection import assign_rules

        mapping = app_config(None, missing_ok=True).video_title_mapping
        store = open_store()
        try:
            assign_rules(store, mapping, start, end, out)
        finally:
            store.dispose()
    out.print("Run `zoom-publisher list --last N` to see them.")


@click.command()
@selection_options
@dry_run_option
@friendly_errors
@reads_app_config
def download(all_: bool, recordings: str | None, interactive: bool, dry_run: bool) -> None:
    """Download recordings from Zoom (resumable, verified, concurrent)."""
    from flows.download import download_flow

    run_stage("download", download_flow, all_, recordings, interactive, dry_run)


@click.command()
@selection_options
@dry_run_option
@friendly_errors
@reads_app_config
def process(all_: bool, recordings: str | None, interactive: bool, dry_run: bool) -> None:
    """Cut silent starts and ends off downloaded recordings (frame-accurate, no full re-encode)."""
    require_ffmpeg()
    from flows.process import process_flow

    run_stage("process", process_flow, all_, recordings, interactive, dry_run)


@click.command()
@platform_options
@selection_options
@dry_run_option
@friendly_errors
@reads_app_config
def upload(**options: Any) -> None:
    """Publish processed recordings to YouTube and/or VK (resumable; waits out the quota).

    With -i, pick the recordings and confirm or edit each title first.
    """
    if not (options["youtube"] or options["vk"] or options["all_platforms"]):
        raise UsageProblem("choose where: --youtube, --vk or --all-platforms")
    selected = require_selection(options["all_"], options["recordings"], options["interactive"])
    ids = chosen_ids("upload", selected, options["interactive"])
    platforms = platforms_of(options["youtube"], options["vk"], options["all_platforms"])
    from flows.upload import upload_flow

    if options["dry_run"]:
        rows = run_flow(upload_flow, platforms=platforms, recording_ids=ids, dry_run=True)
        print_preview({"upload": rows})
        return
    if options["interactive"] and ids:
        from flows.cli.selection import confirm_titles

        config = app_config(None, missing_ok=True)
        store = open_store()
        try:
            confirm_titles(store, config, ids, platforms, out)
        finally:
            store.dispose()
    print_outcome(run_with_progress(upload_flow, platforms=platforms, recording_ids=ids))


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--threshold", type=float, help="Silence below this level, dB (-40).")
@click.option("--min-silence", type=float, help="Shortest silence, seconds (2).")
@click.option("--padding", type=float, help="Kept before the first and after the last sound (5).")
@friendly_errors
def trim(
    source: Path,
    destination: Path,
    threshold: float | None,
    min_silence: float | None,
    padding: float | None,
) -> None:
    """Cut the silent start and end of any local SOURCE file into DESTINATION, frame-accurately."""
    from rich.progress import Progress

    from integrations.media.errors import MediaError, MediaOutputError, NoSoundError
    from integrations.media.trim import TrimOptions, trim_file

    options = TrimOptions.from_settings()
    overrides = {
        "silence_threshold_db": threshold,
        "silence_min_duration": min_silence,
        "padding": padding,
    }
    options = options.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if destination.resolve() == source.resolve():
        raise UsageProblem("DESTINATION must differ from SOURCE")
    require_ffmpeg()
    with Progress(console=out, transient=True, disable=not out.is_terminal) as progress:
        bar = progress.add_task(f"Trimming {source.name}", total=1.0)
        try:
            result = trim_file(
                source, destination, options, lambda f: progress.update(bar, completed=f)
            )
        except NoSoundError as exc:
            fail(f"{exc}: nothing to publish, nothing written", 3)
        except MediaOutputError as exc:  # the disk: full, read-only, failing (3)
            fail(f"{exc}; nothing written", exc.exit_code)
        except MediaError as exc:
            fail(f"{source}: {exc}")
    written = destination if result.trimmed else source
    out.print(f"{written}: {result.summary()}", soft_wrap=True, highlight=False, markup=False)


@click.command("full-process")
@platform_options
@selection_options
@click.option("--no-sync", is_flag=True, help="Skip the Zoom sync; work on what is stored.")
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="Sync the last N days (14).")
@dry_run_option
@friendly_errors
@reads_app_config
def full_process(**options: Any) -> None:
    """Sync, then download, process and upload as a stream (default: every enabled platform)."""
    ids = require_selection(options["all_"], options["recordings"], options["interactive"])
    require_ffmpeg()
    from flows.pipeline import full_pipeline_flow

    sync_first = not options["no_sync"]
    if options["interactive"]:
        if sync_first:
            from flows.sync import sync_flow

            run_flow(sync_flow, last_days=options["last"])
            sync_first = False
        ids = chosen_ids("download", ids, interactive=True)
    elif ids is not None:
        ids = chosen_ids("download", ids, interactive=False)
    platforms = platforms_of(options["youtube"], options["vk"], options["all_platforms"])
    if options["dry_run"]:
        previews = run_flow(
            full_pipeline_flow,
            platforms=platforms,
            recording_ids=ids,
            sync=sync_first,
            last_days=options["last"],
            dry_run=True,
        )
        print_preview(previews)
        return
    result = run_with_progress(
        full_pipeline_flow,
        platforms=platforms,
        recording_ids=ids,
        sync=sync_first,
        last_days=options["last"],
    )
    print_outcome(result)
