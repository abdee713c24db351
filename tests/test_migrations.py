"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from aicommons.app import create_app
from aicommons.database import Base, create_db_engine
from aicommons.migrate import SchemaOutOfDate, check_schema, head_revision, upgrade
from aicommons.models_registry import import_all_models


@pytest.fixture
def database_url(any_db_url):
    return any_db_url


def test_migrations_match_the_models(database_url):
    import_all_models()
    engine = create_db_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_the_server_refuses_an_out_of_date_schema(database_url, settings):
    engine = create_db_engine(database_url)
    with pytest.raises(SchemaOutOfDate, match="aicommons db upgrade"):
        check_schema(engine)
    with pytest.raises(SchemaOutOfDate, match="aicommons db upgrade"):
        create_app(settings)
    upgrade(engine)
    check_schema(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(SchemaOutOfDate, match=f"needs {head_revision()}"):
        check_schema(engine)
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url):
    engine = create_db_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
