"""Tables of access: calls and their tracks, proposals and teams, reviews, conflicts, appeals, slates and
allocations."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aicommons.database import Base, UTCDateTime
from aicommons.identity.models import Institution, Person, _enum


class Track(enum.StrEnum):
    SCIENCE = "science"
    INDUSTRY = "industry"  # industry and SMEs
    PUBLIC_SECTOR = "public_sector"
    SAFETY = "safety"  # safety research
    FAST_LANE = "fast_lane"  # technical review only, small requests


class Policy(enum.StrEnum):
    MERIT = "merit"
    SHARE_AWARE = "share_aware"  # merit, within a tolerance around each state's contribution share


class CallStatus(enum.StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"  # a call-approval motion is before the council
    OPEN = "open"  # approved; takes proposals between its open and close dates
    CLOSED = "closed"  # no more proposals; checks, reviews and ranking
    SLATE_PROPOSED = "slate_proposed"  # an allocation slate is before the council
    DECIDED = "decided"  # the slate was approved; allocations exist


class ProposalStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    TECHNICAL_CHECK = "technical_check"
    IN_REVIEW = "in_review"
    RIGHT_TO_REPLY = "right_to_reply"
    RANKED = "ranked"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    CLOSED = "closed"


class AssignmentStatus(enum.StrEnum):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"  # a conflict came to light, or the operator moved it


class AppealStatus(enum.StrEnum):
    LODGED = "lodged"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class SlateStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class AllocationStatus(enum.StrEnum):
    ACTIVE = "active"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[CallStatus] = mapped_column(_enum(CallStatus, "call_status"))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # [{"name": "excellence", "weight": 30}, ...]; every review scores each criterion from 1 to 5.
    rubric: Mapped[list] = mapped_column(JSON)
    min_reviews: Mapped[int] = mapped_column(Integer)
    max_load: Mapped[int] = mapped_column(Integer)  # proposals per reviewer
    spread_threshold: Mapped[int] = mapped_column(Integer)  # flag disagreement at or above this gap
    funding_threshold: Mapped[str] = mapped_column(String(20))  # weighted score, an exact fraction
    policy: Mapped[Policy] = mapped_column(_enum(Policy, "allocation_policy"))
    tolerance: Mapped[str] = mapped_column(String(20))  # share-aware: allowed gap, an exact fraction
    reply_days: Mapped[int] = mapped_column(Integer)
    appeal_days: Mapped[int] = mapped_column(Integer)
    allocation_starts_on: Mapped[date] = mapped_column(Date)
    approval_motion_id: Mapped[int | None] = mapped_column(ForeignKey("motions.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ranked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviews_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tracks: Mapped[list[CallTrack]] = relationship(
        back_populates="call", order_by="CallTrack.id", lazy="selectin", cascade="all, delete-orphan")


class CallTrack(Base):
    __tablename__ = "call_tracks"
    __table_args__ = (UniqueConstraint("call_id", "track"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    track: Mapped[Track] = mapped_column(_enum(Track, "track"))
    pool_hours: Mapped[int] = mapped_column(BigInteger)
    cap_hours: Mapped[int] = mapped_column(BigInteger)  # the most one proposal may request
    min_award_hours: Mapped[int] = mapped_column(BigInteger)  # partial awards go no lower

    call: Mapped[Call] = relationship(back_populates="tracks")


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (Index("ix_proposals_call_status", "call_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    track: Mapped[Track] = mapped_column(_enum(Track, "track"))
    status: Mapped[ProposalStatus] = mapped_column(_enum(ProposalStatus, "proposal_status"))
    pi_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    country_code: Mapped[str] = mapped_column(String(2))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)  # public
    keywords: Mapped[list] = mapped_column(JSON)
    requested_hours: Mapped[int] = mapped_column(BigInteger)
    accelerator: Mapped[str] = mapped_column(String(40))
    duration_months: Mapped[int] = mapped_column(Integer)
    licence_weights: Mapped[str] = mapped_column(String(200))  # SPDX expressions
    licence_code: Mapped[str] = mapped_column(String(200))
    licence_data: Mapped[str] = mapped_column(String(200))
    release_within_months: Mapped[int] = mapped_column(Integer)
    safety_statement: Mapped[str] = mapped_column(Text)
    data_management_plan: Mapped[str] = mapped_column(Text)
    # No foreign key: allocations point at proposals, and a cycle would make table order ambiguous.
    renews_allocation_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    technical_check_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    technical_check_notes: Mapped[str | None] = mapped_column(Text)
    reply_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Ranking, fixed when the call is ranked.
    score: Mapped[str | None] = mapped_column(String(40))
    rank: Mapped[int | None] = mapped_column(Integer)
    fundable: Mapped[bool | None] = mapped_column(Boolean)
    spread: Mapped[int | None] = mapped_column(Integer)
    disagreement: Mapped[bool] = mapped_column(Boolean, default=False)
    # The decision, with its written rationale.
    award_hours: Mapped[int | None] = mapped_column(BigInteger)
    rationale: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_from: Mapped[ProposalStatus | None] = mapped_column(_enum(ProposalStatus, "proposal_rejected_from"))
    final_report: Mapped[dict | None] = mapped_column(JSON)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship(lazy="joined")
    pi: Mapped[Person] = relationship(foreign_keys=[pi_id], lazy="joined")
    institution: Mapped[Institution] = relationship(lazy="joined")
    members: Mapped[list[ProposalMember]] = relationship(
        back_populates="proposal", order_by="ProposalMember.id", lazy="selectin", cascade="all, delete-orphan")


class ProposalMember(Base):
    """A team member named on a proposal (the PI is on the proposal itself)."""

    __tablename__ = "proposal_members"
    __table_args__ = (UniqueConstraint("proposal_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)

    proposal: Mapped[Proposal] = relationship(back_populates="members")
    person: Mapped[Person] = relationship(lazy="joined")


class ReviewerProfile(Base):
    """A reviewer's declared expertise and how many proposals they will take in one call."""

    __tablename__ = "reviewer_profiles"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    keywords: Mapped[list] = mapped_column(JSON)
    max_load: Mapped[int | None] = mapped_column(Integer)  # None: the call's limit
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConflictDeclaration(Base):
    """A conflict a reviewer declared; the reason stays with the panel's operators."""

    __tablename__ = "conflict_declarations"
    __table_args__ = (UniqueConstraint("reviewer_id", "proposal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewAssignment(Base):
    """A reviewer assigned to a proposal, and once submitted, the review itself."""

    __tablename__ = "review_assignments"
    __table_args__ = (UniqueConstraint("proposal_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[AssignmentStatus] = mapped_column(_enum(AssignmentStatus, "assignment_status"))
    automatic: Mapped[bool] = mapped_column(Boolean)
    match: Mapped[int] = mapped_column(Integer)  # shared expertise keywords when assigned
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set only when an operator overrode a conflict rule, with the written justification.
    override_reasons: Mapped[list | None] = mapped_column(JSON)
    override_justification: Mapped[str | None] = mapped_column(Text)
    scores: Mapped[dict | None] = mapped_column(JSON)  # {criterion: 1..5}
    comments_for_applicants: Mapped[str | None] = mapped_column(Text)
    confidential_comments: Mapped[str | None] = mapped_column(Text)  # for the panel only
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    proposal: Mapped[Proposal] = relationship(lazy="joined")
    reviewer: Mapped[Person] = relationship(foreign_keys=[reviewer_id], lazy="joined")


class Appeal(Base):
    """One appeal per proposal, against its rejection, decided by a different operator."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    grounds: Mapped[str] = mapped_column(Text)
    lodged_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    lodged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[AppealStatus] = mapped_column(_enum(AppealStatus, "appeal_status"))
    decision: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Slate(Base):
    """An allocation slate computed from a call's ranking: the published inputs, the result and its digest."""

    __tablename__ = "slates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    status: Mapped[SlateStatus] = mapped_column(_enum(SlateStatus, "slate_status"))
    inputs: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    motion_id: Mapped[int | None] = mapped_column(ForeignKey("motions.id"))
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Allocation(Base):
    """GPU time granted by an approved slate: an exact budget in GPU-seconds, for a period."""

    __tablename__ = "allocations"
    __table_args__ = (Index("ix_allocations_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    project: Mapped[str] = mapped_column(String(300))
    pi_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    track: Mapped[Track] = mapped_column(_enum(Track, "track"))
    member_state_code: Mapped[str] = mapped_column(String(2), index=True)
    budget_gpu_seconds: Mapped[int] = mapped_column(BigInteger)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[AllocationStatus] = mapped_column(_enum(AllocationStatus, "allocation_status"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    motion_id: Mapped[int] = mapped_column(ForeignKey("motions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    pi: Mapped[Person] = relationship(foreign_keys=[pi_id], lazy="joined")
    members: Mapped[list[AllocationMember]] = relationship(
        back_populates="allocation", order_by="AllocationMember.id", lazy="selectin", cascade="all, delete-orphan")


class AllocationMember(Base):
    """Someone the PI lets use the allocation (the PI is always a member)."""

    __tablename__ = "allocation_members"
    __table_args__ = (UniqueConstraint("allocation_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    allocation: Mapped[Allocation] = relationship(back_populates="members")
    person: Mapped[Person] = relationship(lazy="joined")
