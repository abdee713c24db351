"""The operators' assignment board: who reviews what in a call, the automatic assignment, and manual picks that
show each reviewer's expertise match and conflicts of interest (overriding one needs a written justification).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicommons.access import assignment, calls, coi, policy, proposals, reviews
from aicommons.access.models import Appeal, AppealStatus, CallStatus, ProposalStatus, ReviewAssignment
from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import DomainError, NotFound, invalid_field
from aicommons.identity.models import Person
from aicommons.identity.policy import Principal
from aicommons.web.access_pages import LABELS, Id, allowed, page_errors, text_of, whole
from aicommons.web.labels import CONFLICT_LABELS
from aicommons.web.render import CsrfForm, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
MAX_JUSTIFICATION = 5_000


def _panel(principal: Principal | None) -> Principal | None:
    if principal is not None:
        policy.can_read_panel(principal)
    return principal


def _operator(principal: Principal | None) -> Principal | None:
    if principal is not None:
        policy.can_run_calls(principal)
    return principal


# --- the operators' overview ---------------------------------------------------------------------


@router.get("/assignments")
def overview(request: Request, db: DB, principal: MaybePrincipal):
    if _panel(principal) is None:
        return login_redirect(request)
    rows = []
    for call in calls.list_calls(db, include_drafts=True):
        received = [p for p in proposals.call_proposals(db, call.id) if p.status is not ProposalStatus.DRAFT]
        live = Counter(a.proposal_id for a in reviews.live_assignments(db, call.id))
        in_review = [p for p in received if p.status is ProposalStatus.IN_REVIEW]
        rows.append({"call": call, "received": len(received), "in_review": len(in_review),
                     "checks": sum(1 for p in received if p.status is ProposalStatus.TECHNICAL_CHECK),
                     "short": sum(1 for p in in_review if live[p.id] < call.min_reviews)})
    lodged = db.scalar(select(func.count()).select_from(Appeal).where(Appeal.status == AppealStatus.LODGED))
    return render(request, "access/assignments.html", {
        "rows": rows, "labels": LABELS, "appeals": lodged, "runs": allowed(policy.can_run_calls, principal)},
        principal=principal)


# --- the board of one call -----------------------------------------------------------------------


def _names(db: Session, person_ids: set[int]) -> dict[int, str]:
    if not person_ids:
        return {}
    return dict(db.execute(select(Person.id, Person.display_name).where(Person.id.in_(person_ids))).all())


def board_page(request: Request, db: Session, principal: Principal, call_id: int, *, failed: dict | None = None,
               status_code: int = 200):
    call = calls.visible_call(db, call_id, sees_drafts=True)
    # An operator or auditor who is also an applicant in the call sees nothing of their own proposals' panel.
    own = {p.id for p in proposals.call_proposals(db, call.id) if policy.is_applicant(principal, p)}
    live = [a for a in reviews.live_assignments(db, call.id) if a.proposal_id not in own]
    by_proposal: dict[int, list[ReviewAssignment]] = defaultdict(list)
    for a in live:
        by_proposal[a.proposal_id].append(a)
    # Proposals in review, and those reviewed before; the fast lane and failed checks have no reviewers.
    reviewed = [p for p in proposals.call_proposals(db, call.id)
                if p.id not in own and (p.status is ProposalStatus.IN_REVIEW or p.id in by_proposal)]
    load = Counter(a.reviewer_id for a in live)
    pool = reviews.reviewer_profiles(db)
    names = _names(db, {r.person_id for r in pool} | {a.reviewer_id for a in live})
    in_review = [p for p in reviewed if p.status is ProposalStatus.IN_REVIEW]
    profiles = {pp.proposal_id: pp for pp in reviews.proposal_profiles(db, in_review)}
    applicants = reviews.call_applicants(db, call.id)
    picks: dict[int, list[dict]] = {}
    for p in in_review:
        taken = {a.reviewer_id for a in by_proposal[p.id]}
        options = []
        for r in pool:
            if r.person_id in taken:
                continue
            reasons = [CONFLICT_LABELS[reason.value] for reason in coi.reasons(r, profiles[p.id], applicants)]
            options.append({"id": r.person_id, "name": names.get(r.person_id, f"person {r.person_id}"),
                            "match": assignment.match(r, profiles[p.id]), "load": load[r.person_id],
                            "reasons": reasons})
        picks[p.id] = sorted(options, key=lambda o: (bool(o["reasons"]), -o["match"], o["load"], o["name"]))
    limits = {r.person_id: min(r.max_load or call.max_load, call.max_load) for r in pool}
    return render(request, "access/assignment_board.html", {
        "call": call, "proposals": reviewed, "by_proposal": by_proposal, "picks": picks, "names": names,
        "labels": LABELS, "runs": allowed(policy.can_run_calls, principal) and call.status is CallStatus.CLOSED,
        "reviewers": [{"profile": r, "name": names.get(r.person_id, ""), "load": load[r.person_id],
                       "limit": limits[r.person_id]} for r in sorted(pool, key=lambda r: names.get(r.person_id, ""))],
        "failed": failed or {}}, status_code=status_code, principal=principal)


@router.get("/calls/{call_id}/assignments")
def board(request: Request, db: DB, principal: MaybePrincipal, call_id: Id):
    if _panel(principal) is None:
        return login_redirect(request)
    return board_page(request, db, principal, call_id)


@router.post("/calls/{call_id}/assignments/auto")
def assign_automatically(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, call_id: Id):
    if _operator(principal) is None:
        return login_redirect(request)
    calls.visible_call(db, call_id, sees_drafts=True)
    try:
        before = len(reviews.live_assignments(db, call_id))
        result = reviews.assign_automatically(db, actor=principal, call_id=call_id)
        added = len(reviews.live_assignments(db, call_id)) - before
    except DomainError as exc:
        db.rollback()
        return board_page(request, db, principal, call_id, failed={"errors": page_errors(exc)},
                          status_code=exc.status)
    short = ", ".join(f"proposal {pid} needs {n} more" for pid, n in sorted(result.short.items()))
    return redirect(f"/calls/{call_id}/assignments", request,
                    f"{added} reviews assigned automatically, with no conflict of interest; total expertise match "
                    f"{result.total_match}." + (f" Not enough reviewers free: {short}." if short else ""))


@router.post("/proposals/{proposal_id}/assignments")
def assign_manually(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if _operator(principal) is None:
        return login_redirect(request)
    proposal = proposals.get_proposal(db, proposal_id)
    call_id = proposal.call_id
    try:
        reviewer_id = whole(form, "reviewer_id", 1, 2**31 - 1, "choose a reviewer")
        justification = text_of(form, "justification", limit=MAX_JUSTIFICATION)
        reasons = reviews.conflicts_of(db, reviewer_id, proposal)
        if reasons and not justification:
            words = ", ".join(CONFLICT_LABELS[r.value] for r in reasons)
            raise invalid_field(("body", "justification"), f"this reviewer has a conflict of interest ({words}); "
                                "write why the panel sets the rule aside, or choose another reviewer")
        row = reviews.assign_manually(db, actor=principal, proposal_id=proposal_id, reviewer_id=reviewer_id,
                                      justification=justification or None)
        name = row.reviewer.display_name
    except DomainError as exc:
        db.rollback()
        return board_page(request, db, principal, call_id, status_code=exc.status,
                          failed={"proposal_id": proposal_id, "errors": page_errors(exc), "form": form})
    override = " The conflict override is recorded in the public ledger (the rule, not the person)." \
        if reasons else ""
    return redirect(f"/calls/{call_id}/assignments#proposal-{proposal_id}", request,
                    f"{name} now reviews proposal {proposal_id}.{override}")


@router.post("/assignments/{assignment_id}/withdraw")
def withdraw(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, assignment_id: Id):
    if _operator(principal) is None:
        return login_redirect(request)
    row = db.get(ReviewAssignment, assignment_id)
    if row is None:
        raise NotFound(f"no assignment {assignment_id}")
    call_id, proposal_id, name = row.proposal.call_id, row.proposal_id, row.reviewer.display_name
    try:
        reviews.withdraw_assignment(db, actor=principal, assignment_id=assignment_id)
    except DomainError as exc:
        db.rollback()
        return board_page(request, db, principal, call_id, failed={"errors": page_errors(exc)},
                          status_code=exc.status)
    return redirect(f"/calls/{call_id}/assignments#proposal-{proposal_id}", request,
                    f"{name} no longer reviews proposal {proposal_id}.")
