"""Request-scoped dependencies shared by the API and the web pages: the unit of work and who is asking."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from aicommons.config import Settings
from aicommons.database import READ_ONLY
from aicommons.errors import Unauthenticated
from aicommons.identity import auth
from aicommons.identity.policy import Principal

SESSION_COOKIE = "aic_session"
ANON_COOKIE = "aic_anon"


async def _unit_of_work(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back on any error.

    Async so that opening (which does no I/O) costs no thread hand-off; the commit and the return of
    the connection to the pool happen together in one worker-thread call.
    """
    session = request.app.state.session_factory()
    # ledger.service.record appends to this list; LedgerHeadersMiddleware turns it into headers.
    request.state.ledger_leaves = session.info.setdefault("ledger_leaves", [])
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_rollback_and_close, session)
        raise
    await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
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
    is_api = request.url.path.startswith("/api/")
    # Bearer tokens are for the API; portal pages know only their own session cookie (and CSRF token).
    token = _bearer(request) if is_api else None
    if token is not None:
        try:
            principal = auth.token_principal(db, token)
        except Unauthenticated as exc:
            exc.headers.setdefault("WWW-Authenticate", 'Bearer realm="aicommons", error="invalid_token"')
            raise
        request.state.principal = principal
        return principal
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


async def read_only(request: Request, query: Callable[[Session], BaseModel]) -> Response:
    """Answer a public read in a single worker-thread call: query, serialise, end the transaction.

    The busiest routes are public reads; doing the whole read in one thread hand-off (instead of one for
    the dependency, one for the endpoint and one for serialising) roughly halves their framework cost.
    """

    def work() -> bytes:
        with request.app.state.session_factory() as session:
            try:
                options: dict = {READ_ONLY: True}
                if session.get_bind().dialect.name == "postgresql":
                    # No BEGIN and no ROLLBACK round trips for a read that changes nothing.
                    options["isolation_level"] = "AUTOCOMMIT"
                session.connection(execution_options=options)
                return query(session).model_dump_json().encode()
            finally:
                session.rollback()

    return Response(await run_in_threadpool(work), media_type="application/json")


def _viewer(request: Request, db: DB) -> Principal | None:
    """Who is reading, so that operators see drafts. Reading is public: bad credentials read as the public."""
    try:
        return optional_principal(request, db)
    except Unauthenticated:
        return None


Viewer = Annotated[Principal | None, Depends(_viewer)]
