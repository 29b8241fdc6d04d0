"""`zoom-publisher`: the command line face of the flows. No business logic lives here.

Commands that need no Prefect API (`list`, `init-db`, `reset`, `trim`, `--help`) never import
Prefect: without a running server every process that touches it starts a temporary one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

out = Console()
err = Console(stderr=True)


class UsageProblem(click.UsageError):
    """Bad command-line input: printed without a traceback, exit code 2."""


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's expected failures into one clear message and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from config.app_config import ConfigError
        from config.errors import CredentialsMissingError
        from flows.selection import SelectionError
        from integrations.store.database import StoreUnavailableError
        from integrations.store.repository import RecordingNotFoundError

        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            _fail(str(exc), 2)
        except SelectionError as exc:
            _fail(str(exc), 2)
        except (StoreUnavailableError, RecordingNotFoundError, CredentialsMissingError) as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted; run the command again to continue where it stopped", 130)

    return wrapper


def _store():
    from config.settings import get_settings
    from integrations.store.repository import RecordingStore

    return RecordingStore.open(get_settings().resolved_database_url)


def _selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("-i", "--interactive", is_flag=True, help="Pick recordings from a list.")(
        func
    )
    func = click.option(
        "--recordings", metavar='"1,4,7"', help="Recording IDs from `list` (ranges: 3-6)."
    )(func)
    return click.option("--all", "all_", is_flag=True, help="Every eligible recording.")(func)


def _dry_run_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dry-run", is_flag=True, help="Only show what would be done; change nothing."
    )(func)


def _require_selection(all_: bool, recordings: str | None, interactive: bool) -> list[int] | None:
    """None for --all (or -i), else the parsed IDs; exactly one way must be chosen."""
    from flows.selection import SelectionError, parse_ids

    if all_ and recordings is not None:
        raise UsageProblem("--all and --recordings exclude each other")
    if not (all_ or recordings is not None or interactive):
        raise UsageProblem('choose the recordings: --all, --recordings "1,4,7" or -i')
    try:
        return parse_ids(recordings) if recordings is not None else None
    except SelectionError as exc:
        raise UsageProblem(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="zoom-publisher")
def main() -> None:
    """Publish Zoom cloud recordings to YouTube and VK, with silent starts and ends cut off."""


@main.command("init-db")
@friendly_errors
def init_db() -> None:
    """Create the status tables, or upgrade them to the newest schema (safe to repeat)."""
    from config.settings import get_settings
    from integrations.store.database import redact_url, upgrade_to_head

    url = get_settings().resolved_database_url
    before, after = upgrade_to_head(url)
    where = redact_url(url)
    if before == after:
        out.print(f"Status store {where} is up to date (schema {after}).")
    else:
        out.print(f"Status store {where}: schema {before or 'none'} -> {after}.")


@main.command("list")
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="The last N days.")
@click.option("--from", "from_", type=click.DateTime(["%Y-%m-%d"]), help="From this day on.")
@click.option("--to", type=click.DateTime(["%Y-%m-%d"]), help="Up to this day (inclusive).")
@click.option("--all", "all_", is_flag=True, help="Every recording in the store.")
@friendly_errors
def list_(last: int | None, from_: datetime | None, to: datetime | None, all_: bool) -> None:
    """Show recordings in the store (today's by default) with their status per platform."""
    from flows.render import recordings_table

    since, until, label = _period(last, from_, to, all_)
    store = _store()
    try:
        recordings = store.list(since=since, until=until)
    finally:
        store.dispose()
    if not recordings:
        out.print(f"No recordings {label}. Run `zoom-publisher sync` to fetch them from Zoom.")
        return
    out.print(recordings_table(recordings, f"Recordings {label}"))


def _period(
    last: int | None, from_: datetime | None, to: datetime | None, all_: bool
) -> tuple[datetime | None, datetime | None, str]:
    """The [since, until) range of start times `list` shows, in local days, and its label."""
    if all_:
        return None, None, "(all)"
    if last is not None and from_ is not None:
        raise UsageProblem("--last and --from exclude each other")
    today = date.today()
    first = from_.date() if from_ else today - timedelta(days=(last or 1) - 1)
    final = to.date() if to else today
    if final < first:
        raise UsageProblem(f"--to {final} is before the start {first}")

    def local_midnight(day: date) -> datetime:
        return datetime.combine(day, time()).astimezone().astimezone(UTC)

    label = f"on {first}" if first == final else f"from {first} to {final}"
    return local_midnight(first), local_midnight(final + timedelta(days=1)), label


@main.command()
@click.option("--recordings", metavar='"1,4,7"', help="Only these IDs (default: all that need it).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_dry_run_option
@friendly_errors
def reset(recordings: str | None, yes: bool, dry_run: bool) -> None:
    """Return FAILED and stuck recordings to their last good status, so the next run redoes them."""
    from flows.render import recordings_table
    from flows.selection import parse_ids
    from integrations.store.states import WORKING, ProcessingStatus

    ids = parse_ids(recordings) if recordings is not None else None
    store = _store()
    try:
        if ids is not None and (missing := store.missing_ids(ids)):
            raise UsageProblem(f"--recordings: no recording with ID {', '.join(map(str, missing))}")
        movable = store.list(ids=ids, statuses=[ProcessingStatus.FAILED, *WORKING])
        if not movable:
            out.print("Nothing to reset: no failed or stuck recordings.")
            return
        out.print(recordings_table(movable, "Recordings to reset"))
        if dry_run:
            out.print("Dry run: nothing was changed.")
            return
        if not yes and not click.confirm(f"Reset these {len(movable)} recordings?", err=True):
            _fail("nothing was reset")
        changes = store.reset([r.id for r in movable])
    finally:
        store.dispose()
    for change in changes:
        out.print(f"  {change.recording_id}: {change.before} -> {change.after}")
    out.print(f"Reset {len(changes)} recordings.")


@main.group("config")
def config_group() -> None:
    """Check app_config.json and preview the titles it gives."""


def _app_config(path: Path | None, missing_ok: bool = False):
    from config.app_config import load_app_config
    from config.settings import get_settings

    return load_app_config(path or get_settings().app_config, missing_ok=missing_ok)


@config_group.command("check")
@click.option("--file", "path", type=click.Path(path_type=Path), help="Default: APP_CONFIG.")
@friendly_errors
def config_check(path: Path | None) -> None:
    """Validate app_config.json; one line per problem, exit code 2 when it is wrong."""
    from config.settings import get_settings

    config = _app_config(path)
    mapping = config.video_title_mapping
    enabled = [name for name, p in config.platforms if p.enabled]
    out.print(
        f"{path or get_settings().app_config} is valid: {len(mapping.mapping_rules)} mapping "
        f"rules, platforms enabled: {', '.join(enabled) or 'none'}."
    )


@config_group.command("title")
@click.argument("topic")
@click.option("--date", "when", type=click.DateTime(["%Y-%m-%d"]), help="Meeting day (today).")
@click.option("--file", "path", type=click.Path(path_type=Path), help="Default: APP_CONFIG.")
@friendly_errors
def config_title(topic: str, when: datetime | None, path: Path | None) -> None:
    """Show the rule a Zoom TOPIC falls under and the titles it would be published with."""
    from config.titles import render

    start = (when or datetime.now()).astimezone()
    publication = render(_app_config(path).video_title_mapping, topic, start)
    for name, value in vars(publication).items():
        out.print(f"{name}: {value if value not in (None, []) else '-'}", highlight=False)


@main.group()
def credentials() -> None:
    """Store Zoom, YouTube and VK credentials in Prefect blocks, and show what is stored."""


@credentials.command("import")
@click.option("--zoom", type=click.Path(path_type=Path), help="zoom_creds.json (seed format).")
@click.option("--youtube", type=click.Path(path_type=Path), help="youtube_creds.json.")
@click.option("--vk", type=click.Path(path_type=Path), help="vk_creds.json.")
@friendly_errors
def credentials_import(zoom: Path | None, youtube: Path | None, vk: Path | None) -> None:
    """Read the seed's credential files (any of the three) into Prefect blocks."""
    if not (zoom or youtube or vk):
        raise UsageProblem("give at least one of --zoom, --youtube, --vk")
    from config.secrets import import_files

    for name in import_files(zoom=zoom, youtube=youtube, vk=vk):
        out.print(f"Saved block {name}")


@credentials.command("show")
@friendly_errors
def credentials_show() -> None:
    """List the configured credentials; secrets are always masked."""
    from rich.table import Table

    from config.secrets import describe

    stored = describe()
    if not stored:
        out.print("No credentials stored. Run `zoom-publisher credentials import --help`.")
        return
    table = Table("Kind", "Block", "Details", title="Configured credentials", title_justify="left")
    for item in stored:
        details = "\n".join(f"{k}: {v}" for k, v in item.details.items())
        table.add_row(item.kind, item.block, details)
    out.print(table)


def _run_flow(flow: Any, **parameters: Any) -> Any:
    """Run a flow in this process; a Failed run exits non-zero with its message."""
    state = flow(**parameters, return_state=True)
    if state.is_failed() or state.is_crashed() or state.is_cancelled():
        _fail(state.message or f"the {flow.name} run ended {state.name}")
    return state.result()


@main.group()
def auth() -> None:
    """Authorise zoom-publisher with a platform."""


@auth.command("youtube")
@click.option(
    "--client-secrets",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Google's OAuth client JSON (default: the client already stored).",
)
@click.option("--console", "use_console", is_flag=True, help="Headless: paste the code instead.")
@click.option("--no-browser", is_flag=True, help="Print the consent URL instead of opening it.")
@friendly_errors
def auth_youtube(client_secrets: Path | None, use_console: bool, no_browser: bool) -> None:
    """Run Google's consent for the channel owner and store the refresh token in the block."""
    from config.errors import CredentialsMissingError
    from config.secrets import store_youtube_authorization, youtube_credentials
    from integrations.youtube import run_consent

    block = None
    if client_secrets is not None:
        from config.app_config import read_json
        from config.credentials import GoogleClient

        raw = read_json(client_secrets, "Google client secrets file", "download it from Google")
        inner = next(iter(raw.values())) if isinstance(raw, dict) and len(raw) == 1 else raw
        parsed = GoogleClient.model_validate(inner)
        client = {
            "client_id": parsed.client_id,
            "client_secret": parsed.client_secret.get_secret_value(),
            "auth_uri": parsed.auth_uri,
            "token_uri": parsed.token_uri,
        }
    else:
        try:
            block = youtube_credentials()
        except CredentialsMissingError:
            raise UsageProblem(
                "no OAuth client stored yet: give --client-secrets client_secrets.json"
            ) from None
        client = {
            "client_id": block.client_id,
            "client_secret": block.client_secret.get_secret_value(),
            "auth_uri": block.auth_uri,
            "token_uri": block.token_uri,
        }
    info = run_consent(
        {"installed": client},
        open_browser=not no_browser,
        console=use_console,
        print_fn=lambda text: out.print(text, highlight=False),
    )
    store_youtube_authorization(client, info, block)
    out.print(
        "Stored the YouTube refresh token in the Prefect block `youtube-credentials/youtube`."
    )


@main.command()
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="The last N days (14).")
@click.option("--from", "from_", type=click.DateTime(["%Y-%m-%d"]), help="From this day on.")
@click.option("--to", type=click.DateTime(["%Y-%m-%d"]), help="Up to this day (inclusive).")
@click.option("-i", "--interactive", is_flag=True, help="Assign a title rule to unmapped topics.")
@_dry_run_option
@friendly_errors
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
    config = _app_config(None, missing_ok=True)
    _store().dispose()  # a missing schema is reported before Prefect starts
    from config.secrets import zoom_account_names
    from flows.sync import sync_flow, sync_range

    zoom_account_names()
    start, end = sync_range(last, from_ and from_.date(), to and to.date())
    if dry_run:
        rows = _run_flow(sync_flow, from_date=start, to_date=end, dry_run=True)
        _print_preview({"sync": rows})
        return
    totals = _run_flow(sync_flow, last_days=last, from_date=start, to_date=end)
    out.print(
        f"Synced {start} to {end}: {totals.get('added', 0)} new, "
        f"{totals.get('updated', 0)} updated, {totals.get('unchanged', 0)} unchanged."
    )
    if interactive:
        from flows.selection import assign_rules

        store = _store()
        try:
            assign_rules(store, config.video_title_mapping, start, end, out)
        finally:
            store.dispose()
    out.print("Run `zoom-publisher list --last N` to see them.")


def _chosen_ids(stage: str, ids: list[int] | None, interactive: bool) -> list[int] | None:
    """The IDs to run: checked to exist; with -i, picked from the recordings ready for `stage`."""
    from flows.selection import pick_recordings

    store = _store()
    try:
        if ids is not None and (missing := store.missing_ids(ids)):
            raise UsageProblem(f"--recordings: no recording with ID {', '.join(map(str, missing))}")
        if interactive:
            ids = pick_recordings(store, stage, out, ids)
            if not ids:
                sys.exit(0)
    finally:
        store.dispose()
    return ids


def _run_with_progress(flow: Any, **parameters: Any) -> Any:
    from flows.progress_display import RichProgress

    with RichProgress(out):
        return _run_flow(flow, **parameters)


def _print_preview(previews: dict[str, list[dict[str, Any]]]) -> None:
    from flows.render import rows_table

    for stage, rows in previews.items():
        if rows:
            out.print(rows_table(rows, f"{stage}: what would be done (dry run)"))
        else:
            out.print(f"{stage}: nothing would be done.")
    out.print("Dry run: nothing was changed.")


def _print_outcome(result: dict[str, Any]) -> None:
    from flows.render import recordings_table

    touched = result.get("touched") or []
    if not touched:
        out.print("Nothing to do: no recording is ready for this stage.")
        return
    store = _store()
    try:
        out.print(recordings_table(store.list(ids=touched), "Recordings this run worked on"))
    finally:
        store.dispose()


@main.command()
@_selection_options
@_dry_run_option
@friendly_errors
def download(all_: bool, recordings: str | None, interactive: bool, dry_run: bool) -> None:
    """Download recordings from Zoom (resumable, verified, concurrent)."""
    from flows.download import download_flow

    _run_stage("download", download_flow, all_, recordings, interactive, dry_run)


@main.command()
@_selection_options
@_dry_run_option
@friendly_errors
def process(all_: bool, recordings: str | None, interactive: bool, dry_run: bool) -> None:
    """Cut silent starts and ends off downloaded recordings (frame-accurate, no full re-encode)."""
    from flows.process import process_flow

    _run_stage("process", process_flow, all_, recordings, interactive, dry_run)


def _run_stage(
    stage: str,
    flow: Any,
    all_: bool,
    recordings: str | None,
    interactive: bool,
    dry_run: bool,
) -> None:
    """One stage's flow over the chosen recordings, its dry run, or -i's pick."""
    ids = _chosen_ids(stage, _require_selection(all_, recordings, interactive), interactive)
    if dry_run:
        _print_preview({stage: _run_flow(flow, recording_ids=ids, dry_run=True)})
        return
    _print_outcome(_run_with_progress(flow, recording_ids=ids))


def _platform_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--all-platforms", is_flag=True, help="Every enabled platform.")(func)
    func = click.option("--vk", is_flag=True, help="Publish to VK.")(func)
    return click.option("--youtube", is_flag=True, help="Publish to YouTube.")(func)


@main.command()
@_platform_options
@_selection_options
@_dry_run_option
@friendly_errors
def upload(**options: Any) -> None:
    """Publish processed recordings to YouTube and/or VK (resumable; waits out the quota).

    With -i, pick the recordings and confirm or edit each title first.
    """
    if not (options["youtube"] or options["vk"] or options["all_platforms"]):
        raise UsageProblem("choose where: --youtube, --vk or --all-platforms")
    selected = _require_selection(options["all_"], options["recordings"], options["interactive"])
    ids = _chosen_ids("upload", selected, options["interactive"])
    config = _app_config(None, missing_ok=True)
    platforms = _platforms(options["youtube"], options["vk"], options["all_platforms"])
    from flows.upload import upload_flow

    if options["dry_run"]:
        rows = _run_flow(upload_flow, platforms=platforms, recording_ids=ids, dry_run=True)
        _print_preview({"upload": rows})
        return
    if options["interactive"] and ids:
        from flows.selection import confirm_titles

        store = _store()
        try:
            confirm_titles(store, config, ids, platforms, out)
        finally:
            store.dispose()
    _print_outcome(_run_with_progress(upload_flow, platforms=platforms, recording_ids=ids))


def _platforms(youtube: bool, vk: bool, all_platforms: bool) -> list[str] | None:
    """The platforms asked for; None: every platform enabled in app_config.json."""
    if all_platforms:
        return None
    return [name for name, wanted in (("youtube", youtube), ("vk", vk)) if wanted] or None


@main.command()
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

    from integrations.media.errors import MediaError, NoSoundError
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
    with Progress(console=out, transient=True) as progress:
        bar = progress.add_task(f"Trimming {source.name}", total=1.0)
        try:
            result = trim_file(
                source, destination, options, lambda f: progress.update(bar, completed=f)
            )
        except NoSoundError as exc:
            _fail(f"{exc}: nothing to publish, nothing written", 3)
        except MediaError as exc:
            _fail(f"{source}: {exc}")
    timings = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.timings.items())
    if result.method == "untouched":
        out.print(
            f"{source.name} has no silence to cut ({result.source_duration:.2f} s); "
            f"nothing written. ({timings})"
        )
        return
    out.print(
        f"{destination}: kept {result.start:.3f}-{result.end:.3f} s of "
        f"{result.source_duration:.3f} s ({result.method}; {timings})"
    )
    if result.reason:
        out.print(f"Note: {result.reason}")


