"""`aicommons`: the facility's command line. Each domain mounts its own commands here."""

from __future__ import annotations

from typing import Annotated

import typer

from aicommons import __version__
from aicommons.access.cli import access_app
from aicommons.cli_support import console, err_console, settings
from aicommons.database import create_db_engine
from aicommons.demo.cli import demo_app
from aicommons.governance.cli import governance_app
from aicommons.identity.cli import admin_app, token_app
from aicommons.ledger.cli import ledger_app
from aicommons.migrate import SchemaOutOfDate, check_schema, current_revision, head_revision, upgrade

app = typer.Typer(
    help="AI Commons: run and administer an open, publicly governed AI compute facility.\n\n"
         "Settings come from AICOMMONS_* environment variables (AICOMMONS_DATA_DIR, AICOMMONS_DATABASE_URL, "
         "AICOMMONS_HOST, AICOMMONS_PORT).",
    no_args_is_help=True, pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="The database schema: upgrade it, or see where it stands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(token_app, name="token")
app.add_typer(demo_app, name="demo")
app.add_typer(ledger_app, name="ledger")
app.add_typer(governance_app, name="governance")
app.add_typer(access_app, name="access")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the configured database to the newest schema (creating it if needed)."""
    cfg = settings()
    engine = create_db_engine(cfg.effective_database_url)
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    engine.dispose()
    if before == after:
        console.print(f"{where} is already at revision {after}.")
    else:
        console.print(f"{where} upgraded from {before or 'empty'} to {after}.")


@db_app.command("status")
def db_status() -> None:
    """Show the database's schema revision and whether it is current."""
    engine = create_db_engine(settings().effective_database_url)
    try:
        check_schema(engine)
        console.print(f"Schema is current (revision {current_revision(engine)}).")
    except SchemaOutOfDate as exc:
        err_console.print(str(exc))
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    console.print(f"Newest revision this version knows: {head_revision()}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default AICOMMONS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default AICOMMONS_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Start the portal and API server. Refuses to start on an out-of-date schema."""
    import uvicorn

    cfg = settings()
    engine = create_db_engine(cfg.effective_database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    host = host or cfg.host
    port = port or cfg.port
    console.print(f"AI Commons {__version__} serving at [bold]http://{host}:{port}[/bold] "
                  f"(database: {engine.url.render_as_string(hide_password=True)})")
    uvicorn.run("aicommons.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=cfg.log_level, proxy_headers=False, server_header=False)


def main() -> None:
    app()
