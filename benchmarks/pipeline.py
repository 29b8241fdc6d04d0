"""The full pipeline streamed vs. the seed's order, on the demo world with a slowed network.

Three runs in one process, each on a fresh world (same generated media), fresh SQLite store and
media folder, after an untimed sync:

1. seed order: every download, then every trim, then every upload, one at a time, called as
   plain functions (no Prefect engine), which is also the baseline for Prefect's overhead;
2. stages alone: the download, process and upload flows one after another, each with its own
   concurrency: the slowest stage's total time;
3. streamed: the full-pipeline flow (download -> process -> upload as a stream).

The emulators are slowed to a plausible network per connection (Zoom 2 MB/s down, YouTube and
VK 1 MB/s up) so that transfers cost what they cost in life; loopback would make them free.

    uv run python benchmarks/pipeline.py [--recordings 8] [--seconds 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from integrations.sandbox.demo import DemoRecording, DemoWorld, LectureSpec

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
MB = 1_000_000
ZOOM_BPS, UPLOAD_BPS = 2 * MB, 1 * MB


def plan(count: int, seconds: int) -> list[DemoRecording]:
    hosts = {"physics": "ann.lee@physics.demo.edu", "compsci": "carol.diaz@cs.demo.edu"}
    plan = []
    for n in range(count):
        account = "physics" if n % 2 else "compsci"
        media = LectureSpec(seconds + 2 * n, 10, 8, scene=account, tone_hz=200 + 10 * n)
        topic = f"Benchmark lecture {n + 1}"
        plan.append(DemoRecording(account, hosts[account], topic, 1 + n % 5, 9 + n, 60, media))
    return plan


def fresh_world(root: Path, name: str, cache: Path, recordings: list[DemoRecording]) -> DemoWorld:
    """A started world with its own store and media, credentials saved, the settings set."""
    from config.settings import get_settings

    world = DemoWorld(root / name, media_cache=cache, plan=recordings).start()
    world.zoom.bandwidth = ZOOM_BPS
    world.youtube.bandwidth = world.vk.bandwidth = UPLOAD_BPS
    os.environ.update(
        {
            **world.environment(),
            "DATABASE_URL": f"sqlite:///{root / name / 'store.db'}",
            "MEDIA_DIR": str(root / name / "video"),
            "APP_CONFIG": str(world.write_app_config()),
            "PROCESS_CONCURRENCY": "2",
        }
    )
    get_settings.cache_clear()
    from integrations.store.database import upgrade_to_head

    upgrade_to_head(get_settings().resolved_database_url)
    world.save_credentials()
    from flows.sync import sync_flow

    sync_flow()
    return world


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def seed_order() -> dict[str, float]:
    """All downloads, then all trims, then all uploads, one at a time, without Prefect."""
    from tasks.common import get_store
    from tasks.download import download_recording_task
    from tasks.process import process_recording_task
    from tasks.upload import upload_recording

    store = get_store()
    ids = [r.id for r in store.list() if r.status.value == "INITIALIZED"]
    stages = [
        ("download", download_recording_task.fn, {}),
        ("process", process_recording_task.fn, {}),
        ("upload", upload_recording.fn, {"platforms": ["youtube", "vk"]}),
    ]
    busy: dict[str, float] = {}
    for stage, work, kwargs in stages:
        started = time.perf_counter()
        for recording_id in ids:
            store.claim(stage, "seed-order", lease_seconds=3600, ids=[recording_id])
            work(recording_id, "seed-order", **kwargs)
        busy[stage] = time.perf_counter() - started
    return busy


def engine_overhead(count: int) -> float:
    """Seconds per recording that Prefect and the engine add: N rows through 3 no-op stages."""
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.engine import Stage, run_stages
    from tasks.common import StageOutcome, get_store, run_claimed, worker_identity

    def noop(stage: str):
        @task(name=f"noop-{stage}")
        def work(recording_id: int, worker: str):
            return run_claimed(stage, recording_id, worker, lambda _: StageOutcome())

        return Stage(stage, work, 2)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=6))
    def noop_pipeline() -> None:
        run_stages([noop("download"), noop("process"), noop("upload")], worker_identity())

    store = get_store()
    ids = [r.id for r in store.list() if r.status.value == "INITIALIZED"][:count]
    assert len(ids) == count
    return timed(noop_pipeline) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=100, help="length of each lecture (<=106)")
    args = parser.parse_args()
    recordings = plan(args.recordings, args.seconds)
    root = Path(tempfile.mkdtemp(prefix="zp-bench-"))
    cache = Path(__file__).parent / ".work" / "pipeline-media"

    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        from flows.download import download_flow
        from flows.pipeline import full_pipeline_flow
        from flows.process import process_flow
        from flows.upload import upload_flow

        world = fresh_world(root, "seed", cache, recordings)
        seed_busy = seed_order()
        seed_wall = sum(seed_busy.values())
        world.stop()

        world = fresh_world(root, "stages", cache, recordings)
        alone = {
            "download": timed(lambda: download_flow()),
            "process": timed(lambda: process_flow()),
            "upload": timed(lambda: upload_flow(platforms=["youtube", "vk"])),
        }
        world.stop()

        world = fresh_world(root, "streamed", cache, recordings)
        streamed = timed(lambda: full_pipeline_flow(sync=False, platforms=["youtube", "vk"]))
        world.stop()

        world = fresh_world(root, "noop", cache, recordings)
        overhead = engine_overhead(len(recordings))
        world.stop()

    slowest = max(alone, key=lambda stage: alone[stage])
    n = args.recordings
    print(f"{n} recordings of {args.seconds}-{args.seconds + 2 * (n - 1)} s, 640x360")
    print(f"network per connection: Zoom {ZOOM_BPS / MB:g} MB/s, uploads {UPLOAD_BPS / MB:g} MB/s")
    print("seed order, one at a time:", _seconds(seed_busy), f"= {seed_wall:.1f} s")
    print("each stage alone (flows):", _seconds(alone))
    print(f"streamed full pipeline: {streamed:.1f} s")
    print(f"streamed / slowest stage ({slowest}): {streamed / alone[slowest]:.2f}x (target <= 1.3)")
    print(f"seed order / streamed: {seed_wall / streamed:.2f}x (target >= 2)")
    print(f"Prefect + engine overhead: {overhead:.2f} s per recording (3 no-op stages)")


def _seconds(times: dict[str, float]) -> str:
    return ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in times.items())


if __name__ == "__main__":
    main()
