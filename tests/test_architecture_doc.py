"""docs/architecture.md names only paths that exist, so the map cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
# A backticked token that looks like a file or folder: has a slash, or a file suffix.
PATH_LIKE = re.compile(r"^[\w.-]+(/[\w.-]*)+$|^[\w.-]+\.(py|md|yaml|toml|json)$")


def named_paths(text: str) -> list[tuple[str, Path]]:
    """(token, folder it is relative to) for each path-like backticked token of the page.

    A table row whose first cell is a folder (`flows/`) names its files relative to it.
    """
    found = []
    for line in text.splitlines():
        first = re.match(r"\| `([\w./-]+/)` \|", line)
        base = ROOT / first.group(1) if first else ROOT
        for token in re.findall(r"`([^`]+)`", line):
            path = token.split(":", 1)[0]
            if PATH_LIKE.match(path):
                found.append((path, base))
    return found


def test_every_path_named_in_the_architecture_page_exists() -> None:
    named = named_paths(DOC.read_text(encoding="utf-8"))
    assert len(named) > 40  # the page is read, not silently skipped
    missing = [p for p, base in named if not (base / p).exists() and not (ROOT / p).exists()]
    # Outside the layer table, name a file by its full path from the repository's root.
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"
