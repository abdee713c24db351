"""Member states and institutions: the facility's public register of who takes part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.errors import Conflict, NotFound, invalid_field
from aicommons.identity import identifiers
from aicommons.identity.models import (
    FacilityMeta,
    Institution,
    InstitutionAlias,
    InstitutionDomain,
    InstitutionKind,
    MembershipStatus,
    MemberState,
)
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger
from aicommons.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor


def _actor(principal: Principal | None) -> str | None:
    return ledger.urn("person", principal.person_id) if principal else None


# --- member states -------------------------------------------------------------------------------


def list_member_states(session: Session, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
                       status: MembershipStatus | None = None) -> Page[MemberState]:
    """Member states ordered by code."""
    after = decode_cursor(cursor, str)
    query = select(MemberState).order_by(MemberState.code).limit(limit + 1)
    if after is not None:
        query = query.where(MemberState.code > after)
    if status is not None:
        query = query.where(MemberState.status == status)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].code) if more else None)


def get_member_state(session: Session, code: str) -> MemberState:
    state = session.get(MemberState, code.upper())
    if state is None:
        raise NotFound(f"no member state with code '{code}'")
    return state


COUNCIL_SEATED = "council_seated"


def council_seated(session: Session) -> bool:
    """True once the council has published a decision; from then on it alone decides who is a member."""
    return session.get(FacilityMeta, COUNCIL_SEATED) is not None


def seat_council(session: Session) -> None:
    if not council_seated(session):
        session.add(FacilityMeta(key=COUNCIL_SEATED, value="true"))
        session.flush()


def _refuse_membership_change(session: Session, code: str) -> None:
    if council_seated(session):
        raise Conflict(f"the council decides membership: move an admission motion for {code} (member and "
                       "associate member status change only by a published council decision)")


def admit_member_state(session: Session, *, actor: Principal | None, code: str, name: str | None,
                       status: MembershipStatus, admitted_on: date) -> MemberState:
    """Record a state joining the facility: founding members directly; once the council sits, only as an
    observer (membership then comes by an admission motion)."""
    try:
        code = identifiers.country_code(code)
    except ValueError as exc:
        raise invalid_field(("body", "code"), str(exc)) from exc
    if session.get(MemberState, code) is not None:
        raise Conflict(f"member state '{code}' is already registered")
    if status is not MembershipStatus.OBSERVER:
        _refuse_membership_change(session, code)
    moment = clock.now()
    state = MemberState(code=code, name=(name or identifiers.country_name(code)).strip(),
                        status=status, admitted_on=admitted_on, created_at=moment, updated_at=moment)
    session.add(state)
    session.flush()
    ledger.record(session, kind="identity.member_state.admitted", subject=ledger.urn("member-state", code),
                  actor=_actor(actor), data={"code": code, "name": state.name, "status": status.value,
                                             "admitted_on": admitted_on.isoformat()})
    return state


def change_member_state(session: Session, *, actor: Principal | None, code: str, name: str | None = None,
                        status: MembershipStatus | None = None, admitted_on: date | None = None,
                        by_council: bool = False) -> MemberState:
    """Change a member state's public record; a no-op change records nothing. Once the council sits,
    a change of membership status is its decision (``by_council``), never an operator's."""
    state = get_member_state(session, code)
    if status is not None and status != state.status and not by_council:
        _refuse_membership_change(session, state.code)
    changes: dict[str, str] = {}
    if name is not None and name.strip() != state.name:
        state.name = changes["name"] = name.strip()
    if status is not None and status != state.status:
        state.status = status
        changes["status"] = status.value
    if admitted_on is not None and admitted_on != state.admitted_on:
        state.admitted_on = admitted_on
        changes["admitted_on"] = admitted_on.isoformat()
    if changes:
        state.updated_at = clock.now()
        ledger.record(session, kind="identity.member_state.changed",
                      subject=ledger.urn("member-state", state.code), actor=_actor(actor),
                      data={"changes": changes})
        if state.status == MembershipStatus.OBSERVER:
            _end_delegations(session, actor=actor, code=state.code)
    return state


def _end_delegations(session: Session, *, actor: Principal | None, code: str) -> None:
    """Observers send no delegates: revoke (and publish) every delegate grant of a state that became one."""
    from aicommons.identity import accounts  # accounts builds on this module
    from aicommons.identity.models import Role, RoleGrant

    grants = session.scalars(select(RoleGrant.id).where(RoleGrant.role == Role.DELEGATE,
                                                        RoleGrant.member_state_code == code,
                                                        RoleGrant.revoked_at.is_(None))).all()
    for grant_id in grants:
        accounts.revoke_role(session, actor=actor, grant_id=grant_id, note=f"{code} became an observer")


