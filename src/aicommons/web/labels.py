"""Human words for stored values, shared by every page."""

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
