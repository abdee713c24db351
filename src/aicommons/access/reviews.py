"""Peer review: reviewers' expertise, conflicts of interest (enforced), assignment, the review form,
and what applicants may see of it (the reviews, anonymised; never who wrote them or the panel's notes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access import assignment, coi, ranking
from aicommons.access.common import (
    actor_urn,
    load_for_update,
    move,
    proposal_urn,
    refuse_own,
    rubric_of,
)
from aicommons.access.models import (
    AssignmentStatus,
    Call,
    CallStatus,
    ConflictDeclaration,
    Proposal,
    ProposalStatus,
    ReviewAssignment,
    ReviewerProfile,
)
from aicommons.errors import Conflict, Forbidden, NotFound, invalid_field
from aicommons.identity import accounts
from aicommons.identity.models import Affiliation, Institution, InstitutionAlias, Person, Role, RoleGrant
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger

RECENT_AFFILIATION = timedelta(days=365)  # "works or worked in the last 12 months"
MAX_EXPERTISE = 30
LIVE = (AssignmentStatus.ASSIGNED, AssignmentStatus.SUBMITTED)


# --- reviewers' expertise ----------------------------------------------------------------------------


def set_expertise(session: Session, *, actor: Principal, keywords: list[str], max_load: int | None) -> ReviewerProfile:
    words = sorted({k.strip().lower() for k in keywords if k.strip()})
    if len(words) > MAX_EXPERTISE:
        raise invalid_field(("body", "keywords"), f"at most {MAX_EXPERTISE} keywords")
    if max_load is not None and not 1 <= max_load <= 100:
        raise invalid_field(("body", "max_load"), "from 1 to 100 proposals per call")
    profile = session.get(ReviewerProfile, actor.person_id)
    if profile is None:
        profile = ReviewerProfile(person_id=actor.person_id, keywords=words, max_load=max_load,
                                  updated_at=clock.now())
        session.add(profile)
    else:
        profile.keywords, profile.max_load, profile.updated_at = words, max_load, clock.now()
    session.flush()
    return profile


def expertise_of(session: Session, person_id: int) -> ReviewerProfile | None:
    return session.get(ReviewerProfile, person_id)


# --- conflicts of interest: building the profiles ------------------------------------------------------


class _Organisations:
    """Organisation keys of every institution, loaded once per computation."""

    def __init__(self, session: Session) -> None:
        aliases: dict[int, list[str]] = defaultdict(list)
        for alias in session.scalars(select(InstitutionAlias)):
            aliases[alias.institution_id].append(alias.alias)
        self.keys: dict[int, frozenset[str]] = {}
        self.by_domain: dict[str, int] = {}
        for inst in session.scalars(select(Institution)):
            keys = {coi.institution_key(inst.id), coi.name_key(inst.name)}
            keys |= {coi.name_key(a) for a in aliases[inst.id]}
            for d in inst.domains:
                keys.add("domain:" + d.domain)
                self.by_domain[d.domain] = inst.id
            self.keys[inst.id] = frozenset(keys)

    def of_email(self, email: str) -> set[str]:
        """Keys of the institution that owns the email's domain (or a parent of it), if it is registered."""
        labels = email.rsplit("@", 1)[-1].lower().split(".")
        for i in range(len(labels) - 1):
            owner = self.by_domain.get(".".join(labels[i:]))
            if owner is not None:
                return set(self.keys[owner])
        return set()


