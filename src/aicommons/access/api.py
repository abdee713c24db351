"""The access API: calls, proposals, reviews, ranking, slates and allocations.

Open calls, submitted proposals' public facts, rankings, slates and allocations are public. A proposal in
full is for its applicants, its assigned reviewers, operators and auditors. Applicants see their reviews
anonymised; reviewers' identities and the panel's comments are for operators and auditors only.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from aicommons.access import allocations, calls, decisions, policy, proposals, reviews, statistics
from aicommons.access.calls import TrackTerms
from aicommons.access.models import Appeal, Proposal, ProposalStatus, SlateStatus
from aicommons.access.proposals import ProposalText
from aicommons.access.schemas import (
    AllocationDetailOut,
    AllocationOut,
    AnonymousReviewOut,
    AppealDecisionIn,
    AppealIn,
    AppealOut,
    AssignmentOut,
    AssignmentRunOut,
    CallIn,
    CallOut,
    ConflictIn,
    ExpertiseIn,
    ExpertiseOut,
    FinalReportIn,
    ManualAssignmentIn,
    MemberIn,
    NewProposalIn,
    ProposalIn,
    ProposalOut,
    ProposalPublicOut,
    ReplyIn,
    ReviewIn,
    RevokeIn,
    SlateOut,
    StatisticsLine,
    TechnicalCheckIn,
)
from aicommons.deps import DB, CurrentPrincipal, Viewer
from aicommons.errors import Forbidden, NotFound
from aicommons.governance.models import Motion, MotionStatus
from aicommons.identity.policy import Principal, require_scope

router = APIRouter(prefix="/api/v1")


# --- calls -------------------------------------------------------------------------------------------


def _call_out(call) -> CallOut:
    return CallOut.of(call, calls.accepting_proposals(call))


@router.get("/calls", tags=["calls"], response_model=list[CallOut])
def list_calls(db: DB, viewer: Viewer):
    return [_call_out(c) for c in calls.list_calls(db, include_drafts=policy.sees_draft_calls(viewer))]


@router.post("/calls", tags=["calls"], response_model=CallOut, status_code=status.HTTP_201_CREATED)
def create_call(db: DB, principal: CurrentPrincipal, body: CallIn, response: Response):
    policy.can_run_calls(principal)
    call = calls.create_call(
        db, actor=principal, title=body.title, description=body.description, opens_at=body.opens_at,
        closes_at=body.closes_at, allocation_starts_on=body.allocation_starts_on,
        tracks=[TrackTerms(t.track, t.pool_hours, t.cap_hours, t.min_award_hours) for t in body.tracks],
        rubric=[c.model_dump() for c in body.rubric] if body.rubric else None, min_reviews=body.min_reviews,
        max_load=body.max_load, spread_threshold=body.spread_threshold, funding_threshold=body.funding_threshold,
        policy=body.policy, tolerance=body.tolerance, reply_days=body.reply_days, appeal_days=body.appeal_days)
    response.headers["Location"] = f"/api/v1/calls/{call.id}"
    return _call_out(call)


@router.get("/calls/{call_id}", tags=["calls"], response_model=CallOut)
def get_call(db: DB, viewer: Viewer, call_id: int):
    return _call_out(calls.visible_call(db, call_id, sees_drafts=policy.sees_draft_calls(viewer)))


@router.post("/calls/{call_id}/submit-for-approval", tags=["calls"], response_model=CallOut)
def submit_call_for_approval(db: DB, principal: CurrentPrincipal, call_id: int):
    """Draft the council motion ("approval of a call") with the call's terms attached."""
    policy.can_run_calls(principal)
    return _call_out(calls.submit_for_approval(db, actor=principal, call_id=call_id))


@router.post("/calls/{call_id}/close", tags=["calls"], response_model=CallOut)
def close_call(db: DB, principal: CurrentPrincipal, call_id: int):
    policy.can_run_calls(principal)
    return _call_out(calls.close_call(db, actor=principal, call_id=call_id))


@router.get("/calls/{call_id}/proposals", tags=["calls"], response_model=list[ProposalPublicOut])
def list_call_proposals(db: DB, viewer: Viewer, call_id: int):
    calls.visible_call(db, call_id, sees_drafts=policy.sees_draft_calls(viewer))
    return [ProposalPublicOut.of(p) for p in proposals.call_proposals(db, call_id) if p.status
            is not ProposalStatus.DRAFT]


