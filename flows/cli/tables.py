"""Rich tables that show the status store to a person."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from integrations.store.models import Recording
from integrations.store.states import Platform, PlatformStatus, ProcessingStatus

STATUS_STYLE = {
    ProcessingStatus.UPLOADED: "green",
    ProcessingStatus.FAILED: "bold red",
    ProcessingStatus.SKIPPED: "dim",
    ProcessingStatus.EXPIRED: "dim",
    PlatformStatus.UPLOADED: "green",
    PlatformStatus.FAILED: "red",
    PlatformStatus.WAITING: "yellow",
}


def human_size(size: int | None) -> str:
    if not size:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _platform_cell(recording: Recording, platform: Platform) -> Text:
    publication = recording.publication(platform)
    if publication is None:
        return Text("-", style="dim")
    label = publication.status.value
    if publication.status == PlatformStatus.WAITING and publication.waiting_until:
        label += f" until {local_time(publication.waiting_until)}"
    cell = Text(label, style=STATUS_STYLE.get(publication.status, ""))
    if note := publication.thumbnail_note:
        cell.append(f"\n{note}", style="yellow")
    return cell


def _status_cell(recording: Recording) -> Text:
    status = Text(recording.status.value, style=STATUS_STYLE.get(recording.status, ""))
    if recording.status_reason and (
        recording.status in (ProcessingStatus.FAILED, ProcessingStatus.SKIPPED)
        or recording.status_reason.startswith("waiting")  # a disk, a quota, an account
    ):
        status.append(f"\n{recording.status_reason}", style="dim")
    return status


def _recording_cells(recording: Recording) -> tuple[str | Text, ...]:
    return (
        str(recording.id),
        local_time(recording.start_time),
        Text(recording.topic),  # as it is: a str would be read as markup ("[draft]" lost)
        f"{recording.duration_min} min",
        human_size(recording.total_size),
        _status_cell(recording),
        _platform_cell(recording, Platform.YOUTUBE),
        _platform_cell(recording, Platform.VK),
    )


def recordings_table(recordings: Iterable[Recording], title: str) -> Table:
    """ID, date, topic, duration, size, status (with reason) and per-platform status."""
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("ID", justify="right", style="bold")
    table.add_column("Date")
    table.add_column("Topic", overflow="fold", max_width=48)
    table.add_column("Duration", justify="right")
    table.add_column("Size", justify="right")
    table.add_column("Status", overflow="fold", max_width=40)
    table.add_column("YouTube", overflow="fold", max_width=40)
    table.add_column("VK", overflow="fold", max_width=40)
    for recording in recordings:
        table.add_row(*_recording_cells(recording))
    return table


def _page_table(recordings: Sequence[Recording], title: str | None) -> Table:
    """One page of a streamed recordings table: the columns' widths depend on the console's
    width only (never on the rows), so the pages printed one after another line up as one
    table; the first page has the title and the header."""
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_header=title is not None,
        show_edge=False,
        expand=True,
    )
    # `width` is a fixed column's width, and a `ratio` column's least.
    table.add_column("ID", justify="right", style="bold", width=6, no_wrap=True)
    table.add_column("Date", width=16)
    table.add_column("Topic", overflow="fold", ratio=3, width=12)
    table.add_column("Duration", justify="right", width=8)
    table.add_column("Size", justify="right", width=9)
    table.add_column("Status", overflow="fold", ratio=2, width=11)
    table.add_column("YouTube", overflow="fold", ratio=2, width=8)
    table.add_column("VK", overflow="fold", ratio=2, width=8)
    for recording in recordings:
        table.add_row(*_recording_cells(recording))
    return table


def print_recordings(console: Console, pages: Iterable[Sequence[Recording]], title: str) -> int:
    """Print recordings as one table, a page at a time as the pages come (the memory of one
    page, the first screen as soon as the first page is read); returns how many there were."""
    shown = 0
    for page in pages:
        console.print(_page_table(page, None if shown else title))
        shown += len(page)
    return shown


def publications_table(recordings: Iterable[Recording], title: str) -> Table:
    """Where each recording was published: platform, status and the video's URL."""
    table = Table(title=title, title_justify="left")
    table.add_column("ID", justify="right", style="bold")
    table.add_column("Topic", overflow="fold", max_width=40)
    table.add_column("Cut (s)", justify="right")
    table.add_column("Platform")
    table.add_column("URL / reason", overflow="fold")
    for recording in recordings:
        cut = "-"
        if recording.trim_start is not None and recording.trim_end is not None:
            cut = f"{recording.trim_start:.1f}-{recording.trim_end:.1f}"
        if not recording.publications:
            reason = recording.status_reason or recording.status.value
            table.add_row(
                str(recording.id), Text(recording.topic), cut, "-", Text(reason, style="dim")
            )
        for publication in recording.publications:
            detail = publication.url or publication.last_error or publication.status.value
            if note := publication.thumbnail_note:
                detail += f"\n{note}"
            table.add_row(
                str(recording.id),
                Text(recording.topic),
                cut,
                publication.platform.value,
                Text(detail),
            )
    return table


def rows_table(rows: list[dict[str, object]], title: str) -> Table:
    """A plain table of dict rows (a dry run's preview)."""
    table = Table(title=title, title_justify="left")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(row.get(column, "")) for column in columns))
    return table
