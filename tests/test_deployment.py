"""prefect.yaml for real: a Prefect server, `prefect deploy`, a process worker, a deployment run.

Slow (a server and a worker start): marked `slow`; CI runs it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from integrations.sandbox.demo import DemoWorld
from integrations.store.repository import RecordingStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real `prefect server start` on a free port, with its own PREFECT_HOME."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    server = subprocess.Popen(
        [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.5)
        yield env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


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
    with DemoWorld(tmp_path / "world", media_cache=demo_media_cache) as world:
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
        # The demo plan: 7 lectures (1 by a deactivated host), 1 too short, 1 silent.
        assert statuses.count("UPLOADED") == 7 and statuses.count("SKIPPED") == 2
        assert len(world.youtube.videos) == 7
    store.dispose()
