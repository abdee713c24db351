"""Calls for proposals: drafted by operators, approved by the council, open between two dates, closed.

A call's terms (tracks and pools, rubric, review and allocation rules) are fixed when it goes to the
council; the approval motion carries them as an attachment, so what the council approved is on record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access.common import actor_urn, call_urn, get_call, load_for_update, move, parse_fraction
from aicommons.access.models import Call, CallStatus, CallTrack, Policy, Proposal, ProposalStatus, Track
from aicommons.errors import Conflict, NotFound, invalid_field
from aicommons.governance import agenda
from aicommons.governance.rules import MotionKind, exact_str
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger

DEFAULT_RUBRIC = [
    {"name": "excellence", "weight": 30},
    {"name": "impact", "weight": 25},
    {"name": "feasibility", "weight": 20},
    {"name": "openness", "weight": 15},
    {"name": "safety", "weight": 10},
]
FAST_LANE_MAX_CAP_HOURS = 5_000  # a fast-lane request is small by definition: technical review only
MAX_POOL_HOURS = 10**12
MAX_CALL_DAYS = 366


@dataclass(frozen=True)
class TrackTerms:
    track: Track
    pool_hours: int
    cap_hours: int
    min_award_hours: int


def _check_tracks(tracks: list[TrackTerms]) -> None:
    if not tracks:
        raise invalid_field(("body", "tracks"), "a call needs at least one track")
    seen: set[Track] = set()
    for i, terms in enumerate(tracks):
        loc = ("body", "tracks", i)
        if terms.track in seen:
            raise invalid_field((*loc, "track"), f"the {terms.track.value} track is listed twice")
        seen.add(terms.track)
        if not 0 < terms.pool_hours <= MAX_POOL_HOURS:
            raise invalid_field((*loc, "pool_hours"), f"a pool is from 1 to {MAX_POOL_HOURS} GPU-hours")
        if not 0 < terms.cap_hours <= terms.pool_hours:
            raise invalid_field((*loc, "cap_hours"), "the cap per proposal is at least 1 and at most the pool")
        if terms.track is Track.FAST_LANE and terms.cap_hours > FAST_LANE_MAX_CAP_HOURS:
            raise invalid_field((*loc, "cap_hours"),
                                f"the fast lane is for small requests: at most {FAST_LANE_MAX_CAP_HOURS} GPU-hours")
        if not 0 < terms.min_award_hours <= terms.cap_hours:
            raise invalid_field((*loc, "min_award_hours"), "the minimum award is at least 1 and at most the cap")


def _check_rubric(rubric: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rubric:
        raise invalid_field(("body", "rubric"), "a rubric needs at least one criterion")
    names = [c["name"] for c in rubric]
    if len(set(names)) != len(names):
        raise invalid_field(("body", "rubric"), "each criterion appears once")
    return [{"name": c["name"], "weight": c["weight"]} for c in rubric]


def _check_dates(opens_at: datetime, closes_at: datetime, starts_on: date) -> None:
    if closes_at <= opens_at:
        raise invalid_field(("body", "closes_at"), "the call must close after it opens")
    if (closes_at - opens_at).days > MAX_CALL_DAYS:
        raise invalid_field(("body", "closes_at"), f"a call is open for at most {MAX_CALL_DAYS} days")
    if starts_on < closes_at.date():
        raise invalid_field(("body", "allocation_starts_on"), "allocations cannot start before the call closes")


def create_call(session: Session, *, actor: Principal, title: str, description: str, opens_at: datetime,
                closes_at: datetime, allocation_starts_on: date, tracks: list[TrackTerms],
                rubric: list[dict[str, Any]] | None = None, min_reviews: int = 3, max_load: int = 10,
                spread_threshold: int = 2, funding_threshold: str = "3", policy: Policy = Policy.MERIT,
                tolerance: str = "1/20", reply_days: int = 14, appeal_days: int = 30) -> Call:
    """A draft call, private to operators until it goes to the council."""
    if not title.strip():
        raise invalid_field(("body", "title"), "a call needs a title")
    for name, value, low, high in (("min_reviews", min_reviews, 1, 10), ("max_load", max_load, 1, 100),
                                   ("spread_threshold", spread_threshold, 1, 4), ("reply_days", reply_days, 1, 60),
                                   ("appeal_days", appeal_days, 1, 120)):
        if not low <= value <= high:
            raise invalid_field(("body", name), f"from {low} to {high}")
    _check_tracks(tracks)
    _check_dates(opens_at, closes_at, allocation_starts_on)
    threshold = parse_fraction(funding_threshold, ("body", "funding_threshold"), low=Fraction(1), high=Fraction(5))
    share_gap = parse_fraction(tolerance, ("body", "tolerance"), low=Fraction(0), high=Fraction(1))
    moment = clock.now()
    call = Call(title=title.strip(), description=description, status=CallStatus.DRAFT, opens_at=opens_at,
                closes_at=closes_at, rubric=_check_rubric(rubric or DEFAULT_RUBRIC), min_reviews=min_reviews,
                max_load=max_load, spread_threshold=spread_threshold, funding_threshold=exact_str(threshold),
                policy=policy, tolerance=exact_str(share_gap), reply_days=reply_days, appeal_days=appeal_days,
                allocation_starts_on=allocation_starts_on, created_by_id=actor.person_id, created_at=moment,
                updated_at=moment)
    call.tracks = [CallTrack(track=t.track, pool_hours=t.pool_hours, cap_hours=t.cap_hours,
                             min_award_hours=t.min_award_hours) for t in tracks]
    session.add(call)
    session.flush()
    return call


def call_terms(call: Call) -> dict[str, Any]:
    """What the council approves: every term of the call, as published."""
    return {
        "call": call.id, "title": call.title, "description": call.description,
        "opens_at": ledger.rfc3339(call.opens_at), "closes_at": ledger.rfc3339(call.closes_at),
        "allocation_starts_on": call.allocation_starts_on.isoformat(),
        "tracks": [{"track": t.track.value, "pool_hours": t.pool_hours, "cap_hours": t.cap_hours,
                    "min_award_hours": t.min_award_hours} for t in call.tracks],
        "rubric": call.rubric, "scale": [1, 5], "min_reviews": call.min_reviews, "max_load": call.max_load,
        "spread_threshold": call.spread_threshold, "funding_threshold": call.funding_threshold,
        "policy": call.policy.value, "tolerance": call.tolerance, "reply_days": call.reply_days,
        "appeal_days": call.appeal_days,
    }


def submit_for_approval(session: Session, *, actor: Principal, call_id: int, notice_days: int | None = None) -> Call:
    """Put the call to the council: a draft motion of kind "approval of a call", the terms attached."""
    call = load_for_update(session, Call, call_id, "call")
    if call.status is not CallStatus.DRAFT:
        raise Conflict(f"call {call.id} is {call.status.value.replace('_', ' ')}; only a draft goes to the council")
    pools = ", ".join(f"{t.track.value.replace('_', ' ')} {t.pool_hours:,} GPU-hours" for t in call.tracks)
    text = (f"The council approves the call for proposals \"{call.title}\", open from "
            f"{ledger.rfc3339(call.opens_at)} to {ledger.rfc3339(call.closes_at)}, with pools: {pools}; "
            f"allocation policy {call.policy.value.replace('_', ' ')}. The full terms are attached.")
    call.status, call.updated_at = CallStatus.AWAITING_APPROVAL, clock.now()
    session.flush()
    motion = agenda.draft_motion(session, actor=actor, kind=MotionKind.CALL_APPROVAL,
                                 title=f"Approval of the call: {call.title}"[:300], text=text,
                                 payload={"call_id": call.id})
    agenda.add_attachment(session, motion_id=motion.id, filename="call-terms.json", media_type="application/json",
                          content=json.dumps(call_terms(call), indent=2, ensure_ascii=False).encode())
    call.approval_motion_id = motion.id
    session.flush()
    return call


def open_approved_call(session: Session, *, call_id: int, motion_id: int) -> str:
    """The council approved the call: it opens (taking proposals between its dates)."""
    call = load_for_update(session, Call, call_id, "call")
    if call.status is not CallStatus.AWAITING_APPROVAL or call.approval_motion_id != motion_id:
        return f"none: call {call.id} is {call.status.value.replace('_', ' ')}"
    call.status, call.opened_at = CallStatus.OPEN, clock.now()
    call.updated_at = call.opened_at
    session.flush()
    ledger.record(session, kind="access.call.opened", subject=call_urn(call.id), actor=None,
                  data={**call_terms(call), "motion": motion_id})
    return f"call {call.id} open for proposals until {ledger.rfc3339(call.closes_at)}"


def return_rejected_call(session: Session, *, call_id: int, motion_id: int) -> str:
    call = load_for_update(session, Call, call_id, "call")
    if call.status is not CallStatus.AWAITING_APPROVAL or call.approval_motion_id != motion_id:
        return f"none: call {call.id} is {call.status.value.replace('_', ' ')}"
    call.status, call.updated_at = CallStatus.DRAFT, clock.now()
    return f"call {call.id} returned to its operators as a draft"


def accepting_proposals(call: Call, moment: datetime | None = None) -> bool:
    moment = moment or clock.now()
    return call.status is CallStatus.OPEN and call.opens_at <= moment < call.closes_at


def close_call(session: Session, *, actor: Principal, call_id: int) -> Call:
    """After the close date: no more proposals; every submitted one goes to its technical check."""
    call = load_for_update(session, Call, call_id, "call")
    if call.status is not CallStatus.OPEN:
        raise Conflict(f"call {call.id} is {call.status.value.replace('_', ' ')}; only an open call closes")
    if clock.now() < call.closes_at:
        raise Conflict(f"call {call.id} takes proposals until {ledger.rfc3339(call.closes_at)}")
    submitted = list(session.scalars(select(Proposal).where(Proposal.call_id == call.id,
                                                            Proposal.status == ProposalStatus.SUBMITTED)
                                     .order_by(Proposal.id).with_for_update(of=Proposal)
                         .execution_options(populate_existing=True)))
    for proposal in submitted:
        move(proposal, "close call")
    call.status, call.closed_at = CallStatus.CLOSED, clock.now()
    call.updated_at = call.closed_at
    session.flush()
    ledger.record(session, kind="access.call.closed", subject=call_urn(call.id), actor=actor_urn(actor),
                  data={"proposals": len(submitted),
                        "requested_hours": sum(p.requested_hours for p in submitted)})
    return call


def list_calls(session: Session, *, include_drafts: bool) -> list[Call]:
    query = select(Call).order_by(Call.opens_at.desc(), Call.id.desc())
    if not include_drafts:
        query = query.where(Call.status.not_in((CallStatus.DRAFT, CallStatus.AWAITING_APPROVAL)))
    return list(session.scalars(query))


def visible_call(session: Session, call_id: int, *, sees_drafts: bool) -> Call:
    """A call; before the council approves it, it exists only for operators (and delegates, via the motion)."""
    call = get_call(session, call_id)
    if call.status in (CallStatus.DRAFT, CallStatus.AWAITING_APPROVAL) and not sees_drafts:
        raise NotFound(f"no call {call_id}")
    return call


def track_terms(call: Call, track: Track) -> CallTrack:
    for terms in call.tracks:
        if terms.track is track:
            return terms
    names = ", ".join(t.track.value for t in call.tracks)
    raise invalid_field(("body", "track"), f"call {call.id} has no {track.value} track; its tracks: {names}")
