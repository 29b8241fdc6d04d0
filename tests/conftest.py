"""Shared fixtures: isolated settings, the status store on SQLite and PostgreSQL, Prefect."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_factory import share_cache
from prefect_servers import loopback_api_ca_bundle, prefect_database_template
from session_files import exclusive, shared_folder
from sqlalchemy.engine import make_url

from config.settings import get_settings
from integrations.media.ffmpeg import bundled_ffmpeg, selected_ffmpeg
from integrations.store.models import Base
from integrations.store.repository import RecordingStore

os.environ.setdefault("COLUMNS", "200")  # Rich tables in CliRunner output: no wrapping
# Before Prefect is imported (a test module does it), for this process and all it starts.
os.environ.setdefault("PREFECT_API_SSL_CERT_FILE", str(loopback_api_ca_bundle()))
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
POSTGRES_REQUIRED = os.environ.get("REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"
SYSTEM_FFMPEG_REQUIRED = (
    os.environ.get("REQUIRE_SYSTEM_FFMPEG") == "1" or os.environ.get("CI") == "true"
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the cores, since a quarter of the suite's time is spent
    waiting (Prefect servers starting, paced emulators), which a further worker fills."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests (a real Prefect server and workers, mostly waiting) first: under
    pytest-xdist they then overlap the rest instead of running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data and media folders and no `.env` from the working tree."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "video"))
    monkeypatch.setenv("APP_CONFIG", str(tmp_path / "app_config.json"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    selected_ffmpeg.cache_clear()
    yield
    get_settings.cache_clear()
    selected_ffmpeg.cache_clear()


@pytest.fixture(params=["system", "bundled"])
def ffmpeg_build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the distribution's FFmpeg on PATH, then with the bundled build.

    "system" leaves `FFMPEG_BINARY` unset, so the PATH lookup itself is what picks it.
    """
    if request.param == "bundled":
        monkeypatch.setenv("FFMPEG_BINARY", bundled_ffmpeg())
    else:
        monkeypatch.delenv("FFMPEG_BINARY", raising=False)
        on_path = shutil.which("ffmpeg")
        if on_path is None or os.path.realpath(on_path) == os.path.realpath(bundled_ffmpeg()):
            message = "no distribution FFmpeg on PATH (apt install ffmpeg)"
            if SYSTEM_FFMPEG_REQUIRED:
                pytest.fail(message + " (required here: REQUIRE_SYSTEM_FFMPEG=1 or CI=true)")
            pytest.skip(message)
    get_settings.cache_clear()
    selected_ffmpeg.cache_clear()
    chosen = selected_ffmpeg()
    if request.param == "system":
        assert chosen.path == on_path, f"PATH's FFmpeg was not chosen: {chosen.describe()}"
    return chosen.version


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped at the end)."""
    import psycopg

    base = make_url(POSTGRES_URL)
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"zp_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {base.render_as_string()} is not reachable: {exc}"
        if POSTGRES_REQUIRED:
            pytest.fail(message + " (required here: REQUIRE_POSTGRES=1 or CI=true)")
        pytest.skip(message)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    RecordingStore(url).upgrade()
    yield url
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_tables(store: RecordingStore) -> None:
    """Every table of the models emptied, children first."""
    with store.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def empty_postgres(postgres_database: str) -> str:
    """The session's PostgreSQL database with every table emptied, for tests whose other
    processes (workers, flow runs, `serve`) open the store by its URL."""
    store = RecordingStore(postgres_database)
    _empty_tables(store)
    store.dispose()
    return postgres_database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite store migrated once per worker, for tests to copy (a migration run
    costs about 60 ms of CPU; a copy a millisecond)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "store.db"
    store = RecordingStore(f"sqlite:///{path}")
    store.upgrade()
    store.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, current status store: embedded SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    store = RecordingStore(url)
    _empty_tables(store)
    store.dispose()
    return url


@pytest.fixture
def store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingStore]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    opened = RecordingStore.open(database_url)
    yield opened
    opened.dispose()


@pytest.fixture(scope="session", autouse=True)
def media_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`cached_media` keeps its files where every worker of the session finds them."""
    share_cache(shared_folder(tmp_path_factory) / "media-cache")


@pytest.fixture(scope="session")
def demo_media_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo world's generated lectures, made once for every test that starts a world: the
    first worker to get the lock makes the default plan's lectures; the others find them made.
    """
    from integrations.sandbox.demo import default_plan, generate_lectures

    shared = shared_folder(tmp_path_factory)
    folder = shared / "demo-media"
    folder.mkdir(exist_ok=True)
    with exclusive(shared / "demo-media.lock"):
        generate_lectures([r.media for r in default_plan()], folder)
    return folder


@pytest.fixture(scope="session")
def prefect_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Prefect database with nothing left to migrate, to copy where a server starts."""
    return prefect_database_template(shared_folder(tmp_path_factory))


@pytest.fixture(scope="session")
def prefect_harness(prefect_database: Path) -> Iterator[None]:
    """One temporary Prefect server for every test of this worker that needs the API, started
    on a copy of the session's migrated database."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing import utilities

    def seeded_folder() -> str:  # where the harness puts its database, prefect-test.db
        folder = tempfile.mkdtemp(prefix="prefect-harness-")
        shutil.copyfile(prefect_database, Path(folder) / "prefect-test.db")
        return folder

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utilities, "mkdtemp", seeded_folder)
        with (
            utilities.prefect_test_harness(server_startup_timeout=120),
            # Prefect's flow-run heartbeats (flows/heartbeats.py) would cost each flow run here
            # a second of waiting for the thread that sends them; no test reads them.
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        ):
            yield
