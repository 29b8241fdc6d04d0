"""A year at 10,000 recordings a day: claims, sync and `list` against the size of the history.

Four parts, each printing ratios against a baseline measured in the same run (PostgreSQL, the
production store; one fresh database per store, dropped at the end). The stores are filled
first and then measured in rounds that take each store in turn, so that the load of a shared
machine, which changes by the minute, weighs on every store alike.

- claims: stores of 10,000 / 100,000 (/ 1,000,000 with --million) finished rows, all older than
  1,000 ready ones (the worst case for a claim ordered by start time), plus one with the ready
  rows alone; the time of one `claim(limit=1)` (as the engine claims) and of one
  `ready_count()`, medians; the ratio to the 10,000-row store.
- backlogs: the same stores, the housekeeping reads (`clean --days 30`'s and `free-zoom`'s
  first page, the quota-wait alert's query), medians; the ratio to the 10,000-row store.
- list: the same stores through the real command in its own process (start-up included):
  today's `list` (the 1,000 ready rows), the first page of `list --all` (`--limit 100`), and
  the whole of `list --all` streamed (up to --stream-max rows of history); wall time, the time
  to the first row, and peak RSS (the process's own VmHWM); ratios to the store without history.
- sync: emulated Zoom worlds of 1,000 and 10,000 recordings (20 accounts of 5 hosts, the last
  13 days; the emulator in its own process), each synced twice into a fresh database (first,
  then nothing new; each run 5 s after the last, once Prefect has recorded the one before) by
  the `sync` command's flow of two trees, each in a worker process of its own with its own
  temporary Prefect server, as a command runs it, warmed by a run that lists no day: this
  repository as it was when issue 19 was filed (`FILED_AT`, exported with `git archive`: one
  transaction per recording, every account's recordings passed between Prefect tasks) and
  this tree.

    uv run python benchmarks/scale.py                       # 10k and 100k stores, both worlds
    uv run python benchmarks/scale.py --million             # also the 1,000,000-row store
    uv run python benchmarks/scale.py --only sync --worlds 10000
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# A sync worker (a spawned process, which imports this module anew) runs its `sync` flow as a
# command runs it: against the temporary Prefect server that Prefect starts for a process
# without PREFECT_API_URL, its database in a PREFECT_HOME of the process's own.
os.environ.pop("PREFECT_API_URL", None)
PREFECT_HOME = tempfile.TemporaryDirectory(prefix="scale-prefect-")
os.environ["PREFECT_HOME"] = PREFECT_HOME.name
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

# The commit main was at when issue 19 was filed: the sync every ratio is taken against.
FILED_AT = "22068be"
ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
READY = 1_000
CLAIMS = 200
COUNTS = 50
BACKLOG_READS = 20
ACCOUNTS, HOSTS = 20, 5
MIB = 1024 * 1024

# Finished rows (9 in 10 published to both platforms, the rest skipped or expired), every one
# recorded before the ready rows: the history a claim must not read.
FILL_HISTORY = """
INSERT INTO recordings (account, zoom_uuid, zoom_meeting_id, zoom_user_id, topic, start_time,
    duration_min, total_size, video_files, status, last_good_status, status_reason, attempts,
    source_path, processed_path, trim_start, trim_end, trim_method,
    created_at, updated_at, status_changed_at)
SELECT 'school' || (g % 20) || '@example.edu', 'history-' || g, (80000000000 + g % 5000)::text,
    'u' || (g % 100), 'Course ' || (g % 37) || ', lecture ' || g,
    :newest - (:n - g) * interval '86 seconds', 90, 62914560,
    ('[{"id": "f' || g || '", "size": 62914560, "recording_type": '
     || '"shared_screen_with_speaker_view", "extension": "MP4", "status": "completed", '
     || '"recording_start": null, "download_url": "https://zoom.us/rec/download/' || g
     || '"}]')::json,
    CASE g % 10 WHEN 0 THEN 'SKIPPED' WHEN 1 THEN 'EXPIRED' ELSE 'UPLOADED' END,
    CASE g % 10 WHEN 0 THEN 'INITIALIZED' ELSE 'PROCESSED' END,
    CASE g % 10 WHEN 0 THEN 'duration 12 min is not over the minimum 30 min' END, 0,
    '/srv/video/unprocessed_video/' || g || '.mp4', '/srv/video/processed_video/' || g || '.mp4',
    4.5, 5321.25, 'smart', now(), now(), now()
