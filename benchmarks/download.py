"""Downloader throughput against the Zoom emulator on loopback, compared with curl, and peak RSS.

    .venv/bin/python benchmarks/download.py [--size-mb 256] [--big-mb 1024] [--runs 7]
        [--big-runs 3] [--out-dir /dev/shm/x]

The emulator runs in its own process (so it never shares a GIL with the client under test).
Each client runs in its own process too, timed around the transfer itself, and its peak RSS is
read from `wait4`. Files live under benchmarks/.work/download/ and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "benchmarks" / ".work" / "download"
CURL = shutil.which("curl")


def _serve(paths: list[str], conn) -> None:
    """Child process: the emulator with one meeting per file, until told to stop."""
    from datetime import UTC, datetime

    from integrations.sandbox.server import LoopbackServer
    from integrations.sandbox.zoom import FileSpec, ZoomEmulator

    zoom = ZoomEmulator()
    account = zoom.add_account("bench")
    user = zoom.add_user(account)
    for n, path in enumerate(paths):
        start = datetime(2026, 9, 1 + n, 10, tzinfo=UTC)
        zoom.add_meeting(
            account,
            user,
            topic=Path(path).name,
            start_time=start,
            files=[FileSpec(path=Path(path))],
        )
    with LoopbackServer(zoom):
        creds = (account.name, account.account_id, account.client_id, account.client_secret)
        conn.send((zoom.api_url, zoom.oauth_url, creds))
        conn.recv()


def _worker(url: str, dest: str, size: int, fsync: bool) -> None:
    """Child process: one `download_file`, prints its timing as JSON."""
    from integrations.download import download_file
    from integrations.http.retry import RetryPolicy

    target = Path(dest)
    start = time.perf_counter()
    result = download_file(
        url,
        target,
        size,
        token=os.environ["BENCH_TOKEN"],
        retry=RetryPolicy(attempts=3),
        min_free_mb=0,
        timeout=60,
        fsync=fsync,
    )
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "size": result.size, "hwm": _hwm_mb("self")}))


def _hwm_mb(pid: int | str) -> float | None:
    """Peak resident set (VmHWM) of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _run(command: list[str], env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run a child; return its stdout and peak RSS in MB, sampled from /proc while it runs
    (`wait4`'s ru_maxrss would include the forking Python's own RSS)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, env=env)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, _hwm_mb(proc.pid) or 0.0)
            time.sleep(0.005)
        if proc.returncode != 0:
            raise SystemExit(f"{command[0]} failed with {proc.returncode}")
        out.seek(0)
        return out.read().decode(), peak


def run_ours(
    url: str, size: int, token: str, out: Path, fsync: bool = False
) -> tuple[float, float]:
    dest = out / "ours.out"
    (out / "ours.out.part").unlink(missing_ok=True)
    env = {**os.environ, "BENCH_TOKEN": token}
    command = [sys.executable, __file__, "--worker", url, str(dest), str(size)]
    stdout, rss = _run([*command, "--fsync"] if fsync else command, env)
    data = json.loads(stdout.strip().splitlines()[-1])
    assert data["size"] == size
    (out / "ours.out.part").unlink(missing_ok=True)
    return size / data["seconds"] / 1e6, max(rss, data["hwm"] or 0.0)


def run_curl(url: str, size: int, token: str, out: Path) -> tuple[float, float]:
    dest = out / "curl.out"
    assert CURL
    command = [CURL, "-sS", "-L", "-o", str(dest), "-w", "%{time_total} %{size_download}"]
    stdout, rss = _run([*command, "-H", f"Authorization: Bearer {token}", url])
    seconds, got = stdout.split()
    assert int(got) == size, (got, size)
    dest.unlink()
    return size / float(seconds) / 1e6, rss


