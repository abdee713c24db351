"""`aicommons governance`: motions and tallies, contributions, and recomputing a tally from the ledger."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import Progress

from aicommons.cli_support import console, emit, err_console, work
from aicommons.governance import agenda, council, retally, rules, service
from aicommons.governance.models import MotionStatus

governance_app = typer.Typer(help="The council: motions, tallies, contributions; recompute any tally yourself.",
                             no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]


@governance_app.command("motions")
def motions(status: Annotated[MotionStatus | None, typer.Option(help="Only motions in this state.")] = None,
            as_json: JsonOpt = False) -> None:
    """List the council's motions (drafts are not listed)."""
    with work() as session:
        rows = [{"id": m.id, "kind": m.kind.value, "status": m.status.value, "outcome": m.outcome, "title": m.title,
                 "voting_closes_at": m.voting_closes_at} for m in agenda.list_motions(session, status=status)]
    emit(rows, as_json=as_json, title="Motions")


@governance_app.command("show")
def show(motion_id: Annotated[int, typer.Argument(help="The motion's id.")], as_json: JsonOpt = False) -> None:
    """A motion's roll-call by state and, once tallied, its tally with workings."""
    with work() as session:
        motion = agenda.get_motion(session, motion_id)
        lines = council.roll_call(session, motion)
        roll = [{"state": line.state, "eligible": line.eligible, "weight": line.weight,
                 "ballot": line.ballot.choice.value if line.ballot else None,
                 "explanation": line.ballot.explanation if line.ballot else line.excluded_because}
                for line in lines]
        head = {"id": motion.id, "kind": motion.kind.value, "title": motion.title, "status": motion.status.value,
                "rule": rules.describe(rules.Rule.from_dict(motion.rule)) if motion.rule else None,
                "outcome": motion.outcome, "tally": motion.tally}
    if as_json:
        print(json.dumps({**head, "roll_call": roll}, indent=2, default=str))
        return
    console.print(f"[bold]Motion {head['id']}[/bold] ({head['kind']}, {head['status']}): {head['title']}")
    if head["rule"]:
        console.print(f"Rule: {head['rule']}")
    emit(roll, as_json=False, title="Roll-call")
    for line in (head["tally"] or {}).get("workings", []):
        console.print(f"  {line}")


@governance_app.command("contributions")
def contributions(as_json: JsonOpt = False) -> None:
    """Each state's share under the contribution scale in force (or the latest proposed one)."""
    with work() as session:
        scale = service.scale_in_force(session) or next(iter(service.list_scales(session)), None)
        if scale is None:
            err_console.print("No contribution scale has been computed yet.")
            raise typer.Exit(1)
        rows = [{"state": w["state"], "status": w["status"], "share": w["share"], "average_nni_meur":
                 w["average_million_eur"], "notes": "; ".join(w["notes"])} for w in scale.workings["states"]]
        title = f"Contribution scale {scale.id} ({scale.status.value.replace('_', ' ')})"
    emit(rows, as_json=as_json, title=title)


@governance_app.command("retally")
def retally_command(
    motion_id: Annotated[int, typer.Argument(help="The motion's id.")],
    url: Annotated[str, typer.Option("--url", help="The facility's base URL, e.g. https://commons.example")],
    key: Annotated[str, typer.Option("--key", help="The ledger's verifier key (<name>+<id>+<base64>).")],
    as_json: JsonOpt = False,
) -> None:
    """Recompute a motion's outcome from ledger entries alone (each proven against the signed checkpoint)
    and say whether it matches the published result. Exit code 0 when it matches, 1 when it does not."""
    try:
        with Progress(transient=True, console=err_console) as progress:
            progress.add_task("Fetching and proving the motion's ledger entries…", total=None)
            result = retally.retally(url, key, motion_id)
    except retally.RetallyFailed as exc:
        err_console.print(f"[red]retally failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({"motion": result.motion, "matches": result.matches, "origin": result.origin,
                          "tree_size": result.tree_size, "entries_verified": result.entries_verified,
                          "rule": result.rule_text, "recomputed_outcome": result.recomputed["outcome"],
                          "published_outcome": result.published_outcome, "recomputed": result.recomputed,
                          "mismatches": result.mismatches, "text_matches": result.text_matches,
                          "attachments_match": result.attachments_match}, indent=2))
    else:
        console.print(f"Ledger {result.origin}, signed tree of {result.tree_size}: "
                      f"{result.entries_verified} entries of motion {motion_id} proven included.")
        console.print(f"Rule: {result.rule_text}")
        emit([{"state": s, "weight": w, "ballot": result.recomputed["ballots"].get(s)}
              for s, w in result.recomputed["eligible"].items()], as_json=False, title="Ballots from the ledger")
        for line in result.recomputed["workings"]:
            console.print(f"  {line}")
        if result.text_matches is False:
            console.print("[red]The text served today does not hash to the digest fixed when voting opened.[/red]")
        for name, ok in result.attachments_match.items():
            if not ok:
                console.print(f"[red]Attachment {name} does not match its digest fixed when voting opened.[/red]")
        for problem in result.mismatches:
            console.print(f"[red]mismatch:[/red] {problem}")
        verdict = "[green]MATCHES[/green]" if result.matches else "[red]DOES NOT MATCH[/red]"
        console.print(f"Recomputed outcome: {result.recomputed['outcome']}; published: "
                      f"{result.published_outcome or '(not yet)'} — {verdict}")
    if not result.matches:
        raise typer.Exit(1)
