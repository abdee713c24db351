"""Pages for member states, institutions, and operators' people and roles."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import DomainError, Forbidden, invalid_field
from aicommons.identity import accounts, identifiers, policy, service
from aicommons.identity.models import Institution, InstitutionKind, MembershipStatus, MemberState, Role
from aicommons.web.labels import KIND_LABELS, ROLE_LABELS, STATUS_LABELS
from aicommons.web.render import CsrfForm, errors_of, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
PAGE = 50


def _next_url(path: str, cursor: str | None, **filters) -> str | None:
    if not cursor:
        return None
    return f"{path}?{urlencode({**{k: v for k, v in filters.items() if v}, 'cursor': cursor})}"


def _enum_or_none(cls, value: str | None):
    try:
        return cls(value) if value else None
    except ValueError:
        return None


def _allowed(check, *args) -> bool:
    try:
        check(*args)
    except Forbidden:
        return False
    return True


# --- member states -------------------------------------------------------------------------------


@router.get("/member-states")
def member_states(request: Request, db: DB, principal: MaybePrincipal):
    states = list(db.scalars(select(MemberState).order_by(MemberState.code)))
    return render(request, "member_states.html", {
        "states": states, "status_labels": STATUS_LABELS,
        "can_manage": principal is not None and _allowed(policy.can_manage_member_states, principal)})


def _state_form(request: Request, *, form=None, errors=None, status_code: int = 200):
    return render(request, "member_state_new.html", {
        "status_options": list(STATUS_LABELS.items()), "form": form or {"status": "member"},
        "errors": errors or {}}, status_code=status_code)


@router.get("/member-states/new")
def member_state_new(request: Request, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    policy.can_manage_member_states(principal)
    return _state_form(request)


@router.post("/member-states/new")
def member_state_create(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    policy.can_manage_member_states(principal)
    try:
        status = _enum_or_none(MembershipStatus, form.get("status"))
        if status is None:
            raise invalid_field(("body", "status"), "choose member, associate member or observer")
        try:
            admitted_on = date.fromisoformat(str(form.get("admitted_on", "")))
        except ValueError as exc:
            raise invalid_field(("body", "admitted_on"), "give a date as YYYY-MM-DD") from exc
        state = service.admit_member_state(db, actor=principal, code=str(form.get("code", "")),
                                           name=str(form.get("name") or "") or None, status=status,
                                           admitted_on=admitted_on)
    except DomainError as exc:
        db.rollback()
        return _state_form(request, form=form, errors=errors_of(exc), status_code=exc.status)
    return redirect("/member-states", request, f"{state.name} admitted as {STATUS_LABELS[state.status]}.")


# --- institutions --------------------------------------------------------------------------------


@router.get("/institutions")
def institutions(request: Request, db: DB, principal: MaybePrincipal,
                 q: str | None = Query(None, max_length=100), country: str | None = Query(None, max_length=2),
                 kind: str | None = Query(None, max_length=32), cursor: str | None = Query(None, max_length=200)):
    page = service.list_institutions(db, cursor=cursor, limit=PAGE, country=country,
                                     kind=_enum_or_none(InstitutionKind, kind), search=q)
    can_register = principal is not None and (principal.has_role(Role.OPERATOR) or bool(principal.delegate_of()))
    return render(request, "institutions.html", {
        "institutions": page.items, "kind_labels": KIND_LABELS, "kind_options": list(KIND_LABELS.items()),
        "filters": {"q": q, "country": country, "kind": kind}, "can_register": can_register,
        "next_url": _next_url("/institutions", page.next_cursor, q=q, country=country, kind=kind)})


def _institution_form(request: Request, principal, *, form=None, errors=None, status_code: int = 200):
    delegate_states = sorted(principal.delegate_of()) if not principal.has_role(Role.OPERATOR) else []
    default = {"country": delegate_states[0]} if len(delegate_states) == 1 else {}
    return render(request, "institution_new.html", {
        "kind_options": list(KIND_LABELS.items()), "form": form or default, "errors": errors or {},
        "delegate_states": delegate_states}, status_code=status_code)


@router.get("/institutions/new")
def institution_new(request: Request, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    if not (principal.has_role(Role.OPERATOR) or principal.delegate_of()):
        raise Forbidden("registering an institution needs the operator role or a delegate of its country")
    return _institution_form(request, principal)


@router.post("/institutions/new")
def institution_create(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    try:
        try:
            country = identifiers.country_code(str(form.get("country", "")))
        except ValueError as exc:
            raise invalid_field(("body", "country"), str(exc)) from exc
        policy.can_register_institution(principal, country)
        kind = _enum_or_none(InstitutionKind, form.get("kind"))
        if kind is None:
            raise invalid_field(("body", "kind"), "choose what kind of institution this is")
        domains = [d for d in str(form.get("email_domains", "")).replace(",", "\n").split() if d]
        institution = service.register_institution(
            db, actor=principal, name=str(form.get("name", ""))[:300], country=country, kind=kind,
            ror_id=str(form.get("ror_id") or "") or None, email_domains=domains)
    except DomainError as exc:
        db.rollback()
        return _institution_form(request, principal, form=form, errors=errors_of(exc), status_code=exc.status)
    return redirect(f"/institutions/{institution.id}", request, f"{institution.name} is registered.")


@router.get("/institutions/{institution_id}")
def institution_detail(request: Request, db: DB, principal: MaybePrincipal, institution_id: int):
    institution = service.get_institution(db, institution_id)
    return render(request, "institution.html", {
        "institution": institution, "kind_labels": KIND_LABELS,
        "country_name": identifiers.country_name(institution.country_code)})


# --- operators: people and roles -----------------------------------------------------------------


@router.get("/operator/people")
def people(request: Request, db: DB, principal: MaybePrincipal, q: str | None = Query(None, max_length=100),
           role: str | None = Query(None, max_length=32), cursor: str | None = Query(None, max_length=200)):
    if principal is None:
        return login_redirect(request)
    policy.can_read_people(principal)
    page = accounts.list_people(db, cursor=cursor, limit=PAGE, role=_enum_or_none(Role, role), search=q)
    return render(request, "people.html", {
        "people": page.items, "role_options": list(ROLE_LABELS.items()), "filters": {"q": q, "role": role},
        "can_manage": _allowed(policy.can_manage_people, principal),
        "next_url": _next_url("/operator/people", page.next_cursor, q=q, role=role)})


def _person_new_form(request: Request, db, *, form=None, errors=None, status_code: int = 200):
    options = [(str(i.id), f"{i.name} ({i.country_code})")
               for i in db.scalars(select(Institution).order_by(Institution.name))]
    return render(request, "person_new.html", {"institution_options": options, "form": form or {},
                                               "errors": errors or {}}, status_code=status_code)


@router.get("/operator/people/new")
def person_new(request: Request, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    policy.can_manage_people(principal)
    return _person_new_form(request, db)


@router.post("/operator/people/new")
def person_create(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    policy.can_manage_people(principal)
    try:
        raw_institution = str(form.get("institution_id") or "")
        if raw_institution and not raw_institution.isdigit():
            raise invalid_field(("body", "institution_id"), "choose an institution from the list")
        person = accounts.create_person(
            db, actor=principal, email=str(form.get("email", "")), display_name=str(form.get("display_name", "")),
            institution_id=int(raw_institution) if raw_institution else None,
            orcid=str(form.get("orcid") or "") or None, password=str(form.get("password") or "") or None)
    except DomainError as exc:
        db.rollback()
        return _person_new_form(request, db, form=form, errors=errors_of(exc), status_code=exc.status)
    return redirect(f"/operator/people/{person.id}", request, f"{person.display_name} added.")


def _person_page(request: Request, db, principal, person_id: int, *, form=None, errors=None,
                 status_code: int = 200):
    person = accounts.get_person(db, person_id)
    states = [(s.code, f"{s.name} ({s.code})") for s in db.scalars(select(MemberState).order_by(MemberState.code))]
    return render(request, "person.html", {
        "person": person, "role_options": list(ROLE_LABELS.items()), "state_options": states,
        "can_manage": _allowed(policy.can_manage_people, principal), "form": form or {},
        "errors": errors or {}}, status_code=status_code)


@router.get("/operator/people/{person_id}")
def person_detail(request: Request, db: DB, principal: MaybePrincipal, person_id: int):
    if principal is None:
        return login_redirect(request)
    policy.can_read_people(principal)
    return _person_page(request, db, principal, person_id)


@router.post("/operator/people/{person_id}/roles")
def person_grant(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, person_id: int):
    if principal is None:
        return login_redirect(request)
    policy.can_manage_people(principal)
    try:
        role = _enum_or_none(Role, form.get("role"))
        if role is None:
            raise invalid_field(("body", "role"), "choose a role")
        accounts.grant_role(db, actor=principal, person_id=person_id, role=role,
                            member_state_code=str(form.get("member_state") or "") or None,
                            note=str(form.get("note") or "")[:500] or None)
    except DomainError as exc:
        db.rollback()
        return _person_page(request, db, principal, person_id, form=form, errors=errors_of(exc),
                            status_code=exc.status)
    return redirect(f"/operator/people/{person_id}", request, f"Role {role.value} granted.")


@router.post("/operator/people/{person_id}/roles/{grant_id}/revoke")
def person_revoke(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, person_id: int, grant_id: int):
    if principal is None:
        return login_redirect(request)
    policy.can_manage_people(principal)
    person = accounts.get_person(db, person_id)
    if not any(g.id == grant_id for g in person.role_grants):
        raise invalid_field(("path", "grant_id"), f"person {person_id} has no role grant {grant_id}")
    grant = accounts.revoke_role(db, actor=principal, grant_id=grant_id)
    return redirect(f"/operator/people/{person_id}", request, f"Role {grant.role.value} revoked.")


@router.post("/operator/people/{person_id}/deactivate")
def person_deactivate(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, person_id: int):
    if principal is None:
        return login_redirect(request)
    policy.can_manage_people(principal)
    person = accounts.deactivate_person(db, actor=principal, person_id=person_id)
    return redirect(f"/operator/people/{person_id}", request, f"{person.display_name} is deactivated.")
