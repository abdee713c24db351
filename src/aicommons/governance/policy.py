"""Who may do what in governance (pure). Reading is public except drafts; the service hides those.

* Operators (``write`` scope) enter figures and dues, compute scales, and run motions through their
  lifecycle. They act as the council's secretariat: they never vote.
* Delegates (``write`` scope) cast their own state's ballot; the service checks which state.
"""

from __future__ import annotations

from aicommons.errors import Forbidden
from aicommons.identity.models import Role
from aicommons.identity.policy import Principal, require_any_role, require_scope


def can_run_council(principal: Principal) -> None:
    require_any_role(principal, Role.OPERATOR, scope="write")


def can_vote(principal: Principal) -> None:
    require_scope(principal, "write")
    if not principal.delegate_of():
        raise Forbidden("only a delegate of a member state may vote")
