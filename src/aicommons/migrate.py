"""Schema migrations with Alembic, and the check that keeps a server off an out-of-date schema."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from aicommons.database import MIGRATIONS_DIR, normalise_url

FIX_COMMAND = "aicommons db upgrade"


class SchemaOutOfDate(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation; URLs may contain %-escapes.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Raise ``SchemaOutOfDate`` with the fixing command unless the database is at the newest revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaOutOfDate(f"the database at {where} has no schema yet; run `{FIX_COMMAND}` first")
    raise SchemaOutOfDate(
        f"the database at {where} is at schema revision {current}, this version needs {head}; "
        f"run `{FIX_COMMAND}` first")
