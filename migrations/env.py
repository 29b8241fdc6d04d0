"""Alembic environment: runs on the connection `upgrade_to_head` hands over, or on DATABASE_URL."""

from __future__ import annotations

from alembic import context

from integrations.store.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj, autogen_context):
    """Write the store's UTC datetime type as the plain column type it stands on."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    from config.settings import get_settings
    from integrations.store.database import create_store_engine

    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    engine = create_store_engine(url)
    with engine.connect() as connection:
        run_migrations(connection)
        connection.commit()
    engine.dispose()


main()
