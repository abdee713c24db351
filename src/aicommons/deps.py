"""Request-scoped dependencies shared by the API and the web pages: the unit of work and who is asking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from aicommons.config import Settings
from aicommons.errors import Unauthenticated
from aicommons.identity import auth
from aicommons.identity.policy import Principal

SESSION_COOKIE = "aic_session"
ANON_COOKIE = "aic_anon"


def _unit_of_work(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back on any error.

    When the request recorded ledger entries, the response names their leaf hashes so the client can
    look each one up (index and inclusion proof) once the sequencer has integrated it.
    """
    session = request.app.state.session_factory()
    # ledger.service.record appends to this list; LedgerHeadersMiddleware turns it into headers.
    request.state.ledger_leaves = session.info.setdefault("ledger_leaves", [])
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function" makes the commit happen before the response leaves, so a client never sees
# "201 Created" for something that then failed to commit.
DB = Annotated[Session, Depends(_unit_of_work, scope="function")]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'",
                              headers={"WWW-Authenticate": 'Bearer realm="aicommons"'})
    return value.strip()


def optional_principal(request: Request, db: DB) -> Principal | None:
    """Who is asking: a bearer token, else a browser session cookie (safe methods only on the API).

    State-changing API calls need a token: a cookie alone would let another site's form act for the user.
    """
    token = _bearer(request)
    if token is not None:
        try:
            principal = auth.token_principal(db, token)
        except Unauthenticated as exc:
            exc.headers.setdefault("WWW-Authenticate", 'Bearer realm="aicommons", error="invalid_token"')
            raise
        request.state.principal = principal
        return principal
    is_api = request.url.path.startswith("/api/")
    if is_api and request.method not in ("GET", "HEAD", "OPTIONS"):
        return None
    principal = auth.web_session_principal(db, request.cookies.get(SESSION_COOKIE))
    request.state.principal = principal
    return principal


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_principal(principal: MaybePrincipal) -> Principal:
    if principal is None:
        raise Unauthenticated("sign in or send 'Authorization: Bearer <token>'",
                              headers={"WWW-Authenticate": 'Bearer realm="aicommons"'})
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
