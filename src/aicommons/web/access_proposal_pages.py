"""Researchers' pages: their proposals, the proposal form, and each step of a proposal's life (submit, reply to
the reviews, appeal, accept the award, final report). Applicants see their reviews anonymised: never a
reviewer's name nor the panel's confidential comments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access import allocations, calls, policy, proposals, reviews
from aicommons.access.models import Appeal, Call, Proposal, ProposalStatus, Track
from aicommons.access.proposals import (
    ACCELERATORS,
    MAX_DURATION_MONTHS,
    MAX_KEYWORDS,
    MAX_RELEASE_MONTHS,
    OUTPUT_KINDS,
    ProposalText,
)
from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import Conflict, DomainError, FieldError, Forbidden, Invalid, NotFound, invalid_field
from aicommons.identity.policy import Principal, require_scope
from aicommons.web.access_pages import LABELS, Id, allowed, page_errors, score_text, text_of, whole, words
from aicommons.web.render import CsrfForm, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
MAX_TITLE, MAX_SUMMARY, MAX_TEXT, MAX_LICENCE, MAX_KEYWORD = 300, 5_000, 20_000, 200, 60
MAX_HOURS = 2**53 - 1
OUTPUT_ROWS = 3
TEXT_INPUTS = ("track", "title", "summary", "keywords", "requested_hours", "accelerator", "duration_months",
               "licence_weights", "licence_code", "licence_data", "release_within_months", "safety_statement",
               "data_management_plan", "team")


# --- reading the proposal form -------------------------------------------------------------------


def _read_text(form: dict[str, Any]) -> ProposalText:
    """The proposal as the applicant wrote it; every input that cannot be read is named at once."""
    problems: list[FieldError] = []

    def attempt(read: Callable[[], Any], fallback: Any) -> Any:
        try:
            return read()
        except Invalid as exc:
            problems.extend(exc.errors)
            return fallback

    track_value = text_of(form, "track")
    if track_value not in {t.value for t in Track}:
        problems.append(FieldError(("body", "track"), "choose one of the call's tracks"))
    title = attempt(lambda: text_of(form, "title", limit=MAX_TITLE), "")
    summary = attempt(lambda: text_of(form, "summary", limit=MAX_SUMMARY), "")
    keywords = words(attempt(lambda: text_of(form, "keywords", limit=MAX_KEYWORDS * (MAX_KEYWORD + 2)), ""))
    if any(len(k) > MAX_KEYWORD for k in keywords):
        problems.append(FieldError(("body", "keywords"), f"a keyword is at most {MAX_KEYWORD} characters"))
    hours = attempt(lambda: whole(form, "requested_hours", 1, MAX_HOURS,
                                  "request a whole, positive number of GPU-hours"), 0)
    duration = attempt(lambda: whole(form, "duration_months", 1, MAX_DURATION_MONTHS,
                                     f"the project lasts from 1 to {MAX_DURATION_MONTHS} whole months"), 0)
    release = attempt(lambda: whole(form, "release_within_months", 0, MAX_RELEASE_MONTHS,
                                    f"release within 0 to {MAX_RELEASE_MONTHS} whole months"), 0)
    licences = [attempt(lambda name=name: text_of(form, name, limit=MAX_LICENCE), "")
                for name in ("licence_weights", "licence_code", "licence_data")]
    safety = attempt(lambda: text_of(form, "safety_statement", limit=MAX_TEXT), "")
    plan = attempt(lambda: text_of(form, "data_management_plan", limit=MAX_TEXT), "")
    team = [e for e in re.split(r"[\s,;]+", attempt(lambda: text_of(form, "team", limit=MAX_TEXT), "")) if e]
    if problems:
        raise Invalid("; ".join(p.message for p in problems), problems)
    return ProposalText(track=Track(track_value), title=title, summary=summary, keywords=keywords,
                        requested_hours=hours, accelerator=text_of(form, "accelerator"), duration_months=duration,
                        licence_weights=licences[0], licence_code=licences[1], licence_data=licences[2],
                        release_within_months=release, safety_statement=safety, data_management_plan=plan, team=team)


def _text_input(parts: list[str]) -> str:
    return parts[0] if parts and parts[0] in TEXT_INPUTS else ""


def _form_of(proposal: Proposal) -> dict[str, str]:
    return {"track": proposal.track.value, "title": proposal.title, "summary": proposal.summary,
            "keywords": ", ".join(proposal.keywords), "requested_hours": str(proposal.requested_hours),
            "accelerator": proposal.accelerator, "duration_months": str(proposal.duration_months),
            "licence_weights": proposal.licence_weights, "licence_code": proposal.licence_code,
            "licence_data": proposal.licence_data, "release_within_months": str(proposal.release_within_months),
            "safety_statement": proposal.safety_statement, "data_management_plan": proposal.data_management_plan,
            "team": "\n".join(m.person.email for m in proposal.members)}


def _form_page(request: Request, principal: Principal, call: Call, *, proposal: Proposal | None = None,
               form: dict | None = None, errors: dict | None = None, status_code: int = 200):
    return render(request, "access/proposal_form.html", {
        "call": call, "proposal": proposal, "form": form or {}, "errors": errors or {}, "labels": LABELS,
        "track_options": [(t.track.value, f"{LABELS['track'][t.track.value]} (at most {t.cap_hours:,} GPU-hours)")
                          for t in call.tracks],
        "accelerator_options": [(a, a) for a in ACCELERATORS], "max_keywords": MAX_KEYWORDS},
        status_code=status_code, principal=principal)


# --- who may see a proposal ----------------------------------------------------------------------


def readable(db: Session, principal: Principal, proposal_id: int) -> Proposal:
    """The proposal in full for its team, its assigned reviewers and the panel; a draft exists for no one else."""
    proposal = proposals.get_proposal(db, proposal_id)
    if proposal.status is ProposalStatus.DRAFT and not (policy.is_applicant(principal, proposal)
                                                         or policy.sees_panel(principal)):
        raise NotFound(f"no proposal {proposal_id}")
    assigned = any(a.proposal_id == proposal.id for a in reviews.my_queue(db, principal))
    policy.can_read_proposal(principal, proposal, assigned=assigned)
    return proposal


def _own_draft(db: Session, principal: Principal, proposal_id: int) -> Proposal:
    proposal = readable(db, principal, proposal_id)
    if proposal.pi_id != principal.person_id:
        raise Forbidden("only the principal investigator may edit the proposal")
    if proposal.status is not ProposalStatus.DRAFT:
        raise Conflict(f"proposal {proposal.id} is {proposal.status.value.replace('_', ' ')}; only a draft changes")
    return proposal


# --- the pages -----------------------------------------------------------------------------------


@router.get("/proposals/mine")
def my_proposals(request: Request, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    require_scope(principal, "read")
    return render(request, "access/proposals_mine.html", {
        "proposals": proposals.proposals_of(db, principal.person_id), "labels": LABELS,
        "open_calls": [c for c in calls.list_calls(db, include_drafts=False) if calls.accepting_proposals(c)],
        "can_apply": allowed(policy.can_apply, principal)}, principal=principal)


@router.get("/calls/{call_id}/proposals/new")
def new_proposal(request: Request, db: DB, principal: MaybePrincipal, call_id: Id):
    if principal is None:
        return login_redirect(request)
    policy.can_apply(principal)
    call = calls.visible_call(db, call_id, sees_drafts=False)
    if not calls.accepting_proposals(call):
        raise Conflict(f"call {call.id} is not taking proposals")
    return _form_page(request, principal, call, form={"track": call.tracks[0].track.value,
                                                      "accelerator": ACCELERATORS[0]})


@router.post("/calls/{call_id}/proposals")
def create_proposal(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, call_id: Id):
    if principal is None:
        return login_redirect(request)
    policy.can_apply(principal)
    call = calls.visible_call(db, call_id, sees_drafts=False)
    try:
        proposal = proposals.create_proposal(db, actor=principal, call_id=call.id, text=_read_text(form))
    except DomainError as exc:
        db.rollback()
        return _form_page(request, principal, call, form=form, errors=page_errors(exc, _text_input),
                          status_code=exc.status)
    return redirect(f"/proposals/{proposal.id}", request,
                    f"Proposal {proposal.id} is saved as a draft. Only your team and the facility's operators see "
                    "it until you submit it.")


@router.get("/proposals/{proposal_id}/edit")
def edit_form(request: Request, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if principal is None:
        return login_redirect(request)
    policy.can_apply(principal)
    proposal = _own_draft(db, principal, proposal_id)
    return _form_page(request, principal, proposal.call, proposal=proposal, form=_form_of(proposal))


@router.post("/proposals/{proposal_id}/edit")
def edit(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if principal is None:
        return login_redirect(request)
    policy.can_apply(principal)
    proposal = _own_draft(db, principal, proposal_id)
    call_id = proposal.call_id
    try:
        proposals.edit_proposal(db, actor=principal, proposal_id=proposal.id, text=_read_text(form))
    except DomainError as exc:
        db.rollback()
        return _form_page(request, principal, calls.visible_call(db, call_id, sees_drafts=False),
                          proposal=proposals.get_proposal(db, proposal_id), form=form,
                          errors=page_errors(exc, _text_input), status_code=exc.status)
    return redirect(f"/proposals/{proposal_id}", request, f"Proposal {proposal_id} is saved.")


def _proposal_page(request: Request, db: Session, principal: Principal, proposal_id: int, *,
                   form: dict | None = None, errors: dict | None = None, status_code: int = 200):
    proposal = readable(db, principal, proposal_id)
    applicant = policy.is_applicant(principal, proposal)
    panel = policy.sees_panel(principal) and not applicant
    now = clock.now()
    appeal = db.scalar(select(Appeal).where(Appeal.proposal_id == proposal.id))
    appeal_until = proposals.appeal_deadline(proposal) if proposal.status is ProposalStatus.REJECTED \
        and proposal.decided_at is not None else None
    allocation = next((a for a in allocations.list_allocations(db, call_id=proposal.call_id)
                       if a.proposal_id == proposal.id), None)
    acts = proposal.pi_id == principal.person_id and allowed(policy.can_apply, principal)
    return render(request, "access/proposal.html", {
        "proposal": proposal, "call": proposal.call, "labels": LABELS, "applicant": applicant, "panel": panel,
        "acts": acts, "now": now, "appeal": appeal, "appeal_until": appeal_until, "allocation": allocation,
        "rubric": [c["name"] for c in proposal.call.rubric], "score_text": score_text,
        # Applicants get the anonymised view only; the panel sees who wrote what, and its own comments.
        "anonymous_reviews": reviews.reviews_for_applicants(db, proposal) if applicant else [],
        "panel_reviews": reviews.submitted_reviews(db, proposal.id) if panel else [],
        "can_reply": acts and proposal.status is ProposalStatus.RIGHT_TO_REPLY and proposal.reply is None
        and proposal.reply_due_at is not None and now < proposal.reply_due_at,
        "can_appeal": acts and appeal is None and appeal_until is not None and now < appeal_until,
        "output_kinds": [(k, k.capitalize()) for k in OUTPUT_KINDS], "output_rows": range(1, OUTPUT_ROWS + 1),
        "form": form or {}, "errors": errors or {}}, status_code=status_code, principal=principal)


@router.get("/proposals/{proposal_id}")
def proposal_page(request: Request, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if principal is None:
        return login_redirect(request)
    return _proposal_page(request, db, principal, proposal_id)


def _act(request: Request, db: Session, principal: Principal | None, proposal_id: int, form: dict[str, Any],
         action: Callable[[Principal], str], name_of: Callable[[list[str]], str] | None = None):
    """One step by the principal investigator: on success back to the proposal with its message; on failure the
    proposal again with the reason next to the input, and nothing changed."""
    if principal is None:
        return login_redirect(request)
    policy.can_apply(principal)
    readable(db, principal, proposal_id)
    try:
        message = action(principal)
    except DomainError as exc:
        db.rollback()
        return _proposal_page(request, db, principal, proposal_id, form=form, errors=page_errors(exc, name_of),
                              status_code=exc.status)
    return redirect(f"/proposals/{proposal_id}", request, message)


@router.post("/proposals/{proposal_id}/submit")
def submit(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    def act(actor: Principal) -> str:
        proposal = proposals.submit_proposal(db, actor=actor, proposal_id=proposal_id)
        return (f"Proposal {proposal.id} is submitted. Its title, summary, institution, country and GPU-hours "
                "are public from now on; the rest stays with your team, the reviewers and the operators.")

    return _act(request, db, principal, proposal_id, form, act, _text_input)


@router.post("/proposals/{proposal_id}/reply")
def reply(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    def act(actor: Principal) -> str:
        proposals.reply_to_reviews(db, actor=actor, proposal_id=proposal_id,
                                   reply=text_of(form, "reply", limit=MAX_TEXT))
        return "Your reply is recorded. The panel reads it before the call is ranked."

    return _act(request, db, principal, proposal_id, form, act)


@router.post("/proposals/{proposal_id}/appeal")
def appeal(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    def act(actor: Principal) -> str:
        proposals.lodge_appeal(db, actor=actor, proposal_id=proposal_id,
                               grounds=text_of(form, "grounds", limit=MAX_TEXT))
        return "Your appeal is lodged. An operator other than the one who decided will answer it."

    return _act(request, db, principal, proposal_id, form, act)


@router.post("/proposals/{proposal_id}/accept")
def accept(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    def act(actor: Principal) -> str:
        proposals.accept_award(db, actor=actor, proposal_id=proposal_id)
        return "You accepted the award and its openness commitments: the project is active."

    return _act(request, db, principal, proposal_id, form, act)


@router.post("/proposals/{proposal_id}/final-report")
def final_report(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    rows: list[int] = []  # the form's row number of each output sent to the service

    def name_of(parts: list[str]) -> str:
        if parts[:1] == ["summary"]:
            return "report_summary"
        if parts[:1] == ["outputs"] and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            return f"output_{parts[2]}_{rows[int(parts[1])]}"
        return parts[0] if parts else ""

    def act(actor: Principal) -> str:
        summary = text_of(form, "report_summary", limit=MAX_TEXT, label="the summary")
        outputs = []
        for n in range(1, OUTPUT_ROWS + 1):
            title = text_of(form, f"output_title_{n}", limit=MAX_TITLE, label="an output's title")
            identifier = text_of(form, f"output_identifier_{n}", limit=500, label="an output's identifier")
            if title or identifier:
                rows.append(n)
                outputs.append({"kind": text_of(form, f"output_kind_{n}"), "title": title, "identifier": identifier})
        if not summary:
            raise invalid_field(("body", "report_summary"), "the final report needs a summary")
        proposals.close_with_report(db, actor=actor, proposal_id=proposal_id, summary=summary, outputs=outputs)
        return "Your final report is filed and public; the project is closed. Thank you."

    return _act(request, db, principal, proposal_id, form, act, name_of)