def reviewer_profiles(session: Session, reviewer_ids: list[int] | None = None) -> list[coi.ReviewerProfile]:
    """Every active reviewer (or the ones named), with what makes them conflicted."""
    orgs = _Organisations(session)
    query = (select(Person).join(RoleGrant, RoleGrant.person_id == Person.id)
             .where(RoleGrant.role == Role.REVIEWER, RoleGrant.revoked_at.is_(None), Person.is_active.is_(True)))
    if reviewer_ids is not None:
        query = select(Person).where(Person.id.in_(reviewer_ids))
    people = {p.id: p for p in session.scalars(query)}
    since = clock.now().date() - RECENT_AFFILIATION
    recent: dict[int, set[int]] = defaultdict(set)
    for aff in session.scalars(select(Affiliation).where(Affiliation.person_id.in_(people))):
        if aff.ended_on is None or aff.ended_on >= since:
            recent[aff.person_id].add(aff.institution_id)
    delegates: dict[int, set[str]] = defaultdict(set)
    for grant in session.scalars(select(RoleGrant).where(RoleGrant.person_id.in_(people),
                                                         RoleGrant.role == Role.DELEGATE,
                                                         RoleGrant.revoked_at.is_(None))):
        if grant.member_state_code:
            delegates[grant.person_id].add(grant.member_state_code)
    declared: dict[int, set[int]] = defaultdict(set)
    for d in session.scalars(select(ConflictDeclaration).where(ConflictDeclaration.reviewer_id.in_(people))):
        declared[d.reviewer_id].add(d.proposal_id)
    expertise = {p.person_id: p for p in session.scalars(select(ReviewerProfile)
                                                         .where(ReviewerProfile.person_id.in_(people)))}
    profiles = []
    for pid, person in sorted(people.items()):
        keys = orgs.of_email(person.email) | coi.domain_keys(person.email.rsplit("@", 1)[-1])
        institutions = recent[pid] | ({person.institution_id} if person.institution_id else set())
        for inst_id in institutions:
            keys |= orgs.keys.get(inst_id, frozenset())
        own = expertise.get(pid)
        profiles.append(coi.ReviewerProfile(
            person_id=pid, organisation_keys=frozenset(keys), delegate_of=frozenset(delegates[pid]),
            declared=frozenset(declared[pid]), keywords=frozenset(own.keywords if own else ()),
            max_load=(own.max_load if own and own.max_load else 0)))
    return profiles


def proposal_profiles(session: Session, proposals: list[Proposal]) -> list[coi.ProposalProfile]:
    orgs = _Organisations(session)
    profiles = []
    for proposal in proposals:
        people = [proposal.pi, *(m.person for m in proposal.members)]
        keys = set(orgs.keys.get(proposal.institution_id, frozenset()))
        countries = {proposal.country_code}
        for person in people:
            keys |= orgs.of_email(person.email)
            if person.institution is not None:
                keys |= orgs.keys.get(person.institution.id, frozenset())
                countries.add(person.institution.country_code)
        profiles.append(coi.ProposalProfile(
            proposal_id=proposal.id, organisation_keys=frozenset(keys), countries=frozenset(countries),
            people=frozenset(p.id for p in people), keywords=frozenset(proposal.keywords)))
    return profiles


def call_applicants(session: Session, call_id: int) -> coi.CallApplicants:
    """Everyone on any submitted proposal of the call, whatever became of it."""
    proposals = list(session.scalars(select(Proposal).where(Proposal.call_id == call_id,
                                                            Proposal.status != ProposalStatus.DRAFT)))
    people = {p.pi_id for p in proposals} | {m.person_id for p in proposals for m in p.members}
    return coi.CallApplicants(frozenset(people))


def conflicts_of(session: Session, reviewer_id: int, proposal: Proposal) -> list[coi.Reason]:
    reviewers = reviewer_profiles(session, [reviewer_id])
    if not reviewers:
        raise NotFound(f"no reviewer {reviewer_id}")
    (profile,) = proposal_profiles(session, [proposal])
    return coi.reasons(reviewers[0], profile, call_applicants(session, proposal.call_id))


# --- assignment ----------------------------------------------------------------------------------------


def live_assignments(session: Session, call_id: int) -> list[ReviewAssignment]:
    return list(session.scalars(select(ReviewAssignment).join(Proposal)
                                .where(Proposal.call_id == call_id, ReviewAssignment.status.in_(LIVE))
                                .order_by(ReviewAssignment.id)))


def _reviewing_call(session: Session, call_id: int) -> Call:
    call = load_for_update(session, Call, call_id, "call")
    if call.status is not CallStatus.CLOSED:
        raise Conflict(f"call {call.id} is {call.status.value.replace('_', ' ')}; reviewers are assigned once "
                       "it has closed and before its slate goes to the council")
    return call