@router.get("/calls/{call_id}/ranking", tags=["calls"])
def call_ranking(db: DB, viewer: Viewer, call_id: int) -> list[dict]:
    """The published ranking: score, rank, fundable, per-criterion means; never a reviewer."""
    call = calls.visible_call(db, call_id, sees_drafts=policy.sees_draft_calls(viewer))
    if call.ranked_at is None:
        raise NotFound(f"call {call_id} has not been ranked yet")
    return decisions.published_ranking(db, call)


def _public_slates(db: DB, viewer: Principal | None, call_id: int):
    """Slates whose motion is before the council (noticed) or decided; drafts are the operators'."""
    slates = decisions.slates_of(db, call_id)
    if policy.sees_panel(viewer):
        return slates
    motions = {m.id: m for m in db.scalars(select(Motion).where(
        Motion.id.in_([s.motion_id for s in slates if s.motion_id])))}
    return [s for s in slates if s.motion_id and motions[s.motion_id].status is not MotionStatus.DRAFT]


@router.get("/calls/{call_id}/slates", tags=["slates"], response_model=list[SlateOut])
def list_slates(db: DB, viewer: Viewer, call_id: int):
    calls.visible_call(db, call_id, sees_drafts=policy.sees_draft_calls(viewer))
    return [SlateOut.of(s, decisions.is_supplementary(db, s)) for s in _public_slates(db, viewer, call_id)]


@router.get("/calls/{call_id}/slate", tags=["slates"], response_model=SlateOut)
def current_slate(db: DB, viewer: Viewer, call_id: int):
    """The approved slate, or else the one before the council: its published inputs, result and digest."""
    calls.visible_call(db, call_id, sees_drafts=policy.sees_draft_calls(viewer))
    slates = _public_slates(db, viewer, call_id)
    chosen = next((s for s in slates if s.status is SlateStatus.APPROVED), None) or next(
        (s for s in slates if s.status is SlateStatus.PROPOSED), None)
    if chosen is None:
        raise NotFound(f"call {call_id} has no slate before the council or approved")
    return SlateOut.of(chosen, decisions.is_supplementary(db, chosen))


@router.post("/calls/{call_id}/slates", tags=["slates"], response_model=SlateOut,
             status_code=status.HTTP_201_CREATED)
def propose_slate(db: DB, principal: CurrentPrincipal, call_id: int):
    """Compute the slate from the ranking and draft the council motion to approve it."""
    policy.can_run_calls(principal)
    row = decisions.propose_slate(db, actor=principal, call_id=call_id)
    return SlateOut.of(row, decisions.is_supplementary(db, row))


@router.post("/calls/{call_id}/rank", tags=["calls"], response_model=CallOut)
def rank_call(db: DB, principal: CurrentPrincipal, call_id: int):
    policy.can_run_calls(principal)
    return _call_out(decisions.rank_call(db, actor=principal, call_id=call_id))


@router.post("/calls/{call_id}/release-reviews", tags=["reviews"], response_model=CallOut)
def release_reviews(db: DB, principal: CurrentPrincipal, call_id: int):
    """Show applicants their (anonymised) reviews and open the right to reply."""
    policy.can_run_calls(principal)
    return _call_out(reviews.release_reviews(db, actor=principal, call_id=call_id))


@router.post("/calls/{call_id}/assignments", tags=["reviews"], response_model=AssignmentRunOut)
def assign_automatically(db: DB, principal: CurrentPrincipal, call_id: int):
    """Assign reviewers to every proposal in review: load-balanced, by expertise, never against a conflict."""
    policy.can_run_calls(principal)
    before = len(reviews.live_assignments(db, call_id))
    result = reviews.assign_automatically(db, actor=principal, call_id=call_id)
    return AssignmentRunOut(assigned=len(reviews.live_assignments(db, call_id)) - before,
                            total_match=result.total_match, short=result.short)


@router.get("/calls/{call_id}/assignments", tags=["reviews"], response_model=list[AssignmentOut])
def list_assignments(db: DB, principal: CurrentPrincipal, call_id: int):
    policy.can_read_panel(principal)
    calls.visible_call(db, call_id, sees_drafts=True)
    # An operator or auditor who is also an applicant does not see who reviews their own proposal.
    return [AssignmentOut.of(a) for a in reviews.live_assignments(db, call_id)
            if not policy.is_applicant(principal, a.proposal)]


# --- proposals -----------------------------------------------------------------------------------------


def _text(body: ProposalIn) -> ProposalText:
    return ProposalText(**body.model_dump(exclude={"renews_allocation_id"}))


def _full(db: DB, proposal: Proposal) -> ProposalOut:
    return ProposalOut.full(proposal, db.scalar(select(Appeal).where(Appeal.proposal_id == proposal.id)))


