"""From reviews to allocations: ranking a call, computing its slate, putting the slate to the council,
and, when the council approves it, granting the allocations and writing every rationale.

The fast lane is technical review only: its proposals have no scores, are fundable once they pass the
check, and are ranked first come, first served after the reviewed tracks (their pool is their own, so
their place in the overall order matters only to the share-aware floors).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access import ranking, slate
from aicommons.access.common import actor_urn, allocation_urn, call_urn, load_for_update, move, rubric_of
from aicommons.access.models import (
    Allocation,
    AllocationMember,
    AllocationStatus,
    Call,
    CallStatus,
    Policy,
    Proposal,
    ProposalStatus,
    Slate,
    SlateStatus,
    Track,
)
from aicommons.access.proposals import reject
from aicommons.access.reviews import submitted_reviews
from aicommons.errors import Conflict, NotFound
from aicommons.governance import agenda
from aicommons.governance import service as governance
from aicommons.governance.models import MotionAttachment
from aicommons.governance.rules import MotionKind
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger

SECONDS_PER_HOUR = 3600
SLATE_FILE = "slate.json"
FAST_LANE_NOTE = "technical review only"


# --- ranking -------------------------------------------------------------------------------------------


def rank_call(session: Session, *, actor: Principal, call_id: int) -> Call:
    """Score and rank every proposal left in the call once replies are in (or their time is up); publish."""
    call = load_for_update(session, Call, call_id, "call")
    if call.status is not CallStatus.CLOSED:
        raise Conflict(f"call {call.id} is {call.status.value.replace('_', ' ')}; a closed call is ranked")
    proposals = list(session.scalars(select(Proposal).where(Proposal.call_id == call.id).order_by(Proposal.id)
                                     .with_for_update(of=Proposal)
                         .execution_options(populate_existing=True)))
    waiting = [p.id for p in proposals if p.status in (ProposalStatus.SUBMITTED, ProposalStatus.TECHNICAL_CHECK,
                                                        ProposalStatus.IN_REVIEW)]
    if waiting:
        raise Conflict(f"proposals {', '.join(map(str, waiting))} are still in their technical check or review")
    moment = clock.now()
    open_replies = [p.id for p in proposals if p.status is ProposalStatus.RIGHT_TO_REPLY and p.reply is None
                    and p.reply_due_at is not None and moment < p.reply_due_at]
    if open_replies:
        raise Conflict(f"proposals {', '.join(map(str, open_replies))} may still reply to their reviews")
    for proposal in proposals:
        if proposal.status is ProposalStatus.RIGHT_TO_REPLY:
            move(proposal, "rank")
    ranked = _ranking(session, call, [p for p in proposals if p.status is ProposalStatus.RANKED])
    by_id = {p.id: p for p in proposals}
    for entry in ranked:
        proposal = by_id[entry.proposal_id]
        proposal.score, proposal.rank, proposal.fundable = str(entry.score), entry.rank, entry.fundable
        proposal.updated_at = moment
    call.ranked_at = call.updated_at = moment
    session.flush()
    ledger.record(session, kind="access.ranking.published", subject=call_urn(call.id), actor=actor_urn(actor),
                  data={"funding_threshold": call.funding_threshold, "rubric": call.rubric,
                        "ranking": [published_entry(by_id[e.proposal_id], e) for e in ranked]})
    return call


def _ranking(session: Session, call: Call, proposals: list[Proposal]) -> list[ranking.RankedEntry]:
    rubric = rubric_of(call)
    reviewed = [p for p in proposals if p.track is not Track.FAST_LANE]
    entries = [ranking.score_entry(proposal_id=p.id, track=p.track.value, rubric=rubric,
                                   submitted_at=ledger.rfc3339(p.submitted_at),
                                   reviews=[r.scores for r in submitted_reviews(session, p.id)])
               for p in reviewed if p.submitted_at is not None]
    ranked = ranking.rank(entries, rubric=rubric, funding_threshold=Fraction(call.funding_threshold))
    fast = sorted((p for p in proposals if p.track is Track.FAST_LANE), key=lambda p: (p.submitted_at, p.id))
    for position, p in enumerate(fast, start=1):
        ranked.append(ranking.RankedEntry(p.id, p.track.value, Fraction(0), {}, 0, ledger.rfc3339(p.submitted_at),
                                          len(ranked) + 1, position, True))
    return ranked


def published_ranking(session: Session, call: Call) -> list[dict[str, Any]]:
    """The ranking as ``rank_call`` published it (scores, ranks, per-criterion means), recomputed from the
    ranked proposals' reviews, which no longer change once released."""
    ranked = list(session.scalars(select(Proposal).where(Proposal.call_id == call.id, Proposal.rank.is_not(None))
                                  .order_by(Proposal.id)))
    by_id = {p.id: p for p in ranked}
    return [published_entry(by_id[e.proposal_id], e)
            for e in sorted(_ranking(session, call, ranked), key=lambda e: e.rank)]


