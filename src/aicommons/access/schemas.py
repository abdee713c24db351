"""Shapes of the access API. GPU-hours are whole numbers; scores and shares are exact fraction strings."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from aicommons.access.models import (
    Allocation,
    Appeal,
    Call,
    CallStatus,
    Policy,
    Proposal,
    ProposalStatus,
    ReviewAssignment,
    Slate,
    Track,
)
from aicommons.access.proposals import ACCELERATORS

MAX_HOURS = 2**53 - 1



class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackIn(In):
    track: Track
    pool_hours: int = Field(ge=1, le=MAX_HOURS, description="GPU-hours in this track's pool.")
    cap_hours: int = Field(ge=1, le=MAX_HOURS, description="The most one proposal may request.")
    min_award_hours: int = Field(ge=1, le=MAX_HOURS, description="Partial awards go no lower than this.")


class CriterionIn(In):
    name: str = Field(pattern=r"^[a-z][a-z_]{0,39}$", examples=["excellence"])
    weight: int = Field(ge=1, le=100)


class CallIn(In):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(max_length=20_000)
    opens_at: AwareDatetime = Field(description="RFC 3339 with a UTC offset.")
    closes_at: AwareDatetime = Field(description="RFC 3339 with a UTC offset.")
    allocation_starts_on: date
    tracks: list[TrackIn] = Field(min_length=1, max_length=5)
    rubric: list[CriterionIn] | None = Field(default=None, max_length=10,
                                             description="Default: excellence 30, impact 25, feasibility 20, "
                                                         "openness 15, safety 10; each scored 1 to 5.")
    min_reviews: int = Field(default=3, ge=1, le=10)
    max_load: int = Field(default=10, ge=1, le=100, description="Proposals per reviewer in this call.")
    spread_threshold: int = Field(default=2, ge=1, le=4, description="Flag reviewers disagreeing by this much.")
    funding_threshold: str = Field(default="3", max_length=20, description="Weighted score needed for funding.")
    policy: Policy = Policy.MERIT
    tolerance: str = Field(default="1/20", max_length=20,
                           description="Share-aware: how far a state's allocated share may stray from its "
                                       "contribution share, e.g. 1/20 = 5 percentage points.")
    reply_days: int = Field(default=14, ge=1, le=60)
    appeal_days: int = Field(default=30, ge=1, le=120)


class TrackOut(BaseModel):
    track: Track
    pool_hours: int
    cap_hours: int
    min_award_hours: int


class CallOut(BaseModel):
    id: int
    title: str
    description: str
    status: CallStatus
    opens_at: datetime
    closes_at: datetime
    accepting_proposals: bool
    allocation_starts_on: date
    tracks: list[TrackOut]
    rubric: list[dict]
    min_reviews: int
    max_load: int
    spread_threshold: int
    funding_threshold: str
    policy: Policy
    tolerance: str
    reply_days: int
    appeal_days: int
    approval_motion: int | None
    ranked_at: datetime | None

    @classmethod
    def of(cls, call: Call, accepting: bool) -> CallOut:
        return cls(id=call.id, title=call.title, description=call.description, status=call.status,
                   opens_at=call.opens_at, closes_at=call.closes_at, accepting_proposals=accepting,
                   allocation_starts_on=call.allocation_starts_on,
                   tracks=[TrackOut(track=t.track, pool_hours=t.pool_hours, cap_hours=t.cap_hours,
                                    min_award_hours=t.min_award_hours) for t in call.tracks],
                   rubric=call.rubric, min_reviews=call.min_reviews, max_load=call.max_load,
                   spread_threshold=call.spread_threshold, funding_threshold=call.funding_threshold,
                   policy=call.policy, tolerance=call.tolerance, reply_days=call.reply_days,
                   appeal_days=call.appeal_days, approval_motion=call.approval_motion_id, ranked_at=call.ranked_at)


class ProposalIn(In):
    track: Track
    title: str = Field(min_length=1, max_length=300)
    summary: str = Field(min_length=1, max_length=5_000, description="Public once submitted.")
    keywords: list[str] = Field(default_factory=list, max_length=12)
    requested_hours: int = Field(le=MAX_HOURS, description="GPU-hours; positive and within the track's cap.")
    accelerator: str = Field(examples=list(ACCELERATORS))
    duration_months: int
    licence_weights: str = Field(max_length=200, description="SPDX licence id or expression.")
    licence_code: str = Field(max_length=200, description="SPDX licence id or expression.")
    licence_data: str = Field(max_length=200, description="SPDX licence id or expression.")
    release_within_months: int = Field(description="Release outputs within this many months of the end.")
    safety_statement: str = Field(max_length=20_000)
    data_management_plan: str = Field(max_length=20_000)
    team: list[str] = Field(default_factory=list, max_length=50, description="Team members' emails.")


class NewProposalIn(ProposalIn):
    renews_allocation_id: int | None = Field(default=None, description="Set for a renewal or extension.")


class ProposalPublicOut(BaseModel):
    """What anyone may know of a submitted proposal; no people."""

    id: int
    call: int
    track: Track
    status: ProposalStatus
    title: str
    summary: str
    institution: str
    country: str
    requested_hours: int
    submitted_at: datetime | None
    score: str | None
    rank: int | None
    fundable: bool | None
    award_hours: int | None
    rationale: str | None

    @classmethod
    def of(cls, p: Proposal) -> ProposalPublicOut:
        decided = p.status in (ProposalStatus.APPROVED, ProposalStatus.REJECTED, ProposalStatus.ACTIVE,
                               ProposalStatus.CLOSED) and p.rank is not None
        return cls(id=p.id, call=p.call_id, track=p.track, status=p.status, title=p.title, summary=p.summary,
                   institution=p.institution.name, country=p.country_code, requested_hours=p.requested_hours,
                   submitted_at=p.submitted_at, score=p.score, rank=p.rank, fundable=p.fundable,
                   award_hours=p.award_hours, rationale=p.rationale if decided else None)


class ProposalOut(ProposalPublicOut):
    keywords: list[str]
    accelerator: str
    duration_months: int
    licence_weights: str
    licence_code: str
    licence_data: str
    release_within_months: int
    safety_statement: str
    data_management_plan: str
    principal_investigator: str
    team: list[str]
    renews_allocation: int | None
    technical_check_notes: str | None
    reply_due_at: datetime | None
    reply: str | None
    disagreement: bool
    spread: int | None
    final_report: dict | None
    appeal: AppealOut | None

    @classmethod
    def full(cls, p: Proposal, appeal: Appeal | None) -> ProposalOut:
        public = ProposalPublicOut.of(p).model_dump()
        public["rationale"] = p.rationale
        return cls(**public, keywords=p.keywords, accelerator=p.accelerator, duration_months=p.duration_months,
                   licence_weights=p.licence_weights, licence_code=p.licence_code, licence_data=p.licence_data,
                   release_within_months=p.release_within_months, safety_statement=p.safety_statement,
                   data_management_plan=p.data_management_plan, principal_investigator=p.pi.display_name,
                   team=[m.person.display_name for m in p.members], renews_allocation=p.renews_allocation_id,
                   technical_check_notes=p.technical_check_notes, reply_due_at=p.reply_due_at, reply=p.reply,
                   disagreement=p.disagreement, spread=p.spread, final_report=p.final_report,
                   appeal=AppealOut.of(appeal) if appeal else None)


class TechnicalCheckIn(In):
    passed: bool
    notes: str = Field(default="", max_length=20_000, description="Required when it fails: the rationale.")


class ReplyIn(In):
    reply: str = Field(min_length=1, max_length=20_000)


class AppealIn(In):
    grounds: str = Field(min_length=1, max_length=20_000)


class AppealDecisionIn(In):
    upheld: bool
    decision: str = Field(min_length=1, max_length=20_000)


class AppealOut(BaseModel):
    status: str
    grounds: str
    lodged_at: datetime
    decision: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, a: Appeal) -> AppealOut:
        return cls(status=a.status.value, grounds=a.grounds, lodged_at=a.lodged_at, decision=a.decision,
                   decided_at=a.decided_at)


class OutputIn(In):
    kind: str = Field(description="model, dataset, code, paper, evaluation or other")
    title: str = Field(max_length=300)
    identifier: str = Field(default="", max_length=500, description="URL, DOI or registry name.")


class FinalReportIn(In):
    summary: str = Field(min_length=1, max_length=20_000)
    outputs: list[OutputIn] = Field(default_factory=list, max_length=200)


class ExpertiseIn(In):
    keywords: list[str] = Field(max_length=30)
    max_load: int | None = Field(default=None, ge=1, le=100)


class ExpertiseOut(BaseModel):
    keywords: list[str]
    max_load: int | None


class ConflictIn(In):
    reason: str = Field(min_length=1, max_length=5_000, description="Seen by the panel's operators only.")


class ReviewIn(In):
    scores: dict[str, int] = Field(description="Every rubric criterion, scored 1 to 5.")
    comments_for_applicants: str = Field(max_length=20_000)
    confidential_comments: str = Field(default="", max_length=20_000, description="For the panel only.")


class AnonymousReviewOut(BaseModel):
    reviewer: str = Field(description="'Reviewer 1', 'Reviewer 2' ...: never a name.")
    scores: dict[str, int]
    weighted_score: str
    comments: str


class AssignmentOut(BaseModel):
    """A panel view: who reviews what. For operators and auditors, and for a reviewer's own queue."""

    id: int
    proposal: int
    proposal_title: str
    reviewer: int
    reviewer_name: str
    status: str
    automatic: bool
    match: int
    override_reasons: list[str] | None
    override_justification: str | None
    scores: dict[str, int] | None
    comments_for_applicants: str | None
    confidential_comments: str | None
    submitted_at: datetime | None

    @classmethod
    def of(cls, a: ReviewAssignment) -> AssignmentOut:
        return cls(id=a.id, proposal=a.proposal_id, proposal_title=a.proposal.title, reviewer=a.reviewer_id,
                   reviewer_name=a.reviewer.display_name, status=a.status.value, automatic=a.automatic, match=a.match,
                   override_reasons=a.override_reasons, override_justification=a.override_justification,
                   scores=a.scores, comments_for_applicants=a.comments_for_applicants,
                   confidential_comments=a.confidential_comments, submitted_at=a.submitted_at)


