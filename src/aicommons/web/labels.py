"""Human words for stored values, shared by every page."""

from aicommons.access.coi import Reason
from aicommons.access.models import (
    AllocationStatus,
    AppealStatus,
    AssignmentStatus,
    CallStatus,
    Policy,
    ProposalStatus,
    SlateStatus,
    Track,
)
from aicommons.governance.models import MotionStatus, ScaleStatus
from aicommons.governance.rules import Choice, MotionKind, Outcome
from aicommons.identity.models import InstitutionKind, MembershipStatus, Role

KIND_LABELS = {
    InstitutionKind.UNIVERSITY.value: "University",
    InstitutionKind.RESEARCH_INSTITUTE.value: "Research institute",
    InstitutionKind.SME.value: "Small or medium business",
    InstitutionKind.COMPANY.value: "Company",
    InstitutionKind.PUBLIC_AGENCY.value: "Public agency",
    InstitutionKind.NGO.value: "NGO",
}
STATUS_LABELS = {
    MembershipStatus.MEMBER.value: "Member",
    MembershipStatus.ASSOCIATE_MEMBER.value: "Associate member",
    MembershipStatus.OBSERVER.value: "Observer",
}
ROLE_LABELS = {
    Role.OPERATOR.value: "Operator (facility staff)",
    Role.DELEGATE.value: "Delegate of a member state",
    Role.REVIEWER.value: "Reviewer",
    Role.RESEARCHER.value: "Researcher",
    Role.AUDITOR.value: "Auditor (reads everything)",
}

MOTION_KIND_LABELS = {
    MotionKind.POLICY.value: "Policy",
    MotionKind.BUDGET.value: "Budget",
    MotionKind.CONTRIBUTION_SCALE.value: "Contribution scale",
    MotionKind.ADMISSION.value: "Admission of a member",
    MotionKind.CONSTITUTION_AMENDMENT.value: "Constitution amendment",
    MotionKind.CALL_APPROVAL.value: "Approval of a call for proposals",
    MotionKind.SLATE_APPROVAL.value: "Approval of an allocation slate",
}
MOTION_STATUS_LABELS = {
    MotionStatus.DRAFT.value: "Draft (not public)",
    MotionStatus.NOTICE.value: "Notice period",
    MotionStatus.VOTING.value: "Open for voting",
    MotionStatus.CLOSED.value: "Voting closed, not yet counted",
    MotionStatus.TALLIED.value: "Counted, not yet published",
    MotionStatus.PUBLISHED.value: "Published",
}
CHOICE_LABELS = {Choice.YES.value: "Yes", Choice.NO.value: "No", Choice.ABSTAIN.value: "Abstain"}
OUTCOME_LABELS = {Outcome.PASSED.value: "Passed", Outcome.FAILED.value: "Failed",
                  Outcome.NO_QUORUM.value: "No quorum (not decided)"}
SCALE_STATUS_LABELS = {ScaleStatus.PROPOSED.value: "Proposed, not adopted", ScaleStatus.IN_FORCE.value: "In force",
                       ScaleStatus.SUPERSEDED.value: "Superseded"}

# --- access ---------------------------------------------------------------------------------------

TRACK_LABELS = {
    Track.SCIENCE.value: "Science",
    Track.INDUSTRY.value: "Industry and SMEs",
    Track.PUBLIC_SECTOR.value: "Public sector",
    Track.SAFETY.value: "Safety research",
    Track.FAST_LANE.value: "Fast lane",
}
CALL_STATUS_LABELS = {
    CallStatus.DRAFT.value: "Draft (not public)",
    CallStatus.AWAITING_APPROVAL.value: "Before the council for approval",
    CallStatus.OPEN.value: "Open",
    CallStatus.CLOSED.value: "Closed: checks, reviews and ranking",
    CallStatus.SLATE_PROPOSED.value: "Allocation slate before the council",
    CallStatus.DECIDED.value: "Decided",
}
PROPOSAL_STATUS_LABELS = {
    ProposalStatus.DRAFT.value: "Draft",
    ProposalStatus.SUBMITTED.value: "Submitted",
    ProposalStatus.TECHNICAL_CHECK.value: "Technical check",
    ProposalStatus.IN_REVIEW.value: "In peer review",
    ProposalStatus.RIGHT_TO_REPLY.value: "Reviews released: right to reply",
    ProposalStatus.RANKED.value: "Ranked",
    ProposalStatus.APPROVED.value: "Approved",
    ProposalStatus.REJECTED.value: "Not funded",
    ProposalStatus.ACTIVE.value: "Active project",
    ProposalStatus.CLOSED.value: "Closed with final report",
}
POLICY_LABELS = {
    Policy.MERIT.value: "Merit: by rank alone",
    Policy.SHARE_AWARE.value: "Share-aware: by rank, within a tolerance around each state's contribution share",
}
ASSIGNMENT_STATUS_LABELS = {
    AssignmentStatus.ASSIGNED.value: "Assigned, review not yet in",
    AssignmentStatus.SUBMITTED.value: "Review submitted",
    AssignmentStatus.WITHDRAWN.value: "Withdrawn",
}
APPEAL_STATUS_LABELS = {
    AppealStatus.LODGED.value: "Lodged, not yet decided",
    AppealStatus.UPHELD.value: "Upheld",
    AppealStatus.DISMISSED.value: "Dismissed",
}
SLATE_STATUS_LABELS = {
    SlateStatus.PROPOSED.value: "Proposed to the council",
    SlateStatus.APPROVED.value: "Approved by the council",
    SlateStatus.REJECTED.value: "Not approved",
}
ALLOCATION_STATUS_LABELS = {
    AllocationStatus.ACTIVE.value: "Active",
    AllocationStatus.EXHAUSTED.value: "Used up",
    AllocationStatus.EXPIRED.value: "Expired",
    AllocationStatus.REVOKED.value: "Revoked",
}
CONFLICT_LABELS = {
    Reason.INSTITUTION.value: "works or worked in the last 12 months at an applicant's institution",
    Reason.SAME_CALL.value: "applies to this call",
    Reason.DELEGATE.value: "is a council delegate of an applicant's country",
    Reason.DECLARED.value: "declared a conflict",
}
