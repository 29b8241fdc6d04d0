"""Which recordings a command works on: `--all`, `--recordings "1,4,7"` (ranges too) or `-i`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


class SelectionError(ValueError):
    """A `--recordings` value that cannot be read; the message shows the expected form."""


def parse_ids(text: str) -> list[int]:
    """`"1,4,7"` or `"3-6,9"` -> sorted unique IDs."""
    ids: set[int] = set()
    for item in text.split(","):
        if not item.strip():
            continue
        found = _ITEM.match(item)
        if not found:
            raise SelectionError(
                f"--recordings: {item.strip()!r} is not an ID or a range; "
                'write IDs as shown by `zoom-publisher list`, e.g. "1,4,7" or "3-6"'
            )
        first, last = int(found[1]), int(found[2] or found[1])
        if last < first:
            raise SelectionError(f"--recordings: range {item.strip()!r} runs backwards")
        ids.update(range(first, last + 1))
    if not ids:
        raise SelectionError('--recordings: no IDs given, e.g. --recordings "1,4,7"')
    return sorted(ids)


def assign_rules(store, mapping, start, end, console) -> int:
    """Ask which title rule each synced topic that matches none should use; returns how many.

    The answer is stored on the recording (`rule_pattern`), so later stages title it that way.
    """
    import click

    from config.titles import matches_a_rule
    from integrations.store.states import ProcessingStatus

    since = datetime.combine(start, time(), UTC)
    until = datetime.combine(end + timedelta(days=1), time(), UTC)
    unmapped = [
        r
        for r in store.list(since=since, until=until, statuses=[ProcessingStatus.INITIALIZED])
        if r.rule_pattern is None and not matches_a_rule(mapping, r.topic)
    ]
    if not unmapped or not mapping.mapping_rules:
        return 0
    choices = "\n".join(f"  {n}: {rule.pattern}" for n, rule in enumerate(mapping.mapping_rules, 1))
    assigned = 0
    for recording in unmapped:
        console.print(f"\nRecording {recording.id} [bold]{recording.topic}[/] matches no rule.")
        console.print(f"  0: default rules\n{choices}", highlight=False)
        number = click.prompt("Rule", type=click.IntRange(0, len(mapping.mapping_rules)), default=0)
        if number:
            store.update_fields(
                recording.id, rule_pattern=mapping.mapping_rules[number - 1].pattern
            )
            assigned += 1
    return assigned


def pick_recordings(store, stage: str, console, ids: list[int] | None = None) -> list[int]:
    """Show the recordings ready for `stage` and ask which to take (`-i`)."""
    import click

    from flows.cli.tables import recordings_table
    from integrations.store.states import STAGES, ProcessingStatus

    ready_status = STAGES[stage][0]
    candidates = store.list(ids=ids, statuses=[ready_status, ProcessingStatus.FAILED])
    candidates = [
        r for r in candidates if r.status == ready_status or r.last_good_status == ready_status
    ]
    if not candidates:
        console.print(f"No recordings are ready to {stage}.")
        return []
    console.print(recordings_table(candidates, f"Ready to {stage}"))
    known = {r.id for r in candidates}
    while True:
        answer = click.prompt('IDs to take ("1,4,7", ranges, or "all")', default="all")
        if answer.strip().lower() == "all":
            return sorted(known)
        try:
            chosen = parse_ids(answer)
        except SelectionError as exc:
            console.print(str(exc))
            continue
        unknown = sorted(set(chosen) - known)
        if not unknown:
            return chosen
        console.print(f"Not in the list: {', '.join(map(str, unknown))}")


def confirm_titles(store, config, ids: list[int], platforms: list[str] | None, console) -> None:
    """Show each recording's title per platform; the user keeps it (Enter) or types a new one.

    A title that differs from the mapping's is stored on the publication as the chosen one,
    which every upload attempt keeps; Enter keeps the mapping, rendered again at each attempt.
    """
    import click

    from config.titles import TITLE_LIMITS, clean_title, render
    from integrations.store.publications import PublicationStore
    from integrations.store.states import Platform

    enabled = [name for name, settings in config.platforms if settings.enabled]
    wanted = [Platform(p) for p in (platforms or enabled) if p in enabled]
    publications = PublicationStore(store)
    for recording in store.list(ids=ids):
        rendered = render(
            config.video_title_mapping,
            recording.topic,
            recording.start_time,
            recording.rule_pattern,
        )
        console.print(f"\nRecording {recording.id}: [bold]{recording.topic}[/]")
        for platform in wanted:
            default = rendered.youtube_title if platform == Platform.YOUTUBE else rendered.vk_title
            existing = publications.get_or_create(recording.id, platform)
            shown = existing.chosen_title or default
            title = click.prompt(f"  {platform.value} title", default=shown)
            title = clean_title(title, default, TITLE_LIMITS[platform.value])
            chosen = None if title == default else title
            publications.update(recording.id, platform, chosen_title=chosen)