def assign_automatically(session: Session, *, actor: Principal, call_id: int) -> assignment.AssignmentResult:
    """Fill every proposal in review up to the call's minimum reviews; manual assignments are kept."""
    call = _reviewing_call(session, call_id)
    if actor.person_id in call_applicants(session, call.id).people:
        raise Forbidden("an applicant in this call does not assign its reviewers; another operator does")
    proposals = [p for p in session.scalars(select(Proposal).where(Proposal.call_id == call.id,
                                                                     Proposal.status == ProposalStatus.IN_REVIEW)
                                             .order_by(Proposal.id))]
    reviewers = [_with_load(r, call.max_load) for r in reviewer_profiles(session)]
    existing = [(a.proposal_id, a.reviewer_id) for a in live_assignments(session, call.id)]
    # A reviewer who lost the role keeps the reviews already assigned, but takes no more.
    gone = sorted({rid for _, rid in existing} - {r.person_id for r in reviewers})
    reviewers += [_with_load(r, 0) for r in reviewer_profiles(session, gone)] if gone else []
    in_review = {p.id for p in proposals}
    result = assignment.assign(reviewers, proposal_profiles(session, proposals),
                               reviews_per_proposal=call.min_reviews,
                               existing=[pair for pair in existing if pair[0] in in_review],
                               applicants=call_applicants(session, call.id))
    have = set(existing)
    by_id = {r.person_id: r for r in reviewers}
    profiles = {p.proposal_id: p for p in proposal_profiles(session, proposals)}
    for proposal_id, reviewer_id in result.pairs:
        if (proposal_id, reviewer_id) not in have:
            _add_assignment(session, proposal_id, reviewer_id, actor=actor, automatic=True,
                            match=assignment.match(by_id[reviewer_id], profiles[proposal_id]))
    session.flush()
    return result


def _with_load(profile: coi.ReviewerProfile, call_limit: int) -> coi.ReviewerProfile:
    return replace(profile, max_load=min(profile.max_load or call_limit, call_limit))


def _add_assignment(session: Session, proposal_id: int, reviewer_id: int, *, actor: Principal, automatic: bool,
                    match: int, override: list[coi.Reason] | None = None,
                    justification: str | None = None) -> ReviewAssignment:
    row = session.scalar(select(ReviewAssignment).where(ReviewAssignment.proposal_id == proposal_id,
                                                        ReviewAssignment.reviewer_id == reviewer_id))
    if row is None:
        row = ReviewAssignment(proposal_id=proposal_id, reviewer_id=reviewer_id)
        session.add(row)
    row.status, row.automatic, row.match = AssignmentStatus.ASSIGNED, automatic, match
    row.assigned_by_id, row.assigned_at = actor.person_id, clock.now()
    row.override_reasons = [r.value for r in override] if override else None
    row.override_justification = justification
    # A reassignment after a withdrawal starts a fresh review.
    row.scores = row.comments_for_applicants = row.confidential_comments = row.submitted_at = None
    return row


def assign_manually(session: Session, *, actor: Principal, proposal_id: int, reviewer_id: int,
                    justification: str | None = None) -> ReviewAssignment:
    """Assign one reviewer by hand; a conflict is refused unless overridden with a written justification."""
    proposal = load_for_update(session, Proposal, proposal_id, "proposal")
    refuse_own(actor, proposal)
    _reviewing_call(session, proposal.call_id)
    if proposal.status is not ProposalStatus.IN_REVIEW:
        raise Conflict(f"proposal {proposal.id} is {proposal.status.value.replace('_', ' ')}, not in review")
    person = accounts.get_person(session, reviewer_id)
    if not any(g.role is Role.REVIEWER for g in person.active_grants):
        raise invalid_field(("body", "reviewer_id"), f"person {reviewer_id} is not a reviewer")
    live = {a.reviewer_id for a in live_assignments(session, proposal.call_id) if a.proposal_id == proposal.id}
    if reviewer_id in live:
        raise Conflict(f"person {reviewer_id} already reviews proposal {proposal.id}")
    reviewer = reviewer_profiles(session, [reviewer_id])[0]
    (profile,) = proposal_profiles(session, [proposal])
    reasons = coi.reasons(reviewer, profile, call_applicants(session, proposal.call_id))
    justification = (justification or "").strip() or None
    if reasons and justification is None:
        raise Conflict(f"conflict of interest ({', '.join(r.value.replace('_', ' ') for r in reasons)}); "
                       "an operator may override it only with a written justification")
    call = proposal.call
    load = sum(1 for a in live_assignments(session, call.id) if a.reviewer_id == reviewer_id)
    own = expertise_of(session, reviewer_id)
    cap = min(own.max_load or call.max_load, call.max_load) if own else call.max_load
    if load >= cap and justification is None:
        raise Conflict(f"person {reviewer_id} already reviews {load} proposals in this call, the most allowed "
                       f"({cap}); an operator may exceed it only with a written justification")
    row = _add_assignment(session, proposal.id, reviewer_id, actor=actor, automatic=False,
                          match=assignment.match(reviewer, profile), override=reasons or None,
                          justification=justification if reasons or load >= cap else None)
    session.flush()
    if reasons:
        # Public: that the rule was set aside on this proposal and which rule. Not who, not why.
        ledger.record(session, kind="access.conflict.overridden", subject=proposal_urn(proposal.id),
                      actor=actor_urn(actor), data={"call": proposal.call_id, "rules": [r.value for r in reasons]})
    return row


