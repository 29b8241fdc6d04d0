"""`zoom-publisher serve`: prefect.yaml's deployments served by one process, no work pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner
from test_deployment import prefect, prefect_server  # noqa: F401 - the server fixture
from zoom_fixtures import demo_plan_of

from config.errors import ConfigError
from flows.cli import main
from flows.serving import PROJECT_FILE, read_deployments, runner_deployments
from integrations.sandbox.demo import DemoWorld
from integrations.store.repository import RecordingStore

SERVE = [sys.executable, "-m", "flows.cli", "serve"]


def test_every_deployment_of_prefect_yaml_is_served_as_written() -> None:
    written = yaml.safe_load(PROJECT_FILE.read_text())["deployments"]
    served = {d.name: d for d in runner_deployments(PROJECT_FILE)}

    assert list(served) == [d["name"] for d in written]
    for entry in written:
        deployment = served[entry["name"]]
        assert deployment.parameters == entry.get("parameters", {})
        assert [s.schedule.cron for s in deployment.schedules] == [
            s["cron"] for s in entry.get("schedules", [])
        ]
        assert all(s.schedule.timezone == "UTC" for s in deployment.schedules)
        assert deployment.work_pool_name is None
    assert served["hourly"].concurrency_options.collision_strategy == "CANCEL_NEW"


def test_a_deployment_key_serve_cannot_apply_is_refused_by_name(tmp_path: Path) -> None:
    spec = tmp_path / "prefect.yaml"
    spec.write_text(
        "deployments:\n  - name: hourly\n    entrypoint: flows/sync.py:sync_flow\n"
        "    triggers: [{enabled: true}]\n"
    )
    with pytest.raises(ConfigError, match=r"hourly\): `triggers` is not applied by serve"):
        read_deployments(spec)


def test_serve_without_a_prefect_server_says_so_in_one_line() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        done = CliRunner().invoke(main, ["serve"])
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and "PREFECT_API_URL is not set" in lines[0], done.output
    assert "prefect server start" in lines[0]


def deployment(api: str, name: str) -> dict | None:
    answer = httpx.get(f"{api}/deployments/name/{name}", timeout=5)
    return answer.json() if answer.status_code == 200 else None


@pytest.mark.slow
def test_serve_runs_a_deployment_started_with_prefect_deployment_run(
    prefect_server: dict[str, str],  # noqa: F811 - the imported fixture
    empty_postgres: str,
    demo_media_cache: Path,
    tmp_path: Path,
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = prefect_server
    api = env["PREFECT_API_URL"]
    store = RecordingStore(empty_postgres)
    plan = demo_plan_of("Python Advanced Lecture 1")
    with DemoWorld(tmp_path / "world", media_cache=demo_media_cache, plan=plan) as world:
        with temporary_settings({PREFECT_API_URL: api}):
            world.save_credentials()
        served = subprocess.Popen(
            SERVE,
            env={
                **env,
                **world.environment(),
                "DATABASE_URL": empty_postgres,
                "MEDIA_DIR": str(tmp_path / "video"),
                "APP_CONFIG": str(world.write_app_config()),
                "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            },
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while deployment(api, "sync/hourly") is None:
                assert served.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.5)
            watched = prefect(
                env,
                *("deployment", "run", "sync/hourly", "--param", "last_days=14"),
                *("--watch", "--watch-timeout", "120"),
                timeout=180,
            )
        finally:
            served.send_signal(signal.SIGTERM)
            try:
                code = served.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(served.pid, signal.SIGKILL)
                raise

    assert "Completed" in watched, watched
    # The recording Zoom holds is in the store: the run executed in `serve`.
    assert [r.topic for r in store.list()] == ["Python Advanced Lecture 1"]
    store.dispose()
    assert code == 0
    with pytest.raises(ProcessLookupError):  # nothing is left of serve's process group
        os.killpg(served.pid, 0)
    assert deployment(api, "sync/hourly")["paused"], "a stopped serve leaves nothing scheduled"
