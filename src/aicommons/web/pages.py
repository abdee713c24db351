"""Home, login and logout, and the signed-in person's account page (tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from aicommons.deps import DB, SESSION_COOKIE, MaybePrincipal, SettingsDep, client_ip
from aicommons.errors import DomainError, TooManyRequests, Unauthenticated
from aicommons.identity import accounts, auth, policy
from aicommons.identity.models import Institution, MemberState
from aicommons.ledger.models import LedgerEntry
from aicommons.web.labels import KIND_LABELS
from aicommons.web.render import CsrfForm, errors_of, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)

SCOPE_TEXT = [("read", "read everything you can see"), ("write", "change records your roles allow"),
              ("admin", "operator actions on people and roles")]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/")
def home(request: Request, db: DB, principal: MaybePrincipal):
    states = dict(db.execute(select(MemberState.status, func.count()).group_by(MemberState.status)).all())
    kinds = db.execute(select(Institution.kind, func.count()).group_by(Institution.kind)
                       .order_by(func.count().desc())).all()
    stats = {
        "states": {s: states.get(s, 0) for s in ("member", "associate_member", "observer")},
        "institutions": [(k.value, n) for k, n in kinds],
        "institutions_total": sum(n for _, n in kinds),
        "ledger_entries": db.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        "recent": list(db.scalars(select(Institution).order_by(Institution.id.desc()).limit(5))),
    }
    return render(request, "home.html", {"stats": stats, "kind_labels": KIND_LABELS}, principal=principal)


@router.get("/login")
def login_form(request: Request, principal: MaybePrincipal, next: str | None = None):
    if principal is not None:
        return redirect(_safe_next(next))
    return render(request, "login.html", {"next": _safe_next(next)})


@router.post("/login")
def login(request: Request, form: CsrfForm, db: DB, settings: SettingsDep):
    email = str(form.get("email", ""))[:320]
    password = str(form.get("password", ""))[:1024]
    target = _safe_next(str(form.get("next", "/")))
    context = {"next": target, "form": {"email": email}}
    try:
        person = auth.authenticate_password(db, settings, email=email, password=password,
                                            client_ip=client_ip(request))
    except TooManyRequests as exc:
        db.rollback()
        return render(request, "login.html", {**context, "errors": {"": exc.detail}}, status_code=429,
                      headers=exc.headers)
    except Unauthenticated as exc:
        db.rollback()
        auth.record_failed_login(db, settings, email=email, client_ip=client_ip(request))
        return render(request, "login.html", {**context, "errors": {"": exc.detail}}, status_code=401)
    secret = auth.start_web_session(db, settings, person=person)
    response = redirect(target, request, f"Welcome, {person.display_name}.")
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", path="/",
                        secure=settings.secure_cookies, max_age=settings.session_ttl_hours * 3600)
    return response


@router.post("/logout")
def logout(request: Request, form: CsrfForm, db: DB):
    auth.end_web_session(db, request.cookies.get(SESSION_COOKIE))
    response = redirect("/", request, "You are logged out.", "info")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _account_page(request: Request, db, principal, *, status_code: int = 200, **extra):
    person = accounts.get_person(db, principal.person_id)
    context = {"person": person, "tokens": auth.list_tokens(db, person_id=person.id),
               "scope_options": SCOPE_TEXT, "form": {"expires_in_days": "90", "scopes": ["read"]}, **extra}
    return render(request, "account.html", context, status_code=status_code)


@router.get("/account")
def account(request: Request, db: DB, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    return _account_page(request, db, principal)


@router.post("/account/tokens")
def create_token(request: Request, form: CsrfForm, db: DB, settings: SettingsDep, principal: MaybePrincipal):
    if principal is None:
        return login_redirect(request)
    scopes = form.get("scopes", [])
    scopes = scopes if isinstance(scopes, list) else [scopes]
    try:
        days = int(str(form.get("expires_in_days", "")) or "0")
    except ValueError:
        days = 0
    try:
        policy.can_create_token(principal, frozenset(scopes))
        issued = auth.create_token(db, settings, person=accounts.get_person(db, principal.person_id),
                                   name=str(form.get("name", "")), scopes=scopes, expires_in_days=days)
    except DomainError as exc:
        db.rollback()
        return _account_page(request, db, principal, errors=errors_of(exc), form=form, status_code=exc.status)
    return _account_page(request, db, principal, new_token=issued)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, token_id: int):
    if principal is None:
        return login_redirect(request)
    token = auth.revoke_token(db, token_id=token_id, owner_id=principal.person_id)
    return redirect("/account#tokens", request, f"Token '{token.name}' revoked.")
