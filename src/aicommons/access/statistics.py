"""Public statistics of access: proposals, hours requested and awarded, per member state and per track."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.access.models import Allocation, AllocationStatus, Proposal, ProposalStatus, Track
from aicommons.governance import service as governance

SECONDS_PER_HOUR = 3600


@dataclass
class Line:
    member_state: str | None
    track: Track | None
    proposals: int = 0
    requested_hours: int = 0
    awarded_hours: int = 0
    allocations: int = 0


@dataclass(frozen=True)
class ShareLine:
    member_state: str
    awarded_hours: int
    allocated_share: Fraction
    contribution_share: Fraction | None


def by_state_and_track(session: Session, call_id: int | None = None) -> tuple[list[Line], list[Line]]:
    """Two tables: one line per member state, one per track (submitted proposals and allocations)."""
    states: dict[str, Line] = {}
    tracks: dict[Track, Line] = {}
    query = select(Proposal).where(Proposal.status != ProposalStatus.DRAFT)
    allocations = select(Allocation).where(Allocation.status != AllocationStatus.REVOKED)
    if call_id is not None:
        query, allocations = query.where(Proposal.call_id == call_id), allocations.where(Allocation.call_id == call_id)
    for p in session.scalars(query):
        for line in (states.setdefault(p.country_code, Line(p.country_code, None)),
                     tracks.setdefault(p.track, Line(None, p.track))):
            line.proposals += 1
            line.requested_hours += p.requested_hours
    for a in session.scalars(allocations):
        for line in (states.setdefault(a.member_state_code, Line(a.member_state_code, None)),
                     tracks.setdefault(a.track, Line(None, a.track))):
            line.allocations += 1
            line.awarded_hours += a.budget_gpu_seconds // SECONDS_PER_HOUR
    return sorted(states.values(), key=lambda x: x.member_state or ""), \
        [tracks[t] for t in Track if t in tracks]


def shares(session: Session) -> list[ShareLine]:
    """Each state's share of all GPU-hours granted (revoked allocations aside), against its contribution share."""
    awarded: dict[str, int] = defaultdict(int)
    for a in session.scalars(select(Allocation).where(Allocation.status != AllocationStatus.REVOKED)):
        awarded[a.member_state_code] += a.budget_gpu_seconds // SECONDS_PER_HOUR
    scale = governance.scale_in_force(session)
    contribution = {s.member_state_code: Fraction(s.share) for s in scale.shares} if scale else {}
    total = sum(awarded.values())
    codes = sorted(set(awarded) | set(contribution))
    return [ShareLine(code, awarded.get(code, 0), Fraction(awarded.get(code, 0), total) if total else Fraction(0),
                      contribution.get(code)) for code in codes]
