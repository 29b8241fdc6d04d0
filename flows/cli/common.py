"""What every command shares: consoles, clear errors, the store, selections, running flows."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

out = Console()
err = Console(stderr=True)


class UsageProblem(click.UsageError):
    """Bad command-line input: printed without a traceback, exit code 2."""


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's expected failures into one clear message and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Light modules only: `trim` starts without SQLAlchemy or the config models.
        from config.errors import ConfigError, CredentialsMissingError
        from flows.cli.prefect_home import check_temporary_server_home
        from flows.cli.selection import SelectionError
        from flows.cli.stopping import Stopped
        from integrations.disk import DiskError
        from integrations.media.capabilities import UnsupportedFFmpegError
        from integrations.store.errors import RecordingNotFoundError, StoreUnavailableError

        try:
            check_temporary_server_home(top_command())
            return func(*args, **kwargs)
        except DiskError as exc:
            fail(str(exc), exc.exit_code)
        except (ConfigError, UnsupportedFFmpegError) as exc:
            fail(str(exc), 2)
        except SelectionError as exc:
            fail(str(exc), 2)
        except (StoreUnavailableError, RecordingNotFoundError, CredentialsMissingError) as exc:
            fail(str(exc))
        except Stopped as exc:
            fail(
                f"stopped ({exc.signal_name}); run the command again to continue where it stopped",
                exc.exit_code,
            )
        except KeyboardInterrupt:
            fail("interrupted; run the command again to continue where it stopped", 130)
        except RuntimeError as exc:
            if TEMPORARY_SERVER_TIMEOUT not in str(exc):
                raise
            fail(temporary_server_advice(), 2)
        except Exception as exc:
            if (fault := disk_fault(exc)) is None:
                raise
            fail(str(fault), fault.exit_code)

    return wrapper


def top_command() -> str | None:
    """The name of the command this process runs (`credentials` for `credentials import`)."""
    ctx = click.get_current_context(silent=True)
    name = None
    while ctx is not None and ctx.parent is not None:
        name, ctx = ctx.info_name, ctx.parent
    return name


def disk_fault(exc: BaseException):
    """`exc` as a described `DiskError` when the local disk refused a file (an `OSError`, or
    SQLite's words for the store's file), else None."""
    from integrations.disk import DiskError, disk_error, is_disk_fault

    if isinstance(exc, DiskError):
        return exc
    if isinstance(exc, OSError) and is_disk_fault(exc):
        return disk_error(exc)
    if type(exc).__module__.startswith("sqlalchemy"):
        from integrations.store.database import sqlite_disk_fault

        return sqlite_disk_fault(exc)
    return None


# What Prefect raises when the temporary API server it starts does not answer in time
# (prefect/server/api/server.py, SubprocessASGIServer.start).
TEMPORARY_SERVER_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"


def temporary_server_advice() -> str:
    """What to do when Prefect's temporary server did not start in time."""
    seconds = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "20")
    return (
        f"the temporary Prefect server did not start within {seconds} s "
        "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS; a busy machine): keep one running "
        "with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api, or "
        "raise that timeout"
    )


def require_ffmpeg() -> None:
    """Stop (exit 2) before any file is touched when the FFmpeg to run cannot cut."""
    from integrations.media.ffmpeg import selected_ffmpeg

    selected_ffmpeg()


def open_store():
    from config.settings import get_settings
    from integrations.store.repository import RecordingStore

    return RecordingStore.open(get_settings().resolved_database_url)


def selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("-i", "--interactive", is_flag=True, help="Pick recordings from a list.")(
        func
    )
    func = click.option(
        "--recordings", metavar='"1,4,7"', help="Recording IDs from `list` (ranges: 3-6)."
    )(func)
    return click.option("--all", "all_", is_flag=True, help="Every eligible recording.")(func)


def dry_run_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dry-run", is_flag=True, help="Only show what would be done; change nothing."
    )(func)


def require_selection(all_: bool, recordings: str | None, interactive: bool) -> list[int] | None:
    """None for --all (or -i), else the parsed IDs; exactly one way must be chosen."""
    from flows.cli.selection import SelectionError, parse_ids

    if all_ and recordings is not None:
        raise UsageProblem("--all and --recordings exclude each other")
    if not (all_ or recordings is not None or interactive):
        raise UsageProblem('choose the recordings: --all, --recordings "1,4,7" or -i')
    try:
        return parse_ids(recordings) if recordings is not None else None
    except SelectionError as exc:
        raise UsageProblem(str(exc)) from None


