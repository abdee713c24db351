"""The operators' call desk: draft a call and put it to the council, close it, check each proposal technically,
release the reviews, rank the call and put its allocation slate to the council.

The council's votes on a call and on its slate run through the council pages like every other motion.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.access import calls, decisions, policy, proposals, reviews
from aicommons.access.calls import DEFAULT_RUBRIC, MAX_POOL_HOURS, TrackTerms
from aicommons.access.models import Appeal, AppealStatus, Policy, Proposal, ProposalStatus, Track
from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import Conflict, DomainError, FieldError, Invalid, invalid_field
from aicommons.identity.policy import Principal
from aicommons.web.access_pages import (
    LABELS,
    Id,
    allowed,
    motion_link,
    page_errors,
    score_text,
    slate_view,
    text_of,
    whole,
)
from aicommons.web.governance_pages import state_names
from aicommons.web.render import CsrfForm, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
MAX_TITLE, MAX_DESCRIPTION, MAX_NOTES = 300, 20_000, 20_000
TRACK_INPUTS = {"pool_hours": "pool", "cap_hours": "cap", "min_award_hours": "min"}
CRITERION = re.compile(r"([a-z][a-z_]{0,39})\s*[:=]?\s*(\d{1,3})")
DEFAULT_FORM = {"min_reviews": "3", "max_load": "10", "spread_threshold": "2", "funding_threshold": "3",
                "policy": Policy.MERIT.value, "tolerance": "1/20", "reply_days": "14", "appeal_days": "30",
                "rubric": "\n".join(f"{c['name']} {c['weight']}" for c in DEFAULT_RUBRIC)}


def _panel(principal: Principal | None) -> Principal | None:
    """Who reads the desk (operators, and auditors read only), or None when the browser must sign in."""
    if principal is not None:
        policy.can_read_panel(principal)
    return principal


def _operator(principal: Principal | None) -> Principal | None:
    if principal is not None:
        policy.can_run_calls(principal)
    return principal


# --- drafting a call -----------------------------------------------------------------------------


def _moment(form: dict[str, Any], name: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text_of(form, name))
    except ValueError:
        raise invalid_field(("body", name), f"give {what} as a date and time in UTC, e.g. 2027-01-15T09:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _day(form: dict[str, Any], name: str) -> date:
    try:
        return date.fromisoformat(text_of(form, name))
    except ValueError:
        raise invalid_field(("body", name), "give the first day of the allocations, e.g. 2027-06-01") from None


def _rubric(form: dict[str, Any]) -> list[dict[str, Any]] | None:
    lines = [line.strip().lower() for line in text_of(form, "rubric", limit=2_000).splitlines() if line.strip()]
    rubric = []
    for line in lines:
        found = CRITERION.fullmatch(line)
        if found is None or not 1 <= int(found.group(2)) <= 100:
            raise invalid_field(("body", "rubric"), f"'{line[:60]}': write one criterion a line with its weight "
                                "from 1 to 100, e.g. excellence 30")
        rubric.append({"name": found.group(1), "weight": int(found.group(2))})
    if len(rubric) > 10:
        raise invalid_field(("body", "rubric"), "a rubric has at most 10 criteria")
    return rubric or None


def _call_terms(form: dict[str, Any]) -> tuple[dict[str, Any], list[Track]]:
    """The call's terms from the form, every unreadable input named at once; and the order of its tracks."""
    problems: list[FieldError] = []

    def attempt(read: Callable[[], Any], fallback: Any = None) -> Any:
        try:
            return read()
        except Invalid as exc:
            problems.extend(exc.errors)
            return fallback

    tracks, order = [], []
    for track in Track:
        names = [f"{prefix}_{track.value}" for prefix in TRACK_INPUTS.values()]
        if not any(text_of(form, name) for name in names):
            continue
        pool, cap, least = (attempt(lambda name=name: whole(form, name, 1, MAX_POOL_HOURS,
                                                            "give whole GPU-hours, at least 1"), 0) for name in names)
        tracks.append(TrackTerms(track, pool, cap, least))
        order.append(track)
    policy_value = text_of(form, "policy")
    if policy_value not in {p.value for p in Policy}:
        problems.append(FieldError(("body", "policy"), "choose the allocation policy"))
    terms = {
        "title": attempt(lambda: text_of(form, "title", limit=MAX_TITLE), ""),
        "description": attempt(lambda: text_of(form, "description", limit=MAX_DESCRIPTION), ""),
        "opens_at": attempt(lambda: _moment(form, "opens_at", "the opening")),
        "closes_at": attempt(lambda: _moment(form, "closes_at", "the deadline")),
        "allocation_starts_on": attempt(lambda: _day(form, "allocation_starts_on")),
        "tracks": tracks, "rubric": attempt(lambda: _rubric(form)),
        "min_reviews": attempt(lambda: whole(form, "min_reviews", 1, 10, "from 1 to 10 reviews"), 3),
        "max_load": attempt(lambda: whole(form, "max_load", 1, 100, "from 1 to 100 proposals"), 10),
        "spread_threshold": attempt(lambda: whole(form, "spread_threshold", 1, 4, "from 1 to 4 points"), 2),
        "funding_threshold": attempt(lambda: text_of(form, "funding_threshold", limit=20), "3"),
        "tolerance": attempt(lambda: text_of(form, "tolerance", limit=20), "1/20"),
        "reply_days": attempt(lambda: whole(form, "reply_days", 1, 60, "from 1 to 60 days"), 14),
        "appeal_days": attempt(lambda: whole(form, "appeal_days", 1, 120, "from 1 to 120 days"), 30),
    }
    if not terms["title"] and not any(p.loc[-1] == "title" for p in problems):
        problems.append(FieldError(("body", "title"), "give the call a title"))
    if problems:
        raise Invalid("; ".join(p.message for p in problems), problems)
    return {**terms, "policy": Policy(policy_value)}, order


