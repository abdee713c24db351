"""The identity API: member states, institutions, the caller, tokens, and operators' people and roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from aicommons.deps import DB, CurrentPrincipal, SettingsDep, read_only
from aicommons.errors import NotFound
from aicommons.identity import accounts, auth, policy, service
from aicommons.identity.models import InstitutionKind, MembershipStatus, Role
from aicommons.identity.schemas import (
    AffiliationIn,
    AffiliationOut,
    AliasesIn,
    InstitutionIn,
    InstitutionOut,
    InstitutionPatch,
    MemberStateIn,
    MemberStateOut,
    MemberStatePatch,
    MeOut,
    PageOut,
    PersonIn,
    PersonOut,
    RoleGrantIn,
    RoleGrantOut,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from aicommons.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/api/v1")
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=200, description="From the previous page's next_cursor.")]


# --- member states (public read, operators write) ------------------------------------------------


MemberStatePage = PageOut[MemberStateOut]
InstitutionPage = PageOut[InstitutionOut]


@router.get("/member-states", tags=["member states"], response_model=MemberStatePage)
async def list_member_states(request: Request, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
                             status: MembershipStatus | None = None):
    def query(db) -> MemberStatePage:
        page = service.list_member_states(db, cursor=cursor, limit=limit, status=status)
        return MemberStatePage(items=[MemberStateOut.model_validate(s) for s in page.items],
                               next_cursor=page.next_cursor)

    return await read_only(request, query)


@router.get("/member-states/{code}", tags=["member states"], response_model=MemberStateOut)
async def get_member_state(request: Request, code: str):
    return await read_only(request, lambda db: MemberStateOut.model_validate(service.get_member_state(db, code)))


@router.post("/member-states", tags=["member states"], response_model=MemberStateOut,
             status_code=status.HTTP_201_CREATED)
def admit_member_state(db: DB, principal: CurrentPrincipal, body: MemberStateIn, response: Response):
    policy.can_manage_member_states(principal)
    state = service.admit_member_state(db, actor=principal, code=body.code, name=body.name,
                                       status=body.status, admitted_on=body.admitted_on)
    response.headers["Location"] = f"/api/v1/member-states/{state.code}"
    return MemberStateOut.model_validate(state)


@router.patch("/member-states/{code}", tags=["member states"], response_model=MemberStateOut)
def change_member_state(db: DB, principal: CurrentPrincipal, code: str, body: MemberStatePatch):
    policy.can_manage_member_states(principal)
    state = service.change_member_state(db, actor=principal, code=code, name=body.name, status=body.status,
                                        admitted_on=body.admitted_on)
    return MemberStateOut.model_validate(state)


# --- institutions (public read; operators anywhere, delegates in their own country) ---------------


@router.get("/institutions", tags=["institutions"], response_model=InstitutionPage)
async def list_institutions(request: Request, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
                            country: Annotated[str | None, Query(max_length=2)] = None,
                            kind: InstitutionKind | None = None,
                            q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None):
    def query(db) -> InstitutionPage:
        page = service.list_institutions(db, cursor=cursor, limit=limit, country=country, kind=kind, search=q)
        return InstitutionPage(items=[InstitutionOut.of(i) for i in page.items], next_cursor=page.next_cursor)

    return await read_only(request, query)


@router.get("/institutions/{institution_id}", tags=["institutions"], response_model=InstitutionOut)
async def get_institution(request: Request, institution_id: int):
    return await read_only(request, lambda db: InstitutionOut.of(service.institution_row(db, institution_id)))


@router.post("/institutions", tags=["institutions"], response_model=InstitutionOut,
             status_code=status.HTTP_201_CREATED)
def register_institution(db: DB, principal: CurrentPrincipal, body: InstitutionIn, response: Response):
    policy.can_register_institution(principal, body.country.strip().upper())
    institution = service.register_institution(db, actor=principal, name=body.name, country=body.country,
                                               kind=body.kind, ror_id=body.ror_id,
                                               email_domains=body.email_domains)
    response.headers["Location"] = f"/api/v1/institutions/{institution.id}"
    return InstitutionOut.of(institution)


@router.patch("/institutions/{institution_id}", tags=["institutions"], response_model=InstitutionOut)
def change_institution(db: DB, principal: CurrentPrincipal, institution_id: int, body: InstitutionPatch):
    institution = service.get_institution(db, institution_id)
    policy.can_register_institution(principal, institution.country_code)
    institution = service.change_institution(db, actor=principal, institution_id=institution_id,
                                             name=body.name, kind=body.kind, ror_id=body.ror_id,
                                             email_domains=body.email_domains)
    return InstitutionOut.of(institution)


# --- the caller and their tokens -----------------------------------------------------------------


@router.get("/me", tags=["me"], response_model=MeOut)
def me(db: DB, principal: CurrentPrincipal):
    policy.require_scope(principal, "read")
    person = accounts.get_person(db, principal.person_id)
    return MeOut(person=PersonOut.of(person), scopes=sorted(principal.scopes, key=policy.SCOPES.index),
                 authenticated_by="token" if principal.via_token else "session")


@router.get("/tokens", tags=["me"], response_model=list[TokenOut])
def list_my_tokens(db: DB, principal: CurrentPrincipal):
    policy.require_scope(principal, "read")
    return [TokenOut.of(t) for t in auth.list_tokens(db, person_id=principal.person_id)]


@router.post("/tokens", tags=["me"], response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_my_token(db: DB, settings: SettingsDep, principal: CurrentPrincipal, body: TokenIn):
    policy.can_create_token(principal, frozenset(body.scopes))
    issued = auth.create_token(db, settings, person=accounts.get_person(db, principal.person_id),
                               name=body.name, scopes=body.scopes, expires_in_days=body.expires_in_days)
    return TokenCreated(**TokenOut.of(issued.token).model_dump(), token=issued.plaintext)


@router.delete("/tokens/{token_id}", tags=["me"], status_code=status.HTTP_204_NO_CONTENT)
def revoke_my_token(db: DB, principal: CurrentPrincipal, token_id: int):
    policy.require_scope(principal, "write")
    auth.revoke_token(db, token_id=token_id, owner_id=principal.person_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- operators: people and roles (auditors read) -------------------------------------------------


@router.get("/people", tags=["people"], response_model=PageOut[PersonOut])
def list_people(db: DB, principal: CurrentPrincipal, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT,
                role: Role | None = None, q: Annotated[str | None, Query(max_length=100)] = None):
    policy.can_read_people(principal)
    page = accounts.list_people(db, cursor=cursor, limit=limit, role=role, search=q)
    return PageOut[PersonOut](items=[PersonOut.of(p) for p in page.items], next_cursor=page.next_cursor)


@router.get("/people/{person_id}", tags=["people"], response_model=PersonOut)
def get_person(db: DB, principal: CurrentPrincipal, person_id: int):
    policy.can_read_people(principal)
    return PersonOut.of(accounts.get_person(db, person_id), include_revoked=True)


@router.post("/people", tags=["people"], response_model=PersonOut, status_code=status.HTTP_201_CREATED)
def create_person(db: DB, principal: CurrentPrincipal, body: PersonIn, response: Response):
    policy.can_manage_people(principal)
    person = accounts.create_person(db, actor=principal, email=body.email, display_name=body.display_name,
                                    institution_id=body.institution_id, orcid=body.orcid,
                                    password=body.password)
    response.headers["Location"] = f"/api/v1/people/{person.id}"
    return PersonOut.of(person)


@router.post("/people/{person_id}/deactivate", tags=["people"], response_model=PersonOut)
def deactivate_person(db: DB, principal: CurrentPrincipal, person_id: int):
    policy.can_manage_people(principal)
    return PersonOut.of(accounts.deactivate_person(db, actor=principal, person_id=person_id),
                        include_revoked=True)


@router.get("/people/{person_id}/roles", tags=["people"], response_model=list[RoleGrantOut])
def list_roles(db: DB, principal: CurrentPrincipal, person_id: int):
    policy.can_read_people(principal)
    return [RoleGrantOut.of(g) for g in accounts.get_person(db, person_id).role_grants]


@router.post("/people/{person_id}/roles", tags=["people"], response_model=RoleGrantOut,
             status_code=status.HTTP_201_CREATED)
def grant_role(db: DB, principal: CurrentPrincipal, person_id: int, body: RoleGrantIn):
    policy.can_manage_people(principal)
    grant = accounts.grant_role(db, actor=principal, person_id=person_id, role=body.role,
                                member_state_code=body.member_state, note=body.note)
    return RoleGrantOut.of(grant)


@router.delete("/people/{person_id}/roles/{grant_id}", tags=["people"], response_model=RoleGrantOut)
def revoke_role(db: DB, principal: CurrentPrincipal, person_id: int, grant_id: int):
    policy.can_manage_people(principal)
    person = accounts.get_person(db, person_id)
    if not any(g.id == grant_id for g in person.role_grants):
        raise NotFound(f"person {person_id} has no role grant {grant_id}")
    return RoleGrantOut.of(accounts.revoke_role(db, actor=principal, grant_id=grant_id))


@router.get("/institutions/{institution_id}/aliases", tags=["institutions"], response_model=list[str])
def get_aliases(db: DB, institution_id: int):
    return service.institution_aliases(db, institution_id)


@router.put("/institutions/{institution_id}/aliases", tags=["institutions"], response_model=list[str])
def set_aliases(db: DB, principal: CurrentPrincipal, institution_id: int, body: AliasesIn):
    """Other names the organisation goes by; reviewers' conflicts of interest match on them too."""
    policy.can_register_institution(principal, service.get_institution(db, institution_id).country_code)
    return service.set_institution_aliases(db, actor=principal, institution_id=institution_id, aliases=body.aliases)


@router.get("/people/{person_id}/affiliations", tags=["people"], response_model=list[AffiliationOut])
def list_affiliations(db: DB, principal: CurrentPrincipal, person_id: int):
    policy.can_read_people(principal)
    return [AffiliationOut.of(a) for a in accounts.affiliations(db, person_id)]


@router.post("/people/{person_id}/affiliations", tags=["people"], response_model=AffiliationOut,
             status_code=status.HTTP_201_CREATED)
def record_affiliation(db: DB, principal: CurrentPrincipal, person_id: int, body: AffiliationIn):
    """Record where a person works or worked; an open one becomes their current institution and the one it
    replaces ends today (conflicts of interest look back 12 months)."""
    policy.can_manage_people(principal)
    return AffiliationOut.of(accounts.record_affiliation(db, actor=principal, person_id=person_id,
                                                         institution_id=body.institution_id,
                                                         started_on=body.started_on, ended_on=body.ended_on))
