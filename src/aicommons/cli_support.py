"""What every command needs: the configured database, one unit of work, and readable output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from aicommons.config import Settings, get_settings
from aicommons.database import create_db_engine, make_session_factory, unit_of_work
from aicommons.errors import DomainError
from aicommons.migrate import SchemaOutOfDate, check_schema

console = Console()
err_console = Console(stderr=True)


@lru_cache
def session_factory_for(url: str) -> sessionmaker[Session]:
    return make_session_factory(create_db_engine(url))


def settings() -> Settings:
    return get_settings()


@contextmanager
def work(*, check: bool = True) -> Iterator[Session]:
    """One unit of work for a command; domain errors become a message and exit code 1."""
    cfg = settings()
    factory = session_factory_for(cfg.effective_database_url)
    try:
        if check:
            check_schema(factory.kw["bind"])
        with unit_of_work(factory) as session:
            yield session
    except SchemaOutOfDate as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except DomainError as exc:
        err_console.print(f"[red]error ({exc.status}):[/red] {exc.detail}")
        raise typer.Exit(1) from exc


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


def emit(rows: list[dict], *, as_json: bool, title: str | None = None) -> None:
    """Print rows as a table for people, or as JSON for scripts."""
    if as_json:
        json.dump([{k: _plain(v) for k, v in row.items()} for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if not rows:
        console.print("[dim](none)[/dim]")
        return
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*["" if v is None else str(_plain(v)) for v in row.values()])
    console.print(table)
