"""Which recordings a command works on: `--all`, `--recordings "1,4,7"` (ranges too) or `-i`."""

from __future__ import annotations

import re

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