# --- institutions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstitutionRow:
    """An institution as lists show it: plain values, no ORM object (lists are the busiest reads)."""

    id: int
    name: str
    country_code: str
    kind: InstitutionKind
    ror_id: str | None
    created_at: datetime
    domains: list[str]


def list_institutions(session: Session, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
                      country: str | None = None, kind: InstitutionKind | None = None,
                      search: str | None = None) -> Page[InstitutionRow]:
    """Institutions ordered by id, optionally filtered by country, kind and a name fragment."""
    after = decode_cursor(cursor, int)
    page = select(Institution.id).order_by(Institution.id).limit(limit + 1)
    if after is not None:
        page = page.where(Institution.id > after)
    if country:
        page = page.where(Institution.country_code == country.upper())
    if kind is not None:
        page = page.where(Institution.kind == kind)
    if search:
        page = page.where(func.lower(Institution.name).contains(search.lower(), autoescape=True))
    page = page.subquery()
    # One round trip: the page's institutions with their domains joined, grouped back together here.
    rows = session.execute(
        select(Institution.id, Institution.name, Institution.country_code, Institution.kind, Institution.ror_id,
               Institution.created_at, InstitutionDomain.domain)
        .join(page, page.c.id == Institution.id)
        .outerjoin(InstitutionDomain, InstitutionDomain.institution_id == Institution.id)
        .order_by(Institution.id, InstitutionDomain.domain)).all()
    items: list[InstitutionRow] = []
    for row in rows:
        if not items or items[-1].id != row.id:
            items.append(InstitutionRow(*row[:6], domains=[]))
        if row.domain is not None:
            items[-1].domains.append(row.domain)
    more = len(items) > limit
    items = items[:limit]
    return Page(items, encode_cursor(items[-1].id) if more else None)


def institution_row(session: Session, institution_id: int) -> InstitutionRow:
    """One institution as plain values, in a single query (the API's read path)."""
    rows = session.execute(
        select(Institution.id, Institution.name, Institution.country_code, Institution.kind, Institution.ror_id,
               Institution.created_at, InstitutionDomain.domain)
        .outerjoin(InstitutionDomain, InstitutionDomain.institution_id == Institution.id)
        .where(Institution.id == institution_id).order_by(InstitutionDomain.domain)).all()
    if not rows:
        raise NotFound(f"no institution with id {institution_id}")
    first = rows[0]
    return InstitutionRow(*first[:6], domains=[r.domain for r in rows if r.domain is not None])


def get_institution(session: Session, institution_id: int) -> Institution:
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound(f"no institution with id {institution_id}")
    return institution


def _clean_domains(domains: list[str]) -> list[str]:
    cleaned: list[str] = []
    for i, domain in enumerate(domains):
        try:
            value = identifiers.email_domain(domain)
        except ValueError as exc:
            raise invalid_field(("body", "email_domains", i), str(exc)) from exc
        if value not in cleaned:
            cleaned.append(value)
    return sorted(cleaned)


def _check_unique(session: Session, *, name: str, country: str, ror_id: str | None,
                  domains: list[str], exclude_id: int | None = None) -> None:
    same_name = select(Institution.id).where(
        Institution.country_code == country, func.lower(Institution.name) == name.lower())
    if exclude_id is not None:
        same_name = same_name.where(Institution.id != exclude_id)
    if session.scalar(same_name) is not None:
        raise Conflict(f"an institution named '{name}' is already registered in {country}")
    if ror_id:
        other = session.scalar(select(Institution.id).where(Institution.ror_id == ror_id))
        if other is not None and other != exclude_id:
            raise Conflict(f"ROR id {ror_id} already belongs to institution {other}")
    for domain in domains:
        owner = session.scalar(select(InstitutionDomain.institution_id)
                               .where(InstitutionDomain.domain == domain))
        if owner is not None and owner != exclude_id:
            raise Conflict(f"email domain {domain} already belongs to institution {owner}")


