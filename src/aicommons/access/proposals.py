"""Proposals: written by a principal investigator and team, submitted to an open call, checked, replied to,
appealed, accepted and closed with a final report. Reviews and ranking are in ``reviews.py`` and
``decisions.py``; the state machine is ``lifecycle.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from license_expression import ExpressionError, get_spdx_licensing
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access.calls import accepting_proposals, track_terms
from aicommons.access.common import actor_urn, get_call, load_for_update, move, proposal_urn, refuse_own
from aicommons.access.models import (
    Allocation,
    Appeal,
    AppealStatus,
    Call,
    CallStatus,
    Proposal,
    ProposalMember,
    ProposalStatus,
    Track,
)
from aicommons.errors import Conflict, Forbidden, NotFound, invalid_field
from aicommons.identity import accounts
from aicommons.identity.models import MembershipStatus, MemberState
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger

ACCELERATORS = ("nvidia-h100", "nvidia-h200", "nvidia-gh200", "amd-mi300x")
MAX_TEAM = 50
MAX_KEYWORDS = 12
MAX_DURATION_MONTHS = 36
MAX_RELEASE_MONTHS = 24
OUTPUT_KINDS = ("model", "dataset", "code", "paper", "evaluation", "other")
_SPDX = get_spdx_licensing()


@dataclass(frozen=True)
class ProposalText:
    """Everything an applicant writes; the same shape for a new draft and an edit."""

    track: Track
    title: str
    summary: str
    keywords: list[str]
    requested_hours: int
    accelerator: str
    duration_months: int
    licence_weights: str
    licence_code: str
    licence_data: str
    release_within_months: int
    safety_statement: str
    data_management_plan: str
    team: list[str]  # team members' emails; each must have an account


def spdx(expression: str, field: str) -> str:
    """An SPDX licence id or expression, normalised ("apache-2.0" -> "Apache-2.0"), or a 422 naming the field."""
    try:
        info = _SPDX.validate(expression.strip()) if expression and expression.strip() else None
    except (AttributeError, ExpressionError):  # license_expression raises on some malformed input ("MIT AND")
        info = None
    if info is None or info.errors or not info.normalized_expression:
        raise invalid_field(("body", field), f"'{expression}' is not an SPDX licence identifier or expression "
                            "(for example Apache-2.0, MIT, CC-BY-4.0)")
    return str(info.normalized_expression)


def _check_text(session: Session, call_id: int, pi_id: int, text: ProposalText) -> tuple[dict[str, Any], list[int]]:
    call = get_call(session, call_id)
    terms = track_terms(call, text.track)
    if not text.title.strip():
        raise invalid_field(("body", "title"), "a proposal needs a title")
    if not text.summary.strip():
        raise invalid_field(("body", "summary"), "a proposal needs a public summary")
    if text.requested_hours <= 0:
        raise invalid_field(("body", "requested_hours"), "request a positive number of GPU-hours")
    if text.requested_hours > terms.cap_hours:
        raise invalid_field(("body", "requested_hours"), f"the {text.track.value.replace('_', ' ')} track "
                            f"allows at most {terms.cap_hours:,} GPU-hours per proposal")
    if text.accelerator not in ACCELERATORS:
        raise invalid_field(("body", "accelerator"), f"one of: {', '.join(ACCELERATORS)}")
    if not 1 <= text.duration_months <= MAX_DURATION_MONTHS:
        raise invalid_field(("body", "duration_months"), f"from 1 to {MAX_DURATION_MONTHS} months")
    if not 0 <= text.release_within_months <= MAX_RELEASE_MONTHS:
        raise invalid_field(("body", "release_within_months"), f"from 0 to {MAX_RELEASE_MONTHS} months")
    keywords = sorted({k.strip().lower() for k in text.keywords if k.strip()})
    if len(keywords) > MAX_KEYWORDS:
        raise invalid_field(("body", "keywords"), f"at most {MAX_KEYWORDS} keywords")
    team_ids: list[int] = []
    if len(text.team) > MAX_TEAM:
        raise invalid_field(("body", "team"), f"at most {MAX_TEAM} team members")
    for i, email in enumerate(text.team):
        person = accounts.find_person_by_email(session, email.strip().lower())
        if person is None:
            raise invalid_field(("body", "team", i), f"no account for '{email}'; team members register first")
        if person.id != pi_id and person.id not in team_ids:
            team_ids.append(person.id)
    fields = {
        "track": text.track, "title": text.title.strip()[:300], "summary": text.summary.strip(),
        "keywords": keywords, "requested_hours": text.requested_hours, "accelerator": text.accelerator,
        "duration_months": text.duration_months,
        "licence_weights": spdx(text.licence_weights, "licence_weights"),
        "licence_code": spdx(text.licence_code, "licence_code"),
        "licence_data": spdx(text.licence_data, "licence_data"),
        "release_within_months": text.release_within_months,
        "safety_statement": text.safety_statement.strip(), "data_management_plan": text.data_management_plan.strip(),
    }
    return fields, team_ids


def create_proposal(session: Session, *, actor: Principal, call_id: int, text: ProposalText,
                    renews_allocation_id: int | None = None) -> Proposal:
    """A draft, visible to its team and operators only, written by the signed-in principal investigator."""
    call = get_call(session, call_id)
    if call.status is not CallStatus.OPEN or clock.now() >= call.closes_at:
        raise Conflict(f"call {call.id} is not taking proposals")
    pi = accounts.get_person(session, actor.person_id)
    if pi.institution is None:
        raise invalid_field(("body", "institution"), "a principal investigator needs an institution on record")
    state = session.get(MemberState, pi.institution.country_code)
    if state is None or state.status is MembershipStatus.OBSERVER:
        raise invalid_field(("body", "institution"), f"{pi.institution.name} is in "
                            f"{pi.institution.country_code}, which is not a member or associate member")
    if renews_allocation_id is not None:
        allocation = session.get(Allocation, renews_allocation_id)
        if allocation is None or allocation.pi_id != actor.person_id:
            raise invalid_field(("body", "renews_allocation_id"), "renew one of your own allocations")
    fields, team_ids = _check_text(session, call_id, actor.person_id, text)
    moment = clock.now()
    proposal = Proposal(call_id=call.id, status=ProposalStatus.DRAFT, pi_id=pi.id, institution_id=pi.institution.id,
                        country_code=pi.institution.country_code, renews_allocation_id=renews_allocation_id,
                        created_at=moment, updated_at=moment, **fields)
    proposal.members = [ProposalMember(person_id=pid) for pid in team_ids]
    session.add(proposal)
    session.flush()
    return proposal


def _as_pi(session: Session, actor: Principal, proposal_id: int, doing: str) -> Proposal:
    proposal = load_for_update(session, Proposal, proposal_id, "proposal")
    if proposal.pi_id != actor.person_id:
        raise Forbidden(f"only the principal investigator may {doing}")
    return proposal


def edit_proposal(session: Session, *, actor: Principal, proposal_id: int, text: ProposalText) -> Proposal:
    proposal = _as_pi(session, actor, proposal_id, "edit the proposal")
    if proposal.status is not ProposalStatus.DRAFT:
        raise Conflict(f"proposal {proposal.id} is {proposal.status.value.replace('_', ' ')}; only a draft changes")
    fields, team_ids = _check_text(session, proposal.call_id, actor.person_id, text)
    for name, value in fields.items():
        setattr(proposal, name, value)
    proposal.members = [m for m in proposal.members if m.person_id in team_ids]
    have = {m.person_id for m in proposal.members}
    proposal.members += [ProposalMember(person_id=pid) for pid in team_ids if pid not in have]
    proposal.updated_at = clock.now()
    session.flush()
    return proposal


def submit_proposal(session: Session, *, actor: Principal, proposal_id: int) -> Proposal:
    """Submit while the call is open; the public facts go into the ledger."""
    proposal = _as_pi(session, actor, proposal_id, "submit the proposal")
    # A shared lock on the call: closing it takes the row exclusively, so no submission can slip in
    # between the close and its sweep of submitted proposals into the technical check.
    call = session.scalar(select(Call).where(Call.id == proposal.call_id).with_for_update(read=True, of=Call)
                         .execution_options(populate_existing=True))
    assert call is not None
    moment = clock.now()
    if proposal.status is ProposalStatus.DRAFT and moment >= call.closes_at:
        raise Conflict(f"call {call.id} closed at {ledger.rfc3339(call.closes_at)}; it takes no more proposals")
    if proposal.status is ProposalStatus.DRAFT and not accepting_proposals(call, moment):
        raise Conflict(f"call {call.id} opens for submissions at {ledger.rfc3339(call.opens_at)}")
    _check_text(session, call.id, actor.person_id, text_of(proposal))  # the call's terms still hold
    move(proposal, "submit")
    proposal.submitted_at = proposal.updated_at = moment
    session.flush()
    # No actor: an applicant holds no public office, so the ledger does not name them.
    ledger.record(session, kind="access.proposal.submitted", subject=proposal_urn(proposal.id),
                  actor=None, data=public_facts(proposal))
    return proposal


def public_facts(proposal: Proposal) -> dict[str, Any]:
    """What anyone may know of a submitted proposal. No names of people."""
    return {"call": proposal.call_id, "track": proposal.track.value, "title": proposal.title,
            "summary": proposal.summary, "institution": proposal.institution.name,
            "institution_id": proposal.institution_id, "country": proposal.country_code,
            "requested_hours": proposal.requested_hours}


def text_of(proposal: Proposal) -> ProposalText:
    return ProposalText(
        track=proposal.track, title=proposal.title, summary=proposal.summary, keywords=list(proposal.keywords),
        requested_hours=proposal.requested_hours, accelerator=proposal.accelerator,
        duration_months=proposal.duration_months, licence_weights=proposal.licence_weights,
        licence_code=proposal.licence_code, licence_data=proposal.licence_data,
        release_within_months=proposal.release_within_months, safety_statement=proposal.safety_statement,
        data_management_plan=proposal.data_management_plan, team=[m.person.email for m in proposal.members])


# --- the technical check ---------------------------------------------------------------------------


def record_technical_check(session: Session, *, actor: Principal, proposal_id: int, passed: bool,
                           notes: str) -> Proposal:
    """Eligibility and feasibility on the requested hardware; a failure is a rejection with its rationale."""
    proposal = load_for_update(session, Proposal, proposal_id, "proposal")
    refuse_own(actor, proposal)
    if proposal.status is not ProposalStatus.TECHNICAL_CHECK:
        raise Conflict(f"proposal {proposal.id} is {proposal.status.value.replace('_', ' ')}, "
                       "not in its technical check")
    if not passed and not notes.strip():
        raise invalid_field(("body", "notes"), "a failed technical check needs a written rationale")
    if passed:
        fast = proposal.track is Track.FAST_LANE
        move(proposal, "pass technical check (fast lane)" if fast else "pass technical check")
    else:
        reject(proposal, actor=actor, rationale=notes.strip(), action="reject")
    proposal.technical_check_by_id, proposal.technical_check_notes = actor.person_id, notes.strip() or None
    proposal.updated_at = clock.now()
    session.flush()
    if not passed:
        ledger.record(session, kind="access.proposal.rejected", subject=proposal_urn(proposal.id),
                      actor=actor_urn(actor), data={"call": proposal.call_id, "stage": "technical_check"})
    return proposal


def reject(proposal: Proposal, *, actor: Principal | None, rationale: str, action: str = "reject") -> None:
    stage = proposal.status
    move(proposal, action)
    proposal.rejected_from, proposal.rationale = stage, rationale
    proposal.decided_by_id = actor.person_id if actor else None
    proposal.decided_at = clock.now()


# --- right to reply, appeal, award, final report ----------------------------------------------------


def reply_to_reviews(session: Session, *, actor: Principal, proposal_id: int, reply: str) -> Proposal:
    """Once, before the reply deadline, while the proposal is in its right-to-reply period."""
    proposal = _as_pi(session, actor, proposal_id, "reply to the reviews")
    if proposal.status is not ProposalStatus.RIGHT_TO_REPLY:
        raise Conflict(f"proposal {proposal.id} is {proposal.status.value.replace('_', ' ')}; "
                       "replies are taken only in the right-to-reply period")
    if proposal.reply is not None:
        raise Conflict(f"proposal {proposal.id} already has its reply; a reply is given once")
    assert proposal.reply_due_at is not None
    if clock.now() >= proposal.reply_due_at:
        raise Conflict(f"the reply period ended at {ledger.rfc3339(proposal.reply_due_at)}")
    if not reply.strip():
        raise invalid_field(("body", "reply"), "the reply is empty")
    proposal.reply, proposal.replied_at = reply.strip(), clock.now()
    proposal.updated_at = proposal.replied_at
    return proposal


def appeal_deadline(proposal: Proposal):
    assert proposal.decided_at is not None
    return proposal.decided_at + timedelta(days=proposal.call.appeal_days)


def lodge_appeal(session: Session, *, actor: Principal, proposal_id: int, grounds: str) -> Appeal:
    proposal = _as_pi(session, actor, proposal_id, "appeal")
    if proposal.status is not ProposalStatus.REJECTED:
        raise Conflict(f"proposal {proposal.id} is {proposal.status.value.replace('_', ' ')}; "
                       "only a rejection can be appealed")
    if session.scalar(select(Appeal).where(Appeal.proposal_id == proposal.id)) is not None:
        raise Conflict(f"proposal {proposal.id} has already been appealed; an appeal is lodged once")
    if clock.now() >= appeal_deadline(proposal):
        raise Conflict(f"the appeal period ended at {ledger.rfc3339(appeal_deadline(proposal))}")
    if not grounds.strip():
        raise invalid_field(("body", "grounds"), "give the grounds of the appeal")
    appeal = Appeal(proposal_id=proposal.id, grounds=grounds.strip(), lodged_by_id=actor.person_id,
                    lodged_at=clock.now(), status=AppealStatus.LODGED)
    session.add(appeal)
    session.flush()
    # That an appeal exists is public (so is its decision); the grounds are the applicants' and the panel's.
    ledger.record(session, kind="access.appeal.lodged", subject=proposal_urn(proposal.id), actor=None,
                  data={"call": proposal.call_id})
    return appeal


def decide_appeal(session: Session, *, actor: Principal, proposal_id: int, upheld: bool, decision: str) -> Appeal:
    """Decided by an operator other than the one who decided the rejection; upheld sends it back."""
    appeal = session.scalar(select(Appeal).where(Appeal.proposal_id == proposal_id).with_for_update()
                         .execution_options(populate_existing=True))
    if appeal is None:
        raise NotFound(f"no appeal on proposal {proposal_id}")
    if appeal.status is not AppealStatus.LODGED:
        raise Conflict(f"the appeal on proposal {proposal_id} was already decided")
    proposal = load_for_update(session, Proposal, proposal_id, "proposal")
    refuse_own(actor, proposal)
    if proposal.decided_by_id == actor.person_id:
        raise Forbidden("an appeal is decided by an operator other than the one who decided the rejection")
    if not decision.strip():
        raise invalid_field(("body", "decision"), "the decision on an appeal is written down")
    call_status = proposal.call.status
    if call_status is CallStatus.SLATE_PROPOSED:
        raise Conflict(f"a slate for call {proposal.call_id} is before the council; decide the appeal once the "
                       "council has decided the slate")
    if upheld and proposal.rejected_from is ProposalStatus.TECHNICAL_CHECK and call_status is not CallStatus.CLOSED:
        raise Conflict(f"call {proposal.call_id}'s reviews are over, so an upheld technical appeal could not be "
                       "reviewed in it; dismiss it with that reason and invite a submission to the next call")
    if upheld:
        back_to = proposal.rejected_from
        action = ("uphold appeal: technical check" if back_to is ProposalStatus.TECHNICAL_CHECK
                  else "uphold appeal: ranking")
        move(proposal, action)
        proposal.rationale = proposal.decided_by_id = proposal.decided_at = None
        proposal.updated_at = clock.now()
    appeal.status = AppealStatus.UPHELD if upheld else AppealStatus.DISMISSED
    appeal.decision, appeal.decided_by_id, appeal.decided_at = decision.strip(), actor.person_id, clock.now()
    session.flush()
    ledger.record(session, kind="access.appeal.decided", subject=proposal_urn(proposal.id), actor=actor_urn(actor),
                  data={"call": proposal.call_id, "outcome": appeal.status.value})
    return appeal


def accept_award(session: Session, *, actor: Principal, proposal_id: int) -> Proposal:
    """The PI accepts the award and its openness commitments; the project becomes active."""
    proposal = _as_pi(session, actor, proposal_id, "accept the award")
    move(proposal, "accept award")
    proposal.updated_at = clock.now()
    return proposal


def close_with_report(session: Session, *, actor: Principal, proposal_id: int, summary: str,
                      outputs: list[dict[str, str]]) -> Proposal:
    """The final report lists what came out of the GPU-hours (models, datasets, code, papers)."""
    proposal = _as_pi(session, actor, proposal_id, "file the final report")
    if not summary.strip():
        raise invalid_field(("body", "summary"), "the final report needs a summary")
    for i, output in enumerate(outputs):
        if output.get("kind") not in OUTPUT_KINDS:
            raise invalid_field(("body", "outputs", i, "kind"), f"one of: {', '.join(OUTPUT_KINDS)}")
        if not str(output.get("title", "")).strip():
            raise invalid_field(("body", "outputs", i, "title"), "each output has a title")
    move(proposal, "close with final report")
    proposal.final_report = {"summary": summary.strip(), "outputs": [
        {"kind": o["kind"], "title": str(o["title"]).strip()[:300], "identifier": str(o.get("identifier", ""))[:500]}
        for o in outputs]}
    proposal.closed_at = proposal.updated_at = clock.now()
    session.flush()
    ledger.record(session, kind="access.proposal.closed", subject=proposal_urn(proposal.id), actor=None,
                  data={"call": proposal.call_id, "final_report": proposal.final_report})
    return proposal


def get_proposal(session: Session, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}")
    return proposal


def proposals_of(session: Session, person_id: int) -> list[Proposal]:
    """Proposals the person leads or is on the team of."""
    member_of = select(ProposalMember.proposal_id).where(ProposalMember.person_id == person_id)
    return list(session.scalars(select(Proposal).where((Proposal.pi_id == person_id) | Proposal.id.in_(member_of))
                                .order_by(Proposal.id.desc())))


def call_proposals(session: Session, call_id: int, *statuses: ProposalStatus) -> list[Proposal]:
    query = select(Proposal).where(Proposal.call_id == call_id).order_by(Proposal.id)
    if statuses:
        query = query.where(Proposal.status.in_(statuses))
    return list(session.scalars(query))