def _readable(db: DB, viewer: Principal | None, proposal_id: int) -> Proposal:
    proposal = proposals.get_proposal(db, proposal_id)
    assigned = viewer is not None and any(a.reviewer_id == viewer.person_id and a.proposal_id == proposal_id
                                          for a in reviews.my_queue(db, viewer))
    if proposal.status is ProposalStatus.DRAFT and not policy.is_applicant(viewer, proposal) \
            and not policy.sees_panel(viewer):
        raise NotFound(f"no proposal {proposal_id}")
    policy.can_read_proposal(viewer, proposal, assigned=assigned)
    return proposal


@router.post("/calls/{call_id}/proposals", tags=["proposals"], response_model=ProposalOut,
             status_code=status.HTTP_201_CREATED)
def create_proposal(db: DB, principal: CurrentPrincipal, call_id: int, body: NewProposalIn, response: Response):
    """A draft proposal by the signed-in principal investigator; submit it before the call closes."""
    policy.can_apply(principal)
    calls.visible_call(db, call_id, sees_drafts=False)
    proposal = proposals.create_proposal(db, actor=principal, call_id=call_id, text=_text(body),
                                         renews_allocation_id=body.renews_allocation_id)
    response.headers["Location"] = f"/api/v1/proposals/{proposal.id}"
    return _full(db, proposal)


@router.get("/proposals/mine", tags=["proposals"], response_model=list[ProposalOut])
def my_proposals(db: DB, principal: CurrentPrincipal):
    require_scope(principal, "read")
    return [_full(db, p) for p in proposals.proposals_of(db, principal.person_id)]


@router.get("/proposals/{proposal_id}", tags=["proposals"], response_model=ProposalOut)
def get_proposal(db: DB, principal: CurrentPrincipal, proposal_id: int):
    return _full(db, _readable(db, principal, proposal_id))


@router.get("/proposals/{proposal_id}/public", tags=["proposals"], response_model=ProposalPublicOut)
def get_public_proposal(db: DB, proposal_id: int):
    proposal = proposals.get_proposal(db, proposal_id)
    if proposal.status is ProposalStatus.DRAFT:
        raise NotFound(f"no proposal {proposal_id}")
    return ProposalPublicOut.of(proposal)


@router.put("/proposals/{proposal_id}", tags=["proposals"], response_model=ProposalOut)
def edit_proposal(db: DB, principal: CurrentPrincipal, proposal_id: int, body: ProposalIn):
    policy.can_apply(principal)
    return _full(db, proposals.edit_proposal(db, actor=principal, proposal_id=proposal_id, text=_text(body)))


@router.post("/proposals/{proposal_id}/submit", tags=["proposals"], response_model=ProposalOut)
def submit_proposal(db: DB, principal: CurrentPrincipal, proposal_id: int):
    policy.can_apply(principal)
    return _full(db, proposals.submit_proposal(db, actor=principal, proposal_id=proposal_id))


@router.post("/proposals/{proposal_id}/technical-check", tags=["proposals"], response_model=ProposalOut)
def technical_check(db: DB, principal: CurrentPrincipal, proposal_id: int, body: TechnicalCheckIn):
    policy.can_run_calls(principal)
    return _full(db, proposals.record_technical_check(db, actor=principal, proposal_id=proposal_id,
                                                     passed=body.passed, notes=body.notes))


@router.get("/proposals/{proposal_id}/reviews", tags=["reviews"], response_model=list[AnonymousReviewOut])
def proposal_reviews(db: DB, principal: CurrentPrincipal, proposal_id: int):
    """The reviews as applicants see them once released: numbered, never named, no panel comments."""
    proposal = proposals.get_proposal(db, proposal_id)
    if not (policy.is_applicant(principal, proposal) or policy.sees_panel(principal)):
        raise Forbidden("a proposal's reviews are for its applicants and the panel's operators")
    require_scope(principal, "read")
    return [AnonymousReviewOut(reviewer=r.label, scores=r.scores, weighted_score=str(r.weighted),
                               comments=r.comments) for r in reviews.reviews_for_applicants(db, proposal)]


@router.get("/proposals/{proposal_id}/assignments", tags=["reviews"], response_model=list[AssignmentOut])
def proposal_assignments(db: DB, principal: CurrentPrincipal, proposal_id: int):
    """Who reviews the proposal, with the reviews in full: for operators and auditors only."""
    policy.can_read_panel(principal)
    proposal = proposals.get_proposal(db, proposal_id)
    if policy.is_applicant(principal, proposal):
        raise Forbidden(f"you are an applicant on proposal {proposal_id}; its reviewers are not shown to you")
    return [AssignmentOut.of(a) for a in reviews.live_assignments(db, proposal.call_id)
            if a.proposal_id == proposal_id]


