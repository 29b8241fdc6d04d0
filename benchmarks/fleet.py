"""The same recordings through one worker and through two, each with its own disk.

A worker here is a process running the full-pipeline flow as a worker's flow run does, with its
own MEDIA_DIR (its own storage): it downloads what nobody has taken yet, and cuts and publishes
only what it downloaded. Both runs share one status store and one Prefect server. The emulators
pace every connection (Zoom downloads, YouTube and VK uploads), as each machine's network would,
so that a second machine adds network the way a second worker adds connections here.

Each run gets a fresh world, store and media folders after an untimed sync; the workers start,
import everything, then wait at a barrier, so that the time measured (from the barrier to the
last worker's end) is the work, not Python's start-up.

    uv run python benchmarks/fleet.py [--recordings 8] [--seconds 100] [--upload-rate 0.15]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline import MB, fresh_world, plan

ROOT = Path(__file__).resolve().parents[1]
WORKER = "--worker"


def worker(go: Path, ready: Path, report: Path) -> None:
    """One worker: import, say ready, wait for the barrier, run the pipeline, report times."""
    from flows.pipeline import full_pipeline_flow

    ready.touch()
    while not go.exists():
        time.sleep(0.01)
    started = time.time()
    state = full_pipeline_flow(sync=False, platforms=["youtube", "vk"], return_state=True)
    ended = time.time()
    report.write_text(json.dumps({"start": started, "end": ended, "ok": state.is_completed()}))


def run_fleet(root: Path, name: str, workers: int) -> float:
    """Seconds from the barrier until the last of `workers` workers ended."""
    from prefect.settings import PREFECT_API_URL

    folder = root / name
    go = folder / "go"
    started: list[tuple[subprocess.Popen[bytes], Path, Path, Path]] = []
    for n in range(workers):
        env = {
            **os.environ,
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "MEDIA_DIR": str(folder / f"machine-{n}"),
        }
        ready, report, log = (folder / f"{kind}-{n}" for kind in ("ready", "report", "log"))
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, __file__, WORKER, str(go), str(ready), str(report)],
                env=env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append((process, ready, report, log))
    while not all(ready.exists() for _, ready, _, _ in started):
        if any(process.poll() is not None for process, *_ in started):
            raise SystemExit(f"a worker ended before it was ready: see {folder}/log-*")
        time.sleep(0.05)
    go.touch()
    barrier = time.time()
    ends = []
    for process, _, report, log in started:
        result = json.loads(report.read_text()) if process.wait() == 0 else {"ok": False}
        if not result["ok"]:
            raise SystemExit(f"a worker's pipeline did not complete: see {log}")
        ends.append(result["end"])
    return max(ends) - barrier


def published(world) -> int:
    return len(world.youtube.videos) + sum(1 for v in world.vk.videos.values() if v.get("size"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=100, help="length of each lecture (<=106)")
    parser.add_argument("--download-rate", type=float, default=0.5, help="MB/s per connection")
    parser.add_argument("--upload-rate", type=float, default=0.15, help="MB/s per connection")
    args = parser.parse_args()
    recordings = plan(args.recordings, args.seconds)
    root = Path(tempfile.mkdtemp(prefix="zp-fleet-"))
    cache = Path(__file__).parent / ".work" / "pipeline-media"

    from prefect.testing.utilities import prefect_test_harness

    times: dict[int, float] = {}
    with prefect_test_harness(server_startup_timeout=120):
        for workers in (1, 2):
            world = fresh_world(root, f"workers-{workers}", cache, recordings)
            world.zoom.bandwidth = args.download_rate * MB
            world.youtube.bandwidth = world.vk.bandwidth = args.upload_rate * MB
            times[workers] = run_fleet(root, f"workers-{workers}", workers)
            done = published(world)
            world.stop()
            if done != 2 * len(recordings):
                raise SystemExit(f"{workers} worker(s) published {done} of {2 * len(recordings)}")

    n = args.recordings
    print(f"{n} recordings of {args.seconds}-{args.seconds + 2 * (n - 1)} s, 640x360")
    print(
        f"network per connection: Zoom {args.download_rate:g} MB/s, "
        f"uploads {args.upload_rate:g} MB/s"
    )
    print(f"one worker: {times[1]:.1f} s")
    print(f"two workers, each with its own MEDIA_DIR: {times[2]:.1f} s")
    print(f"two / one: {times[2] / times[1]:.2f}x (target <= 0.6)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == WORKER:
        worker(*(Path(arg) for arg in sys.argv[2:]))
    else:
        main()
