"""The council page: motions open for voting, and a delegate's roll-call ballot for their state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import DomainError, invalid_field
from aicommons.governance import agenda, council, policy, rules
from aicommons.governance.models import MotionStatus
from aicommons.governance.rules import Choice
from aicommons.identity.models import Person, Role
from aicommons.identity.policy import Principal
from aicommons.web.governance_pages import LABELS, state_names
from aicommons.web.labels import CHOICE_LABELS
from aicommons.web.render import CsrfForm, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
MAX_EXPLANATION = 4000
RESULTS_SHOWN = 10
# The service names a motion's payload fields by their JSON path; the pages name them by their inputs.
PAYLOAD_INPUTS = {"member_state": "member_state", "status": "admission_status", "scale_id": "scale_id",
                  "reference": "reference", "waive_arrears": "waive_state"}
INPUTS = {"filename": "file"}


def page_errors(exc: DomainError) -> dict[str, str]:
    """Input name -> message for a failed form; '' holds what belongs to no input."""
    out: dict[str, str] = {}
    for err in exc.errors:
        loc = [str(part) for part in err.loc[1:]]
        if len(loc) > 1 and loc[0] == "payload":
            name = PAYLOAD_INPUTS.get(loc[1], "")
        else:
            name = INPUTS.get(loc[0], loc[0]) if loc else ""
        out.setdefault(name, err.message)
    if not out:
        out[""] = exc.detail
    return out


def text_of(form: dict[str, Any], name: str) -> str:
    """One submitted value as stripped text ('' when absent or sent more than once)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _voter_names(db: Session, person_ids: set[int]) -> dict[int, str]:
    if not person_ids:
        return {}
    rows = db.execute(select(Person.id, Person.display_name).where(Person.id.in_(person_ids)))
    return {person_id: name for person_id, name in rows}


def _voting_motions(db: Session, principal: Principal, states: list[str], names: dict[str, str]) -> list[dict]:
    now = clock.now()
    out = []
    for motion in agenda.list_motions(db, viewer=principal, status=MotionStatus.VOTING):
        assert motion.electorate is not None and motion.rule is not None and motion.voting_closes_at is not None
        ballots = council.final_ballots(db, motion.id)
        eligible, excluded = motion.electorate["eligible"], motion.electorate["excluded"]
        own = [{"code": code, "name": names.get(code, code), "ballot": ballots.get(code),
                "excluded": None if code in eligible else excluded.get(code, "it is not in this motion's electorate")}
               for code in states]
        out.append({"motion": motion, "own": own, "open": now < motion.voting_closes_at,
                    "voted": sum(1 for code in ballots if code in eligible), "eligible": len(eligible),
                    "rule_text": rules.describe(rules.Rule.from_dict(motion.rule))})
    return out


def council_page(request: Request, db: Session, principal: Principal, *, failed: dict | None = None,
                 status_code: int = 200):
    states = sorted(principal.delegate_of())
    names = state_names(db)
    voting = _voting_motions(db, principal, states, names)
    cast_by = {line["ballot"].cast_by_id for item in voting for line in item["own"] if line["ballot"]}
    finished = (MotionStatus.CLOSED, MotionStatus.TALLIED, MotionStatus.PUBLISHED)
    results = [m for m in agenda.list_motions(db, viewer=principal) if m.status in finished][:RESULTS_SHOWN]
    return render(request, "governance/council.html", {
        "states": states, "can_vote": bool(states) and "write" in principal.scopes,
        "is_operator": principal.has_role(Role.OPERATOR), "voting": voting, "voter_names": _voter_names(db, cast_by),
        "notice": agenda.list_motions(db, viewer=principal, status=MotionStatus.NOTICE), "results": results,
        "labels": LABELS, "choices": list(CHOICE_LABELS.items()), "failed": failed or {},
        "max_explanation": MAX_EXPLANATION}, status_code=status_code, principal=principal)


@router.get("/council")
def council_home(request: Request, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    return council_page(request, db, principal)


@router.post("/council/motions/{motion_id}/ballot")
def cast_ballot(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, motion_id: int):
    if principal is None:
        return login_redirect(request)
    policy.can_vote(principal)
    states = principal.delegate_of()
    code = text_of(form, "member_state").upper() or (next(iter(states)) if len(states) == 1 else "")
    try:
        choice = text_of(form, "choice")
        if choice not in CHOICE_LABELS:
            raise invalid_field(("body", "choice"), "choose yes, no or abstain")
        explanation = text_of(form, "explanation")
        if len(explanation) > MAX_EXPLANATION:
            raise invalid_field(("body", "explanation"), f"an explanation of vote may be at most {MAX_EXPLANATION} "
                                "characters")
        council.cast_ballot(db, actor=principal, motion_id=motion_id, choice=Choice(choice),
                            member_state_code=code or None, explanation=explanation)
    except DomainError as exc:
        db.rollback()
        failed = {"motion_id": motion_id, "state": code, "errors": page_errors(exc), "form": form}
        return council_page(request, db, principal, failed=failed, status_code=exc.status)
    return redirect(f"/council#motion-{motion_id}", request,
                    f"{code}'s ballot on motion {motion_id} is recorded: {CHOICE_LABELS[choice]}. "
                    "A new ballot replaces it until voting closes.")
