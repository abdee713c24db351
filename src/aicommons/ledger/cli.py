"""`aicommons ledger`: run the sequencer, print the key, and verify any AI Commons ledger from outside."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from aicommons.cli_support import console, err_console, session_factory_for, settings, work
from aicommons.ledger import reading, sequencer, verify
from aicommons.ledger.store import latest_checkpoint
from aicommons.migrate import SchemaOutOfDate, check_schema

ledger_app = typer.Typer(help="The transparency ledger: integrate, and verify it as an outsider would.",
                         no_args_is_help=True)

UrlOpt = Annotated[str, typer.Option("--url", help="The facility's base URL, e.g. https://commons.example")]
KeyOpt = Annotated[str, typer.Option("--key", help="The log's verifier key (<name>+<id>+<base64>).")]


@ledger_app.command("integrate")
def integrate(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Integrate every queued entry into the tree and sign a checkpoint if one is due."""
    cfg = settings()
    factory = session_factory_for(cfg.effective_database_url)
    try:
        check_schema(factory.kw["bind"])
    except SchemaOutOfDate as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    with Progress(transient=True, console=err_console) as progress:
        progress.add_task("Integrating queued entries…", total=None)
        result = sequencer.integrate_pending(factory, cfg, sequencer.signer_for(cfg))
    summary = {"integrated": result.integrated, "tree_size": result.size, "root": reading.b64(result.root),
               "checkpoint_signed": result.checkpoint is not None}
    if as_json:
        print(json.dumps(summary))
    else:
        console.print(f"Integrated {result.integrated} entries; the tree has {result.size} "
                      f"(root {summary['root']}).")


@ledger_app.command("key")
def key() -> None:
    """Print this facility's verifier key (give it to anyone who wants to check the ledger)."""
    print(sequencer.signer_for(settings()).verifier.encode())


@ledger_app.command("status")
def status() -> None:
    """Tree size, queue length and the latest checkpoint of the configured database."""
    from sqlalchemy import func, select

    from aicommons.ledger.models import LedgerEntry

    with work() as session:
        queued = session.scalar(select(func.count()).select_from(LedgerEntry)
                                .where(LedgerEntry.tree_index.is_(None)))
        size = reading.tree_size(session)
        latest = latest_checkpoint(session)
    console.print(f"Tree size {size}, {queued} queued.")
    console.print(latest.note if latest else "No checkpoint signed yet.")


@ledger_app.command("verify")
def verify_command(
    url: UrlOpt, key: KeyOpt,
    state: Annotated[Path | None, typer.Option(help="File remembering the last checkpoint seen.")] = None,
    samples: Annotated[int, typer.Option(help="Random entries to spot-check.", min=0, max=1000)] = 8,
    origin: Annotated[str | None, typer.Option(help="Expected checkpoint origin (default: the key's name).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a ledger from outside: signature, consistency with what you saw before, tiles, entries."""
    try:
        with Progress(transient=True, console=err_console) as progress:
            progress.add_task(f"Verifying {url}…", total=None)
            report = verify.verify_log(url, key, state_file=state, samples=samples, origin=origin)
    except (verify.VerificationFailed, ValueError) as exc:
        err_console.print(f"[red]VERIFICATION FAILED:[/red] {exc}")
        raise typer.Exit(1) from exc
    except Exception as exc:  # network trouble is not a verdict on the log
        err_console.print(f"[red]error:[/red] could not check {url}: {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps({"ok": True, "origin": report.origin, "size": report.size,
                          "root": reading.b64(report.root), "previous_size": report.previous_size,
                          "tiles_fetched": report.tiles_fetched, "entries_checked": report.entries_checked}))
        return
    since = f", consistent with the size-{report.previous_size} checkpoint seen before" \
        if report.previous_size is not None else ""
    console.print(f"[green]OK[/green] {report.origin}: {report.size} entries, signature valid{since}; "
                  f"{report.tiles_fetched} tiles re-hashed, entries {report.entries_checked} proven included.")


@ledger_app.command("proof")
def proof(index: Annotated[int, typer.Argument(help="Entry index.")], url: UrlOpt,
          out: Annotated[Path | None, typer.Option(help="Write here (default <index>.tlog-proof).")] = None) -> None:
    """Save an offline proof that an entry is in the ledger (c2sp.org/tlog-proof, entry in 'extra')."""
    try:
        text = verify.fetch_proof(url, index)
    except verify.VerificationFailed as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    path = out or Path(f"{index}.tlog-proof")
    path.write_text(text)
    console.print(f"Wrote {path}. Check it offline with: aicommons ledger check-proof {path} --key KEY")


@ledger_app.command("check-proof")
def check_proof(file: Annotated[Path, typer.Argument(help="A .tlog-proof file.", exists=True, dir_okay=False)],
                key: KeyOpt) -> None:
    """Verify an offline proof bundle with the log's key alone (no network)."""
    try:
        checked = verify.check_proof(file.read_text(), key)
    except verify.VerificationFailed as exc:
        err_console.print(f"[red]PROOF INVALID:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]OK[/green] entry {checked.index} is in {checked.origin} at size {checked.size}:")
    sys.stdout.write(checked.entry.decode(errors="replace") + "\n")
