"""People and their roles. Roles are granted and revoked, never deleted: the history is the record."""

from __future__ import annotations

from datetime import date

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.errors import Conflict, NotFound, invalid_field
from aicommons.identity import identifiers, secrets
from aicommons.identity.models import Affiliation, ApiToken, MembershipStatus, Person, Role, RoleGrant, WebSession
from aicommons.identity.policy import Principal
from aicommons.identity.service import get_institution, get_member_state
from aicommons.ledger import service as ledger
from aicommons.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor

MAX_DELEGATES_PER_STATE = 2
# Operators and delegates hold public offices: their grants and revocations are published.
PUBLIC_OFFICES = frozenset({Role.OPERATOR, Role.DELEGATE})


def normalise_email(email: str, loc: tuple = ("body", "email")) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise invalid_field(loc, str(exc)) from exc


def principal_for(person: Person, scopes: frozenset[str] | None = None) -> Principal:
    roles = frozenset((g.role, g.member_state_code) for g in person.active_grants)
    if scopes is None:
        return Principal(person.id, person.email, person.display_name, roles)
    return Principal(person.id, person.email, person.display_name, roles, scopes, via_token=True)


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    return person


def find_person_by_email(session: Session, email: str) -> Person | None:
    return session.scalar(select(Person).where(Person.email == email.strip().lower()))


def get_person_by_email(session: Session, email: str) -> Person:
    person = find_person_by_email(session, email)
    if person is None:
        raise NotFound(f"no person with email {email}")
    return person


def list_people(session: Session, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
                role: Role | None = None, search: str | None = None) -> Page[Person]:
    after = decode_cursor(cursor, int)
    query = select(Person).order_by(Person.id).limit(limit + 1)
    if after is not None:
        query = query.where(Person.id > after)
    if role is not None:
        query = query.where(Person.id.in_(select(RoleGrant.person_id).where(
            RoleGrant.role == role, RoleGrant.revoked_at.is_(None))))
    if search:
        needle = search.lower()
        query = query.where(func.lower(Person.display_name).contains(needle, autoescape=True)
                            | Person.email.contains(needle, autoescape=True))
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more else None)


def create_person(session: Session, *, actor: Principal | None, email: str, display_name: str,
                  institution_id: int | None = None, orcid: str | None = None,
                  password: str | None = None, password_hash: str | None = None) -> Person:
    """Create an account. Without a password the person cannot log in until one is set."""
    email = normalise_email(email)
    display_name = " ".join(display_name.split())
    if not display_name:
        raise invalid_field(("body", "display_name"), "a display name is required")
    if find_person_by_email(session, email) is not None:
        raise Conflict(f"an account with email {email} already exists")
    if institution_id is not None:
        get_institution(session, institution_id)
    try:
        orcid = identifiers.orcid(orcid) if orcid else None
    except ValueError as exc:
        raise invalid_field(("body", "orcid"), str(exc)) from exc
    if orcid and session.scalar(select(Person.id).where(Person.orcid == orcid)) is not None:
        raise Conflict(f"ORCID {orcid} already belongs to another account")
    if password is not None:
        try:
            password_hash = secrets.hash_password(password)
        except ValueError as exc:
            raise invalid_field(("body", "password"), str(exc)) from exc
    person = Person(email=email, display_name=display_name, institution_id=institution_id, orcid=orcid,
                    password_hash=password_hash, is_active=True, created_at=clock.now())
    session.add(person)
    session.flush()
    return person


def set_password(session: Session, *, person_id: int, password: str) -> None:
    person = get_person(session, person_id)
    try:
        person.password_hash = secrets.hash_password(password)
    except ValueError as exc:
        raise invalid_field(("body", "password"), str(exc)) from exc
    # A new password signs out every browser.
    session.execute(update(WebSession).where(WebSession.person_id == person.id)
                    .values(expires_at=clock.now()))


def deactivate_person(session: Session, *, actor: Principal | None, person_id: int) -> Person:
    """Disable an account: it can no longer log in, its tokens and sessions stop working at once."""
    person = get_person(session, person_id)
    moment = clock.now()
    person.is_active = False
    session.execute(update(ApiToken).where(ApiToken.person_id == person.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=moment))
    session.execute(update(WebSession).where(WebSession.person_id == person.id).values(expires_at=moment))
    for grant in person.active_grants:
        revoke_role(session, actor=actor, grant_id=grant.id, note="account deactivated")
    return person