@main.command("full-process")
@_platform_options
@_selection_options
@click.option("--no-sync", is_flag=True, help="Skip the Zoom sync; work on what is stored.")
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="Sync the last N days (14).")
@_dry_run_option
@friendly_errors
def full_process(**options: Any) -> None:
    """Sync, then download, process and upload as a stream (default: every enabled platform)."""
    ids = _require_selection(options["all_"], options["recordings"], options["interactive"])
    _app_config(None, missing_ok=True)
    from flows.pipeline import full_pipeline_flow

    sync_first = not options["no_sync"]
    if options["interactive"]:
        if sync_first:
            from flows.sync import sync_flow

            _run_flow(sync_flow, last_days=options["last"])
            sync_first = False
        ids = _chosen_ids("download", ids, interactive=True)
    elif ids is not None:
        ids = _chosen_ids("download", ids, interactive=False)
    platforms = _platforms(options["youtube"], options["vk"], options["all_platforms"])
    if options["dry_run"]:
        previews = _run_flow(
            full_pipeline_flow,
            platforms=platforms,
            recording_ids=ids,
            sync=sync_first,
            last_days=options["last"],
            dry_run=True,
        )
        _print_preview(previews)
        return
    result = _run_with_progress(
        full_pipeline_flow,
        platforms=platforms,
        recording_ids=ids,
        sync=sync_first,
        last_days=options["last"],
    )
    _print_outcome(result)