FROM generate_series(1, :n) AS g
"""
FILL_PUBLICATIONS = """
INSERT INTO publications (recording_id, platform, status, title, remote_id, url, bytes_confirmed,
    total_bytes, thumbnail_done, collection_done, caption_done, attempts, created_at, updated_at)
SELECT r.id, p.platform, 'UPLOADED', r.topic, p.platform || r.id,
    'https://' || p.platform || '.example/' || r.id, 60000000, 60000000, true, true, true, 1,
    now(), now()
FROM recordings AS r CROSS JOIN (VALUES ('youtube'), ('vk')) AS p(platform)
WHERE r.status = 'UPLOADED'
"""
FILL_READY = """
INSERT INTO recordings (account, zoom_uuid, zoom_meeting_id, topic, start_time, duration_min,
    total_size, video_files, status, last_good_status, attempts, created_at, updated_at,
    status_changed_at)
SELECT 'school' || (g % 20) || '@example.edu', 'ready-' || g, (90000000000 + g)::text,
    'Today, lecture ' || g, :newest + g * interval '20 seconds', 90, 62914560, '[]',
    'INITIALIZED', 'INITIALIZED', 0, now(), now(), now()
FROM generate_series(1, :n) AS g
"""


# -- databases --------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(label: str, upgrade: bool = True) -> Iterator[str]:
    """A new PostgreSQL database, at this tree's schema unless `upgrade` is false; dropped on
    the way out."""
    import psycopg
    from sqlalchemy.engine import make_url

    from integrations.store.database import upgrade_to_head

    base = make_url(ADMIN_URL)
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"zp_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        if upgrade:
            upgrade_to_head(url)
        yield url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(url: str, finished: int, ready: int) -> float:
    """`finished` rows of history and `ready` rows of today; returns the seconds it took."""
    from sqlalchemy import create_engine, text

    started = time.perf_counter()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    engine = create_engine(url)
    with engine.begin() as connection:
        if finished:
            connection.execute(text(FILL_HISTORY), {"n": finished, "newest": today})
            connection.execute(text(FILL_PUBLICATIONS))
        connection.execute(text(FILL_READY), {"n": ready, "newest": today})
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def store_megabytes(url: str) -> float:
    """Disk used by the status tables with their indexes (PostgreSQL's own count)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        size = connection.execute(
            text(
                "SELECT pg_total_relation_size('recordings') "
                "+ pg_total_relation_size('publications')"
            )
        ).scalar_one()
    engine.dispose()
    return size / MIB


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# -- claims -----------------------------------------------------------------------------------


def release_claims(url: str) -> None:
    """The claimed rows back to INITIALIZED: the list part sees the store as it was filled."""
    from integrations.store.repository import RecordingStore

    store = RecordingStore.open(url)
    store.reset()
    store.dispose()


# -- list -------------------------------------------------------------------------------------

# Runs the command as `zoom-publisher` would, then reports the process's own peak RSS: VmHWM of
# the interpreter's memory map (wait4's ru_maxrss would count the forking parent's pages).
LAUNCH = """
import atexit, sys
def peak():
    status = open("/proc/self/status").read()
    line = next(l for l in status.splitlines() if l.startswith("VmHWM:"))
    print("PEAK_KB", line.split()[1], file=sys.stderr)
atexit.register(peak)
sys.argv = ["zoom-publisher", *sys.argv[1:]]
from flows.cli import main
main()
"""


