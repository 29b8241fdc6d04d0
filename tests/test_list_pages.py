"""`list` and the run reports read the store a page at a time (issue 19): newest first, `--limit`,
`--all` streamed as one table; a run's artifact rows capped with the failed ones first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from factories import add_recording
from sqlalchemy import Engine, event

from flows.cli import main
from integrations.store.repository import LIST_PAGE, RecordingStore, SyncedInstance
from integrations.store.states import ProcessingStatus

S = ProcessingStatus


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def listed_ids(output: str) -> list[int]:
    """The IDs in a printed recordings table, top to bottom (a row starts with its ID)."""
    return [int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s+\d{4}-\d\d-\d\d", output, re.M)]


def test_list_shows_the_newest_first_and_says_when_limit_left_some_out(
    store: RecordingStore,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone().replace(hour=0, minute=0, second=0).astimezone(UTC)
    rows = [add_recording(store, start_time=today + timedelta(minutes=n)) for n in (5, 1, 3)]
    add_recording(store, topic="Seminar [draft] 2", start_time=today)
    add_recording(store, topic="Yesterday's", start_time=today - timedelta(hours=1))

    everything = run("list")
    assert everything.exit_code == 0, everything.output
    assert listed_ids(everything.output)[:3] == [rows[0].id, rows[2].id, rows[1].id]
    assert "Seminar [draft] 2" in everything.output  # a topic is text, not Rich markup
    assert "there are more" not in everything.output

    limited = run("list", "--limit", "2")
    assert listed_ids(limited.output) == [rows[0].id, rows[2].id]
    assert "The newest 2 shown; there are more" in limited.output

    exact = run("list", "--limit", "4")
    assert len(listed_ids(exact.output)) == 4
    assert "there are more" not in exact.output


def test_list_all_streams_every_page_as_one_table(store: RecordingStore) -> None:
    start = datetime(2025, 3, 1, 8, tzinfo=UTC)
    count = LIST_PAGE * 2 + 7
    instances = [
        SyncedInstance(
            f"uuid-{n}",
            {
                "account": "school@example.com",
                "zoom_meeting_id": str(n),
                "topic": f"Lecture {n}",
                "start_time": start + timedelta(minutes=10 * n),
                "duration_min": 90,
                "total_size": 1000,
                "video_files": [],
            },
        )
        for n in range(count)
    ]
    store.store_synced(instances)
    reads: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().startswith("SELECT recordings."):
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", note)  # the command opens its own engine
    try:
        result = run("list", "--all")
    finally:
        event.remove(Engine, "before_cursor_execute", note)

    assert result.exit_code == 0, result.output
    ids = listed_ids(result.output)
    assert ids == sorted(ids, reverse=True) and len(ids) == count
    assert result.output.count("Recordings (all), newest first") == 1
    assert result.output.count("Topic") == 1  # one header: the pages join into one table
    assert len(reads) == 3  # two full pages and the rest, each its own read


@pytest.fixture
def touched_run(store: RecordingStore):
    """A run that touched five recordings, two of which failed."""
    from flows.engine import RunReport, Touched

    report = RunReport()
    rows = []
    for n in range(5):
        failed = n in (1, 3)
        row = add_recording(store, topic=f"Lecture {n}")
        if failed:
            store.claim("download", "w", lease_seconds=60, ids=[row.id])
            store.transition(row.id, S.FAILED, worker="w", reason=f"disk full {n}")
        report.touched[row.id] = Touched(row.id, row.topic, S.INITIALIZED)
        rows.append(row)
    return report, rows


def test_a_small_runs_report_has_every_row_in_run_order(touched_run) -> None:
    from flows.report import summarize

    report, rows = touched_run

    summary = summarize(report)

    assert [r["id"] for r in summary.rows] == [r.id for r in rows]
    assert (summary.recordings, summary.failed_ids) == (5, [rows[1].id, rows[3].id])
    assert summary.failed == [
        f"{rows[1].id} (Lecture 1): disk full 1",
        f"{rows[3].id} (Lecture 3): disk full 3",
    ]


def test_a_large_runs_report_is_read_a_page_at_a_time_and_capped_failed_first(
    touched_run, store: RecordingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.report
    from tasks.common import get_store

    report, rows = touched_run
    monkeypatch.setattr(flows.report, "REPORT_ROWS", 3)
    monkeypatch.setattr(flows.report, "FAILED_NAMED", 1)
    monkeypatch.setattr(flows.report, "LIST_PAGE", 2)
    reads: list[str] = []

    def note(_conn, _cursor, statement, parameters, *_args) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM recordings" in statement:
            reads.append(statement)

    event.listen(get_store().engine, "before_cursor_execute", note)
    try:
        summary = flows.report.summarize(report)
    finally:
        event.remove(get_store().engine, "before_cursor_execute", note)

    assert len(reads) == 3  # pages of 2 of the 5 recordings
    assert [r["id"] for r in summary.rows] == [rows[1].id, rows[3].id, rows[0].id]
    assert summary.failed == [f"{rows[1].id} (Lecture 1): disk full 1"]
    assert (summary.recordings, summary.failed_ids) == (5, [rows[1].id, rows[3].id])
