"""Before a command starts Prefect's temporary server: can it write its database?

Without `PREFECT_API_URL`, the first Prefect call starts a temporary server that keeps its
SQLite database in PREFECT_HOME. On a read-only or full disk that server dies at start-up with a
traceback of its own, and Prefect waits out the whole start-up timeout (two minutes here) before
it reports a timeout. Checked first, it is one line naming the folder and the cause.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from integrations.disk import DiskWriteError, describe, folder_fault

# Commands that never touch the Prefect API (flows/cli/__init__.py), and `demo`, which keeps
# its own PREFECT_HOME in its work folder.
NOT_CHECKED = frozenset({"trim", "list", "init-db", "reset", "config", "demo"})
# Another database for the server: PREFECT_HOME does not hold it.
DATABASE_SETTINGS = (
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
)


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def _profile_api_url(home: Path) -> bool:
    """Whether the active Prefect profile sets PREFECT_API_URL (a server is configured)."""
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    settings = profiles.get("profiles", {}).get(active, {})
    return isinstance(settings, dict) and bool(settings.get("PREFECT_API_URL"))


def check_temporary_server_home(command: str | None) -> None:
    """Raise `DiskWriteError` when `command` would start a temporary Prefect server whose
    database folder (PREFECT_HOME) is on a read-only or full disk, or not writable."""
    if command is None or command in NOT_CHECKED or os.environ.get("PREFECT_API_URL"):
        return
    if any(os.environ.get(name) for name in DATABASE_SETTINGS):
        return
    home = prefect_home()
    if _profile_api_url(home) or (code := folder_fault(home)) is None:
        return
    database = home / "prefect.db"
    message = describe(database, code, verb="write the temporary Prefect server's database")
    raise DiskWriteError(
        f"{message} (PREFECT_HOME; or set PREFECT_API_URL to a running Prefect server)",
        path=database,
        errno=code,
    )
