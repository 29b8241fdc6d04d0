"""Engines, sessions and schema upgrades for the status store (PostgreSQL or embedded SQLite)."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, column, create_engine, event, inspect, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from integrations.disk import DiskWriteError, describe, folder_fault
from integrations.store.errors import StoreUnavailableError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def redact_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def driver_message(exc: SQLAlchemyError) -> str:
    """The first line of what the database driver said: no SQL, no parameters."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def create_store_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its folder, WAL and serialised write transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # One writer at a time: a claim reads and updates under the same lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


class StoreConnection:
    """One store URL's engine and its transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        self._sessions = session_factory(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self):
        """A transaction: commits on success, rolls back on error."""
        return transaction(self._sessions)

    def dispose(self) -> None:
        self.engine.dispose()


def upsert(dialect: str, model: type[DeclarativeBase]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `model`'s table that can say what a conflict on a unique key does
    (`on_conflict_do_nothing` / `on_conflict_do_update`): PostgreSQL's and SQLite's (3.24+)
    clause, one statement where an update-then-insert loop would need two and a retry."""
    if dialect == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def _alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# The newest migration under migrations/versions; tests/test_store.py checks it against Alembic's
# own reading of the scripts. Comparing with a constant, and reading the version table with one
# query, spares every command and flow run that opens the store the import of Alembic (~65 ms).
SCHEMA_HEAD = "0008"
VERSION_TABLE = table("alembic_version", column("version_num"))  # Alembic's default


# What SQLite says when its file's disk refuses: the folder is then asked why.
_SQLITE_DISK_WORDS = (
    "unable to open database file",
    "attempt to write a readonly database",
    "database or disk is full",
    "disk i/o error",
)


def sqlite_disk_fault(exc: BaseException, url: str | None = None) -> DiskWriteError | None:
    """A SQLite store whose file's disk refused (read-only, full, no permission, failing), as
    one line naming the file and the cause; None for anything else."""
    if not isinstance(exc, SQLAlchemyError) or not any(
        words in driver_message(exc).lower() for words in _SQLITE_DISK_WORDS
    ):
        return None
    if url is None:
        from config.settings import get_settings

        url = get_settings().resolved_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = Path(parsed.database)
    said = driver_message(exc).lower()
    code: int | None
    if "full" in said:
        code = errno.ENOSPC
    elif "i/o" in said:
        code = errno.EIO
    else:
        code = folder_fault(path.parent)
    if code is None:
        return None
    message = describe(path, code, verb="write the status store")
    return DiskWriteError(f"{message} (DATA_DIR, or DATABASE_URL)", path=path, errno=code)


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None: no schema yet)."""
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(VERSION_TABLE.name):
                return None
            return connection.execute(select(VERSION_TABLE.c.version_num)).scalar()
    except OperationalError as exc:
        if (fault := sqlite_disk_fault(exc, str(engine.url))) is not None:
            raise fault from None
        raise StoreUnavailableError(
            f"cannot open the status store {redact_url(str(engine.url))}: "
            f"{driver_message(exc)}; check DATABASE_URL and that the server runs"
        ) from None


def check_schema(engine: Engine) -> None:
    """Raise `StoreUnavailableError` unless the schema is at the newest revision."""
    if schema_revision(engine) != SCHEMA_HEAD:
        raise StoreUnavailableError(
            f"the status store {redact_url(str(engine.url))} has no schema or an older one: "
            "run `zoom-publisher init-db`"
        )


def upgrade_to_head(url: str) -> tuple[str | None, str]:
    """Create or upgrade the schema with Alembic; returns (revision before, revision after)."""
    from alembic import command

    config = _alembic_config(url)
    engine = create_store_engine(url)
    try:
        before = schema_revision(engine)
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()
    return before, SCHEMA_HEAD
