"""The status store's connection kept in a Prefect block (prefect-sqlalchemy's
`SqlAlchemyConnector`), so that a PostgreSQL password lives where the other secrets do.

`DATABASE_BLOCK=<name>` names the block; `DATABASE_URL` still wins when both are set. Give the
block its connection as components (the password is then a secret field, masked in the UI):

    SqlAlchemyConnector(connection_info=ConnectionComponents(
        driver="postgresql+psycopg", host="db", port=5432, database="zoom",
        username="zoom", password="...")).save("zoom-publisher-store")
"""

from __future__ import annotations

from functools import lru_cache

from config.errors import ConfigError


@lru_cache(maxsize=8)
def database_url_from_block(name: str) -> str:
    """The SQLAlchemy URL (password included: never print it) the named block holds."""
    from prefect_sqlalchemy import ConnectionComponents, SqlAlchemyConnector
    from sqlalchemy.engine import make_url

    try:
        block = SqlAlchemyConnector.load(name)
    except ValueError as exc:  # Prefect: "Unable to find block document named ..."
        problem = f"{exc}: create that SqlAlchemyConnector block, or set DATABASE_URL instead"
        raise ConfigError(f"DATABASE_BLOCK={name}", [problem]) from None
    info = block.connection_info
    url = info.create_url() if isinstance(info, ConnectionComponents) else make_url(info)
    return url.render_as_string(hide_password=False)