def run_list(url: str, *args: str) -> tuple[float, float, float, int]:
    """Seconds to the first table row, seconds in all, peak RSS in MB, and lines printed."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_CONFIG": str(ROOT / "benchmarks" / ".work" / "no-app-config.json"),
        "COLUMNS": "160",
    }
    started = time.perf_counter()
    first_row = None
    lines = 0
    with subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "list", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            lines += 1
            if first_row is None and line.strip()[:1].isdigit():
                first_row = time.perf_counter() - started
        errors = proc.stderr.read()
    total = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"list {' '.join(args)} failed: {errors[-2000:]}")
    peak_kb = next(int(line.split()[1]) for line in errors.splitlines() if line.startswith("PEAK"))
    return first_row or total, total, peak_kb / 1024, lines


# -- sync -------------------------------------------------------------------------------------


def _serve_world(recordings: int, conn) -> None:
    """Child process: a Zoom emulator with `recordings` instances over the last 13 days."""
    from integrations.sandbox.server import LoopbackServer
    from integrations.sandbox.zoom import FileSpec, ZoomEmulator

    zoom = ZoomEmulator()
    accounts = [
        zoom.add_account(f"school{a}@example.edu", f"acct{a:02d}", f"cid{a:02d}", f"secret{a:02d}")
        for a in range(ACCOUNTS)
    ]
    hosts = [(account, zoom.add_user(account)) for account in accounts for _ in range(HOSTS)]
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first -= timedelta(days=12)
    span = datetime.now(UTC) - timedelta(hours=1) - first
    for n in range(recordings):
        account, host = hosts[n % len(hosts)]
        short = n % 10 == 9  # one in ten too short: stored SKIPPED by the filters
        zoom.add_meeting(
            account,
            host,
            topic=f"Course {n % 37}, lecture {n}",
            start_time=first + span * n / recordings,
            duration=12 if short else 90,
            files=[FileSpec(size=60 * MIB), FileSpec("audio_only", size=8 * MIB)],
        )
    with LoopbackServer(zoom):
        creds = [(a.name, a.account_id, a.client_id, a.client_secret) for a in accounts]
        conn.send((zoom.api_url, zoom.oauth_url, creds))
        conn.recv()


@contextlib.contextmanager
def zoom_world(recordings: int) -> Iterator[list[tuple[str, str, str, str]]]:
    """The emulator in its own process (it never shares a GIL with the sync under test); the
    sync workers started inside find it from the environment."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve_world, args=(recordings, child), daemon=True)
    server.start()
    try:
        api_url, oauth_url, creds = parent.recv()
        os.environ.update({"ZOOM_API_URL": api_url, "ZOOM_OAUTH_URL": oauth_url})
        yield creds
    finally:
        parent.send("stop")
        server.join(10)


# Before each timed sync: Prefect's server records a run's task runs and events after the run
# has returned, and a flow run created meanwhile may meet its SQLite write lock, be answered 503
# and be retried by the client 2 s later. A re-sync comes hours after the last, not at once.
SETTLE_SECONDS = 5.0


def sync_days() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=13), today


def _sync_worker(source: str, conn) -> None:
    """Child process: the `sync` command of the tree at `source`, run on request.

    Each worker has a Prefect home of its own (this module, imported anew, made one), so its
    flows run against a temporary server of their own, as a command's do. Requests:
    ("accounts", creds) saves the Zoom accounts as blocks; ("schema", url) brings a new
    database to the tree's schema; ("sync", url, from, to) runs the flow as `sync` runs it
    and answers (wall s, CPU s of this process, outcome).
    """
    sys.path.insert(0, source)  # before this tree, which the environment's install points to
    from config.secrets import save_zoom_account
    from config.settings import get_settings
    from flows.cli.common import run_flow
    from flows.sync import sync_flow
    from integrations.store.database import upgrade_to_head
    from tasks.common import get_store

    while (request := conn.recv()) != "stop":
        match request:
            case ("accounts", accounts):
                for creds in accounts:
                    save_zoom_account(*creds)
                conn.send(None)
            case ("schema", url):
                upgrade_to_head(url)
                conn.send(None)
            case ("sync", url, first_day, last_day):
                os.environ["DATABASE_URL"] = url
                get_settings.cache_clear()
                wall, cpu = time.perf_counter(), time.process_time()
                outcome = run_flow(sync_flow, from_date=first_day, to_date=last_day)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                get_store().dispose()
                conn.send((wall, cpu, outcome))


