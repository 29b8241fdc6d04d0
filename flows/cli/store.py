"""Commands on the status store and the configuration: init-db, list, reset, config."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flows.cli.common import (
    UsageProblem,
    app_config,
    dry_run_option,
    fail,
    friendly_errors,
    open_store,
    out,
    reads_app_config,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from config.app_config import AppConfig
    from integrations.store.models import Recording


@click.command("init-db")
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


@click.command("list")
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="The last N days.")
@click.option("--from", "from_", type=click.DateTime(["%Y-%m-%d"]), help="From this day on.")
@click.option("--to", type=click.DateTime(["%Y-%m-%d"]), help="Up to this day (inclusive).")
@click.option("--all", "all_", is_flag=True, help="Every recording in the store.")
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help="Only the newest N recordings."
)
@friendly_errors
@reads_app_config  # not used here: a wrong file is reported now, not at the next stage
def list_(
    last: int | None,
    from_: datetime | None,
    to: datetime | None,
    all_: bool,
    limit: int | None,
) -> None:
    """Show recordings in the store (today's by default), newest first, with their status per
    platform. The table is printed a page at a time as it is read, so the first rows show at
    once and memory stays flat however many there are (`--all` on a year of history)."""
    from flows.cli.tables import print_recordings

    since, until, label = _period(last, from_, to, all_)
    store = open_store()
    try:
        pages = NewestFirst(store.pages(since=since, until=until, limit=limit and limit + 1), limit)
        shown = print_recordings(out, pages, f"Recordings {label}, newest first")
    finally:
        store.dispose()
    if not shown:
        out.print(f"No recordings {label}. Run `zoom-publisher sync` to fetch them from Zoom.")
    elif pages.more:
        out.print(f"The newest {shown} shown; there are more (a larger --limit shows them).")


class NewestFirst:
    """The store's pages cut at `limit` recordings; `more` says whether the store held more
    (the pages are read with one extra row)."""

    def __init__(self, pages: Iterator[list[Recording]], limit: int | None) -> None:
        self.pages, self.limit, self.more = pages, limit, False

    def __iter__(self) -> Iterator[list[Recording]]:
        shown = 0
        for page in self.pages:
            if self.limit is not None and shown + len(page) > self.limit:
                self.more = True
                page = page[: self.limit - shown]
            if page:
                yield page
            shown += len(page)


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


@click.command()
@click.option("--recordings", metavar='"1,4,7"', help="Only these IDs (default: all that need it).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@dry_run_option
@friendly_errors
def reset(recordings: str | None, yes: bool, dry_run: bool) -> None:
    """Return FAILED and stuck recordings to their last good status, so the next run redoes them."""
    from flows.cli.selection import parse_ids
    from flows.cli.tables import recordings_table
    from integrations.store.states import WORKING, ProcessingStatus

    ids = parse_ids(recordings) if recordings is not None else None
    store = open_store()
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
            fail("nothing was reset")
        changes = store.reset([r.id for r in movable])
    finally:
        store.dispose()
    for change in changes:
        out.print(f"  {change.recording_id}: {change.before} -> {change.after}")
    out.print(f"Reset {len(changes)} recordings.")


@click.group("config")
def config_group() -> None:
    """Check app_config.json and preview the titles it gives."""


@config_group.command("check")
@click.option("--file", "path", type=click.Path(path_type=Path), help="Default: APP_CONFIG.")
@click.option(
    "--online",
    is_flag=True,
    help="Also ask VK whether the stored token can publish to the community (needs the "
    "network and the Prefect API, where the token is).",
)
@friendly_errors
def config_check(path: Path | None, online: bool) -> None:
    """Validate app_config.json; one line per problem, exit code 2 when it is wrong."""
    from config.settings import get_settings

    config = app_config(path)
    mapping = config.video_title_mapping
    enabled = [name for name, p in config.platforms if p.enabled]
    out.print(
        f"{path or get_settings().app_config} is valid: {len(mapping.mapping_rules)} mapping "
        f"rules, platforms enabled: {', '.join(enabled) or 'none'}."
    )
    for note in config.notes():
        out.print(f"  note: {note}", highlight=False)
    if not config.platforms.vk.enabled:
        return
    if not online:
        out.print(
            "  note: only VK can tell whether the stored VK token can publish (a community "
            "token cannot): run `zoom-publisher config check --online`",
            highlight=False,
        )
        return
    _check_vk_online(config)


def _check_vk_online(config: AppConfig) -> None:
    """Ask VK whether the stored token can publish where the config sends videos; exit 2 if not."""
    from config.app_config import ConfiguredIdError, vk_publishing_group
    from config.secrets import vk_credentials
    from flows.cli.secrets import check_vk_token, print_vk_notes

    settings = config.platforms.vk
    credentials = vk_credentials()
    try:
        group = vk_publishing_group(settings.group_id, credentials.group_id)
    except ConfiguredIdError as exc:
        fail(str(exc), 2)
    check = check_vk_token(
        credentials.access_token.get_secret_value(), group, settings.default_privacy
    )
    print_vk_notes(check)
    if check.problems:
        fail("\n".join(check.problems), 2)


@config_group.command("title")
@click.argument("topic")
@click.option("--date", "when", type=click.DateTime(["%Y-%m-%d"]), help="Meeting day (today).")
@click.option("--file", "path", type=click.Path(path_type=Path), help="Default: APP_CONFIG.")
@friendly_errors
def config_title(topic: str, when: datetime | None, path: Path | None) -> None:
    """Show the rule a Zoom TOPIC falls under and the titles it would be published with."""
    from config.titles import render

    start = (when or datetime.now()).astimezone()
    publication = render(app_config(path).video_title_mapping, topic, start)
    for name, value in vars(publication).items():
        out.print(f"{name}: {value if value not in (None, []) else '-'}", highlight=False)
