"""The reusable parts of every page: rendering with the layout, CSRF, flash messages and form errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as pysecrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from aicommons.deps import ANON_COOKIE, SESSION_COOKIE
from aicommons.errors import DomainError, Forbidden
from aicommons.identity import secrets
from aicommons.identity.models import Role
from aicommons.identity.policy import Principal

TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "aic_flash"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _key(request: Request) -> bytes:
    return request.app.state.session_key


def _csrf_binding(request: Request) -> str:
    """What the CSRF token is bound to: the session cookie, else an anonymous cookie we hand out."""
    session_cookie = request.cookies.get(SESSION_COOKIE)
    if session_cookie:
        return "s:" + session_cookie
    anon = request.cookies.get(ANON_COOKIE) or getattr(request.state, "new_anon", None)
    if not anon:
        anon = pysecrets.token_urlsafe(24)
        request.state.new_anon = anon
    return "a:" + anon


def csrf_token_for(request: Request) -> str:
    return secrets.csrf_token(_key(request), _csrf_binding(request))


async def form_with_csrf(request: Request) -> dict[str, Any]:
    """The submitted form (a repeated name gives a list); 403 unless its CSRF token matches this browser."""
    form = await request.form()
    presented = str(form.get("csrf_token", ""))
    if not secrets.csrf_matches(_key(request), _csrf_binding(request), presented):
        raise Forbidden("the form's security token is missing or stale; reload the page and try again")
    values: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str) or key == "csrf_token":
            continue
        if key in values:
            previous = values[key]
            values[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            values[key] = value
    return values


CsrfForm = Annotated[dict[str, Any], Depends(form_with_csrf)]
"""A POSTed form whose CSRF token was checked. Parsing is async; the handler itself can then be a plain
``def`` so its database work (and password hashing) runs in a worker thread, never on the event loop."""


def _sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, b"flash:" + payload, hashlib.sha256).hexdigest()[:32]


def flash(response, request: Request, message: str, category: str = "info") -> None:
    """Show ``message`` on the next page this browser renders."""
    payload = base64.urlsafe_b64encode(json.dumps([category, message[:500]]).encode())
    value = payload.decode() + "." + _sign(_key(request), payload)
    response.set_cookie(FLASH_COOKIE, value, httponly=True, samesite="lax", path="/",
                        secure=request.app.state.settings.secure_cookies)


def _read_flash(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return []
    payload, signature = raw.rsplit(".", 1)
    if not hmac.compare_digest(_sign(_key(request), payload.encode()), signature):
        return []
    try:
        category, message = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, TypeError):
        return []
    return [(str(category), str(message))]


def nav_for(principal: Principal | None) -> list[tuple[str, str]]:
    """Navigation links this person may use; later wings add theirs here."""
    links = [("/", "Home"), ("/member-states", "Member states"), ("/institutions", "Institutions"),
             ("/decisions", "Decisions"), ("/contributions", "Contributions"), ("/constitution", "Constitution"),
             ("/calls", "Calls"), ("/projects", "Projects"), ("/ledger", "Ledger")]
    if principal is None:
        return links
    if principal.has_role(Role.OPERATOR) or principal.delegate_of():
        links.append(("/council", "Council"))
    if principal.has_role(Role.OPERATOR):
        links.append(("/council/motions", "Motion editor"))
    if principal.has_role(Role.OPERATOR) or principal.has_role(Role.AUDITOR):
        links.append(("/operator/people", "People and roles"))
    if principal.has_role(Role.RESEARCHER):
        links.append(("/proposals/mine", "My proposals"))
    if principal.has_role(Role.REVIEWER):
        links.append(("/reviews", "Reviews"))
    if principal.has_role(Role.OPERATOR) or principal.has_role(Role.AUDITOR):
        links.append(("/assignments", "Assignments"))
    links.append(("/account", "My account"))
    return links


def current_nav(nav: list[tuple[str, str]], path: str) -> str | None:
    """The navigation link the page belongs to: the longest one that is the path or a parent of it."""
    matches = [href for href, _ in nav if path == href or (href != "/" and path.startswith(href.rstrip("/") + "/"))]
    return max(matches, key=len, default=None)


def _utc(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return moment.astimezone(UTC).strftime(fmt) if moment is not None else "—"


def _eur(amount: int | None) -> str:
    return "—" if amount is None else f"{_grouped(amount)} EUR"


def _grouped(value: object) -> str:
    """A number with its thousands grouped by narrow spaces: 3002024.5 -> 3 002 024.5."""
    if value is None:
        return "—"
    whole, dot, fraction = str(value).partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-') or 0):,}".replace(",", "\u202f") + dot + fraction


templates.env.filters["utc"] = _utc
templates.env.filters["eur"] = _eur
templates.env.filters["grouped"] = _grouped


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, principal: Principal | None = None,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    principal = principal if principal is not None else getattr(request.state, "principal", None)
    flashes = _read_flash(request)
    nav = nav_for(principal)
    ctx = {
        "principal": principal,
        "nav": nav,
        "nav_current": current_nav(nav, request.url.path),
        "csrf_token": csrf_token_for(request),
        "flashes": flashes,
        "demo": getattr(request.app.state, "is_demo", lambda: False)(),
        "errors": {},
        "form": {},
        "path": request.url.path,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path="/")
    new_anon = getattr(request.state, "new_anon", None)
    if new_anon:
        response.set_cookie(ANON_COOKIE, new_anon, httponly=True, samesite="lax", path="/",
                            secure=request.app.state.settings.secure_cookies)
    return response


def redirect(url: str, request: Request | None = None, message: str | None = None,
             category: str = "success") -> RedirectResponse:
    """A 303 See Other (the right answer to a POST), optionally carrying a flash message."""
    response = RedirectResponse(url, status_code=303)
    if message and request is not None:
        flash(response, request, message, category)
    return response


def errors_of(exc: DomainError) -> dict[str, str]:
    """Field name -> message, for showing next to form inputs; '' holds errors tied to no field."""
    out: dict[str, str] = {}
    for err in exc.errors:
        field = str(err.loc[1]) if len(err.loc) > 1 else ""
        out.setdefault(field, err.message)
    if not exc.errors:
        out[""] = exc.detail
    return out


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def render_error(request: Request, status: int, title: str, detail: str,
                       headers: dict[str, str]):
    if status == 401:
        return login_redirect(request)
    if not hasattr(request.state, "principal"):
        # No route dependency ran (an unknown path): look the browser's session up so the header is right,
        # in a worker thread like every database call.
        from starlette.concurrency import run_in_threadpool

        from aicommons.identity import auth

        def lookup():
            with request.app.state.session_factory() as session:
                return auth.web_session_principal(session, request.cookies.get(SESSION_COOKIE))

        request.state.principal = await run_in_threadpool(lookup)
    return render(request, "error.html", {"status": status, "title": title, "detail": detail},
                  status_code=status, headers=headers or None)
