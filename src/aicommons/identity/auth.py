"""Login, browser sessions and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.config import Settings, read_or_create_secret
from aicommons.errors import Conflict, NotFound, TooManyRequests, Unauthenticated, invalid_field
from aicommons.identity import secrets
from aicommons.identity.accounts import find_person_by_email, principal_for
from aicommons.identity.models import ApiToken, LoginAttempt, Person, WebSession
from aicommons.identity.policy import SCOPES, Principal

WRONG_CREDENTIALS = "email or password is wrong"


def _account_hash(settings: Settings, email: str) -> str:
    """A keyed hash of the typed email: throttles per account without a reversible list of addresses."""
    key = read_or_create_secret(settings, "session.key")
    return hmac.new(key, b"login:" + email.strip().lower().encode(), hashlib.sha256).hexdigest()


def _throttle(session: Session, settings: Settings, *, account: str, client_ip: str, moment: datetime) -> None:
    """Refuse with 429 once an account or an address has failed too often within the window."""
    since = moment - timedelta(seconds=settings.login_window_seconds)
    for column, value, limit in ((LoginAttempt.account_hash, account, settings.login_max_failures),
                                 (LoginAttempt.client_ip, client_ip, settings.login_max_failures_per_ip)):
        count, oldest = session.execute(
            select(func.count(), func.min(LoginAttempt.at)).where(column == value, LoginAttempt.at > since)
        ).one()
        if count >= limit:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=moment.tzinfo)
            wait = max(1, math.ceil((oldest - since).total_seconds()))
            raise TooManyRequests(f"too many failed logins; try again in {wait} seconds",
                                  headers={"Retry-After": str(wait)})


def authenticate_password(session: Session, settings: Settings, *, email: str, password: str,
                          client_ip: str) -> Person:
    """The person with this email and password, or 401 without saying which of the two was wrong.

    Failures are remembered (as a hash of the account) and throttled per account and per address.
    A failed attempt is recorded by the caller in its own transaction (see ``record_failed_login``),
    because the request's transaction is rolled back on the 401.
    """
    moment = clock.now()
    account = _account_hash(settings, email)
    _throttle(session, settings, account=account, client_ip=client_ip, moment=moment)
    person = find_person_by_email(session, email)
    ok = secrets.verify_password(person.password_hash if person else None, password)
    if not ok or person is None or not person.is_active:
        raise Unauthenticated(WRONG_CREDENTIALS)
    if secrets.needs_rehash(person.password_hash):
        person.password_hash = secrets.hash_password(password)
    person.last_login_at = moment
    session.execute(delete(LoginAttempt).where(LoginAttempt.account_hash == account))
    return person


def record_failed_login(session: Session, settings: Settings, *, email: str, client_ip: str) -> None:
    session.add(LoginAttempt(account_hash=_account_hash(settings, email), client_ip=client_ip[:64],
                             at=clock.now()))


def prune_login_attempts(session: Session, settings: Settings) -> int:
    cutoff = clock.now() - timedelta(seconds=settings.login_window_seconds)
    return session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff)).rowcount or 0


# --- browser sessions ----------------------------------------------------------------------------


def start_web_session(session: Session, settings: Settings, *, person: Person) -> str:
    """A new browser session; returns the cookie secret, which is not stored."""
    secret = secrets.new_session_secret()
    moment = clock.now()
    session.add(WebSession(secret_hash=secret.digest, person_id=person.id, created_at=moment,
                           expires_at=moment + timedelta(hours=settings.session_ttl_hours)))
    return secret.plaintext


def web_session_principal(session: Session, cookie: str | None) -> Principal | None:
    if not cookie:
        return None
    row = session.scalar(select(WebSession).where(WebSession.secret_hash == secrets.sha256_hex(cookie)))
    if row is None or row.expires_at <= clock.now() or not row.person.is_active:
        return None
    return principal_for(row.person)


def end_web_session(session: Session, cookie: str | None) -> None:
    if cookie:
        session.execute(delete(WebSession).where(WebSession.secret_hash == secrets.sha256_hex(cookie)))


# --- API tokens ----------------------------------------------------------------------------------


@dataclass
class IssuedToken:
    token: ApiToken
    plaintext: str


def create_token(session: Session, settings: Settings, *, person: Person, name: str, scopes: list[str],
                 expires_in_days: int) -> IssuedToken:
    """Issue a bearer token; the plaintext is returned once and only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 100:
        raise invalid_field(("body", "name"), "a token needs a name of 1 to 100 characters")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise invalid_field(("body", "scopes"), f"scopes must be among {', '.join(SCOPES)}"
                            + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    if not 1 <= expires_in_days <= settings.token_max_days:
        raise invalid_field(("body", "expires_in_days"),
                            f"a token lives 1 to {settings.token_max_days} days")
    if not person.is_active:
        raise Conflict(f"account {person.id} is deactivated")
    secret = secrets.new_token_secret()
    moment = clock.now()
    token = ApiToken(person_id=person.id, name=name, secret_hash=secret.digest, hint=secret.hint,
                     scopes=sorted(set(scopes), key=SCOPES.index), created_at=moment,
                     expires_at=moment + timedelta(days=expires_in_days))
    session.add(token)
    session.flush()
    return IssuedToken(token, secret.plaintext)


def list_tokens(session: Session, *, person_id: int | None = None,
                include_revoked: bool = False) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if person_id is not None:
        query = query.where(ApiToken.person_id == person_id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_token(session: Session, *, token_id: int, owner_id: int | None) -> ApiToken:
    """Revoke a token; ``owner_id`` restricts to one person's tokens (None: any, for operators' CLI)."""
    token = session.get(ApiToken, token_id)
    if token is None or (owner_id is not None and token.person_id != owner_id):
        raise NotFound(f"no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
    return token


def token_principal(session: Session, plaintext: str) -> Principal:
    """The principal behind a bearer token, or 401 if it is unknown, revoked or expired."""
    token = session.scalar(select(ApiToken).where(ApiToken.secret_hash == secrets.sha256_hex(plaintext)))
    moment = clock.now()
    if token is None:
        raise Unauthenticated("the bearer token is not valid")
    if token.revoked_at is not None:
        raise Unauthenticated("the bearer token was revoked")
    if token.expires_at <= moment:
        raise Unauthenticated("the bearer token has expired")
    if not token.person.is_active:
        raise Unauthenticated("the token's account is deactivated")
    # Writing last_used_at on every request would turn each read into a write; once a minute is enough.
    if token.last_used_at is None or moment - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = moment
    return principal_for(token.person, frozenset(token.scopes))


def get_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}")
    return token