def withdraw_assignment(session: Session, *, actor: Principal, assignment_id: int) -> ReviewAssignment:
    found = session.get(ReviewAssignment, assignment_id)
    if found is None:
        raise NotFound(f"no assignment {assignment_id}")
    refuse_own(actor, load_for_update(session, Proposal, found.proposal_id, "proposal"))
    row = load_for_update(session, ReviewAssignment, assignment_id, "assignment")
    if row.status is AssignmentStatus.WITHDRAWN:
        raise Conflict(f"assignment {row.id} is already withdrawn")
    if row.proposal.status is not ProposalStatus.IN_REVIEW:
        raise Conflict(f"proposal {row.proposal_id} is no longer in review")
    row.status = AssignmentStatus.WITHDRAWN
    return row


def declare_conflict(session: Session, *, actor: Principal, proposal_id: int, reason: str) -> ConflictDeclaration:
    """A reviewer's own declaration; it withdraws any assignment to that proposal."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.status is ProposalStatus.DRAFT:
        raise NotFound(f"no proposal {proposal_id}")
    proposal = load_for_update(session, Proposal, proposal_id, "proposal")
    if not reason.strip():
        raise invalid_field(("body", "reason"), "say briefly what the conflict is (the panel sees it, no one else)")
    existing = session.scalar(select(ConflictDeclaration).where(ConflictDeclaration.reviewer_id == actor.person_id,
                                                                ConflictDeclaration.proposal_id == proposal_id))
    if existing is not None:
        raise Conflict(f"you already declared a conflict with proposal {proposal_id}")
    row = ConflictDeclaration(reviewer_id=actor.person_id, proposal_id=proposal_id, reason=reason.strip(),
                              declared_at=clock.now())
    session.add(row)
    # Released reviews are final: after release the declaration is for the panel and the review stands.
    if proposal.status in (ProposalStatus.SUBMITTED, ProposalStatus.TECHNICAL_CHECK, ProposalStatus.IN_REVIEW):
        for a in session.scalars(select(ReviewAssignment).where(ReviewAssignment.proposal_id == proposal_id,
                                                                ReviewAssignment.reviewer_id == actor.person_id,
                                                                ReviewAssignment.status.in_(LIVE))):
            a.status = AssignmentStatus.WITHDRAWN
    session.flush()
    return row


# --- the review ------------------------------------------------------------------------------------------


def my_assignment(session: Session, actor: Principal, proposal_id: int) -> ReviewAssignment:
    """The reviewer's live assignment to this proposal, or 403: reviewers see only what they review."""
    row = session.scalar(select(ReviewAssignment).where(ReviewAssignment.proposal_id == proposal_id,
                                                        ReviewAssignment.reviewer_id == actor.person_id,
                                                        ReviewAssignment.status.in_(LIVE))
                         .execution_options(populate_existing=True))
    if row is None:
        raise Forbidden(f"you are not assigned to review proposal {proposal_id}")
    if row.override_reasons is None and row.proposal.status is ProposalStatus.IN_REVIEW:
        # A conflict can arise after assignment (a move, a new delegation): it bars the reviewer from then on.
        arisen = conflicts_of(session, actor.person_id, row.proposal)
        if arisen:
            raise Forbidden(f"a conflict of interest ({', '.join(r.value.replace('_', ' ') for r in arisen)}) "
                            f"has arisen since you were assigned to proposal {proposal_id}; tell the panel")
    return row


