"""Who may see and do what in access (pure). Edges call these before the service; a denial is a 403.

- Operators run calls: drafting, the technical check, assignment, release, ranking, the slate, appeals.
- Researchers write proposals; the principal investigator submits, replies, appeals, reports.
- Reviewers review what they are assigned, and nothing they are conflicted on.
- Auditors read everything, including reviewers' identities and the panel's comments; they change nothing.
- Applicants (PI and team) see their reviews anonymised: never a reviewer's name or the panel's comments.
- Everyone sees open calls, submitted proposals' public facts, the published ranking and allocations.
"""

from __future__ import annotations

from aicommons.access.models import Proposal
from aicommons.errors import Forbidden
from aicommons.identity.models import Role
from aicommons.identity.policy import Principal, require_any_role, require_scope


def can_run_calls(principal: Principal) -> None:
    require_any_role(principal, Role.OPERATOR, scope="write")


def can_read_panel(principal: Principal) -> None:
    """Reviewers' identities, assignments, conflicts and the panel's comments."""
    require_any_role(principal, Role.OPERATOR, Role.AUDITOR, scope="read")


def sees_panel(principal: Principal | None) -> bool:
    return principal is not None and (principal.has_role(Role.OPERATOR) or principal.has_role(Role.AUDITOR))


def sees_draft_calls(principal: Principal | None) -> bool:
    return sees_panel(principal)


def can_apply(principal: Principal) -> None:
    require_any_role(principal, Role.RESEARCHER, scope="write")


def can_review(principal: Principal) -> None:
    require_any_role(principal, Role.REVIEWER, scope="write")


def can_read_own_reviews(principal: Principal) -> None:
    """A reviewer's own queue and expertise, with a read-only token too."""
    require_any_role(principal, Role.REVIEWER, scope="read")


def is_applicant(principal: Principal | None, proposal: Proposal) -> bool:
    if principal is None:
        return False
    return principal.person_id == proposal.pi_id or any(m.person_id == principal.person_id
                                                        for m in proposal.members)


def can_read_proposal(principal: Principal | None, proposal: Proposal, *, assigned: bool) -> None:
    """The whole proposal: its team, operators and auditors, and reviewers assigned to it."""
    if principal is not None:
        require_scope(principal, "read")
    if is_applicant(principal, proposal) or sees_panel(principal) or assigned:
        return
    raise Forbidden(f"proposal {proposal.id} in full is for its applicants, its reviewers and operators; "
                    f"its public facts are at /api/v1/proposals/{proposal.id}/public")
