"""Who may do what (pure, no I/O). Edges call these before the service; every denial is a 403.

Token scopes narrow what a person's roles allow: ``read`` for reading, ``write`` for changing the
facility's records, ``admin`` for operator actions on people and roles. A browser session carries
every scope; the roles still decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from aicommons.errors import Forbidden
from aicommons.identity.models import Role

SCOPES = ("read", "write", "admin")
ALL_SCOPES = frozenset(SCOPES)


@dataclass(frozen=True)
class Principal:
    person_id: int
    email: str
    display_name: str
    roles: frozenset[tuple[Role, str | None]]
    scopes: frozenset[str] = ALL_SCOPES
    via_token: bool = False

    def has_role(self, role: Role) -> bool:
        return any(r == role for r, _ in self.roles)

    def delegate_of(self) -> frozenset[str]:
        return frozenset(code for r, code in self.roles if r == Role.DELEGATE and code)

    @property
    def role_names(self) -> list[str]:
        return sorted({r.value for r, _ in self.roles})


def require_scope(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise Forbidden(f"this token lacks the '{scope}' scope")


def require_any_role(principal: Principal, *roles: Role, scope: str) -> None:
    require_scope(principal, scope)
    if not any(principal.has_role(r) for r in roles):
        names = " or ".join(r.value for r in roles)
        raise Forbidden(f"this needs the {names} role")


def can_manage_member_states(principal: Principal) -> None:
    require_any_role(principal, Role.OPERATOR, scope="write")


def can_register_institution(principal: Principal, country_code: str) -> None:
    """Operators register any institution; a delegate only one in the state they represent."""
    require_scope(principal, "write")
    if principal.has_role(Role.OPERATOR):
        return
    if country_code in principal.delegate_of():
        return
    if principal.delegate_of():
        raise Forbidden(f"a delegate may register institutions only in {', '.join(sorted(principal.delegate_of()))}")
    raise Forbidden("registering an institution needs the operator role or a delegate of its country")


def can_read_people(principal: Principal) -> None:
    require_any_role(principal, Role.OPERATOR, Role.AUDITOR, scope="read")


def can_manage_people(principal: Principal) -> None:
    require_any_role(principal, Role.OPERATOR, scope="admin")


def can_create_token(principal: Principal, requested: frozenset[str]) -> None:
    """A token may only create tokens with no more scopes than it has itself."""
    require_scope(principal, "write")
    extra = requested - principal.scopes
    if extra:
        raise Forbidden(f"a token cannot grant scopes it lacks: {', '.join(sorted(extra))}")
