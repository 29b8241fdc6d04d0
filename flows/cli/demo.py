"""`zoom-publisher demo`: the whole pipeline against local emulators, on the embedded defaults.

Starts the Zoom, YouTube and VK emulators with generated lecture-like recordings (two accounts,
a recurring meeting, one too short for the filters, one without sound), points every client at
them, and runs the full pipeline on a fresh SQLite store under Prefect's ephemeral mode. Its own
PREFECT_HOME, store and media folders keep it apart from real work.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console


def prepare_environment(work_dir: Path) -> dict[str, str]:
    """Settings that keep the demo apart: its own Prefect home, status store and media."""
    return {
        "PREFECT_HOME": str(work_dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "DATABASE_URL": f"sqlite:///{work_dir / 'demo.db'}",
        "MEDIA_DIR": str(work_dir / "video"),
        "APP_CONFIG": str(work_dir / "app_config.json"),
    }


def reset_work_dir(work_dir: Path) -> None:
    """A fresh store and media for each demo; generated recordings and Prefect's home are kept."""
    (work_dir / "demo.db").unlink(missing_ok=True)
    shutil.rmtree(work_dir / "video", ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)


def run_demo(work_dir: Path, console: Console) -> dict[str, Any]:
    """Build the sandbox world, run the full pipeline on it, print what became of everything."""
    started = time.monotonic()
    reset_work_dir(work_dir)
    os.environ.update(prepare_environment(work_dir))
    if os.environ.get("PREFECT_API_URL", "").startswith("http"):
        del os.environ["PREFECT_API_URL"]  # the demo runs on its own ephemeral Prefect

    from config.settings import get_settings
    from integrations.sandbox.demo import DemoWorld

    with DemoWorld(work_dir) as world:
        assert world.generation is not None  # made by `start`
        console.print(
            f"Sandbox up: Zoom, YouTube and VK emulators; {len(world.describe())} meeting "
            f"instances in 2 Zoom accounts ({world.generation.seconds:.1f} s to prepare media)."
        )
        os.environ.update(world.environment())
        world.write_app_config(Path(os.environ["APP_CONFIG"]))
        get_settings.cache_clear()

        from integrations.store.database import upgrade_to_head

        upgrade_to_head(get_settings().resolved_database_url)
        console.print("Starting Prefect (ephemeral mode, first start takes ~20 s)...")
        world.save_credentials()

        from flows.cli.progress import RichProgress
        from flows.pipeline import full_pipeline_flow

        with RichProgress(console):
            state = full_pipeline_flow(return_state=True)
    return {"state": state, "seconds": time.monotonic() - started}