def _new_call_page(request: Request, principal: Principal, *, form: dict | None = None, errors: dict | None = None,
                   status_code: int = 200):
    return render(request, "access/call_new.html", {
        "form": form or DEFAULT_FORM, "errors": errors or {}, "labels": LABELS, "tracks": list(Track),
        "policy_options": [(p.value, LABELS["policy"][p.value]) for p in Policy]},
        status_code=status_code, principal=principal)


@router.get("/calls/new")
def new_call(request: Request, principal: MaybePrincipal):
    if _operator(principal) is None:
        return login_redirect(request)
    return _new_call_page(request, principal)


@router.post("/calls")
def create_call(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal):
    if _operator(principal) is None:
        return login_redirect(request)
    order: list[Track] = []

    def name_of(parts: list[str]) -> str:
        if parts[:1] == ["tracks"] and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(order):
            return f"{TRACK_INPUTS.get(parts[2], 'pool')}_{order[int(parts[1])].value}"
        return parts[0] if parts else ""

    try:
        terms, order[:] = _call_terms(form)
        call = calls.create_call(db, actor=principal, **terms)
    except DomainError as exc:
        db.rollback()
        return _new_call_page(request, principal, form=form, errors=page_errors(exc, name_of),
                              status_code=exc.status)
    return redirect(f"/calls/{call.id}/manage", request, f"Call {call.id} is drafted. Only operators see it until "
                    "it goes to the council.")


# --- the desk ------------------------------------------------------------------------------------


def desk_page(request: Request, db: Session, principal: Principal, call_id: int, *, failed: dict | None = None,
              status_code: int = 200):
    call = calls.visible_call(db, call_id, sees_drafts=True)
    received = [p for p in proposals.call_proposals(db, call.id) if p.status is not ProposalStatus.DRAFT]
    assigned: dict[int, int] = {}
    for a in reviews.live_assignments(db, call.id):
        assigned[a.proposal_id] = assigned.get(a.proposal_id, 0) + 1
    names = state_names(db)
    slates = decisions.slates_of(db, call.id)
    lodged = db.scalars(select(Appeal).join(Proposal, Proposal.id == Appeal.proposal_id)
                        .where(Proposal.call_id == call.id, Appeal.status == AppealStatus.LODGED))
    by_status: dict[str, int] = {}
    for p in received:
        by_status[p.status.value] = by_status.get(p.status.value, 0) + 1
    return render(request, "access/call_desk.html", {
        "call": call, "labels": LABELS, "received": received, "assigned": assigned, "by_status": by_status,
        "reviewed": {p.id: len(reviews.submitted_reviews(db, p.id)) for p in received},
        "runs": allowed(policy.can_run_calls, principal), "score_text": score_text,
        "approval_motion": motion_link(db, principal, call.approval_motion_id),
        "slates": [{"row": s, "motion": motion_link(db, principal, s.motion_id)} for s in slates],
        "slate": slate_view(db, slates[0], names) if slates else None, "names": names,
        "appeals": len(list(lodged)), "failed": failed or {}}, status_code=status_code, principal=principal)


