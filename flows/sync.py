"""The `sync` flow: every configured Zoom account's cloud recordings into the status table."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State

from config.secrets import read_once, zoom_account_blocks
from config.settings import get_settings
from flows.dry_run import preview_sync
from flows.task_runner import thread_pool
from tasks.sync import sync_account


def sync_range(
    last_days: int | None, from_date: date | None, to_date: date | None
) -> tuple[date, date]:
    """The inclusive UTC day range to list: `--from/--to`, or the last N days (default 14)."""
    today = datetime.now(UTC).date()
    end = to_date or today
    if from_date is not None:
        start = from_date
    else:
        start = end - timedelta(days=(last_days or get_settings().sync_days) - 1)
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    return start, end


@flow(name="sync", task_runner=thread_pool(4))
def sync_flow(
    last_days: int | None = None,
    from_date: date | None = None,
    to_date: date | None = None,
    dry_run: bool = False,
) -> dict[str, int] | list[dict[str, Any]] | State:
    """Store the recordings of every Zoom account (all users, all pages), one task per account
    that lists and stores a window at a time (small task arguments and results: names, dates,
    counts).

    An account that cannot be listed does not stop the others; the run then ends Failed,
    naming it. An account Zoom asks to come back to later (a daily limit) is deferred: its
    reason and reset time are logged and in the report, nothing fails, and the totals count it
    under `deferred`; a run after the reset syncs it.
    """
    logger = get_run_logger()
    start, end = sync_range(last_days, from_date, to_date)
    if dry_run:
        return preview_sync(start, end)
    with read_once():  # one request for every account's block; the tasks take theirs from it
        accounts = zoom_account_blocks()
        logger.info("Syncing %d Zoom accounts from %s to %s", len(accounts), start, end)
        futures = {name: sync_account.submit(name, start, end) for name in accounts}
    totals: Counter[str] = Counter()
    failures: list[str] = []
    rows = []
    for name, future in futures.items():
        try:
            done = future.result()
        except Exception as exc:
            failures.append(f"{name}: {exc}")
            continue
        totals.update(done.outcomes)
        if done.deferred:
            totals["deferred"] += 1
            logger.warning("Zoom account %s deferred: %s", done.account, done.deferred)
        rows.append(
            {
                "account": done.account,
                "instances": done.instances,
                **done.outcomes,
                "deferred": done.deferred or "",
            }
        )
    create_table_artifact(
        key="sync-report",
        table=rows or [{"account": "-", "instances": 0}],
        description=f"Zoom sync {start} to {end}",
    )
    logger.info(
        "Sync done: %d added, %d updated, %d unchanged, %d accounts deferred",
        totals["added"],
        totals["updated"],
        totals["unchanged"],
        totals["deferred"],
    )
    if failures:
        return Failed(message="could not list " + "; ".join(failures))
    return dict(totals)