@main.command()
@click.option("--days", type=click.IntRange(min=0), required=True, metavar="N")
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@friendly_errors
def clean(days: int, dry_run: bool) -> None:
    """Delete local media of finished (published or skipped) recordings older than N days."""
    _store().dispose()
    from flows.maintenance import clean_flow
    from flows.render import human_size

    rows = _run_flow(clean_flow, days=days, dry_run=dry_run)
    for row in rows:
        out.print(f"  {row['id']}: {row['topic']} ({human_size(row['bytes'])}) {row['files']}")
    verb = "Would free" if dry_run else "Freed"
    total = sum(int(row["bytes"]) for row in rows)
    out.print(f"{verb} {human_size(total)} from {len(rows)} finished recordings.")


@main.command("free-zoom")
@click.option("--dry-run", is_flag=True, help="Only show what would be trashed or deleted.")
@friendly_errors
def free_zoom(dry_run: bool) -> None:
    """Trash (or delete) Zoom recordings that every platform has published and verified.

    Opt-in: upload_settings.delete_from_zoom in app_config.json ("off", "trash", "delete").
    """
    config = _app_config(None, missing_ok=True)
    _store().dispose()
    from flows.zoom_cleanup import free_zoom_storage_flow

    mode = config.upload_settings.delete_from_zoom
    rows = _run_flow(free_zoom_storage_flow, dry_run=dry_run)
    for row in rows:
        out.print(f"  {row['id']}: {row['topic']}: {row['action']} ({row['why']})", highlight=False)
    verb = "would go to" if dry_run else "went to"
    gone = sum(1 for row in rows if row["action"] != "keep")
    target = "Zoom's trash" if mode == "trash" else "deletion"
    if mode == "off":
        out.print("delete_from_zoom is off in app_config.json: nothing is removed from Zoom.")
    else:
        out.print(f"{gone} recordings {verb} {target}.")


@main.command()
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
    from flows.demo import run_demo
    from flows.render import publications_table, recordings_table

    outcome = run_demo(work_dir.resolve(), out)
    store = _store()
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
        _fail(state.message or "the demo pipeline did not complete")


from flows.webhook_cli import webhook  # noqa: E402 - registered after `main` exists

main.add_command(webhook)

if __name__ == "__main__":
    main()