@contextlib.contextmanager
def sync_worker(source: Path) -> Iterator[Callable[..., Any]]:
    """A worker process for one tree; yields `ask(*request)`, which returns its answer."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    worker = ctx.Process(target=_sync_worker, args=(str(source), child), daemon=True)
    worker.start()

    def ask(*request: object) -> Any:
        parent.send(request)
        if not parent.poll(900):
            raise RuntimeError(f"the {source} worker gave no answer to {request[0]}")
        return parent.recv()

    try:
        yield ask
    finally:
        parent.send("stop")
        worker.join(30)


@contextlib.contextmanager
def tree_as_filed() -> Iterator[Path]:
    """This repository at `FILED_AT`, exported with `git archive` into a temporary folder."""
    exported = subprocess.run(
        ["git", "-C", str(ROOT), "archive", FILED_AT], capture_output=True, check=False
    )
    if exported.returncode != 0:
        sys.exit(
            f"the sync baseline needs commit {FILED_AT} in this clone (a full clone), or run "
            f"with --flow-only: {exported.stderr.decode(errors='replace').strip()}"
        )
    with tempfile.TemporaryDirectory(prefix="scale-filed-") as folder:
        subprocess.run(["tar", "-x", "-C", folder], input=exported.stdout, check=True)
        yield Path(folder)


def measure_sync(
    recordings: int, flow_only: bool, repeats: int
) -> dict[str, list[tuple[float, float, dict[str, int]]]]:
    """Per tree and run (first, unchanged): wall and CPU seconds of the syncing process (the
    emulator's and the Prefect servers' are their own) and the outcome, `repeats` times, each
    into a fresh database, each run `SETTLE_SECONDS` after the last."""
    first_day, last_day = sync_days()
    results: dict[str, list[tuple[float, float, dict[str, int]]]] = {}
    with contextlib.ExitStack() as stack:
        accounts = stack.enter_context(zoom_world(recordings))
        trees = {"sync flow": ROOT}
        if not flow_only:
            trees = {f"as filed ({FILED_AT})": stack.enter_context(tree_as_filed()), **trees}
        workers = {label: stack.enter_context(sync_worker(tree)) for label, tree in trees.items()}
        for ask in workers.values():
            ask("accounts", accounts)
            with fresh_database(f"warm{recordings}", upgrade=False) as url:
                ask("schema", url)  # imports, the temporary server, a run listing no day
                ask("sync", url, date(2000, 1, 1), date(2000, 1, 1))
        for _ in range(repeats):
            for label, ask in workers.items():
                with fresh_database(f"sync{recordings}", upgrade=False) as url:
                    ask("schema", url)
                    for run in ("first", "unchanged"):
                        time.sleep(SETTLE_SECONDS)
                        measured = ask("sync", url, first_day, last_day)
                        results.setdefault(f"{label}, {run}", []).append(measured)
    return results


# -- report -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("claims", "backlogs", "list", "sync"), action="append")
    parser.add_argument("--million", action="store_true", help="also the 1,000,000-row store")
    parser.add_argument(
        "--sizes", default="10000,100000", help="finished rows per store (default 10000,100000)"
    )
    parser.add_argument("--worlds", default="1000,10000", help="Zoom recordings per world")
    parser.add_argument(
        "--flow-only",
        action="store_true",
        help="sync: this tree's `sync` flow only (not the one as filed)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="sync: runs of each tree")
    parser.add_argument(
        "--stream-max",
        type=int,
        default=10_000,
        help="stream the whole of `list --all` for stores up to this many finished rows (the "
        "table prints about 1,000-2,000 rows a second)",
    )
    args = parser.parse_args()
    parts = set(args.only or ("claims", "backlogs", "list", "sync"))
    sizes = [0, *(int(n) for n in args.sizes.split(","))] + ([1_000_000] if args.million else [])
    print(f"PostgreSQL at {ADMIN_URL.split('@')[-1]}; {os.cpu_count()} cores")

    if parts & {"claims", "backlogs", "list"}:
        stores(sizes, parts, args.stream_max)
    if "sync" in parts:
        worlds([int(n) for n in args.worlds.split(",")], args.flow_only, args.repeats)


def stores(sizes: list[int], parts: set[str], stream_max: int) -> None:
    """Every store is filled first, then measured in rounds that take each store in turn, so
    that a shared machine's load, which changes by the minute, weighs on every store alike."""
    with contextlib.ExitStack() as stack:
        urls = {}
        for size in sizes:
            urls[size] = url = stack.enter_context(fresh_database(f"store{size}"))
            seconds = fill(url, size, READY)
            print(
                f"store: {size:,} finished rows + {READY:,} ready, filled in {seconds:.1f} s, "
                f"{store_megabytes(url):,.0f} MB on disk with indexes"
            )
        if "claims" in parts:
            report_claims(urls)
        if "backlogs" in parts:
            report_backlogs(urls)
        if "list" in parts:
            report_list(urls, stream_max)


