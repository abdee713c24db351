"""Human words for stored values, shared by every page."""

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
