"""Reviewers' pages: the queue of assigned proposals, declared expertise, the review form and conflicts.

A reviewer sees a proposal only while assigned to it: ``reviews.my_assignment`` answers 403 otherwise.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from aicommons.access import policy, reviews
from aicommons.access.models import ProposalStatus
from aicommons.access.reviews import MAX_EXPERTISE
from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import DomainError, FieldError, Invalid, invalid_field
from aicommons.identity.policy import Principal
from aicommons.web.access_pages import LABELS, Id, page_errors, text_of, whole, words
from aicommons.web.render import CsrfForm, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
MAX_COMMENTS = 20_000
MAX_REASON = 5_000


def _queue_page(request: Request, db: Session, principal: Principal, *, form: dict | None = None,
                errors: dict | None = None, status_code: int = 200):
    profile = reviews.expertise_of(db, principal.person_id)
    defaults = {"keywords": ", ".join(profile.keywords) if profile else "",
                "max_load": str(profile.max_load) if profile and profile.max_load else ""}
    return render(request, "access/reviews.html", {
        "queue": reviews.my_queue(db, principal), "profile": profile, "labels": LABELS,
        "form": {**defaults, **(form or {})}, "errors": errors or {}, "max_expertise": MAX_EXPERTISE},
        status_code=status_code, principal=principal)


@router.get("/reviews")
def queue(request: Request, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    policy.can_read_own_reviews(principal)
    return _queue_page(request, db, principal)


@router.post("/reviews/expertise")
def expertise(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    policy.can_review(principal)
    try:
        keywords = words(text_of(form, "keywords", limit=MAX_EXPERTISE * 62))
        if any(len(k) > 60 for k in keywords):
            raise invalid_field(("body", "keywords"), "a keyword is at most 60 characters")
        max_load = whole(form, "max_load", 1, 100, "from 1 to 100 proposals per call, or empty for the call's "
                         "limit") if text_of(form, "max_load") else None
        reviews.set_expertise(db, actor=principal, keywords=keywords, max_load=max_load)
    except DomainError as exc:
        db.rollback()
        return _queue_page(request, db, principal, form=form, errors=page_errors(exc), status_code=exc.status)
    return redirect("/reviews", request, "Your expertise is saved. Automatic assignment matches it to proposals' "
                    "keywords.")


def _declare(db: Session, principal: Principal, proposal_id: int, form: dict[str, Any]) -> None:
    reviews.declare_conflict(db, actor=principal, proposal_id=proposal_id,
                             reason=text_of(form, "reason", limit=MAX_REASON))


@router.post("/reviews/conflicts")
def declare_any(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal):
    """A conflict with any submitted proposal, declared before or after assignment."""
    if principal is None:
        return login_redirect(request)
    policy.can_review(principal)
    try:
        proposal_id = whole(form, "proposal", 1, 2**31 - 1, "give the proposal's number, as on the call's page")
        _declare(db, principal, proposal_id, form)
    except DomainError as exc:
        db.rollback()
        return _queue_page(request, db, principal, form=form, errors=page_errors(exc), status_code=exc.status)
    return redirect("/reviews", request, f"Your conflict with proposal {proposal_id} is recorded; you will not be "
                    "assigned to it, and any assignment to it still under review is withdrawn.")


def _review_page(request: Request, db: Session, principal: Principal, proposal_id: int, *,
                 form: dict | None = None, errors: dict | None = None, status_code: int = 200):
    row = reviews.my_assignment(db, principal, proposal_id)
    proposal = row.proposal
    criteria = proposal.call.rubric
    saved = {f"score_{i}": str((row.scores or {}).get(c["name"], "")) for i, c in enumerate(criteria)}
    saved |= {"comments_for_applicants": row.comments_for_applicants or "",
              "confidential_comments": row.confidential_comments or ""}
    return render(request, "access/review.html", {
        "row": row, "proposal": proposal, "criteria": criteria, "labels": LABELS,
        "open": proposal.status is ProposalStatus.IN_REVIEW, "form": {**saved, **(form or {})},
        "errors": errors or {}}, status_code=status_code, principal=principal)


@router.get("/reviews/{proposal_id}")
def review_form(request: Request, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if principal is None:
        return login_redirect(request)
    policy.can_read_own_reviews(principal)
    return _review_page(request, db, principal, proposal_id)


def _scores(form: dict[str, Any], criteria: list[dict]) -> dict[str, int]:
    problems, scores = [], {}
    for i, criterion in enumerate(criteria):
        raw = text_of(form, f"score_{i}")
        if raw not in ("1", "2", "3", "4", "5"):
            problems.append(FieldError(("body", f"score_{i}"),
                                       f"score {criterion['name'].replace('_', ' ')} from 1 to 5"))
        else:
            scores[criterion["name"]] = int(raw)
    if problems:
        raise Invalid("; ".join(p.message for p in problems), problems)
    return scores


@router.post("/reviews/{proposal_id}")
def submit_review(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if principal is None:
        return login_redirect(request)
    policy.can_review(principal)
    criteria = reviews.my_assignment(db, principal, proposal_id).proposal.call.rubric
    names = {c["name"]: f"score_{i}" for i, c in enumerate(criteria)}
    try:
        reviews.submit_review(
            db, actor=principal, proposal_id=proposal_id, scores=_scores(form, criteria),
            comments_for_applicants=text_of(form, "comments_for_applicants", limit=MAX_COMMENTS),
            confidential_comments=text_of(form, "confidential_comments", limit=MAX_COMMENTS))
    except DomainError as exc:
        db.rollback()
        errors = page_errors(exc, lambda p: names.get(p[1], "") if p[:1] == ["scores"] and len(p) > 1
                             else (p[0] if p else ""))
        return _review_page(request, db, principal, proposal_id, form=form, errors=errors, status_code=exc.status)
    return redirect("/reviews", request, f"Your review of proposal {proposal_id} is saved. You may revise it until "
                    "the reviews are released to the applicants.")


@router.post("/reviews/{proposal_id}/conflict")
def declare_assigned(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, proposal_id: Id):
    if principal is None:
        return login_redirect(request)
    policy.can_review(principal)
    reviews.my_assignment(db, principal, proposal_id)
    try:
        _declare(db, principal, proposal_id, form)
    except DomainError as exc:
        db.rollback()
        return _review_page(request, db, principal, proposal_id, form=form, errors=page_errors(exc),
                            status_code=exc.status)
    if any(a.proposal_id == proposal_id for a in reviews.my_queue(db, principal)):
        # Reviews already released are final: the declaration informs the panel, and the review stands.
        return redirect(f"/reviews/{proposal_id}", request, f"Your conflict with proposal {proposal_id} is recorded "
                        "for the panel; the reviews are already released, so your review stands.")
    return redirect("/reviews", request, f"Your conflict with proposal {proposal_id} is recorded and the assignment "
                    "withdrawn; the operators will find another reviewer.")
