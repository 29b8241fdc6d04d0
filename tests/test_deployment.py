"""prefect.yaml for real: a Prefect server, `prefect deploy`, a process worker, a deployment run.

Slow (a server and a worker start): marked `slow`; CI runs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect_servers import PREFECT, running_server, seed_prefect_home
from zoom_fixtures import demo_plan_of

from integrations.sandbox.demo import DemoWorld
from integrations.store.repository import RecordingStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
# Of the demo plan (tests/test_pipeline.py runs all of it in-process): a lecture by a host
# deactivated since, one by an active host, one too short and one silent.
TOPICS = (
    "Physics Lecture 3: Energy",
    "Python Advanced Lecture 1",
    "Office hours",
    "Lab walkthrough (microphone muted)",
)


@pytest.fixture
def prefect_server(prefect_database: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real `prefect server start` on a free port, with its own PREFECT_HOME."""
    with running_server(seed_prefect_home(prefect_database, tmp_path / "prefect-home")) as env:
        yield env


def prefect(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [*PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM to the worker's process group; SIGKILL if it has not ended 20 s later (a worker
    on a loaded machine may still be starting its flow run's process)."""
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def test_on_demand_deployment_runs_on_a_worker(
    prefect_server: dict[str, str], empty_postgres: str, demo_media_cache: Path, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = prefect_server
    store = RecordingStore(empty_postgres)
    plan = demo_plan_of(*TOPICS)
    with DemoWorld(tmp_path / "world", media_cache=demo_media_cache, plan=plan) as world:
        with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
            world.save_credentials()
        run_env = {
            **env,
            **world.environment(),
            "DATABASE_URL": empty_postgres,
            "MEDIA_DIR": str(tmp_path / "video"),
            "APP_CONFIG": str(world.write_app_config()),
        }
        prefect(env, "work-pool", "create", "zoom-publisher", "--type", "process")
        prefect(env, "--no-prompt", "deploy", "--name", "on-demand")
        worker = subprocess.Popen(
            [*PREFECT, "worker", "start", "--pool", "zoom-publisher", "--limit", "1"],
            env=run_env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            watched = prefect(
                env,
                "deployment",
                "run",
                "full-pipeline/on-demand",
                "--param",
                "last_days=14",
                "--watch",
                "--watch-timeout",
                "240",
                timeout=300,
            )
        finally:
            stop_worker(worker)

        assert "Completed" in watched, watched
        statuses = sorted(r.status.value for r in store.list())
        assert statuses == ["SKIPPED", "SKIPPED", "UPLOADED", "UPLOADED"]
        assert len(world.youtube.videos) == 2
    store.dispose()
