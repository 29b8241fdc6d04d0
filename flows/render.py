"""Rich tables that show the status store to a person."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.table import Table
from rich.text import Text

from integrations.store.models import Publication, Recording
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


def thumbnail_note(publication: Publication) -> str | None:
    """Why the video has no custom thumbnail, when the platform refused it for good."""
    if publication.thumbnail_refused is None:
        return None
    return f"no custom thumbnail: {publication.thumbnail_refused}"


def _platform_cell(recording: Recording, platform: Platform) -> Text:
    publication = recording.publication(platform)
    if publication is None:
        return Text("-", style="dim")
    label = publication.status.value
    if publication.status == PlatformStatus.WAITING and publication.waiting_until:
        label += f" until {local_time(publication.waiting_until)}"
    cell = Text(label, style=STATUS_STYLE.get(publication.status, ""))
    if note := thumbnail_note(publication):
        cell.append(f"\n{note}", style="yellow")
    return cell


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
        status = Text(recording.status.value, style=STATUS_STYLE.get(recording.status, ""))
        if recording.status_reason and (
            recording.status in (ProcessingStatus.FAILED, ProcessingStatus.SKIPPED)
            or recording.status_reason.startswith("waiting")  # a disk, a quota, an account
        ):
            status.append(f"\n{recording.status_reason}", style="dim")
        table.add_row(
            str(recording.id),
            local_time(recording.start_time),
            recording.topic,
            f"{recording.duration_min} min",
            human_size(recording.total_size),
            status,
            _platform_cell(recording, Platform.YOUTUBE),
            _platform_cell(recording, Platform.VK),
        )
    return table


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
            table.add_row(str(recording.id), recording.topic, cut, "-", Text(reason, style="dim"))
        for publication in recording.publications:
            detail = publication.url or publication.last_error or publication.status.value
            if note := thumbnail_note(publication):
                detail += f"\n{note}"
            table.add_row(
                str(recording.id), recording.topic, cut, publication.platform.value, detail
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
