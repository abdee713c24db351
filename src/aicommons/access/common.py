"""Small things every access module needs: URNs, the actor, exact fractions, locking loads."""

from __future__ import annotations

from fractions import Fraction
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons.access import ranking
from aicommons.access.lifecycle import IllegalMove, next_state
from aicommons.access.models import Call, Proposal, ProposalStatus
from aicommons.errors import Conflict, Forbidden, NotFound, invalid_field
from aicommons.governance.rules import RuleError, exact_str, fraction
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger

T = TypeVar("T")


def actor_urn(principal: Principal | None) -> str | None:
    return ledger.urn("person", principal.person_id) if principal else None


def call_urn(call_id: int) -> str:
    return ledger.urn("call", call_id)


def proposal_urn(proposal_id: int) -> str:
    return ledger.urn("proposal", proposal_id)


def allocation_urn(allocation_id: int) -> str:
    return ledger.urn("allocation", allocation_id)


def parse_fraction(value: object, loc: tuple, *, low: Fraction, high: Fraction) -> Fraction:
    try:
        number = fraction(value, loc[-1])
    except RuleError as exc:
        raise invalid_field(loc, str(exc)) from exc
    if not low <= number <= high:
        raise invalid_field(loc, f"must be from {exact_str(low)} to {exact_str(high)}")
    return number


def load_for_update(session: Session, model: type[T], ident: int, what: str) -> T:
    # "OF" the row itself: eager joins to its relations would otherwise put FOR UPDATE on an outer join.
    # populate_existing: an object loaded earlier in the session is refreshed from the locked row, so the
    # state checks that follow see what the lock protects, not a stale copy.
    row = session.scalar(select(model).where(model.id == ident).with_for_update(of=model)  # type: ignore[attr-defined]
                         .execution_options(populate_existing=True))
    if row is None:
        raise NotFound(f"no {what} {ident}")
    return row


def get_call(session: Session, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}")
    return call


def move(proposal: Proposal, action: str) -> ProposalStatus:
    """Apply one move of the lifecycle, or refuse it with a 409 naming the state."""
    try:
        proposal.status = next_state(proposal.status, action)
    except IllegalMove as exc:
        raise Conflict(f"proposal {proposal.id}: {exc}") from exc
    return proposal.status


def rubric_of(call: Call) -> ranking.Rubric:
    return ranking.Rubric.from_dict({"criteria": call.rubric})


def refuse_own(actor: Principal, proposal: Proposal) -> None:
    """An operator who is also an applicant never acts as the panel on their own proposal."""
    if actor.person_id == proposal.pi_id or any(m.person_id == actor.person_id for m in proposal.members):
        raise Forbidden(f"you are an applicant on proposal {proposal.id}; another operator acts on it")