def published_entry(proposal: Proposal, entry: ranking.RankedEntry | None = None) -> dict[str, Any]:
    """One line of the published ranking: public facts, score, rank, never a reviewer."""
    entry_dict = entry.to_dict() if entry else {
        "proposal_id": proposal.id, "track": proposal.track.value, "score": proposal.score, "rank": proposal.rank,
        "fundable": proposal.fundable}
    return {**entry_dict, "title": proposal.title, "institution": proposal.institution.name,
            "country": proposal.country_code, "requested_hours": proposal.requested_hours,
            "review": FAST_LANE_NOTE if proposal.track is Track.FAST_LANE else "peer review"}


# --- the slate ------------------------------------------------------------------------------------------


def slate_inputs(session: Session, call: Call) -> slate.SlateInputs:
    """The published inputs of the slate: pools, ranked proposals, policy, tolerance, contribution shares."""
    proposals = list(session.scalars(select(Proposal).where(Proposal.call_id == call.id,
                                                            Proposal.status == ProposalStatus.RANKED)
                                     .order_by(Proposal.rank)))
    shares: dict[str, Fraction] = {}
    if call.policy is Policy.SHARE_AWARE:
        scale = governance.scale_in_force(session)
        if scale is None:
            raise Conflict("the share-aware policy needs a contribution scale in force")
        shares = {s.member_state_code: Fraction(s.share) for s in scale.shares}
    granted = hours_granted(session, call)
    return slate.SlateInputs.from_dict({
        "tracks": {t.track.value: {"pool_hours": t.pool_hours - granted.get(t.track, 0),
                                   "min_award_hours": t.min_award_hours} for t in call.tracks},
        "proposals": [{"proposal_id": p.id, "track": p.track.value, "member_state": p.country_code,
                       "requested_hours": p.requested_hours, "score": p.score, "rank": p.rank,
                       "fundable": bool(p.fundable)} for p in proposals],
        "policy": call.policy.value, "tolerance": call.tolerance,
        "shares": {code: str(share) for code, share in sorted(shares.items())},
    })


def hours_granted(session: Session, call: Call) -> dict[Track, int]:
    """Hours already awarded in the call by approved slates; a supplementary slate shares out the rest."""
    granted: dict[Track, int] = {}
    for p in session.scalars(select(Proposal).where(Proposal.call_id == call.id, Proposal.award_hours.is_not(None),
                                                    Proposal.status.in_((ProposalStatus.APPROVED,
                                                                         ProposalStatus.ACTIVE,
                                                                         ProposalStatus.CLOSED)))):
        granted[p.track] = granted.get(p.track, 0) + (p.award_hours or 0)
    return granted


def is_supplementary(session: Session, row: Slate) -> bool:
    """A slate after an approved one (for proposals returned to the ranking by an upheld appeal)."""
    return any(o.status is SlateStatus.APPROVED and o.id < row.id for o in slates_of(session, row.call_id))


def propose_slate(session: Session, *, actor: Principal, call_id: int) -> Slate:
    """Compute the slate and put it to the council as a motion of kind "approval of an allocation slate"."""
    call = load_for_update(session, Call, call_id, "call")
    # A decided call takes a supplementary slate when an upheld appeal returned proposals to the ranking.
    if call.status not in (CallStatus.CLOSED, CallStatus.DECIDED) or call.ranked_at is None:
        raise Conflict(f"call {call.id} is {call.status.value.replace('_', ' ')}"
                       f"{'' if call.ranked_at else ', not yet ranked'}; a slate follows the ranking")
    inputs = slate_inputs(session, call)
    if not inputs.proposals:
        raise Conflict(f"call {call.id} has no ranked proposals to allocate to")
    result = slate.compute_slate(inputs)
    row = Slate(call_id=call.id, status=SlateStatus.PROPOSED, inputs=inputs.to_dict(), result=result.to_dict(),
                digest=result.digest, computed_by_id=actor.person_id, computed_at=clock.now())
    session.add(row)
    session.flush()
    text = (f"The council approves allocation slate {row.id} for the call \"{call.title}\": "
            f"{result.awarded_hours:,} of {result.pool_hours:,} GPU-hours to "
            f"{sum(1 for a in result.awards if a.awarded_hours)} proposals, under the "
            f"{call.policy.value.replace('_', ' ')} policy. The slate, its inputs and its digest "
            f"({result.digest}) are attached; anyone can recompute it.")
    motion = agenda.draft_motion(session, actor=actor, kind=MotionKind.SLATE_APPROVAL,
                                 title=f"Allocation slate for the call: {call.title}"[:300], text=text,
                                 payload={"slate_id": row.id})
    agenda.add_attachment(session, motion_id=motion.id, filename=SLATE_FILE, media_type="application/json",
                          content=json.dumps(published_slate(row), indent=2).encode())
    row.motion_id = motion.id
    call.status, call.updated_at = CallStatus.SLATE_PROPOSED, clock.now()
    session.flush()
    return row


