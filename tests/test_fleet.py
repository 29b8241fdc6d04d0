"""A fleet without shared storage (issue 18): a real Prefect server, a process work pool, two
workers with their own MEDIA_DIRs and one PostgreSQL; one worker is killed mid-upload.

Slow (a server, two workers and their flow runs start): marked `slow`, as test_deployment.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect_servers import PREFECT
from test_deployment import prefect, prefect_server  # noqa: F401 - the fixture

from integrations.sandbox.demo import PUBLISHED, DemoWorld, default_plan
from integrations.storage_id import storage_id
from integrations.store.models import Recording
from integrations.store.repository import RecordingStore
from integrations.store.states import ProcessingStatus

pytestmark = pytest.mark.slow
S = ProcessingStatus
LECTURES = 4
DEPLOYMENT = "full-pipeline/on-demand"
LEASE_SECONDS = 3
# Transfers take seconds: the workers share the lectures, and an upload can be killed mid-way.
DOWNLOAD_BYTES_PER_SECOND = 100_000
UPLOAD_BYTES_PER_SECOND = 150_000


def process_tree(root: int) -> list[int]:
    """`root` and every process under it (a worker, its flow runs and their FFmpegs)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def kill_tree(root: int) -> None:
    for pid in process_tree(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Fleet:
    """Workers of one process pool, each with its own MEDIA_DIR (its own disk)."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env, self.root = env, root
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> str:
        """Start worker `name`; returns its storage id."""
        media = self.root / name
        log = (self.root / f"{name}.log").open("wb")
        self.workers[name] = subprocess.Popen(
            [*PREFECT, "worker", "start", "--pool", "zoom-publisher", "--limit", "1"],
            env={**self.env, "MEDIA_DIR": str(media)},
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return storage_id(media)

    def stop(self) -> None:
        for worker in self.workers.values():
            kill_tree(worker.pid)
            worker.wait(timeout=30)


@pytest.fixture
def fleet(prefect_server: dict[str, str], tmp_path: Path) -> Iterator[Fleet]:  # noqa: F811
    fleet = Fleet(prefect_server, tmp_path)
    yield fleet
    fleet.stop()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.timeout(600)  # a server, two workers and their flow-run processes start
def test_two_workers_without_shared_storage_finish_a_killed_ones_recordings(
    fleet: Fleet, empty_postgres: str, demo_media_cache: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    store = RecordingStore(empty_postgres)
    plan = [r for r in default_plan() if r.expected == PUBLISHED][:LECTURES]
    with (
        DemoWorld(tmp_path / "world", media_cache=demo_media_cache, plan=plan) as world,
        temporary_settings({PREFECT_API_URL: fleet.env["PREFECT_API_URL"]}),
    ):
        world.zoom.bandwidth = DOWNLOAD_BYTES_PER_SECOND
        world.youtube.bandwidth = world.vk.bandwidth = UPLOAD_BYTES_PER_SECOND
        world.save_credentials()
        fleet.env |= {
            **world.environment(),
            "DATABASE_URL": empty_postgres,
            "APP_CONFIG": str(world.write_app_config()),
            "LEASE_SECONDS": str(LEASE_SECONDS),
            # One at a time per stage: each worker holds at most two lectures ahead of upload.
            "DOWNLOAD_CONCURRENCY": "1",
            "PROCESS_CONCURRENCY": "1",
            "UPLOAD_CONCURRENCY": "1",
        }
        prefect(fleet.env, "work-pool", "create", "zoom-publisher", "--type", "process")
        prefect(fleet.env, "--no-prompt", "deploy", "--name", "on-demand")
        storage_a, storage_b = fleet.start("machine-a"), fleet.start("machine-b")
        runs = {run_deployment(DEPLOYMENT, timeout=0).id for _ in range(2)}

        # Worker A is killed, with its flow run, while one of its recordings uploads and B
        # still has a recording ahead of its upload (so B's run outlives A's lease).
        deadline = time.monotonic() + 300
        while not (uploading := killable(store, storage_a, storage_b)):
            assert time.monotonic() < deadline, "machine A never uploaded while B had work"
            time.sleep(0.2)
        kill_tree(fleet.workers["machine-a"].pid)
        fleet.workers["machine-a"].wait(timeout=30)
        left_by_a = [
            r.id for r in store.list() if r.storage == storage_a and r.status != S.UPLOADED
        ]
        assert store.get(uploading.id).status == S.UPLOADING, "it was mid-upload when killed"

        # B's run takes A's recordings over once A's leases and storage run out.
        (run_b,) = runs - {UUID(str(uploading.claimed_by).rsplit("/", 1)[1])}
        with get_client(sync_client=True) as client:
            while not (state := client.read_flow_run(run_b).state).is_final():
                assert time.monotonic() < deadline + 240, "machine B's run did not end"
                time.sleep(1)
        assert state.is_completed(), state

    recordings = store.list()
    assert [r.status for r in recordings] == [S.UPLOADED] * LECTURES
    assert {r.storage for r in recordings if r.id in left_by_a} == {storage_b}
    youtube = {
        p.remote_id: r for r in recordings for p in r.publications if p.platform == "youtube"
    }
    assert set(youtube) == set(world.youtube.videos), "each on YouTube once"
    for video_id, recording in youtube.items():  # whole: never two copies' bytes mixed
        processed = Path(str(recording.processed_path))
        assert world.youtube.videos[video_id]["sha256"] == sha256(processed)
    delivered_vk = [v for v in world.vk.videos.values() if v.get("size")]
    assert len(delivered_vk) == LECTURES, "each on VK once"
    store.dispose()


def killable(store: RecordingStore, storage_a: str, storage_b: str) -> Recording | None:
    """A's recording that is uploading, once B still has one that has not reached upload."""
    rows = store.list()
    before_upload = (S.DOWNLOADING, S.DOWNLOADED, S.PROCESSING, S.PROCESSED)
    ahead_on_b = [r for r in rows if r.storage == storage_b and r.status in before_upload]
    uploading_on_a = [
        r
        for r in rows
        if r.status == S.UPLOADING
        and r.storage == storage_a
        and any(p.upload_session for p in r.publications)
    ]
    return uploading_on_a[0] if uploading_on_a and ahead_on_b else None