def app_config(path: Path | None, missing_ok: bool = False):
    """APP_CONFIG (or `path`) validated: a wrong file stops the command (exit 2) before any work."""
    from config.app_config import load_app_config
    from config.settings import get_settings

    return load_app_config(path or get_settings().app_config, missing_ok=missing_ok)


def reads_app_config(func: Callable[..., Any]) -> Callable[..., Any]:
    """Validate APP_CONFIG before the command does anything (no Prefect, no store yet): a wrong
    file exits 2 with one line per problem, printed by `friendly_errors` (the decorator above);
    no file means the defaults."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app_config(None, missing_ok=True)
        return func(*args, **kwargs)

    return wrapper


def run_flow(flow: Any, **parameters: Any) -> Any:
    """Run a flow in this process; a Failed run exits non-zero with its message."""
    from flows.heartbeats import heartbeats_only_where_read

    with heartbeats_only_where_read():
        state = flow(**parameters, return_state=True)
    if state.is_failed() or state.is_crashed() or state.is_cancelled():
        raised = state.result(raise_on_failure=False)
        if isinstance(raised, BaseException) and (fault := disk_fault(raised)) is not None:
            fail(str(fault), fault.exit_code)
        fail(state.message or f"the {flow.name} run ended {state.name}")
    return state.result()


def chosen_ids(stage: str, ids: list[int] | None, interactive: bool) -> list[int] | None:
    """The IDs to run: checked to exist; with -i, picked from the recordings ready for `stage`."""
    from flows.cli.selection import pick_recordings

    store = open_store()
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


def run_with_progress(flow: Any, **parameters: Any) -> Any:
    from flows.cli.progress import RichProgress

    with RichProgress(out):
        return run_flow(flow, **parameters)


def print_preview(previews: dict[str, list[dict[str, Any]]]) -> None:
    from flows.cli.tables import rows_table

    for stage, rows in previews.items():
        if rows:
            out.print(rows_table(rows, f"{stage}: what would be done (dry run)"))
        else:
            out.print(f"{stage}: nothing would be done.")
    out.print("Dry run: nothing was changed.")


def print_outcome(result: dict[str, Any]) -> None:
    """The recordings the run worked on, a page at a time (a night's run may have worked on
    thousands); then, when a stage waits for the disk (full or read-only), one line per such
    stage and exit code 2."""
    from flows.cli.tables import print_recordings
    from integrations.store.repository import LIST_PAGE

    touched = result.get("touched") or []
    if not touched:
        out.print("Nothing to do: no recording is ready for this stage.")
    else:
        store = open_store()
        try:
            pages = (
                store.list(ids=touched[start : start + LIST_PAGE])
                for start in range(0, len(touched), LIST_PAGE)
            )
            print_recordings(out, pages, "Recordings this run worked on")
        finally:
            store.dispose()
    if waits := result.get("disk_waits"):
        fail("\n".join(waits), 2)


def run_stage(
    stage: str,
    flow: Any,
    all_: bool,
    recordings: str | None,
    interactive: bool,
    dry_run: bool,
) -> None:
    """One stage's flow over the chosen recordings, its dry run, or -i's pick."""
    ids = chosen_ids(stage, require_selection(all_, recordings, interactive), interactive)
    if dry_run:
        print_preview({stage: run_flow(flow, recording_ids=ids, dry_run=True)})
        return
    print_outcome(run_with_progress(flow, recording_ids=ids))


def platform_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--all-platforms", is_flag=True, help="Every enabled platform.")(func)
    func = click.option("--vk", is_flag=True, help="Publish to VK.")(func)
    return click.option("--youtube", is_flag=True, help="Publish to YouTube.")(func)


def platforms_of(youtube: bool, vk: bool, all_platforms: bool) -> list[str] | None:
    """The platforms asked for; None: every platform enabled in app_config.json."""
    if all_platforms:
        return None
    return [name for name, wanted in (("youtube", youtube), ("vk", vk)) if wanted] or None