def grant_role(session: Session, *, actor: Principal | None, person_id: int, role: Role,
               member_state_code: str | None = None, note: str | None = None) -> RoleGrant:
    """Give a person a role. A delegate represents exactly one member state, which has at most two."""
    person = get_person(session, person_id)
    if not person.is_active:
        raise Conflict(f"account {person.id} is deactivated")
    if role == Role.DELEGATE:
        if not member_state_code:
            raise invalid_field(("body", "member_state"), "a delegate represents a member state")
        state = get_member_state(session, member_state_code)
        _refuse_duplicate(person, role, state.code)
        for grant in person.active_grants:
            if grant.role == Role.DELEGATE:
                raise Conflict(f"{person.display_name} already represents {grant.member_state_code}; "
                               "a delegate represents one member state")
        if state.status == MembershipStatus.OBSERVER:
            raise Conflict(f"{state.name} is an observer and sends no delegates")
        member_state_code = state.code
        holders = session.scalar(select(func.count()).select_from(RoleGrant).where(
            RoleGrant.role == Role.DELEGATE, RoleGrant.member_state_code == state.code,
            RoleGrant.revoked_at.is_(None)))
        if holders >= MAX_DELEGATES_PER_STATE:
            raise Conflict(f"{state.name} already has {MAX_DELEGATES_PER_STATE} delegates; revoke one first")
    elif member_state_code:
        raise invalid_field(("body", "member_state"), f"the {role.value} role is not held for a member state")
    else:
        _refuse_duplicate(person, role, None)
    grant = RoleGrant(person_id=person.id, role=role, member_state_code=member_state_code,
                      granted_at=clock.now(), granted_by_id=actor.person_id if actor else None, note=note)
    session.add(grant)
    session.flush()
    session.refresh(person, ["role_grants"])
    if role in PUBLIC_OFFICES:
        ledger.record(session, kind="identity.role.granted", subject=ledger.urn("person", person.id),
                      actor=ledger.urn("person", actor.person_id) if actor else None,
                      data={"role": role.value, "member_state": member_state_code, "grant": grant.id})
    return grant


def _refuse_duplicate(person: Person, role: Role, member_state_code: str | None) -> None:
    for grant in person.active_grants:
        if grant.role == role and grant.member_state_code == member_state_code:
            raise Conflict(f"{person.display_name} already holds the {role.value} role")


def revoke_role(session: Session, *, actor: Principal | None, grant_id: int,
                note: str | None = None) -> RoleGrant:
    grant = session.get(RoleGrant, grant_id)
    if grant is None:
        raise NotFound(f"no role grant with id {grant_id}")
    if grant.revoked_at is not None:
        raise Conflict(f"role grant {grant_id} was already revoked")
    grant.revoked_at = clock.now()
    grant.revoked_by_id = actor.person_id if actor else None
    if note:
        grant.note = f"{grant.note}; {note}" if grant.note else note
    session.flush()
    if grant.role in PUBLIC_OFFICES:
        ledger.record(session, kind="identity.role.revoked", subject=ledger.urn("person", grant.person_id),
                      actor=ledger.urn("person", actor.person_id) if actor else None,
                      data={"role": grant.role.value, "member_state": grant.member_state_code,
                            "grant": grant.id})
    return grant


def count_people(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Person)) or 0


def list_delegates(session: Session) -> list[tuple[RoleGrant, Person]]:
    """Every serving delegate with their person, by state: a public office, so a public list."""
    query = (select(RoleGrant, Person).join(Person, Person.id == RoleGrant.person_id)
             .where(RoleGrant.role == Role.DELEGATE, RoleGrant.revoked_at.is_(None), Person.is_active.is_(True))
             .order_by(RoleGrant.member_state_code, RoleGrant.granted_at))
    return [(grant, person) for grant, person in session.execute(query).all()]


def affiliations(session: Session, person_id: int) -> list[Affiliation]:
    get_person(session, person_id)
    return list(session.scalars(select(Affiliation).where(Affiliation.person_id == person_id)
                                .order_by(Affiliation.id)))


def record_affiliation(session: Session, *, actor: Principal | None, person_id: int, institution_id: int,
                       started_on: date | None = None, ended_on: date | None = None) -> Affiliation:
    """Where a person works or worked. An open affiliation (no end) becomes their current institution,
    and the one it replaces is kept as ended today: a reviewer stays conflicted with it for 12 months."""
    person = get_person(session, person_id)
    institution = get_institution(session, institution_id)
    today = clock.now().date()
    if started_on and ended_on and ended_on < started_on:
        raise invalid_field(("body", "ended_on"), "an affiliation cannot end before it starts")
    if ended_on is not None and ended_on > today:
        raise invalid_field(("body", "ended_on"), "record an affiliation that has ended; the current one has none")
    if ended_on is None:
        previous = person.institution_id
        if previous is not None and previous != institution_id:
            current = session.scalar(select(Affiliation).where(Affiliation.person_id == person.id,
                                                               Affiliation.institution_id == previous,
                                                               Affiliation.ended_on.is_(None)))
            if current is None:
                session.add(Affiliation(person_id=person.id, institution_id=previous, ended_on=today))
            else:
                current.ended_on = today
        person.institution = institution
    row = Affiliation(person_id=person.id, institution_id=institution_id, started_on=started_on or
                      (today if ended_on is None else None), ended_on=ended_on)
    session.add(row)
    session.flush()
    return row