def report_claims(urls: dict[int, str]) -> None:
    """One claim of one row (as the engine claims) on each store in turn, `CLAIMS` times, and
    likewise `ready_count`, on warm connections."""
    from integrations.store.repository import RecordingStore

    stores = {size: RecordingStore.open(url) for size, url in urls.items()}
    claims: dict[int, list[float]] = {size: [] for size in urls}
    counts: dict[int, list[float]] = {size: [] for size in urls}
    try:
        for store in stores.values():
            for _ in range(3):  # the connection pool and the caches warmed
                store.ready_count("download")
        for n in range(CLAIMS):
            for size, store in stores.items():
                claims[size].append(
                    timed(lambda s=store: s.claim("download", "bench", lease_seconds=3600, limit=1))
                )
                if n < COUNTS:
                    counts[size].append(timed(lambda s=store: s.ready_count("download")))
    finally:
        for store in stores.values():
            store.dispose()
    for url in urls.values():
        release_claims(url)
    base = 10_000 if 10_000 in urls else min(urls)
    print(f"\nClaims (medians of {CLAIMS} claims of one row and of {COUNTS} ready counts):")
    print(f"  finished rows   claim ms  x {base:,} rows   ready_count ms  x {base:,} rows")
    for size in urls:
        claim, count = median_ms(claims[size]), median_ms(counts[size])
        claim_ratio = claim / median_ms(claims[base])
        count_ratio = count / median_ms(counts[base])
        print(
            f"  {size:>13,}   {claim:8.2f}  {claim_ratio:12.2f}x"
            f"   {count:14.2f}  {count_ratio:12.2f}x"
        )
    print("  target: a claim with 1,000,000 finished rows within 1.5x of one with 10,000")