class ManualAssignmentIn(In):
    reviewer_id: int
    justification: str | None = Field(default=None, max_length=5_000,
                                      description="Required to override a conflict of interest; logged.")


class AssignmentRunOut(BaseModel):
    assigned: int
    total_match: int
    short: dict[int, int] = Field(description="Proposal id -> reviews still missing (no eligible reviewer).")


class SlateOut(BaseModel):
    id: int
    call: int
    status: str
    digest: str
    motion: int | None
    computed_at: datetime
    supplementary: bool = Field(description="After an approved slate: shares out what is left of the pools "
                                            "among proposals an upheld appeal returned to the ranking.")
    inputs: dict
    result: dict

    @classmethod
    def of(cls, s: Slate, supplementary: bool = False) -> SlateOut:
        return cls(id=s.id, call=s.call_id, status=s.status.value, digest=s.digest, motion=s.motion_id,
                   computed_at=s.computed_at, supplementary=supplementary, inputs=s.inputs, result=s.result)


class AllocationOut(BaseModel):
    id: int
    proposal: int
    call: int
    project: str
    track: Track
    member_state: str
    budget_gpu_seconds: int
    budget_gpu_hours: int
    starts_on: date
    ends_on: date
    status: str
    status_reason: str | None
    motion: int

    @classmethod
    def of(cls, a: Allocation) -> AllocationOut:
        return cls(id=a.id, proposal=a.proposal_id, call=a.call_id, project=a.project, track=a.track,
                   member_state=a.member_state_code, budget_gpu_seconds=a.budget_gpu_seconds,
                   budget_gpu_hours=a.budget_gpu_seconds // 3600, starts_on=a.starts_on, ends_on=a.ends_on,
                   status=a.status.value, status_reason=a.status_reason, motion=a.motion_id)


class AllocationDetailOut(AllocationOut):
    principal_investigator: str
    members: list[str]


class MemberIn(In):
    email: str = Field(max_length=320)


class RevokeIn(In):
    reason: str = Field(min_length=1, max_length=5_000)


class StatisticsLine(BaseModel):
    member_state: str | None
    track: Track | None
    proposals: int
    requested_hours: int
    awarded_hours: int
    allocations: int


ProposalOut.model_rebuild()