def published_slate(row: Slate) -> dict[str, Any]:
    return {"slate": row.id, "call": row.call_id, "status": row.status.value, "digest": row.digest,
            "inputs": row.inputs, "result": row.result}


def get_slate(session: Session, slate_id: int) -> Slate:
    row = session.get(Slate, slate_id)
    if row is None:
        raise NotFound(f"no slate {slate_id}")
    return row


def slates_of(session: Session, call_id: int) -> list[Slate]:
    return list(session.scalars(select(Slate).where(Slate.call_id == call_id).order_by(Slate.id.desc())))


def _rationale(award: dict[str, Any], entry: Proposal, pool: int) -> str:
    reasons = {
        "below funding threshold": "its weighted score is below the call's funding threshold",
        "below minimum award": "the hours it could still get were below the track's minimum award",
        "track pool exhausted": "its track's pool was used up by higher-ranked proposals",
        "state cap reached": "its member state had reached its share of the call under the share-aware policy",
    }
    where = f"ranked {entry.rank} overall with a weighted score of {entry.score}" if entry.track is not \
        Track.FAST_LANE else f"fast lane, ranked {entry.rank} overall in order of submission"
    if award["awarded_hours"] == 0:
        why = reasons.get(str(award["reason"]), str(award["reason"]))
        return f"Not funded: {where}; {why}. The reviews and the published ranking give the panel's reasons."
    if award["awarded_hours"] < award["requested_hours"]:
        why = reasons.get(str(award["reason"]), str(award["reason"]))
        return (f"Funded in part, {award['awarded_hours']:,} of {award['requested_hours']:,} GPU-hours: "
                f"{where}; {why}.")
    return f"Funded in full: {where}, within a pool of {pool:,} GPU-hours."