@router.post("/proposals/{proposal_id}/assignments", tags=["reviews"], response_model=AssignmentOut,
             status_code=status.HTTP_201_CREATED)
def assign_manually(db: DB, principal: CurrentPrincipal, proposal_id: int, body: ManualAssignmentIn):
    """Assign a reviewer by hand. A conflict of interest is refused (409) unless justified; the override is
    recorded in the ledger without the reviewer or the justification."""
    policy.can_run_calls(principal)
    return AssignmentOut.of(reviews.assign_manually(db, actor=principal, proposal_id=proposal_id,
                                                    reviewer_id=body.reviewer_id, justification=body.justification))


@router.delete("/assignments/{assignment_id}", tags=["reviews"], status_code=status.HTTP_204_NO_CONTENT)
def withdraw_assignment(db: DB, principal: CurrentPrincipal, assignment_id: int):
    policy.can_run_calls(principal)
    reviews.withdraw_assignment(db, actor=principal, assignment_id=assignment_id)


@router.post("/proposals/{proposal_id}/reply", tags=["proposals"], response_model=ProposalOut)
def reply(db: DB, principal: CurrentPrincipal, proposal_id: int, body: ReplyIn):
    policy.can_apply(principal)
    return _full(db, proposals.reply_to_reviews(db, actor=principal, proposal_id=proposal_id, reply=body.reply))


@router.post("/proposals/{proposal_id}/appeal", tags=["proposals"], response_model=AppealOut,
             status_code=status.HTTP_201_CREATED)
def lodge_appeal(db: DB, principal: CurrentPrincipal, proposal_id: int, body: AppealIn):
    policy.can_apply(principal)
    return AppealOut.of(proposals.lodge_appeal(db, actor=principal, proposal_id=proposal_id, grounds=body.grounds))


@router.post("/proposals/{proposal_id}/appeal/decision", tags=["proposals"], response_model=AppealOut)
def decide_appeal(db: DB, principal: CurrentPrincipal, proposal_id: int, body: AppealDecisionIn):
    """Decided by an operator other than the one who decided the rejection."""
    policy.can_run_calls(principal)
    return AppealOut.of(proposals.decide_appeal(db, actor=principal, proposal_id=proposal_id, upheld=body.upheld,
                                                decision=body.decision))


@router.post("/proposals/{proposal_id}/accept", tags=["proposals"], response_model=ProposalOut)
def accept_award(db: DB, principal: CurrentPrincipal, proposal_id: int):
    policy.can_apply(principal)
    return _full(db, proposals.accept_award(db, actor=principal, proposal_id=proposal_id))


@router.post("/proposals/{proposal_id}/final-report", tags=["proposals"], response_model=ProposalOut)
def final_report(db: DB, principal: CurrentPrincipal, proposal_id: int, body: FinalReportIn):
    policy.can_apply(principal)
    return _full(db, proposals.close_with_report(db, actor=principal, proposal_id=proposal_id, summary=body.summary,
                                                 outputs=[o.model_dump() for o in body.outputs]))


# --- reviewers -----------------------------------------------------------------------------------------


@router.get("/reviewers/me/expertise", tags=["reviews"], response_model=ExpertiseOut)
def my_expertise(db: DB, principal: CurrentPrincipal):
    policy.can_read_own_reviews(principal)
    profile = reviews.expertise_of(db, principal.person_id)
    return ExpertiseOut(keywords=profile.keywords if profile else [], max_load=profile.max_load if profile else None)


@router.put("/reviewers/me/expertise", tags=["reviews"], response_model=ExpertiseOut)
def set_expertise(db: DB, principal: CurrentPrincipal, body: ExpertiseIn):
    policy.can_review(principal)
    profile = reviews.set_expertise(db, actor=principal, keywords=body.keywords, max_load=body.max_load)
    return ExpertiseOut(keywords=profile.keywords, max_load=profile.max_load)


@router.get("/reviews/queue", tags=["reviews"], response_model=list[AssignmentOut])
def review_queue(db: DB, principal: CurrentPrincipal):
    """The proposals the signed-in reviewer is assigned, with their own reviews."""
    policy.can_read_own_reviews(principal)
    return [AssignmentOut.of(a) for a in reviews.my_queue(db, principal)]


