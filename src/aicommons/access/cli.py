"""`aicommons access`: calls, rankings and allocations; recompute any published slate yourself."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import Progress

from aicommons.access import allocations, calls, decisions, proposals, recompute, statistics
from aicommons.cli_support import console, emit, err_console, work

access_app = typer.Typer(help="Calls for proposals, rankings, allocations; recompute a published slate.",
                         no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]


@access_app.command("calls")
def list_calls(as_json: JsonOpt = False) -> None:
    """Calls approved by the council, newest first, with their pools."""
    with work() as session:
        rows = [{"id": c.id, "title": c.title, "status": c.status.value, "opens_at": c.opens_at,
                 "closes_at": c.closes_at, "policy": c.policy.value,
                 "pool_gpu_hours": sum(t.pool_hours for t in c.tracks)}
                for c in calls.list_calls(session, include_drafts=False)]
    emit(rows, as_json=as_json, title="Calls for proposals")


@access_app.command("ranking")
def ranking(call_id: Annotated[int, typer.Argument(help="The call's id.")], as_json: JsonOpt = False) -> None:
    """A call's published ranking: rank, score, fundable, requested hours and, once decided, the award."""
    with work() as session:
        call = calls.visible_call(session, call_id, sees_drafts=False)
        ranked = sorted((p for p in proposals.call_proposals(session, call.id) if p.rank is not None),
                        key=lambda p: p.rank or 0)
        rows = [{"rank": p.rank, "proposal": p.id, "track": p.track.value, "score": p.score,
                 "fundable": p.fundable, "country": p.country_code, "requested_hours": p.requested_hours,
                 "awarded_hours": p.award_hours, "title": p.title} for p in ranked]
    emit(rows, as_json=as_json, title=f"Ranking of call {call_id}")


@access_app.command("allocations")
def list_allocations(call: Annotated[int | None, typer.Option(help="Only this call's allocations.")] = None,
                     as_json: JsonOpt = False) -> None:
    """Allocations granted by approved slates, with their GPU-hour budgets."""
    with work() as session:
        rows = [{"id": a.id, "project": a.project, "state": a.member_state_code, "track": a.track.value,
                 "gpu_hours": a.budget_gpu_seconds // decisions.SECONDS_PER_HOUR, "starts_on": a.starts_on,
                 "ends_on": a.ends_on, "status": a.status.value}
                for a in allocations.list_allocations(session, call_id=call)]
    emit(rows, as_json=as_json, title="Allocations")


@access_app.command("statistics")
def show_statistics(as_json: JsonOpt = False) -> None:
    """GPU-hours requested and awarded per member state, and each state's share against its contribution."""
    with work() as session:
        by_state, _ = statistics.by_state_and_track(session)
        shares = {s.member_state: s for s in statistics.shares(session)}
        rows = [{"state": line.member_state, "proposals": line.proposals, "requested_hours": line.requested_hours,
                 "awarded_hours": line.awarded_hours,
                 "allocated_share": f"{float(shares[line.member_state].allocated_share):.2%}"
                 if line.member_state in shares else None,
                 "contribution_share": f"{float(shares[line.member_state].contribution_share):.2%}"
                 if line.member_state in shares and shares[line.member_state].contribution_share is not None
                 else None} for line in by_state]
    emit(rows, as_json=as_json, title="Access by member state")


@access_app.command("expire")
def expire() -> None:
    """Mark allocations whose last day has passed as expired (for a daily timer)."""
    with work() as session:
        ended = allocations.expire_ended(session)
        console.print(f"{len(ended)} allocation(s) expired.")


@access_app.command("recompute-slate")
def recompute_slate(
    call_id: Annotated[int, typer.Argument(help="The call's id.")],
    url: Annotated[str, typer.Option("--url", help="The facility's base URL, e.g. https://commons.example")],
    as_json: JsonOpt = False,
) -> None:
    """Recompute a call's allocation slate from its published inputs and ranking, and say whether it matches
    the published result. Exit code 0 only when it does."""
    try:
        with Progress(transient=True, console=err_console) as progress:
            progress.add_task("Fetching the published slate and ranking…", total=None)
            outcome = recompute.recompute(url, call_id)
    except recompute.RecomputeFailed as exc:
        err_console.print(f"[red]recompute failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({"call": outcome.call, "slate": outcome.slate, "status": outcome.status,
                          "matches": outcome.matches, "published_digest": outcome.published_digest,
                          "recomputed_digest": outcome.recomputed_digest, "mismatches": outcome.mismatches,
                          "awarded_hours": outcome.awarded_hours, "pool_hours": outcome.pool_hours}, indent=2))
    else:
        result = outcome.result
        emit([{"rank": a["rank"], "proposal": a["proposal_id"], "track": a["track"], "state": a["member_state"],
               "requested": a["requested_hours"], "awarded": a["awarded_hours"], "reason": a["reason"]}
              for a in result["awards"]], as_json=False, title=f"Slate {outcome.slate} recomputed ({outcome.status})")
        emit([{"state": s["state"], "contribution_share": s["contribution_share"],
               "allocated_share": s["allocated_share_decimal"], "within_tolerance": s["within_tolerance"]}
              for s in result["states"]], as_json=False, title="Per member state")
        for problem in outcome.mismatches:
            console.print(f"[red]mismatch:[/red] {problem}")
        verdict = "[green]MATCHES[/green]" if outcome.matches else "[red]DOES NOT MATCH[/red]"
        console.print(f"{outcome.awarded_hours:,} of {outcome.pool_hours:,} GPU-hours; digest "
                      f"{outcome.recomputed_digest} — {verdict}")
    if not outcome.matches:
        raise typer.Exit(1)
