"""Housekeeping and showing: clean, free-zoom, demo."""

from __future__ import annotations

import os
from pathlib import Path

import click

from flows.cli.common import (
    app_config,
    fail,
    friendly_errors,
    open_store,
    out,
    reads_app_config,
    require_ffmpeg,
    run_flow,
)


@click.command()
@click.option("--days", type=click.IntRange(min=0), required=True, metavar="N")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@friendly_errors
def clean(days: int, dry_run: bool) -> None:
    """Delete local media of finished (published or skipped) recordings older than N days."""
    open_store().dispose()
    from flows.cli.tables import human_size
    from flows.maintenance import clean_flow

    rows = run_flow(clean_flow, days=days, dry_run=dry_run)
    for row in rows:
        out.print(f"  {row['id']}: {row['topic']} ({human_size(row['bytes'])}) {row['files']}")
    verb = "Would free" if dry_run else "Freed"
    total = sum(int(row["bytes"]) for row in rows)
    out.print(f"{verb} {human_size(total)} from {len(rows)} finished recordings.")


@click.command("free-zoom")
@click.option("--dry-run", is_flag=True, help="Only show what would be trashed or deleted.")
@friendly_errors
@reads_app_config
def free_zoom(dry_run: bool) -> None:
    """Trash (or delete) Zoom recordings that every platform has published and verified.

    Opt-in: upload_settings.delete_from_zoom in app_config.json ("off", "trash", "delete").
    """
    config = app_config(None, missing_ok=True)
    open_store().dispose()
    from flows.zoom_cleanup import free_zoom_storage_flow

    mode = config.upload_settings.delete_from_zoom
    rows = run_flow(free_zoom_storage_flow, dry_run=dry_run)
    for row in rows:
        out.print(f"  {row['id']}: {row['topic']}: {row['action']} ({row['why']})", highlight=False)
    verb = "would go to" if dry_run else "went to"
    gone = sum(1 for row in rows if row["action"] != "keep")
    target = "Zoom's trash" if mode == "trash" else "deletion"
    if mode == "off":
        out.print("delete_from_zoom is off in app_config.json: nothing is removed from Zoom.")
    else:
        out.print(f"{gone} recordings {verb} {target}.")


@click.command()
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/demo"),
    show_default=True,
    help="Where the demo keeps its store, media and Prefect home.",
)
@friendly_errors
def demo(work_dir: Path) -> None:
    """Run the whole pipeline against local Zoom, YouTube and VK emulators (no accounts needed)."""
    require_ffmpeg()
    from flows.cli.demo import run_demo
    from flows.cli.tables import publications_table, recordings_table

    outcome = run_demo(work_dir.resolve(), out)
    store = open_store()
    try:
        recordings = store.list()
    finally:
        store.dispose()
    out.print(recordings_table(recordings, "Recordings in the demo store"))
    out.print(publications_table(recordings, "Published (sandbox URLs)"))
    state = outcome["state"]
    out.print(f"Pipeline run ended {state.name} in {outcome['seconds']:.0f} s. ", end="")
    out.print(
        f"Inspect it with: DATABASE_URL={os.environ['DATABASE_URL']} zoom-publisher list --all"
    )
    if not state.is_completed():
        fail(state.message or "the demo pipeline did not complete")
