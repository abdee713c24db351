"""`aicommons demo`: the demo facility and the story that walks through it."""

from __future__ import annotations

from typing import Annotated

import typer

from aicommons.cli_support import console, emit, settings, work
from aicommons.demo import data
from aicommons.demo.seed import demo_password, is_demo, seed

demo_app = typer.Typer(help="The demo facility: seed it, print its logins, run its story.",
                       invoke_without_command=True)


@demo_app.callback()
def story(ctx: typer.Context) -> None:
    """Run the whole demo story on top of the seed (at this stage: the seed itself)."""
    if ctx.invoked_subcommand is not None:
        return
    console.rule("AI Commons demo")
    console.print("1. The facility: member states, institutions and people in every role.")
    seed_command(quiet=False)
    console.print("   The council: a contribution scale adopted by two-thirds of all members, a budget that failed "
                  "its two-thirds threshold, an open-release policy passed, and a motion open for voting now.")
    console.print("2. The public record: every admission, registration, public office, motion, ballot and tally "
                  "goes into the ledger.")
    _ledger_step()
    logins_command(as_json=False)


def _ledger_step() -> None:
    from aicommons.cli_support import session_factory_for
    from aicommons.ledger import sequencer

    cfg = settings()
    signer = sequencer.signer_for(cfg)
    result = sequencer.integrate_pending(session_factory_for(cfg.effective_database_url), cfg, signer)
    key = signer.verifier.encode()
    console.print(f"   {result.integrated} new entries integrated; the ledger holds {result.size}.")
    console.print(f"   Anyone can check it: aicommons ledger verify --url http://{cfg.host}:{cfg.port} --key '{key}'",
                  soft_wrap=True)


@demo_app.command("seed")
def seed_command(quiet: Annotated[bool, typer.Option(help="Print nothing but errors.")] = False) -> None:
    """Create the demo facility if missing (idempotent; refuses a database with real accounts)."""
    with work() as session:
        report = seed(session, settings())
    if quiet:
        return
    for note in report.notes:
        console.print(f"[yellow]{note}[/yellow]")
    console.print(f"Seeded {report.member_states} member states, {report.figures} economic figures, "
                  f"{report.institutions} institutions, {report.people} people, {report.roles} roles, "
                  f"{report.motions} council motions "
                  "(0 means it was already there).")


@demo_app.command("logins")
def logins_command(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the demo logins (only on a demo database)."""
    with work() as session:
        if not is_demo(session):
            console.print("This database holds no demo facility; there are no demo logins.")
            raise typer.Exit(1)
    password = demo_password(settings())
    emit([{"role": role, "email": email, "password": password} for role, email in data.DEMO_LOGINS],
         as_json=as_json, title="Demo logins (demo mode only)")