def register_institution(session: Session, *, actor: Principal | None, name: str, country: str,
                         kind: InstitutionKind, ror_id: str | None = None,
                         email_domains: list[str] | None = None) -> Institution:
    """Register an institution; names are unique per country, ROR ids and email domains globally."""
    name = " ".join(name.split())
    if not name:
        raise invalid_field(("body", "name"), "a name is required")
    try:
        country = identifiers.country_code(country)
    except ValueError as exc:
        raise invalid_field(("body", "country"), str(exc)) from exc
    try:
        ror = identifiers.ror_id(ror_id) if ror_id else None
    except ValueError as exc:
        raise invalid_field(("body", "ror_id"), str(exc)) from exc
    domains = _clean_domains(email_domains or [])
    _check_unique(session, name=name, country=country, ror_id=ror, domains=domains)
    moment = clock.now()
    institution = Institution(name=name, country_code=country, kind=kind, ror_id=ror, created_at=moment,
                              updated_at=moment, domains=[InstitutionDomain(domain=d) for d in domains])
    session.add(institution)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict(f"an institution named '{name}' is already registered in {country}") from exc
    ledger.record(session, kind="identity.institution.registered",
                  subject=ledger.urn("institution", institution.id), actor=_actor(actor),
                  data={"name": name, "country": country, "kind": kind.value, "ror_id": ror,
                        "email_domains": domains})
    return institution


def change_institution(session: Session, *, actor: Principal | None, institution_id: int,
                       name: str | None = None, kind: InstitutionKind | None = None,
                       ror_id: str | None = None, email_domains: list[str] | None = None) -> Institution:
    """Change an institution's public record (its country cannot change: register a new one)."""
    institution = get_institution(session, institution_id)
    changes: dict[str, object] = {}
    new_name = " ".join(name.split()) if name is not None else institution.name
    if not new_name:
        raise invalid_field(("body", "name"), "a name is required")
    try:
        ror = identifiers.ror_id(ror_id) if ror_id else institution.ror_id
    except ValueError as exc:
        raise invalid_field(("body", "ror_id"), str(exc)) from exc
    domains = _clean_domains(email_domains) if email_domains is not None else [
        d.domain for d in institution.domains]
    _check_unique(session, name=new_name, country=institution.country_code, ror_id=ror, domains=domains,
                  exclude_id=institution.id)
    if new_name != institution.name:
        institution.name = changes["name"] = new_name
    if kind is not None and kind != institution.kind:
        institution.kind = kind
        changes["kind"] = kind.value
    if ror != institution.ror_id:
        institution.ror_id = changes["ror_id"] = ror
    if sorted(domains) != sorted(d.domain for d in institution.domains):
        institution.domains.clear()
        session.flush()
        institution.domains.extend(InstitutionDomain(domain=d) for d in domains)
        changes["email_domains"] = domains
    if changes:
        institution.updated_at = clock.now()
        session.flush()
        ledger.record(session, kind="identity.institution.changed",
                      subject=ledger.urn("institution", institution.id), actor=_actor(actor),
                      data={"changes": changes})
    return institution


def institution_for_email(session: Session, email: str) -> Institution | None:
    """The institution that owns the email's domain (or a parent domain of it), if any."""
    domain = email.rsplit("@", 1)[-1].lower()
    parts = domain.split(".")
    candidates = [".".join(parts[i:]) for i in range(len(parts) - 1)]
    row = session.scalar(select(InstitutionDomain).where(InstitutionDomain.domain.in_(candidates))
                         .order_by(func.length(InstitutionDomain.domain).desc()))
    return row.institution if row else None


MAX_ALIASES = 20


def institution_aliases(session: Session, institution_id: int) -> list[str]:
    get_institution(session, institution_id)
    return list(session.scalars(select(InstitutionAlias.alias).where(InstitutionAlias.institution_id == institution_id)
                                .order_by(InstitutionAlias.alias)))


def set_institution_aliases(session: Session, *, actor: Principal | None, institution_id: int,
                            aliases: list[str]) -> list[str]:
    """Other names the organisation goes by; conflict-of-interest checks treat them as the same organisation."""
    institution = get_institution(session, institution_id)
    names = sorted({" ".join(a.split()) for a in aliases if a.strip()} - {institution.name})
    if len(names) > MAX_ALIASES:
        raise invalid_field(("body", "aliases"), f"at most {MAX_ALIASES} aliases")
    for i, name in enumerate(names):
        if len(name) > 300:
            raise invalid_field(("body", "aliases", i), "an alias is at most 300 characters")
    if names == institution_aliases(session, institution_id):
        return names
    session.execute(delete(InstitutionAlias).where(InstitutionAlias.institution_id == institution_id))
    session.add_all(InstitutionAlias(institution_id=institution_id, alias=name) for name in names)
    institution.updated_at = clock.now()
    session.flush()
    ledger.record(session, kind="identity.institution.changed", subject=ledger.urn("institution", institution_id),
                  actor=_actor(actor), data={"changes": {"aliases": names}})
    return names
