"""The operators' pages after the ranking: appeals to decide (by an operator other than the one who decided the
rejection) and allocations, which an operator may revoke with a written reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.access import allocations, policy, proposals
from aicommons.access.models import Appeal, AppealStatus, ProposalStatus
from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import DomainError, invalid_field
from aicommons.identity.models import Person
from aicommons.identity.policy import Principal
from aicommons.web.access_pages import LABELS, SECONDS_PER_HOUR, Id, allowed, page_errors, text_of
from aicommons.web.governance_pages import state_names
from aicommons.web.render import CsrfForm, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
MAX_TEXT = 20_000
DECIDED_SHOWN = 20


def _panel(principal: Principal | None) -> Principal | None:
    if principal is not None:
        policy.can_read_panel(principal)
    return principal


def _operator(principal: Principal | None) -> Principal | None:
    if principal is not None:
        policy.can_run_calls(principal)
    return principal


# --- appeals -------------------------------------------------------------------------------------


def appeals_page(request: Request, db: Session, principal: Principal, *, failed: dict | None = None,
                 status_code: int = 200):
    lodged = list(db.scalars(select(Appeal).where(Appeal.status == AppealStatus.LODGED).order_by(Appeal.lodged_at)))
    decided = list(db.scalars(select(Appeal).where(Appeal.status != AppealStatus.LODGED)
                              .order_by(Appeal.decided_at.desc()).limit(DECIDED_SHOWN)))
    rows = [{"appeal": a, "proposal": proposals.get_proposal(db, a.proposal_id)} for a in lodged + decided]
    deciders = {r["proposal"].decided_by_id for r in rows} | {a.decided_by_id for a in decided}
    names = dict(db.execute(select(Person.id, Person.display_name)
                            .where(Person.id.in_({d for d in deciders if d is not None}))).all())
    return render(request, "access/appeals.html", {
        "lodged": rows[:len(lodged)], "decided": rows[len(lodged):], "names": names, "labels": LABELS,
        "runs": allowed(policy.can_run_calls, principal), "failed": failed or {}},
        status_code=status_code, principal=principal)


@router.get("/appeals")
def appeals(request: Request, db: DB, principal: MaybePrincipal):
    if _panel(principal) is None:
        return login_redirect(request)
    return appeals_page(request, db, principal)


@router.post("/proposals/{proposal_id}/appeal/decision")
def decide_appeal(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if _operator(principal) is None:
        return login_redirect(request)
    try:
        outcome = text_of(form, "outcome")
        if outcome not in ("upheld", "dismissed"):
            raise invalid_field(("body", "outcome"), "choose whether the appeal is upheld or dismissed")
        proposals.decide_appeal(db, actor=principal, proposal_id=proposal_id, upheld=outcome == "upheld",
                                decision=text_of(form, "decision", limit=MAX_TEXT))
    except DomainError as exc:
        db.rollback()
        return appeals_page(request, db, principal, status_code=exc.status,
                            failed={"proposal_id": proposal_id, "errors": page_errors(exc), "form": form})
    proposal = proposals.get_proposal(db, proposal_id)
    after = f" The proposal returns to {LABELS['proposal'][proposal.status.value].lower()}." \
        if proposal.status is not ProposalStatus.REJECTED else ""
    return redirect("/appeals", request, f"The appeal on proposal {proposal_id} is {outcome}.{after}")


# --- allocations ---------------------------------------------------------------------------------


def allocations_page(request: Request, db: Session, principal: Principal, *, failed: dict | None = None,
                     status_code: int = 200):
    rows = [{"allocation": a, "hours": a.budget_gpu_seconds // SECONDS_PER_HOUR}
            for a in allocations.list_allocations(db)]
    return render(request, "access/allocations.html", {
        "rows": rows, "labels": LABELS, "names": state_names(db), "runs": allowed(policy.can_run_calls, principal),
        "failed": failed or {}}, status_code=status_code, principal=principal)


@router.get("/allocations")
def allocation_list(request: Request, db: DB, principal: MaybePrincipal):
    if _panel(principal) is None:
        return login_redirect(request)
    return allocations_page(request, db, principal)


@router.post("/allocations/{allocation_id}/revoke")
def revoke(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, allocation_id: Id):
    if _operator(principal) is None:
        return login_redirect(request)
    try:
        allocation = allocations.revoke(db, actor=principal, allocation_id=allocation_id,
                                        reason=text_of(form, "reason", limit=MAX_TEXT))
    except DomainError as exc:
        db.rollback()
        return allocations_page(request, db, principal, status_code=exc.status,
                                failed={"allocation_id": allocation_id, "errors": page_errors(exc), "form": form})
    return redirect(f"/allocations#allocation-{allocation_id}", request,
                    f"Allocation {allocation_id} ({allocation.project}) is revoked; the revocation and its reason "
                    "are in the public ledger.")
