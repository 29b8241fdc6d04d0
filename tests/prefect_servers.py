"""Real Prefect servers for the tests, and the one Prefect database they all start from.

A Prefect server on an empty database spends about 6 s of CPU on its migrations and on
registering its block types; the suite starts about ten. `prefect_database_template` runs a
server once per session (shared by the xdist workers) and keeps its database; `seed_prefect_home`
copies it to where the next server looks (`$PREFECT_HOME/prefect.db`), which then starts with
nothing to migrate, as a user's second run does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from session_files import exclusive

PREFECT = [sys.executable, "-m", "prefect"]
STARTUP_TIMEOUT = 120.0


def loopback_api_ca_bundle() -> Path:
    """A CA bundle of one certificate (certifi's first), for `PREFECT_API_SSL_CERT_FILE`.

    Every Prefect API client loads that bundle when it is made, certifi's whole one by default
    (30-50 ms of CPU), and Prefect makes one per block load or save and per run: about 1,300 in
    a run of the suite. Every Prefect API here is plain HTTP on loopback, so no client ever
    verifies a certificate with it. Written beside the other processes' copy, same bytes."""
    import certifi

    pem = Path(certifi.where()).read_text(encoding="ascii")
    end = "-----END CERTIFICATE-----"
    first = pem[pem.index("-----BEGIN CERTIFICATE-----") : pem.index(end) + len(end)] + "\n"
    path = Path(tempfile.gettempdir()) / "zoom-publisher-tests-ca.pem"
    if not path.exists() or path.read_text(encoding="ascii") != first:
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(first, encoding="ascii")
        partial.replace(path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def without_prefect_settings() -> dict[str, str]:
    """This process's environment without its Prefect settings, but for the suite's CA bundle
    (`loopback_api_ca_bundle`), which every process a test starts keeps."""
    kept = {"PREFECT_API_SSL_CERT_FILE"}
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") or k in kept}


def server_environment(home: Path, port: int) -> dict[str, str]:
    """This process's environment without its Prefect settings, pointed at a server on `port`
    whose home (and database) is `home`."""
    return without_prefect_settings() | {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }


def wait_until_up(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Poll `url` until it answers 200; fails if `process` ends or `timeout` passes first.
    One client for every poll: each new httpx client loads the CA bundle (30-50 ms of CPU)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as http:
        while True:
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert process.poll() is None, f"{url}: the process ended before it answered"
            assert time.monotonic() < deadline, f"{url}: no answer within {timeout:g} s"
            time.sleep(0.2)


@contextmanager
def running_server(home: Path) -> Iterator[dict[str, str]]:
    """A real `prefect server start` on a free port with its home at `home`; yields the
    environment that reaches it."""
    port = free_port()
    env = server_environment(home, port)
    server = subprocess.Popen(
        [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_up(f"{env['PREFECT_API_URL']}/health", server, STARTUP_TIMEOUT)
        yield env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def prefect_database_template(shared: Path) -> Path:
    """The database of a Prefect server that has started once, made on the first call of the
    session (any worker's) in `shared`."""
    template = shared / "prefect-template" / "prefect.db"
    with exclusive(shared / "prefect-template.lock"):
        if not template.exists():
            home = shared / "prefect-template-home"
            shutil.rmtree(home, ignore_errors=True)
            with running_server(home):
                pass
            with sqlite3.connect(home / "prefect.db") as database:
                database.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file
            template.parent.mkdir(exist_ok=True)
            shutil.copyfile(home / "prefect.db", template.with_suffix(".partial"))
            template.with_suffix(".partial").rename(template)
            shutil.rmtree(home)
    return template


def seed_prefect_home(template: Path, home: Path) -> Path:
    """`home` with a copy of the template as its database; returns `home`."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, home / "prefect.db")
    return home