def my_queue(session: Session, actor: Principal) -> list[ReviewAssignment]:
    return list(session.scalars(select(ReviewAssignment).where(ReviewAssignment.reviewer_id == actor.person_id,
                                                               ReviewAssignment.status.in_(LIVE))
                                .order_by(ReviewAssignment.id.desc())))


def submit_review(session: Session, *, actor: Principal, proposal_id: int, scores: dict[str, Any],
                  comments_for_applicants: str, confidential_comments: str = "") -> ReviewAssignment:
    """Score every rubric criterion from 1 to 5; may be revised until the reviews are released."""
    # Lock the proposal first (release, withdrawal and declarations lock it too), then read the
    # assignment afresh under that lock: a review never lands on a withdrawn or released assignment.
    proposal = load_for_update(session, Proposal, proposal_id, "proposal")
    row = my_assignment(session, actor, proposal_id)
    if proposal.status is not ProposalStatus.IN_REVIEW:
        raise Conflict(f"proposal {proposal.id} is {proposal.status.value.replace('_', ' ')}; reviews are "
                       "taken only while it is in review")
    rubric = rubric_of(proposal.call)
    try:
        ranking.validate_scores(rubric, scores)
    except ranking.ScoreError as exc:
        raise invalid_field(("body", "scores", exc.field), str(exc)) from exc
    if not comments_for_applicants.strip():
        raise invalid_field(("body", "comments_for_applicants"), "write comments for the applicants")
    row.scores, row.status = dict(scores), AssignmentStatus.SUBMITTED
    row.comments_for_applicants = comments_for_applicants.strip()
    row.confidential_comments = confidential_comments.strip() or None
    row.submitted_at = clock.now()
    session.flush()
    return row


def submitted_reviews(session: Session, proposal_id: int) -> list[ReviewAssignment]:
    return list(session.scalars(select(ReviewAssignment).where(ReviewAssignment.proposal_id == proposal_id,
                                                               ReviewAssignment.status == AssignmentStatus.SUBMITTED)
                                .order_by(ReviewAssignment.id)))


def release_reviews(session: Session, *, actor: Principal, call_id: int) -> Call:
    """Every proposal in review has its reviews: the applicants see them and may reply once."""
    call = _reviewing_call(session, call_id)
    proposals = list(session.scalars(select(Proposal).where(Proposal.call_id == call.id,
                                                            Proposal.status.in_((ProposalStatus.IN_REVIEW,
                                                                                 ProposalStatus.TECHNICAL_CHECK)))
                                     .order_by(Proposal.id).with_for_update(of=Proposal)
                         .execution_options(populate_existing=True)))
    unchecked = [p.id for p in proposals if p.status is ProposalStatus.TECHNICAL_CHECK]
    if unchecked:
        raise Conflict(f"technical check still to do for proposals {', '.join(map(str, unchecked))}")
    short = [p.id for p in proposals if len(submitted_reviews(session, p.id)) < call.min_reviews]
    if short:
        raise Conflict(f"proposals {', '.join(map(str, short))} have fewer than {call.min_reviews} reviews")
    moment = clock.now()
    rubric = rubric_of(call)
    for proposal in proposals:
        move(proposal, "release reviews")
        proposal.reply_due_at = moment + timedelta(days=call.reply_days)
        proposal.spread = ranking.spread(rubric, [r.scores for r in submitted_reviews(session, proposal.id)])
        proposal.disagreement = proposal.spread >= call.spread_threshold
        proposal.updated_at = moment
    call.reviews_released_at = moment
    session.flush()
    return call


@dataclass(frozen=True)
class AnonymousReview:
    """A review as its applicants see it: a number instead of a name, no panel comments."""

    label: str
    scores: dict[str, int]
    comments: str
    weighted: Fraction


def reviews_for_applicants(session: Session, proposal: Proposal) -> list[AnonymousReview]:
    if proposal.call.reviews_released_at is None or proposal.status in (
            ProposalStatus.DRAFT, ProposalStatus.SUBMITTED, ProposalStatus.TECHNICAL_CHECK,
            ProposalStatus.IN_REVIEW):
        return []
    rubric = rubric_of(proposal.call)
    return [AnonymousReview(label=f"Reviewer {i}", scores=dict(r.scores or {}),
                            comments=r.comments_for_applicants or "",
                            weighted=ranking.weighted_score(rubric, [r.scores]))
            for i, r in enumerate(submitted_reviews(session, proposal.id), start=1)]