def make_files(size_mb: int, big_mb: int) -> tuple[Path, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    random_file = WORK / f"random-{size_mb}MB.bin"
    with random_file.open("wb") as out:
        block = os.urandom(1 << 20)
        for n in range(size_mb):
            out.write(block[n % 7 :] + block[: n % 7])
    big = WORK / f"sparse-{big_mb}MB.bin"
    with big.open("wb") as out:
        out.truncate(big_mb << 20)
    return random_file, big


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--big-runs", type=int, default=3)
    parser.add_argument("--worker", nargs=3, metavar=("URL", "DEST", "SIZE"))
    parser.add_argument("--fsync", action="store_true")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=WORK,
        help="where the clients write (default benchmarks/.work; /dev/shm takes the disk out)",
    )
    args = parser.parse_args()
    if args.worker:
        url, dest, size = args.worker
        _worker(url, dest, int(size), args.fsync)
        return
    if CURL is None:
        raise SystemExit("curl is not installed: this benchmark compares against curl")

    from integrations.http.retry import RetryPolicy
    from integrations.zoom import ZoomAccount, ZoomClient

    random_file, big = make_files(args.size_mb, args.big_mb)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=([str(random_file), str(big)], child), daemon=True)
    server.start()
    try:
        api_url, oauth_url, creds = parent.recv()
        with ZoomClient(
            ZoomAccount(*creds),
            api_url=api_url,
            oauth_url=oauth_url,
            timeout=30,
            retry=RetryPolicy(attempts=3),
        ) as client:
            files = {i.topic: i.mp4_files[0] for i in client.instances(_d(1), _d(30))}
            token = client.bearer()
        small, large = files[random_file.name], files[big.name]
        print(f"curl: {CURL}; emulator in its own process; {os.cpu_count()} cores; out: {out}")
        results = {}
        for label, f, runs in (
            (f"{args.size_mb} MB random file", small, args.runs),
            (f"{args.big_mb} MB sparse file", large, args.big_runs),
        ):
            print(f"{label}:")
            results[label] = compare(f.download_url, f.file_size, token, out, runs)
        fsynced = [run_ours(small.download_url, small.file_size, token, out, fsync=True)]
        fsynced.append(run_ours(small.download_url, small.file_size, token, out, fsync=True))
    finally:
        parent.send("stop")
        server.join(10)
        shutil.rmtree(WORK, ignore_errors=True)
        for name in ("ours.out.part", "curl.out"):
            (out / name).unlink(missing_ok=True)

    med = statistics.median
    print("\nMedians (MB/s = 10^6 bytes/s; peak RSS = the largest VmHWM seen):")
    for label, (ours, curl) in results.items():
        ours_mbs, curl_mbs = med(t for t, _ in ours), med(t for t, _ in curl)
        print(f"  {label}, {len(ours)} runs each:")
        print(
            f"    curl            {curl_mbs:6.0f} MB/s   peak RSS {max(r for _, r in curl):6.1f} MB"
        )
        print(
            f"    download_file   {ours_mbs:6.0f} MB/s   peak RSS {max(r for _, r in ours):6.1f} MB"
        )
        print(f"    ratio download_file/curl: {ours_mbs / curl_mbs:.2f} (target >= 0.8)")
    synced = med(t for t, _ in fsynced)
    print(f"  download_file with fsync (its default), small file: {synced:.0f} MB/s")


def compare(url: str, size: int, token: str, out: Path, runs: int):
    """A warm-up, then `runs` alternating rounds of curl and download_file."""
    ours: list[tuple[float, float]] = []
    curl: list[tuple[float, float]] = []
    run_ours(url, size, token, out)  # fills the emulator's page cache
    for n in range(runs):
        pair = [
            lambda: curl.append(run_curl(url, size, token, out)),
            lambda: ours.append(run_ours(url, size, token, out)),
        ]
        for run in pair if n % 2 == 0 else pair[::-1]:
            run()
        print(f"  run {n + 1}: curl {curl[-1][0]:5.0f} MB/s, download_file {ours[-1][0]:5.0f} MB/s")
    return ours, curl


def _d(day: int):
    from datetime import date

    return date(2026, 9, day)


if __name__ == "__main__":
    main()