@router.get("/calls/{call_id}/manage")
def desk(request: Request, db: DB, principal: MaybePrincipal, call_id: Id):
    if _panel(principal) is None:
        return login_redirect(request)
    return desk_page(request, db, principal, call_id)


def _step(request: Request, db: Session, principal: Principal | None, call_id: int, action: Callable[[], str],
          *, anchor: str = ""):
    """One step of the call: on success back to the desk with its message; on failure the desk with the reason."""
    if _operator(principal) is None:
        return login_redirect(request)
    calls.visible_call(db, call_id, sees_drafts=True)
    try:
        message = action()
    except DomainError as exc:
        db.rollback()
        return desk_page(request, db, principal, call_id, failed={"errors": page_errors(exc)},
                         status_code=exc.status)
    return redirect(f"/calls/{call_id}/manage{anchor}", request, message)


@router.post("/calls/{call_id}/submit-for-approval")
def submit_for_approval(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, call_id: Id):
    def act() -> str:
        motion_id = calls.submit_for_approval(db, actor=principal, call_id=call_id).approval_motion_id
        return (f"Call {call_id} is before the council: motion {motion_id} is drafted with the call's terms attached. "
                "Give notice and run the vote in the motion editor.")

    return _step(request, db, principal, call_id, act)


@router.post("/calls/{call_id}/close")
def close(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, call_id: Id):
    def act() -> str:
        calls.close_call(db, actor=principal, call_id=call_id)
        return f"Call {call_id} is closed; each submitted proposal now waits for its technical check."

    return _step(request, db, principal, call_id, act, anchor="#proposals")


@router.post("/calls/{call_id}/release-reviews")
def release(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, call_id: Id):
    def act() -> str:
        call = reviews.release_reviews(db, actor=principal, call_id=call_id)
        return (f"Reviews of call {call_id} are released to the applicants, anonymised; they may reply within "
                f"{call.reply_days} days.")

    return _step(request, db, principal, call_id, act)


@router.post("/calls/{call_id}/rank")
def rank(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, call_id: Id):
    def act() -> str:
        decisions.rank_call(db, actor=principal, call_id=call_id)
        return f"Call {call_id} is ranked and the ranking is published."

    return _step(request, db, principal, call_id, act)


@router.post("/calls/{call_id}/slate")
def propose_slate(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, call_id: Id):
    def act() -> str:
        row = decisions.propose_slate(db, actor=principal, call_id=call_id)
        return (f"Slate {row.id} is computed and motion {row.motion_id} drafted to approve it. Give notice and run "
                "the vote in the motion editor.")

    return _step(request, db, principal, call_id, act, anchor="#slate")


@router.post("/proposals/{proposal_id}/technical-check")
def technical_check(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if _operator(principal) is None:
        return login_redirect(request)
    proposal = proposals.get_proposal(db, proposal_id)
    call_id = proposal.call_id
    try:
        if proposal.status is not ProposalStatus.TECHNICAL_CHECK:
            raise Conflict(f"proposal {proposal.id} is {LABELS['proposal'][proposal.status.value].lower()}, not "
                           "waiting for its technical check")
        result = text_of(form, "result")
        if result not in ("pass", "fail"):
            raise invalid_field(("body", "result"), "choose whether the proposal passes or fails")
        proposals.record_technical_check(db, actor=principal, proposal_id=proposal_id, passed=result == "pass",
                                         notes=text_of(form, "notes", limit=MAX_NOTES))
    except DomainError as exc:
        db.rollback()
        return desk_page(request, db, principal, call_id, status_code=exc.status,
                         failed={"proposal_id": proposal_id, "errors": page_errors(exc), "form": form})
    verdict = "passes" if result == "pass" else "fails: it is rejected with your notes as its rationale"
    return redirect(f"/calls/{call_id}/manage#proposal-{proposal_id}", request,
                    f"Proposal {proposal_id} {verdict}.")
