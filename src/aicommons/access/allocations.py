"""Allocations after the grant: who may use them (the PI manages members), revocation, expiry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access.common import actor_urn, allocation_urn, load_for_update
from aicommons.access.decisions import allocation_facts
from aicommons.access.models import Allocation, AllocationMember, AllocationStatus
from aicommons.errors import Conflict, Forbidden, NotFound, invalid_field
from aicommons.identity import accounts
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger

MAX_MEMBERS = 200


def get_allocation(session: Session, allocation_id: int) -> Allocation:
    allocation = session.get(Allocation, allocation_id)
    if allocation is None:
        raise NotFound(f"no allocation {allocation_id}")
    return allocation


def list_allocations(session: Session, *, call_id: int | None = None, member_state: str | None = None,
                     person_id: int | None = None) -> list[Allocation]:
    query = select(Allocation).order_by(Allocation.id.desc())
    if call_id is not None:
        query = query.where(Allocation.call_id == call_id)
    if member_state is not None:
        query = query.where(Allocation.member_state_code == member_state.upper())
    if person_id is not None:
        mine = select(AllocationMember.allocation_id).where(AllocationMember.person_id == person_id)
        query = query.where(Allocation.id.in_(mine))
    return list(session.scalars(query))


def is_member(allocation: Allocation, person_id: int) -> bool:
    return any(m.person_id == person_id for m in allocation.members)


def _managed_by(session: Session, actor: Principal, allocation_id: int) -> Allocation:
    allocation = load_for_update(session, Allocation, allocation_id, "allocation")
    if allocation.pi_id != actor.person_id:
        raise Forbidden("only the allocation's principal investigator manages its members")
    if allocation.status is AllocationStatus.REVOKED:
        raise Conflict(f"allocation {allocation.id} was revoked")
    return allocation


def add_member(session: Session, *, actor: Principal, allocation_id: int, email: str) -> Allocation:
    allocation = _managed_by(session, actor, allocation_id)
    person = accounts.find_person_by_email(session, email.strip().lower())
    if person is None:
        raise invalid_field(("body", "email"), f"no account for '{email}'; members register first")
    if is_member(allocation, person.id):
        raise Conflict(f"{person.email} is already a member of allocation {allocation.id}")
    if len(allocation.members) >= MAX_MEMBERS:
        raise Conflict(f"an allocation has at most {MAX_MEMBERS} members")
    allocation.members.append(AllocationMember(person_id=person.id, added_at=clock.now()))
    allocation.updated_at = clock.now()
    session.flush()
    return allocation


def remove_member(session: Session, *, actor: Principal, allocation_id: int, person_id: int) -> Allocation:
    allocation = _managed_by(session, actor, allocation_id)
    if person_id == allocation.pi_id:
        raise Conflict("the principal investigator is always a member")
    member = next((m for m in allocation.members if m.person_id == person_id), None)
    if member is None:
        raise NotFound(f"person {person_id} is not a member of allocation {allocation.id}")
    allocation.members.remove(member)
    allocation.updated_at = clock.now()
    session.flush()
    return allocation


def revoke(session: Session, *, actor: Principal, allocation_id: int, reason: str) -> Allocation:
    """An operator revokes with a written reason (the compute domain cancels the allocation's jobs)."""
    allocation = load_for_update(session, Allocation, allocation_id, "allocation")
    if allocation.status is AllocationStatus.REVOKED:
        raise Conflict(f"allocation {allocation.id} was already revoked")
    if not reason.strip():
        raise invalid_field(("body", "reason"), "a revocation states its reason")
    allocation.status, allocation.status_reason = AllocationStatus.REVOKED, reason.strip()
    allocation.updated_at = clock.now()
    session.flush()
    ledger.record(session, kind="access.allocation.revoked", subject=allocation_urn(allocation.id),
                  actor=actor_urn(actor), data={**allocation_facts(allocation), "reason": allocation.status_reason})
    return allocation


def expire_ended(session: Session) -> list[Allocation]:
    """Active allocations whose last day has passed become expired (run by the operator or a timer)."""
    today = clock.now().date()
    ended = list(session.scalars(select(Allocation).where(Allocation.status == AllocationStatus.ACTIVE,
                                                          Allocation.ends_on < today).with_for_update(of=Allocation)
                         .execution_options(populate_existing=True)))
    for allocation in ended:
        allocation.status, allocation.status_reason = AllocationStatus.EXPIRED, f"ended on {allocation.ends_on}"
        allocation.updated_at = clock.now()
        session.flush()
        ledger.record(session, kind="access.allocation.changed", subject=allocation_urn(allocation.id), actor=None,
                      data=allocation_facts(allocation))
    return ended


def lock_for_spending(session: Session, allocation_id: int) -> Allocation:
    """The allocation, locked: jobs reserve and settle GPU-seconds one at a time per allocation."""
    return load_for_update(session, Allocation, allocation_id, "allocation")


def mark_exhausted(session: Session, allocation: Allocation) -> None:
    """Its budget is spent (the compute domain decides when); a renewal can make it active again."""
    if allocation.status is AllocationStatus.ACTIVE:
        allocation.status, allocation.status_reason = AllocationStatus.EXHAUSTED, "its GPU-hour budget is spent"
        allocation.updated_at = clock.now()
        session.flush()
        ledger.record(session, kind="access.allocation.changed", subject=allocation_urn(allocation.id), actor=None,
                      data=allocation_facts(allocation))
