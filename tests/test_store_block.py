"""The status store's connection from a prefect-sqlalchemy block (DATABASE_BLOCK)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from factories import add_recording
from prefect_sqlalchemy import ConnectionComponents, SqlAlchemyConnector
from sqlalchemy.engine import make_url

from config.store_block import database_url_from_block
from flows.cli import main
from integrations.store.repository import RecordingStore

PASSWORD = "block-kept-password-4821"  # trust auth here: the server ignores it


@pytest.fixture
def store_block(prefect_harness: None, postgres_database: str, monkeypatch: pytest.MonkeyPatch):
    target = make_url(postgres_database)
    components = ConnectionComponents(
        driver="postgresql+psycopg",
        host=target.host,
        port=target.port,
        database=target.database,
        username=target.username,
        password=PASSWORD,
    )
    SqlAlchemyConnector(connection_info=components).save("zp-store", overwrite=True)
    database_url_from_block.cache_clear()
    monkeypatch.setenv("DATABASE_BLOCK", "zp-store")
    yield postgres_database
    database_url_from_block.cache_clear()


def test_the_store_opens_from_the_block_and_no_command_shows_its_password(store_block):
    store = RecordingStore(store_block)
    add_recording(store, topic="found through the block")
    store.dispose()

    init = CliRunner().invoke(main, ["init-db"], catch_exceptions=False)
    listed = CliRunner().invoke(main, ["list", "--all"], catch_exceptions=False)

    assert init.exit_code == 0 and "up to date" in init.output, init.output
    assert make_url(store_block).database in init.output
    assert listed.exit_code == 0 and "found through the block" in listed.output
    assert PASSWORD not in init.output + listed.output


def test_a_block_that_does_not_exist_is_one_line(prefect_harness, monkeypatch):
    monkeypatch.setenv("DATABASE_BLOCK", "no-such-store")
    database_url_from_block.cache_clear()

    result = CliRunner().invoke(main, ["init-db"])

    assert result.exit_code == 2, result.output
    assert "no-such-store" in result.output and "DATABASE_URL" in result.output
    assert "Traceback" not in result.output