def approve_slate(session: Session, *, slate_id: int, motion_id: int) -> str:
    """The council approved the slate: allocations are granted and every proposal gets its rationale."""
    row = session.scalar(select(Slate).where(Slate.id == slate_id).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None or row.status is not SlateStatus.PROPOSED or row.motion_id != motion_id:
        return f"none: slate {slate_id} is not the one before the council"
    call = load_for_update(session, Call, row.call_id, "call")
    if not _attachment_matches(session, row, motion_id):
        # The council voted on the attached slate; if it no longer is this one, nothing is granted.
        row.status, row.decided_at = SlateStatus.REJECTED, clock.now()
        call.status = CallStatus.DECIDED if is_supplementary(session, row) else CallStatus.CLOSED
        return f"none: the slate attached to motion {motion_id} is not slate {row.id} as computed"
    pools = {t["track"]: t["pool_hours"] for t in row.result["tracks"]}
    # The slate's reasons are words ("track pool exhausted"); the rationale explains each.
    granted = 0
    for award in row.result["awards"]:
        proposal = load_for_update(session, Proposal, award["proposal_id"], "proposal")
        if proposal.status is not ProposalStatus.RANKED:
            continue
        proposal.rationale = _rationale(award, proposal, pools[proposal.track.value])
        proposal.decided_at = proposal.updated_at = clock.now()
        proposal.decided_by_id = row.computed_by_id
        if award["awarded_hours"] > 0:
            move(proposal, "approve")
            proposal.award_hours = award["awarded_hours"]
            _grant(session, call, proposal, award["awarded_hours"], motion_id)
            granted += 1
        else:
            reject(proposal, actor=None, rationale=proposal.rationale)
            proposal.decided_by_id = row.computed_by_id
    row.status, row.decided_at = SlateStatus.APPROVED, clock.now()
    call.status, call.updated_at = CallStatus.DECIDED, clock.now()
    session.flush()
    return f"slate {row.id} approved: {granted} allocations granted"


def _attachment_matches(session: Session, row: Slate, motion_id: int) -> bool:
    attachment = session.scalar(select(MotionAttachment).where(MotionAttachment.motion_id == motion_id,
                                                               MotionAttachment.filename == SLATE_FILE))
    if attachment is None:
        return False
    try:
        attached = json.loads(attachment.content)
    except ValueError:
        return False
    return (attached.get("digest"), attached.get("inputs"), attached.get("result")) == (row.digest, row.inputs,
                                                                                          row.result)


def return_rejected_slate(session: Session, *, slate_id: int, motion_id: int) -> str:
    row = session.scalar(select(Slate).where(Slate.id == slate_id).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None or row.status is not SlateStatus.PROPOSED or row.motion_id != motion_id:
        return f"none: slate {slate_id} is not the one before the council"
    row.status, row.decided_at = SlateStatus.REJECTED, clock.now()
    call = load_for_update(session, Call, row.call_id, "call")
    call.status = CallStatus.DECIDED if is_supplementary(session, row) else CallStatus.CLOSED
    call.updated_at = clock.now()
    return f"slate {row.id} not approved; call {call.id} returns to its operators"


# --- allocations ----------------------------------------------------------------------------------------


def allocation_end(start: date, months: int) -> date:
    """The last day of an allocation that starts on ``start`` and runs ``months`` whole months."""
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, 1) - timedelta(days=1) if start.day == 1 else \
        _same_day(start.year + year, month + 1, start.day) - timedelta(days=1)


def _same_day(year: int, month: int, day: int) -> date:
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def _grant(session: Session, call: Call, proposal: Proposal, hours: int, motion_id: int) -> Allocation:
    if proposal.renews_allocation_id is not None:
        allocation = session.get(Allocation, proposal.renews_allocation_id)
        if allocation is not None and allocation.status is not AllocationStatus.REVOKED:
            return _extend(session, allocation, proposal, hours, motion_id)
    start = max(call.allocation_starts_on, clock.now().date())
    allocation = Allocation(
        proposal_id=proposal.id, call_id=call.id, project=proposal.title, pi_id=proposal.pi_id,
        track=proposal.track, member_state_code=proposal.country_code,
        budget_gpu_seconds=hours * SECONDS_PER_HOUR, starts_on=start,
        ends_on=allocation_end(start, proposal.duration_months), status=AllocationStatus.ACTIVE,
        motion_id=motion_id, created_at=clock.now(), updated_at=clock.now())
    allocation.members = [AllocationMember(person_id=proposal.pi_id, added_at=clock.now())] + [
        AllocationMember(person_id=m.person_id, added_at=clock.now()) for m in proposal.members]
    session.add(allocation)
    session.flush()
    ledger.record(session, kind="access.allocation.granted", subject=allocation_urn(allocation.id), actor=None,
                  data=allocation_facts(allocation))
    return allocation


def _extend(session: Session, allocation: Allocation, proposal: Proposal, hours: int, motion_id: int) -> Allocation:
    """A renewal adds its award to the allocation it renews and runs on from its end."""
    allocation.budget_gpu_seconds += hours * SECONDS_PER_HOUR
    allocation.ends_on = allocation_end(allocation.ends_on + timedelta(days=1), proposal.duration_months)
    if allocation.status in (AllocationStatus.EXHAUSTED, AllocationStatus.EXPIRED):
        allocation.status, allocation.status_reason = AllocationStatus.ACTIVE, None
    allocation.updated_at = clock.now()
    session.flush()
    ledger.record(session, kind="access.allocation.changed", subject=allocation_urn(allocation.id), actor=None,
                  data={**allocation_facts(allocation), "renewal_proposal": proposal.id, "added_hours": hours,
                        "motion": motion_id})
    return allocation


def allocation_facts(allocation: Allocation) -> dict[str, Any]:
    """Public facts of an allocation: no names; the PI is known by their proposal."""
    return {"proposal": allocation.proposal_id, "call": allocation.call_id, "project": allocation.project,
            "track": allocation.track.value, "member_state": allocation.member_state_code,
            "budget_gpu_seconds": allocation.budget_gpu_seconds,
            "starts_on": allocation.starts_on.isoformat(), "ends_on": allocation.ends_on.isoformat(),
            "status": allocation.status.value, "motion": allocation.motion_id}