@router.put("/proposals/{proposal_id}/review", tags=["reviews"], response_model=AssignmentOut)
def submit_review(db: DB, principal: CurrentPrincipal, proposal_id: int, body: ReviewIn):
    """Score every criterion 1 to 5. Only an assigned reviewer may (403 otherwise)."""
    policy.can_review(principal)
    return AssignmentOut.of(reviews.submit_review(
        db, actor=principal, proposal_id=proposal_id, scores=body.scores,
        comments_for_applicants=body.comments_for_applicants, confidential_comments=body.confidential_comments))


@router.post("/proposals/{proposal_id}/conflicts", tags=["reviews"], status_code=status.HTTP_201_CREATED)
def declare_conflict(db: DB, principal: CurrentPrincipal, proposal_id: int, body: ConflictIn) -> dict:
    """Declare a conflict with a proposal; any assignment to it is withdrawn. The reason stays with the panel."""
    policy.can_review(principal)
    row = reviews.declare_conflict(db, actor=principal, proposal_id=proposal_id, reason=body.reason)
    return {"proposal": row.proposal_id, "declared_at": row.declared_at}


# --- allocations -----------------------------------------------------------------------------------------


@router.get("/allocations", tags=["allocations"], response_model=list[AllocationOut])
def list_allocations(db: DB, call: int | None = None, member_state: str | None = None):
    return [AllocationOut.of(a) for a in allocations.list_allocations(db, call_id=call, member_state=member_state)]


@router.get("/allocations/mine", tags=["allocations"], response_model=list[AllocationOut])
def my_allocations(db: DB, principal: CurrentPrincipal):
    require_scope(principal, "read")
    return [AllocationOut.of(a) for a in allocations.list_allocations(db, person_id=principal.person_id)]


def _detail(allocation) -> AllocationDetailOut:
    return AllocationDetailOut(**AllocationOut.of(allocation).model_dump(),
                               principal_investigator=allocation.pi.display_name,
                               members=[m.person.email for m in allocation.members])


@router.get("/allocations/{allocation_id}", tags=["allocations"], response_model=AllocationOut | AllocationDetailOut)
def get_allocation(db: DB, viewer: Viewer, allocation_id: int):
    """Public facts; members and operators also see who is on it."""
    allocation = allocations.get_allocation(db, allocation_id)
    if viewer is not None and (allocations.is_member(allocation, viewer.person_id) or policy.sees_panel(viewer)):
        return _detail(allocation)
    return AllocationOut.of(allocation)


@router.post("/allocations/{allocation_id}/members", tags=["allocations"], response_model=AllocationDetailOut)
def add_member(db: DB, principal: CurrentPrincipal, allocation_id: int, body: MemberIn):
    require_scope(principal, "write")
    return _detail(allocations.add_member(db, actor=principal, allocation_id=allocation_id, email=body.email))


@router.delete("/allocations/{allocation_id}/members/{person_id}", tags=["allocations"],
               response_model=AllocationDetailOut)
def remove_member(db: DB, principal: CurrentPrincipal, allocation_id: int, person_id: int):
    require_scope(principal, "write")
    return _detail(allocations.remove_member(db, actor=principal, allocation_id=allocation_id, person_id=person_id))


@router.post("/allocations/{allocation_id}/revoke", tags=["allocations"], response_model=AllocationOut)
def revoke_allocation(db: DB, principal: CurrentPrincipal, allocation_id: int, body: RevokeIn):
    policy.can_run_calls(principal)
    return AllocationOut.of(allocations.revoke(db, actor=principal, allocation_id=allocation_id, reason=body.reason))


@router.post("/allocations/expire", tags=["allocations"], response_model=list[AllocationOut])
def expire_allocations(db: DB, principal: CurrentPrincipal):
    """Mark active allocations whose last day has passed as expired."""
    policy.can_run_calls(principal)
    return [AllocationOut.of(a) for a in allocations.expire_ended(db)]


@router.get("/access/statistics", tags=["allocations"])
def access_statistics(db: DB, call: int | None = None) -> dict:
    """Per member state and per track: proposals, GPU-hours requested and awarded, allocations; and each
    state's share of the hours granted against its contribution share."""
    by_state, by_track = statistics.by_state_and_track(db, call)
    return {
        "by_member_state": [StatisticsLine(**vars(line)).model_dump() for line in by_state],
        "by_track": [StatisticsLine(**vars(line)).model_dump() for line in by_track],
        "shares": [{"member_state": s.member_state, "awarded_hours": s.awarded_hours,
                    "allocated_share": str(s.allocated_share),
                    "contribution_share": str(s.contribution_share) if s.contribution_share is not None else None}
                   for s in statistics.shares(db)],
    }