def report_backlogs(urls: dict[int, str]) -> None:
    """The housekeeping reads on each store in turn, `BACKLOG_READS` times: the first page of
    `clean --days 30`'s and of `free-zoom`'s backlogs (500 rows, or what there is), and the
    quota-wait alert's count and oldest waits. The histories were never cleaned nor freed, so
    at 100,000 rows and more each first page is full: its cost is a page's, whatever is due."""
    from integrations.store.backlogs import expirable_pages, quota_waits, zoom_due_pages
    from integrations.store.repository import RecordingStore

    cutoff = datetime.now(UTC) - timedelta(days=30)
    reads: dict[str, Callable[[RecordingStore], object]] = {
        "clean's first page": lambda s: next(expirable_pages(s, cutoff), []),
        "free-zoom's first page": lambda s: next(zoom_due_pages(s), []),
        "quota waits": lambda s: quota_waits(s, datetime.now(UTC) - timedelta(days=1)),
    }
    stores = {size: RecordingStore.open(url) for size, url in urls.items()}
    times: dict[tuple[str, int], list[float]] = {}
    try:
        for n in range(BACKLOG_READS + 1):
            for name, read in reads.items():
                for size, store in stores.items():
                    took = timed(lambda r=read, s=store: r(s))
                    if n:  # the first round warms the connections and caches
                        times.setdefault((name, size), []).append(took)
        rows = {size: len(next(expirable_pages(s, cutoff), [])) for size, s in stores.items()}
    finally:
        for store in stores.values():
            store.dispose()
    base = 10_000 if 10_000 in urls else min(urls)
    print(f"\nHousekeeping reads (medians of {BACKLOG_READS}; x the {base:,}-row store):")
    for name in reads:
        cells = "   ".join(
            f"{size:,}: {median_ms(times[name, size]):7.2f} ms "
            f"{median_ms(times[name, size]) / median_ms(times[name, base]):5.2f}x"
            for size in urls
        )
        print(f"  {name:<24} {cells}")
    print(f"  rows in clean's first page: {rows}")


def report_list(urls: dict[int, str], stream_max: int) -> None:
    commands = {"today": (), "all, first page": ("--all", "--limit", "100")}
    samples: dict[tuple[int, str], list[tuple[float, float, float, int]]] = {}
    for _ in range(3):
        for size, url in urls.items():
            for label, args in commands.items():
                samples.setdefault((size, label), []).append(run_list(url, *args))
    streamed = {size: run_list(url, "--all") for size, url in urls.items() if size <= stream_max}
    base = min(urls)
    print("\nlist, in its own process, start-up included (medians of 3; peak: the largest):")
    print(f"  finished rows   command             first row s   total s  x {base:,} rows   peak MB")
    for size in urls:
        for label in commands:
            runs = samples[(size, label)]
            first = statistics.median(r[0] for r in runs)
            total = statistics.median(r[1] for r in runs)
            ratio = total / statistics.median(r[1] for r in samples[(base, label)])
            peak = max(r[2] for r in runs)
            print(
                f"  {size:>13,}   {label:<18}  {first:11.2f}  {total:8.2f}  {ratio:9.2f}x"
                f"  {peak:8.1f}"
            )
        if size in streamed:
            first, total, peak, lines = streamed[size]
            label = f"all ({lines:,} lines)"
            print(f"  {size:>13,}   {label:<18}  {first:11.2f}  {total:8.2f}  {'':10}  {peak:8.1f}")
    print("  target: today's and the first page of --all within 1.5x of the store without")
    print("  history at 1,000,000 rows; peak memory flat")


def worlds(sizes: list[int], flow_only: bool, repeats: int) -> None:
    results = {size: measure_sync(size, flow_only, repeats) for size in sizes}
    print("\nSync (wall and the syncing process's CPU seconds; the emulator and each worker's")
    print("Prefect server in processes of their own):")
    for size, runs in results.items():
        print(f"  world of {size:,} recordings:")
        for label, measured in runs.items():
            for wall, cpu, outcome in measured:
                per_recording = 1000 * wall / size
                print(
                    f"    {label:<30} {wall:7.2f} s  {per_recording:7.3f} ms/rec  "
                    f"cpu {cpu:6.2f} s  {outcome}"
                )
        if flow_only:
            continue
        for run in ("first", "unchanged"):
            old = statistics.median(m[0] for m in runs[f"as filed ({FILED_AT}), {run}"])
            new = statistics.median(m[0] for m in runs[f"sync flow, {run}"])
            print(f"    {run}: sync flow {old / new:.1f}x faster than as filed (medians)")
    print("  targets (10,000): first sync >= 10x faster than today's, a re-sync >= 20x")


if __name__ == "__main__":
    main()
